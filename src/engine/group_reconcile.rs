//! Many-to-one reconciliation: partner rows grouped per key (e.g. settlement lines per order)
//! and currency, their amounts summed per class (sales, refunds, fees, other), then matched to
//! one ERP row per key (expected amount and currency) with exact per-currency tolerances.
//! Every partner row lands in exactly one group, so the statuses' settled sums add up to the
//! partner table's total per currency. Parts of the expected amount the ERP gives on their own
//! (tax, shipping) are compared too, each with the partner classes that settle it. Columns are
//! read typed (decimals from their mantissas, text borrowed), one hash table of groups. Pure.

mod table;

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use crate::frame::{decimal_column, text_column};
pub use table::{summary, COLUMNS};

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
    /// Parts of the expected amount compared on their own (tax, shipping).
    pub parts: Vec<Part>,
}

/// A part of the ERP's expected amount (e.g. its tax) compared with the partner rows of some
/// classes (e.g. `tax`, `shipping_tax`): the grouped table gets `expected_<name>`,
/// `settled_<name>` and `<name>_difference`, and a part off by more than the tolerance makes a
/// matched group `short_paid` or `over_paid` even when the total is right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    /// The ERP column (an empty cell: the part is not compared for that order).
    pub erp_column: String,
    pub classes: Vec<String>,
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
        let mut v = vec![&self.erp_key, &self.erp_amount, &self.erp_currency];
        v.extend(self.parts.iter().map(|p| &p.erp_column));
        v
    }
}

/// The grouped table and its per-status summary.
#[derive(Debug, Clone)]
pub struct Grouped {
    /// One row per (key, currency) of the partner side, then one per ERP row no group
    /// matched: the key (named as the partner column), then `COLUMNS`, then three columns per
    /// part.
    pub table: DataFrame,
    /// One row per (status, currency): `status`, `currency`, `count`, `expected`, `settled`,
    /// `difference`.
    pub summary: DataFrame,
}

/// One compared part of a row: what the ERP expects (`None`: not given), what was settled.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartSums {
    pub expected: Option<Decimal>,
    pub settled: Decimal,
}

impl PartSums {
    /// settled − expected, when the ERP gives the part.
    pub fn difference(&self) -> Option<Decimal> {
        self.expected.map(|e| self.settled - e)
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
    /// One per `GroupSpec::parts`, in order.
    pub parts: Vec<PartSums>,
}

/// Where a class's amounts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Sales,
    Refunds,
    Fees,
    Other,
}

#[derive(Debug, Clone)]
struct Group<'a> {
    key: &'a str,
    currency: &'a str,
    sales: Decimal,
    refunds: Decimal,
    fees: Decimal,
    other: Decimal,
    lines: u64,
    first_line: Option<i64>,
    /// Per class (an index into the classes met), in first-seen order.
    by_class: Vec<(usize, Decimal)>,
    parts: Vec<Decimal>,
}

impl Group<'_> {
    fn settled(&self) -> Decimal {
        self.sales + self.refunds + self.fees + self.other
    }
}

fn not_decimal(column: &str) -> impl Fn(usize, &str) -> PolarsError + '_ {
    move |row, s| polars_err!(ComputeError: "`{}` (row {}) is not an exact decimal: `{}`", column, row + 1, s)
}

/// Groups `partner`, matches `erp` and gives each group its status.
pub fn group_reconcile(
    partner: &DataFrame,
    erp: &DataFrame,
    spec: &GroupSpec,
) -> PolarsResult<Grouped> {
    let rows = group_rows(partner, erp, spec)?;
    Ok(Grouped {
        table: table::to_frame(&rows, &spec.partner_key, &spec.parts)?,
        summary: summary(&rows)?,
    })
}

/// The ERP side, typed and indexed by key.
struct Erp {
    keys: StringChunked,
    amounts: Vec<Option<Decimal>>,
    currencies: StringChunked,
    parts: Vec<Vec<Option<Decimal>>>,
}

