//! Keyed reconciliation of partner data against an ERP extract: a full outer join with key
//! columns mapped across names, per-column absolute and relative tolerances, and a status per
//! key (matched, mismatched, only_in_partner, only_in_erp, duplicate_key). Pure.

use polars::prelude::*;
use rust_decimal::Decimal;

pub use super::pairing::Keying;
use super::pairing::{pair, DUP};
use super::spec::Reconcile;
use crate::frame::collect_streaming;
use crate::parallel::both;

pub const MATCHED: &str = "matched";
pub const MISMATCHED: &str = "mismatched";
pub const ONLY_IN_PARTNER: &str = "only_in_partner";
pub const ONLY_IN_ERP: &str = "only_in_erp";
pub const DUPLICATE_KEY: &str = "duplicate_key";
/// Every status, in report order.
pub const STATUSES: [&str; 5] = [
    MATCHED,
    MISMATCHED,
    ONLY_IN_PARTNER,
    ONLY_IN_ERP,
    DUPLICATE_KEY,
];

const P: &str = "__in_partner";
const E: &str = "__in_erp";

/// The reconciled table and its summary.
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// One row per key (per row for duplicate keys): the key columns (partner names), `status`,
    /// `side` (for duplicates: partner or erp), for each compared pair `partner_<col>`,
    /// `erp_<col>` and `difference_<col>` (partner − ERP), then the carried columns
    /// (`partner_<col>`, `erp_<col>`). In no particular order.
    pub table: DataFrame,
    /// One row per status present: `status`, `count`, and per pair the sums of partner, ERP and
    /// absolute difference.
    pub summary: DataFrame,
    /// The key columns (partner names), for ordering breaks.
    pub keys: Vec<String>,
}

impl Reconciled {
    /// Rows that are not `matched`.
    pub fn breaks(&self) -> PolarsResult<DataFrame> {
        self.table
            .clone()
            .lazy()
            .filter(col("status").neq(lit(MATCHED)))
            .sort_by_exprs(
                order(&self.keys),
                SortMultipleOptions::default().with_maintain_order(true),
            )
            .collect()
    }

    /// `count` for a status (0 when absent).
    pub fn count(&self, status: &str) -> u64 {
        let (Ok(s), Ok(c)) = (self.summary.column("status"), self.summary.column("count")) else {
            return 0;
        };
        let (Ok(s), Ok(c)) = (s.str(), c.u32()) else {
            return 0;
        };
        s.iter()
            .zip(c.iter())
            .find(|(k, _)| *k == Some(status))
            .and_then(|(_, v)| v)
            .unwrap_or(0) as u64
    }
}

fn scale_of(dtype: &DataType) -> usize {
    match dtype {
        DataType::Decimal(_, s) => *s,
        _ => 0,
    }
}

fn decimal_scale(d: &Decimal) -> usize {
    d.scale() as usize
}

/// Sort order of reconciled rows: key, then status, then side.
fn order(keys: &[String]) -> Vec<Expr> {
    let mut order: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
    order.push(col("status"));
    order.push(col("side"));
    order
}

/// Which sides are already known to have unique keys (a schema primary key on exactly the
/// reconcile keys, with violating rows set aside): the duplicate-key pass is skipped for them.
#[derive(Debug, Clone, Copy, Default)]
pub struct KnownUnique {
    pub partner: bool,
    pub erp: bool,
}

/// Reconciles `partner` against `erp` by `spec`. The tables are taken by value: each column
/// is let go once it is in the result (clone a table to keep it; a clone shares its buffers).
/// The `table` holds the partner rows in their order, then the ERP rows no partner row has,
/// in theirs, then the duplicate-key rows of each side: the same inputs give the same table,
/// row for row. `breaks()` is sorted by key.
pub fn reconcile(
    partner: DataFrame,
    erp: DataFrame,
    spec: &Reconcile,
    unique: KnownUnique,
) -> PolarsResult<Reconciled> {
    reconcile_with(partner, erp, spec, unique, Keying::Hashed)
}

