//! The upload queue of outbound files bound for SFTP destinations: queued in the same
//! transaction as the outbound row, retried with backoff, `delivered` or `failed` for good.

use rusqlite::{params, OptionalExtension};

use super::backoff::Backoff;
use super::{DeliveryState, Ledger, StoreError};

/// What `record_outbound` queues alongside an outbound file.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    /// `sftp://user@host:port/folder`.
    pub target: String,
    /// Delivered whatever the run's end (acknowledgements); else only after a succeeded run.
    pub always: bool,
    /// The bytes to upload: the run's archived copy (relative to the home), which nobody
    /// consumes or moves, unlike the outbox copy an ERP may pick up.
    pub source: String,
}

/// One queued upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub run_id: String,
    pub destination: String,
    pub name: String,
    /// The run's archived copy of the file, relative to the home folder.
    pub path: String,
    pub sha256: String,
    pub target: String,
    pub state: DeliveryState,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    /// `uploaded` or `already-present` once delivered.
    pub outcome: Option<String>,
}

const COLUMNS: &str = "d.id, d.run_id, d.destination, d.name, d.path, d.sha256, d.target, d.state,
    d.attempts, d.next_attempt_at, d.last_error, d.delivered_at, d.outcome";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Delivery> {
    Ok(Delivery {
        id: r.get(0)?,
        run_id: r.get(1)?,
        destination: r.get(2)?,
        name: r.get(3)?,
        path: r.get(4)?,
        sha256: r.get(5)?,
        target: r.get(6)?,
        state: r.get(7)?,
        attempts: r.get(8)?,
        next_attempt_at: r.get(9)?,
        last_error: r.get(10)?,
        delivered_at: r.get(11)?,
        outcome: r.get(12)?,
    })
}

