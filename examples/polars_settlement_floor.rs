//! The floor of our own stack on the settlement bench: polars alone reading the Amazon V2 TSV
//! and the ERP extract, mapping components, grouping per order and currency with conditional
//! sums (exact Decimal), the full join with statuses, and writing the grouped table and the
//! journal as CSV, as DuckDB's script does, with no validation, footing, archive, ledger or
//! report. bench/settlement_vs_duckdb.sh prints it as "polars alone", so the gap between
//! Tallyman and polars (ours to close) is told apart from polars against DuckDB.
//! Run: `cargo run --release --example polars_settlement_floor DATA_DIR OUT_DIR` (prints
//! seconds).

// The binary's allocator and purge setting, so the figure compares with `tallyman run`.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use polars::prelude::*;

fn one(dir: &str, pattern: &str) -> String {
    let found = std::fs::read_dir(dir)
        .expect("DATA_DIR")
        .flatten()
        .map(|e| e.path().to_string_lossy().to_string())
        .find(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            name.starts_with(pattern)
        });
    found.unwrap_or_else(|| panic!("no {pattern}* in {dir}"))
}

fn write(df: &mut DataFrame, path: &str) -> PolarsResult<()> {
    let mut f = std::fs::File::create(path)?;
    CsvWriter::new(&mut f).finish(df)
}

fn main() -> PolarsResult<()> {
    tallyman::usage::tune_allocator();
    let mut args = std::env::args().skip(1);
    let (dir, out) = (
        args.next().expect("DATA_DIR"),
        args.next().expect("OUT_DIR"),
    );
    let t = Instant::now();
    let money = DataType::Decimal(18, 2);
    let tsv = LazyCsvReader::new(PlRefPath::from(one(&dir, "settlement_").as_str()))
        .with_has_header(true)
        .with_separator(b'\t')
        .with_quote_char(None)
        .with_infer_schema_length(Some(0))
        .finish()?;
    let erp = LazyCsvReader::new(PlRefPath::from(one(&dir, "erp_orders_").as_str()))
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .finish()?
        .select([
            col("order_id"),
            col("expected_amount").cast(money.clone()),
            col("currency").alias("erp_currency"),
        ]);
    let (ty, at, ad) = (
        col("transaction-type"),
        col("amount-type"),
        col("amount-description"),
    );
    let component = when(
        ty.clone()
            .eq(lit("Refund"))
            .and(at.clone().eq(lit("ItemPrice"))),
    )
    .then(lit("refund"))
    .when(
        at.clone()
            .eq(lit("ItemPrice"))
            .and(ad.clone().eq(lit("Principal"))),
    )
    .then(lit("principal"))
    .when(
        at.clone()
            .eq(lit("ItemPrice"))
            .and(ad.clone().eq(lit("Tax"))),
    )
    .then(lit("tax"))
    .when(at.clone().eq(lit("ItemFees")).and(ad.eq(lit("Commission"))))
    .then(lit("marketplace_fee"))
    .when(at.eq(lit("ItemFees")))
    .then(lit("fulfilment_fee"))
    .otherwise(lit("other"));
    let lines = tsv
        .filter(ty.is_not_null())
        .select([
            col("settlement-id").alias("settlement_id"),
            col("order-id").alias("order_ref"),
            lit("USD").alias("currency"),
            col("amount").cast(money.clone()),
            component.alias("component"),
        ])
        .collect()?;
    let c =
        |v: &[&str]| col("component").is_in(lit(Series::new("c".into(), v)).implode(false), false);
    let sum_if = |m: Expr, name: &str| {
        when(m)
            .then(col("amount"))
            .otherwise(lit(NULL).cast(money.clone()))
            .sum()
            .alias(name)
    };
    let g = lines
        .clone()
        .lazy()
        .group_by([col("order_ref"), col("currency")])
        .agg([
            len().alias("lines"),
            col("amount").sum().alias("settled"),
            sum_if(c(&["principal", "tax"]), "sales"),
            sum_if(c(&["refund"]), "refunds"),
            sum_if(c(&["marketplace_fee", "fulfilment_fee"]), "fees"),
        ]);
    let zero = || lit(0).cast(money.clone());
    let sales = col("sales").fill_null(zero());
    let status = when(col("order_ref").is_null())
        .then(lit("awaiting_settlement"))
        .when(col("order_id").is_null())
        .then(lit("unknown_order"))
        .when(col("currency").neq(col("erp_currency")))
        .then(lit("currency_mismatch"))
        .when(col("refunds").fill_null(zero()).neq(zero()))
        .then(lit("refunded"))
        .when(
            sales
                .clone()
                .eq(zero())
                .and(col("fees").fill_null(zero()).neq(zero())),
        )
        .then(lit("fees_only"))
        .when(sales.clone().eq(col("expected_amount")))
        .then(lit("paid"))
        .when(sales.lt(col("expected_amount")))
        .then(lit("short_paid"))
        .otherwise(lit("over_paid"));
    let mut grouped = g
        .join(
            erp,
            [col("order_ref")],
            [col("order_id")],
            JoinArgs::new(JoinType::Full),
        )
        .select([
            coalesce(&[col("order_ref"), col("order_id")]).alias("order_ref"),
            status.alias("status"),
            col("settled").fill_null(zero()),
            col("expected_amount").alias("expected"),
        ])
        .collect_with_engine(Engine::Streaming)?
        .unwrap_single();
    write(&mut grouped, &format!("{out}/grouped.csv"))?;
    let mut journal = lines
        .lazy()
        .group_by([col("settlement_id"), col("currency"), col("component")])
        .agg([col("amount").sum()])
        .sort(
            ["settlement_id", "currency", "component"],
            Default::default(),
        )
        .collect()?;
    write(&mut journal, &format!("{out}/journal.csv"))?;
    let mut summary = grouped
        .lazy()
        .group_by([col("status")])
        .agg([len().alias("count"), col("settled").sum()])
        .sort(["status"], Default::default())
        .collect()?;
    write(&mut summary, &format!("{out}/summary.csv"))?;
    println!("{:.3}", t.elapsed().as_secs_f64());
    Ok(())
}
