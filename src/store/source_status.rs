//! The health of each pipeline's remote source, for `tallyman runs`: when its last pass
//! worked, and since when and why it fails (host, path and step are in the error text).

use rusqlite::params;

use super::{Ledger, StoreError};

/// A source whose last pass failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    pub pipeline: String,
    pub source: String,
    /// Consecutive failed passes.
    pub failures: i64,
    pub failing_since: String,
    pub last_ok_at: Option<String>,
    pub last_error: String,
}

impl Ledger {
    /// The pass over `pipeline`'s source `url` worked.
    pub fn source_ok(&self, pipeline: &str, url: &str, now: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "INSERT INTO source_status (pipeline, source, last_ok_at, failures)
                 VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (pipeline) DO UPDATE SET source = ?2, last_ok_at = ?3, failures = 0,
                     failing_since = NULL, last_error = NULL",
                params![pipeline, url, now],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// The pass over `pipeline`'s source `url` failed with `error`.
    pub fn source_failed(
        &self,
        pipeline: &str,
        url: &str,
        error: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "INSERT INTO source_status (pipeline, source, failures, failing_since, last_error)
                 VALUES (?1, ?2, 1, ?3, ?4)
                 ON CONFLICT (pipeline) DO UPDATE SET source = ?2, failures = failures + 1,
                     failing_since = coalesce(failing_since, ?3), last_error = ?4",
                params![pipeline, url, now, error],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Sources whose last pass failed.
    pub fn source_problems(&self) -> Result<Vec<SourceProblem>, StoreError> {
        let mut stmt = self
            .connection()
            .prepare(
                "SELECT pipeline, source, failures, failing_since, last_ok_at, last_error
                 FROM source_status WHERE failures > 0 ORDER BY pipeline",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(SourceProblem {
                    pipeline: r.get(0)?,
                    source: r.get(1)?,
                    failures: r.get(2)?,
                    failing_since: r.get(3)?,
                    last_ok_at: r.get(4)?,
                    last_error: r.get(5)?,
                })
            })
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }
}
