//! `tallyman runs`: run history with filters.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use tallyman::store::MailState;
use tallyman::store::{DeliveryState, FileState, RunFilter};

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Business date, YYYY-MM-DD (anything else is refused, not silently matched to nothing).
    #[arg(long)]
    pub date: Option<chrono::NaiveDate>,
    /// Only runs in this state.
    #[arg(long, value_parser = ["running", "waiting", "succeeded", "rejected", "failed"])]
    pub state: Option<String>,
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    #[arg(long)]
    pub json: bool,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let ledger = super::open_ledger(&home)?;
    let rows = ledger.runs(&RunFilter {
        pipeline: args.pipeline.clone(),
        date: args.date.map(|d| d.to_string()),
        state: args.state,
        limit: Some(args.limit),
    })?;
    if args.json {
        // Runs, and beside them what failed outside a run: remote sources whose last pass
        // failed (host, path and step in `last_error`) and after-claim actions still owed.
        let out = serde_json::json!({
            "runs": rows,
            "sources": ledger.source_problems()?,
            "remote_actions": ledger.pending_remote_actions()?,
            "held_files": ledger.held_files(args.pipeline.as_deref())?,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<8} {:<16} {:<10} {:<9} {:<7} {:>8} {:>6}  file / why",
        "run", "pipeline", "date", "state", "trigger", "rows", "issues"
    );
    for r in rows {
        let why = match (&r.trigger[..], &r.reason, &r.message) {
            ("rerun", Some(reason), m) => format!(
                " (rerun by {}: {reason}{})",
                r.actor.as_deref().unwrap_or("?"),
                m.as_ref().map(|m| format!("; {m}")).unwrap_or_default()
            ),
            (_, _, Some(m)) => format!(" ({m})"),
            _ => String::new(),
        };
        println!(
            "{:<8} {:<16} {:<10} {:<9} {:<7} {:>8} {:>6}  {}{}",
            r.run_id,
            r.pipeline,
            r.business_date.as_deref().unwrap_or("-"),
            r.state,
            r.trigger,
            r.rows.unwrap_or(0),
            r.issues.unwrap_or(0),
            r.file.as_deref().unwrap_or("-"),
            why
        );
    }
    // Files held without a finished run: waiting for their ERP extract, or failed on the
    // pipeline's configuration (a rerun after the fix closes them).
    for f in ledger.held_files(args.pipeline.as_deref())? {
        let next = match f.state {
            FileState::Failed => "; fix the pipeline, then `tallyman rerun`",
            _ => "",
        };
        println!(
            "file #{} {} of {} ({}): {}: {}{next}",
            f.file_id,
            f.name,
            f.pipeline,
            f.business_date.as_deref().unwrap_or("undated"),
            f.state,
            f.reason.as_deref().unwrap_or("-"),
        );
    }
    // Remote sources whose last pass failed: the partner's server may be down.
    for s in ledger.source_problems()? {
        println!(
            "source of {} ({}): failing since {} ({} pass(es); last worked {}): {}",
            s.pipeline,
            s.source,
            s.failing_since,
            s.failures,
            s.last_ok_at.as_deref().unwrap_or("never"),
            s.last_error
        );
    }
    // Remote files taken whose delete or move (or done marker removal) the server refused.
    for a in ledger.pending_remote_actions()? {
        println!(
            "after-claim {} of {} on {} ({}): pending after {} attempt(s), next try {}{}",
            a.action,
            tallyman::transport::sftp::escaped(&a.name),
            a.source,
            a.pipeline,
            a.attempts,
            chrono::DateTime::from_timestamp(a.next_attempt_at, 0)
                .map_or_else(|| "-".into(), |t| t.to_rfc3339()),
            a.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    // Uploads to SFTP destinations that have not reached the server yet, with their last error.
    for d in ledger
        .deliveries(None)?
        .into_iter()
        .filter(|d| d.state != DeliveryState::Delivered)
    {
        println!(
            "upload {} of run {} to {}: {} after {} attempt(s){}",
            d.name,
            d.run_id,
            d.target,
            if d.state == DeliveryState::Failed {
                "FAILED"
            } else {
                "pending"
            },
            d.attempts,
            d.last_error
                .as_deref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        );
    }
    let mail = tallyman::report::queue::list(&ledger)?;
    let failed = mail.iter().filter(|m| m.state == MailState::Failed).count();
    let waiting = mail
        .iter()
        .filter(|m| m.state == MailState::Queued && m.attempts > 0)
        .count();
    if failed + waiting > 0 {
        println!(
            "mail: {failed} report(s) failed, {waiting} waiting to be retried (see `tallyman mail`)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
