//! SQL transforms over named tables with polars SQL (pure: DataFrames in, DataFrames out).

use std::collections::BTreeMap;

use polars::prelude::*;
use polars::sql::SQLContext;

use super::spec::Transform;

/// Runs each transform in order; each sees every table given plus the earlier transforms'
/// results by name. Returns the new tables.
pub fn run_transforms(
    tables: &BTreeMap<String, DataFrame>,
    transforms: &[Transform],
) -> Result<BTreeMap<String, DataFrame>, TransformError> {
    let mut ctx = SQLContext::new();
    for (name, df) in tables {
        ctx.register(name, df.clone().lazy());
    }
    let mut out = BTreeMap::new();
    for t in transforms {
        let df = ctx
            .execute(&t.sql)
            .and_then(crate::frame::collect_streaming)
            .map_err(|e| TransformError {
                transform: t.name.clone(),
                message: e.to_string(),
            })?;
        ctx.register(&t.name, df.clone().lazy());
        out.insert(t.name.clone(), df);
    }
    Ok(out)
}

/// A transform's SQL failed (a configuration problem surfaced at run time).
#[derive(Debug, thiserror::Error)]
#[error("transform `{transform}`: {message}")]
pub struct TransformError {
    pub transform: String,
    pub message: String,
}
