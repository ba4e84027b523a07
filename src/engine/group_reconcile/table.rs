//! The grouped rows as columns (money as exact decimals built from mantissas, at the most
//! places any value has) and their per-status summary.

use polars::prelude::*;
use rust_decimal::Decimal;

use super::{Part, Row, STATUSES};

/// The columns of the grouped table after the key column (then three per part).
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

/// An exact decimal column at the places needed to hold every value (as the values' text
/// cast to a decimal would be), from their mantissas.
fn decimals(
    name: &str,
    values: impl Iterator<Item = Option<Decimal>> + Clone,
) -> PolarsResult<Column> {
    let scale = values
        .clone()
        .flatten()
        .map(|d| d.scale())
        .max()
        .unwrap_or(0);
    let mantissas: Int128Chunked = values
        .map(|v| {
            v.map(|mut d| {
                d.rescale(scale);
                d.mantissa()
            })
        })
        .collect();
    Ok(mantissas
        .with_name(name.into())
        .into_decimal(38, scale as usize)?
        .into_column())
}

fn texts<'a>(name: &str, values: impl Iterator<Item = Option<&'a str>>) -> Column {
    StringChunked::from_iter_options(name.into(), values).into_column()
}

/// The grouped table: the key (named `key`), `COLUMNS`, then per part `expected_<name>`,
/// `settled_<name>`, `<name>_difference`.
pub(super) fn to_frame(rows: &[Row], key: &str, parts: &[Part]) -> PolarsResult<DataFrame> {
    let height = rows.len();
    let r = || rows.iter();
    let mut columns = vec![
        texts(key, r().map(|r| Some(r.key.as_str()))),
        texts("status", r().map(|r| Some(r.status))),
        texts("currency", r().map(|r| Some(r.currency.as_str()))),
        texts("erp_currency", r().map(|r| r.erp_currency.as_deref())),
        decimals("expected", r().map(|r| r.expected))?,
        decimals("settled", r().map(|r| Some(r.settled)))?,
        decimals("sales", r().map(|r| Some(r.sales)))?,
        decimals("refunds", r().map(|r| Some(r.refunds)))?,
        decimals("fees", r().map(|r| Some(r.fees)))?,
        decimals("other", r().map(|r| Some(r.other)))?,
        decimals("difference", r().map(|r| Some(r.difference)))?,
        Column::new(
            "lines".into(),
            r().map(|r| r.lines as i64).collect::<Vec<_>>(),
        ),
        Column::new(
            "first_line".into(),
            r().map(|r| r.first_line).collect::<Vec<_>>(),
        ),
        texts("components", r().map(|r| Some(r.components.as_str()))),
        Column::new(
            "erp_row".into(),
            r().map(|r| r.erp_row.map(|i| i as i64 + 1))
                .collect::<Vec<_>>(),
        ),
    ];
    for (i, p) in parts.iter().enumerate() {
        let part = move |r: &Row| r.parts.get(i).cloned().unwrap_or_default();
        columns.push(decimals(
            &format!("expected_{}", p.name),
            r().map(move |r| part(r).expected),
        )?);
        columns.push(decimals(
            &format!("settled_{}", p.name),
            r().map(move |r| Some(part(r).settled)),
        )?);
        columns.push(decimals(
            &format!("{}_difference", p.name),
            r().map(move |r| part(r).difference()),
        )?);
    }
    DataFrame::new(height, columns)
}

/// Per (status, currency) in report order: count and the sums.
pub fn summary(rows: &[Row]) -> PolarsResult<DataFrame> {
    type Sums = (u64, Decimal, Decimal, Decimal);
    let mut by: PlHashMap<(usize, &str), Sums> = PlHashMap::new();
    for r in rows {
        let rank = STATUSES
            .iter()
            .position(|s| *s == r.status)
            .unwrap_or(STATUSES.len());
        let e = by.entry((rank, r.currency.as_str())).or_default();
        e.0 += 1;
        e.1 += r.expected.unwrap_or_default();
        e.2 += r.settled;
        e.3 += r.difference;
    }
    let mut by: Vec<((usize, &str), Sums)> = by.into_iter().collect();
    by.sort_by(|a, b| a.0.cmp(&b.0));
    let status: Vec<&str> = by
        .iter()
        .map(|((i, _), _)| STATUSES.get(*i).copied().unwrap_or(""))
        .collect();
    let currency: Vec<&str> = by.iter().map(|((_, c), _)| *c).collect();
    let v = || by.iter().map(|(_, v)| v);
    DataFrame::new(
        by.len(),
        vec![
            Column::new("status".into(), status),
            Column::new("currency".into(), currency),
            Column::new("count".into(), v().map(|v| v.0 as i64).collect::<Vec<_>>()),
            decimals("expected", v().map(|v| Some(v.1)))?,
            decimals("settled", v().map(|v| Some(v.2)))?,
            decimals("difference", v().map(|v| Some(v.3)))?,
        ],
    )
}
