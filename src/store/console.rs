//! What the operator console (`src/console`) and `tallyman pause`/`resume` record: the action
//! log with its actors (`console_actions`) and the paused pipelines (`paused_pipelines`, read by
//! `serve`'s loop). What the console reads is in `console_queries.rs`.

use rusqlite::Connection;

use super::db::{DbError, Row};
use super::{Ledger, StoreError};
use crate::db_args;

/// Version 5's tables (SQLite's DDL; PostgreSQL reads it through `migrations::postgres`).
pub(super) const CONSOLE_DDL: &str = "CREATE TABLE IF NOT EXISTS console_actions (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            pipeline TEXT,
            target TEXT,
            reason TEXT,
            outcome TEXT
        );
        CREATE TABLE IF NOT EXISTS paused_pipelines (
            pipeline TEXT PRIMARY KEY,
            paused_at TEXT NOT NULL,
            actor TEXT NOT NULL,
            reason TEXT
        );";

/// Version 5 of the ledger: the console's action log and the paused pipelines.
pub(super) fn console_tables(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(CONSOLE_DDL)
}

/// One action taken from the console (or `tallyman pause`/`resume`), with who took it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsoleAction {
    pub id: i64,
    pub at: String,
    pub actor: String,
    /// `rerun`, `retry-upload`, `retry-mail`, `pause` or `resume`.
    pub action: String,
    pub pipeline: Option<String>,
    /// The business date, upload id or mail id acted on.
    pub target: Option<String>,
    pub reason: Option<String>,
    /// What came of it, once known.
    pub outcome: Option<String>,
}

/// An action about to be recorded.
#[derive(Debug, Clone, Copy)]
pub struct NewAction<'a> {
    pub at: &'a str,
    pub actor: &'a str,
    pub action: &'a str,
    pub pipeline: Option<&'a str>,
    pub target: Option<&'a str>,
    pub reason: Option<&'a str>,
}

/// A paused pipeline: `serve` starts no job for it until it is resumed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Paused {
    pub pipeline: String,
    pub paused_at: String,
    pub actor: String,
    pub reason: Option<String>,
}

fn action_row(r: &Row) -> Result<ConsoleAction, DbError> {
    Ok(ConsoleAction {
        id: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        pipeline: r.get(4)?,
        target: r.get(5)?,
        reason: r.get(6)?,
        outcome: r.get(7)?,
    })
}

impl Ledger {
    /// Records an action as it is taken; its outcome follows with `console_action_outcome`.
    pub fn record_console_action(&self, a: &NewAction<'_>) -> Result<i64, StoreError> {
        self.one_row(
            "record a console action",
            "INSERT INTO console_actions (at, actor, action, pipeline, target, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            db_args![a.at, a.actor, a.action, a.pipeline, a.target, a.reason],
            |r| r.get(0),
        )
    }

    pub fn console_action_outcome(&self, id: i64, outcome: &str) -> Result<(), StoreError> {
        self.exec(
            "record a console action's outcome",
            "UPDATE console_actions SET outcome = ?2 WHERE id = ?1",
            db_args![id, outcome],
        )
        .map(|_| ())
    }

    /// The latest `limit` actions, newest first.
    pub fn console_actions(&self, limit: u32) -> Result<Vec<ConsoleAction>, StoreError> {
        self.rows(
            "list console actions",
            "SELECT id, at, actor, action, pipeline, target, reason, outcome
             FROM console_actions ORDER BY id DESC LIMIT ?1",
            db_args![i64::from(limit)],
            action_row,
        )
    }

    /// Pauses `pipeline`; `false` when it was paused already (the first pause is kept).
    pub fn pause_pipeline(
        &self,
        pipeline: &str,
        actor: &str,
        reason: Option<&str>,
        at: &str,
    ) -> Result<bool, StoreError> {
        self.exec(
            "pause a pipeline",
            "INSERT INTO paused_pipelines (pipeline, paused_at, actor, reason)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (pipeline) DO NOTHING",
            db_args![pipeline, at, actor, reason],
        )
        .map(|n| n == 1)
    }

    /// Resumes `pipeline`; `false` when it was not paused.
    pub fn resume_pipeline(&self, pipeline: &str) -> Result<bool, StoreError> {
        self.exec(
            "resume a pipeline",
            "DELETE FROM paused_pipelines WHERE pipeline = ?1",
            db_args![pipeline],
        )
        .map(|n| n == 1)
    }

    pub fn paused_pipelines(&self) -> Result<Vec<Paused>, StoreError> {
        self.rows(
            "list paused pipelines",
            "SELECT pipeline, paused_at, actor, reason FROM paused_pipelines ORDER BY pipeline",
            &[],
            |r| {
                Ok(Paused {
                    pipeline: r.get(0)?,
                    paused_at: r.get(1)?,
                    actor: r.get(2)?,
                    reason: r.get(3)?,
                })
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_resume_and_actions_round_trip() {
        let l = Ledger::open_in_memory().expect("ledger");
        assert!(l
            .pause_pipeline("p", "ana", Some("partner outage"), "t1")
            .unwrap());
        assert!(!l.pause_pipeline("p", "bob", None, "t2").unwrap());
        let paused = l.paused_pipelines().unwrap();
        assert_eq!(paused.len(), 1);
        assert_eq!(paused[0].actor, "ana");
        assert!(l.resume_pipeline("p").unwrap());
        assert!(!l.resume_pipeline("p").unwrap());
        let id = l
            .record_console_action(&NewAction {
                at: "t3",
                actor: "ana",
                action: "rerun",
                pipeline: Some("p"),
                target: Some("2026-01-02"),
                reason: Some("fixed"),
            })
            .unwrap();
        l.console_action_outcome(id, "done").unwrap();
        let a = &l.console_actions(10).unwrap()[0];
        assert_eq!(
            (a.actor.as_str(), a.outcome.as_deref()),
            ("ana", Some("done"))
        );
    }
}
