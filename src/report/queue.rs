//! The mail queue in the ledger (SQLite): every report is stored before any send attempt.
//!
//! Lifecycle: `queued` -> `sent` (the relay answered 250, or the spool file is in place), or
//! `queued` -> `failed` (a 5xx reply, kept with the server's text for `tallyman mail`).
//! Connection refused, timeouts, TLS problems and 4xx replies leave a message `queued` with
//! exponential backoff. Retries send the stored bytes, so the Message-ID never changes.
//!
//! Crash windows (at-least-once, never lost): a row is claimed (attempts + 1, next attempt
//! pushed out by `CLAIM_LEASE_SECS`) before sending and marked `sent` right after the 250.
//! If the process dies between the server's 250 and that update, or the connection drops
//! after the final "." but before the 250 arrives, the message is sent again after the lease;
//! recipients see the same Message-ID twice, which mail clients fold into one.
//!
//! A claim records its holder (`lease_owner`, `store::lease::owner`); every flush first takes
//! over the leases of holders that died (a crash during the first send), so their messages
//! are due at once instead of after `CLAIM_LEASE_SECS`.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::mail::{parse_addresses, Mailer, OutgoingMail, SendFailure};

/// Ledger failures, with the operation that failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("mail queue: {op}: {source}")]
    Sql {
        op: &'static str,
        source: rusqlite::Error,
    },
    #[error("mail queue: encoding recipients of {message_id}: {source}")]
    Encode {
        message_id: String,
        source: serde_json::Error,
    },
    #[error("mail queue row {id}: unexpected state {state:?}")]
    BadState { id: i64, state: String },
}

fn sql(op: &'static str) -> impl FnOnce(rusqlite::Error) -> QueueError {
    move |source| QueueError::Sql { op, source }
}

/// First retry after a transient failure; doubled per attempt up to `MAX_BACKOFF_SECS`.
pub const BASE_BACKOFF_SECS: i64 = 60;
pub const MAX_BACKOFF_SECS: i64 = 6 * 3600;
/// How long a claimed row is hidden from other flushers while one sends it.
pub const CLAIM_LEASE_SECS: i64 = 15 * 60;

/// Where a queued message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    Queued,
    Sent,
    Failed,
}

impl QueueState {
    pub fn as_str(self) -> &'static str {
        match self {
            QueueState::Queued => "queued",
            QueueState::Sent => "sent",
            QueueState::Failed => "failed",
        }
    }
}

/// One row as `tallyman mail` lists it (without the message bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    pub run_id: String,
    pub pipeline: String,
    pub message_id: String,
    pub subject: String,
    pub recipients: Vec<String>,
    pub state: QueueState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// What one `flush` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    pub sent: usize,
    pub retry_later: usize,
    pub failed: usize,
}

/// Creates the queue table; safe to call on every start.
pub fn migrate(conn: &Connection) -> Result<(), QueueError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS mail_queue (
            id INTEGER PRIMARY KEY,
            run_id TEXT NOT NULL,
            pipeline TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            subject TEXT NOT NULL,
            envelope_from TEXT NOT NULL,
            recipients TEXT NOT NULL,          -- JSON array of addresses
            message BLOB NOT NULL,             -- the formatted RFC 5322 message
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at INTEGER NOT NULL,  -- unix seconds, UTC
            last_error TEXT,
            created_at INTEGER NOT NULL,
            sent_at INTEGER
        );
        CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue (state, next_attempt_at);
        CREATE TABLE IF NOT EXISTS mail_identity (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            tag TEXT NOT NULL              -- random, once per ledger: part of every Message-ID
        );",
    )
    .map_err(sql("create table"))?;
    let has_lease: bool = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('mail_queue') WHERE name = 'lease_owner'",
            [],
            |r| r.get::<_, i64>(0).map(|n| n > 0),
        )
        .map_err(sql("look for lease_owner"))?;
    if !has_lease {
        conn.execute_batch("ALTER TABLE mail_queue ADD COLUMN lease_owner TEXT")
            .map_err(sql("add lease_owner"))?;
    }
    // Looked for first, so an open of a ledger that has its tag writes nothing; OR IGNORE:
    // of two racing first opens, the first tag stays.
    let has_tag = conn
        .query_row("SELECT count(*) FROM mail_identity", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(sql("look for the home's Message-ID tag"))?
        > 0;
    if !has_tag {
        conn.execute(
            "INSERT OR IGNORE INTO mail_identity (id, tag) VALUES (1, ?1)",
            [random_tag()],
        )
        .map_err(sql("create the home's Message-ID tag"))?;
    }
    Ok(())
}

