//! Many-to-one reconciliation: partner rows grouped per key (e.g. settlement lines per order)
//! and currency, their amounts summed per class (sales, refunds, fees, other), then matched to
//! one ERP row per key (expected amount and currency) with exact per-currency tolerances.
//! Every partner row lands in exactly one group, so the statuses' settled sums add up to the
//! partner table's total per currency. Pure.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rust_decimal::Decimal;

pub const PAID: &str = "paid";
pub const SHORT_PAID: &str = "short_paid";
pub const OVER_PAID: &str = "over_paid";
pub const REFUNDED: &str = "refunded";
pub const FEES_ONLY: &str = "fees_only";
pub const UNKNOWN_ORDER: &str = "unknown_order";
pub const CURRENCY_MISMATCH: &str = "currency_mismatch";
pub const AWAITING_SETTLEMENT: &str = "awaiting_settlement";
/// Partner rows with no key at all (account-level fees, reserves, transfers).
pub const NO_ORDER: &str = "no_order";
/// A second ERP row with a key already seen (it is compared with nothing).
pub const DUPLICATE_KEY: &str = "duplicate_key";

/// Every status, in report order.
pub const STATUSES: [&str; 10] = [
    PAID,
    SHORT_PAID,
    OVER_PAID,
    REFUNDED,
    FEES_ONLY,
    UNKNOWN_ORDER,
    CURRENCY_MISMATCH,
    AWAITING_SETTLEMENT,
    NO_ORDER,
    DUPLICATE_KEY,
];

/// What to group, sum and compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// The partner column grouped on (e.g. `order_ref`).
    pub partner_key: String,
    /// Prefixes removed from partner keys before matching (e.g. `#` of Shopify's `#1001`).
    pub strip_prefixes: Vec<String>,
    pub erp_key: String,
    pub partner_amount: String,
    pub erp_amount: String,
    pub partner_currency: String,
    pub erp_currency: String,
    /// The partner column that classes each row (e.g. `component`); `None`: every row is a
    /// sale.
    pub class_column: Option<String>,
    /// Class values compared with the ERP's expected amount.
    pub sales: Vec<String>,
    pub refunds: Vec<String>,
    pub fees: Vec<String>,
    /// Largest |difference| still `paid`, per currency (absent: zero, exact).
    pub tolerances: BTreeMap<String, Decimal>,
    /// A partner column whose smallest value per group is kept (e.g. `source_line`).
    pub first_line: Option<String>,
}

impl GroupSpec {
    /// Every partner column the mode reads.
    pub fn partner_columns(&self) -> Vec<&String> {
        let mut v = vec![
            &self.partner_key,
            &self.partner_amount,
            &self.partner_currency,
        ];
        v.extend(&self.class_column);
        v.extend(&self.first_line);
        v
    }

    /// Every ERP column the mode reads.
    pub fn erp_columns(&self) -> Vec<&String> {
        vec![&self.erp_key, &self.erp_amount, &self.erp_currency]
    }
}

/// The columns of the grouped table after the key column.
pub const COLUMNS: [&str; 14] = [
    "status",
    "currency",
    "erp_currency",
    "expected",
    "settled",
    "sales",
    "refunds",
    "fees",
    "other",
    "difference",
    "lines",
    "first_line",
    "components",
    "erp_row",
];

/// The grouped table and its per-status summary.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// One row per (key, currency) of the partner side, then one per ERP row no group
    /// matched: the key (named as the partner column), then `COLUMNS`.
    pub table: DataFrame,
    /// One row per (status, currency): `status`, `currency`, `count`, `expected`, `settled`,
    /// `difference`.
    pub summary: DataFrame,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Group {
    key: String,
    currency: String,
    sales: Decimal,
    refunds: Decimal,
    fees: Decimal,
    other: Decimal,
    lines: u64,
    first_line: Option<i64>,
    by_class: BTreeMap<String, Decimal>,
}

