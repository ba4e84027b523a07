//! Renews a lease while its work goes on (a claimed file's while its run works, a scheduled
//! tick's while the tick runs), on a thread with its own connection to the ledger, so long work
//! is not taken over by another daemon. A file's lease is released on the run's own connection
//! when the run ends (however short it was); a tick's is given up when the tick is recorded
//! done (`finish_tick`). Either runs out if the process dies.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::{lease, Ledger, StoreError};

/// What is held.
#[derive(Debug, Clone)]
enum Held {
    File(i64),
    Tick {
        pipeline: String,
        fire: DateTime<Utc>,
    },
}

impl Held {
    /// Renews it until `until`: false when it is no longer ours (taken over, or done).
    fn renew(&self, ledger: &Ledger, owner: &str, until: i64) -> Result<bool, StoreError> {
        match self {
            Held::File(id) => ledger.renew_file_lease(*id, owner, until),
            Held::Tick { pipeline, fire } => ledger.renew_tick(pipeline, *fire, owner, until),
        }
    }

    fn name(&self) -> String {
        match self {
            Held::File(id) => format!("file #{id}"),
            Held::Tick { pipeline, fire } => format!("{pipeline}'s tick {fire}"),
        }
    }
}

/// Renewing while alive; dropping it stops the renewals (and waits for the thread), then
/// releases a file's lease.
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
        if !ledger.is_shared() {
            return LeaseKeeper::idle();
        }
        let mut keeper = LeaseKeeper::renewing(ledger, Held::File(file_id), lease_secs());
        keeper.release = Some((ledger, file_id));
        keeper
    }

    fn idle() -> LeaseKeeper<'a> {
        LeaseKeeper {
            stop: None,
            thread: None,
            release: None,
        }
    }

    /// A thread renewing `held` for `secs` every third of `secs`.
    fn renewing(ledger: &Ledger, held: Held, secs: i64) -> LeaseKeeper<'a> {
        let Some(mut again) = ledger.opener() else {
            return LeaseKeeper::idle();
        };
        let (stop, stopped) = mpsc::channel::<()>();
        let every = Duration::from_millis((secs as u64 * 1000 / 3).max(100));
        let thread = std::thread::spawn(move || {
            let owner = lease::owner();
            let what = held.name();
            // Connected at the first renewal: most runs end before it, and cost no connection
            // (their lease lasts as long as the claim or the takeover gave it).
            let mut conn: Option<Ledger> = None;
            loop {
                // The work ended (a file's lease is released on the run's own connection).
                if stopped.recv_timeout(every) != Err(RecvTimeoutError::Timeout) {
                    return;
                }
                if conn.is_none() {
                    match again() {
                        Ok(l) => conn = Some(l),
                        Err(e) => {
                            tracing::warn!("{what}: cannot renew its lease: {e}");
                            continue;
                        }
                    }
                }
                let Some(l) = &conn else { continue };
                match held.renew(l, &owner, now_secs() + secs) {
                    Ok(true) => {}
                    // Recorded already (the work ended) or taken over: nothing to keep.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!("{what}: renewing its lease failed: {e}");
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
            release: None,
        }
    }
}

impl LeaseKeeper<'static> {
    /// Keeps tick `fire` of `pipeline` (taken by the daemon's loop) while the tick runs: renewed
    /// once at once on `ledger` and then every third of its length. `None` when it is no
    /// longer ours: the job waited for a worker past the lease and another daemon took the
    /// tick over (or ran it already), so this one must not run it again.
    pub fn keep_tick(
        ledger: &Ledger,
        pipeline: &str,
        fire: DateTime<Utc>,
    ) -> Result<Option<LeaseKeeper<'static>>, StoreError> {
        LeaseKeeper::keep_tick_for(ledger, pipeline, fire, lease_secs())
    }

    fn keep_tick_for(
        ledger: &Ledger,
        pipeline: &str,
        fire: DateTime<Utc>,
        secs: i64,
    ) -> Result<Option<LeaseKeeper<'static>>, StoreError> {
        let held = Held::Tick {
            pipeline: pipeline.to_string(),
            fire,
        };
        if !held.renew(ledger, &lease::owner(), now_secs() + secs)? {
            return Ok(None);
        }
        Ok(Some(LeaseKeeper::renewing(ledger, held, secs)))
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

#[cfg(test)]
#[path = "lease_keeper_tests.rs"]
mod tests;
