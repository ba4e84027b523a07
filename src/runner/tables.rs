//! Loading a CSV table from bytes: structure check, then schema validation (shared by the
//! partner file, the ERP extract, reference tables and `tallyman validate`).

use std::collections::HashMap;

use polars::prelude::*;

use crate::config::InputFormat;
use crate::formats::column::Column;
use crate::formats::csv::{check_structure, Dialect, IfEmpty, Structured};
use crate::formats::csv_safe::{safe_cell, ColumnKind};
use crate::formats::table::Table;
use crate::issue::Issue;
use crate::schema::validate::{validate_csv_then, Validated};
use crate::schema::TableSchema;

/// Structure-checks and validates `bytes` against `schema`; a file with no data row is an
/// `empty-file` problem unless `if_empty` allows it.
pub fn load_table(
    name: &str,
    bytes: &[u8],
    schema: &TableSchema,
    dialect: &Dialect,
    if_empty: IfEmpty,
    references: &HashMap<String, DataFrame>,
) -> PolarsResult<Validated> {
    load_table_then(name, bytes, schema, dialect, if_empty, references, &|| {})
}

/// [`load_table`], calling `parsed` once the bytes are parsed into columns (see
/// `validate_csv_then`).
pub fn load_table_then(
    name: &str,
    bytes: &[u8],
    schema: &TableSchema,
    dialect: &Dialect,
    if_empty: IfEmpty,
    references: &HashMap<String, DataFrame>,
    parsed: &dyn Fn(),
) -> PolarsResult<Validated> {
    let started = std::time::Instant::now();
    let mut structured = check_structure(name, bytes, dialect);
    apply_if_empty(name, &mut structured, schema, if_empty);
    tracing::debug!(
        file = name,
        rows = structured.rows,
        "structure checked in {:.2}s",
        started.elapsed().as_secs_f64()
    );
    validate_csv_then(name, &structured, schema, references, parsed)
}

/// The pipeline's rule for a file with no data row, applied to the structure pass's outcome:
/// refused, it becomes the file's fatal `empty-file` problem; allowed, an empty table (a file
/// of 0 bytes has no header to check, so it takes the schema's columns).
pub fn apply_if_empty(name: &str, s: &mut Structured<'_>, schema: &TableSchema, if_empty: IfEmpty) {
    if !s.is_empty() {
        return;
    }
    match if_empty {
        IfEmpty::Allow if s.header.is_empty() => {
            s.header = schema.fields.iter().map(|f| f.name.clone()).collect();
        }
        IfEmpty::Allow => {}
        IfEmpty::Refuse => {
            let what = match s.header.is_empty() {
                true => "the file is empty (no header, no data rows)",
                false => "the file has a header but no data rows",
            };
            s.fatal = Some(Issue::error(
                name,
                "empty-file",
                format!("{what}; empty files are refused unless allowed (allow_empty = true)"),
            ));
        }
    }
}

/// Rows polars serializes per batch (its default is 1024): the 5M-row ATP feed took 0.45-0.6 s
/// with 1024, 0.36-0.37 s with 8192 (4096: 0.39-0.45, 32768: 0.39-0.47).
const WRITE_BATCH_ROWS: std::num::NonZeroUsize = match std::num::NonZeroUsize::new(8192) {
    Some(n) => n,
    None => std::num::NonZeroUsize::MIN,
};

/// Renders a table as CSV (header included) into `w` as it goes (a large output is never held
/// whole), sorted by `order_by` when given so that a rerun of the same inputs gives
/// byte-identical files.
pub fn write_csv(
    df: &DataFrame,
    order_by: &[String],
    w: &mut dyn std::io::Write,
) -> PolarsResult<()> {
    let mut df = sorted(df, order_by)?;
    CsvWriter::new(w)
        .include_header(true)
        .with_batch_size(WRITE_BATCH_ROWS)
        .finish(&mut df)
}

