//! After each run: the exception report. Built from the run's outcome (issues, manifest counts,
//! the `reconciled` table) and the ledger (duplicates, corrections, quarantined files), archived
//! with the run as `report.html` and `report.csv`, and, when the pipeline's `[report]` rule wants
//! it, stored in the ledger's mail queue. Sending is `flush_mail`, at the end of `tallyman run`
//! and in `tallyman mail flush`: a report is in the queue before any send is tried, so a relay
//! that is down or slow never loses it.

use std::str::FromStr;

use chrono::{NaiveDate, Utc};
use polars::prelude::*;

use super::{Outcome, Summary};
use crate::config::report::DEFAULT_SUBJECT;
use crate::config::MailSettings;
use crate::config::{Home, Pipeline};
use crate::report::breaks::{breaks_from_table, breaks_of, money_totals};
use crate::report::{
    build_message, queue, render, FileNote, FlushSummary, Mailer, ReconStatus, ReconSummary,
    RenderOptions, RerunNote, RunReport, StatusCounts,
};
use crate::store::files::write_atomic;
use crate::store::{FileState, Ledger, RunState};

/// The run's report as JSON in its archive folder, written before the run's end is recorded.
pub const REPORT_JSON: &str = "report.json";

/// Reports every run of one pass of a pipeline (the pass's duplicate files go into the last
/// run's report; a pass with only duplicates mails nothing, they are in the ledger and
/// `tallyman runs`), after the reports that an earlier crash left pending. Problems are
/// collected in `summary.report_errors`, never lost in a log.
pub fn report_pass(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    mail: &MailSettings,
    summary: &mut Summary,
) {
    let pending = match ledger.pending_reports(&p.id) {
        Ok(pending) => pending,
        Err(e) => {
            summary.report_errors.push(e.to_string());
            Vec::new()
        }
    };
    let pending: Vec<_> = pending
        .into_iter()
        .filter(|(run, _)| !summary.outcomes.iter().any(|o| &o.run_id == run))
        .collect();
    if summary.outcomes.is_empty() && pending.is_empty() {
        return;
    }
    let duplicates: Vec<FileNote> = summary
        .duplicates
        .iter()
        .map(|name| duplicate_note(ledger, &p.id, name))
        .collect();
    let settings = match p.report {
        Some(_) => match with_home_tag(ledger, mail.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                summary.report_errors.push(e);
                None
            }
        },
        None => None,
    };
    for (run_id, archive) in pending {
        let dir = home.root.join(&archive);
        let report = std::fs::read(dir.join(REPORT_JSON))
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<RunReport>(&b).map_err(|e| e.to_string()));
        let result = match report {
            Ok(report) => {
                tracing::warn!(pipeline = %p.id, run = %run_id, "finishing the exception report an interrupted pass left pending");
                deliver(ledger, p, &run_id, &dir, report, settings.as_ref())
            }
            Err(e) => Err(format!(
                "{}: pending report of run {run_id}: reading {}: {e}",
                p.id,
                dir.join(REPORT_JSON).display()
            )),
        };
        match result {
            Ok(true) => summary.mail_queued += 1,
            Ok(false) => {}
            Err(e) => summary.report_errors.push(e),
        }
    }
    let last = summary.outcomes.len().saturating_sub(1);
    for i in 0..summary.outcomes.len() {
        let dups = if i == last { &duplicates[..] } else { &[] };
        match report_run(
            home,
            ledger,
            p,
            &mut summary.outcomes[i],
            dups,
            settings.as_ref(),
        ) {
            Ok(true) => summary.mail_queued += 1,
            Ok(false) => {}
            Err(e) => summary.report_errors.push(e),
        }
    }
}

