//! The mail queue's tables (`mail_queue`, `mail_identity`): every report stored before any send
//! is tried, claimed with a lease before a send, marked sent, deferred or failed. Sending is
//! `report::queue`'s; this is only what the ledger remembers.

use super::{Ledger, MailState, StoreError};
use crate::db_args;
use chrono::{DateTime, Utc};

/// One row as `tallyman mail` lists it (without the message bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: i64,
    pub run_id: String,
    pub pipeline: String,
    pub message_id: String,
    pub subject: String,
    pub recipients: Vec<String>,
    pub state: MailState,
    pub attempts: u32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// A message to store, due at once.
#[derive(Debug, Clone, Copy)]
pub struct NewMail<'a> {
    pub run_id: &'a str,
    pub pipeline: &'a str,
    pub message_id: &'a str,
    pub subject: &'a str,
    pub envelope_from: &'a str,
    /// The recipients as a JSON array of addresses.
    pub recipients_json: &'a str,
    pub message: &'a [u8],
}

/// A row claimed for sending.
#[derive(Debug, Clone)]
pub struct ClaimedMail {
    pub id: i64,
    pub envelope_from: String,
    /// JSON array of addresses, as stored.
    pub recipients_json: String,
    pub message_id: String,
    pub message: Vec<u8>,
    /// Tries so far, this one included.
    pub attempts: u32,
}

/// 16 hex digits from the kernel's random source (the time and pid if it cannot be read): the
/// home's part of every Message-ID, made once per ledger by its migration.
pub(super) fn random_tag() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default() as u64;
        bytes = (nanos ^ u64::from(std::process::id()).rotate_left(40)).to_le_bytes();
    }
    hex::encode(bytes)
}

