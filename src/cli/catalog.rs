//! `tallyman catalog approve RUN [--reason TEXT]`: a catalog a run held for its price changes
//! is approved by a person (recorded in the ledger with who and when), then its file is rerun,
//! which publishes it. Catalogs held for removals or a row drop are not approvable: the file
//! or the pipeline's limits must change.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Result};
use chrono::Utc;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Command,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Approve the price changes of a catalog a run held, and rerun that run (publishes it).
    Approve {
        run: String,
        /// Why (recorded with the rerun; default: who approved).
        #[arg(long)]
        reason: Option<String>,
    },
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    match args.action {
        Command::Approve { run, reason } => approve(home, &run, reason),
    }
}

fn approve(home: &Path, run: &str, reason: Option<String>) -> Result<ExitCode> {
    let ledger = super::open_ledger(&super::home(home))?;
    let Some(hold) = ledger.catalog_hold(run)? else {
        bail!("run {run} held no catalog");
    };
    if hold.kind != "price_change" {
        bail!(
            "run {run} held its catalog for {} ({}): only price changes can be approved; correct the file or the pipeline's limits, then rerun",
            hold.kind,
            hold.reason
        );
    }
    let actor = std::env::var("TALLYMAN_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    ledger.approve_catalog_prices(&hold, &actor, &tallyman::runner::now_text(Utc::now()))?;
    // The rerun opens the ledger itself, under the pipeline's lock.
    drop(ledger);
    println!("price changes of run {run} approved by {actor}; rerunning it");
    super::rerun::run(
        home,
        super::rerun::Args {
            pipeline: hold.pipeline,
            date: None,
            file: None,
            run: Some(run.to_string()),
            dry_run: false,
            reason: Some(
                reason.unwrap_or_else(|| format!("catalog price changes approved by {actor}")),
            ),
            json: false,
            lock_wait_secs: 60,
            cascade: false,
        },
    )
}
