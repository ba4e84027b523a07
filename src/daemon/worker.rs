//! One job of the daemon: look at a pipeline's drop folder and take each complete file, every
//! file inside `catch_unwind` so a poisoned file cannot stop the next one; counters updated from
//! each file's result. Runs on a worker thread with its own ledger connection (kept between its jobs).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use super::counts::{count, count_run};
use super::kept_ledger::KeptLedger;
use super::metrics::{Counter, Metrics};
use crate::config::{Home, MailSettings, Pipeline};
use crate::runner::lease_keeper::LeaseKeeper;
use crate::runner::{look_ready, report, resume, take_and_process, FileResult, Looked, Summary};
use crate::store::lock::PipelineLock;
use crate::store::{FileState, Ledger};
use crate::transport::settle::Settler;

/// What the daemon keeps per pipeline across jobs.
#[derive(Debug, Default)]
pub struct Slot {
    /// True while a job of this pipeline is queued or running: one at a time.
    pub busy: AtomicBool,
    settler: Mutex<Settler>,
    refused_seen: Mutex<HashSet<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// Files are taken as soon as they are complete (pipelines without a schedule).
    Scan,
    /// A schedule tick: process what is ready now, waiting up to `max_wait` for young files.
    Tick { fire: DateTime<Utc> },
    /// Between a scheduled pipeline's ticks: only recovery, which runs the files waiting for
    /// their ERP extract once it is there; no new file is taken.
    Waiting,
}

pub struct Job {
    pub pipeline: Arc<Pipeline>,
    pub slot: Arc<Slot>,
    /// The mail settings compiled with the configuration the job was started under.
    pub mail: Arc<MailSettings>,
    pub kind: JobKind,
}

impl Job {
    /// The same pipeline's job that only recovers (a tick that is no longer this daemon's).
    fn recovery_only(&self) -> Job {
        Job {
            pipeline: Arc::clone(&self.pipeline),
            slot: Arc::clone(&self.slot),
            mail: Arc::clone(&self.mail),
            kind: JobKind::Waiting,
        }
    }
}

/// What the worker tells the loop when a job ends.
#[derive(Debug)]
pub struct Done {
    pub pipeline: String,
    /// When files are still settling: how soon the next look can take them.
    pub next_look: Option<Duration>,
    /// A schedule tick the job could not run (a `run` or `rerun` held the pipeline's lock):
    /// still owed, and still this daemon's.
    pub tick_not_run: Option<DateTime<Utc>>,
}