impl Ledger {
    /// Pending uploads of `pipeline` due at `now` (unix seconds) whose run allows delivery,
    /// oldest first.
    pub fn due_deliveries(&self, pipeline: &str, now: i64) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries d JOIN runs r ON r.run_id = d.run_id
             WHERE d.pipeline = ?1 AND d.state = 'pending' AND d.next_attempt_at <= ?2
               AND r.ended_at IS NOT NULL AND (d.always = 1 OR r.state = 'succeeded')
             ORDER BY d.id"
        );
        let mut stmt = self.connection().prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(params![pipeline, now], row)
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Every queued upload (all pipelines, or one run), for `tallyman runs` and tests.
    pub fn deliveries(&self, run_id: Option<&str>) -> Result<Vec<Delivery>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM deliveries d WHERE ?1 IS NULL OR d.run_id = ?1 ORDER BY d.id"
        );
        let mut stmt = self.connection().prepare(&sql).map_err(self.err())?;
        let rows = stmt.query_map([run_id], row).map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    /// Takes the lease on a pending upload for `owner` until `now + secs`: false when another
    /// live process holds it (its lease has not run out and its process still runs). A
    /// holder that died is replaced at once. Compare-and-set on the old owner, so two
    /// processes never both win.
    pub fn lease_delivery(
        &self,
        id: i64,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        let conn = self.connection();
        let held: Option<(Option<String>, Option<i64>)> = conn
            .query_row(
                "SELECT lease_owner, lease_until FROM deliveries WHERE id = ?1 AND state = 'pending'",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())?;
        let Some((holder, until)) = held else {
            return Ok(false);
        };
        if let (Some(h), Some(until)) = (&holder, until) {
            if h != owner && until > now && !super::lease::is_dead(h) {
                return Ok(false);
            }
        }
        let n = conn
            .execute(
                "UPDATE deliveries SET lease_owner = ?2, lease_until = ?3
                 WHERE id = ?1 AND state = 'pending' AND lease_owner IS ?4",
                params![id, owner, now + secs, holder],
            )
            .map_err(self.err())?;
        Ok(n == 1)
    }

    /// The upload is on the server: `outcome` says whether we wrote it or found it there.
    pub fn delivered(&self, id: i64, outcome: &str, now: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
                 delivered_at = ?2, outcome = ?3, last_error = NULL, lease_owner = NULL,
                 lease_until = NULL WHERE id = ?1",
                params![id, now, outcome],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// A failed try: retried after the backoff, or failed for good when `permanent`.
    pub fn delivery_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let attempts: i64 = self
            .connection()
            .query_row("SELECT attempts FROM deliveries WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(self.err())?;
        let attempts = attempts + 1;
        let state = if permanent {
            DeliveryState::Failed
        } else {
            DeliveryState::Pending
        };
        self.connection()
            .execute(
                "UPDATE deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5,
                 lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                params![id, state, attempts, now + Backoff::SFTP.after(attempts), error],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Puts a failed (or backing-off) upload back in the queue, due now.
    pub fn retry_delivery(&self, id: i64) -> Result<bool, StoreError> {
        self.connection()
            .execute(
                "UPDATE deliveries SET state = 'pending', next_attempt_at = 0
                 WHERE id = ?1 AND state != 'delivered'",
                [id],
            )
            .map(|n| n == 1)
            .map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use crate::store::backoff::Backoff;
    use crate::store::Ledger;

    fn ledger_with_one_upload() -> (tempfile::TempDir, Ledger) {
        let dir = tempfile::tempdir().expect("temp dir");
        let ledger = Ledger::open(&dir.path().join("ledger.sqlite")).expect("ledger");
        ledger
            .connection()
            .execute_batch(
                "INSERT INTO runs (run_id, pipeline, started_at, state, trigger)
                 VALUES ('r1', 'p', 'now', 'succeeded', 'file');
                 INSERT INTO deliveries (id, run_id, pipeline, destination, name, path, sha256,
                     target, always, state, next_attempt_at)
                 VALUES (1, 'r1', 'p', 'erp', 'a.csv', 'archive/a.csv', 'x', 'sftp://t', 0,
                     'pending', 0);",
            )
            .expect("rows");
        (dir, ledger)
    }

    #[test]
    fn a_lease_is_held_against_live_holders_and_taken_from_dead_or_expired_ones() {
        let (_dir, ledger) = ledger_with_one_upload();
        let me = crate::store::lease::owner();
        // A holder on another host is never judged dead: only its time ends its lease.
        let elsewhere = "elsewhere:1:1";
        assert!(ledger.lease_delivery(1, elsewhere, 100, 60).unwrap());
        assert!(!ledger.lease_delivery(1, &me, 159, 60).unwrap(), "held");
        assert!(ledger.lease_delivery(1, &me, 160, 60).unwrap(), "expired");
        assert!(
            !ledger.lease_delivery(1, elsewhere, 161, 60).unwrap(),
            "we are alive"
        );
        // A holder on this host whose process is gone: taken over at once.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        child.wait().expect("wait");
        let dead = format!(
            "{}:{}:1",
            me.rsplitn(3, ':').nth(2).unwrap_or_default(),
            child.id()
        );
        ledger
            .connection()
            .execute(
                "UPDATE deliveries SET lease_owner = ?1, lease_until = 10000",
                [&dead],
            )
            .unwrap();
        assert!(
            ledger.lease_delivery(1, &me, 200, 60).unwrap(),
            "dead holder"
        );
        // Delivered: nobody leases it any more, and the lease is cleared.
        ledger.delivered(1, "uploaded", "now").unwrap();
        assert!(!ledger.lease_delivery(1, elsewhere, 300, 60).unwrap());
        let owner: Option<String> = ledger
            .connection()
            .query_row("SELECT lease_owner FROM deliveries WHERE id = 1", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(owner, None);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let got: Vec<i64> = (1..=9).map(|n| Backoff::SFTP.after(n)).collect();
        assert_eq!(got, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
