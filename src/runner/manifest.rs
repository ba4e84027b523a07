//! The run manifest (`manifest.json` in each run's archive folder): its types, and reading and
//! writing it. A manifest read back from disk may be damaged (truncated by a full disk, edited
//! by hand): every reader gets a clear error naming the file, never a default that would make a
//! rerun take new control numbers or a diff compare against nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The manifest's file name in a run's archive folder.
pub const MANIFEST_JSON: &str = "manifest.json";

/// A manifest that could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the run manifest {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the run manifest {} is damaged ({source}); restore it from a backup before replaying or comparing this run", path.display())]
    Damaged {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("cannot write the manifest of run {run}: {source}")]
    Write {
        run: String,
        source: serde_json::Error,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct InputEntry {
    pub role: String,
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutputEntry {
    pub table: String,
    pub destination: String,
    /// The `partition_by` value of this file (absent: the output is one file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    pub name: String,
    pub rows: usize,
    pub size: u64,
    pub sha256: String,
    /// Why it was archived and not published (absent: published).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<Held>,
    /// The run whose published copy of this output this one replaces (a rerun's resend).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<String>,
    /// When held: the run whose published copy stays the one the ERP has (absent: none yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<String>,
    /// For a control file: the data file it describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub control_for: Option<String>,
    /// What was done to the output and why (withheld, keys carried), for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl OutputEntry {
    /// Whether this is the same output's data file (table, destination and partition value)
    /// as another run's entry: what a rerun compares and supersedes.
    pub fn same_data(&self, table: &str, destination: &str, partition: Option<&str>) -> bool {
        self.control_for.is_none()
            && self.table == table
            && self.destination == destination
            && self.partition.as_deref() == partition
    }

    /// The output for people: `journal (gl)`, or `journal (gl) for 12345678` for a partition.
    pub fn label(&self) -> String {
        match &self.partition {
            Some(v) => format!("{} ({}) for {v}", self.table, self.destination),
            None => format!("{} ({})", self.table, self.destination),
        }
    }
}

/// Why a computed output was not published.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Held {
    /// A rerun wrote the same bytes as the copy the ERP has (`on_rerun = "changed"`).
    Unchanged,
    /// A rerun never sends this output again (`on_rerun = "never"`).
    OnRerunNever,
    /// Rows were set aside and the output must be complete (`complete = "withhold"`, or
    /// `carry_last_good` with nothing to carry from).
    Withheld,
}

/// The run manifest archived as `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Manifest {
    pub pipeline: String,
    pub run_id: String,
    pub business_date: String,
    pub trigger: String,
    pub rerun_of: Option<String>,
    pub config_sha256: String,
    pub inputs: Vec<InputEntry>,
    pub outputs: Vec<OutputEntry>,
    pub rows: usize,
    pub rows_set_aside: usize,
    pub issues: usize,
    pub reconciliation: BTreeMap<String, u64>,
    /// The accepted catalog version each catalog reference read, by source (a rerun reads the
    /// same ones).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub catalog_versions: BTreeMap<String, i64>,
}

impl Manifest {
    /// The manifest as archived (pretty JSON).
    pub fn to_json(&self) -> Result<Vec<u8>, ManifestError> {
        serde_json::to_vec_pretty(self).map_err(|source| ManifestError::Write {
            run: self.run_id.clone(),
            source,
        })
    }
}

/// Reads the manifest of the run archived in `dir`; a missing or damaged file is an error.
pub fn read(dir: &Path) -> Result<Manifest, ManifestError> {
    read_if_present(dir)?.ok_or_else(|| ManifestError::Read {
        path: dir.join(MANIFEST_JSON),
        source: std::io::ErrorKind::NotFound.into(),
    })
}

/// Reads the manifest of the run archived in `dir`: `None` when it has none, an error when it
/// cannot be read or parsed.
pub fn read_if_present(dir: &Path) -> Result<Option<Manifest>, ManifestError> {
    let path = dir.join(MANIFEST_JSON);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ManifestError::Read { path, source }),
    };
    match serde_json::from_slice(&bytes) {
        Ok(m) => Ok(Some(m)),
        Err(source) => Err(ManifestError::Damaged { path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncated_manifest_is_an_error_naming_it_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_if_present(dir.path()).unwrap().is_none());
        let missing = read(dir.path()).unwrap_err().to_string();
        assert!(missing.contains(MANIFEST_JSON), "{missing}");
        let m = Manifest {
            run_id: "r000001".into(),
            ..Manifest::default()
        };
        let json = m.to_json().unwrap();
        std::fs::write(dir.path().join(MANIFEST_JSON), &json[..json.len() / 2]).unwrap();
        let e = read(dir.path()).unwrap_err();
        assert!(matches!(e, ManifestError::Damaged { .. }), "{e}");
        assert!(e.to_string().contains("manifest.json"), "{e}");
        std::fs::write(dir.path().join(MANIFEST_JSON), &json).unwrap();
        assert_eq!(read(dir.path()).unwrap().run_id, "r000001");
    }
}
