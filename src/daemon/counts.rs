//! The daemon's counters updated from each file's result and each run's outcome (what a
//! worker's job tells `/metrics`).

use std::time::Duration;

use chrono::Utc;

use super::metrics::{Counter, Metrics};
use crate::config::Pipeline;
use crate::runner::FileResult;
use crate::store::{FileState, RunState};

/// Updates the counters from one file's result.
pub fn count(m: &Metrics, p: &Pipeline, result: &FileResult, took: Duration) {
    let id = &p.id;
    match result {
        FileResult::Duplicate(_) => {
            m.add(id, Counter::FilesReceived, 1);
            m.add(id, Counter::Duplicates, 1);
        }
        FileResult::Changed(_) | FileResult::Paused(..) => {}
        FileResult::Waiting(..) => m.add(id, Counter::FilesReceived, 1),
        FileResult::Processed(o) => {
            m.add(id, Counter::FilesReceived, 1);
            count_run(m, p, o, Some(took));
        }
    }
}

/// Updates the counters from one run's outcome (`took`: its wall time, when it was timed alone).
pub(super) fn count_run(
    m: &Metrics,
    p: &Pipeline,
    o: &crate::runner::Outcome,
    took: Option<Duration>,
) {
    let id = &p.id;
    if let Some(took) = took {
        m.observe_run(id, took);
    }
    m.add(id, Counter::Issues, o.issues.len() as u64);
    if let Some(man) = &o.manifest {
        let breaks: u64 = man
            .reconciliation
            .iter()
            .filter(|(status, _)| status.as_str() != crate::engine::reconcile::MATCHED)
            .map(|(_, n)| *n)
            .sum();
        m.add(id, Counter::Breaks, breaks);
    }
    if RunState::Succeeded == o.state.as_str() {
        m.add(id, Counter::FilesProcessed, 1);
        m.set_last_success(id, Utc::now());
    }
    if RunState::Failed == o.state.as_str() {
        m.add(id, Counter::RunsFailed, 1);
    }
    // A failed run's file is quarantined only once its attempts ran out; one failed on the
    // configuration is held (`tallyman_files_failed`), and one retried stays claimed.
    if o.file_state == Some(FileState::Quarantined) {
        m.add(id, Counter::Quarantined, 1);
    }
}