/// `df` in `order_by` order (stable), or as it is.
fn sorted(df: &DataFrame, order_by: &[String]) -> PolarsResult<DataFrame> {
    if order_by.is_empty() {
        return Ok(df.clone());
    }
    df.sort(
        order_by.to_vec(),
        SortMultipleOptions::default().with_maintain_order(true),
    )
}

/// A table as text columns (the X12 writers' input), sorted by `order_by` when given.
pub fn to_table(df: &DataFrame, order_by: &[String]) -> PolarsResult<Table> {
    let df = sorted(df, order_by)?;
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        let text = c.cast(&DataType::String)?;
        columns.push(Column::from_values(c.name(), text.str()?.iter()));
    }
    Ok(Table {
        name: String::new(),
        columns,
    })
}

/// The issues of a run as CSV (keys first: file, line, column), for the archive; partner text
/// is escaped like the report's CSV (`formats::csv_safe`), as people open both in spreadsheets.
pub fn issues_csv(issues: &[crate::issue::Issue]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "file", "line", "column", "value", "rule", "severity", "message",
    ])?;
    for i in issues {
        let line = i.line.map(|l| l.to_string()).unwrap_or_default();
        w.write_record([
            i.file.as_str(),
            line.as_str(),
            i.column.as_deref().unwrap_or(""),
            &safe_cell(i.value.as_deref().unwrap_or(""), ColumnKind::Text),
            i.rule.as_str(),
            i.severity.as_str(),
            &safe_cell(&i.message, ColumnKind::Text),
        ])?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// An X12, EDIFACT or XML input, parsed once: its problems, its mapped tables, and (X12) the
/// interchanges the acknowledgements and the duplicate check read.
pub enum Document<'a> {
    X12(crate::formats::x12::Parsed<'a>),
    Edifact(crate::formats::edifact::Parsed<'a>),
    Xml(Box<crate::formats::xml::Parsed>),
}

impl<'a> Document<'a> {
    /// `None` for CSV inputs.
    pub fn parse(format: &InputFormat, bytes: &'a [u8]) -> Option<Document<'a>> {
        use crate::formats::{edifact, x12, xml};
        match format {
            InputFormat::Csv | InputFormat::Settlement(_) => None,
            InputFormat::X12 { .. } => Some(Document::X12(x12::parse(bytes))),
            InputFormat::Edifact { .. } => Some(Document::Edifact(edifact::parse(bytes))),
            InputFormat::Xml { .. } => Some(Document::Xml(Box::new(xml::parse(bytes)))),
        }
    }

    /// Envelope or document problems as issues of `file` (`bytes` are the parsed ones).
    pub fn issues(&self, file: &str, bytes: &[u8]) -> Vec<crate::issue::Issue> {
        use crate::formats::{edifact, x12, xml};
        match self {
            Document::X12(p) => x12::to_issues(file, bytes, &p.problems),
            Document::Edifact(p) => edifact::to_issues(file, bytes, &p.problems),
            Document::Xml(p) => xml::to_issues(file, &p.problems),
        }
    }

    /// The mapped table `table` rendered as CSV (so it is validated exactly like a CSV file);
    /// `None` when the document holds no such rows.
    pub fn table_csv(&self, table: &str) -> Option<Result<Vec<u8>, csv::Error>> {
        Some(table_bytes(&self.table(table)?))
    }

    /// The mapped table `table` (`None` when the document holds no such rows).
    pub fn table(&self, table: &str) -> Option<Table> {
        use crate::formats::{edifact, x12, xml};
        Some(match self {
            // Only the sets behind this table are mapped (X12 files can be large).
            Document::X12(p) => x12::map_table(p, table)?,
            Document::Edifact(p) => edifact::map_tables(p)
                .into_iter()
                .find(|t| t.name == table)?,
            Document::Xml(p) => xml::map_tables(p).into_iter().find(|t| t.name == table)?,
        })
    }
}

/// A mapped table as CSV bytes (header first).
fn table_bytes(t: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(t.columns.iter().map(|c| c.name.as_str()))?;
    for r in 0..t.rows() {
        w.write_record(t.columns.iter().map(|c| c.get(r).unwrap_or_default()))?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}
