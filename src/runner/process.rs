//! Processing one claimed file (or replaying an archived one): validate, reconcile, transform,
//! write outbound files atomically, archive everything with a manifest, record it in the ledger.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use super::disposition::{decide, Disposition, RunEnd};
use super::manifest::{Manifest, OutputEntry, MANIFEST_JSON};
use super::tables::{issues_csv, load_table, load_table_then};
use super::{now_text, rel, RunError};
use crate::config::compile::business_date;
use crate::config::{Home, Pipeline};
use crate::issue::Issue;
use crate::pipeline::{self, Flow, PipelineError, Verdict};
use crate::report::RunReport;
use crate::store::files::{copy_to_archive, move_file, remove_if_present, safe_name, write_atomic};
use crate::store::outputs::FileEnd;
use crate::store::outputs::NewOutbound;
use crate::store::publish::Staged;
use crate::store::{FileState, Ledger, StoreError};

pub(super) mod archive;
mod catalog;
mod drift;
mod invoices;
mod order_acks;
mod orders;
mod outputs;
mod partner;
mod returns;
mod settled;
mod shipments;
mod stage;
mod step_issues;

pub use stage::publish_outputs;

/// Who asked for a rerun and why.
#[derive(Debug, Clone)]
pub struct RerunOf {
    pub run_id: String,
    pub date: NaiveDate,
    pub actor: String,
    pub reason: String,
}

/// What one run did.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub run_id: String,
    pub pipeline: String,
    pub file: String,
    pub business_date: Option<String>,
    /// succeeded, rejected (quarantined for its data) or failed (operational problem).
    pub state: String,
    pub reason: Option<String>,
    /// What the file became with this run (`None`: it stays claimed for another try).
    pub file_state: Option<FileState>,
    pub manifest: Option<Manifest>,
    pub issues: Vec<Issue>,
    /// The run's exception report, built before the run's end is recorded and archived as
    /// `report.json`; `runner::report` renders, archives and queues it.
    #[serde(skip)]
    pub report: Option<RunReport>,
    /// Why the report could not be built, if it could not.
    #[serde(skip)]
    pub report_error: Option<String>,
}

struct Run<'a> {
    home: &'a Home,
    p: &'a Pipeline,
    run_id: String,
    dir: PathBuf,
    file: String,
    issues: Vec<Issue>,
    manifest: Manifest,
    reconciled: Option<DataFrame>,
    /// The pipeline's `[breaks]` table, for the report.
    breaks_table: Option<DataFrame>,
    /// A settlement run's money for the report (runner/settlement.rs).
    settlement_money: Option<crate::report::model::SettlementMoney>,
    /// The archive copies of the ERP extract and references, written one after another on a
    /// background thread while the data is checked (their fsyncs cost disk time, not CPU time).
    copies: Option<JoinHandle<Result<(), StoreError>>>,
    /// sha256 of inputs hashed on background threads, by their position in `manifest.inputs`
    /// (filled in by `finish_copies`, before the manifest is written).
    hashes: Vec<(usize, Hashing)>,
    /// Size and sha256 of the partner file when known already (from its landing).
    partner_content: Option<(u64, String)>,
    /// Outputs written under staging names, published once the run's end is recorded.
    staged: Vec<StagedOutput>,
    /// The claimed file this run is of (a rerun's is the replayed file's).
    file_id: i64,
    /// `[orders]`: a document's header table (the order's date, currency, ship-to).
    order_header: Option<crate::formats::table::Table>,
    /// `[orders]`: the input's orders judged, recorded with the run's end.
    orders: Option<crate::engine::orders::Intake>,
    /// `[shipments]`: the input's shipment lines matched, recorded with the run's end.
    shipments: Option<crate::engine::shipments::ShipCheck>,
    /// `[invoices]`: the input's invoice lines matched, recorded with the run's end.
    invoices: Option<crate::engine::invoices::InvoiceCheck>,
    /// `[returns]`: the input's receipts matched to refunds, recorded with the run's end.
    returns: Option<crate::engine::returns::ReturnCheck>,
    /// `[settled_orders]`: the settlement's orders, recorded with the run's end.
    settled: Option<crate::store::orders::OrdersRecord>,
    /// `[orders]`: the channel's lock, held until the run is recorded and published.
    channel_lock: Option<crate::store::lock::PipelineLock>,
    /// A catalog run's note for the report, and the version it accepted (recorded with the
    /// run's end when it succeeds).
    catalog_note: Option<crate::report::model::CatalogNote>,
    catalog_end: Option<crate::store::catalog::CatalogEnd>,
    /// A CSV file's header drift from its schema, with the proposed patch, for the report.
    drift_note: Option<crate::report::model::DriftNote>,
}

