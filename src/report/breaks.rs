//! The report's breaks and money from a run's tables: every non-matched row of `reconciled`
//! (or of the pipeline's `[breaks]` table) as a `Break` with its measures, and the money totals
//! per compared column and currency. Pure: frames and the compiled pipeline in, model out.

use std::str::FromStr;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::model::{Break, Measure, MoneyTotal, ReconStatus};
use crate::config::Pipeline;
use crate::engine::reconcile::MATCHED;
use crate::schema::table::FieldType;

/// Shown as the currency of money totals when the reconcile keys have no `currency` column.
pub const NO_CURRENCY: &str = "-";

/// The reconcile key column holding a currency code, if any (named `currency`, any case).
fn currency_key(p: &Pipeline) -> Option<String> {
    p.reconcile.as_ref().and_then(|r| {
        r.keys
            .iter()
            .map(|(k, _)| k)
            .find(|k| k.eq_ignore_ascii_case("currency"))
            .cloned()
    })
}

/// Compared columns are money when the partner schema declares them `number` with a `scale`
/// (exact decimals such as amounts); integers and unscaled numbers are quantities.
fn is_money(p: &Pipeline, partner_col: &str) -> bool {
    matches!(
        p.schema.field(partner_col).map(|f| &f.kind),
        Some(FieldType::Number { scale: Some(_), .. })
    )
}

/// A column as optional texts (any type cast to string).
fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<Option<String>>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
}

fn dec(v: &Option<String>) -> Option<Decimal> {
    v.as_deref().and_then(|s| Decimal::from_str(s).ok())
}

/// Every non-matched row of the reconciled table as a `Break`.
pub fn breaks_of(p: &Pipeline, reconciled: &DataFrame) -> PolarsResult<Vec<Break>> {
    let Some(spec) = &p.reconcile else {
        return Ok(Vec::new());
    };
    let df = reconciled
        .clone()
        .lazy()
        .filter(col("status").neq(lit(MATCHED)))
        .collect()?;
    let keys: Vec<(String, Vec<Option<String>>)> = spec
        .keys
        .iter()
        .map(|(k, _)| Ok((k.clone(), texts(&df, k)?)))
        .collect::<PolarsResult<_>>()?;
    let status = texts(&df, "status")?;
    let measures: Vec<(String, [Vec<Option<String>>; 3])> = spec
        .compare
        .iter()
        .map(|c| {
            Ok((
                c.partner.clone(),
                [
                    texts(&df, &format!("partner_{}", c.partner))?,
                    texts(&df, &format!("erp_{}", c.erp))?,
                    texts(&df, &format!("difference_{}", c.partner))?,
                ],
            ))
        })
        .collect::<PolarsResult<_>>()?;
    let currency = currency_key(p);
    let mut out = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let Some(st) = status[row].as_deref().and_then(ReconStatus::parse) else {
            continue;
        };
        let key_values: Vec<(String, String)> = keys
            .iter()
            .map(|(k, v)| (k.clone(), v[row].clone().unwrap_or_default()))
            .collect();
        out.push(Break {
            currency: currency.as_ref().and_then(|c| {
                key_values
                    .iter()
                    .find(|(k, _)| k == c)
                    .map(|(_, v)| v.clone())
            }),
            keys: key_values,
            status: st,
            kind: None,
            measures: measures
                .iter()
                .map(|(name, [pa, er, di])| Measure {
                    name: name.clone(),
                    partner: dec(&pa[row]),
                    erp: dec(&er[row]),
                    difference: dec(&di[row]),
                })
                .collect(),
        });
    }
    Ok(out)
}

/// Every row of a `[breaks]` table whose status is not one of `ok`, as a `Break`: its key
/// columns, its status (a reconcile status when it is one, else its own wording in `kind`),
/// its currency, and its amount as the one measure (so breaks rank by it).
pub fn breaks_from_table(
    spec: &crate::config::compile::BreaksTable,
    df: &DataFrame,
) -> PolarsResult<Vec<Break>> {
    let status = texts(df, &spec.status)?;
    let keys: Vec<(String, Vec<Option<String>>)> = spec
        .key
        .iter()
        .map(|k| Ok((k.clone(), texts(df, k)?)))
        .collect::<PolarsResult<_>>()?;
    let amount = spec.amount.as_deref().map(|a| texts(df, a)).transpose()?;
    let currency = spec.currency.as_deref().map(|c| texts(df, c)).transpose()?;
    let mut out = Vec::new();
    for row in 0..df.height() {
        let text = status[row].clone().unwrap_or_default();
        if spec.ok.contains(&text) {
            continue;
        }
        let (status, kind) = match ReconStatus::parse(&text) {
            Some(st) => (st, None),
            None => (ReconStatus::Mismatched, Some(text)),
        };
        out.push(Break {
            keys: keys
                .iter()
                .map(|(k, v)| (k.clone(), v[row].clone().unwrap_or_default()))
                .collect(),
            status,
            kind,
            currency: currency.as_ref().and_then(|c| c[row].clone()),
            measures: match (&spec.amount, &amount) {
                (Some(name), Some(v)) => vec![Measure {
                    name: name.clone(),
                    partner: None,
                    erp: None,
                    difference: dec(&v[row]),
                }],
                _ => Vec::new(),
            },
        });
    }
    Ok(out)
}

/// Exact totals of the first money column per (currency, status), over every reconciled key.
pub fn money_totals(p: &Pipeline, reconciled: &DataFrame) -> PolarsResult<Vec<MoneyTotal>> {
    let Some(spec) = &p.reconcile else {
        return Ok(Vec::new());
    };
    let Some(c) = spec.compare.iter().find(|c| is_money(p, &c.partner)) else {
        return Ok(Vec::new());
    };
    let currency = match currency_key(p) {
        Some(k) => col(k.as_str())
            .cast(DataType::String)
            .fill_null(lit(NO_CURRENCY)),
        None => lit(NO_CURRENCY),
    };
    let df = reconciled
        .clone()
        .lazy()
        .select([
            currency.alias("__currency"),
            col("status"),
            col(format!("partner_{}", c.partner)).alias("__partner"),
            col(format!("erp_{}", c.erp)).alias("__erp"),
        ])
        .group_by([col("__currency"), col("status")])
        .agg([
            len().alias("__count"),
            col("__partner").sum(),
            col("__erp").sum(),
        ])
        .sort(["__currency", "status"], SortMultipleOptions::default())
        .collect()?;
    let cur = texts(&df, "__currency")?;
    let status = texts(&df, "status")?;
    let count = texts(&df, "__count")?;
    let partner = texts(&df, "__partner")?;
    let erp = texts(&df, "__erp")?;
    let mut out = Vec::new();
    for row in 0..df.height() {
        let Some(st) = status[row].as_deref().and_then(ReconStatus::parse) else {
            continue;
        };
        let pa = dec(&partner[row]).unwrap_or(Decimal::ZERO);
        let er = dec(&erp[row]).unwrap_or(Decimal::ZERO);
        out.push(MoneyTotal {
            currency: cur[row].clone().unwrap_or_else(|| NO_CURRENCY.into()),
            status: st,
            count: count[row]
                .as_deref()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
            partner: pa,
            erp: er,
            difference: pa - er,
        });
    }
    out.sort_by_key(|t| (t.currency.clone(), t.status));
    Ok(out)
}