/// Shared by every worker.
pub struct Context {
    pub home: Home,
    pub metrics: Arc<Metrics>,
    pub shutdown: Arc<AtomicBool>,
    pub max_wait: Duration,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

use crate::isolate::guarded;

/// Runs one job to its end and clears the pipeline's busy flag, whatever happens inside.
/// `kept`: the worker thread's ledger connection, lent to the job and kept after it.
pub fn run_job(cx: &Context, job: &Job, kept: &mut KeptLedger) -> Done {
    let p = &job.pipeline;
    let mut tick_not_run = None;
    let next_look = match guarded(|| job_body(cx, job, kept, &mut tick_not_run)) {
        Ok(next) => next,
        Err(why) => {
            tracing::error!(pipeline = %p.id, "job panicked: {why}; the daemon carries on");
            cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            None
        }
    };
    cx.metrics.add(&p.id, Counter::Passes, 1);
    job.slot.busy.store(false, Ordering::SeqCst);
    Done {
        pipeline: p.id.clone(),
        next_look,
        tick_not_run,
    }
}

fn job_body(
    cx: &Context,
    job: &Job,
    kept: &mut KeptLedger,
    tick_not_run: &mut Option<DateTime<Utc>>,
) -> Option<Duration> {
    let p = &job.pipeline;
    let mut untick = None;
    let mut ledger = match kept.lend(&cx.home) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(pipeline = %p.id, "{e}");
            cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            return Some(Duration::from_secs(5));
        }
    };
    // A `run` or `rerun` working on this pipeline holds its lock: look again shortly.
    let lock = match PipelineLock::acquire(&cx.home.var(), &p.id, Duration::ZERO) {
        Ok(lock) => lock,
        Err(e) => {
            tracing::info!(pipeline = %p.id, "{e}; looking again in 1 s");
            if let JobKind::Tick { fire } = job.kind {
                *tick_not_run = Some(fire);
            }
            kept.keep(ledger);
            return Some(Duration::from_secs(1));
        }
    };
    // A tick's lease (taken by the loop) is renewed while the tick runs. One lost while the job
    // waited for a worker (another daemon took the tick over) is not run here again: the job
    // only recovers, as between ticks.
    let (_tick_lease, job) = match job.kind {
        JobKind::Tick { fire } => match LeaseKeeper::keep_tick(&ledger, &p.id, fire) {
            Ok(Some(keeper)) => (Some(keeper), job),
            Ok(None) => {
                tracing::info!(pipeline = %p.id, "tick {fire} was taken over by another daemon");
                (None, &*untick.insert(job.recovery_only()))
            }
            Err(e) => {
                tracing::warn!(pipeline = %p.id, "renewing tick {fire}'s lease: {e}");
                (None, job)
            }
        },
        _ => (None, job),
    };
    let mut pass = Summary::default();
    match guarded(|| resume::resume_claimed(&cx.home, &ledger, p, &lock)) {
        Ok(Ok(outcomes)) => {
            // Files taken earlier (waiting for their ERP extract, or interrupted): counted
            // received then, their runs now.
            for o in &outcomes {
                count_run(&cx.metrics, p, o, None);
            }
            pass.outcomes.extend(outcomes)
        }
        Ok(Err(e)) => tracing::error!(pipeline = %p.id, "resuming interrupted files: {e}"),
        Err(why) => tracing::error!(pipeline = %p.id, "resuming interrupted files panicked: {why}"),
    }
    let next = match job.kind {
        JobKind::Waiting => None,
        JobKind::Scan | JobKind::Tick { .. } => take_ready(cx, job, &mut ledger, &mut pass),
    };
    // A file waiting for an extract that is being written (or whose wait runs out soon) is
    // looked at again then, not at the next full scan.
    let waiting = crate::runner::erp_wait::next_look(&ledger, p).unwrap_or_else(|e| {
        tracing::error!(pipeline = %p.id, "looking at waiting files: {e}");
        None
    });
    let next = match (next, waiting) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    finish_pass(cx, p, &job.mail, &ledger, pass);
    match ledger.held_files(Some(&p.id)) {
        Ok(held) => {
            let n = |state: FileState| held.iter().filter(|f| f.state == state).count();
            cx.metrics.set_held(
                &p.id,
                n(FileState::Waiting) as u64,
                n(FileState::Failed) as u64,
            );
        }
        Err(e) => tracing::error!(pipeline = %p.id, "counting held files: {e}"),
    }
    refresh_open_items(&cx.metrics, &ledger, p);
    kept.keep(ledger);
    next
}

/// The pipeline's open-item gauges from its saved book, aged today in its time zone.
pub fn refresh_open_items(metrics: &Metrics, ledger: &Ledger, p: &Pipeline) {
    let today = Utc::now().with_timezone(&p.time_zone).date_naive();
    match crate::runner::open_items::gauges(ledger, p, today) {
        Ok(g) => metrics.set_open_items(&p.id, g),
        Err(e) => tracing::error!(pipeline = %p.id, "reading the open items: {e}"),
    }
}

