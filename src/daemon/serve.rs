//! `tallyman serve`: start-up in order (lock, signals, pipelines, HTTP), then the loop that
//! hands jobs to worker threads, and a bounded graceful stop.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, DurationRound, SubsecRound, TimeDelta, Utc};

use super::expected::{AlertBook, WindowKey};
use super::http::{Health, HttpServer};
use super::kept_ledger::KeptLedger;
use super::ledger_fault::LedgerFault;
use super::metrics::{Counter, Metrics};
use super::signals::Signals;
use super::watch::{self, Hint};
use super::worker::{self, Context, Done, Job, JobKind, Slot};
use super::ServeError;
use crate::config::{self, Home, MailSettings, Pipeline};
use crate::console::Console;
use crate::store::file_leases::{lease_secs, now_secs};
use crate::store::home_lock::DataLock;
use crate::store::tick_leases::Tick;
use crate::store::Ledger;

/// The loop wakes at least this often to look at signals, schedules and deadlines.
const TICK: Duration = Duration::from_millis(200);
/// A pipeline with files still settling is looked at again no sooner than this.
const MIN_LOOK: Duration = Duration::from_millis(50);

#[derive(Debug, Clone)]
pub struct Options {
    pub listen: Option<SocketAddr>,
    pub scan: Duration,
    pub workers: usize,
    pub shutdown: Duration,
    /// Longest wait for young files on a schedule tick.
    pub max_wait: Duration,
}

enum Msg {
    Hint(Hint),
    Done(Done),
}

impl From<Hint> for Msg {
    fn from(h: Hint) -> Msg {
        Msg::Hint(h)
    }
}

struct Entry {
    p: Arc<Pipeline>,
    slot: Arc<Slot>,
    next_scan: Instant,
    hinted: bool,
    /// Something changed in the ERP extract folder: files waiting for an extract may run now.
    extract_hinted: bool,
    /// Scheduled pipelines: the last fire run (or the baseline when first seen).
    last_fire: Option<DateTime<Utc>>,
    /// A tick whose job found the pipeline's lock held is asked for again from then on.
    tick_retry: Option<Instant>,
}

/// How often an unscheduled pipeline is looked at: the SFTP source's `poll_secs`, else the
/// daemon's scan interval (local folders also get file-system hints in between).
fn every(p: &Pipeline, scan: Duration) -> Duration {
    p.source.sftp.as_ref().map_or(scan, |ep| ep.poll)
}

