//! `tallyman rerun PIPELINE --date D [--file NAME] | --run ID --reason TEXT [--dry-run]`: replay
//! archived inputs (a business date's, one file's, or one run's) and show what differs.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use std::time::Duration;

use chrono::NaiveDate;
use tallyman::runner::rerun::{Pick, Request};
use tallyman::runner::RerunReport;
use tallyman::store::lock::PipelineLock;

#[derive(clap::Args)]
pub struct Args {
    pub pipeline: String,
    /// Business date, YYYY-MM-DD: the latest run of each of its files is replayed.
    #[arg(long, required_unless_present = "run")]
    pub date: Option<NaiveDate>,
    /// Replay only this file (its name as received) of the business date.
    #[arg(long, requires = "date")]
    pub file: Option<String>,
    /// Replay this one run (its business date is the run's).
    #[arg(long, conflicts_with_all = ["date", "file"])]
    pub run: Option<String>,
    /// Replay into a scratch copy and show the differences: nothing is written to the outbox,
    /// the archive or the ledger, and no mail is sent.
    #[arg(long)]
    pub dry_run: bool,
    /// Why (recorded in the ledger with who asked).
    #[arg(long, required_unless_present = "dry_run")]
    pub reason: Option<String>,
    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// How long to wait for the pipeline while another tallyman (`serve`, `run`) works on it.
    #[arg(long, default_value_t = 60)]
    pub lock_wait_secs: u64,
    /// Also rerun every later business date already processed, in order, so each later day's
    /// open items, outputs and report are rebuilt on the corrected book.
    #[arg(long, conflicts_with = "dry_run")]
    pub cascade: bool,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    // The reason is the audit trail of a replay that may resend files: it must say something.
    if args.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        eprintln!("error: --reason must say why the date is rerun (it is recorded with who asked)");
        return Ok(ExitCode::from(super::exit::CONFIG));
    }
    let home = super::home(home);
    let config = match super::load_config(&home) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let Some(p) = config.pipelines.get(&args.pipeline) else {
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
                return Ok(ExitCode::from(
                    tallyman::store::home_lock::EXIT_LOCKED as u8,
                ));
            }
        };
    let pick = match (&args.run, args.date, &args.file) {
        (Some(run), _, _) => Pick::Run(run.clone()),
        (None, Some(date), Some(name)) => Pick::File {
            date,
            name: name.clone(),
        },
        (None, Some(date), None) => Pick::Date(date),
        (None, None, _) => return Err(anyhow!("give --date or --run")),
    };
    let reason = args.reason.clone().unwrap_or_else(|| "dry run".into());
    let request = Request {
        pick,
        actor: &actor,
        reason: &reason,
        dry_run: args.dry_run,
    };
    let mut reports = tallyman::runner::rerun(&home, &ledger, p, &request, &lock)?;
    // Later dates were built on the open-item book as it was: say so, or redo them in order.
    let first_date = reports
        .iter()
        .filter_map(|r| r.outcome.business_date.as_deref())
        .filter_map(|d| d.parse::<NaiveDate>().ok())
        .min();
    let later = match (first_date, args.dry_run) {
        (Some(d), false) => ledger.later_business_dates(&p.id, d)?,
        _ => Vec::new(),
    };
    if args.cascade {
        for d in &later {
            let cascade_reason = format!("{reason} (cascade)");
            let request = Request {
                pick: Pick::Date(*d),
                actor: &actor,
                reason: &cascade_reason,
                dry_run: false,
            };
            reports.extend(tallyman::runner::rerun(&home, &ledger, p, &request, &lock)?);
        }
    } else if !later.is_empty() && p.open_items.is_some() && !args.json {
        let dates: Vec<String> = later.iter().map(|d| d.to_string()).collect();
        println!(
            "{}: later business dates built on the open items as they were: {}; `--cascade` reruns them in order (without it they are left as they are)",
            p.id,
            dates.join(", ")
        );
    }
    if args.dry_run {
        // Nothing was recorded: no report to mail, no upload to make. The exit code says what
        // the rerun would end as.
        print_reports(&p.id, &reports, args.json)?;
        return Ok(super::exit::code(
            reports.iter().map(|r| r.outcome.state.as_str()),
            false,
        ));
    }
    let mut failed = false;
    let settings = p.report.as_ref().map(|_| config.mail.clone());
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
                    .join(r.outcome.business_date.as_deref().unwrap_or_default())
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
    if !super::mail::flush_and_tell(&home, &ledger, &config.mail, args.json) {
        failed = true;
    }
    let uploads = tallyman::runner::delivery::deliver_pending(&home, &ledger, p)?;
    for e in &uploads.errors {
        eprintln!("{e}");
        failed |= e.permanent;
    }
    let code = super::exit::code(reports.iter().map(|r| r.outcome.state.as_str()), failed);
    print_reports(&p.id, &reports, args.json)?;
    Ok(code)
}

/// Each rerun's differences and what became of its outputs, as text or JSON.
fn print_reports(pipeline: &str, reports: &[RerunReport], json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
        return Ok(());
    }
    for r in reports {
        match r.dry_run {
            true => println!(
                "{pipeline}: dry run of {} ({}) for {}: nothing was written",
                r.replayed, r.outcome.state, r.outcome.file
            ),
            false => println!(
                "{pipeline}: rerun of {} as {} ({}) for {}",
                r.replayed, r.outcome.run_id, r.outcome.state, r.outcome.file
            ),
        }
        if r.differences.is_empty() {
            println!("    no differences: outputs are byte-identical");
        }
        for d in &r.differences {
            println!("    {d}");
        }
        for line in &r.publication {
            println!("    {line}");
        }
    }
    Ok(())
}
