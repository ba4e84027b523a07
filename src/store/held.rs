//! Files held rather than finished: `waiting` for their ERP extract, or `failed` on the
//! pipeline's configuration until a rerun. Read by recovery, `tallyman runs` and the metrics.

use super::{FileState, Ledger, StoreError};
use crate::db_args;

/// A file in the `waiting` or `failed` state.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HeldFile {
    pub file_id: i64,
    pub pipeline: String,
    pub name: String,
    pub sha256: String,
    pub state: FileState,
    pub business_date: Option<String>,
    pub received_at: String,
    pub reason: Option<String>,
    /// Where its bytes are, relative to the home.
    pub stored: String,
}

impl Ledger {
    /// Files of one pipeline (or all) held `waiting` or `failed`, oldest first.
    pub fn held_files(&self, pipeline: Option<&str>) -> Result<Vec<HeldFile>, StoreError> {
        self.files_in(
            pipeline,
            &[FileState::Waiting.as_str(), FileState::Failed.as_str()],
        )
    }

    /// Files of a pipeline waiting for their ERP extract, oldest first.
    pub fn waiting_files(&self, pipeline: &str) -> Result<Vec<HeldFile>, StoreError> {
        self.files_in(Some(pipeline), &[FileState::Waiting.as_str(), ""])
    }

    fn files_in(
        &self,
        pipeline: Option<&str>,
        states: &[&str; 2],
    ) -> Result<Vec<HeldFile>, StoreError> {
        self.rows(
            "list held files",
            "SELECT id, pipeline, name, state, business_date, received_at, reason,
                    coalesce(stored_path, ''), sha256
             FROM files WHERE (CAST(?1 AS TEXT) IS NULL OR pipeline = ?1) AND state IN (?2, ?3)
             ORDER BY id",
            db_args![pipeline, states[0], states[1]],
            |r| {
                Ok(HeldFile {
                    file_id: r.get(0)?,
                    pipeline: r.get(1)?,
                    name: r.get(2)?,
                    state: r.get(3)?,
                    business_date: r.get(4)?,
                    received_at: r.get(5)?,
                    reason: r.get(6)?,
                    stored: r.get(7)?,
                    sha256: r.get(8)?,
                })
            },
        )
    }
}
