//! Waiting for the ERP extract: a partner file whose extract for its business date has not
//! arrived is held `waiting` (claimed, its bytes kept in the landing area) until the extract
//! lands or the pipeline's `[erp] wait_secs` runs out from its arrival; then it is processed,
//! and without an extract rejected with the reason (the alert). `look` is the decision, with no
//! IO; recovery (`resume::resume_claimed`, first in every pass) takes the files whose turn came.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use super::process::{process, process_run, FileRun, Source};
use super::{now_text, rel, FileResult, Outcome, RunError};
use crate::config::compile::business_date;
use crate::config::{Home, Pipeline};
use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::held::HeldFile;
use crate::store::{FileState, Ledger};

/// What is in the ERP folder for a file's business date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extract {
    Missing,
    /// There, but written to within the last `QUIET` (the ERP may still be writing it: a file
    /// that waited is run the moment the extract appears, so a half-written one would be read).
    Settling {
        ready_in: Duration,
    },
    There,
}

/// How long an extract that appeared for a waiting file must stay unmodified before it is read
/// (the local drop folders' `min_age`).
pub const QUIET: Duration = Duration::from_secs(2);

/// Whether a file may run now as far as its ERP extract is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErpWait {
    /// The extract is there, or the pipeline needs none, or the date is unknown (the run
    /// rejects the file for that).
    Ready,
    /// Missing, and it may still come until `until`.
    Wait { until: DateTime<Utc> },
    /// Missing, and the wait ran out: the run rejects the file, saying why.
    TimedOut,
}