impl Group {
    fn settled(&self) -> Decimal {
        self.sales + self.refunds + self.fees + self.other
    }
}

/// One row of the result, before it becomes columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub key: String,
    pub status: &'static str,
    pub currency: String,
    pub erp_currency: Option<String>,
    pub expected: Option<Decimal>,
    pub settled: Decimal,
    pub sales: Decimal,
    pub refunds: Decimal,
    pub fees: Decimal,
    pub other: Decimal,
    pub difference: Decimal,
    pub lines: u64,
    pub first_line: Option<i64>,
    pub components: String,
    /// 0-based row of the ERP table it was matched with.
    pub erp_row: Option<u64>,
}

/// A column as text per row (`None` for nulls).
fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.map(|s| s.trim().to_string()))
        .collect())
}

fn decimal(v: &Option<String>, column: &str, row: usize) -> PolarsResult<Decimal> {
    match v.as_deref() {
        None | Some("") => Ok(Decimal::ZERO),
        Some(s) => s.parse::<Decimal>().map_err(|_| {
            polars_err!(ComputeError: "`{}` (row {}) is not an exact decimal: `{}`", column, row + 1, s)
        }),
    }
}

/// Groups `partner`, matches `erp` and gives each group its status.
pub fn group_reconcile(
    partner: &DataFrame,
    erp: &DataFrame,
    spec: &GroupSpec,
) -> PolarsResult<Grouped> {
    let rows = group_rows(partner, erp, spec)?;
    Ok(Grouped {
        table: to_frame(&rows, &spec.partner_key)?,
        summary: summary(&rows)?,
    })
}

/// [`group_reconcile`]'s rows, in a fixed order: partner groups as first seen, then ERP rows
/// no group matched, in ERP order.
pub fn group_rows(
    partner: &DataFrame,
    erp: &DataFrame,
    spec: &GroupSpec,
) -> PolarsResult<Vec<Row>> {
    let groups = groups(partner, spec)?;
    let ekeys = texts(erp, &spec.erp_key)?;
    let eamounts = texts(erp, &spec.erp_amount)?;
    let ecurrencies = texts(erp, &spec.erp_currency)?;
    let mut erp_by_key: HashMap<&str, usize> = HashMap::with_capacity(ekeys.len());
    let mut duplicates = Vec::new();
    for (i, k) in ekeys.iter().enumerate() {
        let k = k.as_deref().unwrap_or("");
        if erp_by_key.contains_key(k) {
            duplicates.push(i);
        } else {
            erp_by_key.insert(k, i);
        }
    }
    let mut matched = vec![false; ekeys.len()];
    let mut out = Vec::with_capacity(groups.len() + ekeys.len());
    for g in groups {
        let settled = g.settled();
        let components = g
            .by_class
            .iter()
            .map(|(c, a)| format!("{c}={a}"))
            .collect::<Vec<_>>()
            .join("; ");
        let erp_row = erp_by_key
            .get(g.key.as_str())
            .copied()
            .filter(|_| !g.key.is_empty());
        let (status, erp_currency, expected, difference) = match erp_row {
            None if g.key.is_empty() => (NO_ORDER, None, None, settled),
            None => (UNKNOWN_ORDER, None, None, settled),
            Some(i) => {
                matched[i] = true;
                let expected = decimal(&eamounts[i], &spec.erp_amount, i)?;
                let currency = ecurrencies[i].clone().unwrap_or_default();
                let status = status_of(&g, expected, &currency, spec);
                let difference = match status {
                    REFUNDED => g.refunds,
                    FEES_ONLY => g.fees,
                    _ => g.sales - expected,
                };
                (status, Some(currency), Some(expected), difference)
            }
        };
        out.push(Row {
            key: g.key,
            status,
            currency: g.currency,
            erp_currency,
            expected,
            settled,
            sales: g.sales,
            refunds: g.refunds,
            fees: g.fees,
            other: g.other,
            difference,
            lines: g.lines,
            first_line: g.first_line,
            components,
            erp_row: erp_row.map(|i| i as u64),
        });
    }
    for (i, was) in matched.iter().enumerate() {
        // `duplicates` is in row order; a duplicate is never marked matched.
        let duplicate = duplicates.binary_search(&i).is_ok();
        if *was {
            continue;
        }
        let expected = decimal(&eamounts[i], &spec.erp_amount, i)?;
        let currency = ecurrencies[i].clone().unwrap_or_default();
        out.push(Row {
            key: ekeys[i].clone().unwrap_or_default(),
            status: if duplicate {
                DUPLICATE_KEY
            } else {
                AWAITING_SETTLEMENT
            },
            currency: currency.clone(),
            erp_currency: Some(currency),
            expected: Some(expected),
            settled: Decimal::ZERO,
            sales: Decimal::ZERO,
            refunds: Decimal::ZERO,
            fees: Decimal::ZERO,
            other: Decimal::ZERO,
            difference: -expected,
            lines: 0,
            first_line: None,
            components: String::new(),
            erp_row: Some(i as u64),
        });
    }
    Ok(out)
}

