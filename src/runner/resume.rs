//! Recovery, run first by every pass while it holds the pipeline's lock (so whatever it finds
//! unfinished belongs to a process that is gone): outputs recorded but not made visible are
//! published; runs left `running` are recorded `failed` (interrupted) and their work is taken
//! again in a new run (a file's run from its landing copy or archived input, a rerun replayed
//! again); staged outputs and temps of dead writers are removed; files still `claimed` after a
//! failed run are tried again; files `waiting` for their ERP extract run once it is there (or
//! their wait ran out).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};

use super::disposition::MAX_ATTEMPTS;
use super::process::{archive, process_run, publish_outputs, FileRun, RerunOf, Source};
use super::{erp_wait, now_text, Outcome, RunError};
use crate::config::{Home, Pipeline};
use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::files::{remove_if_present, safe_name};
use crate::store::lock::PipelineLock;
use crate::store::outputs::Interrupted;
use crate::store::publish::{discard_staged, sweep_dead_temps, Staged};
use crate::store::{Ledger, StoreError};

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
    let mut out = Vec::new();
    for r in ledger.interrupted_runs(&p.id)? {
        if r.trigger == "file" && r.file_id.is_some_and(&leased_elsewhere) {
            continue;
        }
        for dir in outbox_dirs(home, p) {
            discard_staged(&dir, &r.run_id)?;
        }
        if let Some(outcome) = close_interrupted(home, ledger, p, &r)? {
            out.push(outcome);
        }
    }
    // Listed after the interrupted runs are closed (their files are claimed again) and once:
    // a run that fails leaves its file claimed for the next pass, not a second try in this one.
    let claimed: Vec<_> = ledger
        .claimed_files(&p.id)?
        .into_iter()
        .filter(|f| !leased_elsewhere(f.file_id))
        .collect();
    for f in claimed {
        let landed = home.root.join(&f.stored);
        // The newest run folder holding the input: an interrupted retry may have recorded its
        // folder before it copied the input in.
        let archived = f
            .archives
            .iter()
            .map(|dir| home.root.join(dir).join("input").join(safe_name(&f.name)))
            .find(|a| a.is_file());
        let arrived = arrival(f.received_at.as_deref());
        let source = if !f.stored.is_empty() && landed.is_file() {
            // Claimed but interrupted before its ERP extract was looked for: it may wait too.
            if erp_wait::hold_if_early(home, ledger, p, f.file_id, &f.name, &landed, arrived)?
                .is_some()
            {
                continue;
            }
            Source::Landed(&landed)
        } else if let Some(a) = archived.as_deref() {
            // A failed run moved it into its archive folder: the next run copies it from there.
            Source::Archived(a)
        } else {
            tracing::error!(pipeline = %p.id, file = %f.name, "claimed file #{} has no bytes left to resume from ({})", f.file_id, f.stored);
            continue;
        };
        // A file whose runs keep dying with their process (out of memory on it, a crash it
        // provokes) would take the daemon down forever: after as many failed or interrupted runs
        // as a file may have, its next run fails at once and quarantines it, with its report.
        let gave_up_after = (f.failed_runs >= MAX_ATTEMPTS).then_some(f.failed_runs);
        match gave_up_after {
            Some(n) => {
                tracing::error!(pipeline = %p.id, file = %f.name, "file #{} had {n} failed or interrupted runs: quarantined, not run again", f.file_id)
            }
            None => {
                tracing::warn!(pipeline = %p.id, file = %f.name, "taking file #{} again (claimed, not finished; {} failed run(s) so far)", f.file_id, f.failed_runs)
            }
        }
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
                gave_up_after,
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

/// Records an interrupted run failed (the process running it stopped before the run ended, so
/// nothing of it was published) and says where its work goes on: a file's run is taken again in
/// a new run by the claimed pass (its file is still claimed, and the failed run counts toward
/// its attempts); a rerun is replayed again now, in a new run with the same actor and reason.
fn close_interrupted(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    r: &Interrupted,
) -> Result<Option<Outcome>, RunError> {
    if let Some(dir) = &r.archive_path {
        let dir = home.root.join(dir);
        archive::clear_run_folder(&dir).map_err(|source| StoreError::Io {
            path: dir.clone(),
            step: "clear an interrupted run's folder",
            source,
        })?;
    }
    let (Some(file_id), Some(name)) = (r.file_id, r.file.as_deref()) else {
        tracing::error!(pipeline = %p.id, run = %r.run_id, "interrupted run has no file; closed as failed");
        ledger.close_interrupted(
            &r.run_id,
            "interrupted; nothing to take its work again from",
            &now_text(Utc::now()),
        )?;
        return Ok(None);
    };
    let replayed = match (r.trigger.as_str(), &r.rerun_of) {
        ("rerun", Some(replayed)) => replayed,
        _ => {
            tracing::warn!(pipeline = %p.id, run = %r.run_id, file = %name, "run {} was interrupted before it ended: recorded failed; file #{file_id} is taken again in a new run", r.run_id);
            ledger.close_interrupted(&r.run_id, "interrupted: the process running it stopped before the run ended; nothing was published and the file is taken again in a new run", &now_text(Utc::now()))?;
            return Ok(None);
        }
    };
    let by = RerunOf {
        run_id: replayed.clone(),
        date: r
            .business_date
            .as_deref()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .unwrap_or_default(),
        actor: r.actor.clone().unwrap_or_default(),
        reason: r.reason.clone().unwrap_or_default(),
    };
    let from = ledger
        .run_archive(replayed)?
        .map(|d| home.root.join(d).join("input").join(safe_name(name)))
        .filter(|p| p.is_file());
    let Some(from) = from else {
        tracing::error!(pipeline = %p.id, run = %r.run_id, file = %name, "interrupted rerun has no input left to replay; closed as failed");
        ledger.close_interrupted(
            &r.run_id,
            "interrupted; the input it replays is gone",
            &now_text(Utc::now()),
        )?;
        return Ok(None);
    };
    tracing::warn!(pipeline = %p.id, run = %r.run_id, file = %name, "rerun {} was interrupted before it ended: recorded failed; replaying run {replayed} again in a new run", r.run_id);
    ledger.close_interrupted(&r.run_id, "interrupted: the process running it stopped before the run ended; nothing was published and the rerun is replayed again in a new run", &now_text(Utc::now()))?;
    let arrived = arrival(ledger.received_at(file_id)?.as_deref());
    process_run(
        home,
        ledger,
        p,
        FileRun {
            file_id,
            name,
            source: Source::Archived(&from),
            arrived,
            rerun_of: Some(&by),
            gave_up_after: None,
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
