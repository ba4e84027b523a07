//! Control files: what the ERP reads beside an outbound file to know that the file is whole, what
//! it holds, and which earlier file it replaces. Published after their data file, never before.

use serde::{Deserialize, Serialize};

use crate::config::Control;

/// A control file's content, versioned like every file Tallyman leaves for others to read: a
/// later version adds fields under a new tag, and readers of version 1 keep working.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "version")]
pub enum ControlFile {
    #[serde(rename = "1")]
    V1(ControlV1),
}

/// Version 1 of a control file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlV1 {
    /// The data file's name, beside this one.
    pub file: String,
    pub pipeline: String,
    /// The output table it was written from.
    pub table: String,
    /// Data rows (the header is not a row).
    pub rows: usize,
    pub size: u64,
    pub sha256: String,
    pub business_date: String,
    pub run_id: String,
    /// The run whose published copy of this output this file replaces (a rerun's resend);
    /// `null` for a first send.
    pub supersedes: Option<String>,
    /// Keys carried from the last published copy because rows were set aside (0: none).
    pub carried: usize,
}

/// The control file's name beside data file `data`.
pub fn name(kind: Control, data: &str) -> String {
    match kind {
        Control::Json => format!("{data}.ctl.json"),
        Control::Done => format!("{data}.done"),
    }
}

/// The control file's bytes: JSON, or `key=value` lines for a done marker (readable by a shell
/// script that only checks the marker exists, and by one that wants the facts).
pub fn render(kind: Control, c: &ControlV1) -> Vec<u8> {
    match kind {
        Control::Json => {
            let mut bytes = serde_json::to_vec_pretty(&ControlFile::V1(c.clone()))
                .unwrap_or_else(|_| b"{}".to_vec());
            bytes.push(b'\n');
            bytes
        }
        Control::Done => {
            let lines = [
                ("version", "1".to_string()),
                ("file", c.file.clone()),
                ("pipeline", c.pipeline.clone()),
                ("table", c.table.clone()),
                ("rows", c.rows.to_string()),
                ("size", c.size.to_string()),
                ("sha256", c.sha256.clone()),
                ("business_date", c.business_date.clone()),
                ("run_id", c.run_id.clone()),
                ("supersedes", c.supersedes.clone().unwrap_or_default()),
                ("carried", c.carried.to_string()),
            ];
            lines
                .iter()
                .map(|(k, v)| format!("{k}={v}\n"))
                .collect::<String>()
                .into_bytes()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ControlV1 {
        ControlV1 {
            file: "atp_20261125_r000002.csv".into(),
            pipeline: "inventory_3pl".into(),
            table: "atp".into(),
            rows: 5,
            size: 120,
            sha256: "ab".repeat(32),
            business_date: "2026-11-25".into(),
            run_id: "r000002".into(),
            supersedes: Some("r000001".into()),
            carried: 0,
        }
    }

    #[test]
    fn json_control_files_carry_their_version_and_read_back() {
        let bytes = render(Control::Json, &sample());
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
        assert_eq!(v["version"], "1");
        assert_eq!(v["supersedes"], "r000001");
        let back: ControlFile = serde_json::from_slice(&bytes).expect("read back");
        assert_eq!(back, ControlFile::V1(sample()));
    }

    #[test]
    fn done_markers_hold_the_same_facts_as_lines() {
        let text = String::from_utf8(render(Control::Done, &sample())).expect("utf-8");
        assert!(text.starts_with("version=1\nfile=atp_20261125_r000002.csv\n"));
        assert!(text.contains("\nrows=5\n") && text.contains("\nsupersedes=r000001\n"));
        assert_eq!(name(Control::Done, "a.csv"), "a.csv.done");
        assert_eq!(name(Control::Json, "a.csv"), "a.csv.ctl.json");
    }
}
