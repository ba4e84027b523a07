//! Renews a claimed file's lease while its run works, on a thread with its own connection to
//! the ledger, so a long run is not taken over by another daemon; the lease is released on the
//! run's own connection when the run ends (however short it was), or runs out if the process
//! dies.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::lease;
use crate::store::Ledger;

/// Renewing while alive; dropping it stops the renewals (and waits for the thread), then
/// releases the lease.
pub struct LeaseKeeper<'a> {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// The run's ledger and file, for the release at the end.
    release: Option<(&'a Ledger, i64)>,
}

impl<'a> LeaseKeeper<'a> {
    /// Starts renewing `file_id`'s lease every third of its length. A ledger that cannot be
    /// opened again (unreachable) is logged and the run goes on: its lease then lasts as long
    /// as the claim gave it.
    pub fn start(ledger: &'a Ledger, file_id: i64) -> LeaseKeeper<'a> {
        // Only a PostgreSQL ledger is shared: with SQLite there is nobody to keep out.
        let Some(mut again) = ledger.opener() else {
            return LeaseKeeper::idle();
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let secs = lease_secs();
        let every = Duration::from_millis((secs as u64 * 1000 / 3).max(100));
        let thread = std::thread::spawn(move || {
            let owner = lease::owner();
            // Connected at the first renewal: most runs end before it, and cost no connection
            // (their lease lasts as long as the claim or the takeover gave it).
            let mut conn: Option<Ledger> = None;
            loop {
                // The run ended (its own connection releases the lease).
                if stopped.recv_timeout(every) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                if conn.is_none() {
                    match again() {
                        Ok(l) => conn = Some(l),
                        Err(e) => {
                            tracing::warn!("file #{file_id}: cannot renew its lease: {e}");
                            continue;
                        }
                    }
                }
                let Some(l) = &conn else { continue };
                match l.renew_file_lease(file_id, &owner, now_secs() + secs) {
                    Ok(true) => {}
                    // Recorded already (its run ended) or taken over: nothing to keep.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!("file #{file_id}: renewing its lease failed: {e}");
                        if e.is_connection() {
                            let _ = l.reconnect();
                        }
                    }
                }
            }
        });
        LeaseKeeper {
            stop: Some(stop),
            thread: Some(thread),
            release: Some((ledger, file_id)),
        }
    }

    fn idle() -> LeaseKeeper<'a> {
        LeaseKeeper {
            stop: None,
            thread: None,
            release: None,
        }
    }
}

impl Drop for LeaseKeeper<'_> {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // The run ended: a file it left claimed (a failed run to retry) is any daemon's at
        // once, not after its lease runs out. Not while unwinding from a panic: the run's
        // connection may be in any state then, and the lease simply runs out.
        if let Some((ledger, file_id)) = self.release.take() {
            if std::thread::panicking() {
                return;
            }
            if let Err(e) = ledger.release_file_lease(file_id, &lease::owner()) {
                tracing::warn!("file #{file_id}: releasing its lease failed: {e}");
            }
        }
    }
}
