//! Leases on claimed files, for several daemons sharing one ledger: a claim leases the file to
//! its process (`lease::owner`) until a time in unix seconds; the run renews it while it works;
//! recovery takes over only files whose lease ran out or whose holder is known dead, so a file
//! is worked on by one daemon at a time and a killed daemon's file is finished by another.

use super::db::{Dialect, Exec};
use super::{Ledger, StoreError};
use crate::db_args;

/// A lease's length when `TALLYMAN_FILE_LEASE_SECS` does not say: long enough for renewals
/// every third of it to survive a slow moment, short enough that a dead host's file waits
/// about a minute.
pub const DEFAULT_LEASE_SECS: i64 = 60;

/// How long a lease on a file lasts: `TALLYMAN_FILE_LEASE_SECS` (cluster tests shorten it so a
/// killed daemon's file is taken over within seconds), or `DEFAULT_LEASE_SECS`.
pub fn lease_secs() -> i64 {
    std::env::var("TALLYMAN_FILE_LEASE_SECS")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(DEFAULT_LEASE_SECS)
}

/// Now, in unix seconds (the unit of `files.lease_until`, as of the queues' leases).
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// When a lease taken now ends.
pub(super) fn lease_end() -> i64 {
    now_secs() + lease_secs()
}

/// Whether a lease held by `holder` until `until` may be taken by `owner` at `now`: nobody
/// holds it, it ran out, it is ours already, or its holder is known dead (same host, pid gone).
/// On SQLite always: its ledger is one machine's, whose processes take a pipeline's files only
/// while holding the pipeline's lock, which proves any other holder gone (as recovery always
/// assumed: a `run` retries at once a file a live `serve` left claimed after a failed run).
fn takeable(
    dialect: Dialect,
    holder: Option<&str>,
    until: Option<i64>,
    owner: &str,
    now: i64,
) -> bool {
    if dialect == Dialect::Sqlite {
        return true;
    }
    match (holder, until) {
        (Some(h), Some(until)) => h == owner || until <= now || super::lease::is_dead(h),
        _ => true,
    }
}

/// What a compare-and-set on one file's lease takes.
#[derive(Debug, Clone, Copy)]
enum Taking {
    /// The lease of a file in any state.
    Lease,
    /// A file `waiting` for its ERP extract, back to `claimed` with the lease.
    WaitingFile,
}

impl Taking {
    /// What it is for, the holder's read and the compare-and-set (`?1` the file, `?2` the new
    /// holder, `?3` its end, `?4` the holder read).
    fn sql(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Taking::Lease => (
                "take a file's lease",
                "SELECT lease_owner, lease_until FROM files WHERE id = ?1",
                "UPDATE files SET lease_owner = ?2, lease_until = ?3
                 WHERE id = ?1 AND lease_owner IS NOT DISTINCT FROM ?4",
            ),
            Taking::WaitingFile => (
                "take a waiting file",
                "SELECT lease_owner, lease_until FROM files WHERE id = ?1 AND state = 'waiting'",
                "UPDATE files SET state = 'claimed', reason = NULL, lease_owner = ?2, lease_until = ?3
                 WHERE id = ?1 AND state = 'waiting' AND lease_owner IS NOT DISTINCT FROM ?4",
            ),
        }
    }
}

impl Ledger {
    /// Keeps `file_id` leased to `owner` until `until`: false when it is no longer ours (it ran
    /// out and another daemon took it) or the file is no longer claimed or waiting.
    pub fn renew_file_lease(
        &self,
        file_id: i64,
        owner: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.exec(
            "renew a file's lease",
            "UPDATE files SET lease_until = ?3
             WHERE id = ?1 AND lease_owner = ?2 AND state IN ('claimed', 'waiting')",
            db_args![file_id, owner, until],
        )
        .map(|n| n == 1)
    }

    /// Takes `file_id`'s lease for `owner` until `now + secs` unless another live daemon holds
    /// it: compare-and-set on the old holder, so two daemons never both win.
    pub fn take_file_lease(
        &self,
        file_id: i64,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        self.take_one(Taking::Lease, file_id, owner, now, secs)
    }