/// A background hash of an input: its size and sha256.
type Hashing = JoinHandle<Result<(u64, String), StoreError>>;

/// Where a run's partner input comes from.
#[derive(Debug, Clone, Copy)]
pub enum Source<'a> {
    /// A file just landed: moved into the run's archive folder.
    Landed(&'a Path),
    /// An archived input of an earlier run (a rerun, or a retry after a failed run): copied,
    /// so the earlier run's evidence stays as it was.
    Archived(&'a Path),
}

/// One run to do, always under a new run id (a run a crash interrupted is recorded failed and
/// its work taken again in a new run: `resume.rs`).
#[derive(Debug, Clone, Copy)]
pub struct FileRun<'a> {
    pub file_id: i64,
    pub name: &'a str,
    pub source: Source<'a>,
    pub arrived: DateTime<Utc>,
    pub rerun_of: Option<&'a RerunOf>,
    /// How many earlier runs of the file failed, when that is already as many as a file may
    /// have (`disposition::MAX_ATTEMPTS`): the run fails at once and the file is quarantined.
    pub gave_up_after: Option<i64>,
}

/// Processes one claimed file just landed (see [`process_run`]).
#[allow(clippy::too_many_arguments)]
pub fn process(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    file_id: i64,
    name: &str,
    source: &Path,
    arrived: DateTime<Utc>,
    rerun_of: Option<&RerunOf>,
) -> Result<Outcome, RunError> {
    let source = match rerun_of {
        Some(_) => Source::Archived(source),
        None => Source::Landed(source),
    };
    process_run(
        home,
        ledger,
        p,
        FileRun {
            file_id,
            name,
            source,
            arrived,
            rerun_of,
            gave_up_after: None,
        },
    )
}

/// Processes one claimed file (or replays an archived one). Data problems and operational
/// failures inside the run end as a rejected or failed outcome; only ledger failures are errors.
///
/// Outputs are staged under names no consumer takes and published only after the run's end and
/// the list of its outputs are one transaction in the ledger: a crash before that leaves nothing
/// visible (recovery records the run failed and takes its work again in a new run), a crash after it leaves a set that
/// recovery completes (`publish_recorded`). A failed run publishes nothing.
pub fn process_run(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    job: FileRun<'_>,
) -> Result<Outcome, RunError> {
    let FileRun {
        file_id,
        name,
        source,
        arrived,
        rerun_of,
        gave_up_after,
    } = job;
    let date = match rerun_of {
        Some(r) => Ok(r.date),
        None => business_date(&p.business_date, p.time_zone, name, arrived),
    };
    let date_text = date
        .as_ref()
        .map(|d| d.to_string())
        .unwrap_or_else(|_| "undated".into());
    let trigger = if rerun_of.is_some() { "rerun" } else { "file" };
    let run_id = ledger.start_run(
        &p.id,
        date.as_ref().ok().map(|d| d.to_string()).as_deref(),
        Some(file_id),
        &now_text(Utc::now()),
        trigger,
        rerun_of.map(|r| r.actor.as_str()),
        rerun_of.map(|r| r.reason.as_str()),
        rerun_of.map(|r| r.run_id.as_str()),
    )?;
    // The file's lease is renewed while its run works (a rerun replays a finished file,
    // which no other daemon would take).
    let _lease = rerun_of
        .is_none()
        .then(|| super::lease_keeper::LeaseKeeper::start(ledger, file_id));
    let dir = home.archive().join(&p.id).join(&date_text).join(&run_id);
    let input = dir.join("input").join(safe_name(name));
    // A new run id never meets an existing folder, unless the ledger was lost: never
    // overwrite that evidence.
    if dir.exists() {
        return Err(StoreError::WouldOverwrite { path: dir }.into());
    }
    ledger.set_run_archive(&run_id, &rel(home, &dir))?;
    crate::failpoint::hit("run-started");
    match source {
        Source::Landed(from) if from != input => move_file(from, &input)?,
        Source::Landed(_) => {}
        Source::Archived(from) => {
            copy_to_archive(from, &dir.join("input"), &safe_name(name))?.finish()?;
        }
    }
    crate::failpoint::hit("input-archived");
    let mut run = Run {
        home,
        p,
        run_id: run_id.clone(),
        dir: dir.clone(),
        file: name.to_string(),
        issues: Vec::new(),
        manifest: Manifest {
            pipeline: p.id.clone(),
            run_id: run_id.clone(),
            business_date: date_text.clone(),
            trigger: trigger.into(),
            rerun_of: rerun_of.map(|r| r.run_id.clone()),
            config_sha256: p.config_sha256.clone(),
            ..Manifest::default()
        },
        reconciled: None,
        breaks_table: None,
        settlement_money: None,
        copies: None,
        hashes: Vec::new(),
        // A new file was hashed as it landed (the same bytes were moved here); a rerun's
        // archived input is hashed again, as it is read back.
        partner_content: match rerun_of {
            None => ledger.file_content(file_id)?,
            Some(_) => None,
        },
        staged: Vec::new(),
        file_id,
        order_header: None,
        orders: None,
        shipments: None,
        invoices: None,
        returns: None,
        settled: None,
        channel_lock: None,
        catalog_note: None,
        catalog_end: None,
        drift_note: None,
    };
    tracing::info!(pipeline = %p.id, run = %run_id, file = %name, business_date = %date_text, "run started");
    let result = match (gave_up_after, date) {
        (Some(failed), _) => Err(RunError::GaveUp {
            pipeline: p.id.clone(),
            file: name.to_string(),
            failed,
        }),
        (None, Err(why)) => Ok(Step::Reject(why)),
        (None, Ok(date)) => run.steps(ledger, &input, date),
    };
    run.end(ledger, result, file_id, rerun_of, &input, date_text)
}

