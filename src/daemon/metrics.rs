//! Per-pipeline counters and gauges, rendered in the Prometheus text exposition format (0.0.4).
//!
//! Rendered by hand rather than with `prometheus-client`: the metric set is fixed and small, the
//! format is a few line shapes (HELP, TYPE, samples with escaped labels), and doing it here keeps
//! the dependency tree and the registration/encoder machinery out of the daemon.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};

/// A per-pipeline counter (a monotonically increasing total).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counter {
    FilesReceived,
    FilesProcessed,
    Duplicates,
    Quarantined,
    Issues,
    Breaks,
    LateFiles,
    RunsFailed,
    Passes,
}

impl Counter {
    pub const ALL: [Counter; 9] = [
        Counter::FilesReceived,
        Counter::FilesProcessed,
        Counter::Duplicates,
        Counter::Quarantined,
        Counter::Issues,
        Counter::Breaks,
        Counter::LateFiles,
        Counter::RunsFailed,
        Counter::Passes,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counter::FilesReceived => "tallyman_files_received_total",
            Counter::FilesProcessed => "tallyman_files_processed_total",
            Counter::Duplicates => "tallyman_files_duplicate_total",
            Counter::Quarantined => "tallyman_files_quarantined_total",
            Counter::Issues => "tallyman_issues_total",
            Counter::Breaks => "tallyman_breaks_total",
            Counter::LateFiles => "tallyman_late_files_total",
            Counter::RunsFailed => "tallyman_runs_failed_total",
            Counter::Passes => "tallyman_passes_total",
        }
    }

    fn help(self) -> &'static str {
        match self {
            Counter::FilesReceived => "Files claimed into the ledger.",
            Counter::FilesProcessed => "Files processed to the end of a run.",
            Counter::Duplicates => "Files whose content was already processed for the pipeline.",
            Counter::Quarantined => "Files rejected to quarantine.",
            Counter::Issues => "Data issues found in validated files.",
            Counter::Breaks => "Reconciliation breaks found.",
            Counter::LateFiles => "Expected partner files that missed their deadline.",
            Counter::RunsFailed => "Runs that ended with an operational error.",
            Counter::Passes => {
                "Jobs finished for the pipeline (a look at its sources, a tick, waiting files), \
                 whatever they found: a pipeline whose passes stop is stuck."
            }
        }
    }
}

#[derive(Debug, Default, Clone)]
struct PipelineMetrics {
    counters: BTreeMap<Counter, u64>,
    run_seconds_sum: f64,
    run_count: u64,
    last_success: Option<DateTime<Utc>>,
    /// Files held now: waiting for their ERP extract, and failed on the configuration.
    waiting: u64,
    failed: u64,
    /// The open-item book now (from the ledger after each job).
    open_items: Vec<crate::runner::open_items::Gauge>,
}

#[derive(Debug, Default)]
struct Inner {
    pipelines: BTreeMap<String, PipelineMetrics>,
    mail_queue_depth: u64,
    reload_failures: u64,
    /// Whether the last SIGHUP reload failed (the configuration on disk is not the one running).
    reload_failing: bool,
    /// When the daemon's loop last went round (its heartbeat: a stuck loop stops it).
    heartbeat: Option<DateTime<Utc>>,
}