/// Runs the daemon until SIGTERM/SIGINT; `Ok` after a clean stop.
pub fn serve(home: Home, opts: Options) -> Result<(), ServeError> {
    // One daemon per home with the SQLite ledger; with PostgreSQL several `serve` share the
    // home and its ledger (a wrong `[ledger]` is reported by `config::load` below).
    let shared = matches!(
        config::load_ledger(&home),
        Ok(config::ledger::LedgerBackend::Postgres(_))
    );
    let lock = if shared {
        None
    } else {
        Some(DataLock::acquire(&home.root)?)
    };
    let signals = Signals::install()?;
    let config = config::load(&home).map_err(ServeError::Config)?;
    let pipelines = config.pipelines;
    // The compiled mail settings go with every job; a reload replaces them with the pipelines.
    let mut mail = Arc::new(config.mail);
    let ledger = Ledger::open_for_home(&home)?;
    let metrics = Arc::new(Metrics::new());
    let health =
        Arc::new(Health::new(pipelines.keys().cloned().collect()).with_ledger(home.clone()));
    // The console's token is read once, at start: a missing file or variable stops `serve`
    // rather than leave the console silently read-only.
    let console_settings = config::console::load(&home).map_err(ServeError::Config)?;
    let console = Arc::new(Console::new(
        home.clone(),
        crate::console::read_token(&console_settings)?,
    )?);
    let http = match opts.listen {
        Some(addr) => {
            let server = HttpServer::start_with_console(
                addr,
                Arc::clone(&health),
                Arc::clone(&metrics),
                Some(Arc::clone(&console)),
            )?;
            tracing::info!(
                "console, health and metrics on http://{}/ (console {})",
                server.local_addr(),
                if console.writable() {
                    "with actions"
                } else {
                    "read-only"
                }
            );
            Some(server)
        }
        None => None,
    };
    let mut book = AlertBook::with_raised(
        (ledger.raised_alerts()?.into_iter())
            .map(|(pipeline, date)| WindowKey { pipeline, date })
            .collect::<Vec<_>>(),
    );
    let (tx, rx) = mpsc::channel::<Msg>();
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let cx = Arc::new(Context {
        home: home.clone(),
        metrics: Arc::clone(&metrics),
        shutdown: signals.shutdown_flag(),
        max_wait: opts.max_wait,
    });
    start_workers(opts.workers.max(1), &cx, job_rx, &tx)?;
    let mut entries = BTreeMap::new();
    adopt(&mut entries, pipelines, &ledger, &metrics);
    console.set_pipelines(console_pipelines(&entries));
    let mut watcher = watch::watch(&folders(&entries), tx.clone());
    tracing::info!(
        "serving {} pipeline(s) from {} with {} worker(s)",
        entries.len(),
        home.root.display(),
        opts.workers.max(1)
    );
    let mut in_flight = 0usize;
    let mut next_expected = Instant::now();
    let mut fault = LedgerFault::default();
    while !signals.shutdown_requested() {
        if signals.take_reload() {
            if let Some(reloaded) = reload(&home, &mut entries, &ledger, &metrics, &health) {
                mail = Arc::new(reloaded);
            }
            console.set_pipelines(console_pipelines(&entries));
            drop(watcher.take()); // the old watcher stops before the new one starts
            watcher = watch::watch(&folders(&entries), tx.clone());
        }
        // Wake for the soonest due look of an idle unscheduled pipeline (settling files).
        let soonest = entries
            .values()
            .filter(|e| e.p.schedule.is_none() && !e.slot.busy.load(Ordering::SeqCst))
            .map(|e| e.next_scan)
            .min();
        let wait = soonest.map_or(TICK, |t| {
            t.saturating_duration_since(Instant::now()).min(TICK)
        });
        receive(&rx, wait, &mut entries, &mut in_flight, opts.scan);
        let now = Instant::now();
        let utc = Utc::now();
        // The ledger's connection broke: no new work until it is made again (with backoff).
        if !fault.ready(&ledger, now) {
            health.set_ledger_fault(fault.reason());
            metrics.heartbeat(utc);
            continue;
        }
        // Paused from the console or `tallyman pause`: no job starts (a ledger that cannot be
        // read pauses nothing; the jobs themselves will say what is wrong with it, unless its
        // connection broke, which stops new work here).
        let paused: BTreeSet<String> = match ledger.paused_pipelines() {
            Ok(p) => p.into_iter().map(|p| p.pipeline).collect(),
            Err(err) if fault.failed(&err, now) => {
                health.set_ledger_fault(fault.reason());
                continue;
            }
            Err(_) => BTreeSet::new(),
        };
        health.set_ledger_fault(None);
        for e in entries.values_mut() {
            if e.slot.busy.load(Ordering::SeqCst) || paused.contains(&e.p.id) {
                continue;
            }
            if e.tick_retry.is_some_and(|t| now < t) {
                continue;
            }
            let kind = match (&e.p.schedule, e.last_fire) {
                (Some(s), last) => match tick_due(s, last, utc) {
                    // Taken in the ledger first: with daemons sharing it, one runs the tick.
                    Some(fire) => match ledger.take_tick(
                        &e.p.id,
                        fire,
                        &crate::store::lease::owner(),
                        now_secs(),
                        lease_secs(),
                    ) {
                        Ok(Tick::Taken) => {
                            tracing::info!(pipeline = %e.p.id, "scheduled tick {fire} taken");
                            e.last_fire = Some(fire);
                            JobKind::Tick { fire }
                        }
                        Ok(Tick::Done) => {
                            e.last_fire = Some(fire);
                            continue;
                        }
                        // Another daemon runs it; asked again next turn, so it is taken
                        // over should that daemon die first.
                        Ok(Tick::Held) => continue,
                        Err(err) => {
                            fault.failed(&err, now);
                            tracing::warn!(pipeline = %e.p.id, "taking tick {fire}: {err}");
                            continue;
                        }
                    },
                    // Between ticks, files waiting for their ERP extract still run as soon as
                    // it lands (or their wait runs out): a job that takes nothing new.
                    None if e.extract_hinted || now >= e.next_scan => {
                        if !has_waiting(&ledger, &e.p.id) {
                            e.extract_hinted = false;
                            e.next_scan = now + every(&e.p, opts.scan);
                            continue;
                        }
                        JobKind::Waiting
                    }
                    None => continue,
                },
                (None, _) if e.hinted || e.extract_hinted || now >= e.next_scan => JobKind::Scan,
                (None, _) => continue,
            };
            e.hinted = false;
            e.extract_hinted = false;
            e.next_scan = now + every(&e.p, opts.scan);
            e.slot.busy.store(true, Ordering::SeqCst);
            let job = Job {
                pipeline: Arc::clone(&e.p),
                slot: Arc::clone(&e.slot),
                mail: Arc::clone(&mail),
                kind,
            };
            if job_tx.send(job).is_ok() {
                in_flight += 1;
            }
        }
        if now >= next_expected {
            next_expected = now + opts.scan;
            check_expected(&entries, &paused, &ledger, &mail, &mut book, &metrics, utc);
        }
        metrics.heartbeat(utc);
    }
    tracing::info!(
        "stopping: no new work; waiting up to {}s for {in_flight} job(s)",
        opts.shutdown.as_secs()
    );
    drop(job_tx);
    drop(watcher);
    let deadline = Instant::now() + opts.shutdown;
    while in_flight > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        receive(&rx, left.min(TICK), &mut entries, &mut in_flight, opts.scan);
    }
    if let Some(server) = http {
        let _ = server.shutdown();
    }
    drop(lock);
    if in_flight > 0 {
        return Err(ServeError::ShutdownTimeout(in_flight));
    }
    tracing::info!("stopped");
    Ok(())
}

