//! Recovery, run first by every pass while it holds the pipeline's lock (so whatever it finds
//! unfinished belongs to a process that is gone): outputs recorded but not made visible are
//! published; runs left `running` are redone under their own id (the same names, one run for
//! the work); staged outputs and temps of dead writers are removed; files still `claimed` after a
//! failed run are tried again; files `waiting` for their ERP extract run once it is there (or
//! their wait ran out).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::process::{process_run, publish_outputs, FileRun, RerunOf, Source};
use super::{erp_wait, Outcome, RunError};
use crate::config::{Home, Pipeline};
use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::files::{remove_if_present, safe_name};
use crate::store::lock::PipelineLock;
use crate::store::outputs::Interrupted;
use crate::store::publish::{discard_staged, sweep_dead_temps, Staged};
use crate::store::Ledger;

/// Repairs what an interruption left of the pipeline, then processes every file still claimed.
/// The pipeline's lock proves that no live process owns what looks unfinished.
pub fn resume_claimed(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    lock: &PipelineLock,
) -> Result<Vec<Outcome>, RunError> {
    debug_assert_eq!(lock.pipeline(), p.id);
    publish_recorded(home, ledger, p)?;
    for dir in outbox_dirs(home, p) {
        let swept = sweep_dead_temps(&dir)?;
        if swept > 0 {
            tracing::warn!(pipeline = %p.id, "removed {swept} temp file(s) of an interrupted write from {}", dir.display());
        }
    }
    // Listed before interrupted runs are redone: a redo that fails leaves its file claimed for
    // the next pass, not for a second try within this one.
    // Only files whose lease this process holds or could take are touched: with daemons
    // sharing the ledger, a claimed file whose holder is alive is that daemon's to finish.
    let owner = crate::store::lease::owner();
    let ours: BTreeSet<i64> = ledger
        .take_file_leases(&p.id, &owner, now_secs(), lease_secs())?
        .into_iter()
        .collect();
    let leased_elsewhere = |file_id: i64| {
        let held = !ours.contains(&file_id);
        if held {
            tracing::debug!(pipeline = %p.id, "file #{file_id} is leased to another daemon: left to it");
        }
        held
    };
    let claimed: Vec<_> = ledger
        .claimed_files(&p.id)?
        .into_iter()
        .filter(|f| !leased_elsewhere(f.file_id))
        .collect();
    let mut out = Vec::new();
    for r in ledger.interrupted_runs(&p.id)? {
        if r.trigger == "file" && r.file_id.is_some_and(&leased_elsewhere) {
            continue;
        }
        for dir in outbox_dirs(home, p) {
            discard_staged(&dir, &r.run_id)?;
        }
        if let Some(outcome) = redo(home, ledger, p, &r)? {
            out.push(outcome);
        }
    }
    for f in claimed {
        let landed = home.root.join(&f.stored);
        let archived = f
            .last_archive
            .as_ref()
            .map(|dir| home.root.join(dir).join("input").join(safe_name(&f.name)));
        let arrived = arrival(f.received_at.as_deref());
        let source = if !f.stored.is_empty() && landed.is_file() {
            // Claimed but interrupted before its ERP extract was looked for: it may wait too.
            if erp_wait::hold_if_early(home, ledger, p, f.file_id, &f.name, &landed, arrived)?
                .is_some()
            {
                continue;
            }
            Source::Landed(&landed)
        } else if let Some(a) = archived.as_deref().filter(|a| a.is_file()) {
            // A failed run moved it into its archive folder: the next run copies it from there.
            Source::Archived(a)
        } else {
            tracing::error!(pipeline = %p.id, file = %f.name, "claimed file #{} has no bytes left to resume from ({})", f.file_id, f.stored);
            continue;
        };
        tracing::warn!(pipeline = %p.id, file = %f.name, "taking file #{} again (claimed, not finished; {} failed run(s) so far)", f.file_id, f.failed_runs);
        out.push(process_run(
            home,
            ledger,
            p,
            FileRun {
                file_id: f.file_id,
                name: &f.name,
                source,
                arrived,
                rerun_of: None,
                resume: None,
            },
        )?);
    }
    out.extend(erp_wait::take_waiting(home, ledger, p)?);
    sweep_landing(home, ledger, p)?;
    // A crash between a run's record and the book's save left the book behind its
    // observations: folded again, it catches up (cheap when nothing changed).
    if p.open_items.is_some() && ledger.open_items_behind(&p.id)? {
        super::open_items::save_book(ledger, p)?;
    }
    Ok(out)
}

