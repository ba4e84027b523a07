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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::pg_cluster::{PgCluster, USER};

    /// PostgreSQL restarted between two jobs: the kept connection no longer answers, so the
    /// next job gets a new one that works (never the broken one).
    #[test]
    fn a_kept_connection_is_made_again_after_postgres_restarts() {
        let mut cluster = PgCluster::start();
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("tallyman.toml"),
            format!(
                "[ledger]\nbackend = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\n\
                 user = \"{USER}\"\ndbname = \"{}\"\npassword_file = \"{}\"\n",
                cluster.port,
                cluster.database(),
                cluster.password_file.display()
            ),
        )
        .expect("tallyman.toml");
        let home = Home::new(dir.path());
        let mut kept = KeptLedger::default();
        let ledger = kept.lend(&home).expect("connect");
        assert_eq!(ledger.last_scheduled_run("p").expect("ask"), None);
        kept.keep(ledger);
        cluster.stop();
        cluster.start_again();
        let ledger = kept.lend(&home).expect("connect again");
        assert_eq!(ledger.last_scheduled_run("p").expect("ask"), None);
        kept.keep(ledger);
        // While it works, the same connection is lent again.
        assert!(kept.lend(&home).expect("lend").answers());
    }
}
