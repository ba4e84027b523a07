//! Collecting large joins with polars' streaming engine: it processes morsels on all cores and
//! keeps less in memory than the in-memory engine for join-heavy plans.

use polars::prelude::*;

/// Runs a lazy query on the streaming engine and returns its result. A plain lazy frame has
/// one sink, so the result is always a single frame (`unwrap_single` cannot fail here).
pub fn collect_streaming(lf: LazyFrame) -> PolarsResult<DataFrame> {
    Ok(lf.collect_with_engine(Engine::Streaming)?.unwrap_single())
}
