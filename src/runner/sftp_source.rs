//! A pipeline whose partner drops files on an SFTP server: list, settle across two listings,
//! download into the landing area (verified against the listing), claim, and only then delete,
//! move or keep the remote file; then the same processing as a local drop.

use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::{claim_landed, process, RunError, Summary, Taken};
use crate::config::{Home, Pipeline};
use crate::store::files::{safe_name, sync_dir, Landed};
use crate::store::Ledger;
use crate::transport::settle::{Settler, Sighting, Wait};
use crate::transport::sftp::{with_retry, AfterClaim, SftpClient, SftpEndpoint};

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
    record(ledger, p, ep, &result)?;
    result
}

/// Records a pass's outcome in `source_status`.
fn record<T>(
    ledger: &Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    result: &Result<T, RunError>,
) -> Result<(), RunError> {
    let now = super::now_text(chrono::Utc::now());
    match result {
        Ok(_) => ledger.source_ok(&p.id, &ep.url(), &now)?,
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
    let mut settler = Settler::new();
    let mut summary = Summary::default();
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
    record(ledger, p, ep, &result)?;
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
        summary.refused.push((
            skipped.name.clone(),
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
    for s in ready {
        if matches!(ep.after_claim, AfterClaim::Keep) && already_kept(ledger, p, &s)? {
            continue;
        }
        let landing = home.var().join("landing").join(&p.id);
        std::fs::create_dir_all(&landing).map_err(|e| RunError::Io {
            pipeline: p.id.clone(),
            path: landing.clone(),
            source: e,
        })?;
        let stamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = safe_name(&s.name);
        let staging = landing.join(format!(".{stamp}-{name}.landing"));
        let fetched = match client.fetch(&s, &staging) {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(pipeline = %p.id, file = %s.name, "not taken this time: {e}");
                summary.waiting.push((s.name.clone(), Wait::Changing));
                continue;
            }
        };
        let path = landing.join(format!("{stamp}-{name}"));
        std::fs::rename(&staging, &path).map_err(|e| RunError::Io {
            pipeline: p.id.clone(),
            path: path.clone(),
            source: e,
        })?;
        sync_dir(&landing)?;
        let landed = Landed {
            path,
            size: fetched.bytes,
            sha256: fetched.sha256.clone(),
        };
        let taken = claim_landed(home, ledger, p, &s.name, landed, &mut || {
            after_claim(client, ep, p, &s)
        })?;
        if matches!(ep.after_claim, AfterClaim::Keep) {
            remember_kept(ledger, p, &s)?;
        }
        match taken {
            Taken::Duplicate(n) => summary.duplicates.push(n),
            Taken::Process {
                file_id,
                landed,
                arrived,
            } => {
                summary.outcomes.push(process(
                    home, ledger, p, file_id, &s.name, &landed, arrived, None,
                )?);
            }
            Taken::Changed => summary.waiting.push((s.name.clone(), Wait::Changing)),
        }
    }
    Ok(())
}

/// What happens to the partner's copy once the claim is durable.
/// (A kept file is remembered in the ledger right after the claim, by the caller.)
fn after_claim(
    client: &SftpClient,
    ep: &SftpEndpoint,
    p: &Pipeline,
    s: &Sighting,
) -> Result<(), RunError> {
    match &ep.after_claim {
        AfterClaim::Delete => client.delete(&s.name).map_err(|e| transport(p, e)),
        AfterClaim::Move { to } => client
            .move_to(&s.name, to)
            .map(|_| ())
            .map_err(|e| transport(p, e)),
        AfterClaim::Keep => Ok(()),
    }
}

const KEPT: &str = "CREATE TABLE IF NOT EXISTS sftp_kept (
    pipeline TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
    PRIMARY KEY (pipeline, name, size, mtime))";

fn mtime_secs(s: &Sighting) -> i64 {
    s.mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A file left in place is remembered by name, size and mtime so it is not fetched again.
fn remember_kept(ledger: &Ledger, p: &Pipeline, s: &Sighting) -> Result<(), RunError> {
    let conn = ledger.connection();
    conn.execute(KEPT, [])
        .and_then(|_| {
            conn.execute(
                "INSERT OR IGNORE INTO sftp_kept VALUES (?1, ?2, ?3, ?4)",
                params![p.id, s.name, s.size as i64, mtime_secs(s)],
            )
        })
        .map(|_| ())
        .map_err(|e| transport(p, e))
}

fn already_kept(ledger: &Ledger, p: &Pipeline, s: &Sighting) -> Result<bool, RunError> {
    let conn = ledger.connection();
    conn.execute(KEPT, []).map_err(|e| transport(p, e))?;
    conn.query_row(
        "SELECT count(*) FROM sftp_kept WHERE pipeline = ?1 AND name = ?2 AND size = ?3 AND mtime = ?4",
        params![p.id, s.name, s.size as i64, mtime_secs(s)],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(|e| transport(p, e))
}
