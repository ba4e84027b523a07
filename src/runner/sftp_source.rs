//! A pipeline whose partner drops files on an SFTP server: list, settle across two listings,
//! download into the landing area (verified against the listing), claim, and only then delete,
//! move or keep the remote file; then the same processing as a local drop.

use std::time::{Duration, SystemTime};

use rusqlite::params;

use super::{claim_landed, process, RunError, Summary, Taken};
use crate::config::{Home, Pipeline};
use crate::store::files::{safe_name, sync_dir, Landed};
use crate::store::Ledger;
use crate::transport::settle::{Settler, Wait};
use crate::transport::sftp::{with_retry, AfterClaim, SftpClient, SftpEndpoint};

fn transport(p: &Pipeline, e: impl std::fmt::Display) -> RunError {
    RunError::Data {
        pipeline: p.id.clone(),
        message: format!("sftp: {e}"),
    }
}

/// Processes what is complete on the pipeline's SFTP source, once.
pub fn run_sftp(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    ep: &SftpEndpoint,
    max_wait: Duration,
) -> Result<Summary, RunError> {
    let client =
        with_retry(3, Duration::from_secs(1), || ep.connect()).map_err(|e| transport(p, e))?;
    let marker = p.source.settle.done_marker.as_deref();
    let mut settler = Settler::new();
    let mut summary = Summary::default();
    let first = client.list_detailed(marker).map_err(|e| transport(p, e))?;
    for skipped in &first.skipped {
        summary.refused.push((
            skipped.name.clone(),
            format!("refused on the server: {}", skipped.why),
        ));
    }
    settler.look(&p.source.settle, &first.files, SystemTime::now());
    if first.files.is_empty() {
        return Ok(summary);
    }
    let wait = settler
        .next_look_in(&p.source.settle, SystemTime::now())
        .unwrap_or_default()
        .min(max_wait);
    std::thread::sleep(wait);
    let second = client.list_detailed(marker).map_err(|e| transport(p, e))?;
    let (ready, waiting) = settler.look(&p.source.settle, &second.files, SystemTime::now());
    summary.waiting = waiting
        .into_iter()
        .filter(|(_, w)| !matches!(w, Wait::NeverTaken | Wait::IsMarker))
        .collect();
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
            after_claim(&client, ep, p, &s)
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
    Ok(summary)
}

/// What happens to the partner's copy once the claim is durable.
/// (A kept file is remembered in the ledger right after the claim, by the caller.)
fn after_claim(
    client: &SftpClient,
    ep: &SftpEndpoint,
    p: &Pipeline,
    s: &crate::transport::settle::Sighting,
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

fn mtime_secs(s: &crate::transport::settle::Sighting) -> i64 {
    s.mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A file left in place is remembered by name, size and mtime so it is not fetched again.
fn remember_kept(
    ledger: &Ledger,
    p: &Pipeline,
    s: &crate::transport::settle::Sighting,
) -> Result<(), RunError> {
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

fn already_kept(
    ledger: &Ledger,
    p: &Pipeline,
    s: &crate::transport::settle::Sighting,
) -> Result<bool, RunError> {
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
