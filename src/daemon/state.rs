//! What the daemon must remember across restarts, in two small ledger tables: the last
//! scheduled run of each pipeline (so a missed window runs once after downtime), when each
//! pipeline's expected-file watch began, and which late windows already raised an alert.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::expected::WindowKey;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS daemon_pipelines (
    pipeline TEXT PRIMARY KEY,
    last_scheduled_run TEXT,
    expected_since TEXT
);
CREATE TABLE IF NOT EXISTS late_alerts (
    pipeline TEXT NOT NULL,
    window_date TEXT NOT NULL,
    deadline TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    PRIMARY KEY (pipeline, window_date)
);
";

pub type Result<T> = std::result::Result<T, rusqlite::Error>;

pub fn ensure(conn: &Connection) -> Result<()> {
    conn.execute_batch(SCHEMA)
}

fn text(t: DateTime<Utc>) -> String {
    crate::runner::now_text(t)
}

fn parse(t: Option<String>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.to_utc())
}

fn column(conn: &Connection, pipeline: &str, col: &str) -> Result<Option<DateTime<Utc>>> {
    let v: Option<Option<String>> = conn
        .query_row(
            &format!("SELECT {col} FROM daemon_pipelines WHERE pipeline = ?1"),
            params![pipeline],
            |r| r.get(0),
        )
        .optional()?;
    Ok(parse(v.flatten()))
}

fn set_column(conn: &Connection, pipeline: &str, col: &str, at: DateTime<Utc>) -> Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO daemon_pipelines (pipeline, {col}) VALUES (?1, ?2)
             ON CONFLICT (pipeline) DO UPDATE SET {col} = excluded.{col}"
        ),
        params![pipeline, text(at)],
    )
    .map(|_| ())
}

pub fn last_scheduled_run(conn: &Connection, pipeline: &str) -> Result<Option<DateTime<Utc>>> {
    column(conn, pipeline, "last_scheduled_run")
}

pub fn set_last_scheduled_run(conn: &Connection, pipeline: &str, at: DateTime<Utc>) -> Result<()> {
    set_column(conn, pipeline, "last_scheduled_run", at)
}

/// When the daemon began watching for a pipeline's expected file (set once, on first sight).
pub fn expected_since(
    conn: &Connection,
    pipeline: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>> {
    if let Some(t) = column(conn, pipeline, "expected_since")? {
        return Ok(t);
    }
    set_column(conn, pipeline, "expected_since", now)?;
    Ok(now)
}

/// Every late window already alerted.
pub fn raised(conn: &Connection) -> Result<Vec<WindowKey>> {
    let mut stmt = conn.prepare("SELECT pipeline, window_date FROM late_alerts")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (pipeline, date) = row?;
        if let Ok(date) = date.parse::<NaiveDate>() {
            out.push(WindowKey { pipeline, date });
        }
    }
    Ok(out)
}

pub fn record_alert(
    conn: &Connection,
    key: &WindowKey,
    deadline: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO late_alerts (pipeline, window_date, deadline, raised_at) VALUES (?1, ?2, ?3, ?4)",
        params![key.pipeline, key.date.to_string(), text(deadline), text(now)],
    )
    .map(|_| ())
}

/// Business dates that have had a file-triggered run, or a file held waiting for its ERP
/// extract (it arrived: the partner is not late): the arrivals that close a window.
pub fn business_dates(conn: &Connection, pipeline: &str) -> Result<Vec<NaiveDate>> {
    let mut stmt = conn.prepare(
        "SELECT business_date FROM runs WHERE pipeline = ?1 AND trigger = 'file' AND business_date IS NOT NULL
         UNION
         SELECT business_date FROM files WHERE pipeline = ?1 AND state = 'waiting' AND business_date IS NOT NULL",
    )?;
    let rows = stmt.query_map(params![pipeline], |r| r.get::<_, String>(0))?;
    let mut out = Vec::new();
    for row in rows {
        if let Ok(d) = row?.parse() {
            out.push(d);
        }
    }
    Ok(out)
}