fn time(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

impl Ledger {
    /// This home's random Message-ID part (`MailSettings::message_id_tag`).
    pub fn home_tag(&self) -> Result<String, StoreError> {
        self.one_row(
            "mail queue: read the home's Message-ID tag",
            "SELECT tag FROM mail_identity WHERE id = 1",
            &[],
            |r| r.get(0),
        )
    }

    /// Stores a message, due at `now` (unix seconds). Returns the row id and whether it was
    /// new: the same Message-ID enqueued twice keeps the first row untouched.
    pub fn enqueue_mail(&self, mail: &NewMail<'_>, now: i64) -> Result<(i64, bool), StoreError> {
        let inserted = self.exec(
            "mail queue: insert",
            "INSERT INTO mail_queue (run_id, pipeline, message_id, subject, envelope_from, recipients,
                message, state, attempts, next_attempt_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, 0, ?8, ?8)
             ON CONFLICT (message_id) DO NOTHING",
            db_args![
                mail.run_id,
                mail.pipeline,
                mail.message_id,
                mail.subject,
                mail.envelope_from,
                mail.recipients_json,
                mail.message,
                now,
                MailState::Queued
            ],
        )?;
        let id = self.one_row(
            "mail queue: look up enqueued row",
            "SELECT id FROM mail_queue WHERE message_id = ?1",
            db_args![mail.message_id],
            |r| r.get(0),
        )?;
        Ok((id, inserted == 1))
    }

    /// Queued messages whose claim is held at `now` (unix seconds): (id, holder).
    pub fn leased_mail(&self, now: i64) -> Result<Vec<(i64, String)>, StoreError> {
        self.rows(
            "mail queue: find leased messages",
            "SELECT id, lease_owner FROM mail_queue
             WHERE state = ?2 AND lease_owner IS NOT NULL AND next_attempt_at > ?1",
            db_args![now, MailState::Queued],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Makes message `id` due at `now` if `owner` still holds its claim; whether it did.
    pub fn release_mail_lease(&self, id: i64, owner: &str, now: i64) -> Result<bool, StoreError> {
        self.exec(
            "mail queue: take over a dead lease",
            "UPDATE mail_queue SET next_attempt_at = ?2, lease_owner = NULL
             WHERE id = ?1 AND lease_owner = ?3 AND state = ?4",
            db_args![id, now, owner, MailState::Queued],
        )
        .map(|n| n == 1)
    }

    /// Claims the next row due at `now` for `owner`, hidden from other flushers for
    /// `lease_secs`, in one statement: two flushers never send the same row at once (SQLite
    /// has one writer; PostgreSQL skips a row another flusher has locked, and the due test is
    /// repeated on the row as it is when the update takes it).
    pub fn claim_mail(
        &self,
        now: i64,
        owner: &str,
        lease_secs: i64,
    ) -> Result<Option<ClaimedMail>, StoreError> {
        self.row(
            "mail queue: claim due message",
            &format!(
                "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = ?2, lease_owner = ?3
                 WHERE id = (SELECT id FROM mail_queue WHERE state = ?4 AND next_attempt_at <= ?1
                             ORDER BY next_attempt_at, id LIMIT 1{})
                   AND state = ?4 AND next_attempt_at <= ?1
                 RETURNING id, envelope_from, recipients, message_id, message, attempts",
                self.dialect().skip_locked()
            ),
            db_args![now, now + lease_secs, owner, MailState::Queued],
            |r| {
                Ok(ClaimedMail {
                    id: r.get(0)?,
                    envelope_from: r.get(1)?,
                    recipients_json: r.get(2)?,
                    message_id: r.get(3)?,
                    message: r.get(4)?,
                    attempts: r.get(5)?,
                })
            },
        )
    }

    /// The relay took message `id` at `now` (unix seconds).
    pub fn mail_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.exec(
            "mail queue: mark sent",
            "UPDATE mail_queue SET state = ?3, sent_at = ?2, last_error = NULL,
             lease_owner = NULL WHERE id = ?1",
            db_args![id, now, MailState::Sent],
        )
        .map(|_| ())
    }

    /// A transient failure: message `id` is tried again at `next` (unix seconds).
    pub fn mail_deferred(&self, id: i64, next: i64, why: &str) -> Result<(), StoreError> {
        self.exec(
            "mail queue: schedule retry",
            "UPDATE mail_queue SET next_attempt_at = ?2, last_error = ?3, lease_owner = NULL
             WHERE id = ?1",
            db_args![id, next, why],
        )
        .map(|_| ())
    }

    /// Message `id` was refused for good.
    pub fn mail_failed(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.exec(
            "mail queue: mark failed",
            "UPDATE mail_queue SET state = ?3, last_error = ?2, lease_owner = NULL
             WHERE id = ?1",
            db_args![id, why, MailState::Failed],
        )
        .map(|_| ())
    }

    /// Puts a failed message back in the queue, due at `now`; whether it was failed.
    pub fn requeue_mail(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.exec(
            "mail queue: requeue",
            "UPDATE mail_queue SET state = ?3, next_attempt_at = ?2 WHERE id = ?1 AND state = ?4",
            db_args![id, now, MailState::Queued, MailState::Failed],
        )
        .map(|n| n == 1)
    }

    /// Makes every queued message waiting out a retry backoff due at `now`; how many.
    pub fn expedite_mail(&self, now: i64) -> Result<usize, StoreError> {
        self.exec(
            "mail queue: expedite",
            "UPDATE mail_queue SET next_attempt_at = ?1
             WHERE state = ?2 AND next_attempt_at > ?1 AND last_error IS NOT NULL",
            db_args![now, MailState::Queued],
        )
        .map(|n| n as usize)
    }

    /// The stored message bytes of row `id`.
    pub fn mail_message(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.row(
            "mail queue: read message",
            "SELECT message FROM mail_queue WHERE id = ?1",
            db_args![id],
            |r| r.get(0),
        )
    }

    /// Every queued, sent and failed message, newest first.
    pub fn mail_queue(&self) -> Result<Vec<QueuedMail>, StoreError> {
        let rows = self.rows(
            "mail queue: list",
            "SELECT id, run_id, pipeline, message_id, subject, recipients, state, attempts,
                    next_attempt_at, last_error, created_at, sent_at
             FROM mail_queue ORDER BY created_at DESC, id DESC",
            &[],
            |r| {
                Ok((
                    QueuedMail {
                        id: r.get(0)?,
                        run_id: r.get(1)?,
                        pipeline: r.get(2)?,
                        message_id: r.get(3)?,
                        subject: r.get(4)?,
                        recipients: serde_json::from_str(&r.get::<String>(5)?).unwrap_or_default(),
                        state: MailState::Queued,
                        attempts: r.get(7)?,
                        next_attempt_at: time(r.get(8)?),
                        last_error: r.get(9)?,
                        created_at: time(r.get(10)?),
                        sent_at: r.get::<Option<i64>>(11)?.map(time),
                    },
                    r.get::<String>(6)?,
                ))
            },
        )?;
        let mut out = Vec::new();
        for (mut mail, state) in rows {
            mail.state = state.parse().map_err(|_| StoreError::Unexpected {
                path: self.name().into(),
                what: "mail_queue.state",
                value: state,
            })?;
            out.push(mail);
        }
        Ok(out)
    }
}
