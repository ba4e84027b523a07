//! `tallyman rerun PIPELINE --date D --reason TEXT`: replay a business date's archived inputs.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use std::time::Duration;

use chrono::NaiveDate;
use tallyman::store::lock::PipelineLock;

#[derive(clap::Args)]
pub struct Args {
    pub pipeline: String,
    /// Business date, YYYY-MM-DD.
    #[arg(long)]
    pub date: NaiveDate,
    /// Why (recorded in the ledger with who asked).
    #[arg(long)]
    pub reason: String,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for the pipeline while another tallyman (`serve`, `run`) works on it.
    #[arg(long, default_value_t = 60)]
    pub lock_wait_secs: u64,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    // The reason is the audit trail of a replay that may resend files: it must say something.
    if args.reason.trim().is_empty() {
        eprintln!("error: --reason must say why the date is rerun (it is recorded with who asked)");
        return Ok(ExitCode::from(super::exit::CONFIG));
    }
    let home = super::home(home);
    let pipelines = match super::load_pipelines(&home) {
        Ok(p) => p,
        Err(code) => return Ok(code),
    };
    let Some(p) = pipelines.get(&args.pipeline) else {
        eprintln!("error: no pipeline `{}`", args.pipeline);
        return Ok(ExitCode::from(super::exit::CONFIG));
    };
    let ledger = super::open_ledger(&home)?;
    let actor = std::env::var("TALLYMAN_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let lock =
        match PipelineLock::acquire(&home.var(), &p.id, Duration::from_secs(args.lock_wait_secs)) {
            Ok(lock) => lock,
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(tallyman::daemon::lock::EXIT_LOCKED as u8));
            }
        };
    let mut reports =
        tallyman::runner::rerun(&home, &ledger, p, args.date, &actor, &args.reason, &lock)?;
    let mut failed = false;
    let settings = match &p.report {
        Some(_) => Some(tallyman::config::load_mail(&home).map_err(|es| {
            anyhow!(es
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        })?),
        None => None,
    };
    for r in &mut reports {
        // The mail says what the rerun changed, not only that it ran.
        if let Some(note) = r.outcome.report.as_mut().and_then(|rep| rep.rerun.as_mut()) {
            note.changes = r.differences.clone();
        }
        if let Err(e) = tallyman::runner::report::report_run(
            &home,
            &ledger,
            p,
            &mut r.outcome,
            &[],
            settings.as_ref(),
        ) {
            eprintln!("{e}");
            failed = true;
        }
        // The archived exception reports of the two runs, compared like the outputs.
        let report = |run: &str| {
            std::fs::read(
                home.archive()
                    .join(&p.id)
                    .join(args.date.to_string())
                    .join(run)
                    .join("report.csv"),
            )
            .ok()
        };
        if let (Some(old), Some(new)) = (report(&r.replayed), report(&r.outcome.run_id)) {
            if old != new {
                r.differences.push(format!(
                    "exception report (report.csv): differs from {}'s",
                    r.replayed
                ));
            }
        }
    }
    if !super::mail::flush_and_tell(&home, &ledger, args.json) {
        failed = true;
    }
    let uploads = tallyman::runner::delivery::deliver_pending(&home, &ledger, p)?;
    for e in &uploads.errors {
        eprintln!("{e}");
        failed |= e.permanent;
    }
    let code = super::exit::code(reports.iter().map(|r| r.outcome.state.as_str()), failed);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(code);
    }
    for r in &reports {
        println!(
            "{}: rerun of {} as {} ({}) for {}",
            p.id, r.replayed, r.outcome.run_id, r.outcome.state, r.outcome.file
        );
        if r.differences.is_empty() {
            println!("    no differences: outputs are byte-identical");
        }
        for d in &r.differences {
            println!("    {d}");
        }
    }
    Ok(code)
}