/// The status of a group matched with an ERP row (the order of the checks is the rule:
/// currency first, then refunds, then fees alone, then the comparison).
fn status_of(g: &Group, expected: Decimal, erp_currency: &str, spec: &GroupSpec) -> &'static str {
    if g.currency != erp_currency {
        return CURRENCY_MISMATCH;
    }
    if !g.refunds.is_zero() {
        return REFUNDED;
    }
    if g.sales.is_zero() && !g.fees.is_zero() {
        return FEES_ONLY;
    }
    let tolerance = spec
        .tolerances
        .get(&g.currency)
        .copied()
        .unwrap_or(Decimal::ZERO);
    let diff = g.sales - expected;
    if diff.abs() <= tolerance {
        PAID
    } else if diff < Decimal::ZERO {
        SHORT_PAID
    } else {
        OVER_PAID
    }
}

/// Partner rows summed per (key, currency), in first-seen order.
fn groups(partner: &DataFrame, spec: &GroupSpec) -> PolarsResult<Vec<Group>> {
    let keys = texts(partner, &spec.partner_key)?;
    let amounts = texts(partner, &spec.partner_amount)?;
    let currencies = texts(partner, &spec.partner_currency)?;
    let classes = match &spec.class_column {
        Some(c) => Some(texts(partner, c)?),
        None => None,
    };
    let firsts = match &spec.first_line {
        Some(c) => Some(partner.column(c)?.cast(&DataType::Int64)?),
        None => None,
    };
    let firsts = firsts.as_ref().map(|c| c.i64()).transpose()?;
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    let mut out: Vec<Group> = Vec::new();
    for (row, key) in keys.iter().enumerate() {
        let mut key = key.as_deref().unwrap_or("");
        for p in &spec.strip_prefixes {
            key = key.strip_prefix(p.as_str()).unwrap_or(key);
        }
        let currency = currencies[row].clone().unwrap_or_default();
        let at = *index
            .entry((key.to_string(), currency.clone()))
            .or_insert_with(|| {
                out.push(Group {
                    key: key.to_string(),
                    currency,
                    ..Group::default()
                });
                out.len() - 1
            });
        let g = &mut out[at];
        let amount = decimal(&amounts[row], &spec.partner_amount, row)?;
        let class = classes
            .as_ref()
            .and_then(|c| c[row].clone())
            .unwrap_or_default();
        let slot = if spec.class_column.is_none() || spec.sales.contains(&class) {
            &mut g.sales
        } else if spec.refunds.contains(&class) {
            &mut g.refunds
        } else if spec.fees.contains(&class) {
            &mut g.fees
        } else {
            &mut g.other
        };
        *slot += amount;
        if spec.class_column.is_some() {
            *g.by_class.entry(class).or_default() += amount;
        }
        g.lines += 1;
        if let Some(f) = firsts.as_ref().and_then(|c| c.get(row)) {
            g.first_line = Some(g.first_line.map_or(f, |x| x.min(f)));
        }
    }
    Ok(out)
}

