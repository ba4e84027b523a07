//! Uploading outbound files to SFTP destinations: the queue the runs filled in the ledger, one
//! connection per destination per pass, `upload_atomic` (temp name, fsync, rename), then the
//! ledger. A crash between the rename and the ledger update is repaired by the next pass: the
//! final file is found with our sha256 and counted as delivered, never uploaded twice.
//!
//! Each upload is leased in the ledger before a byte is written (`Ledger::lease_delivery`), so
//! `uploads push` and `serve` (or two `run`s) never upload the same file at once; a lease of
//! a process that died is taken over at once. Temps of our naming that nobody has written to
//! for a while (a crash's leftovers) are removed once per destination and pass.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use chrono::Utc;

use super::now_text;
use crate::config::{Home, Pipeline};
use crate::store::deliveries::{Delivery, NewDelivery};
use crate::store::{Ledger, StoreError};
use crate::transport::sftp::{with_retry, SftpError, UploadOutcome, UploadSource};

/// What one delivery pass did.
#[derive(Debug, Default)]
pub struct DeliverySummary {
    pub uploaded: usize,
    pub already_present: usize,
    /// Each failed try, with host, path and step; the upload stays queued unless it failed
    /// for good.
    pub errors: Vec<DeliveryError>,
    /// Uploads another live process holds the lease of (it is uploading them now).
    pub leased_elsewhere: usize,
}

/// One failed try of an upload pass.
#[derive(Debug, Clone)]
pub struct DeliveryError {
    /// What failed, with host, path and step.
    pub message: String,
    /// Retrying cannot help (a different file under the final name, bytes that are not the
    /// run's): a person must look. Otherwise it is tried again with backoff.
    pub permanent: bool,
}

impl std::fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl DeliveryError {
    fn retried(message: String) -> Self {
        DeliveryError {
            message,
            permanent: false,
        }
    }

    fn for_good(message: String) -> Self {
        DeliveryError {
            message,
            permanent: true,
        }
    }
}

/// How long an upload's lease lasts if its holder neither finishes nor dies (a holder that
/// died is replaced at once).
const UPLOAD_LEASE_SECS: i64 = 3600;

/// What `record_outbound` should queue for a file written to `destination`.
pub fn queue_for(
    p: &Pipeline,
    destination: &str,
    always: bool,
    archived: &str,
) -> Option<NewDelivery> {
    p.destinations.get(destination).map(|ep| NewDelivery {
        target: ep.url(),
        always,
        source: archived.to_string(),
    })
}

/// Uploads every due file of `p`'s SFTP destinations. Only ledger failures are errors; a
/// server that is down leaves its files queued (with the error) and does not stop the others.
pub fn deliver_pending(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
) -> Result<DeliverySummary, StoreError> {
    let mut summary = DeliverySummary::default();
    if p.destinations.is_empty() {
        return Ok(summary);
    }
    let due = ledger.due_deliveries(&p.id, Utc::now().timestamp())?;
    let mut by_destination: BTreeMap<&str, Vec<&Delivery>> = BTreeMap::new();
    for d in &due {
        by_destination.entry(&d.destination).or_default().push(d);
    }
    for (destination, rows) in by_destination {
        let Some(ep) = p.destinations.get(destination) else {
            let why = format!("{}: destination `{destination}` no longer has an [destinations.{destination}.sftp]; upload left queued", p.id);
            summary.errors.push(DeliveryError::retried(why));
            continue;
        };
        let client = match with_retry(2, Duration::from_secs(1), || ep.connect()) {
            Ok(c) => c,
            Err(e) => {
                let why = format!("{}: connect to {}: {e}", p.id, ep.url());
                tracing::warn!(pipeline = %p.id, destination, "upload postponed: {why}");
                for d in rows {
                    ledger.delivery_failed(d.id, &why, false, Utc::now().timestamp())?;
                }
                summary.errors.push(DeliveryError::retried(why));
                continue;
            }
        };
        // A temp no upload has written to for twice the I/O timeout belongs to no live
        // upload (a stalled one fails after one timeout).
        let stale_after = ep.io_timeout * 2 + Duration::from_secs(60);
        match client.clean_stale_temps(&ep.folder, stale_after, SystemTime::now()) {
            Ok(removed) => {
                for name in removed {
                    tracing::info!(pipeline = %p.id, destination, temp = %crate::transport::sftp::escaped(&name), "removed a stale upload temp of ours");
                }
            }
            Err(e) => {
                tracing::warn!(pipeline = %p.id, destination, "cleaning stale upload temps: {e}")
            }
        }
        let owner = crate::store::lease::owner();
        for d in rows {
            if !ledger.lease_delivery(d.id, &owner, Utc::now().timestamp(), UPLOAD_LEASE_SECS)? {
                tracing::info!(pipeline = %p.id, destination, file = %d.name, "another process is uploading it; skipped");
                summary.leased_elsewhere += 1;
                continue;
            }
            let local = home.root.join(&d.path);
            match client.upload_atomic(UploadSource::Path(&local), &ep.folder, &d.name) {
                Ok(outcome) => {
                    crate::failpoint::hit("delivery-uploaded");
                    let (word, sha) = match &outcome {
                        UploadOutcome::Uploaded { sha256, .. } => ("uploaded", sha256),
                        UploadOutcome::AlreadyPresent { sha256, .. } => ("already-present", sha256),
                    };
                    if sha != &d.sha256 {
                        // The outbox copy is not what the run wrote: never deliver it silently.
                        let why = format!(
                            "{}: {} (archived copy) has sha256 {sha}, the ledger recorded {}; delivered bytes differ from the run's output",
                            p.id, d.path, d.sha256
                        );
                        ledger.delivery_failed(d.id, &why, true, Utc::now().timestamp())?;
                        summary.errors.push(DeliveryError::for_good(why));
                        continue;
                    }
                    ledger.delivered(d.id, word, &now_text(Utc::now()))?;
                    tracing::info!(pipeline = %p.id, destination, file = %d.name, target = %d.target, "{word}");
                    match outcome {
                        UploadOutcome::Uploaded { .. } => summary.uploaded += 1,
                        UploadOutcome::AlreadyPresent { .. } => summary.already_present += 1,
                    }
                }
                Err(e) => {
                    // A different file under the final name never resolves by waiting.
                    let permanent = matches!(e, SftpError::FinalExistsDifferent { .. });
                    let why = format!(
                        "{}: upload {} to {}: {e}{}",
                        p.id,
                        d.name,
                        d.target,
                        if permanent { " (failed for good)" } else { "" }
                    );
                    tracing::warn!(pipeline = %p.id, destination, file = %d.name, "{why}");
                    ledger.delivery_failed(d.id, &why, permanent, Utc::now().timestamp())?;
                    summary.errors.push(DeliveryError {
                        message: why,
                        permanent,
                    });
                }
            }
        }
    }
    Ok(summary)
}
