//! A scheduled tick fires once across the daemons sharing a ledger: a daemon takes the tick's
//! lease before it runs the tick, renews it while the tick runs and records the tick done
//! after; a daemon that dies mid-tick leaves a lease that runs out (or whose holder is seen
//! dead), and another takes the tick.

use chrono::{DateTime, Utc};

use super::daemon_state::{parse, text};
use super::{Ledger, StoreError};
use crate::db_args;

/// What asking for a tick gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// Ours to run; `finish_tick` records it done.
    Taken,
    /// Run already (by this daemon or another): nothing to do.
    Done,
    /// Another live daemon is running it: ask again later (it is taken over if that daemon
    /// dies before it is done).
    Held,
}

impl Ledger {
    /// Takes scheduled tick `fire` of `pipeline` for `owner` until `now + secs` (unix seconds):
    /// compare-and-set on the old holder, so of the daemons asking at once exactly one gets
    /// `Taken` (on PostgreSQL the second UPDATE waits for the first and finds the holder
    /// changed).
    pub fn take_tick(
        &self,
        pipeline: &str,
        fire: DateTime<Utc>,
        owner: &str,
        now: i64,
        secs: i64,
    ) -> Result<Tick, StoreError> {
        let what = "daemon tables: take a scheduled tick";
        self.exec(
            what,
            "INSERT INTO daemon_pipelines (pipeline) VALUES (?1) ON CONFLICT DO NOTHING",
            db_args![pipeline],
        )?;
        let (last, holder, until): (Option<String>, Option<String>, Option<i64>) = self
            .row(
                what,
                "SELECT last_scheduled_run, tick_owner, tick_until FROM daemon_pipelines
                 WHERE pipeline = ?1",
                db_args![pipeline],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .unwrap_or_default();
        if parse(last).is_some_and(|last| last >= fire) {
            return Ok(Tick::Done);
        }
        if let (Some(h), Some(until)) = (&holder, until) {
            if h != owner && until > now && !super::lease::is_dead(h) {
                return Ok(Tick::Held);
            }
        }
        // Times are RFC 3339 text of one width (milliseconds, `Z`): ordered as text.
        let n = self.exec(
            what,
            "UPDATE daemon_pipelines SET tick_owner = ?3, tick_until = ?4
             WHERE pipeline = ?1 AND (last_scheduled_run IS NULL OR last_scheduled_run < ?2)
               AND tick_owner IS NOT DISTINCT FROM ?5",
            db_args![pipeline, text(fire), owner, now + secs, holder],
        )?;
        // Lost the race: the winner holds it now (asked again, it may be done by then).
        Ok(if n == 1 { Tick::Taken } else { Tick::Held })
    }

    /// Keeps `owner`'s lease on tick `fire` of `pipeline` until `until` while the tick runs:
    /// false when it is no longer ours (it ran out and another daemon took it, or the tick is
    /// recorded done).
    pub fn renew_tick(
        &self,
        pipeline: &str,
        fire: DateTime<Utc>,
        owner: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        self.exec(
            "daemon tables: renew a scheduled tick's lease",
            "UPDATE daemon_pipelines SET tick_until = ?4
             WHERE pipeline = ?1 AND tick_owner = ?3
               AND (last_scheduled_run IS NULL OR last_scheduled_run < ?2)",
            db_args![pipeline, text(fire), owner, until],
        )
        .map(|n| n == 1)
    }

    /// Records tick `fire` of `pipeline` run (the last scheduled run moves forward only) and
    /// gives up `owner`'s lease on it.
    pub fn finish_tick(
        &self,
        pipeline: &str,
        fire: DateTime<Utc>,
        owner: &str,
    ) -> Result<(), StoreError> {
        let what = "daemon tables: record a scheduled tick run";
        self.exec(
            what,
            "INSERT INTO daemon_pipelines (pipeline) VALUES (?1) ON CONFLICT DO NOTHING",
            db_args![pipeline],
        )?;
        self.exec(
            what,
            "UPDATE daemon_pipelines SET last_scheduled_run = ?2
             WHERE pipeline = ?1 AND (last_scheduled_run IS NULL OR last_scheduled_run < ?2)",
            db_args![pipeline, text(fire)],
        )?;
        self.exec(
            what,
            "UPDATE daemon_pipelines SET tick_owner = NULL, tick_until = NULL
             WHERE pipeline = ?1 AND tick_owner = ?2",
            db_args![pipeline, owner],
        )
        .map(|_| ())
    }
}