/// Shared between the run loop and the HTTP thread (wrap in an `Arc`).
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Makes a pipeline's series appear at zero before its first event, as Prometheus advises.
    pub fn register_pipeline(&self, pipeline: &str) {
        let mut inner = self.lock();
        let p = inner.pipelines.entry(pipeline.to_string()).or_default();
        for c in Counter::ALL {
            p.counters.entry(c).or_insert(0);
        }
    }

    pub fn add(&self, pipeline: &str, counter: Counter, n: u64) {
        let mut inner = self.lock();
        let p = inner.pipelines.entry(pipeline.to_string()).or_default();
        let v = p.counters.entry(counter).or_insert(0);
        *v = v.saturating_add(n);
    }

    pub fn observe_run(&self, pipeline: &str, took: Duration) {
        let mut inner = self.lock();
        let p = inner.pipelines.entry(pipeline.to_string()).or_default();
        p.run_seconds_sum += took.as_secs_f64();
        p.run_count = p.run_count.saturating_add(1);
    }

    pub fn set_last_success(&self, pipeline: &str, at: DateTime<Utc>) {
        let mut inner = self.lock();
        inner
            .pipelines
            .entry(pipeline.to_string())
            .or_default()
            .last_success = Some(at);
    }

    /// `last_success` of each registered pipeline from the ledger, so the figure survives a
    /// restart; a later success seen by this process is kept.
    pub fn load_last_success(&self, ledger: &crate::store::Ledger) {
        let found = match ledger.last_successes() {
            Ok(f) => f,
            Err(e) => {
                tracing::error!("reading the last successful runs: {e}");
                return;
            }
        };
        let mut inner = self.lock();
        for (pipeline, at) in found {
            if let Some(p) = inner.pipelines.get_mut(&pipeline) {
                p.last_success = p.last_success.max(Some(at));
            }
        }
    }

    /// A SIGHUP reload failed (`ok = false`) or worked.
    pub fn reload(&self, ok: bool) {
        let mut inner = self.lock();
        inner.reload_failing = !ok;
        if !ok {
            inner.reload_failures = inner.reload_failures.saturating_add(1);
        }
    }

    /// How many files of a pipeline are held now (from the ledger after each job).
    pub fn set_held(&self, pipeline: &str, waiting: u64, failed: u64) {
        let mut inner = self.lock();
        let p = inner.pipelines.entry(pipeline.to_string()).or_default();
        p.waiting = waiting;
        p.failed = failed;
    }

    /// The open-item book of a pipeline now, by state, age bucket and currency.
    pub fn set_open_items(&self, pipeline: &str, gauges: Vec<crate::runner::open_items::Gauge>) {
        let mut inner = self.lock();
        inner
            .pipelines
            .entry(pipeline.to_string())
            .or_default()
            .open_items = gauges;
    }

    /// The run loop went round once: schedules, hints and expected-file windows looked at.
    pub fn heartbeat(&self, at: DateTime<Utc>) {
        self.lock().heartbeat = Some(at);
    }

    pub fn set_mail_queue_depth(&self, depth: u64) {
        self.lock().mail_queue_depth = depth;
    }

    /// The current value of one counter (for tests and the health page).
    pub fn counter(&self, pipeline: &str, counter: Counter) -> u64 {
        let inner = self.lock();
        inner
            .pipelines
            .get(pipeline)
            .and_then(|p| p.counters.get(&counter).copied())
            .unwrap_or(0)
    }

    pub fn pipelines(&self) -> Vec<String> {
        self.lock().pipelines.keys().cloned().collect()
    }

    /// The whole registry in the text exposition format, families in a fixed order.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        // Counters of work done say which host did it: daemons of a cluster share pipelines.
        let host = escape_label(&crate::store::lease::host());
        for c in Counter::ALL {
            family(&mut out, c.name(), "counter", c.help());
            for (id, p) in &inner.pipelines {
                if let Some(v) = p.counters.get(&c) {
                    let _ = writeln!(
                        out,
                        "{}{{pipeline=\"{}\",host=\"{host}\"}} {v}",
                        c.name(),
                        escape_label(id)
                    );
                }
            }
        }
        let run = "tallyman_run_duration_seconds";
        family(&mut out, run, "summary", "Wall time of pipeline runs.");
        for (id, p) in &inner.pipelines {
            sample(
                &mut out,
                &format!("{run}_sum"),
                id,
                &float(p.run_seconds_sum),
            );
            sample(
                &mut out,
                &format!("{run}_count"),
                id,
                &p.run_count.to_string(),
            );
        }
        let last = "tallyman_last_success_timestamp_seconds";
        family(
            &mut out,
            last,
            "gauge",
            "Unix time of the last successful run.",
        );
        for (id, p) in &inner.pipelines {
            if let Some(at) = p.last_success {
                sample(
                    &mut out,
                    last,
                    id,
                    &float(at.timestamp_millis() as f64 / 1000.0),
                );
            }
        }
        for (name, help, value) in [
            (
                "tallyman_files_waiting",
                "Files held waiting for their ERP extract.",
                (|p: &PipelineMetrics| p.waiting) as fn(&PipelineMetrics) -> u64,
            ),
            (
                "tallyman_files_failed",
                "Files held after a run failed on the pipeline's configuration (rerun after the fix).",
                |p: &PipelineMetrics| p.failed,
            ),
        ] {
            family(&mut out, name, "gauge", help);
            for (id, p) in &inner.pipelines {
                sample(&mut out, name, id, &value(p).to_string());
            }
        }
        render_open_items(&mut out, &inner.pipelines);
        let mail = "tallyman_mail_queue_depth";
        family(
            &mut out,
            mail,
            "gauge",
            "Exception reports queued and not yet sent.",
        );
        let _ = writeln!(out, "{mail} {}", inner.mail_queue_depth);
        let failures = "tallyman_config_reload_failures_total";
        family(
            &mut out,
            failures,
            "counter",
            "SIGHUP reloads refused for configuration problems.",
        );
        let _ = writeln!(out, "{failures} {}", inner.reload_failures);
        let last = "tallyman_config_last_reload_successful";
        family(
            &mut out,
            last,
            "gauge",
            "1 when the configuration on disk is the one running, 0 after a failed reload.",
        );
        let _ = writeln!(out, "{last} {}", u8::from(!inner.reload_failing));
        if let Some(at) = inner.heartbeat {
            let beat = "tallyman_daemon_heartbeat_timestamp_seconds";
            family(
                &mut out,
                beat,
                "gauge",
                "Unix time the daemon's loop last went round (schedules, hints, expected files).",
            );
            let _ = writeln!(
                out,
                "{beat} {}",
                float(at.timestamp_millis() as f64 / 1000.0)
            );
        }
        out
    }

    /// A panic elsewhere while holding the lock leaves plain numbers behind, still worth serving.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Open items by pipeline, state and age bucket, and their money per currency: the amount is