/// Archives and (when the rule wants it and `settings` are given) enqueues the report of one
/// run, built when the run ended. Takes the outcome's report. Returns whether a message was
/// queued.
pub fn report_run(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    outcome: &mut Outcome,
    duplicates: &[FileNote],
    settings: Option<&MailSettings>,
) -> Result<bool, String> {
    let Some(mut report) = outcome.report.take() else {
        return Err(outcome
            .report_error
            .clone()
            .unwrap_or_else(|| format!("{}: run {} has no report", p.id, outcome.run_id)));
    };
    report.duplicates.extend_from_slice(duplicates);
    let dir = home
        .archive()
        .join(&p.id)
        .join(outcome.business_date.as_deref().unwrap_or("undated"))
        .join(&outcome.run_id);
    deliver(ledger, p, &outcome.run_id, &dir, report, settings)
}

/// Renders, archives and queues one report, then marks it done in the ledger. Queueing is
/// idempotent (the Message-ID derives from the run), so repeating this after a crash never
/// mails twice.
fn deliver(
    ledger: &Ledger,
    p: &Pipeline,
    run_id: &str,
    dir: &std::path::Path,
    report: RunReport,
    settings: Option<&MailSettings>,
) -> Result<bool, String> {
    let subject = p
        .report
        .as_ref()
        .map_or(DEFAULT_SUBJECT, |r| r.subject.as_str());
    let started = std::time::Instant::now();
    let rendered = render(&report, subject, &RenderOptions::default())
        .map_err(|e| format!("{}: report of run {run_id}: {e}", p.id))?;
    tracing::debug!(pipeline = %p.id, run = %run_id, "report rendered in {:.2}s", started.elapsed().as_secs_f64());
    for (name, bytes) in [
        ("report.html", rendered.html.as_bytes()),
        ("report.csv", rendered.csv.as_slice()),
    ] {
        write_atomic(dir, name, bytes)
            .map_err(|e| format!("{}: archiving {name} of run {run_id}: {e}", p.id))?;
    }
    let queued = match (&p.report, settings) {
        (Some(rule), Some(settings)) if rule.wants(&report) => {
            let now = Utc::now();
            let msg = build_message(&report, rule, settings, &rendered, now)
                .map_err(|e| e.to_string())?;
            let (id, new) = queue::enqueue(ledger, &msg, now).map_err(|e| e.to_string())?;
            tracing::info!(pipeline = %p.id, run = %run_id, mail = id, subject = %msg.subject, "report queued for mail");
            crate::failpoint::hit("report-queued");
            new
        }
        (Some(_), Some(_)) => {
            tracing::info!(pipeline = %p.id, run = %run_id, "report archived; the [report] rule does not want it mailed");
            false
        }
        // Mail settings that do not load leave the report pending: it is queued once they do.
        (Some(_), None) => return Ok(false),
        (None, _) => false,
    };
    ledger.set_report_done(run_id).map_err(|e| e.to_string())?;
    Ok(queued)
}

/// Queues a late-file alert as an exception report with one `late-file` issue, through the
/// pipeline's `[report]` rule and the home's mail settings. The Message-ID derives from the
/// pipeline, the window and the recipients, so one window is never mailed twice. Returns
/// whether a message was queued (false without a `[report]` section).
pub fn queue_late_alert(
    ledger: &Ledger,
    p: &Pipeline,
    mail: &MailSettings,
    date: chrono::NaiveDate,
    deadline: chrono::DateTime<Utc>,
) -> Result<bool, String> {
    let Some(rule) = &p.report else {
        return Ok(false);
    };
    let settings = with_home_tag(ledger, mail.clone())?;
    let message = format!(
        "no file for business date {date} arrived by its deadline {}",
        deadline
            .with_timezone(&p.time_zone)
            .format("%Y-%m-%d %H:%M %Z")
    );
    let report = crate::report::RunReport {
        pipeline: p.id.clone(),
        business_date: date,
        run_id: format!("late-{date}"),
        time_zone: p.time_zone.name().to_string(),
        reconciliation: None,
        breaks: Vec::new(),
        issues: vec![crate::issue::Issue::error(&p.id, "late-file", message)],
        duplicates: Vec::new(),
        corrections: Vec::new(),
        quarantined: Vec::new(),
        rerun: None,
        acknowledgements: Vec::new(),
        held: Vec::new(),
        settlement: None,
        open_items: None,
        orders: None,
        catalog: None,
        schema_drift: None,
    };
    let rendered =
        render(&report, &rule.subject, &RenderOptions::default()).map_err(|e| e.to_string())?;
    let now = Utc::now();
    let msg = build_message(&report, rule, &settings, &rendered, now).map_err(|e| e.to_string())?;
    let (_, new) = queue::enqueue(ledger, &msg, now).map_err(|e| e.to_string())?;
    if new {
        flush_mail(ledger, mail)?;
    }
    Ok(new)
}

