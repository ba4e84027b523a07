//! Loading a CSV table from bytes: structure check, then schema validation (shared by the
//! partner file, the ERP extract, reference tables and `tallyman validate`).

use std::collections::HashMap;

use polars::prelude::*;

use crate::formats::csv::{check_structure, Dialect};
use crate::schema::validate::{validate_csv, Validated};
use crate::schema::TableSchema;

/// Structure-checks and validates `bytes` against `schema`.
pub fn load_table(
    name: &str,
    bytes: &[u8],
    schema: &TableSchema,
    dialect: &Dialect,
    references: &HashMap<String, DataFrame>,
) -> PolarsResult<Validated> {
    let started = std::time::Instant::now();
    let structured = check_structure(name, bytes, dialect);
    tracing::debug!(
        file = name,
        rows = structured.rows,
        "structure checked in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    validate_csv(name, &structured, schema, references)
}

/// Renders a table as CSV bytes (header included), sorted by `order_by` when given so that
/// a rerun of the same inputs gives byte-identical files.
pub fn to_csv(df: &DataFrame, order_by: &[String]) -> PolarsResult<Vec<u8>> {
    let mut df = if order_by.is_empty() {
        df.clone()
    } else {
        df.sort(
            order_by.to_vec(),
            SortMultipleOptions::default().with_maintain_order(true),
        )?
    };
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf)
        .include_header(true)
        .finish(&mut df)?;
    Ok(buf)
}

/// The issues of a run as CSV (keys first: file, line, column), for the archive.
pub fn issues_csv(issues: &[crate::issue::Issue]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "file", "line", "column", "value", "rule", "severity", "message",
    ]);
    for i in issues {
        let line = i.line.map(|l| l.to_string()).unwrap_or_default();
        let _ = w.write_record([
            i.file.as_str(),
            line.as_str(),
            i.column.as_deref().unwrap_or(""),
            &neutralise(i.value.as_deref().unwrap_or("")),
            i.rule.as_str(),
            i.severity.as_str(),
            &neutralise(&i.message),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

/// Text that a spreadsheet would run as a formula is prefixed with a quote (OWASP CSV injection).
fn neutralise(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// An X12 input: the envelope problems as issues, and the named mapped table rendered as CSV
/// (so it is validated exactly like a CSV file). `None` when the interchange holds no such rows.
pub fn x12_input(
    file: &str,
    bytes: &[u8],
    table: &str,
) -> (Option<Vec<u8>>, Vec<crate::issue::Issue>) {
    use crate::formats::x12;
    let parsed = x12::parse(bytes);
    let issues = x12::to_issues(file, bytes, &parsed.problems);
    let Some(t) = x12::map_tables(&parsed)
        .into_iter()
        .find(|t| t.name == table)
    else {
        return (None, issues);
    };
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record(t.columns.iter().map(|c| c.name.as_str()));
    let rows = t.columns.first().map_or(0, |c| c.values.len());
    for r in 0..rows {
        let _ = w.write_record(
            t.columns
                .iter()
                .map(|c| c.values.get(r).cloned().flatten().unwrap_or_default()),
        );
    }
    (w.into_inner().ok(), issues)
}
