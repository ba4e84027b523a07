//! The ledger's side of exception reports: which runs still owe their report (a crash between
//! the run's end and the queueing), and the facts about files a report quotes.

use super::{FileState, Ledger, ReportState, StoreError};
use crate::db_args;

/// The file a run processed, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    pub name: String,
    pub sha256: String,
    /// The earlier file of the same name this one corrects (other content), if any.
    pub correction_of: Option<i64>,
}

impl Ledger {
    /// Marks a run's exception report as archived and queued (or not wanted by the rule).
    pub fn set_report_done(&self, run_id: &str) -> Result<(), StoreError> {
        self.exec(
            "mark the report done",
            "UPDATE runs SET report_state = ?2 WHERE run_id = ?1",
            db_args![run_id, ReportState::Done],
        )
        .map(|_| ())
    }

    /// Runs of `pipeline` that ended but whose report was never archived and queued (a crash
    /// between the two): (run_id, archive_path), oldest first.
    pub fn pending_reports(&self, pipeline: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.rows(
            "find pending reports",
            "SELECT run_id, archive_path FROM runs
             WHERE pipeline = ?1 AND report_state = ?2 AND archive_path IS NOT NULL
             ORDER BY seq",
            db_args![pipeline, ReportState::Pending],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The latest duplicate recorded under `name` for `pipeline`: (sha256, reason).
    pub fn latest_duplicate(
        &self,
        pipeline: &str,
        name: &str,
    ) -> Result<Option<(String, Option<String>)>, StoreError> {
        self.row(
            "read a duplicate file",
            "SELECT sha256, reason FROM files WHERE pipeline = ?1 AND name = ?2 AND state = ?3
             ORDER BY id DESC LIMIT 1",
            db_args![pipeline, name, FileState::Duplicate],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// The file run `run_id` processed (none for a run without a file row).
    pub fn run_file(&self, run_id: &str) -> Result<Option<RunFile>, StoreError> {
        self.row(
            "read a run's file",
            "SELECT f.name, f.sha256, f.correction_of FROM runs r JOIN files f ON f.id = r.file_id
             WHERE r.run_id = ?1",
            db_args![run_id],
            |r| {
                Ok(RunFile {
                    name: r.get(0)?,
                    sha256: r.get(1)?,
                    correction_of: r.get(2)?,
                })
            },
        )
    }
}