/// [`reconcile`] with a chosen [`Keying`] (the result is the same for every keying).
pub fn reconcile_with(
    partner: DataFrame,
    erp: DataFrame,
    spec: &Reconcile,
    unique: KnownUnique,
    keying: Keying,
) -> PolarsResult<Reconciled> {
    let keys: Vec<String> = spec.keys.iter().map(|(p, _)| p.clone()).collect();
    let key_cols = || keys.iter().map(|k| col(k.as_str())).collect::<Vec<_>>();
    // Common numeric type per compared pair: integers stay integers, anything else is an exact
    // decimal wide enough for both sides and the tolerances.
    let mut pair_types = Vec::new();
    for c in &spec.compare {
        let pt = partner.column(&c.partner)?.dtype().clone();
        let et = erp.column(&c.erp)?.dtype().clone();
        let ints = pt.is_integer()
            && et.is_integer()
            && c.abs_tolerance.is_zero()
            && c.rel_tolerance.is_zero();
        let scale = scale_of(&pt)
            .max(scale_of(&et))
            .max(decimal_scale(&c.abs_tolerance));
        pair_types.push(if ints {
            DataType::Int64
        } else {
            DataType::Decimal(38, scale)
        });
    }
    // Each side as the result names it: keys (partner names, as text), `partner_<col>` /
    // `erp_<col>` for compared and carried columns.
    let mut p_sel: Vec<Expr> = spec
        .keys
        .iter()
        .map(|(p, _)| col(p.as_str()).cast(DataType::String))
        .collect();
    let mut e_sel: Vec<Expr> = spec
        .keys
        .iter()
        .map(|(p, e)| col(e.as_str()).cast(DataType::String).alias(p.as_str()))
        .collect();
    let mut p_payload = Vec::new();
    let mut e_payload = Vec::new();
    for (c, t) in spec.compare.iter().zip(&pair_types) {
        p_payload.push(format!("partner_{}", c.partner));
        p_sel.push(
            col(c.partner.as_str())
                .cast(t.clone())
                .alias(format!("partner_{}", c.partner)),
        );
        e_payload.push(format!("erp_{}", c.erp));
        e_sel.push(
            col(c.erp.as_str())
                .cast(t.clone())
                .alias(format!("erp_{}", c.erp)),
        );
    }
    for c in &spec.carry_partner {
        p_payload.push(format!("partner_{c}"));
        p_sel.push(col(c.as_str()).alias(format!("partner_{c}")));
    }
    for c in &spec.carry_erp {
        e_payload.push(format!("erp_{c}"));
        e_sel.push(col(c.as_str()).alias(format!("erp_{c}")));
    }
    // `DUP` marks rows whose key occurs twice on their side; a side known unique gets none.
    let marked = |df: DataFrame, sel: Vec<Expr>, known: bool| -> PolarsResult<DataFrame> {
        let lf = df.lazy().select(sel);
        collect_streaming(if known {
            lf
        } else {
            lf.with_column(len().over(key_cols())?.gt(lit(1)).alias(DUP))
        })
    };
    let p = marked(partner, p_sel, unique.partner)?;
    let e = marked(erp, e_sel, unique.erp)?;
    // Rows with a duplicate key are not paired; they are listed as they are.
    let dup_rows = |df: &DataFrame| -> PolarsResult<Option<DataFrame>> {
        match df.column(DUP) {
            Ok(d) => Some(df.filter(d.bool()?)).transpose(),
            Err(_) => Ok(None),
        }
    };
    let (p_dups, e_dups) = (dup_rows(&p)?, dup_rows(&e)?);
    tracing::debug!("reconcile: sides selected ({})", crate::usage::memory());

    let paired = pair(&p, &e, &keys, keying)?;
    tracing::debug!("reconcile: keys paired ({})", crate::usage::memory());
    let mut columns: Vec<Column> = paired.keys;
    columns.push(
        paired
            .partner
            .is_not_null()
            .with_name(P.into())
            .into_column(),
    );
    columns.push(paired.erp.is_not_null().with_name(E.into()).into_column());
    // Gathered one column at a time, each side on its own thread; the source column goes as
    // soon as it is gathered.
    let gather = |mut df: DataFrame, names: &[String], rows: &IdxCa| -> PolarsResult<Vec<Column>> {
        for k in &keys {
            df.drop_in_place(k)?;
        }
        names
            .iter()
            .map(|name| df.drop_in_place(name)?.take(rows))
            .collect()
    };
    let (p_cols, e_cols) = both(
        || gather(p, &p_payload, &paired.partner),
        || gather(e, &e_payload, &paired.erp),
    );
    columns.extend(p_cols?);
    columns.extend(e_cols?);
    let height = paired.partner.len();
    let mut paired_rows = DataFrame::new(height, columns)?;
    tracing::debug!("reconcile: columns gathered ({})", crate::usage::memory());

    let mut out_of_tolerance = Vec::new();
    let mut diffs = Vec::new();
    for (c, t) in spec.compare.iter().zip(&pair_types) {
        let d = col(format!("partner_{}", c.partner)) - col(format!("erp_{}", c.erp));
        diffs.push(d.clone().alias(format!("difference_{}", c.partner)));
        let abs = d.abs();
        let out = if c.abs_tolerance.is_zero() && c.rel_tolerance.is_zero() {
            abs.neq(lit(0).cast(t.clone()))
        } else {
            let s = scale_of(t)
                .max(decimal_scale(&c.abs_tolerance))
                .max(decimal_scale(&c.rel_tolerance) + scale_of(t))
                .min(30);
            let dec = DataType::Decimal(38, s);
            let abs = abs.cast(dec.clone());
            let abs_tol = lit(c.abs_tolerance.to_string()).cast(dec.clone());
            let rel_tol = col(format!("erp_{}", c.erp)).cast(dec.clone()).abs()
                * lit(c.rel_tolerance.to_string())
                    .cast(DataType::Decimal(38, decimal_scale(&c.rel_tolerance)));
            abs.clone().gt(abs_tol).and(abs.gt(rel_tol.cast(dec)))
        };
        out_of_tolerance.push(out.fill_null(lit(true)));
    }
    let any_out = if out_of_tolerance.is_empty() {
        lit(false)
    } else {
        any_horizontal(out_of_tolerance)?
    };
    // Status and side are written in one pass from three masks (the nested when/then of
    // strings built a full-length temporary per branch).
    let out = paired_rows
        .clone()
        .lazy()
        .with_column(any_out.alias("__out"))
        .select([col("__out")])
        .collect()?;
    // Two halves at once, one per core; each half is one chunk of the label columns.
    let (in_p, in_e, out_of) = (
        paired_rows.column(P)?.bool()?,
        paired_rows.column(E)?.bool()?,
        out.column("__out")?.bool()?,
    );
    let half = paired_rows.height() / 2;
    let first_half = |c: &BooleanChunked| c.slice(0, half);
    let second_half = |c: &BooleanChunked| c.slice(half as i64, usize::MAX);
    let (mut labels, rest) = both(
        || labels(&first_half(in_p), &first_half(in_e), &first_half(out_of)),
        || labels(&second_half(in_p), &second_half(in_e), &second_half(out_of)),
    );
    labels.0.append_owned(rest.0)?;
    labels.1.append_owned(rest.1)?;
    drop(out);
    paired_rows.with_column(labels.0.into_column())?;
    paired_rows.with_column(labels.1.into_column())?;
    let mut select: Vec<Expr> = key_cols();
    select.push(col("status"));
    select.push(col("side"));
    for c in &spec.compare {
        select.push(col(format!("partner_{}", c.partner)));
        select.push(col(format!("erp_{}", c.erp)));
        select.push(col(format!("difference_{}", c.partner)));
    }
    for c in &spec.carry_partner {
        select.push(col(format!("partner_{c}")));
    }
    for c in &spec.carry_erp {
        select.push(col(format!("erp_{c}")));
    }
    let mut parts = vec![paired_rows
        .lazy()
        .with_columns(diffs.clone())
        .select(select.clone())];
    // Duplicate-key rows: the other side's columns empty.
    let shape = |dups: DataFrame, side: &str, other: Vec<Expr>| {
        dups.lazy()
            .with_columns([
                lit(DUPLICATE_KEY).alias("status"),
                lit(side.to_string()).alias("side"),
            ])
            .with_columns(other)
            .with_columns(diffs.clone())
            .select(select.clone())
    };
    let typed = parts[0].clone().collect_schema()?;
    let typed_nulls = |names: &[String]| -> PolarsResult<Vec<Expr>> {
        names
            .iter()
            .map(|n| {
                let dtype = typed.get(n.as_str()).cloned().unwrap_or(DataType::Null);
                Ok(lit(NULL).cast(dtype).alias(n.as_str()))
            })
            .collect()
    };
    if let Some(d) = p_dups {
        parts.push(shape(d, "partner", typed_nulls(&e_payload)?));
    }
    if let Some(d) = e_dups {
        parts.push(shape(d, "erp", typed_nulls(&p_payload)?));
    }
    let table = match parts.len() {
        1 => parts.remove(0).collect()?,
        _ => concat(parts, UnionArgs::default())?.collect()?,
    };
    tracing::debug!(
        "reconcile: table built, {} MiB ({})",
        table.estimated_size() >> 20,
        crate::usage::memory()
    );
    let summary = summarize(&table, spec)?;
    Ok(Reconciled {
        table,
        summary,
        keys,
    })
}