/// How a run ended, for its record.
struct Ended {
    file_id: i64,
    state: &'static str,
    reason: Option<String>,
    file_end: Option<FileEnd>,
    /// The staged outputs to publish once the run is recorded.
    publish: Vec<StagedOutput>,
    date_text: String,
}

impl Run<'_> {
    /// Ends a run whose steps gave `result`: waits for its archive copies, discards what it
    /// must not publish, archives `issues.csv` and the manifest, and decides the file's fate
    /// (quarantined when rejected); then [`Run::record`].
    fn end(
        mut self,
        ledger: &Ledger,
        result: Result<Step, RunError>,
        file_id: i64,
        rerun_of: Option<&RerunOf>,
        input: &Path,
        date_text: String,
    ) -> Result<Outcome, RunError> {
        let (p, home, run_id, dir) = (self.p, self.home, self.run_id.clone(), self.dir.clone());
        let name = self.file.clone();
        let name = name.as_str();
        let started = std::time::Instant::now();
        // Every input is in the archive before the run's end is written anywhere.
        let result = match (self.finish_copies(), result) {
            (Err(e), Ok(_)) => Err(e),
            (_, result) => result,
        };
        tracing::debug!(pipeline = %p.id, "end: archive copies joined in {:.2}s", started.elapsed().as_secs_f64());
        let (end, reason) = match result {
            Ok(Step::Done) => (RunEnd::Succeeded, None),
            Ok(Step::Reject(why)) => (RunEnd::Rejected, Some(why)),
            Err(e) => (RunEnd::Failed(e.kind()), Some(e.to_string())),
        };
        let state = end.as_str();
        // A failed run publishes nothing; a rejected one only its acknowledgements.
        let (publish, discard): (Vec<_>, Vec<_>) = std::mem::take(&mut self.staged)
            .into_iter()
            .partition(|o| state == "succeeded" || (state == "rejected" && o.ack));
        for o in &discard {
            remove_if_present(&o.staged.temp)?;
        }
        if state != "succeeded" {
            let kept: Vec<&str> = publish.iter().map(|o| o.entry.name.as_str()).collect();
            self.manifest
                .outputs
                .retain(|e| kept.contains(&e.name.as_str()));
        }
        let report = issues_csv(&self.issues)
            .map_err(|e| data(p, format!("issues.csv of run {run_id}: {e}")))?;
        write_atomic(&dir, "issues.csv", &report)?;
        self.manifest.issues = self.issues.len();
        write_atomic(&dir, MANIFEST_JSON, &self.manifest.to_json()?)?;
        tracing::debug!(pipeline = %p.id, "end: issues.csv and manifest at {:.2}s", started.elapsed().as_secs_f64());
        let stored = rel(home, input);
        // Neither an operational failure (retried) nor a configuration error (held `failed`) is
        // the partner's fault; only a rejection quarantines at once (`disposition::decide`).
        let disposition = decide(end, rerun_of.is_some(), || ledger.failed_runs_of(file_id))?;
        let why = reason.as_deref().unwrap_or("");
        match disposition {
            Disposition::Retry => {
                tracing::warn!(pipeline = %p.id, run = %run_id, file = %name, "run failed; the file stays claimed and is tried again on the next pass: {why}");
            }
            Disposition::Hold => {
                tracing::error!(pipeline = %p.id, run = %run_id, file = %name, "run failed on the pipeline's configuration; the file is held as failed until a rerun after the fix: {why}");
            }
            Disposition::Quarantine => {
                archive::quarantine(home, p, file_id, name, &run_id, why, &self.issues, input)?;
                tracing::warn!(pipeline = %p.id, run = %run_id, file = %name, "quarantined: {why}");
            }
            Disposition::Processed => {}
        }
        let file_end = disposition.file_end(file_id, reason.as_deref(), &stored);

        let ended = Ended {
            file_id,
            state,
            reason,
            file_end,
            publish,
            date_text,
        };
        self.record(ledger, ended)
    }

    /// Builds and archives the run's report, records the run's end with its outputs in one
    /// transaction, then publishes them.
    fn record(self, ledger: &Ledger, ended: Ended) -> Result<Outcome, RunError> {
        let (p, home, run_id, dir) = (self.p, self.home, self.run_id.clone(), self.dir.clone());
        let name = self.file.as_str();
        let Ended {
            file_id,
            state,
            reason,
            file_end,
            publish,
            date_text,
        } = ended;
        // A succeeded run's orders are taken with its record (what it publishes sends them).
        let orders = match state {
            "succeeded" => self.order_record(&publish),
            _ => None,
        };
        let orders_note = self.orders_note();
        let counts = serde_json::to_string(&self.manifest.reconciliation)
            .map_err(|e| data(p, format!("counts of run {run_id}: {e}")))?;
        let mut outcome = Outcome {
            run_id: run_id.clone(),
            pipeline: p.id.clone(),
            file: name.to_string(),
            business_date: Some(date_text),
            state: state.into(),
            reason: reason.clone(),
            file_state: file_end.as_ref().map(|f| f.state),
            manifest: Some(self.manifest),
            issues: self.issues,
            report: None,
            report_error: None,
        };
        // The report needs the `reconciled` table, which is gone after a crash: it is built and
        // archived before the run's end is recorded, so a crash before it is queued loses nothing.
        let tables = super::report::ReportTables {
            reconciled: self.reconciled.as_ref(),
            breaks: self.breaks_table.as_ref(),
            settlement: self.settlement_money.as_ref(),
        };
        let mut view = None;
        let mut book_after = None;
        let started = std::time::Instant::now();
        let at = |what: &str| tracing::debug!(pipeline = %p.id, "record: {what} at {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        match super::report::build_report(ledger, p, &outcome, tables, &[]) {
            Ok(mut report) => {
                at("report built");
                report.orders = orders_note;
                report.catalog = self.catalog_note.clone();
                report.schema_drift = self.drift_note.clone();
                // The open-item book: the run's view goes into the ledger with the run's end,
                // what it changes into the report.
                if let (Some(policy), "succeeded") = (&p.open_items, state) {
                    let v = open_item_view(
                        ledger,
                        p,
                        policy,
                        &report,
                        name,
                        self.breaks_table.as_ref(),
                        self.reconciled.as_ref(),
                    )?;
                    let (note, after) =
                        super::open_items::note_for_run(ledger, p, policy, file_id, &v)?;
                    report.open_items = Some(note);
                    book_after = Some(after);
                    view = Some(v);
                    at("open items viewed");
                }
                let json = serde_json::to_vec(&report)
                    .map_err(|e| data(p, format!("report of run {run_id}: {e}")))?;
                write_atomic(&dir, super::report::REPORT_JSON, &json)?;
                at("report.json archived");
                outcome.report = Some(report);
            }
            Err(e) => outcome.report_error = Some(format!("{}: report of run {run_id}: {e}", p.id)),
        }
        drop(self.reconciled);
        let manifest = outcome.manifest.as_ref();
        let outputs: Vec<NewOutbound> = publish.iter().map(|o| o.record.clone()).collect();
        ledger.finish_run(
            &run_id,
            &now_text(Utc::now()),
            state,
            manifest.map(|m| m.rows as i64),
            manifest.map(|m| m.rows_set_aside as i64),
            &outcome.issues,
            Some(counts.as_str()),
            Some(&rel(home, &dir)),
            reason
                .clone()
                .or_else(|| outputs::notes(manifest))
                .as_deref(),
            outcome.report.is_some(),
            &outputs,
            file_end.as_ref(),
            view.as_ref().map(|v| (p.id.as_str(), v)),
            orders.as_ref(),
            self.catalog_end
                .as_ref()
                .filter(|e| catalog::recorded(e, state)),
        )?;
        crate::failpoint::hit("run-recorded");
        at("run recorded");
        publish_outputs(home, ledger, &run_id, publish.iter().map(|o| &o.staged))?;
        drop(self.channel_lock);
        at("published");
        if let Some(after) = book_after {
            // After publication (the book is derived, the outputs are what partners wait for).
            // A crash before this leaves the observations recorded and the saved book behind
            // them: the next pass's recovery folds them.
            crate::failpoint::hit("open-items");
            super::open_items::save_after_run(ledger, p, after)?;
            at("open-item book saved");
        }
        tracing::info!(pipeline = %p.id, run = %run_id, state, rows = manifest.map_or(0, |m| m.rows), issues = outcome.issues.len(), "run ended");
        Ok(outcome)
    }
}

