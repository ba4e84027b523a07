//! Settlement inputs in a run: the layout read into `settlement_lines` and
//! `settlement_summary` (both validated against a schema like any CSV), the footing policy, the
//! report's money of a settlement run, and the same on empty tables for `tallyman check`. The
//! tables derived after validation (`grouped`, `grouped_summary`, `journal`) are the pure
//! pipeline's (`pipeline::derive`).

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;
use rust_decimal::Decimal;

use super::tables::load_table;
use crate::config::settlement::{SettlementInput, Unfooted};
use crate::config::{InputFormat, Pipeline};
use crate::formats::csv::{Dialect, IfEmpty};
use crate::formats::settlement::{self, Components, LINE_COLUMNS, SUMMARY_COLUMNS};
use crate::frame::{decimal_column, text_column};
use crate::issue::{Issue, Severity};
use crate::report::model::{ComponentTotal, Deposit, SettlementMoney, VarianceTotal};
use crate::schema::table::FieldType;
use crate::schema::validate::{validate_frame, Validated};
use crate::schema::TableSchema;

/// The built-in schema of the table that is not the pipeline's input.
const LINES_SCHEMA: &str = include_str!("../../schemas/settlement_lines.v1.json");
const SUMMARY_SCHEMA: &str = include_str!("../../schemas/settlement_summary.v1.json");

fn builtin(name: &str) -> PolarsResult<TableSchema> {
    let text = match name {
        "settlement_lines" => LINES_SCHEMA,
        _ => SUMMARY_SCHEMA,
    };
    TableSchema::from_json(name, text).map_err(|e| polars_err!(ComputeError: "{}", e))
}

/// A settlement file read and validated.
pub struct Loaded {
    /// The pipeline's input table (`[input] table`), validated against its schema.
    pub validated: Validated,
    /// The other table (`settlement_summary` or `settlement_lines`), by name.
    pub other: (String, DataFrame),
    /// Layout problems: unmapped types, unreadable amounts, control totals.
    pub issues: Vec<Issue>,
    /// Why the file is refused, when it is.
    pub reject: Option<String>,
}

/// Whether `settlement_lines` can be validated against `schema` as built in memory
/// (`formats::settlement::read_lines_frame`) with the answer the rendered CSV would give:
/// quantity and source line are `integer` fields, the amount a `number` with no declared scale
/// or separators, and only the empty text is missing. Any other schema goes through the CSV.
fn typed_lines_fit(schema: &TableSchema) -> bool {
    let kind = |name: &str| schema.field(name).map(|f| &f.kind);
    schema.missing_values == [String::new()]
        && matches!(kind("quantity"), Some(FieldType::Integer))
        && matches!(kind("source_line"), Some(FieldType::Integer))
        && matches!(
            kind("amount"),
            Some(FieldType::Number {
                scale: None,
                decimal_char,
                group_char: None,
            }) if decimal_char.as_deref().is_none_or(|d| d == ".")
        )
}

/// `settlement_lines` validated from the typed frame, issues at the source line of each row
/// (the header's, at the first row's, as the rendered table's line 1 was mapped).
fn validate_lines(
    file: &str,
    lines: DataFrame,
    schema: &TableSchema,
    if_empty: IfEmpty,
    refs: &HashMap<String, DataFrame>,
) -> PolarsResult<Validated> {
    if lines.height() == 0 {
        // The empty-file rule and its message are the CSV loader's.
        let mut header = csv::Writer::from_writer(Vec::new());
        let _ = header.write_record(LINE_COLUMNS);
        let header = header.into_inner().unwrap_or_default();
        return load_table(file, &header, schema, &Dialect::default(), if_empty, refs);
    }
    let source: Vec<u64> = lines
        .column("source_line")?
        .i64()?
        .iter()
        .map(|l| l.unwrap_or(0) as u64)
        .collect();
    let header: Vec<String> = LINE_COLUMNS.iter().map(|c| c.to_string()).collect();
    let line_of = |row: usize| row as u64 + 2;
    let mut v = validate_frame(file, &header, lines, schema, refs, &line_of)?;
    point_at_source(&mut v, &source);
    Ok(v)
}

/// Lines of the rendered table mean nothing to the partner: point at the source line.
fn point_at_source(v: &mut Validated, source_lines: &[u64]) {
    for i in v.issues.iter_mut().chain(v.fatal.iter_mut()) {
        if let Some(line) = i.line {
            let row = (line as usize).saturating_sub(2);
            i.line = source_lines.get(row).copied().filter(|l| *l > 0);
        }
    }
}