/// The places needed to hold every value exactly.
fn scale_of<'a>(values: impl Iterator<Item = &'a Decimal>) -> usize {
    values.map(|d| d.scale() as usize).max().unwrap_or(0)
}

fn decimals(name: &str, values: Vec<Option<Decimal>>) -> PolarsResult<Column> {
    let scale = scale_of(values.iter().flatten());
    let text: Vec<Option<String>> = values.iter().map(|v| v.map(|d| d.to_string())).collect();
    Column::new(name.into(), text).cast(&DataType::Decimal(38, scale))
}

fn to_frame(rows: &[Row], key: &str) -> PolarsResult<DataFrame> {
    let height = rows.len();
    let col_s = |name: &str, f: &dyn Fn(&Row) -> Option<String>| {
        Column::new(name.into(), rows.iter().map(f).collect::<Vec<_>>())
    };
    let dec = |name: &str, f: &dyn Fn(&Row) -> Option<Decimal>| {
        decimals(name, rows.iter().map(f).collect())
    };
    DataFrame::new(
        height,
        vec![
            col_s(key, &|r| Some(r.key.clone())),
            col_s("status", &|r| Some(r.status.to_string())),
            col_s("currency", &|r| Some(r.currency.clone())),
            col_s("erp_currency", &|r| r.erp_currency.clone()),
            dec("expected", &|r| r.expected)?,
            dec("settled", &|r| Some(r.settled))?,
            dec("sales", &|r| Some(r.sales))?,
            dec("refunds", &|r| Some(r.refunds))?,
            dec("fees", &|r| Some(r.fees))?,
            dec("other", &|r| Some(r.other))?,
            dec("difference", &|r| Some(r.difference))?,
            Column::new(
                "lines".into(),
                rows.iter().map(|r| r.lines as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "first_line".into(),
                rows.iter().map(|r| r.first_line).collect::<Vec<_>>(),
            ),
            col_s("components", &|r| Some(r.components.clone())),
            Column::new(
                "erp_row".into(),
                rows.iter()
                    .map(|r| r.erp_row.map(|i| i as i64 + 1))
                    .collect::<Vec<_>>(),
            ),
        ],
    )
}

/// Per (status, currency) in report order: count and the sums.
pub fn summary(rows: &[Row]) -> PolarsResult<DataFrame> {
    type Sums = (u64, Decimal, Decimal, Decimal);
    let mut by: BTreeMap<(usize, String), Sums> = BTreeMap::new();
    for r in rows {
        let rank = STATUSES
            .iter()
            .position(|s| *s == r.status)
            .unwrap_or(STATUSES.len());
        let e = by.entry((rank, r.currency.clone())).or_default();
        e.0 += 1;
        e.1 += r.expected.unwrap_or_default();
        e.2 += r.settled;
        e.3 += r.difference;
    }
    let status: Vec<&str> = by
        .keys()
        .map(|(i, _)| STATUSES.get(*i).copied().unwrap_or(""))
        .collect();
    let currency: Vec<&str> = by.keys().map(|(_, c)| c.as_str()).collect();
    DataFrame::new(
        by.len(),
        vec![
            Column::new("status".into(), status),
            Column::new("currency".into(), currency),
            Column::new(
                "count".into(),
                by.values().map(|v| v.0 as i64).collect::<Vec<_>>(),
            ),
            decimals("expected", by.values().map(|v| Some(v.1)).collect())?,
            decimals("settled", by.values().map(|v| Some(v.2)).collect())?,
            decimals("difference", by.values().map(|v| Some(v.3)).collect())?,
        ],
    )
}

#[cfg(test)]
mod tests;
