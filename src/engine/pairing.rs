//! Pairing the rows of two tables by key, for reconciliation: a full outer join of row numbers
//! only, so that the columns are gathered afterwards one at a time (each source column can be
//! let go as soon as it is gathered: the join never holds both tables and the result at once).
//! A key is joined on one 64-bit hash of its columns, checked against the keys themselves; a
//! hash shared by two different keys makes the exact join run instead. Rows come out in a fixed
//! order whatever the path: partner rows as they came, then the ERP rows left unpaired. Pure.

use polars::prelude::*;

use super::unique_pairs::{pair_unique_hashes, rows_column};
use crate::frame::collect_streaming;
use crate::frame::key_hashes;

/// Marks rows whose key occurs more than once on their side; those rows are not paired.
pub const DUP: &str = "__dup";
const HASH: &str = "__key_hash";
const PI: &str = "__partner_row";
const EI: &str = "__erp_row";

/// How rows are paired across the sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keying {
    /// One 64-bit hash of the key, checked against the keys; any pair of different keys
    /// sharing a hash makes the exact join run instead.
    Hashed,
    /// The key columns themselves.
    Exact,
    /// Every key hashes to 0, so every pair collides: tests the fall-back.
    CollidingHashes,
}

/// Paired rows: one entry per output row, the row number on each side (null when the key is
/// absent there), and the key columns (from the partner row, else the ERP row). Partner rows
/// come in their order, then the unpaired ERP rows in theirs.
pub struct Paired {
    pub partner: IdxCa,
    pub erp: IdxCa,
    pub keys: Vec<Column>,
}

/// Pairs the rows of `p` and `e` (both with the key columns `keys`, as text) by key. Rows marked
/// `DUP` are left out.
pub fn pair(p: &DataFrame, e: &DataFrame, keys: &[String], keying: Keying) -> PolarsResult<Paired> {
    let hashed = match keying {
        Keying::Hashed | Keying::CollidingHashes => true,
        Keying::Exact => false,
    };
    let exact = || match gather_keys(p, e, keys, join_rows(p, e, keys, None)?, false) {
        Ok(paired) => Ok(paired),
        Err(CollisionOr::Polars(err)) => Err(err),
        Err(CollisionOr::Collision) => Err(polars_err!(ComputeError: "unchecked pairing collided")),
    };
    if !hashed {
        return exact();
    }
    // One hasher state for both sides: the same key must hash the same way on each.
    let state = PlSeedableRandomStateQuality::default();
    let zero = keying == Keying::CollidingHashes;
    let rows = join_rows(p, e, keys, Some((&state, zero)))?;
    tracing::debug!("reconcile: rows joined ({})", crate::usage::memory());
    match gather_keys(p, e, keys, rows, true) {
        Ok(paired) => Ok(paired),
        Err(CollisionOr::Polars(err)) => Err(err),
        Err(CollisionOr::Collision) => {
            tracing::debug!("reconcile: two keys share a hash; joining on the keys themselves");
            exact()
        }
    }
}

/// The full outer join of the two sides' row numbers, on the key columns or on their hash:
/// partner rows in order, then the unpaired ERP rows in order.
fn join_rows(
    p: &DataFrame,
    e: &DataFrame,
    keys: &[String],
    hash: Option<(&PlSeedableRandomStateQuality, bool)>,
) -> PolarsResult<(IdxCa, IdxCa)> {
    let side = |df: &DataFrame, row: &str| -> PolarsResult<DataFrame> {
        let mut cols = Vec::with_capacity(keys.len() + 2);
        match hash {
            Some((state, zero)) => cols.push(key_hash(df, keys, state, zero)?),
            None => {
                for k in keys {
                    cols.push(df.column(k)?.clone());
                }
            }
        }
        let n = df.height() as IdxSize;
        cols.push(IdxCa::from_vec(row.into(), (0..n).collect()).into_column());
        cols.extend(df.column(DUP).ok().cloned());
        DataFrame::new(df.height(), cols)
    };
    // Each side's hashes are worked out on all cores (`key_hashes`).
    let (left, right) = (side(p, PI)?, side(e, EI)?);
    tracing::debug!("reconcile: sides hashed ({})", crate::usage::memory());
    if hash.is_some() {
        // One chunk each (`key_hash` builds them so): borrowed, not copied.
        let hashes = |df: &DataFrame| -> PolarsResult<UInt64Chunked> {
            Ok(df.column(HASH)?.u64()?.rechunk().into_owned())
        };
        let skips = |df: &DataFrame| -> PolarsResult<Option<Vec<bool>>> {
            df.column(DUP)
                .ok()
                .map(|d| Ok(d.bool()?.iter().map(|v| v == Some(true)).collect()))
                .transpose()
        };
        let (ph, eh) = (hashes(&left)?, hashes(&right)?);
        let (ps, es) = (skips(&left)?, skips(&right)?);
        let (ph, eh) = (ph.cont_slice()?, eh.cont_slice()?);
        if let Some((pr, er)) = pair_unique_hashes(ph, ps.as_deref(), eh, es.as_deref()) {
            return Ok((rows_column(PI, &pr), rows_column(EI, &er)));
        }
    }
    let unduplicated = |df: DataFrame| match df.column(DUP).is_ok() {
        true => df.lazy().filter(col(DUP).not()),
        false => df.lazy(),
    };
    let on: Vec<Expr> = match hash {
        Some(_) => vec![col(HASH)],
        None => keys.iter().map(|k| col(k.as_str())).collect(),
    };
    let joined = collect_streaming(
        unduplicated(left)
            .join(
                unduplicated(right),
                on.clone(),
                on,
                JoinArgs::new(JoinType::Full),
            )
            .select([col(PI), col(EI)])
            .sort(
                [PI, EI],
                SortMultipleOptions::default().with_nulls_last(true),
            ),
    )?;
    Ok((
        joined.column(PI)?.idx()?.rechunk().into_owned(),
        joined.column(EI)?.idx()?.rechunk().into_owned(),
    ))
}