/// the exact decimal written as text (the format reads any float literal).
fn render_open_items(out: &mut String, pipelines: &BTreeMap<String, PipelineMetrics>) {
    let count = "tallyman_open_items";
    family(
        out,
        count,
        "gauge",
        "Open items (open or acknowledged breaks) by state and age bucket.",
    );
    for (id, p) in pipelines {
        let mut by: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for g in &p.open_items {
            *by.entry((g.state.as_str(), g.bucket.as_str())).or_default() += g.count;
        }
        for ((state, bucket), n) in by {
            let _ = writeln!(
                out,
                "{count}{{pipeline=\"{}\",state=\"{}\",bucket=\"{}\"}} {n}",
                escape_label(id),
                escape_label(state),
                escape_label(bucket)
            );
        }
    }
    let amount = "tallyman_open_items_amount";
    family(
        out,
        amount,
        "gauge",
        "Money of the open items by state, age bucket and currency (the breaks' differences).",
    );
    for (id, p) in pipelines {
        for g in &p.open_items {
            let _ = writeln!(
                out,
                "{amount}{{pipeline=\"{}\",state=\"{}\",bucket=\"{}\",currency=\"{}\"}} {}",
                escape_label(id),
                escape_label(&g.state),
                escape_label(&g.bucket),
                escape_label(&g.currency),
                g.amount.normalize()
            );
        }
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {}", escape_help(help));
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, pipeline: &str, value: &str) {
    let _ = writeln!(
        out,
        "{name}{{pipeline=\"{}\"}} {value}",
        escape_label(pipeline)
    );
}

/// Label values escape backslash, double quote and line feed.
pub fn escape_label(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

/// HELP text escapes backslash and line feed only.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// Rust prints finite floats without exponents, which Prometheus parses; the rest are spelled out.
fn float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}