/// The settings with this home's Message-ID tag from the ledger.
fn with_home_tag(ledger: &Ledger, mut s: MailSettings) -> Result<MailSettings, String> {
    s.message_id_tag = ledger.home_tag().map_err(|e| e.to_string())?;
    Ok(s)
}

/// Sends what is due in the mail queue now, with the home's mail settings (compiled with the
/// configuration; SMTP credentials from the environment variables `tallyman.toml` names).
pub fn flush_mail(ledger: &Ledger, mail: &MailSettings) -> Result<FlushSummary, String> {
    let mailer =
        Mailer::from_settings(mail, &|k| std::env::var(k).ok()).map_err(|e| e.to_string())?;
    queue::flush(ledger, &mailer, Utc::now()).map_err(|e| e.to_string())
}

fn duplicate_note(ledger: &Ledger, pipeline: &str, name: &str) -> FileNote {
    // The note is for people: a ledger that cannot answer leaves it without the hash.
    let row = ledger.latest_duplicate(pipeline, name).unwrap_or_else(|e| {
        tracing::warn!(pipeline, file = name, "report: {e}");
        None
    });
    let (sha256, reason) = row.unwrap_or_default();
    FileNote {
        name: name.to_string(),
        sha256,
        reason: reason.unwrap_or_else(|| "same content as a file already processed".into()),
    }
}

/// The run's file: (name, sha256, correction_of).
fn run_file(ledger: &Ledger, run_id: &str) -> Option<(String, String, Option<i64>)> {
    match ledger.run_file(run_id) {
        Ok(f) => f.map(|f| (f.name, f.sha256, f.correction_of)),
        Err(e) => {
            tracing::warn!(run = run_id, "report: {e}");
            None
        }
    }
}

/// The tables of a run the report reads (gone after the run: a report is built before the
/// run's end is recorded).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReportTables<'a> {
    /// `reconciled`: money totals, and the breaks when the pipeline names no `[breaks]` table.
    pub reconciled: Option<&'a DataFrame>,
    /// The pipeline's `[breaks]` table.
    pub breaks: Option<&'a DataFrame>,
    /// A settlement run's money (`runner::settlement::money`).
    pub settlement: Option<&'a crate::report::model::SettlementMoney>,
}