    /// Takes, for `owner` until `now + secs`, the leases of `pipeline`'s claimed files that no
    /// live daemon holds, and returns the ids of those it now holds. One transaction: on
    /// PostgreSQL the rows are locked as read and rows another daemon is taking are passed
    /// over (SKIP LOCKED); SQLite has one writer at a time.
    pub fn take_file_leases(
        &self,
        pipeline: &str,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let what = "take the leases of claimed files";
        let mut conn = self.db();
        let mut tx = conn.write().map_err(self.q(what))?;
        let dialect = tx.dialect();
        let rows = tx
            .query(
                &format!(
                    "SELECT id, lease_owner, lease_until FROM files
                     WHERE pipeline = ?1 AND state = 'claimed' ORDER BY id{}",
                    tx.dialect().skip_locked()
                ),
                db_args![pipeline],
            )
            .map_err(self.q(what))?;
        let mut taken = Vec::new();
        for r in rows {
            let id: i64 = r.get(0).map_err(self.q(what))?;
            let holder: Option<String> = r.get(1).map_err(self.q(what))?;
            let until: Option<i64> = r.get(2).map_err(self.q(what))?;
            if takeable(dialect, holder.as_deref(), until, owner, now) {
                tx.execute(
                    "UPDATE files SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                    db_args![id, owner, now + secs],
                )
                .map_err(self.q(what))?;
                taken.push(id);
            }
        }
        tx.commit().map_err(self.q(what))?;
        Ok(taken)
    }

    /// Takes a file `waiting` for its ERP extract back to `claimed`, leased to `owner` until
    /// `now + secs`, when no live daemon holds its lease: false when another daemon took it
    /// first (compare-and-set on its state and old holder, so one daemon runs it).
    pub fn take_waiting_file(
        &self,
        file_id: i64,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        self.take_one(Taking::WaitingFile, file_id, owner, now, secs)
    }

    /// One file's lease taken by compare-and-set: its holder read, judged, and replaced only if
    /// still the same.
    fn take_one(
        &self,
        taking: Taking,
        file_id: i64,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        let (what, read, write) = taking.sql();
        let held: Option<(Option<String>, Option<i64>)> =
            self.row(what, read, db_args![file_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let Some((holder, until)) = held else {
            return Ok(false);
        };
        if !takeable(self.dialect(), holder.as_deref(), until, owner, now) {
            return Ok(false);
        }
        let n = self.exec(what, write, db_args![file_id, owner, now + secs, holder])?;
        Ok(n == 1)
    }

    /// Gives up `owner`'s lease on `file_id` (its run ended; a file left claimed for another
    /// try is then free for any daemon at once).
    pub fn release_file_lease(&self, file_id: i64, owner: &str) -> Result<(), StoreError> {
        self.exec(
            "release a file's lease",
            "UPDATE files SET lease_owner = NULL, lease_until = NULL
             WHERE id = ?1 AND lease_owner = ?2",
            db_args![file_id, owner],
        )
        .map(|_| ())
    }

    /// Who holds `file_id`'s lease and until when (for messages and tests).
    pub fn file_lease(&self, file_id: i64) -> Result<Option<(String, i64)>, StoreError> {
        let held: Option<(Option<String>, Option<i64>)> = self.row(
            "read a file's lease",
            "SELECT lease_owner, lease_until FROM files WHERE id = ?1",
            db_args![file_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(held.and_then(|(h, u)| h.zip(u)))
    }
}

impl Ledger {
    /// How to open a second connection to the same PostgreSQL ledger, for a thread that renews
    /// leases while the run works on the first. `None` for SQLite: its ledger is one machine's,
    /// where a holder is judged dead by its pid at once and the pipeline's lock keeps out the
    /// others.
    pub fn opener(&self) -> Option<impl FnMut() -> Result<Ledger, StoreError> + Send + 'static> {
        let target = self.postgres.as_ref()?.target.clone();
        Some(move || Ledger::open_postgres(&target))
    }
}
