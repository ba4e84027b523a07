//! The health of each pipeline's remote source, for `tallyman runs`: when its last pass
//! worked, and since when and why it fails (host, path and step are in the error text); and
//! the after-claim actions (delete, move, marker removal) the server refused, retried with
//! backoff while the claimed file goes on through the pipeline.

use super::backoff::Backoff;
use super::db::{DbError, Row};
use super::{Ledger, RemoteActionState, StoreError};
use crate::db_args;

/// A source whose last pass failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
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
        self.exec(
            "record a source's good pass",
            "INSERT INTO source_status (pipeline, source, last_ok_at, failures)
             VALUES (?1, ?2, ?3, 0)
             ON CONFLICT (pipeline) DO UPDATE SET source = ?2, last_ok_at = ?3, failures = 0,
                 failing_since = NULL, last_error = NULL",
            db_args![pipeline, url, now],
        )
        .map(|_| ())
    }

    /// The pass over `pipeline`'s source `url` failed with `error`.
    pub fn source_failed(
        &self,
        pipeline: &str,
        url: &str,
        error: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "record a source's failed pass",
            "INSERT INTO source_status AS s (pipeline, source, failures, failing_since, last_error)
             VALUES (?1, ?2, 1, ?3, ?4)
             ON CONFLICT (pipeline) DO UPDATE SET source = ?2, failures = s.failures + 1,
                 failing_since = coalesce(s.failing_since, ?3), last_error = ?4",
            db_args![pipeline, url, now, error],
        )
        .map(|_| ())
    }

    /// Sources whose last pass failed.
    pub fn source_problems(&self) -> Result<Vec<SourceProblem>, StoreError> {
        self.rows(
            "list failing sources",
            "SELECT pipeline, source, failures, failing_since, last_ok_at, last_error
             FROM source_status WHERE failures > 0 ORDER BY pipeline",
            &[],
            |r| {
                Ok(SourceProblem {
                    pipeline: r.get(0)?,
                    source: r.get(1)?,
                    failures: r.get(2)?,
                    failing_since: r.get(3)?,
                    last_ok_at: r.get(4)?,
                    last_error: r.get(5)?,
                })
            },
        )
    }
}

/// An after-claim action the server refused (or a dropped connection interrupted).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RemoteAction {
    pub id: i64,
    pub pipeline: String,
    pub source: String,
    pub name: String,
    pub size: u64,
    /// Seconds since the epoch, as the listing reported it.
    pub mtime: i64,
    /// `delete`, `move:<folder>` or `delete-marker:<marker name>`.
    pub action: String,
    pub state: RemoteActionState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
}

/// What a failed after-claim action needs to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct FailedAction<'a> {
    pub pipeline: &'a str,
    pub source: &'a str,
    pub name: &'a str,
    pub size: u64,
    pub mtime: i64,
    pub action: &'a str,
    pub error: &'a str,
}