/// The tick a scheduled pipeline owes at `now` given its last run: at most one, however many
/// were missed. Fires are cut to the whole minute and `now` to the whole second: croner carries
/// the sub-second part of the instant it searches from into the fire it returns, which would make
/// one tick look new on every pass.
pub fn tick_due(
    schedule: &crate::config::schedule::Schedule,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let fire = schedule.due_since(last, now.trunc_subsecs(0))?;
    Some(fire.duration_trunc(TimeDelta::minutes(1)).unwrap_or(fire))
}

fn start_workers(
    n: usize,
    cx: &Arc<Context>,
    jobs: Receiver<Job>,
    done: &Sender<Msg>,
) -> Result<(), ServeError> {
    let jobs = Arc::new(Mutex::new(jobs));
    for i in 0..n {
        let (cx, jobs, done) = (Arc::clone(cx), Arc::clone(&jobs), done.clone());
        std::thread::Builder::new()
            .name(format!("tallyman-worker-{i}"))
            .spawn(move || {
                let mut kept = KeptLedger::default();
                loop {
                    let job = match jobs.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    let _ = done.send(Msg::Done(worker::run_job(&cx, &job, &mut kept)));
                }
            })
            .map_err(ServeError::Spawn)?;
    }
    Ok(())
}

/// Waits up to `wait` for the first message, then takes every message already queued.
fn receive(
    rx: &Receiver<Msg>,
    wait: Duration,
    entries: &mut BTreeMap<String, Entry>,
    in_flight: &mut usize,
    scan: Duration,
) {
    let mut msg = match rx.recv_timeout(wait) {
        Ok(m) => m,
        Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return,
    };
    loop {
        match msg {
            Msg::Hint(Hint::Rescan) => entries.values_mut().for_each(|e| {
                e.hinted = true;
                e.extract_hinted = true;
            }),
            Msg::Hint(Hint::Changed(paths)) => {
                for e in entries.values_mut() {
                    let folder = &e.p.source.folder;
                    if paths.iter().any(|p| watch::concerns(folder, p)) {
                        e.hinted = true;
                    }
                    if let Some(erp) = &e.p.erp {
                        if paths.iter().any(|p| watch::concerns(&erp.folder, p)) {
                            e.extract_hinted = true;
                        }
                    }
                }
            }
            Msg::Done(done) => {
                *in_flight = in_flight.saturating_sub(1);
                if let Some(e) = entries.get_mut(&done.pipeline) {
                    // Its tick is owed again (its lease is still ours): asked for in a second,
                    // as the pipeline's files are looked at again.
                    e.tick_retry = done.tick_not_run.map(|fire| {
                        e.last_fire = Some(fire - TimeDelta::seconds(1));
                        Instant::now() + Duration::from_secs(1)
                    });
                    let scan = every(&e.p, scan);
                    let next = done.next_look.map_or(scan, |d| d.max(MIN_LOOK).min(scan));
                    e.next_scan = Instant::now() + next;
                }
            }
        }
        msg = match rx.try_recv() {
            Ok(m) => m,
            Err(_) => return,
        };
    }
}

