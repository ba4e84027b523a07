//! `tallyman pause PIPELINE [--reason TEXT]` and `tallyman resume PIPELINE`: what the console's
//! Pause and Resume buttons do, from a terminal. `serve` starts no job for a paused pipeline;
//! each is recorded in the ledger's `console_actions` with its actor (`$TALLYMAN_ACTOR` or
//! `$USER`), like the console's.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use chrono::Utc;
use tallyman::store::console::NewAction;

#[derive(clap::Args)]
pub struct Args {
    pub pipeline: String,
    /// Why (recorded with who paused it; shown on the console).
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(clap::Args)]
pub struct ResumeArgs {
    pub pipeline: String,
}

fn actor() -> String {
    std::env::var("TALLYMAN_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into())
}

/// Pauses (`pause`) or resumes `pipeline`, recording the action.
pub fn run(home: &Path, pipeline: &str, reason: Option<&str>, pause: bool) -> Result<ExitCode> {
    let home = super::home(home);
    let config = match super::load_config(&home) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if !config.pipelines.contains_key(pipeline) {
        eprintln!("error: no pipeline `{pipeline}`");
        return Ok(ExitCode::from(super::exit::CONFIG));
    }
    let ledger = super::open_ledger(&home)?;
    let actor = actor();
    let now = tallyman::runner::now_text(Utc::now());
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    let action = if pause { "pause" } else { "resume" };
    let id = ledger.record_console_action(&NewAction {
        at: &now,
        actor: &actor,
        action,
        pipeline: Some(pipeline),
        target: None,
        reason,
    })?;
    let outcome = match (
        pause,
        pause && ledger.pause_pipeline(pipeline, &actor, reason, &now)?,
    ) {
        (true, true) => "paused",
        (true, false) => "was paused already",
        (false, _) if ledger.resume_pipeline(pipeline)? => "resumed",
        (false, _) => "was not paused",
    };
    ledger.console_action_outcome(id, outcome)?;
    println!("{pipeline}: {outcome} (by {actor})");
    Ok(ExitCode::SUCCESS)
}
