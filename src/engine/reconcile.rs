//! Keyed reconciliation of partner data against an ERP extract: a full outer join with key
//! columns mapped across names, per-column absolute and relative tolerances, and a status per
//! key (matched, mismatched, only_in_partner, only_in_erp, duplicate_key). Pure.

use polars::prelude::*;
use rust_decimal::Decimal;

use super::collect::collect_streaming;
use crate::config::Reconcile;

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
const HASH: &str = "__key_hash";
const COLLISION: &str = "__collision";

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

/// How rows are paired across the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keying {
    /// Join on one 64-bit hash of a compound key, checked against the keys themselves; any
    /// pair of different keys sharing a hash makes the exact join run instead. Single-column
    /// keys are joined exactly.
    Hashed,
    /// Join on the key columns themselves.
    Exact,
    /// Every key hashes to 0, so every pair collides: tests the fall-back.
    CollidingHashes,
}

/// Reconciles `partner` against `erp` by `spec`. The `table` is in no particular order (sort it
/// with `order_by` for output); `breaks()` is sorted by key.
pub fn reconcile(
    partner: &DataFrame,
    erp: &DataFrame,
    spec: &Reconcile,
    unique: KnownUnique,
) -> PolarsResult<Reconciled> {
    reconcile_with(partner, erp, spec, unique, Keying::Hashed)
}

