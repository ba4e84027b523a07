//! `tallyman validate FILE --schema SCHEMA [--json]`: one file against one schema, no pipeline.
//!
//! The JSON form is stable (documented in README.md, "validate --json"):
//! `{"file", "schema", "valid", "rows", "issues": [{"file","line","column","value","rule","severity","message"}]}`.
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use tallyman::formats::csv::{Dialect, IfEmpty};
use tallyman::issue::Severity;
use tallyman::runner::tables::load_table;
use tallyman::schema::{drift, TableSchema};

#[derive(clap::Args)]
pub struct Args {
    pub file: PathBuf,
    /// A Table Schema JSON file.
    #[arg(long)]
    pub schema: PathBuf,
    /// Reference tables for foreign keys: NAME=CSV:SCHEMA.json (repeatable).
    #[arg(long = "reference")]
    pub references: Vec<String>,
    /// Field delimiter.
    #[arg(long, default_value = ",")]
    pub delimiter: String,
    /// Character encoding label (utf-8, latin1, windows-1252...).
    #[arg(long, default_value = "utf-8")]
    pub encoding: String,
    /// The file has no header line.
    #[arg(long)]
    pub no_header: bool,
    /// A file with no data row (0 bytes, or a header alone) is valid; by default it is an
    /// `empty-file` error, as in a pipeline without `allow_empty = true`.
    #[arg(long)]
    pub allow_empty: bool,
    #[arg(long)]
    pub json: bool,
}

/// A header the schema refused, as drift: the changes and the JSON Patch of the schema file
/// (`schema::drift`), as a pipeline's run proposes them.
fn drift_of(
    path: &std::path::Path,
    schema: &TableSchema,
    v: &tallyman::schema::validate::Validated,
) -> Result<Option<(Vec<String>, serde_json::Value)>> {
    if v.header.is_empty() || !v.fatal.iter().any(|i| i.rule == "header") {
        return Ok(None);
    }
    let fields: Vec<String> = schema.fields.iter().map(|f| f.name.clone()).collect();
    let d = drift::compare(&fields, &v.header);
    if d.is_empty() {
        return Ok(None);
    }
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let doc: serde_json::Value =
        serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?;
    let patch = drift::patch(&d, &doc)?;
    Ok(Some((
        d.changes.iter().map(drift::Change::describe).collect(),
        patch,
    )))
}

fn schema_file(path: &PathBuf) -> Result<TableSchema> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(TableSchema::from_json(&name, &text)?)
}

pub fn run(args: Args) -> Result<ExitCode> {
    let schema = schema_file(&args.schema)?;
    let dialect = Dialect {
        delimiter: args.delimiter.clone(),
        encoding: args.encoding.clone(),
        header: !args.no_header,
        ..Dialect::default()
    };
    let problems = dialect.problems();
    if !problems.is_empty() {
        return Err(anyhow!(problems.join("; ")));
    }
    let if_empty = IfEmpty::from_allow(args.allow_empty);
    let mut refs = HashMap::new();
    for r in &args.references {
        let (name, rest) = r
            .split_once('=')
            .ok_or_else(|| anyhow!("--reference {r}: expected NAME=CSV:SCHEMA.json"))?;
        let (csv, schema) = rest
            .split_once(':')
            .ok_or_else(|| anyhow!("--reference {r}: expected NAME=CSV:SCHEMA.json"))?;
        let s = schema_file(&PathBuf::from(schema))?;
        let bytes = std::fs::read(csv).with_context(|| format!("reading {csv}"))?;
        let v = load_table(
            csv,
            &bytes,
            &s,
            &Dialect::default(),
            if_empty,
            &HashMap::new(),
        )?;
        refs.insert(name.to_string(), v.good_rows()?);
    }
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let name = args
        .file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let v = load_table(&name, &bytes, &schema, &dialect, if_empty, &refs)?;
    let mut issues = v.fatal.clone();
    issues.extend(v.issues.iter().cloned());
    let valid = !issues.iter().any(|i| i.severity == Severity::Error);
    let drift = if args.no_header {
        None
    } else {
        drift_of(&args.schema, &schema, &v)?
    };
    if args.json {
        let mut out = serde_json::json!({
            "file": args.file.display().to_string(),
            "schema": schema.name,
            "valid": valid,
            "rows": v.rows(),
            "issues": issues,
        });
        if let Some((changes, patch)) = &drift {
            out["drift"] = serde_json::json!({"changes": changes, "patch": patch});
        }
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for i in &issues {
            println!("{i}");
        }
        if let Some((changes, patch)) = &drift {
            println!("schema drift:");
            for c in changes {
                println!("  {c}");
            }
            println!(
                "proposed patch of {} (save it, review it, then `tallyman schema apply PATCH_FILE --schema {}`):",
                args.schema.display(),
                schema.name
            );
            print!("{}", drift::render_patch(patch));
        }
        println!(
            "{}: {} rows, {} issue(s): {}",
            name,
            v.rows(),
            issues.len(),
            if valid { "valid" } else { "INVALID" }
        );
    }
    Ok(if valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