/// Makes visible the outputs of runs whose end was recorded before a crash stopped their
/// publication.
fn publish_recorded(home: &Home, ledger: &Ledger, p: &Pipeline) -> Result<(), RunError> {
    let pending = ledger.unpublished_outputs(&p.id)?;
    let runs: BTreeSet<&str> = pending.iter().map(|u| u.run_id.as_str()).collect();
    for run in runs {
        let staged: Vec<Staged> = pending
            .iter()
            .filter(|u| u.run_id == run)
            .map(|u| Staged {
                temp: home.root.join(&u.temp_path),
                target: home.root.join(&u.path),
                size: 0,
                sha256: u.sha256.clone(),
            })
            .collect();
        tracing::warn!(pipeline = %p.id, run, "publishing {} output(s) of run {run}, recorded before an interruption", staged.len());
        publish_outputs(home, ledger, run, staged.iter())?;
    }
    Ok(())
}

/// Redoes an interrupted run under its own id: a file's run from its landed or archived input, a
/// rerun from the archived input of the run it replays.
fn redo(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    r: &Interrupted,
) -> Result<Option<Outcome>, RunError> {
    let (Some(file_id), Some(name)) = (r.file_id, r.file.as_deref()) else {
        tracing::error!(pipeline = %p.id, run = %r.run_id, "interrupted run has no file; closed as failed");
        ledger.close_interrupted(&r.run_id, "interrupted; nothing to redo it from")?;
        return Ok(None);
    };
    let in_archive = |dir: &str| home.root.join(dir).join("input").join(safe_name(name));
    let rerun_of = match (r.trigger.as_str(), &r.rerun_of) {
        ("rerun", Some(replayed)) => Some(RerunOf {
            run_id: replayed.clone(),
            date: r
                .business_date
                .as_deref()
                .and_then(|d| d.parse::<NaiveDate>().ok())
                .unwrap_or_default(),
            actor: r.actor.clone().unwrap_or_default(),
            reason: r.reason.clone().unwrap_or_default(),
        }),
        _ => None,
    };
    let from: Option<PathBuf> = match &rerun_of {
        Some(by) => ledger
            .run_archive(&by.run_id)?
            .map(|d| in_archive(&d))
            .filter(|p| p.is_file()),
        None => {
            let landed = ledger
                .stored_path(file_id)?
                .map(|s| home.root.join(s))
                .filter(|p| p.is_file());
            landed.or_else(|| {
                r.archive_path
                    .as_deref()
                    .map(in_archive)
                    .filter(|p| p.is_file())
            })
        }
    };
    let Some(from) = from else {
        tracing::error!(pipeline = %p.id, run = %r.run_id, file = %name, "interrupted run has no input left to redo it from; closed as failed");
        ledger.close_interrupted(&r.run_id, "interrupted; its input is gone")?;
        return Ok(None);
    };
    tracing::warn!(pipeline = %p.id, run = %r.run_id, file = %name, "redoing run {}, interrupted before it ended", r.run_id);
    let source = match rerun_of {
        Some(_) => Source::Archived(&from),
        // From the landing area, or already in its own archive folder (then left in place).
        None => Source::Landed(&from),
    };
    let arrived = arrival(ledger.received_at(file_id)?.as_deref());
    process_run(
        home,
        ledger,
        p,
        FileRun {
            file_id,
            name,
            source,
            arrived,
            rerun_of: rerun_of.as_ref(),
            resume: Some(&r.run_id),
        },
    )
    .map(Some)
}

/// When a file was received, as recorded at its claim (its business date may derive from it).
fn arrival(received_at: Option<&str>) -> DateTime<Utc> {
    received_at
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// The outbox folders a pipeline writes to (its outputs' and acknowledgements' destinations).
fn outbox_dirs(home: &Home, p: &Pipeline) -> Vec<PathBuf> {
    let mut names: BTreeSet<&str> = p.outputs.iter().map(|o| o.destination.as_str()).collect();
    names.extend(p.ack_destination.as_deref());
    names.into_iter().map(|d| home.outbox().join(d)).collect()
}

/// Removes from the pipeline's landing folder whatever no claimed file needs: staging files of an
/// interrupted copy, and copies landed but never claimed (the partner's copy is still in place,
/// since it is only removed after the claim).
fn sweep_landing(home: &Home, ledger: &Ledger, p: &Pipeline) -> Result<(), RunError> {
    let dir = home.var().join("landing").join(&p.id);
    let mut needed: BTreeSet<PathBuf> = ledger
        .claimed_files(&p.id)?
        .into_iter()
        .map(|f| home.root.join(f.stored))
        .collect();
    // A file waiting for its ERP extract keeps its bytes here until its run.
    needed.extend(
        ledger
            .waiting_files(&p.id)?
            .into_iter()
            .map(|f| home.root.join(f.stored)),
    );
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_file()) && !needed.contains(&path) {
            tracing::warn!(pipeline = %p.id, "removing {}, left in the landing area by an interruption", shown(&path));
            remove_if_present(&path)?;
        }
    }
    Ok(())
}

fn shown(path: &Path) -> String {
    path.display().to_string().escape_debug().to_string()
}
