//! The upload queue of outbound files bound for SFTP destinations: queued in the same
//! transaction as the outbound row, retried with backoff, `delivered` or `failed` for good.

use super::backoff::Backoff;
use super::db::{DbError, Row};
use super::{DeliveryState, Ledger, StoreError};
use crate::db_args;

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

fn delivery(r: &Row) -> Result<Delivery, DbError> {
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
        self.rows(
            "list due uploads",
            &format!(
                "SELECT {COLUMNS} FROM deliveries d JOIN runs r ON r.run_id = d.run_id
                 WHERE d.pipeline = ?1 AND d.state = 'pending' AND d.next_attempt_at <= ?2
                   AND r.ended_at IS NOT NULL AND (d.always = 1 OR r.state = 'succeeded')
                 ORDER BY d.id"
            ),
            db_args![pipeline, now],
            delivery,
        )
    }

    /// Every queued upload (all pipelines, or one run), for `tallyman runs` and tests.
    pub fn deliveries(&self, run_id: Option<&str>) -> Result<Vec<Delivery>, StoreError> {
        self.rows(
            "list uploads",
            &format!(
                "SELECT {COLUMNS} FROM deliveries d
                 WHERE CAST(?1 AS TEXT) IS NULL OR d.run_id = ?1 ORDER BY d.id"
            ),
            db_args![run_id],
            delivery,
        )
    }

    /// Takes the lease on a pending upload for `owner` until `now + secs`: false when another
    /// live process holds it (its lease has not run out and its process still runs). A
    /// holder that died is replaced at once. Compare-and-set on the old owner, so two
    /// processes never both win (on PostgreSQL the second UPDATE waits for the first and
    /// finds the owner changed).
    pub fn lease_delivery(
        &self,
        id: i64,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<bool, StoreError> {
        let what = "lease an upload";
        let held: Option<(Option<String>, Option<i64>)> = self.row(
            what,
            "SELECT lease_owner, lease_until FROM deliveries WHERE id = ?1 AND state = 'pending'",
            db_args![id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((holder, until)) = held else {
            return Ok(false);
        };
        if let (Some(h), Some(until)) = (&holder, until) {
            if h != owner && until > now && !super::lease::is_dead(h) {
                return Ok(false);
            }
        }
        let n = self.exec(
            what,
            "UPDATE deliveries SET lease_owner = ?2, lease_until = ?3
             WHERE id = ?1 AND state = 'pending' AND lease_owner IS NOT DISTINCT FROM ?4",
            db_args![id, owner, now + secs, holder],
        )?;
        Ok(n == 1)
    }

    /// The upload is on the server: `outcome` says whether we wrote it or found it there.
    pub fn delivered(&self, id: i64, outcome: &str, now: &str) -> Result<(), StoreError> {
        self.exec(
            "mark an upload delivered",
            "UPDATE deliveries SET state = 'delivered', attempts = attempts + 1,
             delivered_at = ?2, outcome = ?3, last_error = NULL, lease_owner = NULL,
             lease_until = NULL WHERE id = ?1",
            db_args![id, now, outcome],
        )
        .map(|_| ())
    }

    /// A failed try: retried after the backoff, or failed for good when `permanent`.
    pub fn delivery_failed(
        &self,
        id: i64,
        error: &str,
        permanent: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let what = "record a failed upload";
        let attempts: i64 = self
            .row(
                what,
                "SELECT attempts FROM deliveries WHERE id = ?1",
                db_args![id],
                |r| r.get(0),
            )?
            .ok_or(StoreError::Query {
                ledger: self.name(),
                what,
                source: DbError::NoRow,
            })?;
        let attempts = attempts + 1;
        let state = if permanent {
            DeliveryState::Failed
        } else {
            DeliveryState::Pending
        };
        self.exec(
            what,
            "UPDATE deliveries SET state = ?2, attempts = ?3, next_attempt_at = ?4, last_error = ?5,
             lease_owner = NULL, lease_until = NULL WHERE id = ?1",
            db_args![id, state, attempts, now + Backoff::SFTP.after(attempts), error],
        )
        .map(|_| ())
    }

    /// Puts a failed (or backing-off) upload back in the queue, due now.
    pub fn retry_delivery(&self, id: i64) -> Result<bool, StoreError> {
        self.exec(
            "retry an upload",
            "UPDATE deliveries SET state = 'pending', next_attempt_at = 0
             WHERE id = ?1 AND state != 'delivered'",
            db_args![id],
        )
        .map(|n| n == 1)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::backoff::Backoff;

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let got: Vec<i64> = (1..=9).map(|n| Backoff::SFTP.after(n)).collect();
        assert_eq!(got, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