fn action_row(r: &Row) -> Result<RemoteAction, DbError> {
    Ok(RemoteAction {
        id: r.get(0)?,
        pipeline: r.get(1)?,
        source: r.get(2)?,
        name: r.get(3)?,
        size: r.get::<i64>(4)?.max(0) as u64,
        mtime: r.get(5)?,
        action: r.get(6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        next_attempt_at: r.get(9)?,
        last_error: r.get(10)?,
    })
}

const ACTION_COLUMNS: &str = "id, pipeline, source, name, size, mtime, action, state, attempts,
    next_attempt_at, last_error";

impl Ledger {
    /// Records a failed first try of an after-claim action (or a failed retry of a known one):
    /// attempts + 1, next try after the SFTP backoff (30 s doubling, at most an hour).
    pub fn remote_action_failed(&self, f: &FailedAction<'_>, now: i64) -> Result<(), StoreError> {
        let attempts: i64 = self
            .row(
                "read a remote action",
                "SELECT attempts FROM remote_actions
                 WHERE pipeline = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4 AND action = ?5",
                db_args![f.pipeline, f.name, f.size, f.mtime, f.action],
                |r| r.get(0),
            )?
            .unwrap_or(0)
            + 1;
        let next = now + Backoff::SFTP.after(attempts);
        let created = chrono::DateTime::from_timestamp(now, 0)
            .unwrap_or_default()
            .to_rfc3339();
        self.exec(
            "record a failed remote action",
            "INSERT INTO remote_actions (pipeline, source, name, size, mtime, action, state,
                 attempts, next_attempt_at, last_error, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?8, ?9, ?10)
             ON CONFLICT (pipeline, name, size, mtime, action) DO UPDATE SET state = 'pending',
                 attempts = ?7, next_attempt_at = ?8, last_error = ?9",
            db_args![
                f.pipeline, f.source, f.name, f.size, f.mtime, f.action, attempts, next, f.error,
                created
            ],
        )
        .map(|_| ())
    }

    /// The action is done (`done`), or no longer needed because the remote file is gone or
    /// was replaced (`dropped`, with why).
    pub fn remote_action_settled(
        &self,
        id: i64,
        state: RemoteActionState,
        why: Option<&str>,
        now: &str,
    ) -> Result<(), StoreError> {
        self.exec(
            "settle a remote action",
            "UPDATE remote_actions SET state = ?2, done_at = ?3, last_error = coalesce(?4, last_error)
             WHERE id = ?1",
            db_args![id, state, now, why],
        )
        .map(|_| ())
    }

    /// Pending actions of `pipeline` due at `now` (unix seconds), oldest first.
    pub fn due_remote_actions(
        &self,
        pipeline: &str,
        now: i64,
    ) -> Result<Vec<RemoteAction>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM remote_actions
             WHERE pipeline = ?1 AND state = 'pending' AND next_attempt_at <= ?2 ORDER BY id"
        );
        self.rows(
            "list due remote actions",
            &sql,
            db_args![pipeline, now],
            action_row,
        )
    }

    /// Whether the remote file `name` as listed (size, mtime) was already taken and still
    /// owes an action: it must not be fetched and claimed again.
    pub fn remote_action_pending(
        &self,
        pipeline: &str,
        name: &str,
        size: u64,
        mtime: i64,
    ) -> Result<bool, StoreError> {
        self.row(
            "look for a pending remote action",
            "SELECT count(*) FROM remote_actions WHERE pipeline = ?1 AND name = ?2
             AND size = ?3 AND mtime = ?4 AND state = 'pending' AND action NOT LIKE 'delete-marker:%'",
            db_args![pipeline, name, size, mtime],
            |r| r.get::<i64>(0),
        )
        .map(|n| n.unwrap_or(0) > 0)
    }

    /// Every pending action (all pipelines), for `tallyman runs`.
    pub fn pending_remote_actions(&self) -> Result<Vec<RemoteAction>, StoreError> {
        let sql = format!(
            "SELECT {ACTION_COLUMNS} FROM remote_actions WHERE state = 'pending' ORDER BY id"
        );
        self.rows("list pending remote actions", &sql, &[], action_row)
    }

    /// Remembers a remote file the source leaves in place (by name, size and mtime as
    /// listed), so it is not fetched again.
    pub fn remember_kept(
        &self,
        pipeline: &str,
        name: &str,
        size: u64,
        mtime: i64,
    ) -> Result<(), StoreError> {
        self.exec(
            "remember a file left on the server",
            "INSERT INTO sftp_kept (pipeline, name, size, mtime) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT DO NOTHING",
            db_args![pipeline, name, size, mtime],
        )
        .map(|_| ())
    }

    /// Whether the remote file as listed was taken before and left in place.
    pub fn already_kept(
        &self,
        pipeline: &str,
        name: &str,
        size: u64,
        mtime: i64,
    ) -> Result<bool, StoreError> {
        self.row(
            "look for a file left on the server",
            "SELECT count(*) FROM sftp_kept WHERE pipeline = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4",
            db_args![pipeline, name, size, mtime],
            |r| r.get::<i64>(0),
        )
        .map(|n| n.unwrap_or(0) > 0)
    }
}
