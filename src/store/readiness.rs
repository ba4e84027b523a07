//! What the ledger says about a pipeline's health, for `/readyz` and the metrics: runs that
//! went wrong and nothing has put right since, and when each pipeline last succeeded (so the
//! figure survives a restart of the daemon).

use chrono::{DateTime, Utc};

use super::{Ledger, RunState, StoreError};
use crate::db_args;

/// Runs of one pipeline in one bad state (`rejected` or `failed`) that started since the
/// window's start and whose file has no later succeeded run (a rerun that worked puts it right).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub pipeline: String,
    pub state: RunState,
    pub count: i64,
    /// The latest such run: its file and why it ended so.
    pub latest_file: Option<String>,
    pub latest_message: Option<String>,
}

impl Ledger {
    /// Runs that went wrong since `since` (RFC 3339, compared as text like every ledger time)
    /// and were not put right by a later succeeded run of the same file.
    pub fn unresolved_runs(&self, since: &str) -> Result<Vec<Unresolved>, StoreError> {
        self.rows(
            "find unresolved runs",
            "WITH bad AS (
                 SELECT r.seq, r.pipeline, r.state, f.name AS file, r.message
                 FROM runs r LEFT JOIN files f ON f.id = r.file_id
                 WHERE r.state IN ('rejected', 'failed') AND r.started_at >= ?1
                   AND NOT EXISTS (SELECT 1 FROM runs s WHERE s.file_id = r.file_id
                                   AND s.seq > r.seq AND s.state = 'succeeded'))
             SELECT pipeline, state, count(*),
                    (SELECT file FROM bad b2 WHERE b2.pipeline = bad.pipeline
                       AND b2.state = bad.state ORDER BY seq DESC LIMIT 1),
                    (SELECT message FROM bad b2 WHERE b2.pipeline = bad.pipeline
                       AND b2.state = bad.state ORDER BY seq DESC LIMIT 1)
             FROM bad GROUP BY pipeline, state ORDER BY pipeline, state",
            db_args![since],
            |r| {
                Ok(Unresolved {
                    pipeline: r.get(0)?,
                    state: r.get(1)?,
                    count: r.get(2)?,
                    latest_file: r.get(3)?,
                    latest_message: r.get(4)?,
                })
            },
        )
    }

    /// When each pipeline's latest succeeded run ended.
    pub fn last_successes(&self) -> Result<Vec<(String, DateTime<Utc>)>, StoreError> {
        let rows: Vec<(String, String)> = self.rows(
            "read the last successes",
            "SELECT pipeline, max(ended_at) FROM runs
             WHERE state = 'succeeded' AND ended_at IS NOT NULL GROUP BY pipeline",
            &[],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        // A time the ledger cannot have written is skipped rather than guessed.
        Ok(rows
            .into_iter()
            .filter_map(|(pipeline, at)| {
                DateTime::parse_from_rfc3339(&at)
                    .ok()
                    .map(|at| (pipeline, at.with_timezone(&Utc)))
            })
            .collect())
    }
}
