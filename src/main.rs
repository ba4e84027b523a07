//! The `tallyman` command line: each subcommand parses its flags and calls one function.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cli;

// polars churns through large buffers; mimalloc reuses them instead of unmapping on every free
// (and hands back what stays free: `usage::tune_allocator`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tallyman",
    version,
    about = "Batch file exchange and reconciliation for ecommerce and ERP operations"
)]
struct Cli {
    /// The home folder holding pipelines/, schemas/, inbox/, outbox/, archive/ (default: $TALLYMAN_HOME or the current folder).
    #[arg(long, global = true, env = "TALLYMAN_HOME")]
    home: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check every pipeline and schema; print every problem at once; exit 2 on bad config.
    Check(cli::check::Args),
    /// Process what is ready in the drop folders, once, then exit.
    Run(cli::run::Args),
    /// Replay the archived inputs of a business date and say what changed.
    Rerun(cli::rerun::Args),
    /// List run history.
    Runs(cli::runs::Args),
    /// Run as a daemon: watched folders, schedules, late-file alerts, /healthz and /metrics.
    Serve(cli::serve::Args),
    /// Check one file against one schema, without a pipeline.
    Validate(cli::validate::Args),
    /// Say what an X12 or EDIFACT file holds: envelopes, counts, problems with their codes.
    Inspect(cli::inspect::Args),
    /// List the report mail queue; `mail flush` sends what is due, `mail retry ID` requeues a failed one.
    Mail(cli::mail::Args),
    /// Outbound files bound for SFTP destinations: list, push now, or retry.
    Uploads(cli::uploads::Args),
    /// The open-item book: list breaks across days, show one's timeline, acknowledge or close.
    Breaks(cli::breaks::Args),
    /// Pause a pipeline: `serve` takes no file and runs no tick for it until `resume`.
    Pause(cli::pause::Args),
    /// Resume a paused pipeline.
    Resume(cli::pause::ResumeArgs),
    /// Orders taken once per (channel, order id): states, amendments waiting, one's timeline.
    Orders(cli::orders::Args),
    /// Catalogs: `catalog approve RUN` publishes a catalog held for its price changes.
    Catalog(cli::catalog::Args),
    /// Schemas: `schema apply RUN` applies the schema patch a run proposed for a drifted header.
    Schema(cli::schema::Args),
    /// The ledger itself: `ledger migrate` brings it (SQLite or PostgreSQL) to this release's schema.
    Ledger(cli::ledger::Args),
    /// Drop the bundled demo files into the drop folders and run the pipelines.
    Demo(cli::demo::Args),
}

fn main() -> ExitCode {
    tallyman::usage::tune_allocator();
    tallyman::store::publish::private_umask();
    let cli = Cli::parse();
    let progress = matches!(
        cli.command,
        Command::Run(_) | Command::Rerun(_) | Command::Validate(_)
    );
    cli::init_logging(&cli.log_format, progress);
    let home = cli.home.clone().unwrap_or_else(|| PathBuf::from("."));
    let result = match cli.command {
        Command::Check(args) => cli::check::run(&home, args),
        Command::Run(a) => cli::run::run(&home, a),
        Command::Rerun(a) => cli::rerun::run(&home, a),
        Command::Runs(a) => cli::runs::run(&home, a),
        Command::Serve(a) => cli::serve::run(&home, a),
        Command::Validate(a) => cli::validate::run(a),
        Command::Demo(a) => cli::demo::run(&home, a),
        Command::Inspect(a) => cli::inspect::run(a),
        Command::Mail(a) => cli::mail::run(&home, a),
        Command::Uploads(a) => cli::uploads::run(&home, a),
        Command::Breaks(a) => cli::breaks::run(&home, a),
        Command::Pause(a) => cli::pause::run(&home, &a.pipeline, a.reason.as_deref(), true),
        Command::Resume(a) => cli::pause::run(&home, &a.pipeline, None, false),
        Command::Orders(a) => cli::orders::run(&home, a),
        Command::Catalog(a) => cli::catalog::run(&home, a),
        Command::Schema(a) => cli::schema::run(&home, a),
        Command::Ledger(a) => cli::ledger::run(&home, a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
