//! Small polars helpers shared by the pure layers (`schema`, `engine`): streaming collection and
//! per-row key hashes. Here rather than in `engine` so that `schema` never imports `engine`.

use polars::prelude::*;

use crate::parallel::{cores, on_each_core};

/// Runs a lazy query on the streaming engine and returns its result: it processes morsels on
/// all cores and keeps less in memory than the in-memory engine for join-heavy plans. A plain
/// lazy frame has one sink, so the result is always a single frame (`unwrap_single` cannot fail
/// here).
pub fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}

/// One 64-bit hash per row of the `keys` columns of `df` under `state` (equal keys hash alike
/// under one state), the rows cut in one stretch per core and hashed at once.
pub fn key_hashes(
    df: &DataFrame,
    keys: &[String],
    state: &PlSeedableRandomStateQuality,
) -> PolarsResult<Vec<u64>> {
    let Some((first, rest)) = keys.split_first() else {
        return Ok(vec![0; df.height()]);
    };
    let parts = cores();
    let share = df.height().div_ceil(parts).max(1);
    let hash = |t: usize| -> PolarsResult<Vec<u64>> {
        let rows = df.slice((t * share) as i64, share);
        let mut hashes = Vec::with_capacity(rows.height());
        rows.column(first)?.vec_hash(state.clone(), &mut hashes)?;
        for k in rest {
            rows.column(k)?
                .vec_hash_combine(state.clone(), &mut hashes)?;
        }
        Ok(hashes)
    };
    let mut out = Vec::with_capacity(df.height());
    for part in on_each_core(parts, hash) {
        out.extend(part?);
    }
    Ok(out)
}

/// Column `name` of `df` as text, for reading row by row (cast when it is not text).
pub fn text_column(df: &DataFrame, name: &str) -> PolarsResult<StringChunked> {
    let c = df.column(name)?;
    match c.dtype() {
        DataType::String => Ok(c.str()?.clone()),
        _ => Ok(c.cast(&DataType::String)?.str()?.clone()),
    }
}

/// Column `name` of `df` as exact decimals row by row: a Decimal column from its mantissas
/// (no text in between), any other from its text, trimmed (empty or null: `None`; not a number:
/// `bad(row, text)`).
pub fn decimal_column(
    df: &DataFrame,
    name: &str,
    bad: &dyn Fn(usize, &str) -> PolarsError,
) -> PolarsResult<Vec<Option<rust_decimal::Decimal>>> {
    let c = df.column(name)?;
    if let DataType::Decimal(_, scale) = c.dtype() {
        let scale = *scale as u32;
        let d = c.decimal()?;
        return d
            .physical()
            .iter()
            .enumerate()
            .map(|(row, m)| {
                m.map(|m| {
                    rust_decimal::Decimal::try_from_i128_with_scale(m, scale)
                        .map_err(|_| bad(row, &m.to_string()))
                })
                .transpose()
            })
            .collect();
    }
    let text = text_column(df, name)?;
    text.iter()
        .enumerate()
        .map(|(row, v)| match v.map(str::trim) {
            None | Some("") => Ok(None),
            Some(s) => s.parse().map(Some).map_err(|_| bad(row, s)),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashing in stretches gives each row the hash hashing the whole column gives it.
    #[test]
    fn key_hashes_in_stretches_equal_one_pass() {
        use polars::prelude::*;
        let n = 1001;
        let sku: Vec<Option<String>> = (0..n)
            .map(|i| (i % 17 != 0).then(|| format!("SKU-{i}")))
            .collect();
        let qty: Vec<i64> = (0..n as i64).map(|i| i % 5).collect();
        let df = DataFrame::new(
            n,
            vec![
                Column::new("sku".into(), sku),
                Column::new("qty".into(), qty),
            ],
        )
        .unwrap();
        let state = PlSeedableRandomStateQuality::default();
        let keys = ["sku".to_string(), "qty".to_string()];
        let mut whole = Vec::new();
        df.column("sku")
            .unwrap()
            .vec_hash(state.clone(), &mut whole)
            .unwrap();
        df.column("qty")
            .unwrap()
            .vec_hash_combine(state.clone(), &mut whole)
            .unwrap();
        assert_eq!(key_hashes(&df, &keys, &state).unwrap(), whole);
    }
}
