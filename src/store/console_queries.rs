//! What the operator console (`src/console`) asks the ledger beyond the CLI's questions: one run
//! by id, the run it replayed, runs by id prefix, a run's issues, files and outputs by name or
//! sha256 prefix, and undelivered uploads per pipeline.

use super::ledger::{run_row, RUN_COLUMNS};
use super::{Ledger, RunRow, StoreError};
use crate::db_args;

/// One issue of a run, where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueRow {
    pub file: String,
    pub line: Option<i64>,
    pub column: Option<String>,
    pub value: Option<String>,
    pub rule: String,
    pub severity: String,
    pub message: String,
}

/// A received file or a written output found by name or checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundFile {
    /// `received` or `written`.
    pub kind: &'static str,
    pub pipeline: String,
    pub name: String,
    pub sha256: String,
    pub size: i64,
    /// The received file's state and why (received files), or where it was written.
    pub what: String,
    pub at: String,
    /// The run that took or wrote it, if any.
    pub run_id: Option<String>,
}

impl Ledger {
    /// One run by its id.
    pub fn run_by_id(&self, run_id: &str) -> Result<Option<RunRow>, StoreError> {
        self.row(
            "read a run",
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN files f ON f.id = r.file_id
                 WHERE r.run_id = ?1"
            ),
            db_args![run_id],
            run_row,
        )
    }

    /// The run a rerun replayed, if `run_id` is a rerun.
    pub fn rerun_of(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.row(
            "read what a rerun replayed",
            "SELECT rerun_of FROM runs WHERE run_id = ?1",
            db_args![run_id],
            |r| r.get::<Option<String>>(0),
        )
        .map(Option::flatten)
    }

    /// Runs whose id starts with `prefix` (at most 20, newest first).
    pub fn runs_with_prefix(&self, prefix: &str) -> Result<Vec<RunRow>, StoreError> {
        self.rows(
            "find runs by id",
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN files f ON f.id = r.file_id
                 WHERE r.run_id LIKE ?1 ESCAPE '\\' ORDER BY r.seq DESC LIMIT 20"
            ),
            db_args![format!("{}%", like_escape(prefix))],
            run_row,
        )
    }

    /// A run's issues in the order they were recorded.
    pub fn run_issues(&self, run_id: &str, limit: u32) -> Result<Vec<IssueRow>, StoreError> {
        self.rows(
            "list a run's issues",
            "SELECT file, line, column_name, value, rule, severity, message
             FROM issues WHERE run_id = ?1 ORDER BY seq LIMIT ?2",
            db_args![run_id, i64::from(limit)],
            |r| {
                Ok(IssueRow {
                    file: r.get(0)?,
                    line: r.get(1)?,
                    column: r.get(2)?,
                    value: r.get(3)?,
                    rule: r.get(4)?,
                    severity: r.get(5)?,
                    message: r.get(6)?,
                })
            },
        )
    }

    /// Received files and written outputs whose name contains `text` or whose sha256 starts
    /// with it (at most 50 of each, newest first).
    pub fn find_files(&self, text: &str) -> Result<Vec<FoundFile>, StoreError> {
        let contains = format!("%{}%", like_escape(text));
        let prefix = format!("{}%", like_escape(&text.to_ascii_lowercase()));
        let mut out = self.rows(
            "find received files",
            "SELECT f.pipeline, f.name, f.sha256, f.size, f.state, f.reason, f.received_at,
                    (SELECT r.run_id FROM runs r WHERE r.file_id = f.id ORDER BY r.seq DESC LIMIT 1)
             FROM files f
             WHERE f.name LIKE ?1 ESCAPE '\\' OR f.sha256 LIKE ?2 ESCAPE '\\'
             ORDER BY f.id DESC LIMIT 50",
            db_args![contains, prefix],
            |r| {
                let state: String = r.get(4)?;
                let reason: Option<String> = r.get(5)?;
                Ok(FoundFile {
                    kind: "received",
                    pipeline: r.get(0)?,
                    name: r.get(1)?,
                    sha256: r.get(2)?,
                    size: r.get(3)?,
                    what: match reason {
                        Some(why) => format!("{state}: {why}"),
                        None => state,
                    },
                    at: r.get(6)?,
                    run_id: r.get(7)?,
                })
            },
        )?;
        // Newest first: the latest run's outputs, last recorded first.
        out.extend(self.rows(
            "find written outputs",
            "SELECT r.pipeline, o.name, o.sha256, o.size, o.destination, o.path, o.written_at, o.run_id
             FROM outbound o JOIN runs r ON r.run_id = o.run_id
             WHERE o.name LIKE ?1 ESCAPE '\\' OR o.sha256 LIKE ?2 ESCAPE '\\'
             ORDER BY r.seq DESC, o.seq DESC LIMIT 50",
            db_args![contains, prefix],
            |r| {
                let destination: String = r.get(4)?;
                let path: String = r.get(5)?;
                Ok(FoundFile {
                    kind: "written",
                    pipeline: r.get(0)?,
                    name: r.get(1)?,
                    sha256: r.get(2)?,
                    size: r.get(3)?,
                    what: format!("written for {destination} to {path}"),
                    at: r.get(6)?,
                    run_id: r.get(7)?,
                })
            },
        )?);
        Ok(out)
    }

    /// Uploads not delivered yet, per pipeline (pending and failed).
    pub fn undelivered_by_pipeline(
        &self,
    ) -> Result<std::collections::BTreeMap<String, i64>, StoreError> {
        let rows: Vec<(String, i64)> = self.rows(
            "count undelivered uploads",
            "SELECT pipeline, count(*) FROM deliveries
             WHERE state != 'delivered' GROUP BY pipeline",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(rows.into_iter().collect())
    }
}

/// `text` with LIKE's wildcards taken literally.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(like_escape("a_b%c\\"), "a\\_b\\%c\\\\");
        let l = Ledger::open_in_memory().expect("ledger");
        assert!(l.find_files("%").unwrap().is_empty());
        assert!(l.runs_with_prefix("_").unwrap().is_empty());
    }
}
