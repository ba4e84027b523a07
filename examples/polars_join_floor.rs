//! The floor of our own stack on the inventory bench: polars alone reading both CSV files and
//! doing the bare full outer join DuckDB does (same four counts), with no validation, archive,
//! ledger or output. bench/inventory_vs_duckdb.sh prints it beside Tallyman and DuckDB, so the
//! gap between Tallyman and polars (ours to close) is told apart from polars against DuckDB.
//! Run: `cargo run --release --example polars_join_floor DATA_DIR [in-memory]` (prints seconds
//! and counts; polars' streaming engine unless `in-memory` is given).

// The binary's allocator and purge setting, so the figure compares with `tallyman run`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use polars::prelude::*;

fn scan(path: &str) -> PolarsResult<LazyFrame> {
    LazyCsvReader::new(PlRefPath::from(path))
        .with_has_header(true)
        .finish()
}

fn main() -> PolarsResult<()> {
    tallyman::usage::tune_allocator();
    let dir = std::env::args()
        .nth(1)
        .expect("usage: polars_join_floor DATA_DIR");
    // The engine Tallyman's large joins use; `in-memory` as a second argument for the other.
    let engine = match std::env::args().nth(2).as_deref() {
        Some("in-memory") => Engine::InMemory,
        _ => Engine::Streaming,
    };
    let t = Instant::now();
    let erp = scan(&format!("{dir}/erp_inventory.csv"))?;
    let tpl = scan(&format!("{dir}/tpl_snapshot.csv"))?;
    let joined = erp.join(
        tpl,
        [col("sku"), col("location")],
        [col("item_id"), col("warehouse")],
        JoinArgs::new(JoinType::Full),
    );
    let both = col("sku").is_not_null().and(col("item_id").is_not_null());
    let counts = joined
        .select([
            both.clone()
                .and(col("on_hand").eq(col("qty_on_hand")))
                .sum()
                .alias("matched"),
            both.and(col("on_hand").neq(col("qty_on_hand")))
                .sum()
                .alias("mismatched"),
            col("item_id").is_null().sum().alias("only_erp"),
            col("sku").is_null().sum().alias("only_tpl"),
        ])
        .collect_with_engine(engine)?
        .unwrap_single();
    println!("{:.3}", t.elapsed().as_secs_f64());
    eprintln!("{counts}");
    Ok(())
}
