//! `tallyman schema apply RUN` / `tallyman schema apply PATCH_FILE --schema NAME`: applies a
//! JSON Patch (RFC 6902) to `schemas/<name>.json`, written atomically: the patch a run proposed
//! for a file whose header drifted from its schema (`schema.patch.json` in the run's folder),
//! or any patch file a person wrote. The patched schema must compile before it is written.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use tallyman::report::RunReport;
use tallyman::schema::drift;
use tallyman::store::files::{sha256_hex, write_atomic};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Apply the schema patch a run proposed (RUN), or a patch file to the schema `--schema NAME`.
    Apply {
        /// A run id whose report proposed a schema patch, or a JSON Patch file with --schema.
        target: String,
        /// The schema (`schemas/<NAME>.json`) a patch file applies to.
        #[arg(long)]
        schema: Option<String>,
    },
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    match args.action {
        Command::Apply { target, schema } => match schema {
            Some(name) => apply_file(home, Path::new(&target), &name),
            None => apply_run(home, &target),
        },
    }
}

/// What a run proposed: its schema, the patch file, the schema's hash then, and the rerun.
fn proposal(home: &Path, run: &str) -> Result<(String, PathBuf, String, RunReport)> {
    let h = super::home(home);
    let ledger = super::open_ledger(&h)?;
    let Some(archive) = ledger.run_archive(run)? else {
        bail!("run {run} is not in the ledger (or has no archive folder)");
    };
    let dir = h.root.join(archive);
    let path = dir.join(tallyman::runner::report::REPORT_JSON);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let report: RunReport =
        serde_json::from_slice(&bytes).with_context(|| format!("reading {}", path.display()))?;
    let Some(note) = report.schema_drift.clone() else {
        bail!("run {run} found no schema drift: there is no patch to apply");
    };
    let (Some(file), Some(sha)) = (note.patch_file.clone(), note.schema_sha256.clone()) else {
        bail!(
            "run {run} proposed no patch: {}",
            note.no_patch.unwrap_or_default()
        );
    };
    Ok((note.schema, h.root.join(file), sha, report))
}

fn apply_run(home: &Path, run: &str) -> Result<ExitCode> {
    let (schema, patch_path, sha, report) = proposal(home, run)?;
    let schema_path = schema_path(home, &schema)?;
    let current = std::fs::read(&schema_path)
        .with_context(|| format!("reading {}", schema_path.display()))?;
    // The patch addresses fields by position: on a schema edited since, it could rename the
    // wrong field. A person looks again instead.
    if sha256_hex(&current) != sha {
        bail!(
            "schemas/{schema}.json changed since run {run} proposed its patch; review {} against it and apply it with `tallyman schema apply PATCH_FILE --schema {schema}`",
            patch_path.display()
        );
    }
    let ops = write_patched(&schema, &schema_path, &current, &patch_path)?;
    println!("schemas/{schema}.json patched ({ops} operation(s) from run {run})");
    let code = check_after(home, &schema);
    if code == ExitCode::SUCCESS {
        println!(
            "rerun the file: tallyman rerun {} --run {run} --reason \"schema patched\"",
            report.pipeline
        );
    }
    Ok(code)
}

/// The pipelines checked as `tallyman check` does, once the schema is written: a renamed or
/// dropped column the pipeline names (reconcile, SQL) fails here, and the rerun would too.
/// Exit 1 then: the schema is patched, but a person must change the pipeline first.
fn check_after(home: &Path, schema: &str) -> ExitCode {
    let h = super::home(home);
    let Ok(config) = super::load_config(&h) else {
        eprintln!("the configuration no longer loads with schemas/{schema}.json patched: fix it before a rerun");
        return ExitCode::from(1);
    };
    let problems: Vec<String> = config
        .pipelines
        .iter()
        .filter(|(_, p)| p.schema.name == schema)
        .flat_map(|(id, p)| tallyman::runner::plan::plan(p, &format!("pipelines/{id}.toml")))
        .map(|e| e.to_string())
        .collect();
    if problems.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "{} problem(s) with schemas/{schema}.json patched (the pipeline still names a column the file no longer has?); change the pipeline, then rerun:",
        problems.len()
    );
    for e in &problems {
        eprintln!("  {e}");
    }
    ExitCode::from(1)
}

fn apply_file(home: &Path, patch_path: &Path, schema: &str) -> Result<ExitCode> {
    let schema_path = schema_path(home, schema)?;
    let current = std::fs::read(&schema_path)
        .with_context(|| format!("reading {}", schema_path.display()))?;
    let ops = write_patched(schema, &schema_path, &current, patch_path)?;
    println!("schemas/{schema}.json patched ({ops} operation(s))");
    Ok(check_after(home, schema))
}

/// `schemas/<name>.json`, for a name that is a plain file stem.
fn schema_path(home: &Path, name: &str) -> Result<PathBuf> {
    if name.is_empty() || name.contains('/') || name.contains('\\') || name.starts_with('.') {
        bail!("`{name}` is not a schema name (the file stem under schemas/, e.g. tpl_snapshot.v1)");
    }
    let path = home.join("schemas").join(format!("{name}.json"));
    if !path.is_file() {
        bail!("schemas/{name}.json does not exist");
    }
    Ok(path)
}

/// Applies the patch to the schema's text and writes the result in place of the file,
/// atomically (temp, fsync, rename, fsync the folder). Returns the number of operations.
fn write_patched(
    name: &str,
    schema_path: &Path,
    current: &[u8],
    patch_path: &Path,
) -> Result<usize> {
    let doc: Value = serde_json::from_slice(current)
        .with_context(|| format!("reading {}", schema_path.display()))?;
    let text =
        std::fs::read(patch_path).with_context(|| format!("reading {}", patch_path.display()))?;
    let patch: Value = serde_json::from_slice(&text)
        .with_context(|| format!("reading {}", patch_path.display()))?;
    let patched = drift::apply(name, &doc, &patch)
        .with_context(|| format!("applying {} to schemas/{name}.json", patch_path.display()))?;
    let dir = schema_path.parent().unwrap_or(Path::new("."));
    write_atomic(
        dir,
        &format!("{name}.json"),
        drift::render_schema(&patched).as_bytes(),
    )?;
    Ok(patch.as_array().map_or(0, Vec::len))
}
