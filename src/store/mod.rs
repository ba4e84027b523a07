//! The ledger (SQLite) and the folders files live in; the only code that moves files.
#[cfg(test)]
mod backend_tests;
pub mod backoff;
pub mod catalog;
pub mod console;
pub mod console_queries;
pub mod daemon_state;
pub mod db;
pub mod deliveries;
pub mod export;
pub mod file_leases;
pub mod files;
pub mod held;
pub mod home_lock;
pub mod intake;
pub mod interchanges;
pub mod lease;
pub mod ledger;
mod ledger_db;
pub mod lock;
pub mod mail_queue;
mod migrations;
pub mod open_items;
pub mod order_steps;
pub mod orders;
pub mod outputs;
pub mod publish;
pub mod readiness;
pub mod reports;
pub mod source_status;

pub mod states;
pub mod tick_leases;

pub use ledger::{Claim, Landing, Ledger, RunFilter, RunRow};
pub use migrations::SCHEMA_VERSION;
pub use states::{DeliveryState, FileState, MailState, RemoteActionState, ReportState, RunState};

impl StoreError {
    /// True when the database could not be reached or the connection broke, rather than a
    /// statement refused: stop taking work, `Ledger::reconnect` with backoff, then resume.
    pub fn is_connection(&self) -> bool {
        match self {
            StoreError::Query { source, .. } => source.is_connection(),
            // A refused certificate too: the server's may be renewed while we wait.
            StoreError::Connect(
                db::ConnectError::Connect { .. } | db::ConnectError::Certificate { .. },
            ) => true,
            _ => false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: {step}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        step: &'static str,
        source: std::io::Error,
    },
    #[error("{}: the file changed while it was copied (expected {expected} bytes, read {got}); it will be taken again once it settles", path.display())]
    Changed {
        path: std::path::PathBuf,
        expected: u64,
        got: u64,
    },
    #[error("{}: refusing to overwrite a file Tallyman did not write (or no longer has a record of)", path.display())]
    WouldOverwrite { path: std::path::PathBuf },
    #[error("{}: refusing to start a new ledger: {why}", path.display())]
    LedgerLost {
        path: std::path::PathBuf,
        why: String,
    },
    #[error("ledger {}: {source}", path.display())]
    Ledger {
        path: std::path::PathBuf,
        source: rusqlite::Error,
    },
    /// A statement failed, with what it was for.
    #[error("ledger {}: {what}: {source}", path.display())]
    Sql {
        path: std::path::PathBuf,
        what: &'static str,
        source: rusqlite::Error,
    },
    /// A statement failed on either backend (`store::db`), with what it was for.
    #[error("ledger {ledger}: {what}: {source}")]
    Query {
        ledger: String,
        what: &'static str,
        source: db::DbError,
    },
    /// The PostgreSQL ledger could not be reached (the message names it, and says why).
    #[error(transparent)]
    Connect(#[from] db::ConnectError),
    /// `tallyman.toml`'s `[ledger]` could not be read or is wrong.
    #[error("tallyman.toml [ledger]: {why}")]
    LedgerConfig { why: String },
    /// `tallyman ledger export` cannot copy into the target it was given.
    #[error("ledger export: {why}")]
    Export { why: String },
    /// Written by a newer Tallyman: this one does not know its tables and must not guess.
    #[error("ledger {}: its version {found} is newer than this Tallyman knows ({known}); run the release that wrote it, or a newer one", path.display())]
    TooNew {
        path: std::path::PathBuf,
        found: i64,
        known: i64,
    },
    /// Another program's SQLite database (its `application_id` is not ours).
    #[error("{}: not a Tallyman ledger (application_id {application_id:#x})", path.display())]
    NotALedger {
        path: std::path::PathBuf,
        application_id: i64,
    },
    /// A column holds a value this code does not know (a state, for instance).
    #[error("ledger {}: {what}: unexpected value {value:?}", path.display())]
    Unexpected {
        path: std::path::PathBuf,
        what: &'static str,
        value: String,
    },
}
