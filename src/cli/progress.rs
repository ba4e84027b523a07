//! Progress of long CLI work (`run`, `rerun`, `validate`): the stages the runner and the
//! validator already log (`run started`, `validate: parsed`, ..., `run ended`) drive a progress
//! bar when stderr is a terminal, and plain `progress:` lines when it is not (a log file, CI).
//! Only work still going after `TALLYMAN_PROGRESS_AFTER_MS` (default 1000; 0: always) shows,
//! so small files stay quiet.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// The stages, in the order they come, by how their log message starts.
const STAGES: &[(&str, &str)] = &[
    ("run started", "started"),
    ("validate: parsed", "parsed"),
    ("validate: converted", "converted"),
    ("validate: keys checked", "keys checked"),
    ("validate: foreign keys", "foreign keys checked"),
    ("validate: issues", "issues listed"),
    ("validate: final frame", "table validated"),
    ("validated in", "validated"),
    ("reconciled in", "reconciled"),
    ("transformed in", "transformed"),
    ("run ended", "ended"),
];

/// The stage that ends a file's work (a run, or a validation outside a run).
fn is_last(message: &str) -> bool {
    message.starts_with("run ended")
}

/// How long a file's work goes on before its progress shows.
fn threshold() -> Duration {
    std::env::var("TALLYMAN_PROGRESS_AFTER_MS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(Duration::from_secs(1), Duration::from_millis)
}

/// What one file's work has shown so far.
struct Current {
    /// `pipeline file` of a run, or the file a validation reads.
    what: String,
    started: Instant,
    /// Started by `run started`: the run's own end closes it, not a table's validation.
    in_run: bool,
    /// The furthest stage reached (references are validated before the partner file: the
    /// progress never goes back).
    step: usize,
    bar: Option<ProgressBar>,
}

pub struct ProgressLayer {
    terminal: bool,
    after: Duration,
    current: Mutex<Option<Current>>,
}

impl ProgressLayer {
    pub fn new() -> ProgressLayer {
        ProgressLayer {
            terminal: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            after: threshold(),
            current: Mutex::new(None),
        }
    }
}

/// The fields of an event the layer reads.
#[derive(Default)]
struct Fields {
    message: String,
    pipeline: Option<String>,
    file: Option<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "file" => self.file = Some(value.to_string()),
            "pipeline" => self.pipeline = Some(value.to_string()),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "file" => self.file = Some(format!("{value:?}")),
            "pipeline" => self.pipeline = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

impl<S: Subscriber> Layer<S> for ProgressLayer {
    fn on_event(&self, event: &Event<'_>, _cx: Context<'_, S>) {
        if !event.metadata().target().starts_with("tallyman") {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let Some(step) = STAGES.iter().position(|(p, _)| f.message.starts_with(p)) else {
            return;
        };
        let label = STAGES[step].1;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        // A run names its pipeline and file when it starts; a validation outside a run
        // (`tallyman validate`) starts with its first stage.
        if step == 0 || current.is_none() {
            let what = match (&f.pipeline, &f.file) {
                (Some(p), Some(file)) => format!("{p} {file}"),
                (None, Some(file)) => format!("validate {file}"),
                (Some(p), None) => p.clone(),
                (None, None) => "work".to_string(),
            };
            if let Some(old) = current.take().and_then(|c| c.bar) {
                old.finish_and_clear();
            }
            *current = Some(Current {
                what,
                started: Instant::now(),
                in_run: step == 0,
                step,
                bar: None,
            });
        } else if current.as_ref().is_some_and(|c| step <= c.step) {
            return;
        }
        let Some(c) = current.as_mut() else {
            return;
        };
        c.step = step;
        let elapsed = c.started.elapsed();
        let last = is_last(&f.message) || (!c.in_run && f.message.starts_with(STAGES[6].0));
        if elapsed >= self.after {
            if self.terminal {
                let bar = c.bar.get_or_insert_with(|| {
                    let bar = ProgressBar::new(STAGES.len() as u64 - 1);
                    if let Ok(style) =
                        ProgressStyle::with_template("{prefix} [{bar:30}] {msg} ({elapsed})")
                    {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar.set_prefix(c.what.clone());
                    bar
                });
                bar.set_position(step as u64);
                bar.set_message(label);
            } else {
                // One line per stage; a failed write to stderr has nowhere to be reported.
                let _ = writeln!(
                    std::io::stderr(),
                    "progress: {}: {label} ({}/{}, {:.1}s)",
                    c.what,
                    step,
                    STAGES.len() - 1,
                    elapsed.as_secs_f64()
                );
            }
        }
        if last {
            if let Some(bar) = c.bar.take() {
                bar.finish_with_message(label);
            }
            *current = None;
        }
    }
}