/// Whether a pipeline has files waiting for their ERP extract (a failed look says no: the next
/// tick or hint looks again).
fn has_waiting(ledger: &Ledger, pipeline: &str) -> bool {
    ledger.waiting_files(pipeline).is_ok_and(|w| !w.is_empty())
}

/// The folders watched: drop folders, and ERP extract folders (files may wait for an extract).
fn folders(entries: &BTreeMap<String, Entry>) -> Vec<std::path::PathBuf> {
    let mut f: Vec<_> = entries
        .values()
        .flat_map(|e| {
            std::iter::once(e.p.source.folder.clone())
                .chain(e.p.erp.as_ref().map(|erp| erp.folder.clone()))
        })
        .collect();
    f.sort();
    f.dedup();
    f
}

/// Takes a freshly loaded set of pipelines, keeping the per-pipeline state of those that stay.
/// The loaded pipelines, for the console's pages.
fn console_pipelines(entries: &BTreeMap<String, Entry>) -> BTreeMap<String, Arc<Pipeline>> {
    (entries.iter())
        .map(|(id, e)| (id.clone(), Arc::clone(&e.p)))
        .collect()
}

fn adopt(
    entries: &mut BTreeMap<String, Entry>,
    pipelines: BTreeMap<String, Pipeline>,
    ledger: &Ledger,
    metrics: &Metrics,
) {
    let now = Utc::now().trunc_subsecs(0);
    entries.retain(|id, _| pipelines.contains_key(id));
    for (id, p) in pipelines {
        metrics.register_pipeline(&id);
        let last_fire = p.schedule.as_ref().map(|_| baseline(ledger, &id, now));
        let p = Arc::new(p);
        match entries.get_mut(&id) {
            Some(e) => {
                e.p = p;
                e.last_fire = e.last_fire.or(last_fire).filter(|_| e.p.schedule.is_some());
                e.hinted = true;
            }
            None => {
                entries.insert(
                    id,
                    Entry {
                        p,
                        slot: Arc::new(Slot::default()),
                        next_scan: Instant::now(),
                        hinted: true,
                        extract_hinted: true,
                        last_fire,
                        tick_retry: None,
                    },
                );
            }
        }
    }
    metrics.load_last_success(ledger);
    for e in entries.values() {
        super::worker::refresh_open_items(metrics, ledger, &e.p);
    }
}

/// The last scheduled run from the ledger; a pipeline never run on a schedule starts counting now.
fn baseline(ledger: &Ledger, id: &str, now: DateTime<Utc>) -> DateTime<Utc> {
    match ledger.last_scheduled_run(id) {
        Ok(Some(t)) => t,
        Ok(None) => {
            if let Err(e) = ledger.set_last_scheduled_run(id, now) {
                tracing::error!(pipeline = %id, "recording the schedule baseline: {e}");
            }
            now
        }
        Err(e) => {
            tracing::error!(pipeline = %id, "reading the last scheduled run: {e}");
            now
        }
    }
}

