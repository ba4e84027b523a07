//! The ledger (SQLite) and the folders files live in; the only code that moves files.
pub mod deliveries;
pub mod files;
pub mod held;
pub mod home_lock;
pub mod intake;
pub mod interchanges;
pub mod lease;
pub mod ledger;
pub mod lock;
pub mod outputs;
pub mod publish;
pub mod readiness;
pub mod source_status;

pub use ledger::{Claim, DuplicateRule, FileState, Landing, Ledger, RunFilter, RunRow};

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
}
