use polars::prelude::*;
use std::io::Cursor;
use std::sync::Arc;
fn main() -> PolarsResult<()> {
    let data = b"a,b,c,d\nx,1,1.25,2026-01-02\ny,zz,2.5,bad\nz,,-3.125,\n";
    let mut schema = Schema::default();
    schema.with_column("a".into(), DataType::String);
    schema.with_column("b".into(), DataType::Int64);
    schema.with_column("c".into(), DataType::String);
    schema.with_column("d".into(), DataType::String);
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_schema(Some(Arc::new(schema)))
        .with_ignore_errors(true)
        .into_reader_with_file_handle(Cursor::new(&data[..]))
        .finish()?;
    println!("{df}");
    let out = df
        .clone()
        .lazy()
        .with_columns([
            col("c").cast(DataType::Decimal(38, 2)).alias("c_dec2"),
            col("c")
                .strict_cast(DataType::Decimal(38, 4))
                .alias("c_dec4"),
            col("d")
                .str()
                .to_date(StrptimeOptions {
                    format: Some("%Y-%m-%d".into()),
                    strict: false,
                    exact: true,
                    cache: false,
                })
                .alias("d_date"),
        ])
        .collect()?;
    println!("{out}");
    let mut ctx = polars::sql::SQLContext::new();
    ctx.register("t", out.lazy());
    let r = ctx
        .execute("SELECT a, GREATEST(b - 5, 0) AS g, c_dec4 * 2 AS x FROM t ORDER BY a")?
        .collect()?;
    println!("{r}");
    Ok(())
}