impl Erp {
    fn read(erp: &DataFrame, spec: &GroupSpec) -> PolarsResult<Erp> {
        let parts = spec
            .parts
            .iter()
            .map(|p| decimal_column(erp, &p.erp_column, &not_decimal(&p.erp_column)))
            .collect::<PolarsResult<_>>()?;
        Ok(Erp {
            keys: text_column(erp, &spec.erp_key)?,
            amounts: decimal_column(erp, &spec.erp_amount, &not_decimal(&spec.erp_amount))?,
            currencies: text_column(erp, &spec.erp_currency)?,
            parts,
        })
    }

    fn key(&self, i: usize) -> &str {
        self.keys.get(i).map_or("", str::trim)
    }

    fn currency(&self, i: usize) -> String {
        self.currencies.get(i).map_or("", str::trim).to_string()
    }

    fn expected(&self, i: usize) -> Decimal {
        self.amounts[i].unwrap_or(Decimal::ZERO)
    }
}

/// [`group_reconcile`]'s rows, in a fixed order: partner groups as first seen, then ERP rows
/// no group matched, in ERP order.
pub fn group_rows(
    partner: &DataFrame,
    erp: &DataFrame,
    spec: &GroupSpec,
) -> PolarsResult<Vec<Row>> {
    let (keys, currencies) = (
        text_column(partner, &spec.partner_key)?,
        text_column(partner, &spec.partner_currency)?,
    );
    let classes = spec
        .class_column
        .as_ref()
        .map(|c| text_column(partner, c))
        .transpose()?;
    let (class_names, groups) = groups(partner, spec, &keys, &currencies, classes.as_ref())?;
    let e = Erp::read(erp, spec)?;
    let mut erp_by_key: PlHashMap<&str, usize> = PlHashMap::with_capacity(e.keys.len());
    let mut duplicate = vec![false; e.keys.len()];
    for (i, dup) in duplicate.iter_mut().enumerate() {
        let k = e.key(i);
        if erp_by_key.contains_key(k) {
            *dup = true;
        } else {
            erp_by_key.insert(k, i);
        }
    }
    let mut matched = vec![false; e.keys.len()];
    let mut out = Vec::with_capacity(groups.len() + e.keys.len());
    for mut g in groups {
        let settled = g.settled();
        g.by_class
            .sort_by(|a, b| class_names[a.0].cmp(class_names[b.0]));
        let components = g
            .by_class
            .iter()
            .map(|(c, a)| format!("{}={a}", class_names[*c]))
            .collect::<Vec<_>>()
            .join("; ");
        let erp_row = erp_by_key.get(g.key).copied().filter(|_| !g.key.is_empty());
        let mut parts: Vec<PartSums> = g
            .parts
            .iter()
            .map(|s| PartSums {
                expected: None,
                settled: *s,
            })
            .collect();
        let (status, erp_currency, expected, difference) = match erp_row {
            None if g.key.is_empty() => (NO_ORDER, None, None, settled),
            None => (UNKNOWN_ORDER, None, None, settled),
            Some(i) => {
                matched[i] = true;
                let expected = e.expected(i);
                let currency = e.currency(i);
                for (p, column) in parts.iter_mut().zip(&e.parts) {
                    p.expected = column[i];
                }
                let status = status_of(&g, expected, &currency, &parts, spec);
                let difference = match status {
                    REFUNDED => g.refunds,
                    FEES_ONLY => g.fees,
                    _ => g.sales - expected,
                };
                (status, Some(currency), Some(expected), difference)
            }
        };
        out.push(Row {
            key: g.key.to_string(),
            status,
            currency: g.currency.to_string(),
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
            parts,
        });
    }
    for (i, was) in matched.iter().enumerate() {
        // A duplicate is never marked matched.
        if *was {
            continue;
        }
        let expected = e.expected(i);
        let currency = e.currency(i);
        out.push(Row {
            key: e.key(i).to_string(),
            status: if duplicate[i] {
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
            parts: e
                .parts
                .iter()
                .map(|c| PartSums {
                    expected: c[i],
                    settled: Decimal::ZERO,
                })
                .collect(),
        });
    }
    Ok(out)
}

/// The status of a group matched with an ERP row (the order of the checks is the rule:
/// currency first, then refunds, then fees alone, then the comparison: the total, then each
/// part the ERP gives, in order; the first off by more than the tolerance says short or over).
fn status_of(
    g: &Group,
    expected: Decimal,
    erp_currency: &str,
    parts: &[PartSums],
    spec: &GroupSpec,
) -> &'static str {
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
        .get(g.currency)
        .copied()
        .unwrap_or(Decimal::ZERO);
    let diffs =
        std::iter::once(g.sales - expected).chain(parts.iter().filter_map(PartSums::difference));
    for diff in diffs {
        if diff.abs() <= tolerance {
            continue;
        }
        return if diff < Decimal::ZERO {
            SHORT_PAID
        } else {
            OVER_PAID
        };
    }
    PAID
}

