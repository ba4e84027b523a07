//! The mail queue's tables (`mail_queue`, `mail_identity`): every report stored before any send
//! is tried, claimed with a lease before a send, marked sent, deferred or failed. Sending is
//! `report::queue`'s; this is only what the ledger remembers.

use chrono::{DateTime, Utc};
use rusqlite::{params, OptionalExtension};

use super::{Ledger, MailState, StoreError};

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
        self.connection()
            .query_row("SELECT tag FROM mail_identity WHERE id = 1", [], |r| {
                r.get(0)
            })
            .map_err(self.sql("mail queue: read the home's Message-ID tag"))
    }

    /// Stores a message, due at `now` (unix seconds). Returns the row id and whether it was
    /// new: the same Message-ID enqueued twice keeps the first row untouched.
    pub fn enqueue_mail(&self, mail: &NewMail<'_>, now: i64) -> Result<(i64, bool), StoreError> {
        let conn = self.connection();
        let inserted = conn
            .execute(
                "INSERT INTO mail_queue (run_id, pipeline, message_id, subject, envelope_from, recipients,
                    message, state, attempts, next_attempt_at, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?9, 0, ?8, ?8)
                 ON CONFLICT (message_id) DO NOTHING",
                params![
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
            )
            .map_err(self.sql("mail queue: insert"))?;
        let id = conn
            .query_row(
                "SELECT id FROM mail_queue WHERE message_id = ?1",
                [mail.message_id],
                |r| r.get(0),
            )
            .map_err(self.sql("mail queue: look up enqueued row"))?;
        Ok((id, inserted == 1))
    }

    /// Queued messages whose claim is held at `now` (unix seconds): (id, holder).
    pub fn leased_mail(&self, now: i64) -> Result<Vec<(i64, String)>, StoreError> {
        let mut stmt = self
            .connection()
            .prepare(
                "SELECT id, lease_owner FROM mail_queue
                 WHERE state = ?2 AND lease_owner IS NOT NULL AND next_attempt_at > ?1",
            )
            .map_err(self.sql("mail queue: find leased messages"))?;
        let rows = stmt
            .query_map(params![now, MailState::Queued], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .map_err(self.sql("mail queue: find leased messages"))?;
        rows.collect::<Result<_, _>>()
            .map_err(self.sql("mail queue: read leased messages"))
    }

    /// Makes message `id` due at `now` if `owner` still holds its claim; whether it did.
    pub fn release_mail_lease(&self, id: i64, owner: &str, now: i64) -> Result<bool, StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET next_attempt_at = ?2, lease_owner = NULL
                 WHERE id = ?1 AND lease_owner = ?3 AND state = ?4",
                params![id, now, owner, MailState::Queued],
            )
            .map(|n| n == 1)
            .map_err(self.sql("mail queue: take over a dead lease"))
    }

    /// Claims the next row due at `now` for `owner`, hidden from other flushers for
    /// `lease_secs`, in one statement (atomic in SQLite): two flushers never send the same row
    /// at once.
    pub fn claim_mail(
        &self,
        now: i64,
        owner: &str,
        lease_secs: i64,
    ) -> Result<Option<ClaimedMail>, StoreError> {
        self.connection()
            .query_row(
                "UPDATE mail_queue SET attempts = attempts + 1, next_attempt_at = ?2, lease_owner = ?3
                 WHERE id = (SELECT id FROM mail_queue WHERE state = ?4 AND next_attempt_at <= ?1
                             ORDER BY next_attempt_at, id LIMIT 1)
                 RETURNING id, envelope_from, recipients, message_id, message, attempts",
                params![now, now + lease_secs, owner, MailState::Queued],
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
            .optional()
            .map_err(self.sql("mail queue: claim due message"))
    }

    /// The relay took message `id` at `now` (unix seconds).
    pub fn mail_sent(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET state = ?3, sent_at = ?2, last_error = NULL,
                 lease_owner = NULL WHERE id = ?1",
                params![id, now, MailState::Sent],
            )
            .map(|_| ())
            .map_err(self.sql("mail queue: mark sent"))
    }

    /// A transient failure: message `id` is tried again at `next` (unix seconds).
    pub fn mail_deferred(&self, id: i64, next: i64, why: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET next_attempt_at = ?2, last_error = ?3, lease_owner = NULL
                 WHERE id = ?1",
                params![id, next, why],
            )
            .map(|_| ())
            .map_err(self.sql("mail queue: schedule retry"))
    }

    /// Message `id` was refused for good.
    pub fn mail_failed(&self, id: i64, why: &str) -> Result<(), StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET state = ?3, last_error = ?2, lease_owner = NULL
                 WHERE id = ?1",
                params![id, why, MailState::Failed],
            )
            .map(|_| ())
            .map_err(self.sql("mail queue: mark failed"))
    }

    /// Puts a failed message back in the queue, due at `now`; whether it was failed.
    pub fn requeue_mail(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET state = ?3, next_attempt_at = ?2 WHERE id = ?1 AND state = ?4",
                params![id, now, MailState::Queued, MailState::Failed],
            )
            .map(|n| n == 1)
            .map_err(self.sql("mail queue: requeue"))
    }

    /// Makes every queued message waiting out a retry backoff due at `now`; how many.
    pub fn expedite_mail(&self, now: i64) -> Result<usize, StoreError> {
        self.connection()
            .execute(
                "UPDATE mail_queue SET next_attempt_at = ?1
                 WHERE state = ?2 AND next_attempt_at > ?1 AND last_error IS NOT NULL",
                params![now, MailState::Queued],
            )
            .map_err(self.sql("mail queue: expedite"))
    }

    /// The stored message bytes of row `id`.
    pub fn mail_message(&self, id: i64) -> Result<Option<Vec<u8>>, StoreError> {
        self.connection()
            .query_row("SELECT message FROM mail_queue WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.sql("mail queue: read message"))
    }

    /// Every queued, sent and failed message, newest first.
    pub fn mail_queue(&self) -> Result<Vec<QueuedMail>, StoreError> {
        let mut stmt = self
            .connection()
            .prepare(
                "SELECT id, run_id, pipeline, message_id, subject, recipients, state, attempts,
                        next_attempt_at, last_error, created_at, sent_at
                 FROM mail_queue ORDER BY created_at DESC, id DESC",
            )
            .map_err(self.sql("mail queue: prepare list"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    QueuedMail {
                        id: r.get(0)?,
                        run_id: r.get(1)?,
                        pipeline: r.get(2)?,
                        message_id: r.get(3)?,
                        subject: r.get(4)?,
                        recipients: serde_json::from_str(&r.get::<_, String>(5)?)
                            .unwrap_or_default(),
                        state: MailState::Queued,
                        attempts: r.get(7)?,
                        next_attempt_at: time(r.get(8)?),
                        last_error: r.get(9)?,
                        created_at: time(r.get(10)?),
                        sent_at: r.get::<_, Option<i64>>(11)?.map(time),
                    },
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(self.sql("mail queue: list"))?;
        let mut out = Vec::new();
        for row in rows {
            let (mut mail, state) = row.map_err(self.sql("mail queue: read row"))?;
            mail.state = state.parse().map_err(|_| StoreError::Unexpected {
                path: self.connection().path().map(Into::into).unwrap_or_default(),
                what: "mail_queue.state",
                value: state,
            })?;
            out.push(mail);
        }
        Ok(out)
    }
}
