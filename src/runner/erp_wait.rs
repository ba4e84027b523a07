//! Waiting for the ERP extract: a partner file whose extract for its business date has not
//! arrived is held `waiting` (claimed, its bytes kept in the landing area) until the extract
//! lands or the pipeline's `[erp] wait_secs` runs out from its arrival; then it is processed,
//! and without an extract rejected with the reason (the alert). `look` is the decision, with no
//! IO; recovery (`resume::resume_claimed`, first in every pass) takes the files whose turn came.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::process::{process, process_run, FileRun, Source};
use super::{now_text, rel, FileResult, Outcome, RunError};
use crate::config::compile::business_date;
use crate::config::{Home, Pipeline};
use crate::store::held::HeldFile;
use crate::store::{FileState, Ledger};

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

/// The decision: an extract that is there is ready; a missing one is waited for until
/// `arrived + wait` (a wait of zero rejects at once).
pub fn look(present: bool, arrived: DateTime<Utc>, wait: Duration, now: DateTime<Utc>) -> ErpWait {
    let until = chrono::TimeDelta::from_std(wait)
        .ok()
        .and_then(|w| arrived.checked_add_signed(w))
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    match (present, now < until) {
        (true, _) => ErpWait::Ready,
        (false, true) => ErpWait::Wait { until },
        (false, false) => ErpWait::TimedOut,
    }
}

/// The extract a file of `p` needs (pipelines with an `[erp]` and a known business date).
fn extract_for(p: &Pipeline, name: &str, arrived: DateTime<Utc>) -> Option<PathBuf> {
    let erp = p.erp.as_ref()?;
    let date = business_date(&p.business_date, p.time_zone, name, arrived).ok()?;
    Some(erp.folder.join(erp.file_name(date)))
}

/// Where a file of `p` stands with its extract at `now`.
pub fn status(p: &Pipeline, name: &str, arrived: DateTime<Utc>, now: DateTime<Utc>) -> ErpWait {
    match (extract_for(p, name, arrived), &p.erp) {
        (Some(path), Some(erp)) => look(path.is_file(), arrived, erp.wait, now),
        _ => ErpWait::Ready,
    }
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
    let ErpWait::Wait { until } = status(p, name, arrived, Utc::now()) else {
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
        match status(p, &f.name, arrived, Utc::now()) {
            ErpWait::Wait { .. } => continue,
            ErpWait::Ready => {
                tracing::info!(pipeline = %p.id, file = %f.name, "the ERP extract arrived; processing file #{}", f.file_id);
            }
            ErpWait::TimedOut => {
                tracing::warn!(pipeline = %p.id, file = %f.name, "no ERP extract after waiting {}s; the file is rejected", p.erp.as_ref().map_or(0, |e| e.wait.as_secs()));
            }
        }
        let landed = home.root.join(&f.stored);
        if f.stored.is_empty() || !landed.is_file() {
            tracing::error!(pipeline = %p.id, file = %f.name, "waiting file #{} has no bytes left at {}", f.file_id, f.stored);
            continue;
        }
        ledger.set_file_state(f.file_id, FileState::Claimed, None, &f.stored)?;
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
                resume: None,
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
        let hour = Duration::from_secs(3600);
        assert_eq!(look(true, at(0), hour, at(10)), ErpWait::Ready);
        assert_eq!(look(true, at(0), hour, at(7200)), ErpWait::Ready);
        assert_eq!(
            look(false, at(0), hour, at(10)),
            ErpWait::Wait { until: at(3600) }
        );
        assert_eq!(look(false, at(0), hour, at(3600)), ErpWait::TimedOut);
        // A wait of zero is the old rule: rejected at once.
        assert_eq!(look(false, at(0), Duration::ZERO, at(0)), ErpWait::TimedOut);
        // A wait too long for the calendar waits forever rather than overflowing.
        assert!(matches!(
            look(false, at(0), Duration::MAX, at(10)),
            ErpWait::Wait { .. }
        ));
    }
}