/// The run's view for the open-item book: its report's breaks and, for items that close only
/// when matched, the keys it saw in good order (from its `[breaks]` table, else `reconciled`).
fn open_item_view(
    ledger: &Ledger,
    p: &Pipeline,
    policy: &crate::engine::open_items::Policy,
    report: &crate::report::model::RunReport,
    file: &str,
    breaks_table: Option<&DataFrame>,
    reconciled: Option<&DataFrame>,
) -> Result<crate::engine::open_items::RunView, RunError> {
    let good = || match (&p.breaks, breaks_table, &p.reconcile, reconciled) {
        (Some(spec), Some(df), _, _) => {
            super::open_items::good_keys(df, &spec.status, &spec.ok, &spec.key)
        }
        (None, _, Some(r), Some(df)) => {
            let keys: Vec<String> = r.keys.iter().map(|(k, _)| k.clone()).collect();
            super::open_items::good_keys(df, "status", &["matched".to_string()], &keys)
        }
        _ => Ok(Vec::new()),
    };
    super::open_items::view_of(ledger, p, policy, report, file, good)
        .map_err(|e| data(p, format!("open items of run {}: {e}", report.run_id)))
}

pub use super::disposition::MAX_ATTEMPTS;

/// An output of the run in hand: staged, with what the ledger and manifest will say of it.
struct StagedOutput {
    staged: Staged,
    record: NewOutbound,
    entry: OutputEntry,
    /// An acknowledgement (published even when the data is rejected).
    ack: bool,
}

