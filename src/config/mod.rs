//! Pipeline configuration: serde types as written (`raw`), compiled into validated `Pipeline`s
//! (`compile`). Pure apart from `load_dir`, which only reads the files it is pointed at.

pub mod compile;
pub mod raw;
pub mod settlement;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use compile::{
    compile, BusinessDateRule, ComparePair, Complete, Control, Erp, Home, InputFormat, OnError,
    OnRerun, Output, OutputFormat, Pipeline, Reconcile, Source, TableFile, Transform, X12Document,
    X12Party,
};

/// One configuration problem: which file, which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {why}")]
pub struct ConfigError {
    pub file: String,
    pub key: String,
    pub why: String,
}

/// Reads and compiles every `pipelines/*.toml` of a home folder, collecting every problem of
/// every file before returning.
pub fn load(home: &Home) -> Result<BTreeMap<String, Pipeline>, Vec<ConfigError>> {
    let mut errors = Vec::new();
    // The valid schemas are used even when others are broken, so that each pipeline's
    // problems are its own and not a cascade of "schema not found".
    let (schemas, schema_errors) = crate::schema::table::load_dir(&home.root.join("schemas"));
    for e in schema_errors {
        errors.push(ConfigError {
            file: "schemas/".into(),
            key: "schema".into(),
            why: e.to_string(),
        });
    }
    if let Err(mut es) = load_mail(home) {
        errors.append(&mut es);
    }
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
                let line = e
                    .span()
                    .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
                errors.push(ConfigError {
                    file: shown,
                    key: line.map_or("-".into(), |l| format!("line {l}")),
                    why: e.message().to_string(),
                });
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
    if errors.is_empty() {
        Ok(pipelines)
    } else {
        Err(errors)
    }
}

/// The home's global settings file.
pub const GLOBAL_FILE: &str = "tallyman.toml";

/// Mail settings used when `tallyman.toml` or its `[mail]` section is absent: reports are
/// spooled as `.eml` files into `outbox/mail/`.
pub const DEFAULT_MAIL: &str = "from = \"Tallyman <tallyman@localhost>\"\n";

/// `tallyman.toml` as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalRaw {
    pub mail: Option<crate::report::MailRaw>,
}

/// Reads `tallyman.toml` (optional) and compiles its `[mail]` section; relative `spool_dir` and
/// `ca_file` are taken from the home folder. Every problem names the file and key.
pub fn load_mail(home: &Home) -> Result<crate::report::MailSettings, Vec<ConfigError>> {
    let path = home.root.join(GLOBAL_FILE);
    let problem = |key: String, why: String| ConfigError {
        file: GLOBAL_FILE.into(),
        key,
        why,
    };
    let raw = match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(vec![problem("-".into(), e.to_string())]),
        Ok(text) => match toml::from_str::<GlobalRaw>(&text) {
            Ok(g) => g.mail,
            Err(e) => {
                let line = e
                    .span()
                    .map(|s| 1 + text[..s.start.min(text.len())].matches('\n').count());
                return Err(vec![problem(
                    line.map_or("-".into(), |l| format!("line {l}")),
                    e.message().to_string(),
                )]);
            }
        },
    };
    let raw = match raw {
        Some(r) => r,
        None => {
            toml::from_str(DEFAULT_MAIL).map_err(|e| vec![problem("mail".into(), e.to_string())])?
        }
    };
    let mut settings = raw.compile().map_err(|es| {
        es.into_iter()
            .map(|e| problem(e.key, e.why))
            .collect::<Vec<_>>()
    })?;
    settings.spool_dir = home.root.join(&settings.spool_dir);
    if let Some(smtp) = settings.smtp.as_mut() {
        if let Some(ca) = smtp.ca_file.as_mut() {
            *ca = home.root.join(&*ca);
        }
    }
    Ok(settings)
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