/// Reads `bytes` as the pipeline's layout and validates the input table against `schema`.
pub fn load(
    file: &str,
    bytes: &[u8],
    s: &SettlementInput,
    schema: &TableSchema,
    if_empty: IfEmpty,
    refs: &HashMap<String, DataFrame>,
) -> PolarsResult<Loaded> {
    let components = Components::for_layout(s.layout, &s.components);
    let lines_schema = match s.table.as_str() {
        "settlement_lines" => schema.clone(),
        _ => builtin("settlement_lines")?,
    };
    // Lines are built as typed columns as they are read (a large file's lines are never all
    // held as `Line`s, nor rendered as text); a schema that needs the text gets the CSV.
    let (mut read, lines) = if typed_lines_fit(&lines_schema) {
        let (read, df) = settlement::read_lines_frame(
            file,
            s.layout,
            bytes,
            &components,
            &lines_schema.missing_values,
        )?;
        (read, Lines::Typed(df))
    } else {
        let (read, csv, sources) = settlement::read_lines_csv(file, s.layout, bytes, &components);
        (read, Lines::Csv(csv, sources))
    };
    let mut issues = std::mem::take(&mut read.issues);
    if s.unfooted == Unfooted::Warn {
        for i in issues.iter_mut().filter(|i| i.rule == "control-total") {
            i.severity = Severity::Warning;
        }
    }
    let unreadable = issues
        .iter()
        .filter(|i| i.severity == Severity::Error && i.rule != "control-total")
        .count();
    let unfooted = issues
        .iter()
        .find(|i| i.severity == Severity::Error && i.rule == "control-total");
    // A line that could not be read would leave every total wrong: the file is refused.
    let reject = if unreadable > 0 {
        Some(format!(
            "{unreadable} error(s) reading the {} settlement; the file is not processed",
            s.layout.name()
        ))
    } else {
        unfooted.map(|i| format!("{} (control-total)", i.message))
    };
    let summary_csv = read.summary_csv();
    let summary_sources: Vec<u64> = read.summaries.iter().map(|l| l.source_line).collect();
    drop(read);
    let load_lines = |schema: &TableSchema, if_empty, refs| match lines {
        Lines::Typed(df) => validate_lines(file, df, schema, if_empty, refs),
        Lines::Csv(csv, sources) => {
            let mut v = load_table(file, &csv, schema, &Dialect::default(), if_empty, refs)?;
            point_at_source(&mut v, &sources);
            Ok(v)
        }
    };
    let none = HashMap::new();
    let (validated, other_name, other) = match s.table.as_str() {
        "settlement_lines" => {
            let v = load_lines(schema, if_empty, refs)?;
            let other_schema = builtin("settlement_summary")?;
            let o = load_table(
                file,
                &summary_csv,
                &other_schema,
                &Dialect::default(),
                IfEmpty::Allow,
                &none,
            )?;
            (v, "settlement_summary", o)
        }
        _ => {
            let mut v = load_table(
                file,
                &summary_csv,
                schema,
                &Dialect::default(),
                if_empty,
                refs,
            )?;
            point_at_source(&mut v, &summary_sources);
            let o = load_lines(&lines_schema, IfEmpty::Allow, &none)?;
            (v, "settlement_lines", o)
        }
    };
    if let Some(f) = other.fatal.first() {
        polars_bail!(ComputeError: "the built-in {} table is unusable: {}", other_name, f);
    }
    Ok(Loaded {
        validated,
        other: (other_name.to_string(), other.good_rows()?),
        issues,
        reject,
    })
}

/// `settlement_lines` as read: typed columns, or (for a schema that needs the text) CSV with
/// each row's source line.
enum Lines {
    Typed(DataFrame),
    Csv(Vec<u8>, Vec<u64>),
}

fn texts(df: &DataFrame, name: &str) -> PolarsResult<Vec<String>> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").to_string())
        .collect())
}

fn decimal(s: &str) -> Decimal {
    s.parse().unwrap_or_default()
}