/// 16 hex digits from the kernel's random source (the time and pid if it cannot be read).
fn random_tag() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        bytes = (nanos ^ u64::from(std::process::id()).rotate_left(40)).to_le_bytes();
    }
    hex::encode(bytes)
}

/// This home's random Message-ID part (`MailSettings::message_id_tag`).
pub fn home_tag(conn: &Connection) -> Result<String, QueueError> {
    conn.query_row("SELECT tag FROM mail_identity WHERE id = 1", [], |r| {
        r.get(0)
    })
    .map_err(sql("read the home's Message-ID tag"))
}

/// Makes due at `now` every queued message whose claim is held by a process that died (a
/// crash mid-send); returns how many. Holders on other hosts, or still running, keep theirs.
pub fn take_over_dead_leases(conn: &Connection, now: i64) -> Result<usize, QueueError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, lease_owner FROM mail_queue
             WHERE state = 'queued' AND lease_owner IS NOT NULL AND next_attempt_at > ?1",
        )
        .map_err(sql("find leased messages"))?;
    let held: Vec<(i64, String)> = stmt
        .query_map([now], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(sql("find leased messages"))?
        .collect::<Result<_, _>>()
        .map_err(sql("read leased messages"))?;
    let mut taken = 0;
    for (id, owner) in held {
        if crate::store::lease::is_dead(&owner) {
            taken += conn
                .execute(
                    "UPDATE mail_queue SET next_attempt_at = ?2, lease_owner = NULL
                     WHERE id = ?1 AND lease_owner = ?3 AND state = 'queued'",
                    params![id, now, owner],
                )
                .map_err(sql("take over a dead lease"))?;
            tracing::warn!(id, holder = %owner, "mail: the process sending it died; due now");
        }
    }
    Ok(taken)
}