/// One 64-bit hash per row of the key columns.
fn key_hash(
    df: &DataFrame,
    keys: &[String],
    state: &PlSeedableRandomStateQuality,
    zero: bool,
) -> PolarsResult<Column> {
    if zero {
        return Ok(UInt64Chunked::full(HASH.into(), 0, df.height()).into_column());
    }
    let hashes = key_hashes(df, keys, state)?;
    Ok(UInt64Chunked::from_vec(HASH.into(), hashes).into_column())
}

/// The key columns of the paired rows; when `check`, a pair whose keys differ (two keys shared
/// a hash) is a `Collision`. A null key component never pairs in the exact join, so under a hash
/// it counts as a collision too.
fn gather_keys(
    p: &DataFrame,
    e: &DataFrame,
    keys: &[String],
    (pi, ei): (IdxCa, IdxCa),
    check: bool,
) -> Result<Paired, CollisionOr> {
    // Built row by row from the two sources: neither side's gathered copy is materialised (two
    // full-length temporaries per key column were the reconcile's peak). One thread per key
    // column: the loop is bound by random reads.
    let build = |k: &String| -> Result<Column, CollisionOr> {
        let (pk, ek) = (
            Lookup::new(p.column(k)?.str()?),
            Lookup::new(e.column(k)?.str()?),
        );
        let mut key = StringChunkedBuilder::new(k.as_str().into(), pi.len());
        for (i, j) in pi.iter().zip(ei.iter()) {
            let pv = i.and_then(|i| pk.get(i as usize));
            let ev = j.and_then(|j| ek.get(j as usize));
            if check && i.is_some() && j.is_some() && (pv.is_none() || pv != ev) {
                return Err(CollisionOr::Collision);
            }
            key.append_option(if i.is_some() { pv } else { ev });
        }
        Ok(key.finish().into_column())
    };
    let built = crate::parallel::on_each_core(keys.len(), |i| build(&keys[i]));
    let mut out = Vec::with_capacity(keys.len());
    for b in built {
        out.push(b?);
    }
    Ok(Paired {
        partner: pi,
        erp: ei,
        keys: out,
    })
}

/// One chunk of a text column.
type TextArray = <StringType as PolarsDataType>::Array;

/// Random access into a text column by row number, with the chunk boundaries worked out once
/// (`ChunkedArray::get` walks them on every call: a quarter of the key columns' build time).
struct Lookup<'a> {
    starts: Vec<usize>,
    arrays: Vec<&'a TextArray>,
}

impl<'a> Lookup<'a> {
    fn new(ca: &'a StringChunked) -> Lookup<'a> {
        let arrays: Vec<&TextArray> = ca.downcast_iter().collect();
        let mut starts = Vec::with_capacity(arrays.len());
        let mut at = 0;
        for a in &arrays {
            starts.push(at);
            at += a.len();
        }
        Lookup { starts, arrays }
    }

    fn get(&self, row: usize) -> Option<&'a str> {
        let chunk = self.starts.partition_point(|s| *s <= row).checked_sub(1)?;
        let (array, start) = (self.arrays.get(chunk)?, self.starts.get(chunk)?);
        let i = row - start;
        (i < array.len()).then(|| array.get(i)).flatten()
    }
}

/// A collision, or a polars failure while looking for one.
enum CollisionOr {
    Collision,
    Polars(PolarsError),
}

impl From<PolarsError> for CollisionOr {
    fn from(e: PolarsError) -> Self {
        CollisionOr::Polars(e)
    }
}
