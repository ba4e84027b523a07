//! What the daemon must remember across restarts, in two small ledger tables: the last
//! scheduled run of each pipeline (so a missed window runs once after downtime), when each
//! pipeline's expected-file watch began, and which late windows already raised an alert.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, OptionalExtension};

use super::{FileState, Ledger, StoreError};

/// Times as the rest of the ledger writes them (RFC 3339, milliseconds, `Z`).
fn text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse(t: Option<String>) -> Option<DateTime<Utc>> {
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
        let v: Option<Option<String>> = self
            .connection()
            .query_row(
                &format!(
                    "SELECT {} FROM daemon_pipelines WHERE pipeline = ?1",
                    col.name()
                ),
                params![pipeline],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql("daemon tables: read a pipeline's times"))?;
        Ok(parse(v.flatten()))
    }

    fn set_daemon_time(
        &self,
        pipeline: &str,
        col: Column,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let col = col.name();
        self.connection()
            .execute(
                &format!(
                    "INSERT INTO daemon_pipelines (pipeline, {col}) VALUES (?1, ?2)
                     ON CONFLICT (pipeline) DO UPDATE SET {col} = excluded.{col}"
                ),
                params![pipeline, text(at)],
            )
            .map(|_| ())
            .map_err(self.sql("daemon tables: record a pipeline's time"))
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
        let mut stmt = self
            .connection()
            .prepare("SELECT pipeline, window_date FROM late_alerts")
            .map_err(self.sql("daemon tables: read alerts"))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.sql("daemon tables: read alerts"))?;
        let mut out = Vec::new();
        for row in rows {
            let (pipeline, date) = row.map_err(self.sql("daemon tables: read alerts"))?;
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
        self.connection()
            .execute(
                "INSERT OR IGNORE INTO late_alerts (pipeline, window_date, deadline, raised_at) VALUES (?1, ?2, ?3, ?4)",
                params![pipeline, date.to_string(), text(deadline), text(now)],
            )
            .map(|_| ())
            .map_err(self.sql("daemon tables: record an alert"))
    }

    /// Business dates that have had a file-triggered run, or a file held waiting for its ERP
    /// extract (it arrived: the partner is not late): the arrivals that close a window.
    pub fn arrival_dates(&self, pipeline: &str) -> Result<Vec<NaiveDate>, StoreError> {
        let mut stmt = self
            .connection()
            .prepare(
                "SELECT business_date FROM runs WHERE pipeline = ?1 AND trigger = 'file' AND business_date IS NOT NULL
                 UNION
                 SELECT business_date FROM files WHERE pipeline = ?1 AND state = ?2 AND business_date IS NOT NULL",
            )
            .map_err(self.sql("daemon tables: read arrivals"))?;
        let rows = stmt
            .query_map(params![pipeline, FileState::Waiting], |r| {
                r.get::<_, String>(0)
            })
            .map_err(self.sql("daemon tables: read arrivals"))?;
        let mut out = Vec::new();
        for row in rows {
            if let Ok(d) = row
                .map_err(self.sql("daemon tables: read arrivals"))?
                .parse()
            {
                out.push(d);
            }
        }
        Ok(out)
    }
}
