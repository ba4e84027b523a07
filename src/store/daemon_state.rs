//! What the daemon must remember across restarts, in two small ledger tables: the last
//! scheduled run of each pipeline (so a missed window runs once after downtime), when each
//! pipeline's expected-file watch began, and which late windows already raised an alert.

use chrono::{DateTime, NaiveDate, Utc};

use super::db::Exec;
use super::{FileState, Ledger, StoreError};
use crate::db_args;

/// Times as the rest of the ledger writes them (RFC 3339, milliseconds, `Z`).
pub(super) fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(super) fn parse(t: Option<String>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.to_utc())
}

/// The time columns of `daemon_pipelines`, named here only (they are spliced into SQL).
#[derive(Debug, Clone, Copy)]
enum Column {
    LastScheduledRun,
    ExpectedSince,
}

impl Column {
    fn name(self) -> &'static str {
        match self {
            Column::LastScheduledRun => "last_scheduled_run",
            Column::ExpectedSince => "expected_since",
        }
    }
}

impl Ledger {
    fn daemon_time(
        &self,
        pipeline: &str,
        col: Column,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let what = "daemon tables: read a pipeline's times";
        let row = self
            .db()
            .query_opt(
                &format!(
                    "SELECT {} FROM daemon_pipelines WHERE pipeline = ?1",
                    col.name()
                ),
                db_args![pipeline],
            )
            .map_err(self.q(what))?;
        let v: Option<Option<String>> = row.map(|r| r.get(0)).transpose().map_err(self.q(what))?;
        Ok(parse(v.flatten()))
    }

    fn set_daemon_time(
        &self,
        pipeline: &str,
        col: Column,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let col = col.name();
        self.db()
            .execute(
                &format!(
                    "INSERT INTO daemon_pipelines (pipeline, {col}) VALUES (?1, ?2)
                     ON CONFLICT (pipeline) DO UPDATE SET {col} = excluded.{col}"
                ),
                db_args![pipeline, text(at)],
            )
            .map(|_| ())
            .map_err(self.q("daemon tables: record a pipeline's time"))
    }

    /// When `pipeline` last ran on its schedule, if ever.
    pub fn last_scheduled_run(&self, pipeline: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.daemon_time(pipeline, Column::LastScheduledRun)
    }

    pub fn set_last_scheduled_run(
        &self,
        pipeline: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.set_daemon_time(pipeline, Column::LastScheduledRun, at)
    }

    /// When the daemon began watching for a pipeline's expected file (set once, on first sight).
    pub fn expected_since(
        &self,
        pipeline: &str,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        if let Some(t) = self.daemon_time(pipeline, Column::ExpectedSince)? {
            return Ok(t);
        }
        self.set_daemon_time(pipeline, Column::ExpectedSince, now)?;
        Ok(now)
    }

    /// Every late window already alerted: (pipeline, business date).
    pub fn raised_alerts(&self) -> Result<Vec<(String, NaiveDate)>, StoreError> {
        let what = "daemon tables: read alerts";
        let rows = self
            .db()
            .query("SELECT pipeline, window_date FROM late_alerts", &[])
            .map_err(self.q(what))?;
        let mut out = Vec::new();
        for row in rows {
            let (pipeline, date): (String, String) = (
                row.get(0).map_err(self.q(what))?,
                row.get(1).map_err(self.q(what))?,
            );
            if let Ok(date) = date.parse::<NaiveDate>() {
                out.push((pipeline, date));
            }
        }
        Ok(out)
    }

    /// Records the alert of `pipeline`'s late window for business date `date` (once).
    pub fn record_alert(
        &self,
        pipeline: &str,
        date: NaiveDate,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.db()
            .execute(
                "INSERT INTO late_alerts (pipeline, window_date, deadline, raised_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                db_args![pipeline, date.to_string(), text(deadline), text(now)],
            )
            .map(|_| ())
            .map_err(self.q("daemon tables: record an alert"))
    }

    /// Business dates that have had a file-triggered run, or a file held waiting for its ERP
    /// extract (it arrived: the partner is not late): the arrivals that close a window.
    pub fn arrival_dates(&self, pipeline: &str) -> Result<Vec<NaiveDate>, StoreError> {
        let what = "daemon tables: read arrivals";
        let rows = self
            .db()
            .query(
                "SELECT business_date FROM runs WHERE pipeline = ?1 AND trigger = 'file' AND business_date IS NOT NULL
                 UNION
                 SELECT business_date FROM files WHERE pipeline = ?1 AND state = ?2 AND business_date IS NOT NULL",
                db_args![pipeline, FileState::Waiting],
            )
            .map_err(self.q(what))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(d) = row.get::<String>(0).map_err(self.q(what))?.parse() {
                out.push(d);
            }
        }
        Ok(out)
    }
}