enum Step {
    Done,
    Reject(String),
}

fn io(p: &Pipeline, path: &Path, source: std::io::Error) -> RunError {
    RunError::Io {
        pipeline: p.id.clone(),
        path: path.to_path_buf(),
        source,
    }
}

fn data(p: &Pipeline, e: impl std::fmt::Display) -> RunError {
    RunError::Data {
        pipeline: p.id.clone(),
        message: e.to_string(),
    }
}

/// A failure of the pure steps: the pipeline's configuration (its SQL, an output's table), or
/// the data.
fn failed(p: &Pipeline, e: PipelineError) -> RunError {
    match e.is_config() {
        true => config(p, e),
        false => data(p, e),
    }
}

/// A failure of the pipeline's own configuration (its SQL, an output's table or columns).
fn config(p: &Pipeline, e: impl std::fmt::Display) -> RunError {
    RunError::Config {
        pipeline: p.id.clone(),
        message: e.to_string(),
    }
}

impl Run<'_> {
    /// Reads the ERP extract for the business date (archived, validated; its issues are
    /// warnings) and returns its good rows without the columns nothing reads.
    fn load_erp(
        &mut self,
        erp: &crate::config::compile::Erp,
        path: &Path,
        date: NaiveDate,
        refs: &HashMap<String, DataFrame>,
    ) -> Result<DataFrame, RunError> {
        let p = self.p;
        let started = std::time::Instant::now();
        let b = self.read_input("erp", path)?;
        let shown = erp.file_name(date);
        let v = load_table_then(
            &shown,
            &b,
            &erp.schema,
            &erp.dialect,
            erp.if_empty,
            refs,
            &|| b.release(),
        )
        .map_err(|e| data(p, e))?;
        let rows = v.rows();
        let (warnings, good) =
            pipeline::context_rows("the ERP extract", v).map_err(|e| failed(p, e))?;
        self.issues.extend(warnings);
        let good = pipeline::prune(p, &p.needs, "erp", good).map_err(|e| data(p, e))?;
        tracing::info!(pipeline = %p.id, rows, "ERP extract read and validated in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        Ok(good)
    }

    fn steps(&mut self, ledger: &Ledger, input: &Path, date: NaiveDate) -> Result<Step, RunError> {
        let p = self.p;
        self.note_partner(input)?;
        let (mut tables, refs) = self.load_references(ledger)?;
        if let Some(policy) = &p.open_items {
            if pipeline::is_used(p, &p.needs, "open_items", true) {
                let book = super::open_items::book_table(ledger, p, policy, self.file_id, date)
                    .map_err(|e| data(p, format!("open items before {date}: {e}")))?;
                tables.insert("open_items".into(), book);
            }
        }
        // The ERP extract is checked for here, but read after the partner file is validated:
        // the two parsed files are then never in memory at once with a file's bytes.
        let mut erp_path = None;
        if let Some(erp) = &p.erp {
            let path = erp.folder.join(erp.file_name(date));
            if !path.is_file() {
                return Ok(Step::Reject(format!(
                    "no ERP extract for business date {date}: {} does not exist (rerun this date once it arrives)",
                    rel(self.home, &path)
                )));
            }
            erp_path = Some(path);
        }
        let issues_before = self.issues.len();
        let started = std::time::Instant::now();
        let (v, control_total) = match self.read_partner(ledger, input, &refs, &mut tables)? {
            Ok(read) => read,
            Err(why) => return Ok(Step::Reject(why)),
        };
        let drift = self.note_drift(&v)?;
        let judged =
            pipeline::judge(p, &p.needs, &self.file, v, control_total).map_err(|e| failed(p, e))?;
        self.issues.extend(judged.issues);
        self.manifest.rows = judged.rows;
        tracing::info!(pipeline = %p.id, rows = self.manifest.rows, issues = self.issues.len(), "validated in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        let good = match judged.verdict {
            Verdict::Reject(why) => {
                return Ok(Step::Reject(match drift {
                    Some(d) => format!("{why}; {d}"),
                    None => why,
                }))
            }
            Verdict::Accept { good, set_aside } => {
                self.manifest.rows_set_aside = set_aside;
                good
            }
        };
        if let (Some(erp), Some(path)) = (&p.erp, erp_path) {
            // Its warnings are listed before the partner file's issues, as it is the context.
            let partner_issues = self.issues.split_off(issues_before);
            let erp_table = self.load_erp(erp, &path, date, &refs)?;
            self.issues.extend(partner_issues);
            tables.insert("erp".into(), erp_table);
        }
        if let Some(spec) = &p.catalog {
            if let Some(why) = self.catalog(ledger, spec, &good, issues_before, &mut tables)? {
                return Ok(Step::Reject(why));
            }
        }
        tables.insert("input".into(), good);
        drop(refs);
        if let Some(policy) = &p.orders {
            if let Some(why) = self.take_orders(ledger, policy, &mut tables)? {
                return Ok(Step::Reject(why));
            }
        }
        if let Some(policy) = &p.shipments {
            if let Some(why) = self.check_shipments(ledger, policy, &mut tables)? {
                return Ok(Step::Reject(why));
            }
        }
        if let Some(policy) = &p.invoices {
            if let Some(why) = self.check_invoices(ledger, policy, &mut tables)? {
                return Ok(Step::Reject(why));
            }
        }
        if let Some(policy) = &p.returns {
            if let Some(why) = self.check_returns(ledger, policy, &mut tables)? {
                return Ok(Step::Reject(why));
            }
        }
        if let Some(s) = &p.settled_orders {
            self.settle_orders(ledger, s, &tables)?;
        }
        let computed = self.compute(tables)?;
        // Values that cannot name a file are the partner's data: the file is rejected before
        // any output is staged, rather than publishing some files of the set.
        for output in pipeline::outputs(p, &computed.tables) {
            let (o, df) = output.map_err(|e| failed(p, e))?;
            let Some(column) = &o.partition_by else {
                continue;
            };
            match pipeline::partition::names(df, &o.table, column) {
                Ok(_) => {}
                Err(pipeline::partition::PartitionError::Refused(why)) => {
                    return Ok(Step::Reject(why))
                }
                Err(pipeline::partition::PartitionError::Data(e)) => return Err(config(p, e)),
            }
        }
        for output in pipeline::outputs(p, &computed.tables) {
            let (o, df) = output.map_err(|e| failed(p, e))?;
            self.stage_output(ledger, o, df, date)?;
        }
        if p.orders.is_some() {
            // The 940 and the ERP file are staged, the orders not yet in the ledger: a crash
            // here must leave neither visible, and the run redone sends them once.
            crate::failpoint::hit("orders-staged");
        }
        Ok(Step::Done)
    }

    /// The pure steps (`pipeline`): settlement tables, reconcile, transforms; what the report
    /// and manifest need of them is noted on the way, so a failed transform still leaves the
    /// counts and the `reconciled` table for the report.
    fn compute(
        &mut self,
        tables: BTreeMap<String, DataFrame>,
    ) -> Result<pipeline::Computed, RunError> {
        let p = self.p;
        let mut flow = Flow::start(p, &p.needs, tables).map_err(|e| failed(p, e))?;
        self.manifest.reconciliation.extend(flow.counts().clone());
        // The report's money of a settlement run (runner/settlement.rs).
        let started = std::time::Instant::now();
        self.settlement_money =
            super::settlement::money(p, flow.tables()).map_err(|e| data(p, e))?;
        tracing::debug!(pipeline = %p.id, "the report's settlement money in {:.2}s", started.elapsed().as_secs_f64());
        let reconciled = flow.reconcile().map_err(|e| failed(p, e))?;
        self.manifest.reconciliation.extend(flow.counts().clone());
        self.reconciled = reconciled.clone();
        let computed = flow.transform(reconciled).map_err(|e| failed(p, e))?;
        self.breaks_table = computed.breaks.clone();
        Ok(computed)
    }

    /// The reference tables, validated (their issues are warnings): as tables for the SQL, and
    /// as lookups for the schemas' foreign keys.
    fn load_references(
        &mut self,
        ledger: &Ledger,
    ) -> Result<(BTreeMap<String, DataFrame>, Refs), RunError> {
        let p = self.p;
        let mut tables: BTreeMap<String, DataFrame> = BTreeMap::new();
        let mut refs: Refs = HashMap::new();
        for (name, t) in &p.references {
            let path = match &t.catalog {
                None => t.path.clone(),
                Some(source) => self.catalog_reference(ledger, name, source)?,
            };
            let b = self.read_input("reference", &path)?;
            let shown = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let v = load_table(
                &shown,
                &b,
                &t.schema,
                &t.dialect,
                t.if_empty,
                &HashMap::new(),
            )
            .map_err(|e| data(p, e))?;
            let (warnings, good) = pipeline::context_rows(&format!("reference table `{name}`"), v)
                .map_err(|e| failed(p, e))?;
            self.issues.extend(warnings);
            refs.insert(name.clone(), good.clone());
            tables.insert(name.clone(), good);
        }
        Ok((tables, refs))
    }
}

/// Reference tables by name, for the schemas' foreign keys.
type Refs = HashMap<String, DataFrame>;