/// Reports of this pass's runs go to the ledger's mail queue; then whatever is due is sent.
fn finish_pass(
    cx: &Context,
    p: &Pipeline,
    mail: &MailSettings,
    ledger: &Ledger,
    mut pass: Summary,
) {
    if guarded(|| report::report_pass(&cx.home, ledger, p, mail, &mut pass)).is_err() {
        tracing::error!(pipeline = %p.id, "building the exception report panicked");
    }
    for e in &pass.report_errors {
        tracing::error!(pipeline = %p.id, "report: {e}");
    }
    match guarded(|| crate::runner::delivery::deliver_pending(&cx.home, ledger, p)) {
        Ok(Ok(d)) => {
            for e in &d.errors {
                tracing::warn!(pipeline = %p.id, "upload: {e}");
            }
        }
        Ok(Err(e)) => tracing::error!(pipeline = %p.id, "uploads: {e}"),
        Err(why) => tracing::error!(pipeline = %p.id, "uploads panicked: {why}"),
    }
    if pass.mail_queued > 0 || p.report.is_some() {
        if let Err(e) = report::flush_mail(ledger, mail) {
            tracing::warn!(pipeline = %p.id, "mail not sent yet (it stays queued): {e}");
        }
    }
    if let Ok(rows) = ledger.mail_queue() {
        let depth = rows
            .iter()
            .filter(|r| r.state == crate::store::MailState::Queued)
            .count();
        cx.metrics.set_mail_queue_depth(depth as u64);
    }
}

fn take_ready(
    cx: &Context,
    job: &Job,
    ledger: &mut Ledger,
    pass: &mut Summary,
) -> Option<Duration> {
    let p = &job.pipeline;
    if let Some(ep) = &p.source.sftp {
        return take_remote(cx, job, ep, ledger, pass);
    }
    let mut looked = look(cx, job)?;
    if let JobKind::Tick { fire } = job.kind {
        tracing::info!(pipeline = %p.id, "scheduled run (tick {fire})");
        // A tick is "process what is ready": give young files their settle window once.
        if !looked.waiting.is_empty() {
            let wait = next_look_in(job).unwrap_or_default().min(cx.max_wait);
            take_all(cx, job, ledger, std::mem::take(&mut looked.ready), pass);
            std::thread::sleep(wait);
            looked = look(cx, job)?;
        }
        take_all(cx, job, ledger, looked.ready, pass);
        if let Err(e) = ledger.finish_tick(&p.id, fire, &crate::store::lease::owner()) {
            tracing::error!(pipeline = %p.id, "recording the scheduled run: {e}");
        }
        return None;
    }
    tracing::debug!(pipeline = %p.id, "looked: {} ready, {} waiting", looked.ready.len(), looked.waiting.len());
    take_all(cx, job, ledger, looked.ready, pass);
    if looked.waiting.is_empty() {
        None
    } else {
        next_look_in(job)
    }
}

/// The SFTP source's turn: one listing per poll with the slot's settler (a scan), or two
/// listings a settle window apart (a schedule tick). A server that is down is an error in the
/// log and a failed-run count, and the daemon polls it again later; other pipelines go on.
fn take_remote(
    cx: &Context,
    job: &Job,
    ep: &crate::config::sftp::SftpEndpoint,
    ledger: &mut Ledger,
    pass: &mut Summary,
) -> Option<Duration> {
    let p = &job.pipeline;
    let started = Instant::now();
    let result = match job.kind {
        // Takes nothing new (see `job_body`).
        JobKind::Waiting => return None,
        JobKind::Scan => guarded(|| {
            crate::runner::sftp_source::sftp_pass(
                &cx.home,
                ledger,
                p,
                ep,
                &mut lock(&job.slot.settler),
            )
        }),
        JobKind::Tick { .. } => guarded(|| {
            crate::runner::sftp_source::run_sftp(&cx.home, ledger, p, ep, cx.max_wait)
                .map(|s| (s, None))
        }),
    };
    let next = match result {
        Ok(Ok((summary, next))) => {
            let results = (summary.outcomes.into_iter())
                .map(|o| FileResult::Processed(Box::new(o)))
                .chain(summary.duplicates.into_iter().map(FileResult::Duplicate))
                .chain(
                    (summary.erp_waiting.into_iter())
                        .map(|(name, why)| FileResult::Waiting(name, why)),
                );
            for r in results {
                count(&cx.metrics, p, &r, started.elapsed());
                match r {
                    FileResult::Processed(o) => pass.outcomes.push(*o),
                    FileResult::Duplicate(d) => pass.duplicates.push(d),
                    FileResult::Waiting(name, why) => pass.erp_waiting.push((name, why)),
                    FileResult::Changed(_) | FileResult::Paused(..) => {}
                }
            }
            next
        }
        Ok(Err(e)) => {
            tracing::error!(pipeline = %p.id, source = %ep.url(), "{e}");
            cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            None
        }
        Err(why) => {
            tracing::error!(pipeline = %p.id, source = %ep.url(), "panicked while taking files: {why}");
            cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            None
        }
    };
    if let JobKind::Tick { fire } = job.kind {
        if let Err(e) = ledger.finish_tick(&p.id, fire, &crate::store::lease::owner()) {
            tracing::error!(pipeline = %p.id, "recording the scheduled run: {e}");
        }
    }
    next
}