/// The report's money of a settlement run: deposits and footing (from `settlement_summary`),
/// totals per currency and component (from the lines), variance per status (from
/// `grouped_summary`). `None` for other pipelines.
pub fn money(
    p: &Pipeline,
    tables: &BTreeMap<String, DataFrame>,
) -> PolarsResult<Option<SettlementMoney>> {
    let InputFormat::Settlement(s) = &p.format else {
        return Ok(None);
    };
    let (lines, summary) = match s.table.as_str() {
        "settlement_lines" => ("input", "settlement_summary"),
        _ => ("settlement_lines", "input"),
    };
    let mut out = SettlementMoney::default();
    if let Some(df) = tables.get(summary) {
        let (id, cur, rep, comp, diff) = (
            texts(df, "settlement_id")?,
            texts(df, "currency")?,
            texts(df, "reported_total")?,
            texts(df, "computed_total")?,
            texts(df, "difference")?,
        );
        for i in 0..df.height() {
            let computed = decimal(&comp[i]);
            let deposit = match rep[i].as_str() {
                "" => computed,
                r => decimal(r),
            };
            out.deposits.push(Deposit {
                settlement_id: id[i].clone(),
                currency: cur[i].clone(),
                deposit,
                computed,
                difference: decimal(&diff[i]),
                foots: decimal(&diff[i]).is_zero(),
            });
        }
    }
    if let Some(df) = tables.get(lines) {
        let (cur, comp) = (text_column(df, "currency")?, text_column(df, "component")?);
        // The validated amount is a Decimal column; text that is no number counts as zero.
        let amounts = match decimal_column(df, "amount", &|_, _| polars_err!(ComputeError: "text"))
        {
            Ok(a) => a,
            Err(_) => texts(df, "amount")?
                .iter()
                .map(|a| Some(decimal(a)))
                .collect(),
        };
        let mut sums: PlHashMap<(&str, &str), Decimal> = PlHashMap::new();
        for ((c, k), a) in cur.iter().zip(comp.iter()).zip(&amounts) {
            *sums.entry((c.unwrap_or(""), k.unwrap_or(""))).or_default() += a.unwrap_or_default();
        }
        let by: BTreeMap<(String, String), Decimal> = sums
            .into_iter()
            .map(|((c, k), a)| ((c.to_string(), k.to_string()), a))
            .collect();
        out.components = by
            .into_iter()
            .map(|((currency, component), amount)| ComponentTotal {
                currency,
                component,
                amount,
            })
            .collect();
    }
    if let Some(df) = tables.get("grouped_summary") {
        let (st, cur, n, e, se, d) = (
            texts(df, "status")?,
            texts(df, "currency")?,
            texts(df, "count")?,
            texts(df, "expected")?,
            texts(df, "settled")?,
            texts(df, "difference")?,
        );
        for i in 0..df.height() {
            out.variance.push(VarianceTotal {
                status: st[i].clone(),
                currency: cur[i].clone(),
                count: n[i].parse().unwrap_or(0),
                expected: decimal(&e[i]),
                settled: decimal(&se[i]),
                difference: decimal(&d[i]),
            });
        }
    }
    Ok(Some(out))
}

/// Breaks read from the `grouped` table get what finance needs in the CSV: settled (partner)
/// and expected (ERP) beside the difference, the components, and the input file and first
/// line the order's lines came from.
pub fn detail_breaks(
    p: &Pipeline,
    spec: &crate::config::compile::BreaksTable,
    df: &DataFrame,
    file: &str,
    breaks: &mut [crate::report::model::Break],
) -> PolarsResult<()> {
    let needed = ["settled", "expected", "components", "first_line"];
    if p.group_reconcile.is_none() || needed.iter().any(|c| df.column(c).is_err()) {
        return Ok(());
    }
    let status = texts(df, &spec.status)?;
    let not_decimal = |_: usize, s: &str| polars_err!(ComputeError: "`{}` is not a decimal", s);
    let (settled, expected, components, first) = (
        decimal_column(df, "settled", &not_decimal)?,
        decimal_column(df, "expected", &not_decimal)?,
        text_column(df, "components")?,
        text_column(df, "first_line")?,
    );
    let rows = (0..df.height()).filter(|&r| !spec.ok.contains(&status[r]));
    for (b, row) in breaks.iter_mut().zip(rows) {
        if let Some(m) = b.measures.first_mut() {
            // amount_partner is what was settled, amount_erp what the ERP expected.
            m.name = "amount".into();
            m.partner = Some(settled[row].unwrap_or_default());
            m.erp = expected[row];
        }
        let components = components.get(row).unwrap_or("").to_string();
        b.keys.push(("components".into(), components));
        // An order nothing settled yet has no line in the file.
        let first = first.get(row).unwrap_or("");
        let from = if first.is_empty() { "" } else { file };
        b.keys.push(("source_file".into(), from.to_string()));
        b.keys.push(("source_line".into(), first.to_string()));
    }
    Ok(())
}

/// For `check`: the columns of a settlement input table, and the other table empty.
pub fn plan_columns(s: &SettlementInput) -> Vec<String> {
    match s.table.as_str() {
        "settlement_lines" => LINE_COLUMNS.iter().map(|c| c.to_string()).collect(),
        _ => SUMMARY_COLUMNS.iter().map(|c| c.to_string()).collect(),
    }
}

/// For `check`: the other settlement table, empty, then the derived tables.
pub fn plan_tables(p: &Pipeline, tables: &mut BTreeMap<String, DataFrame>) -> Result<(), String> {
    if let InputFormat::Settlement(s) = &p.format {
        let other = match s.table.as_str() {
            "settlement_lines" => "settlement_summary",
            _ => "settlement_lines",
        };
        let schema = builtin(other).map_err(|e| e.to_string())?;
        let mut header = csv::Writer::from_writer(Vec::new());
        let _ = header.write_record(schema.fields.iter().map(|f| f.name.as_str()));
        let header = header.into_inner().map_err(|e| e.to_string())?;
        let v = load_table(
            other,
            &header,
            &schema,
            &Dialect::default(),
            IfEmpty::Allow,
            &HashMap::new(),
        )
        .map_err(|e| e.to_string())?;
        tables.insert(other.into(), v.good_rows().map_err(|e| e.to_string())?);
    }
    crate::pipeline::derive(p, tables)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