/// The report of one run (pure apart from reading the run's file row from the ledger).
pub fn build_report(
    ledger: &Ledger,
    p: &Pipeline,
    outcome: &Outcome,
    tables: ReportTables,
    duplicates: &[FileNote],
) -> PolarsResult<RunReport> {
    let reconciled = tables.reconciled;
    let business_date = outcome
        .business_date
        .as_deref()
        .and_then(|d| NaiveDate::from_str(d).ok())
        .unwrap_or_else(|| Utc::now().with_timezone(&p.time_zone).date_naive());
    let file = run_file(ledger, &outcome.run_id);
    let mut corrections = Vec::new();
    let mut quarantined = Vec::new();
    let mut held = Vec::new();
    if let Some((name, sha256, correction_of)) = &file {
        if let Some(prev) = correction_of {
            corrections.push(FileNote {
                name: name.clone(),
                sha256: sha256.clone(),
                reason: format!(
                    "same name as file #{prev} with new content; processed as a correction"
                ),
            });
        }
        let why = outcome.reason.as_deref().unwrap_or("-");
        let note = |reason: String| FileNote {
            name: name.clone(),
            sha256: sha256.clone(),
            reason,
        };
        match (outcome.state.as_str(), outcome.file_state) {
            (state, _) if RunState::Succeeded == state => {}
            (_, Some(FileState::Failed)) => held.push(note(format!(
                "failed on the pipeline's configuration: {why}; held until a rerun after the fix"
            ))),
            (_, None) => held.push(note(format!("failed: {why}; tried again on the next pass"))),
            (state, _) => quarantined.push(note(format!("{state}: {why}"))),
        }
    }
    // Files of the pipeline still waiting for their ERP extract (not this run's).
    for w in ledger.waiting_files(&p.id).unwrap_or_default() {
        held.push(FileNote {
            reason: w
                .reason
                .unwrap_or_else(|| "waiting for the ERP extract".into()),
            name: w.name,
            sha256: w.sha256,
        });
    }
    let counts = outcome
        .manifest
        .as_ref()
        .map(|m| &m.reconciliation)
        // `[group_reconcile]` counts its own statuses (shown with the settlement's money).
        .filter(|r| !r.is_empty() && p.reconcile.is_some())
        .map(|r| {
            let n = |s: ReconStatus| r.get(s.as_str()).copied().unwrap_or(0);
            StatusCounts {
                matched: n(ReconStatus::Matched),
                mismatched: n(ReconStatus::Mismatched),
                only_in_partner: n(ReconStatus::OnlyInPartner),
                only_in_erp: n(ReconStatus::OnlyInErp),
                duplicate_key: n(ReconStatus::DuplicateKey),
            }
        });
    let (mut breaks, totals) = match (reconciled, &p.reconcile) {
        (Some(df), Some(_)) => (breaks_of(p, df)?, money_totals(p, df)?),
        _ => (Vec::new(), Vec::new()),
    };
    // The pipeline says which table holds its breaks (a settlement check written in SQL):
    // those are the breaks the report, its subject and `when` go by.
    if let (Some(spec), Some(df)) = (&p.breaks, tables.breaks) {
        breaks = breaks_from_table(spec, df)?;
        // Many-to-one matching: what was expected and settled, and where it came from.
        super::settlement::detail_breaks(p, spec, df, &outcome.file, &mut breaks)?;
    }
    Ok(RunReport {
        pipeline: p.id.clone(),
        business_date,
        run_id: outcome.run_id.clone(),
        time_zone: p.time_zone.name().to_string(),
        reconciliation: counts.map(|counts| ReconSummary { counts, totals }),
        breaks,
        issues: outcome
            .issues
            .iter()
            .filter(|i| !muted(p, i))
            .cloned()
            .collect(),
        duplicates: duplicates.to_vec(),
        corrections,
        quarantined,
        rerun: rerun_note(ledger, outcome),
        acknowledgements: outcome
            .manifest
            .iter()
            .flat_map(|m| &m.outputs)
            .filter(|o| matches!(o.table.as_str(), "997" | "TA1"))
            .map(|o| o.name.clone())
            .collect(),
        held,
        settlement: tables.settlement.cloned(),
        open_items: None,
        orders: None,
        catalog: None,
        schema_drift: None,
    })
}

/// A warning whose rule the pipeline's `[report] mute` lists (a partner's habit nobody acts
/// on); errors are never muted.
fn muted(p: &Pipeline, issue: &crate::issue::Issue) -> bool {
    issue.severity == crate::issue::Severity::Warning
        && p.report
            .as_ref()
            .is_some_and(|r| r.mute.contains(&issue.rule))
}

/// Who replayed which run and why, when the run is a rerun (from its ledger row).
fn rerun_note(ledger: &Ledger, outcome: &Outcome) -> Option<RerunNote> {
    let of = outcome.manifest.as_ref()?.rerun_of.clone()?;
    let (actor, reason) = match ledger.requested_by(&outcome.run_id) {
        Ok(found) => found?,
        Err(e) => {
            tracing::warn!(run = %outcome.run_id, "who asked for the rerun is unknown: {e}");
            return None;
        }
    };
    Some(RerunNote {
        of,
        actor: actor.unwrap_or_else(|| "unknown".into()),
        reason: reason.unwrap_or_default(),
        changes: Vec::new(),
    })
}