fn next_look_in(job: &Job) -> Option<Duration> {
    lock(&job.slot.settler).next_look_in(&job.pipeline.source.settle, SystemTime::now())
}

fn look(cx: &Context, job: &Job) -> Option<Looked> {
    let p = &job.pipeline;
    let looked = match look_ready(p, &mut lock(&job.slot.settler)) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(pipeline = %p.id, "{e}");
            cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            return None;
        }
    };
    let mut seen = lock(&job.slot.refused_seen);
    let now: HashSet<String> = looked.refused.iter().map(|(n, _)| n.clone()).collect();
    for (name, why) in &looked.refused {
        if !seen.contains(name) {
            tracing::warn!(pipeline = %p.id, file = %name, "{why}");
        }
    }
    *seen = now;
    Some(looked)
}

fn take_all(
    cx: &Context,
    job: &Job,
    ledger: &mut Ledger,
    ready: Vec<crate::transport::settle::Sighting>,
    pass: &mut Summary,
) {
    let p = &job.pipeline;
    for s in ready {
        if cx.shutdown.load(Ordering::SeqCst) {
            tracing::info!(pipeline = %p.id, "stopping: {} left for the next start", s.name);
            break;
        }
        let started = Instant::now();
        match guarded(|| take_and_process(&cx.home, ledger, p, &s)) {
            Ok(Ok(result)) => {
                count(&cx.metrics, p, &result, started.elapsed());
                match result {
                    FileResult::Processed(outcome) => pass.outcomes.push(*outcome),
                    FileResult::Duplicate(name) => pass.duplicates.push(name),
                    FileResult::Waiting(name, why) => pass.erp_waiting.push((name, why)),
                    FileResult::Changed(_) | FileResult::Paused(..) => {}
                }
            }
            Ok(Err(e)) => {
                tracing::error!(pipeline = %p.id, file = %s.name, "{e}");
                cx.metrics.add(&p.id, Counter::RunsFailed, 1);
            }
            Err(why) => {
                tracing::error!(pipeline = %p.id, file = %s.name, "panicked while taking the file: {why}; going on with the next file");
                cx.metrics.add(&p.id, Counter::RunsFailed, 1);
                // The connection may be inside a transaction the panic abandoned.
                if let Ok(fresh) = Ledger::open_for_home(&cx.home) {
                    *ledger = fresh;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn a_panic_becomes_an_error_and_the_caller_goes_on() {
        let quiet = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let text = guarded(|| -> u8 { panic!("poisoned file") });
        let owned = guarded(|| -> u8 { panic!("{} file", "poisoned") });
        std::panic::set_hook(quiet);
        assert_eq!(text, Err("poisoned file".to_string()));
        assert_eq!(owned, Err("poisoned file".to_string()));
        assert_eq!(guarded(|| 7), Ok(7));
    }
}
