//! Reading `schemas/*.json`: the file IO of schema loading lives here, so `schema` only parses
//! text (`TableSchema::from_json`).

use std::collections::BTreeMap;
use std::path::Path;

use super::ConfigError;
use crate::schema::TableSchema;

/// Where schema problems are filed (one list with the pipelines' problems).
fn problem(why: String) -> ConfigError {
    ConfigError {
        file: "schemas/".into(),
        key: "schema".into(),
        why,
    }
}

/// Loads every `*.json` in a folder as a schema named by its file stem (e.g. `item_master.v1`):
/// the valid ones, and a problem for each that is not.
pub fn load_dir(dir: &Path) -> (BTreeMap<String, TableSchema>, Vec<ConfigError>) {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return (out, vec![problem(format!("{}: {e}", dir.display()))]),
    };
    let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        match std::fs::read_to_string(&path) {
            Ok(text) => match TableSchema::from_json(&stem, &text) {
                Ok(s) => {
                    out.insert(stem, s);
                }
                Err(e) => errors.push(problem(e.to_string())),
            },
            Err(e) => errors.push(problem(format!("{}: {e}", path.display()))),
        }
    }
    (out, errors)
}
