//! Crash points for recovery tests: `TALLYMAN_FAILPOINTS=name[,name]` aborts the process at the
//! named point, the way a power cut or `kill -9` would, so tests can prove what a restart repairs.
//!
//! The variable is read once; unset (always, in production) a hit is one relaxed atomic load.

use std::sync::OnceLock;

static ARMED: OnceLock<Vec<String>> = OnceLock::new();

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
}
