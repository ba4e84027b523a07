//! Configuration: every section type as written (serde, `deny_unknown_fields`) and compiled,
//! `pipelines/*.toml`, `schemas/*.json` and `tallyman.toml` read once by `load` into one
//! `Config`. Imports no edge module: the edge imports its section types from here. Pure apart
//! from `load` (and `schemas::load_dir`, `mail::load`), which read the files, and the folder
//! existence checks of `compile`.

pub mod catalog;
pub mod compile;
pub mod console;
pub mod expected;
mod input;
pub mod ledger;
pub mod ledger_tls;
pub mod mail;
pub mod open_items;
pub mod orders;
mod outputs;
pub mod pipeline;
pub mod raw;
mod reconcile;
pub mod report;
pub mod returns;
pub mod schedule;
pub mod schemas;
pub mod settlement;
pub mod sftp;
pub mod source;
mod tables;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::engine::spec::{ComparePair, Reconcile, Transform};
pub use compile::compile;
pub use mail::{MailSettings, GLOBAL_FILE};
pub use pipeline::{
    business_date, BreaksTable, BusinessDateRule, Complete, Control, Erp, Home, InputFormat,
    OnError, OnRerun, Output, OutputFormat, Pipeline, TableFile, X12Document, X12Party,
};
pub use source::{DuplicateRule, SettlePolicy, Source};

/// One configuration problem: which file, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {why}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub why: String,
}

/// Everything a home is configured with, compiled once: the pipelines and the mail settings of
/// `tallyman.toml`. `serve` compiles a new one on SIGHUP.
#[derive(Debug, Clone)]
pub struct Config {
    pub pipelines: BTreeMap<String, Pipeline>,
    /// `tallyman.toml [mail]` (the spool defaults when it says nothing); relative paths are
    /// already taken from the home folder.
    pub mail: MailSettings,
    /// `tallyman.toml [ledger]`: SQLite in the home unless it names PostgreSQL.
    pub ledger: ledger::LedgerBackend,
}

/// Reads and compiles every `pipelines/*.toml`, `schemas/*.json` and `tallyman.toml` of a home
/// folder, collecting every problem of every file before returning.
pub fn load(home: &Home) -> Result<Config, Vec<ConfigError>> {
    // The valid schemas are used even when others are broken, so that each pipeline's
    // problems are its own and not a cascade of "schema not found".
    let (schemas, mut errors) = schemas::load_dir(&home.root.join("schemas"));
    let global = mail::read_global(home)
        .map_err(|mut es| errors.append(&mut es))
        .ok();
    let (mail, ledger) = match global {
        Some(g) => (
            mail::compile_mail(home, g.mail)
                .map_err(|mut es| errors.append(&mut es))
                .ok(),
            ledger::compile_global(home, g.ledger.as_ref())
                .map_err(|mut es| errors.append(&mut es))
                .ok(),
        ),
        None => (None, None),
    };
    let mut pipelines = BTreeMap::new();
    for path in pipeline_files(&home.root.join("pipelines"), &mut errors) {
        let id = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let shown = format!("pipelines/{id}.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                errors.push(ConfigError {
                    file: shown,
                    key: "-".into(),
                    why: e.to_string(),
                });
                continue;
            }
        };
        let raw: raw::PipelineRaw = match toml::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                errors.push(toml_problem(&shown, &text, &e));
                continue;
            }
        };
        match compile(&id, &shown, raw, &schemas, home, &text) {
            Ok(p) => {
                pipelines.insert(id, p);
            }
            Err(mut es) => errors.append(&mut es),
        }
    }
    match (mail, ledger) {
        (Some(mail), Some(ledger)) if errors.is_empty() => Ok(Config {
            pipelines,
            mail,
            ledger,
        }),
        _ => Err(errors),
    }
}

/// Reads and compiles `tallyman.toml` alone, for the commands that need no pipeline
/// (`tallyman mail`): a broken pipeline file must not stop the mail queue.
pub fn load_global(home: &Home) -> Result<MailSettings, Vec<ConfigError>> {
    mail::load(home)
}

/// Reads and compiles `tallyman.toml`'s `[ledger]` alone, for the commands that open the
/// ledger without running pipelines (`tallyman ledger`, `runs`, `breaks`, ...).
pub fn load_ledger(home: &Home) -> Result<ledger::LedgerBackend, Vec<ConfigError>> {
    let global = mail::read_global(home)?;
    ledger::compile_global(home, global.ledger.as_ref())
}

/// A TOML syntax or shape error, with the line it is on.
fn toml_problem(file: &str, text: &str, e: &toml::de::Error) -> ConfigError {
    let line = e
        .span()
        .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
    ConfigError {
        file: file.into(),
        key: line.map_or("-".into(), |l| format!("line {l}")),
        why: e.message().to_string(),
    }
}

fn pipeline_files(dir: &Path, errors: &mut Vec<ConfigError>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("toml"))
            .collect(),
        Err(e) => {
            errors.push(ConfigError {
                file: dir.display().to_string(),
                key: "-".into(),
                why: format!("cannot read the pipelines folder: {e}"),
            });
            Vec::new()
        }
    };
    out.sort();
    out
}
