//! One file per subcommand; `anyhow` lives only here.
pub mod breaks;
pub mod catalog;
pub mod check;
pub mod demo;
pub mod exit;
pub mod inspect;
pub mod ledger;
pub mod mail;
pub mod orders;
pub mod pause;
pub mod progress;
pub mod rerun;
pub mod run;
pub mod runs;
pub mod schema;
pub mod serve;
pub mod uploads;
pub mod validate;

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use tallyman::config::{self, Home};
use tallyman::store::Ledger;

/// Exit code for configuration problems (`check`, and any command that loads bad config).
pub const EXIT_CONFIG: u8 = 2;

/// The log on stderr, filtered by `TALLYMAN_LOG` (default info); with `progress` (`run`,
/// `rerun`, `validate` in text format) also the progress of long work, whatever the log level.
pub fn init_logging(format: &str, progress: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    let filter = tracing_subscriber::EnvFilter::try_from_env("TALLYMAN_LOG")
        .unwrap_or_else(|_| "info".into());
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour(
            std::io::IsTerminal::is_terminal(&std::io::stderr()),
            std::env::var_os("NO_COLOR").is_some(),
        ))
        .with_target(false);
    let fmt = match format {
        "json" => fmt.json().with_filter(filter).boxed(),
        _ => fmt.with_filter(filter).boxed(),
    };
    // Only the modules whose logs are the stages (a run's at info, the validator's at debug),
    // so no other debug log is built for it.
    let progress = (progress && format != "json").then(|| {
        progress::ProgressLayer::new().with_filter(
            tracing_subscriber::filter::Targets::new()
                .with_target("tallyman::schema::validate", tracing::Level::DEBUG)
                .with_target("tallyman::runner::process", tracing::Level::INFO)
                .with_target("tallyman::pipeline", tracing::Level::INFO),
        )
    });
    tracing_subscriber::registry()
        .with(fmt)
        .with(progress)
        .init();
}

/// Colour codes only for a person at a terminal: a log file or a pipe (journald, a log
/// shipper, `2>>tallyman.log`) would carry the escape sequences as text. `NO_COLOR` (any
/// value, per no-color.org) turns them off at a terminal too.
fn colour(terminal: bool, no_color: bool) -> bool {
    terminal && !no_color
}

/// Loads and compiles the home's configuration (pipelines, schemas, `tallyman.toml`); on
/// problems prints them all and returns the exit code.
pub fn load_config(home: &Home) -> std::result::Result<config::Config, ExitCode> {
    config::load(home).map_err(|errors| {
        eprintln!("{} configuration problem(s):", errors.len());
        for e in &errors {
            eprintln!("  {e}");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

/// The home's ledger: `var/ledger.sqlite`, or the PostgreSQL ledger `tallyman.toml` names.
pub fn open_ledger(home: &Home) -> Result<Ledger> {
    Ledger::open_for_home(home).context("opening the ledger")
}

/// The SQLite ledger in the home (`var/ledger.sqlite`).
pub fn open_sqlite_ledger(home: &Home) -> Result<Ledger> {
    let path = home.var().join("ledger.sqlite");
    Ledger::open_home(&path, &home.archive())
        .with_context(|| format!("opening the ledger {}", path.display()))
}

pub fn home(path: &Path) -> Home {
    Home::new(path.to_path_buf())
}
