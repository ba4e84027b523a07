//! A pipeline whose partner drops files on an SFTP server: list, settle across two listings,
//! download into the landing area (verified against the listing), claim, and only then delete,
//! move or keep the remote file (and remove its done marker); then the same processing as a
//! local drop.
//!
//! A server that refuses the after-claim action (no delete permission, a missing `move_to`
//! folder) does not stop the pipeline: the claimed file is processed once, the action is
//! recorded in the ledger (`remote_actions`) and retried with backoff at the start of later
//! passes, and the file is not fetched again meanwhile. A file that cannot be fetched
//! (permission denied, a dropped connection) is an error of the pass with host, path and step,
//! recorded in `source_status`; the other files go on.

use std::time::{Duration, SystemTime};

use chrono::Utc;

use super::{claim_landed, RunError, Summary, Taken};
use crate::config::sftp::{AfterClaim, SftpEndpoint};
use crate::config::{Home, Pipeline};
use crate::store::files::{land_produced, Landed};
use crate::store::source_status::{FailedAction, RemoteAction};
use crate::store::{Ledger, RemoteActionState};
use crate::transport::settle::{Settler, Sighting, Wait};
use crate::transport::sftp::{escaped, with_retry, SftpClient, SftpError};

fn transport(p: &Pipeline, e: impl std::fmt::Display) -> RunError {
    RunError::Data {
        pipeline: p.id.clone(),
        message: format!("sftp: {e}"),
    }
}

/// Processes what is complete on the pipeline's SFTP source, once (`tallyman run`): two
/// listings a settle window apart (waiting up to `max_wait`), then each complete file. The
/// pass's success or failure is recorded for `tallyman runs`.
pub fn run_sftp(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    max_wait: Duration,
) -> Result<Summary, RunError> {
    let result = run_sftp_once(home, ledger, p, ep, max_wait);
    record(
        ledger,
        p,
        ep,
        result.as_ref().map(|s| s.source_errors.as_slice()),
    )?;
    result
}

/// Records a pass's outcome in `source_status`: failed when the pass failed or a file could
/// not be fetched.
fn record(
    ledger: &Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    result: Result<&[String], &RunError>,
) -> Result<(), RunError> {
    let now = super::now_text(chrono::Utc::now());
    match result {
        Ok([]) => ledger.source_ok(&p.id, &ep.url(), &now)?,
        Ok(errors) => ledger.source_failed(&p.id, &ep.url(), &errors.join("; "), &now)?,
        Err(e) => ledger.source_failed(&p.id, &ep.url(), &e.to_string(), &now)?,
    }
    Ok(())
}

fn run_sftp_once(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    max_wait: Duration,
) -> Result<Summary, RunError> {
    let client =
        with_retry(3, Duration::from_secs(1), || ep.connect()).map_err(|e| transport(p, e))?;
    let mut summary = Summary::default();
    retry_remote_actions(ledger, p, ep, &client, &mut summary)?;
    let mut settler = Settler::new();
    let (_, listed) = look(&client, p, &mut settler, &mut summary)?;
    if listed == 0 {
        return Ok(summary);
    }
    let wait = settler
        .next_look_in(&p.source.settle, SystemTime::now())
        .unwrap_or_default()
        .min(max_wait);
    std::thread::sleep(wait);
    summary.refused.clear();
    let (ready, _) = look(&client, p, &mut settler, &mut summary)?;
    take(home, ledger, p, ep, &client, ready, &mut summary)?;
    Ok(summary)
}

/// One listing with a caller-kept `Settler` (`tallyman serve` keeps one per pipeline across
/// polls, so a file seen unchanged across two polls is taken without sleeping in between).
/// Returns the pass and when to look again while files are still settling.
pub fn sftp_pass(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    settler: &mut Settler,
) -> Result<(Summary, Option<Duration>), RunError> {
    let result = sftp_pass_once(home, ledger, p, ep, settler);
    record(
        ledger,
        p,
        ep,
        result.as_ref().map(|(s, _)| s.source_errors.as_slice()),
    )?;
    result
}

fn sftp_pass_once(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    settler: &mut Settler,
) -> Result<(Summary, Option<Duration>), RunError> {
    let client =
        with_retry(2, Duration::from_secs(1), || ep.connect()).map_err(|e| transport(p, e))?;
    let mut summary = Summary::default();
    retry_remote_actions(ledger, p, ep, &client, &mut summary)?;
    let (ready, _) = look(&client, p, settler, &mut summary)?;
    take(home, ledger, p, ep, &client, ready, &mut summary)?;
    let next = if summary.waiting.is_empty() {
        None
    } else {
        settler.next_look_in(&p.source.settle, SystemTime::now())
    };
    Ok((summary, next))
}

