//! Which ledger the daemon's loop, its workers and `/readyz` open: the home's SQLite file, or
//! the PostgreSQL database `[ledger]` names (shared by every daemon of a cluster).

use crate::config::ledger::{LedgerBackend, PostgresTarget};
use crate::config::Home;
use crate::store::{Ledger, StoreError};

/// Where the ledger is, to open it again from any thread.
#[derive(Debug, Clone)]
pub enum LedgerAt {
    /// `var/ledger.sqlite` of this home (refused when lost while the archive holds runs).
    Home(Home),
    /// A SQLite file opened as it is (`/readyz` of a test's ledger).
    Path(std::path::PathBuf),
    Postgres(PostgresTarget),
}

impl LedgerAt {
    pub fn new(home: &Home, backend: &LedgerBackend) -> LedgerAt {
        match backend {
            LedgerBackend::Sqlite => LedgerAt::Home(home.clone()),
            LedgerBackend::Postgres(t) => LedgerAt::Postgres(t.clone()),
        }
    }

    pub fn open(&self) -> Result<Ledger, StoreError> {
        match self {
            LedgerAt::Home(home) => {
                Ledger::open_home(&home.var().join("ledger.sqlite"), &home.archive())
            }
            LedgerAt::Path(path) => Ledger::open(path),
            LedgerAt::Postgres(t) => Ledger::open_postgres(t),
        }
    }

    /// Whether daemons on other hosts may share this ledger (and the home's single-instance
    /// lock must not keep them out).
    pub fn is_shared(&self) -> bool {
        matches!(self, LedgerAt::Postgres(_))
    }
}
