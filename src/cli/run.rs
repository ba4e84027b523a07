//! `tallyman run [PIPELINE]`: process what is ready, once.
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use tallyman::config::Home;
use tallyman::runner::{rel, run_pipeline};
use tallyman::store::lock::PipelineLock;

#[derive(clap::Args)]
pub struct Args {
    /// Only this pipeline (default: all).
    pub pipeline: Option<String>,
    /// Longest time to wait for young files to settle before giving up on them this time.
    #[arg(long, default_value_t = 30)]
    pub max_wait_secs: u64,
    /// Print the outcome as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for a pipeline while another tallyman (`serve`, `run`) works on it
    /// (then it is skipped and the exit code is 75).
    #[arg(long, default_value_t = 60)]
    pub lock_wait_secs: u64,
}

pub fn shown(home: &Home, path: &Path) -> String {
    rel(home, path)
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let (pipelines, mail) = match super::load_config(&home) {
        Ok(c) => (c.pipelines, c.mail),
        Err(code) => return Ok(code),
    };
    if let Some(id) = &args.pipeline {
        if !pipelines.contains_key(id) {
            eprintln!(
                "error: no pipeline `{id}` (known: {})",
                pipelines.keys().cloned().collect::<Vec<_>>().join(", ")
            );
            return Ok(ExitCode::from(super::exit::CONFIG));
        }
    }
    let mut ledger = super::open_ledger(&home)?;
    let mut failed = false;
    let mut busy = false;
    let mut all = Vec::new();
    for (id, p) in &pipelines {
        if args.pipeline.as_ref().is_some_and(|only| only != id) {
            continue;
        }
        // `serve` or another `run` working on the pipeline holds its lock.
        let lock = match PipelineLock::acquire(
            &home.var(),
            id,
            Duration::from_secs(args.lock_wait_secs),
        ) {
            Ok(lock) => lock,
            Err(e) => {
                eprintln!("{id}: {e}");
                busy = true;
                continue;
            }
        };
        match run_pipeline(
            &home,
            &mut ledger,
            p,
            &mail,
            Duration::from_secs(args.max_wait_secs),
            &lock,
        ) {
            Ok(summary) => {
                if !args.json {
                    print_summary(id, &summary);
                }
                for e in &summary.file_errors {
                    eprintln!("{id}: {e}");
                    failed = true;
                }
                for e in &summary.report_errors {
                    eprintln!("{id}: {e}");
                    failed = true;
                }
                // A remote file that could not be fetched is a failure of this run; an
                // after-claim action the server refused is retried later (the file is taken).
                for e in &summary.source_errors {
                    eprintln!("{e}");
                    failed = true;
                }
                for w in &summary.source_warnings {
                    eprintln!("{w}");
                }
                for e in &summary.deliveries.errors {
                    eprintln!("{e}");
                    // A server that is down is retried on later passes; a refusal is for good.
                    failed |= e.permanent;
                }
                // A refused entry (a symlink, a FIFO) is never taken: a person must look.
                failed |= !summary.refused.is_empty();
                // A feed withheld for being incomplete leaves the ERP without it: the same.
                failed |= summary.outcomes.iter().any(super::exit::withheld_an_output);
                all.extend(summary.outcomes);
            }
            Err(e) => {
                eprintln!("{id}: {e}");
                failed = true;
            }
        }
    }
    if !super::mail::flush_and_tell(&home, &ledger, &mail, args.json) {
        failed = true;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&all)?);
    }
    if busy && !failed && all.iter().all(|o| !super::exit::needs_attention(&o.state)) {
        // Nothing went wrong, but a pipeline was left to the process that held it.
        return Ok(ExitCode::from(
            tallyman::store::home_lock::EXIT_LOCKED as u8,
        ));
    }
    Ok(super::exit::code(
        all.iter().map(|o| o.state.as_str()),
        failed,
    ))
}

fn print_summary(id: &str, s: &tallyman::runner::Summary) {
    if s.outcomes.is_empty() && s.duplicates.is_empty() && s.erp_waiting.is_empty() {
        println!("{id}: nothing ready");
    }
    for o in &s.outcomes {
        let m = o.manifest.as_ref();
        println!(
            "{id}: {} -> {} (run {}, business date {}, {} rows, {} set aside, {} issues)",
            o.file,
            o.state,
            o.run_id,
            o.business_date.as_deref().unwrap_or("-"),
            m.map_or(0, |m| m.rows),
            m.map_or(0, |m| m.rows_set_aside),
            o.issues.len()
        );
        if let Some(r) = &o.reason {
            println!("    reason: {r}");
        }
        if let Some(m) = m {
            if !m.reconciliation.is_empty() {
                let parts: Vec<String> = m
                    .reconciliation
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                println!("    reconciliation: {}", parts.join(", "));
            }
            for out in &m.outputs {
                match (out.held, &out.note) {
                    // Computed and archived, never written to the outbox: say so, and why.
                    (Some(_), note) => println!(
                        "    not published: {} ({})",
                        out.name,
                        note.as_deref().unwrap_or("held")
                    ),
                    (None, _) => println!(
                        "    wrote outbox/{}/{} ({} rows)",
                        out.destination, out.name, out.rows
                    ),
                }
            }
        }
        for i in o.issues.iter().take(10) {
            println!("    {i}");
        }
        if o.issues.len() > 10 {
            println!(
                "    ... {} more in the run's issues.csv",
                o.issues.len() - 10
            );
        }
    }
    if s.mail_queued > 0 {
        println!("{id}: {} report(s) queued for mail", s.mail_queued);
    }
    let d = &s.deliveries;
    if d.uploaded + d.already_present + d.errors.len() > 0 {
        println!(
            "{id}: uploads: {} uploaded, {} already on the server, {} problem(s)",
            d.uploaded,
            d.already_present,
            d.errors.len()
        );
    }
    for d in &s.duplicates {
        println!("{id}: {d} -> duplicate (same content already processed; recorded, not processed again)");
    }
    for (name, why) in &s.erp_waiting {
        println!("{id}: {name} -> waiting ({why}; the next run or `serve` takes it when it lands)");
    }
    for (name, why) in &s.waiting {
        println!("{id}: {name} not taken yet ({why:?})");
    }
    for (name, why) in &s.refused {
        println!("{id}: {name} {why}");
    }
}