/// `status` and `side` of paired rows from whether each side has the key and whether any
/// compared pair is out of tolerance.
fn labels(
    in_partner: &BooleanChunked,
    in_erp: &BooleanChunked,
    out: &BooleanChunked,
) -> (StringChunked, StringChunked) {
    let rows = || in_partner.iter().zip(in_erp.iter()).zip(out.iter());
    let status = rows().map(|((p, e), o)| match (p, e, o) {
        (Some(false) | None, _, _) => ONLY_IN_ERP,
        (_, Some(false) | None, _) => ONLY_IN_PARTNER,
        (_, _, Some(true)) => MISMATCHED,
        _ => MATCHED,
    });
    let side = rows().map(|((p, e), _)| match (p, e) {
        (Some(false) | None, _) => "erp",
        (_, Some(false) | None) => "partner",
        _ => "both",
    });
    (
        StringChunked::from_iter_values("status".into(), status),
        StringChunked::from_iter_values("side".into(), side),
    )
}

fn summarize(table: &DataFrame, spec: &Reconcile) -> PolarsResult<DataFrame> {
    let mut aggs = vec![len().alias("count")];
    for c in &spec.compare {
        aggs.push(
            col(format!("partner_{}", c.partner))
                .sum()
                .alias(format!("sum_partner_{}", c.partner)),
        );
        aggs.push(
            col(format!("erp_{}", c.erp))
                .sum()
                .alias(format!("sum_erp_{}", c.erp)),
        );
        aggs.push(
            col(format!("difference_{}", c.partner))
                .abs()
                .sum()
                .alias(format!("sum_abs_difference_{}", c.partner)),
        );
    }
    table
        .clone()
        .lazy()
        .group_by([col("status")])
        .agg(aggs)
        .with_column(col("count").cast(DataType::UInt32))
        .sort(["status"], SortMultipleOptions::default())
        .collect()
}
