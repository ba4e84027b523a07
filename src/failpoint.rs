//! Crash points for recovery tests: `TALLYMAN_FAILPOINTS=name[,name]` aborts the process at the
//! named point, the way a power cut or `kill -9` would, so tests can prove what a restart repairs
//! (`pause:name` stops there instead, for a test to kill the process itself; `slow:name`
//! sleeps five seconds there).
//!
//! The variable is read once; unset (always, in production) a hit is one relaxed atomic load.

use std::sync::OnceLock;

static ARMED: OnceLock<Vec<String>> = OnceLock::new();

/// Whether a `panic-once:` point has fired.
static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Every crash point, in the order a file's run meets them (the battery arms each in turn):
/// after each durable step of taking a file, of a run, of its publication and of its report.
pub const POINTS: &[&str] = &[
    "landed",
    "claimed",
    "run-started",
    "input-archived",
    "output-staged",
    "run-recorded",
    "first-output-published",
    "published",
    "open-items",
    "report-queued",
];

/// Aborts the process (no destructors, no buffered writes flushed) when `name` is armed.
pub fn hit(name: &str) {
    let armed = ARMED.get_or_init(|| {
        std::env::var("TALLYMAN_FAILPOINTS")
            .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    });
    if armed.iter().any(|a| a == name) {
        eprintln!("tallyman: failpoint {name} hit: aborting");
        std::process::abort();
    }
    // `pause:NAME` stops there for good (a run caught mid-way, for a test to `kill -9`).
    if armed.iter().any(|a| a.strip_prefix("pause:") == Some(name)) {
        eprintln!("tallyman: failpoint {name} hit: pausing");
        loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        }
    }
    // `slow:NAME` sleeps five seconds there: a long step (a tick outlasting a test's short
    // lease, which must be renewed meanwhile).
    if armed.iter().any(|a| a.strip_prefix("slow:") == Some(name)) {
        eprintln!("tallyman: failpoint {name} hit: sleeping 5 s");
        std::thread::sleep(std::time::Duration::from_secs(5));
    }
    // `panic-once:NAME` panics at the first hit only: a bug meeting one file, for the tests of
    // panic isolation (the files after it must go on).
    if armed
        .iter()
        .any(|a| a.strip_prefix("panic-once:") == Some(name))
        && !PANICKED.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        panic!("failpoint {name} hit");
    }
}
