//! A worker thread's PostgreSQL ledger connection, kept from one job to the next: a new
//! connection per job cost a password exchange, a server process and the schema check under
//! the writer lock each time. Asked before it is lent again, so a broken one is never reused.

use crate::config::Home;
use crate::store::{Ledger, StoreError};

/// Empty at first and after a job that panicked (whatever it left behind is dropped).
#[derive(Default)]
pub struct KeptLedger {
    kept: Option<Ledger>,
}

impl KeptLedger {
    /// The kept connection if it still answers, else a new one (a broken connection, say
    /// PostgreSQL restarted since, is dropped here: the job connects again or fails on its
    /// own, and the loop's ledger fault handling is unaffected).
    pub fn lend(&mut self, home: &Home) -> Result<Ledger, StoreError> {
        match self.kept.take() {
            Some(ledger) if ledger.answers() => Ok(ledger),
            Some(_) => {
                tracing::info!("the worker's ledger connection broke; connecting again");
                Ledger::open_for_home(home)
            }
            None => Ledger::open_for_home(home),
        }
    }

    /// Keeps `ledger` for the next job: only PostgreSQL's (opening SQLite's file is cheap, and
    /// each job then sees the home's ledger file as it is, as before).
    pub fn keep(&mut self, ledger: Ledger) {
        if ledger.is_shared() {
            self.kept = Some(ledger);
        }
    }
}