/// Lists the remote folder and feeds the settler: the files complete now (refused entries and
/// the ones still settling go into `summary`), and how many candidate files were listed.
fn look(
    client: &SftpClient,
    p: &Pipeline,
    settler: &mut Settler,
    summary: &mut Summary,
) -> Result<(Vec<Sighting>, usize), RunError> {
    let listing = client
        .list_detailed(p.source.settle.done_marker.as_deref())
        .map_err(|e| transport(p, e))?;
    for skipped in &listing.skipped {
        // The name is the partner's: escaped, so it cannot forge output lines.
        summary.refused.push((
            escaped(&skipped.name),
            format!("refused on the server: {}", skipped.why),
        ));
    }
    let (ready, waiting) = settler.look(&p.source.settle, &listing.files, SystemTime::now());
    summary.waiting = waiting
        .into_iter()
        .filter(|(_, w)| !matches!(w, Wait::NeverTaken | Wait::IsMarker))
        .collect();
    Ok((ready, listing.files.len()))
}

/// Downloads, verifies, claims and processes each ready file.
fn take(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    client: &SftpClient,
    ready: Vec<Sighting>,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let landing = home.var().join("landing").join(&p.id);
    for s in ready {
        if matches!(ep.after_claim, AfterClaim::Keep) && already_kept(ledger, p, &s)? {
            continue;
        }
        // Taken already; only its delete or move is owed (retried by `retry_remote_actions`).
        if ledger.remote_action_pending(&p.id, &s.name, s.size, mtime_secs(&s))? {
            continue;
        }
        let fetched = land_produced(&landing, &s.name, |file, staging| {
            client.fetch_into(&s, file, staging, &mut |_| {})
        })?;
        let (path, fetched) = match fetched {
            Ok(f) => f,
            Err(e @ SftpError::ChangedDuringDownload { .. }) => {
                tracing::info!(pipeline = %p.id, file = %s.name, "not taken this time: {e}");
                summary.waiting.push((s.name.clone(), Wait::Changing));
                continue;
            }
            Err(e) => {
                tracing::error!(pipeline = %p.id, file = %s.name, "not fetched: {e}");
                summary.source_errors.push(format!("{}: {e}", p.id));
                // A dropped or stalled connection fails every later step on it too (a stall
                // after a full I/O timeout each): the rest waits for the next pass.
                if e.is_retryable() {
                    break;
                }
                continue;
            }
        };
        let landed = Landed {
            path,
            size: fetched.bytes,
            sha256: fetched.sha256.clone(),
        };
        let mut refused = Vec::new();
        let taken = claim_landed(home, ledger, p, &s.name, landed, &mut || {
            refused = after_claim(client, ep, p, &s);
            Ok(())
        })?;
        for (action, e) in refused {
            remote_action_failed(ledger, p, ep, &s, &action, &e, summary)?;
        }
        if matches!(ep.after_claim, AfterClaim::Keep) {
            remember_kept(ledger, p, &s)?;
        }
        match taken {
            Taken::Duplicate(n) => summary.duplicates.push(n),
            Taken::Process {
                file_id,
                landed,
                arrived,
            } => match super::erp_wait::process_or_wait(
                home, ledger, p, file_id, &s.name, &landed, arrived,
            )? {
                super::FileResult::Processed(o) => summary.outcomes.push(*o),
                super::FileResult::Waiting(n, why) => summary.erp_waiting.push((n, why)),
                super::FileResult::Duplicate(n) => summary.duplicates.push(n),
                super::FileResult::Changed(n) => summary.waiting.push((n, Wait::Changing)),
                super::FileResult::Paused(n, why) => summary.refused.push((n, why)),
            },
            Taken::Changed => summary.waiting.push((s.name.clone(), Wait::Changing)),
        }
    }
    Ok(())
}

/// The action owed to a taken file, as stored in `remote_actions.action`.
fn action_text(ep: &SftpEndpoint) -> Option<String> {
    match &ep.after_claim {
        AfterClaim::Delete => Some("delete".into()),
        AfterClaim::Move { to } => Some(format!("move:{to}")),
        AfterClaim::Keep => None,
    }
}

const MARKER_ACTION: &str = "delete-marker:";

/// What happens to the partner's copy once the claim is durable: delete or move it, then
/// remove its done marker (a marker left behind would let the partner's next upload of the
/// same name be taken mid-write). A kept file keeps its marker: a marker older than the file
/// proves nothing (`Settler`), and the kept file is remembered by the caller. Returns the
/// actions the server refused, for the ledger; a refusal never fails the claimed file.
fn after_claim(
    client: &SftpClient,
    ep: &SftpEndpoint,
    p: &Pipeline,
    s: &Sighting,
) -> Vec<(String, SftpError)> {
    let mut refused = Vec::new();
    let Some(action) = action_text(ep) else {
        return refused;
    };
    if let Err(e) = perform(client, s, &action) {
        tracing::warn!(pipeline = %p.id, file = %s.name, "{action} after the claim refused (retried later): {e}");
        refused.push((action, e));
    }
    if let Some(m) = &p.source.settle.done_marker {
        let marker = format!("{}{m}", s.name);
        let action = format!("{MARKER_ACTION}{marker}");
        if let Err(e) = perform(client, s, &action) {
            tracing::warn!(pipeline = %p.id, file = %marker, "removing the done marker refused (retried later): {e}");
            refused.push((action, e));
        }
    }
    refused
}