/// The classes met (first-seen order) and the partner rows summed per (key, currency), in
/// first-seen order.
fn groups<'a>(
    partner: &DataFrame,
    spec: &GroupSpec,
    keys: &'a StringChunked,
    currencies: &'a StringChunked,
    classes: Option<&'a StringChunked>,
) -> PolarsResult<(Vec<&'a str>, Vec<Group<'a>>)> {
    let amounts = decimal_column(
        partner,
        &spec.partner_amount,
        &not_decimal(&spec.partner_amount),
    )?;
    let firsts = match &spec.first_line {
        Some(c) => Some(partner.column(c)?.cast(&DataType::Int64)?),
        None => None,
    };
    let firsts = firsts.as_ref().map(|c| c.i64()).transpose()?;
    // Each class met: its name, slot and the parts it settles.
    let mut class_names: Vec<&str> = Vec::new();
    let mut class_info: Vec<(Slot, Vec<usize>)> = Vec::new();
    let mut class_ids: PlHashMap<&str, usize> = PlHashMap::new();
    let mut index: PlHashMap<(&str, &str), usize> = PlHashMap::new();
    let mut out: Vec<Group> = Vec::new();
    let none = || std::iter::repeat(None);
    let class_iter: Box<dyn Iterator<Item = Option<&str>>> = match classes {
        Some(c) => Box::new(c.iter()),
        None => Box::new(none()),
    };
    for (row, ((key, currency), class)) in keys
        .iter()
        .zip(currencies.iter())
        .zip(class_iter)
        .enumerate()
    {
        let mut key = key.map_or("", str::trim);
        for p in &spec.strip_prefixes {
            key = key.strip_prefix(p.as_str()).unwrap_or(key);
        }
        let currency = currency.map_or("", str::trim);
        let at = *index.entry((key, currency)).or_insert_with(|| {
            out.push(Group {
                key,
                currency,
                sales: Decimal::ZERO,
                refunds: Decimal::ZERO,
                fees: Decimal::ZERO,
                other: Decimal::ZERO,
                lines: 0,
                first_line: None,
                by_class: Vec::new(),
                parts: vec![Decimal::ZERO; spec.parts.len()],
            });
            out.len() - 1
        });
        let g = &mut out[at];
        let amount = amounts[row].unwrap_or(Decimal::ZERO);
        let class = class.map_or("", str::trim);
        let id = *class_ids.entry(class).or_insert_with(|| {
            let owned = class.to_string();
            let slot = if spec.class_column.is_none() || spec.sales.contains(&owned) {
                Slot::Sales
            } else if spec.refunds.contains(&owned) {
                Slot::Refunds
            } else if spec.fees.contains(&owned) {
                Slot::Fees
            } else {
                Slot::Other
            };
            let parts = (0..spec.parts.len())
                .filter(|&p| spec.parts[p].classes.contains(&owned))
                .collect();
            class_names.push(class);
            class_info.push((slot, parts));
            class_names.len() - 1
        });
        let (slot, parts) = &class_info[id];
        *match slot {
            Slot::Sales => &mut g.sales,
            Slot::Refunds => &mut g.refunds,
            Slot::Fees => &mut g.fees,
            Slot::Other => &mut g.other,
        } += amount;
        if spec.class_column.is_some() {
            match g.by_class.iter_mut().find(|(c, _)| *c == id) {
                Some((_, sum)) => *sum += amount,
                None => g.by_class.push((id, Decimal::ZERO + amount)),
            }
            for &p in parts {
                g.parts[p] += amount;
            }
        }
        g.lines += 1;
        if let Some(f) = firsts.as_ref().and_then(|c| c.get(row)) {
            g.first_line = Some(g.first_line.map_or(f, |x| x.min(f)));
        }
    }
    Ok((class_names, out))
}

#[cfg(test)]
mod tests;
