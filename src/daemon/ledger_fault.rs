//! The daemon loop's ledger connection when it breaks (PostgreSQL restarted or unreachable):
//! no new work is handed out, the connection is made again with a doubling backoff, and
//! `/readyz` says why the daemon is not ready meanwhile. A transaction open when the
//! connection broke was rolled back by the server, so nothing of it is half-recorded; jobs
//! have their own connections (`kept_ledger.rs`: checked before each job, made again when
//! broken) and fail (and are retried) on their own.

use std::time::{Duration, Instant};

use crate::store::backoff::Backoff;
use crate::store::{Ledger, StoreError};

/// Up, or down since when, with how many reconnections tried and when the next one is due.
#[derive(Debug, Default)]
pub struct LedgerFault {
    down: Option<Down>,
}

#[derive(Debug)]
struct Down {
    why: String,
    attempts: i64,
    next_try: Instant,
}

impl LedgerFault {
    /// Notes a failed statement: a broken connection stops new work until it is made again;
    /// any other error is the statement's own (returns whether the ledger is now down).
    pub fn failed(&mut self, e: &StoreError, now: Instant) -> bool {
        if !e.is_connection() {
            return false;
        }
        if self.down.is_none() {
            tracing::error!("the ledger connection broke: {e}; no new work until it is back");
            self.down = Some(Down {
                why: e.to_string(),
                attempts: 0,
                next_try: now,
            });
        }
        true
    }

    /// Whether new work may be handed out: the ledger is up, or was just connected again.
    pub fn ready(&mut self, ledger: &Ledger, now: Instant) -> bool {
        let Some(down) = &mut self.down else {
            return true;
        };
        if now < down.next_try {
            return false;
        }
        match ledger.reconnect() {
            Ok(()) => {
                tracing::info!("the ledger is back after {} attempt(s)", down.attempts + 1);
                self.down = None;
                true
            }
            Err(e) => {
                down.attempts += 1;
                let wait = Backoff::LEDGER.after(down.attempts);
                down.why = e.to_string();
                down.next_try = now + Duration::from_secs(wait as u64);
                tracing::warn!("the ledger is still unreachable: {e}; next try in {wait}s");
                false
            }
        }
    }

    /// Why the daemon is not ready, for `/readyz` (`None` while the ledger is up).
    pub fn reason(&self) -> Option<String> {
        self.down.as_ref().map(|d| {
            format!(
                "the ledger is unreachable ({} reconnection(s) tried): {}; no new work is taken",
                d.attempts, d.why
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ledger::{PasswordSource, PostgresTarget};
    use crate::store::db::pg_cluster::{PgCluster, USER};

    /// PostgreSQL stopped: the loop's statement fails, work stops and `/readyz` says why;
    /// started again: the next due try connects again and work resumes.
    #[test]
    fn a_broken_ledger_stops_work_until_it_is_connected_again() {
        let mut cluster = PgCluster::start();
        let target = PostgresTarget {
            host: "127.0.0.1".into(),
            port: cluster.port,
            user: USER.into(),
            dbname: cluster.database(),
            password: PasswordSource::File(cluster.password_file.clone()),
            connect_timeout: Duration::from_secs(2),
            tls: Default::default(),
        };
        let ledger = Ledger::open_postgres(&target).expect("open");
        let mut fault = LedgerFault::default();
        let t0 = Instant::now();
        assert!(fault.ready(&ledger, t0));
        assert_eq!(fault.reason(), None);
        cluster.stop();
        let e = ledger.last_scheduled_run("p").expect_err("server stopped");
        assert!(fault.failed(&e, t0), "{e}");
        assert!(!fault.ready(&ledger, t0), "still stopped");
        let why = fault.reason().expect("a reason");
        assert!(
            why.contains("unreachable (1 reconnection(s) tried)"),
            "{why}"
        );
        // Not before the backoff's second: no try, still down.
        assert!(!fault.ready(&ledger, t0 + Duration::from_millis(500)));
        cluster.start_again();
        assert!(fault.ready(&ledger, t0 + Duration::from_secs(1)));
        assert_eq!(fault.reason(), None);
        assert_eq!(ledger.last_scheduled_run("p").expect("back"), None);
        // Not a connection error: the statement's own, work goes on.
        let other = StoreError::Export {
            why: "not a connection".into(),
        };
        assert!(!fault.failed(&other, t0));
        assert!(fault.ready(&ledger, t0));
    }
}