/// Stores a message, due at once. Returns the row id and whether it was new: the same
/// Message-ID enqueued twice (a repeated report step) keeps the first row untouched.
pub fn enqueue(
    conn: &Connection,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<(i64, bool), QueueError> {
    let recipients: Vec<&str> = mail.recipients.iter().map(AsRef::as_ref).collect();
    let recipients = serde_json::to_string(&recipients).map_err(|source| QueueError::Encode {
        message_id: mail.message_id.clone(),
        source,
    })?;
    let inserted = conn
        .execute(
            "INSERT INTO mail_queue (run_id, pipeline, message_id, subject, envelope_from, recipients,
                message, state, attempts, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', 0, ?8, ?8)
             ON CONFLICT (message_id) DO NOTHING",
            params![mail.run_id, mail.pipeline, mail.message_id, mail.subject, mail.from.as_ref() as &str,
                recipients, mail.bytes, now.timestamp()],
        )
        .map_err(sql("insert"))?;
    let id = conn
        .query_row(
            "SELECT id FROM mail_queue WHERE message_id = ?1",
            [&mail.message_id],
            |r| r.get(0),
        )
        .map_err(sql("look up enqueued row"))?;
    Ok((id, inserted == 1))
}

/// Backoff after the `attempts`-th failed attempt (1-based).
pub fn backoff_secs(attempts: u32) -> i64 {
    let shift = attempts.saturating_sub(1).min(20);
    (BASE_BACKOFF_SECS << shift).min(MAX_BACKOFF_SECS)
}

struct Claimed {
    id: i64,
    from: String,
    recipients: String,
    message_id: String,
    message: Vec<u8>,
    attempts: u32,
}

/// Claims the next due row in one statement (atomic in SQLite), so two flushers never send
/// the same row at once.
fn claim(conn: &Connection, now: i64, owner: &str) -> Result<Option<Claimed>, QueueError> {
    conn.query_row(
        "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = ?2, lease_owner = ?3
         WHERE id = (SELECT id FROM mail_queue WHERE state = 'queued' AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, id LIMIT 1)
         RETURNING id, envelope_from, recipients, message_id, message, attempts",
        params![now, now + CLAIM_LEASE_SECS, owner],
        |r| {
            Ok(Claimed {
                id: r.get(0)?,
                from: r.get(1)?,
                recipients: r.get(2)?,
                message_id: r.get(3)?,
                message: r.get(4)?,
                attempts: r.get(5)?,
            })
        },
    )
    .optional()
    .map_err(sql("claim due message"))
}

/// Sends every message due at `now`, each at most once per call.
pub fn flush(
    conn: &Connection,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<FlushSummary, QueueError> {
    let now_s = now.timestamp();
    let mut summary = FlushSummary::default();
    take_over_dead_leases(conn, now_s)?;
    let owner = crate::store::lease::owner();
    while let Some(c) = claim(conn, now_s, &owner)? {
        crate::failpoint::hit("mail-claimed");
        let outcome = match (
            c.from.parse(),
            serde_json::from_str::<Vec<String>>(&c.recipients),
        ) {
            (Ok(from), Ok(list)) => match parse_addresses(&list) {
                Ok(to) => mailer.deliver(&from, &to, &c.message_id, &c.message),
                Err(e) => Err(SendFailure::Permanent(format!(
                    "stored recipient unusable: {e}"
                ))),
            },
            _ => Err(SendFailure::Permanent(
                "stored envelope unusable".to_string(),
            )),
        };
        match outcome {
            Ok(()) => {
                conn.execute(
                    "UPDATE mail_queue SET state = 'sent', sent_at = ?2, last_error = NULL,
                     lease_owner = NULL WHERE id = ?1",
                    params![c.id, now_s],
                )
                .map_err(sql("mark sent"))?;
                tracing::info!(message_id = %c.message_id, attempts = c.attempts, "report mail sent");
                summary.sent += 1;
            }
            Err(SendFailure::Retry(why)) => {
                let next = now_s + backoff_secs(c.attempts);
                conn.execute(
                    "UPDATE mail_queue SET next_attempt_at = ?2, last_error = ?3, lease_owner = NULL
                     WHERE id = ?1",
                    params![c.id, next, why],
                )
                .map_err(sql("schedule retry"))?;
                tracing::warn!(message_id = %c.message_id, attempts = c.attempts, error = %why, "report mail deferred");
                summary.retry_later += 1;
            }
            Err(SendFailure::Permanent(why)) => {
                conn.execute(
                    "UPDATE mail_queue SET state = 'failed', last_error = ?2, lease_owner = NULL
                     WHERE id = ?1",
                    params![c.id, why],
                )
                .map_err(sql("mark failed"))?;
                tracing::error!(message_id = %c.message_id, error = %why, "report mail refused permanently");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

/// Puts a failed message back in the queue (an admin fixed the address or the relay).
pub fn requeue(conn: &Connection, id: i64, now: DateTime<Utc>) -> Result<bool, QueueError> {
    let n = conn
        .execute(
            "UPDATE mail_queue SET state = 'queued', next_attempt_at = ?2 WHERE id = ?1 AND state = 'failed'",
            params![id, now.timestamp()],
        )
        .map_err(sql("requeue"))?;
    Ok(n == 1)
}

/// Makes every queued message that is waiting out a retry backoff due at `now` (an operator's
/// `tallyman mail flush` after fixing a relay). Returns how many. A message another flusher is
/// sending right now may be sent twice (same Message-ID), never lost.
pub fn expedite(conn: &Connection, now: DateTime<Utc>) -> Result<usize, QueueError> {
    conn.execute(
        "UPDATE mail_queue SET next_attempt_at = ?1
         WHERE state = 'queued' AND next_attempt_at > ?1 AND last_error IS NOT NULL",
        params![now.timestamp()],
    )
    .map_err(sql("expedite"))
}

/// The stored message bytes, e.g. to archive them next to the run.
pub fn message_bytes(conn: &Connection, id: i64) -> Result<Option<Vec<u8>>, QueueError> {
    conn.query_row("SELECT message FROM mail_queue WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .optional()
    .map_err(sql("read message"))
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// Every queued, sent and failed message, newest first.
pub fn list(conn: &Connection) -> Result<Vec<QueuedMail>, QueueError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, run_id, pipeline, message_id, subject, recipients, state, attempts,
                    next_attempt_at, last_error, created_at, sent_at
             FROM mail_queue ORDER BY created_at DESC, id DESC",
        )
        .map_err(sql("prepare list"))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                QueuedMail {
                    id: r.get(0)?,
                    run_id: r.get(1)?,
                    pipeline: r.get(2)?,
                    message_id: r.get(3)?,
                    subject: r.get(4)?,
                    recipients: serde_json::from_str(&r.get::<_, String>(5)?).unwrap_or_default(),
                    state: QueueState::Queued,
                    attempts: r.get(7)?,
                    next_attempt_at: time(r.get(8)?),
                    last_error: r.get(9)?,
                    created_at: time(r.get(10)?),
                    sent_at: r.get::<_, Option<i64>>(11)?.map(time),
                },
                r.get::<_, String>(6)?,
            ))
        })
        .map_err(sql("list"))?;
    let mut out = Vec::new();
    for row in rows {
        let (mut mail, state) = row.map_err(sql("read row"))?;
        mail.state = match state.as_str() {
            "queued" => QueueState::Queued,
            "sent" => QueueState::Sent,
            "failed" => QueueState::Failed,
            _ => return Err(QueueError::BadState { id: mail.id, state }),
        };
        out.push(mail);
    }
    Ok(out)
}