/// Compiles the configuration again (SIGHUP) and adopts its pipelines; returns its mail
/// settings, or `None` when it has problems (the old configuration keeps running).
fn reload(
    home: &Home,
    entries: &mut BTreeMap<String, Entry>,
    ledger: &Ledger,
    metrics: &Metrics,
    health: &Health,
) -> Option<MailSettings> {
    match config::load(home) {
        // The ledger stays the one the daemon opened at start: a changed `[ledger]` takes a
        // restart.
        Ok(config::Config {
            pipelines, mail, ..
        }) => {
            tracing::info!("SIGHUP: reloaded {} pipeline(s)", pipelines.len());
            adopt(entries, pipelines, ledger, metrics);
            health.set_pipelines(entries.keys().cloned().collect());
            health.reloaded();
            metrics.reload(true);
            Some(mail)
        }
        Err(errors) => {
            health.reload_failed(errors.len());
            metrics.reload(false);
            tracing::error!(
                "SIGHUP: {} configuration problem(s); the pipelines loaded before keep running",
                errors.len()
            );
            for e in errors {
                tracing::error!("  {e}");
            }
            None
        }
    }
}

/// Raises one alert per late window of each pipeline with an `[expected]` section. Not for a
/// paused pipeline: it takes no files, so the ledger cannot know whether its file came, and an
/// alert would be false; its windows are looked at again once it is resumed.
fn check_expected(
    entries: &BTreeMap<String, Entry>,
    paused: &BTreeSet<String>,
    ledger: &Ledger,
    mail: &MailSettings,
    book: &mut AlertBook,
    metrics: &Metrics,
    now: DateTime<Utc>,
) {
    for (id, e) in entries.iter().filter(|(id, _)| !paused.contains(*id)) {
        let Some(expected) = &e.p.expected else {
            continue;
        };
        let found = ledger.expected_since(id, now).and_then(|since| {
            let dates = ledger.arrival_dates(id)?;
            Ok((since, dates))
        });
        let (since, dates) = match found {
            Ok(v) => v,
            Err(e) => {
                tracing::error!(pipeline = %id, "reading expected-file state: {e}");
                continue;
            }
        };
        let arrivals: Vec<_> = dates
            .into_iter()
            .map(super::expected::Arrival::BusinessDate)
            .collect();
        let late = expected.late(since, now, &arrivals);
        for w in book.raise(id, &late) {
            tracing::warn!(pipeline = %id, business_date = %w.date, deadline = %w.deadline, "late file: nothing for business date {} by its deadline {}", w.date, w.deadline);
            metrics.add(id, Counter::LateFiles, 1);
            if let Err(e) = ledger.record_alert(id, w.date, w.deadline, now) {
                tracing::error!(pipeline = %id, "recording the alert: {e}");
            }
            match crate::runner::report::queue_late_alert(ledger, &e.p, mail, w.date, w.deadline) {
                Ok(true) => {
                    tracing::info!(pipeline = %id, business_date = %w.date, "late-file alert queued for mail")
                }
                Ok(false) => {}
                Err(why) => tracing::error!(pipeline = %id, "late-file alert mail: {why}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::schedule::Schedule;
    use chrono::TimeZone;

    fn at(h: u32, m: u32, s: u32, ms: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 26, h, m, s).unwrap() + TimeDelta::milliseconds(ms.into())
    }

    #[test]
    fn a_tick_is_owed_once_and_then_not_again() {
        let s = Schedule::parse("0 3 * * *", "UTC").unwrap();
        // Down since two days before: one run owed, for the latest 03:00.
        let last = at(18, 0, 0, 123) - TimeDelta::hours(50);
        let fire = tick_due(&s, Some(last), at(18, 0, 0, 456)).unwrap();
        assert_eq!(fire, at(3, 0, 0, 0));
        for ms in [457, 900, 999] {
            assert_eq!(tick_due(&s, Some(fire), at(18, 0, 1, ms)), None);
        }
        // Never run on a schedule: nothing owed until the next fire.
        assert_eq!(tick_due(&s, None, at(18, 0, 0, 0)), None);
        // The next day's tick is owed once it passes.
        let next = at(3, 0, 0, 0) + TimeDelta::days(1);
        assert_eq!(
            tick_due(&s, Some(fire), next + TimeDelta::milliseconds(250)),
            Some(next)
        );
    }
}
