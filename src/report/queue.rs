//! Sending the mail queue: every report is stored in the ledger (`store::mail_queue`) before
//! any send attempt; this decides what a send's outcome does to the stored row.
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

use super::mail::{parse_addresses, Mailer, OutgoingMail, SendFailure};
use crate::store::backoff::Backoff;
use crate::store::mail_queue::NewMail;
use crate::store::{Ledger, StoreError};

use crate::store::mail_queue::QueuedMail;

/// What went wrong with the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("mail queue: encoding recipients of {message_id}: {source}")]
    Encode {
        message_id: String,
        source: serde_json::Error,
    },
}

/// How long a claimed row is hidden from other flushers while one sends it.
pub const CLAIM_LEASE_SECS: i64 = 15 * 60;

/// What one `flush` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    pub sent: usize,
    pub retry_later: usize,
    pub failed: usize,
}

/// Makes due at `now` every queued message whose claim is held by a process that died (a
/// crash mid-send); returns how many. Holders on other hosts, or still running, keep theirs.
pub fn take_over_dead_leases(ledger: &Ledger, now: i64) -> Result<usize, QueueError> {
    let mut taken = 0;
    for (id, owner) in ledger.leased_mail(now)? {
        if crate::store::lease::is_dead(&owner) {
            taken += usize::from(ledger.release_mail_lease(id, &owner, now)?);
            tracing::warn!(id, holder = %owner, "mail: the process sending it died; due now");
        }
    }
    Ok(taken)
}

/// Stores a message, due at once. Returns the row id and whether it was new: the same
/// Message-ID enqueued twice (a repeated report step) keeps the first row untouched.
pub fn enqueue(
    ledger: &Ledger,
    mail: &OutgoingMail,
    now: DateTime<Utc>,
) -> Result<(i64, bool), QueueError> {
    let recipients: Vec<&str> = mail.recipients.iter().map(AsRef::as_ref).collect();
    let recipients = serde_json::to_string(&recipients).map_err(|source| QueueError::Encode {
        message_id: mail.message_id.clone(),
        source,
    })?;
    let new = NewMail {
        run_id: &mail.run_id,
        pipeline: &mail.pipeline,
        message_id: &mail.message_id,
        subject: &mail.subject,
        envelope_from: mail.from.as_ref(),
        recipients_json: &recipients,
        message: &mail.bytes,
    };
    Ok(ledger.enqueue_mail(&new, now.timestamp())?)
}

/// Sends every message due at `now`, each at most once per call.
pub fn flush(
    ledger: &Ledger,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<FlushSummary, QueueError> {
    let now_s = now.timestamp();
    let mut summary = FlushSummary::default();
    take_over_dead_leases(ledger, now_s)?;
    let owner = crate::store::lease::owner();
    while let Some(c) = ledger.claim_mail(now_s, &owner, CLAIM_LEASE_SECS)? {
        crate::failpoint::hit("mail-claimed");
        let outcome = match (
            c.envelope_from.parse(),
            serde_json::from_str::<Vec<String>>(&c.recipients_json),
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
                ledger.mail_sent(c.id, now_s)?;
                tracing::info!(message_id = %c.message_id, attempts = c.attempts, "report mail sent");
                summary.sent += 1;
            }
            Err(SendFailure::Retry(why)) => {
                let next = now_s + Backoff::MAIL.after(i64::from(c.attempts));
                ledger.mail_deferred(c.id, next, &why)?;
                tracing::warn!(message_id = %c.message_id, attempts = c.attempts, error = %why, "report mail deferred");
                summary.retry_later += 1;
            }
            Err(SendFailure::Permanent(why)) => {
                ledger.mail_failed(c.id, &why)?;
                tracing::error!(message_id = %c.message_id, error = %why, "report mail refused permanently");
                summary.failed += 1;
            }
        }
    }
    Ok(summary)
}

/// Puts a failed message back in the queue (an admin fixed the address or the relay).
pub fn requeue(ledger: &Ledger, id: i64, now: DateTime<Utc>) -> Result<bool, QueueError> {
    Ok(ledger.requeue_mail(id, now.timestamp())?)
}

/// Makes every queued message that is waiting out a retry backoff due at `now` (an operator's
/// `tallyman mail flush` after fixing a relay). Returns how many. A message another flusher is
/// sending right now may be sent twice (same Message-ID), never lost.
pub fn expedite(ledger: &Ledger, now: DateTime<Utc>) -> Result<usize, QueueError> {
    Ok(ledger.expedite_mail(now.timestamp())?)
}

/// The stored message bytes, e.g. to archive them next to the run.
pub fn message_bytes(ledger: &Ledger, id: i64) -> Result<Option<Vec<u8>>, QueueError> {
    Ok(ledger.mail_message(id)?)
}

/// Every queued, sent and failed message, newest first.
pub fn list(ledger: &Ledger) -> Result<Vec<QueuedMail>, QueueError> {
    Ok(ledger.mail_queue()?)
}