/// The decision: an extract that is there is ready; one being written is waited for (never a
/// reason to reject); a missing one is waited for until `arrived + wait` (a wait of zero
/// rejects at once).
pub fn look(
    extract: Extract,
    arrived: DateTime<Utc>,
    wait: Duration,
    now: DateTime<Utc>,
) -> ErpWait {
    let after = |from: DateTime<Utc>, d: Duration| {
        chrono::TimeDelta::from_std(d)
            .ok()
            .and_then(|d| from.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    };
    let until = after(arrived, wait);
    match extract {
        Extract::There => ErpWait::Ready,
        Extract::Settling { ready_in } => ErpWait::Wait {
            until: after(now, ready_in),
        },
        Extract::Missing if now < until => ErpWait::Wait { until },
        Extract::Missing => ErpWait::TimedOut,
    }
}

/// What is at `path` now: missing, settling (modified less than `QUIET` ago) or there.
fn extract_at(path: &Path, now: SystemTime) -> Extract {
    let Some(meta) = std::fs::metadata(path).ok().filter(|m| m.is_file()) else {
        return Extract::Missing;
    };
    let age = meta
        .modified()
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .unwrap_or_default();
    match QUIET.checked_sub(age).filter(|left| !left.is_zero()) {
        Some(ready_in) => Extract::Settling { ready_in },
        None => Extract::There,
    }
}

/// The extract a file of `p` needs (pipelines with an `[erp]` and a known business date).
fn extract_for(p: &Pipeline, name: &str, arrived: DateTime<Utc>) -> Option<PathBuf> {
    let erp = p.erp.as_ref()?;
    let date = business_date(&p.business_date, p.time_zone, name, arrived).ok()?;
    Some(erp.folder.join(erp.file_name(date)))
}

/// Where a file of `p` stands with its extract now. When the file is first taken an extract
/// that is there counts as ready whatever its age (as it always did); once the file has waited,
/// the extract must also be quiet (`settled`).
fn status(p: &Pipeline, name: &str, arrived: DateTime<Utc>, settled: bool) -> ErpWait {
    let (Some(path), Some(erp)) = (extract_for(p, name, arrived), &p.erp) else {
        return ErpWait::Ready;
    };
    let extract = match extract_at(&path, SystemTime::now()) {
        Extract::Settling { .. } if !settled => Extract::There,
        e => e,
    };
    look(extract, arrived, erp.wait, Utc::now())
}

/// How soon a waiting file of `p` may run (its extract is settling, or its wait runs out), for
/// the daemon's next look; `None` when nothing waits.
pub fn next_look(ledger: &Ledger, p: &Pipeline) -> Result<Option<Duration>, RunError> {
    let now = Utc::now();
    Ok(ledger
        .waiting_files(&p.id)?
        .iter()
        .map(|f| match status(p, &f.name, received(f), true) {
            ErpWait::Wait { until } => (until - now).to_std().unwrap_or_default(),
            ErpWait::Ready | ErpWait::TimedOut => Duration::ZERO,
        })
        .min())
}

/// Holds a claimed file `waiting` when its extract is missing and may still come; returns why
/// (`None`: it may run now).
pub fn hold_if_early(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    file_id: i64,
    name: &str,
    stored: &Path,
    arrived: DateTime<Utc>,
) -> Result<Option<String>, RunError> {
    let ErpWait::Wait { until } = status(p, name, arrived, false) else {
        return Ok(None);
    };
    let extract = extract_for(p, name, arrived).unwrap_or_default();
    let why = format!(
        "waiting for the ERP extract {} until {}",
        rel(home, &extract),
        now_text(until)
    );
    ledger.set_file_state(file_id, FileState::Waiting, Some(&why), &rel(home, stored))?;
    tracing::warn!(pipeline = %p.id, file = %name, "{why}");
    Ok(Some(why))
}

/// Processes a file just claimed, unless it must wait for its ERP extract.
pub fn process_or_wait(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    file_id: i64,
    name: &str,
    landed: &Path,
    arrived: DateTime<Utc>,
) -> Result<FileResult, RunError> {
    if let Some(why) = hold_if_early(home, ledger, p, file_id, name, landed, arrived)? {
        return Ok(FileResult::Waiting(name.to_string(), why));
    }
    Ok(FileResult::Processed(Box::new(process(
        home, ledger, p, file_id, name, landed, arrived, None,
    )?)))
}

/// Runs the waiting files of `p` whose extract arrived or whose wait ran out (then rejected
/// with the reason); the others keep waiting. A file is `claimed` again before its run, so an
/// interruption leaves it to the usual recovery.
pub fn take_waiting(home: &Home, ledger: &Ledger, p: &Pipeline) -> Result<Vec<Outcome>, RunError> {
    let mut out = Vec::new();
    for f in ledger.waiting_files(&p.id)? {
        let arrived = received(&f);
        let timed_out = match status(p, &f.name, arrived, true) {
            ErpWait::Wait { .. } => continue,
            ErpWait::Ready => false,
            ErpWait::TimedOut => true,
        };
        let landed = home.root.join(&f.stored);
        if f.stored.is_empty() || !landed.is_file() {
            tracing::error!(pipeline = %p.id, file = %f.name, "waiting file #{} has no bytes left at {}", f.file_id, f.stored);
            continue;
        }
        // Daemons sharing the ledger may all see it waiting: the one that takes it runs it.
        let owner = crate::store::lease::owner();
        if !ledger.take_waiting_file(f.file_id, &owner, now_secs(), lease_secs())? {
            tracing::debug!(pipeline = %p.id, file = %f.name, "waiting file #{} was taken by another daemon", f.file_id);
            continue;
        }
        if timed_out {
            tracing::warn!(pipeline = %p.id, file = %f.name, "no ERP extract after waiting {}s; the file is rejected", p.erp.as_ref().map_or(0, |e| e.wait.as_secs()));
        } else {
            tracing::info!(pipeline = %p.id, file = %f.name, "the ERP extract arrived; processing file #{}", f.file_id);
        }
        out.push(process_run(
            home,
            ledger,
            p,
            FileRun {
                file_id: f.file_id,
                name: &f.name,
                source: Source::Landed(&landed),
                arrived,
                rerun_of: None,
                gave_up_after: None,
            },
        )?);
    }
    Ok(out)
}

/// When a held file arrived (its claim).
fn received(f: &HeldFile) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&f.received_at)
        .map_or_else(|_| Utc::now(), |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_764_000_000 + secs, 0).expect("instant")
    }

    #[test]
    fn a_missing_extract_is_waited_for_until_the_wait_runs_out() {
        use Extract::*;
        let hour = Duration::from_secs(3600);
        assert_eq!(look(There, at(0), hour, at(10)), ErpWait::Ready);
        assert_eq!(look(There, at(0), hour, at(7200)), ErpWait::Ready);
        assert_eq!(
            look(Missing, at(0), hour, at(10)),
            ErpWait::Wait { until: at(3600) }
        );
        assert_eq!(look(Missing, at(0), hour, at(3600)), ErpWait::TimedOut);
        // A wait of zero is the old rule: rejected at once.
        assert_eq!(
            look(Missing, at(0), Duration::ZERO, at(0)),
            ErpWait::TimedOut
        );
        // A wait too long for the calendar waits forever rather than overflowing.
        assert!(matches!(
            look(Missing, at(0), Duration::MAX, at(10)),
            ErpWait::Wait { .. }
        ));
        // An extract being written is waited for, even after the wait ran out.
        let settling = Settling {
            ready_in: Duration::from_secs(2),
        };
        assert_eq!(
            look(settling, at(0), hour, at(10)),
            ErpWait::Wait { until: at(12) }
        );
        assert_eq!(
            look(settling, at(0), hour, at(9000)),
            ErpWait::Wait { until: at(9002) }
        );
    }

    #[test]
    fn an_extract_just_written_is_settling() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("erp.csv");
        let now = SystemTime::now();
        assert_eq!(extract_at(&path, now), Extract::Missing);
        std::fs::write(&path, "sku\n").expect("write");
        assert!(matches!(extract_at(&path, now), Extract::Settling { .. }));
        assert_eq!(extract_at(&path, now + QUIET * 2), Extract::There);
        assert_eq!(extract_at(dir.path(), now + QUIET), Extract::Missing);
    }
}
