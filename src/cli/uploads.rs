//! `tallyman uploads [push | retry ID | retry --all] [--json]`: outbound files bound for SFTP
//! destinations, their state and last error; `push` delivers what is due for every pipeline.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use tallyman::runner::delivery::deliver_pending;
use tallyman::store::DeliveryState;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// List as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Upload every due file now (what `tallyman run` and `serve` do after each pass).
    Push,
    /// Put a failed (or backing-off) upload back in the queue, due now.
    Retry {
        /// The upload id shown by `tallyman uploads`.
        id: Option<i64>,
        /// Every upload not delivered yet.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let ledger = super::open_ledger(&home)?;
    match args.action {
        None => {
            let rows = ledger.deliveries(None)?;
            if args.json {
                let rows: Vec<_> = rows
                    .iter()
                    .map(|d| {
                        serde_json::json!({
                            "id": d.id, "run_id": d.run_id, "destination": d.destination,
                            "name": d.name, "target": d.target, "state": d.state,
                            "attempts": d.attempts, "outcome": d.outcome,
                            "delivered_at": d.delivered_at, "last_error": d.last_error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!(
                    "no uploads (no pipeline has an SFTP destination, or nothing written yet)"
                );
            }
            for d in rows {
                println!(
                    "{:>4} {:<9} {:<8} {} -> {} ({} attempt(s){}){}",
                    d.id,
                    d.state,
                    d.run_id,
                    d.name,
                    d.target,
                    d.attempts,
                    d.outcome.map(|o| format!(", {o}")).unwrap_or_default(),
                    d.last_error
                        .map(|e| format!("\n     {e}"))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Action::Push) => {
            let pipelines = match super::load_config(&home) {
                Ok(c) => c.pipelines,
                Err(code) => return Ok(code),
            };
            let mut failed = false;
            for (id, p) in &pipelines {
                let s = deliver_pending(&home, &ledger, p)?;
                println!(
                    "{id}: uploads: {} uploaded, {} already on the server, {} problem(s){}",
                    s.uploaded,
                    s.already_present,
                    s.errors.len(),
                    if s.leased_elsewhere > 0 {
                        format!(", {} being uploaded by another process", s.leased_elsewhere)
                    } else {
                        String::new()
                    }
                );
                for e in &s.errors {
                    eprintln!("{e}");
                    failed = true;
                }
            }
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Action::Retry { id, all }) => {
            let ids: Vec<i64> = if all {
                ledger
                    .deliveries(None)?
                    .into_iter()
                    .filter(|d| d.state != DeliveryState::Delivered)
                    .map(|d| d.id)
                    .collect()
            } else {
                id.into_iter().collect()
            };
            if ids.is_empty() && !all {
                eprintln!("give an upload id (see `tallyman uploads`) or --all");
                return Ok(ExitCode::from(1));
            }
            let mut missing = false;
            for id in ids {
                if ledger.retry_delivery(id)? {
                    println!("upload {id}: queued again, due now");
                } else {
                    eprintln!(
                        "upload {id}: no upload with this id waiting (see `tallyman uploads`)"
                    );
                    missing = true;
                }
            }
            Ok(if missing {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