/// [`reconcile`] with a chosen [`Keying`] (the result is the same for every keying).
pub fn reconcile_with(
    partner: &DataFrame,
    erp: &DataFrame,
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
    for (c, t) in spec.compare.iter().zip(&pair_types) {
        p_sel.push(
            col(c.partner.as_str())
                .cast(t.clone())
                .alias(format!("partner_{}", c.partner)),
        );
        e_sel.push(
            col(c.erp.as_str())
                .cast(t.clone())
                .alias(format!("erp_{}", c.erp)),
        );
    }
    for c in &spec.carry_partner {
        p_sel.push(col(c.as_str()).alias(format!("partner_{c}")));
    }
    for c in &spec.carry_erp {
        e_sel.push(col(c.as_str()).alias(format!("erp_{c}")));
    }
    p_sel.push(lit(true).alias(P));
    e_sel.push(lit(true).alias(E));
    // `__dup` marks rows whose key occurs twice on their side; a side known unique gets no such
    // column and no filter (a filter copies every column).
    let marked = |df: &DataFrame, sel: Vec<Expr>, known: bool| -> PolarsResult<DataFrame> {
        let lf = df.clone().lazy().select(sel);
        collect_streaming(if known {
            lf
        } else {
            lf.with_column(len().over(key_cols())?.gt(lit(1)).alias("__dup"))
        })
    };
    let p = marked(partner, p_sel, unique.partner)?;
    let e = marked(erp, e_sel, unique.erp)?;
    tracing::debug!("reconcile: sides selected ({})", crate::usage::memory());
    let known = unique;
    let unique = |df: &DataFrame| {
        if df.column("__dup").is_err() {
            return df.clone().lazy();
        }
        df.clone()
            .lazy()
            .filter(col("__dup").not())
            .drop(cols(["__dup"]))
    };
    let dups = |df: &DataFrame, side: &str| {
        df.clone()
            .lazy()
            .filter(col("__dup"))
            .drop(cols(["__dup"]))
            .with_columns([
                lit(DUPLICATE_KEY).alias("status"),
                lit(side.to_string()).alias("side"),
            ])
    };
    // First try: join on one 64-bit hash of the key columns (polars row-encodes multi-column
    // string keys, the join's main cost). A hash shared by two different keys is caught by
    // `__collision` below and the exact join is run instead.
    let hashed = match keying {
        Keying::Hashed => keys.len() > 1,
        Keying::Exact => false,
        Keying::CollidingHashes => true,
    };
    let (p, e) = if hashed {
        // One hasher state for both sides: the same key must hash the same way on each.
        let state = PlSeedableRandomStateQuality::default();
        let zero = keying == Keying::CollidingHashes;
        (
            with_key_hash(p, &keys, &state, zero)?,
            with_key_hash(e, &keys, &state, zero)?,
        )
    } else {
        (p, e)
    };
    let joined = |hashed: bool| -> PolarsResult<LazyFrame> {
        if !hashed {
            return Ok(unique(&p)
                .join(
                    unique(&e),
                    key_cols(),
                    key_cols(),
                    JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
                )
                .with_column(lit(false).alias(COLLISION)));
        }
        let right = |k: &String| format!("{k}_right");
        let same: Vec<Expr> = keys
            .iter()
            .map(|k| col(k.as_str()).eq(col(right(k))).fill_null(lit(false)))
            .collect();
        let collision = col(P)
            .is_not_null()
            .and(col(E).is_not_null())
            .and(all_horizontal(same)?.not());
        let coalesced: Vec<Expr> = keys
            .iter()
            .map(|k| {
                when(col(P).is_null())
                    .then(col(right(k)))
                    .otherwise(col(k.as_str()))
                    .alias(k.as_str())
            })
            .collect();
        Ok(unique(&p)
            .join(
                unique(&e),
                [col(HASH)],
                [col(HASH)],
                JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns),
            )
            .with_column(collision.alias(COLLISION))
            .with_columns(coalesced))
    };
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
    let status = when(col(P).is_null())
        .then(lit(ONLY_IN_ERP))
        .when(col(E).is_null())
        .then(lit(ONLY_IN_PARTNER))
        .when(any_out)
        .then(lit(MISMATCHED))
        .otherwise(lit(MATCHED));
    let side = when(col(P).is_null())
        .then(lit("erp"))
        .when(col(E).is_null())
        .then(lit("partner"))
        .otherwise(lit("both"));
    let labelled = [status.alias("status"), side.alias("side")];
    let matched_diffs = diffs.clone();
    let build = |joined: LazyFrame| {
        joined
            .with_columns(labelled.clone())
            .with_columns(matched_diffs.clone())
    };
    let mut columns: Vec<Expr> = key_cols();
    columns.push(col("status"));
    columns.push(col("side"));
    for c in &spec.compare {
        columns.push(col(format!("partner_{}", c.partner)));
        columns.push(col(format!("erp_{}", c.erp)));
        columns.push(col(format!("difference_{}", c.partner)));
    }
    let mut partner_nulls = Vec::new();
    let mut erp_nulls = Vec::new();
    for c in &spec.carry_partner {
        let name = format!("partner_{c}");
        columns.push(col(name.as_str()));
        let dtype = partner.column(c)?.dtype().clone();
        partner_nulls.push(lit(NULL).cast(dtype).alias(name));
    }
    for c in &spec.carry_erp {
        let name = format!("erp_{c}");
        columns.push(col(name.as_str()));
        let dtype = erp.column(c)?.dtype().clone();
        erp_nulls.push(lit(NULL).cast(dtype).alias(name));
    }
    // Rows with a duplicate key on either side are not matched; they are listed as they are,
    // with the other side's columns empty.
    for (c, t) in spec.compare.iter().zip(&pair_types) {
        partner_nulls.push(
            lit(NULL)
                .cast(t.clone())
                .alias(format!("partner_{}", c.partner)),
        );
        erp_nulls.push(lit(NULL).cast(t.clone()).alias(format!("erp_{}", c.erp)));
    }
    let p_dups = dups(&p, "partner")
        .with_columns(erp_nulls)
        .with_columns(diffs.clone())
        .select(columns.clone());
    let e_dups = dups(&e, "erp")
        .with_columns(partner_nulls)
        .with_columns(diffs)
        .select(columns.clone());
    let mut with_flag = columns.clone();
    with_flag.push(col(COLLISION));
    let p_dups = p_dups.with_column(lit(false).alias(COLLISION));
    let e_dups = e_dups.with_column(lit(false).alias(COLLISION));
    let run = |hashed: bool| -> PolarsResult<DataFrame> {
        let mut parts = vec![build(joined(hashed)?).select(with_flag.clone())];
        // Sides known unique have no duplicate rows to list (and the union would copy).
        if !known.partner {
            parts.push(p_dups.clone().select(with_flag.clone()));
        }
        if !known.erp {
            parts.push(e_dups.clone().select(with_flag.clone()));
        }
        match parts.len() {
            1 => collect_streaming(parts.remove(0)),
            _ => collect_streaming(concat(parts, UnionArgs::default())?),
        }
    };
    tracing::debug!("reconcile: keys hashed ({})", crate::usage::memory());
    let mut table = run(hashed)?;
    tracing::debug!("reconcile: joined ({})", crate::usage::memory());
    if hashed && table.column(COLLISION)?.bool()?.any() {
        tracing::debug!("reconcile: two keys share a hash; joining on the keys themselves");
        table = run(false)?;
    }
    let table = table.drop(COLLISION)?;
    let summary = summarize(&table, spec)?;
    Ok(Reconciled {
        table,
        summary,
        keys,
    })
}

/// `df` with `HASH`: one 64-bit hash of the key columns per row (the same seed on both sides).
fn with_key_hash(
    mut df: DataFrame,
    keys: &[String],
    state: &PlSeedableRandomStateQuality,
    zero: bool,
) -> PolarsResult<DataFrame> {
    let Some((first, rest)) = keys.split_first() else {
        return Ok(df);
    };
    if zero {
        let zeros = UInt64Chunked::full(HASH.into(), 0, df.height());
        df.with_column(zeros.into_column())?;
        return Ok(df);
    }
    let mut hashes = Vec::with_capacity(df.height());
    df.column(first)?.vec_hash(state.clone(), &mut hashes)?;
    for k in rest {
        df.column(k)?.vec_hash_combine(state.clone(), &mut hashes)?;
    }
    df.with_column(UInt64Chunked::from_vec(HASH.into(), hashes).into_column())?;
    Ok(df)
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
