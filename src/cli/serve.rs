//! `tallyman serve`: the daemon (schedules, watched folders, late-file alerts, /healthz, /metrics).
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use tallyman::daemon::http::{parse_listen, DEFAULT_LISTEN};
use tallyman::daemon::serve::{serve, Options};

#[derive(clap::Args)]
pub struct Args {
    /// Address for /healthz and /metrics, or `off`.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
    /// Seconds between full scans of the drop folders (folder events only make a look sooner).
    #[arg(long, default_value_t = 5)]
    pub scan_secs: u64,
    /// Pipelines processed at the same time (one run per pipeline at a time).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// On SIGTERM/SIGINT, how long running work may take to finish.
    #[arg(long, default_value_t = 60)]
    pub shutdown_secs: u64,
    /// On a schedule tick, the longest wait for young files to settle.
    #[arg(long, default_value_t = 30)]
    pub max_wait_secs: u64,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let listen = match args.listen.trim() {
        "off" => None,
        other => Some(parse_listen(other)?),
    };
    // Absolute, so folder events (absolute paths) match the pipelines' folders.
    let root =
        std::fs::canonicalize(home).with_context(|| format!("home folder {}", home.display()))?;
    let opts = Options {
        listen,
        scan: Duration::from_secs(args.scan_secs.max(1)),
        workers: args.workers.max(1),
        shutdown: Duration::from_secs(args.shutdown_secs),
        max_wait: Duration::from_secs(args.max_wait_secs),
    };
    match serve(super::home(&root), opts) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            eprintln!("error: {e}");
            Ok(ExitCode::from(e.exit_code()))
        }
    }
}