/// Carries out one stored action. The data file is touched only while it is still the one
/// taken (same size and mtime); a file gone already counts as done.
fn perform(client: &SftpClient, s: &Sighting, action: &str) -> Result<ActionEnd, SftpError> {
    let now = client.stat_name(&s.name)?;
    let replaced = now.is_some_and(|(size, mtime)| size != s.size || mtime as i64 != mtime_secs(s));
    if let Some(marker) = action.strip_prefix(MARKER_ACTION) {
        // A new upload of the name has its own marker now: not ours to remove.
        if replaced {
            return Ok(ActionEnd::Replaced);
        }
        return match client.delete(marker) {
            Ok(()) => Ok(ActionEnd::Done),
            Err(e) if e.is_not_found() => Ok(ActionEnd::Done),
            Err(e) => Err(e),
        };
    }
    if now.is_none() {
        return Ok(ActionEnd::Gone);
    }
    if replaced {
        return Ok(ActionEnd::Replaced);
    }
    let done = match action.strip_prefix("move:") {
        Some(to) => client.move_to(&s.name, to).map(|_| ()),
        None => client.delete(&s.name),
    };
    match done {
        Ok(()) => Ok(ActionEnd::Done),
        Err(e) if e.is_not_found() && client.stat_name(&s.name)?.is_none() => Ok(ActionEnd::Gone),
        Err(e) => Err(e),
    }
}

/// How an after-claim action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActionEnd {
    Done,
    /// The file is no longer on the server (someone else removed it).
    Gone,
    /// Another file has its name now (the partner uploaded again): left alone.
    Replaced,
}

fn remote_action_failed(
    ledger: &Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    s: &Sighting,
    action: &str,
    e: &SftpError,
    summary: &mut Summary,
) -> Result<(), RunError> {
    let error = e.to_string();
    ledger.remote_action_failed(
        &FailedAction {
            pipeline: &p.id,
            source: &ep.url(),
            name: &s.name,
            size: s.size,
            mtime: mtime_secs(s),
            action,
            error: &error,
        },
        Utc::now().timestamp(),
    )?;
    summary.source_warnings.push(format!(
        "{}: {action} of {} after the claim: {error} (the file was taken; retried with backoff, see `tallyman runs`)",
        p.id, s.name
    ));
    Ok(())
}

/// Retries the after-claim actions that are due (before listing, so a file whose delete
/// finally works is not seen again).
fn retry_remote_actions(
    ledger: &Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    client: &SftpClient,
    summary: &mut Summary,
) -> Result<(), RunError> {
    for a in ledger.due_remote_actions(&p.id, Utc::now().timestamp())? {
        let s = sighting_of(&a);
        let now = super::now_text(Utc::now());
        match perform(client, &s, &a.action) {
            Ok(ActionEnd::Done) => {
                tracing::info!(pipeline = %p.id, file = %a.name, action = %a.action, "after-claim action done on retry");
                ledger.remote_action_settled(a.id, RemoteActionState::Done, None, &now)?;
            }
            Ok(ActionEnd::Gone) => ledger.remote_action_settled(
                a.id,
                RemoteActionState::Done,
                Some("gone from the server"),
                &now,
            )?,
            Ok(ActionEnd::Replaced) => ledger.remote_action_settled(
                a.id,
                RemoteActionState::Dropped,
                Some("another file has the name now; left alone"),
                &now,
            )?,
            Err(e) => remote_action_failed(ledger, p, ep, &s, &a.action, &e, summary)?,
        }
    }
    Ok(())
}

fn sighting_of(a: &RemoteAction) -> Sighting {
    Sighting {
        name: a.name.clone(),
        size: a.size,
        mtime: SystemTime::UNIX_EPOCH + Duration::from_secs(a.mtime.max(0) as u64),
    }
}

fn mtime_secs(s: &Sighting) -> i64 {
    s.mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A file left in place is remembered by name, size and mtime so it is not fetched again.
fn remember_kept(ledger: &Ledger, p: &Pipeline, s: &Sighting) -> Result<(), RunError> {
    ledger
        .remember_kept(&p.id, &s.name, s.size, mtime_secs(s))
        .map_err(|e| transport(p, e))
}

fn already_kept(ledger: &Ledger, p: &Pipeline, s: &Sighting) -> Result<bool, RunError> {
    ledger
        .already_kept(&p.id, &s.name, s.size, mtime_secs(s))
        .map_err(|e| transport(p, e))
}
