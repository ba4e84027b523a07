//! Processing one claimed file (or replaying an archived one): validate, reconcile, transform,
//! write outbound files atomically, archive everything with a manifest, record it in the ledger.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use chrono::{DateTime, NaiveDate, Utc};
use polars::prelude::*;
use serde::Serialize;

use super::disposition::{decide, Disposition, RunEnd};
use super::manifest::{self, InputEntry, Manifest, OutputEntry, MANIFEST_JSON};
use super::tables::{issues_csv, load_table, load_table_then, write_csv, Document};
use super::{now_text, rel, RunError};
use crate::config::compile::business_date;
use crate::config::{Home, InputFormat, OnError, OutputFormat, Pipeline};
use crate::engine::reconcile::{reconcile, KnownUnique, STATUSES};
use crate::engine::transform::run_transforms;
use crate::formats::trailer::{self, Trailer};
use crate::issue::{Issue, Severity};
use crate::report::RunReport;
use crate::store::files::{
    copy_to_archive, map_file, move_file, remove_if_present, safe_name, sha256_open, write_atomic,
    Mapped,
};
use crate::store::outputs::NewOutbound;
use crate::store::publish::{publish, stage_streamed, Staged};
use crate::store::{FileState, Ledger, StoreError};

mod outputs;

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

/// One run to do: a new one, or one a crash interrupted (`resume`: finished under its own id,
/// so recovery never starts a second run for the same work).
#[derive(Debug, Clone, Copy)]
pub struct FileRun<'a> {
    pub file_id: i64,
    pub name: &'a str,
    pub source: Source<'a>,
    pub arrived: DateTime<Utc>,
    pub rerun_of: Option<&'a RerunOf>,
    pub resume: Option<&'a str>,
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
            resume: None,
        },
    )
}

/// Processes one claimed file (or replays an archived one). Data problems and operational
/// failures inside the run end as a rejected or failed outcome; only ledger failures are errors.
///
/// Outputs are staged under names no consumer takes and published only after the run's end and
/// the list of its outputs are one transaction in the ledger: a crash before that leaves nothing
/// visible (recovery redoes the run under the same id), a crash after it leaves a set that
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
        resume,
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
    let run_id = match resume {
        Some(id) => id.to_string(),
        None => ledger.start_run(
            &p.id,
            date.as_ref().ok().map(|d| d.to_string()).as_deref(),
            Some(file_id),
            &now_text(Utc::now()),
            trigger,
            rerun_of.map(|r| r.actor.as_str()),
            rerun_of.map(|r| r.reason.as_str()),
            rerun_of.map(|r| r.run_id.as_str()),
        )?,
    };
    let dir = home.archive().join(&p.id).join(&date_text).join(&run_id);
    let input = dir.join("input").join(safe_name(name));
    match resume {
        // Redone from the start: what the interrupted attempt wrote besides its input goes.
        Some(_) => clear_run_folder(&dir).map_err(|e| io(p, &dir, e))?,
        // A new run id never meets an existing folder, unless the ledger was lost: never
        // overwrite that evidence.
        None if dir.exists() => {
            return Err(StoreError::WouldOverwrite { path: dir }.into());
        }
        None => {}
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
    };
    tracing::info!(pipeline = %p.id, run = %run_id, file = %name, business_date = %date_text, "run started");
    let result = match date {
        Err(why) => Ok(Step::Reject(why)),
        Ok(date) => run.steps(ledger, &input, date),
    };
    // Every input is in the archive before the run's end is written anywhere.
    let result = match (run.finish_copies(), result) {
        (Err(e), Ok(_)) => Err(e),
        (_, result) => result,
    };
    let (end, reason) = match result {
        Ok(Step::Done) => (RunEnd::Succeeded, None),
        Ok(Step::Reject(why)) => (RunEnd::Rejected, Some(why)),
        Err(e) => (RunEnd::Failed(e.kind()), Some(e.to_string())),
    };
    let state = end.as_str();
    // A failed run publishes nothing; a rejected one only its acknowledgements.
    let (publish, discard): (Vec<_>, Vec<_>) = std::mem::take(&mut run.staged)
        .into_iter()
        .partition(|o| state == "succeeded" || (state == "rejected" && o.ack));
    for o in &discard {
        remove_if_present(&o.staged.temp)?;
    }
    if state != "succeeded" {
        let kept: Vec<&str> = publish.iter().map(|o| o.entry.name.as_str()).collect();
        run.manifest
            .outputs
            .retain(|e| kept.contains(&e.name.as_str()));
    }
    let report =
        issues_csv(&run.issues).map_err(|e| data(p, format!("issues.csv of run {run_id}: {e}")))?;
    write_atomic(&dir, "issues.csv", &report)?;
    run.manifest.issues = run.issues.len();
    write_atomic(&dir, MANIFEST_JSON, &run.manifest.to_json()?)?;
    let stored = rel(home, &input);
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
            quarantine(home, p, file_id, name, &run_id, why, &run.issues, &input)?;
            tracing::warn!(pipeline = %p.id, run = %run_id, file = %name, "quarantined: {why}");
        }
        Disposition::Processed => {}
    }
    let file_end = disposition.file_end(file_id, reason.as_deref(), &stored);
    let counts = serde_json::to_string(&run.manifest.reconciliation).ok();
    let mut outcome = Outcome {
        run_id: run_id.clone(),
        pipeline: p.id.clone(),
        file: name.to_string(),
        business_date: Some(date_text),
        state: state.into(),
        reason: reason.clone(),
        file_state: file_end.as_ref().map(|f| f.state),
        manifest: Some(run.manifest),
        issues: run.issues,
        report: None,
        report_error: None,
    };
    // The report needs the `reconciled` table, which is gone after a crash: it is built and
    // archived before the run's end is recorded, so a crash before it is queued loses nothing.
    let tables = super::report::ReportTables {
        reconciled: run.reconciled.as_ref(),
        breaks: run.breaks_table.as_ref(),
        settlement: run.settlement_money.as_ref(),
    };
    match super::report::build_report(ledger, p, &outcome, tables, &[]) {
        Ok(report) => {
            let json = serde_json::to_vec(&report)
                .map_err(|e| data(p, format!("report of run {run_id}: {e}")))?;
            write_atomic(&dir, super::report::REPORT_JSON, &json)?;
            outcome.report = Some(report);
        }
        Err(e) => outcome.report_error = Some(format!("{}: report of run {run_id}: {e}", p.id)),
    }
    drop(run.reconciled);
    let manifest = outcome.manifest.as_ref();
    let outputs: Vec<NewOutbound> = publish.iter().map(|o| o.record.clone()).collect();
    ledger.finish_run(
        &run_id,
        &now_text(Utc::now()),
        state,
        manifest.map(|m| m.rows as i64),
        manifest.map(|m| m.rows_set_aside as i64),
        &outcome.issues,
        counts.as_deref(),
        Some(&rel(home, &dir)),
        reason
            .clone()
            .or_else(|| outputs::notes(manifest))
            .as_deref(),
        outcome.report.is_some(),
        &outputs,
        file_end.as_ref(),
    )?;
    crate::failpoint::hit("run-recorded");
    publish_outputs(home, ledger, &run_id, publish.iter().map(|o| &o.staged))?;
    tracing::info!(pipeline = %p.id, run = %run_id, state, rows = manifest.map_or(0, |m| m.rows), issues = outcome.issues.len(), "run ended");
    Ok(outcome)
}

pub use super::disposition::MAX_ATTEMPTS;

/// Makes a recorded run's staged outputs visible, then marks them published.
pub fn publish_outputs<'a>(
    home: &Home,
    ledger: &Ledger,
    run_id: &str,
    staged: impl Iterator<Item = &'a Staged>,
) -> Result<(), RunError> {
    for (n, s) in staged.enumerate() {
        let target = rel(home, &s.target);
        let mut known = Ok(());
        publish(s, &mut |sha| match ledger.wrote(&target, sha) {
            Ok(w) => w,
            Err(e) => {
                known = Err(e);
                false
            }
        })?;
        known?;
        if n == 0 {
            crate::failpoint::hit("first-output-published");
        }
    }
    ledger.mark_published(run_id, &now_text(Utc::now()))?;
    crate::failpoint::hit("published");
    Ok(())
}

/// Empties a run folder of everything but its `input/` (an interrupted attempt's partial
/// outputs, copies and temps), so the run is redone from a clean start.
fn clear_run_folder(dir: &Path) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if entry.file_name() == "input" {
            // Temps of an interrupted input copy go; the input itself stays.
            for inner in std::fs::read_dir(&path)? {
                let inner = inner?;
                if inner.file_name().to_string_lossy().starts_with('.') {
                    std::fs::remove_file(inner.path())?;
                }
            }
        } else if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Copies a rejected file and its reason into `quarantine/<pipeline>/`.
#[allow(clippy::too_many_arguments)]
fn quarantine(
    home: &Home,
    p: &Pipeline,
    file_id: i64,
    name: &str,
    run_id: &str,
    why: &str,
    issues: &[Issue],
    input: &Path,
) -> Result<(), RunError> {
    let q = home.quarantine().join(&p.id);
    let qname = format!("{file_id}-{}", safe_name(name));
    copy_to_archive(input, &q, &qname)?.finish()?;
    let mut text = format!(
        "file: {name}\npipeline: {}\nrun: {run_id}\nreason: {why}\n",
        p.id
    );
    for i in issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .take(50)
    {
        text.push_str(&format!("  {i}\n"));
    }
    write_atomic(&q, &format!("{qname}.reason.txt"), text.as_bytes())?;
    Ok(())
}

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

/// A failure of the pipeline's own configuration (its SQL, an output's table or columns).
fn config(p: &Pipeline, e: impl std::fmt::Display) -> RunError {
    RunError::Config {
        pipeline: p.id.clone(),
        message: e.to_string(),
    }
}

impl Run<'_> {
    /// Copies an ERP extract or reference into the run's archive and returns the copy's bytes
    /// (mapped: what is validated is exactly what was archived). The copy is made durable on a
    /// background thread, joined before the run's end is recorded.
    fn read_input(&mut self, role: &str, path: &Path) -> Result<Mapped, RunError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = copy_to_archive(path, &self.dir.join(role), &safe_name(&name))?;
        let bytes = map_file(&copy.temp)?;
        self.manifest.inputs.push(InputEntry {
            role: role.into(),
            name,
            size: bytes.len() as u64,
            sha256: String::new(),
        });
        // Opened before the copy is renamed (same inode), and nobody writes to it.
        self.hash_in_background(&copy.temp)?;
        self.finish_in_background(copy);
        Ok(bytes)
    }

    /// Makes an archive copy durable on a background thread (its fsync costs disk time, not CPU
    /// time), after the copies started before it; `finish_copies` joins them all before the
    /// run's end is recorded.
    fn finish_in_background(&mut self, copy: crate::store::files::ArchiveCopy) {
        let before = self.copies.take();
        self.copies = Some(std::thread::spawn(move || {
            let earlier = before.map_or(Ok(()), join_copy);
            copy.finish()?;
            earlier
        }));
    }

    /// Records the partner file in the manifest without holding it: it is read only when its
    /// turn comes, so it is not in memory while the ERP extract is validated.
    fn note_partner(&mut self, path: &Path) -> Result<(), RunError> {
        let known = self.partner_content.take();
        let hash_later = known.is_none();
        let (size, sha256) = known.unwrap_or_default();
        self.manifest.inputs.push(InputEntry {
            role: "partner".into(),
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size,
            sha256,
        });
        match hash_later {
            true => self.hash_in_background(path),
            false => Ok(()),
        }
    }

    /// Hashes the file of the latest `manifest.inputs` entry on another thread (a 240 MB file
    /// costs a core a fraction of a second, while validation goes on).
    fn hash_in_background(&mut self, path: &Path) -> Result<(), RunError> {
        // Opened here: the archive copy's temp name may be renamed before the thread reads it.
        let file = std::fs::File::open(path).map_err(|e| io(self.p, path, e))?;
        let path = path.to_path_buf();
        let at = self.manifest.inputs.len().saturating_sub(1);
        self.hashes
            .push((at, std::thread::spawn(move || sha256_open(file, &path))));
        Ok(())
    }

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
        if let Some(f) = v.fatal.first() {
            return Err(data(p, format!("the ERP extract is unusable: {f}")));
        }
        self.issues
            .extend(v.issues.iter().cloned().map(Issue::warning));
        let good = v.good_rows().map_err(|e| data(p, e))?;
        let good = keep_needed(p, "erp", good).map_err(|e| data(p, e))?;
        tracing::info!(pipeline = %p.id, rows = v.rows(), "ERP extract read and validated in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        Ok(good)
    }

    /// Waits for the archive copies started by `read_input` and the inputs' hashes.
    fn finish_copies(&mut self) -> Result<(), RunError> {
        for (at, h) in std::mem::take(&mut self.hashes) {
            let (size, sha256) = h.join().unwrap_or_else(|_| {
                Err(StoreError::Io {
                    path: PathBuf::new(),
                    step: "hash an input",
                    source: std::io::Error::other("the hashing thread panicked"),
                })
            })?;
            if let Some(entry) = self.manifest.inputs.get_mut(at) {
                entry.size = size;
                entry.sha256 = sha256;
            }
        }
        Ok(self.copies.take().map_or(Ok(()), join_copy)?)
    }

    fn steps(&mut self, ledger: &Ledger, input: &Path, date: NaiveDate) -> Result<Step, RunError> {
        let p = self.p;
        self.note_partner(input)?;
        let mut tables: BTreeMap<String, DataFrame> = BTreeMap::new();
        let mut refs: HashMap<String, DataFrame> = HashMap::new();
        for (name, t) in &p.references {
            let b = self.read_input("reference", &t.path)?;
            let shown = t
                .path
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
            if let Some(f) = v.fatal.first() {
                return Err(data(
                    p,
                    format!("reference table `{name}` is unusable: {f}"),
                ));
            }
            self.issues
                .extend(v.issues.iter().cloned().map(Issue::warning));
            let good = v.good_rows().map_err(|e| data(p, e))?;
            refs.insert(name.clone(), good.clone());
            tables.insert(name.clone(), good);
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
        // The partner file is our own archive copy by now: mapped, not read into the heap.
        let bytes = map_file(input)?;
        tracing::debug!(pipeline = %p.id, "partner file read in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        // A declared trailer proves the file complete; it is no data row.
        let (body, control_total) = match (&p.format, &p.trailer) {
            (InputFormat::Csv, Some(pattern)) => match trailer::find(&bytes, pattern) {
                Trailer::Found { starts_at, rows } => (&bytes[..starts_at], rows),
                Trailer::Missing => {
                    return Ok(Step::Reject(format!(
                        "the file's last line is not its trailer (`{}`): it is incomplete (control-total)",
                        pattern.as_str()
                    )));
                }
            },
            _ => (&bytes[..], None),
        };
        let v = match &p.format {
            InputFormat::Csv => load_table_then(
                &self.file,
                body,
                &p.schema,
                &p.dialect,
                p.if_empty,
                &refs,
                &|| bytes.release(),
            ),
            // Settlement layouts (runner/settlement.rs): read, footed, then validated.
            InputFormat::Settlement(s) => {
                let read =
                    super::settlement::load(&self.file, &bytes, s, &p.schema, p.if_empty, &refs)
                        .map_err(|e| data(p, e))?;
                self.issues.extend(read.issues);
                if let Some(why) = read.reject {
                    return Ok(Step::Reject(why));
                }
                tables.insert(read.other.0, read.other.1);
                Ok(read.validated)
            }
            InputFormat::X12 { table }
            | InputFormat::Edifact { table }
            | InputFormat::Xml { table } => {
                let doc = Document::parse(&p.format, &bytes)
                    .ok_or_else(|| data(p, "a CSV input has no document"))?;
                let mut envelope = doc.issues(&self.file, &bytes);
                // Reruns neither check control numbers (they would meet their own) nor acknowledge.
                if let (Document::X12(parsed), "file") = (&doc, self.manifest.trigger.as_str()) {
                    let received = super::x12_ack::receive(
                        ledger,
                        &self.file,
                        &bytes,
                        parsed,
                        &self.run_id,
                        p.ta1,
                        Utc::now(),
                    )?;
                    envelope.extend(received.issues);
                    if let Some(dest) = &p.ack_destination {
                        self.send_acks(received.replies, dest)?;
                    }
                }
                let csv = doc.table_csv(table).transpose().map_err(|e| data(p, e))?;
                drop(doc);
                let kind = match &p.format {
                    InputFormat::X12 { .. } => "X12 envelope",
                    InputFormat::Edifact { .. } => "EDIFACT envelope",
                    _ => "XML document",
                };
                let errors = envelope
                    .iter()
                    .filter(|i| i.severity == Severity::Error)
                    .count();
                self.issues.extend(envelope);
                let Some(csv) = csv.filter(|_| errors == 0) else {
                    return Ok(Step::Reject(if errors > 0 {
                        format!("{errors} {kind} error(s); the file is not processed")
                    } else {
                        format!("the file holds no {table} rows")
                    }));
                };
                load_table(
                    &self.file,
                    &csv,
                    &p.schema,
                    &Default::default(),
                    p.if_empty,
                    &refs,
                )
                .map(|mut v| {
                    // Lines of the rendered table mean nothing to a partner: name the row instead.
                    for i in v.issues.iter_mut().chain(v.fatal.iter_mut()) {
                        if let Some(line) = i.line.take() {
                            i.message =
                                format!("{table} row {}: {}", line.saturating_sub(1), i.message);
                        }
                    }
                    v
                })
            }
        }
        .map_err(|e| data(p, e))?;
        drop(bytes);
        let structure_aside = v
            .issues
            .iter()
            .filter(|i| i.line.is_some() && i.severity == Severity::Error && is_structure(&i.rule))
            .count();
        self.issues.extend(v.fatal.iter().cloned());
        self.issues.extend(v.issues.iter().cloned());
        self.manifest.rows = v.rows() + structure_aside;
        tracing::info!(pipeline = %p.id, rows = self.manifest.rows, issues = self.issues.len(), "validated in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        if let Some(want) = control_total.filter(|&n| n != self.manifest.rows as u64) {
            let message = format!(
                "the trailer says {want} data rows; the file holds {}",
                self.manifest.rows
            );
            self.issues.push(Issue {
                file: self.file.clone(),
                line: None,
                column: None,
                value: None,
                rule: "control-total".into(),
                severity: Severity::Error,
                message: message.clone(),
            });
            return Ok(Step::Reject(format!("{message} (control-total)")));
        }
        if let Some(f) = v.fatal.first() {
            return Ok(Step::Reject(format!("{} ({})", f.message, f.rule)));
        }
        let errors = v
            .issues
            .iter()
            .filter(|i| i.severity == Severity::Error)
            .count();
        if errors > 0 && p.on_error == OnError::RejectFile {
            return Ok(Step::Reject(format!(
                "{errors} error(s) in the file; the pipeline rejects files with errors"
            )));
        }
        let good = v.good_rows().map_err(|e| data(p, e))?;
        self.manifest.rows_set_aside = v.bad_rows.len() + structure_aside;
        // Only `tables` holds the rows from here, so that the transforms' clean-up frees them.
        drop(v);
        let good = keep_needed(p, "input", good).map_err(|e| data(p, e))?;
        if let (Some(erp), Some(path)) = (&p.erp, erp_path) {
            // Its warnings are listed before the partner file's issues, as it is the context.
            let partner_issues = self.issues.split_off(issues_before);
            let erp_table = self.load_erp(erp, &path, date, &refs)?;
            self.issues.extend(partner_issues);
            tables.insert("erp".into(), erp_table);
        }
        tables.insert("input".into(), good);
        // `[group_reconcile]` and `[journal]` (runner/settlement.rs).
        for (status, n) in super::settlement::derive(p, &mut tables).map_err(|e| data(p, e))? {
            self.manifest.reconciliation.insert(status, n as u64);
        }
        self.settlement_money = super::settlement::money(p, &tables).map_err(|e| data(p, e))?;
        // A side nothing reads after reconcile is handed over, so its columns go as they are
        // gathered; one still needed is shared (a clone shares the buffers).
        let mut hand_over = |name: &str| match is_used(p, name, true) {
            true => tables.get(name).cloned(),
            false => tables.remove(name),
        };
        if let (Some(spec), Some(erp), Some(good)) =
            (&p.reconcile, hand_over("erp"), hand_over("input"))
        {
            let started = std::time::Instant::now();
            let unique = KnownUnique {
                partner: same_set(&p.schema.primary_key, spec.keys.iter().map(|k| &k.0)),
                erp: p.erp.as_ref().is_some_and(|e| {
                    same_set(&e.schema.primary_key, spec.keys.iter().map(|k| &k.1))
                }),
            };
            let r = reconcile(good, erp, spec, unique).map_err(|e| data(p, e))?;
            for s in STATUSES {
                self.manifest
                    .reconciliation
                    .insert(s.to_string(), r.count(s));
            }
            tracing::info!(pipeline = %p.id, "reconciled in {:.2}s ({}): {:?}", started.elapsed().as_secs_f64(), crate::usage::memory(), self.manifest.reconciliation);
            tables.insert("breaks".into(), r.breaks().map_err(|e| data(p, e))?);
            tracing::debug!(pipeline = %p.id, "breaks at {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
            tables.insert("reconciled".into(), r.table);
        }
        if p.report.is_some() {
            self.reconciled = tables.get("reconciled").cloned();
        }
        // Large tables nobody reads are let go before the transforms run (peak memory).
        tables.retain(|name, _| is_used(p, name, true));
        let started = std::time::Instant::now();
        let produced = run_transforms(&tables, &p.transforms).map_err(|e| config(p, e))?;
        tables.extend(produced);
        if let Some(b) = &p.breaks {
            self.breaks_table = tables.get(&b.table).cloned();
        }
        tables.retain(|name, _| is_used(p, name, false));
        tracing::info!(pipeline = %p.id, "transformed in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        for o in &p.outputs {
            let df = tables
                .get(&o.table)
                .ok_or_else(|| config(p, format!("output table `{}` was not produced", o.table)))?;
            let name = o.file_name(&p.id, date, &self.run_id);
            let completed = self.complete(ledger, o, &name, df)?;
            let df = completed.table.as_ref();
            let outbox = self.home.outbox().join(&o.destination);
            let staged = match &o.format {
                OutputFormat::Csv => {
                    // Rendered straight into the file: a 5M-row feed is never held as bytes.
                    let mut failed = None;
                    let written = stage_streamed(&outbox, &name, &self.run_id, |w| {
                        write_csv(df, &o.order_by, w).map_err(|e| {
                            let message = e.to_string();
                            failed = Some(e);
                            std::io::Error::other(message)
                        })
                    });
                    match (written, failed) {
                        // Writing failed (a full disk), or the table could not be written
                        // as configured (an `order_by` column it lacks).
                        (_, Some(e @ PolarsError::IO { .. })) => return Err(data(p, e)),
                        (_, Some(e)) => return Err(config(p, e)),
                        (w, None) => w?,
                    }
                }
                OutputFormat::X12 { document, party } => {
                    let previous = self.replayed_output(ledger, o)?;
                    let bytes = super::x12_ack::outbound_x12(
                        ledger,
                        df,
                        &o.order_by,
                        *document,
                        party,
                        previous.as_deref(),
                    )?
                    .map_err(|e| config(p, format!("output {} as X12: {e}", o.table)))?;
                    stage_streamed(&outbox, &name, &self.run_id, |w| w.write_all(&bytes))?
                }
            };
            tracing::info!(pipeline = %p.id, rows = df.height(), "staged {name} ({} bytes)", staged.size);
            self.settle_output(ledger, o, staged, df.height(), completed)?;
            crate::failpoint::hit("output-staged");
        }
        Ok(Step::Done)
    }
}

/// The outcome of an archive copy thread (a panic there is reported as a failed write).
fn join_copy(h: JoinHandle<Result<(), StoreError>>) -> Result<(), StoreError> {
    h.join().unwrap_or_else(|_| {
        Err(StoreError::Io {
            path: PathBuf::new(),
            step: "archive copy",
            source: std::io::Error::other("the archive copy thread panicked"),
        })
    })
}

/// `df` (the `input` or `erp` table) without the columns nothing after validation reads: a
/// column is kept when reconcile uses it on this side (key, compared or carried), or a
/// transform's SQL names it; every column is kept when the table is an output itself or a
/// transform selects `*`. Unread columns (free text, timestamps) are a large share of a wide
/// file's memory.
fn keep_needed(p: &Pipeline, table: &str, df: DataFrame) -> PolarsResult<DataFrame> {
    let mut side_columns: Vec<&String> = Vec::new();
    if let Some(r) = &p.reconcile {
        if table == "input" {
            side_columns.extend(r.keys.iter().map(|k| &k.0));
            side_columns.extend(r.compare.iter().map(|c| &c.partner));
            side_columns.extend(&r.carry_partner);
        } else {
            side_columns.extend(r.keys.iter().map(|k| &k.1));
            side_columns.extend(r.compare.iter().map(|c| &c.erp));
            side_columns.extend(&r.carry_erp);
        }
    }
    let settlement = super::settlement::needed_columns(p, table);
    side_columns.extend(&settlement);
    let star = regex::Regex::new(r"(?i)(\bselect|\bdistinct|,|\.)\s*\*");
    if p.outputs.iter().any(|o| o.table == table)
        || p.breaks.as_ref().is_some_and(|b| b.table == table)
        || star.is_ok_and(|s| p.transforms.iter().any(|t| s.is_match(&sql_code(&t.sql))))
    {
        return Ok(df);
    }
    let keep: Vec<PlSmallStr> = df
        .get_column_names()
        .into_iter()
        .filter(|c| side_columns.iter().any(|s| s.as_str() == c.as_str()) || named_in_sql(p, c))
        .cloned()
        .collect();
    if keep.len() == df.width() {
        return Ok(df);
    }
    df.select(keep)
}

/// Whether a table is written by an output or (when `by_sql`) named by a transform's SQL;
/// `breaks` is always kept (reports read it).
fn is_used(p: &Pipeline, name: &str, by_sql: bool) -> bool {
    name == "breaks"
        || p.breaks.as_ref().is_some_and(|b| b.table == name)
        || p.outputs.iter().any(|o| o.table == name)
        || (by_sql && named_in_sql(p, name))
}

/// Whether a transform's SQL names `name` (a table or column) outside literals and comments;
/// when in doubt, yes.
fn named_in_sql(p: &Pipeline, name: &str) -> bool {
    regex::Regex::new(&format!(r"(?i)\b{}\b", regex::escape(name))).map_or(true, |w| {
        p.transforms.iter().any(|t| w.is_match(&sql_code(&t.sql)))
    })
}

/// `sql` without its string literals and comments, so that a name is looked for in code only
/// (`WHERE side <> 'erp'` does not read the `erp` table). Anything it cannot tell apart stays,
/// which only keeps more.
fn sql_code(sql: &str) -> String {
    static LITERALS: std::sync::LazyLock<Option<regex::Regex>> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"'(?:[^']|'')*'|--[^\n]*").ok());
    match LITERALS.as_ref() {
        Some(re) => re.replace_all(sql, " ").into_owned(),
        None => sql.to_string(),
    }
}

/// Keys proven unique by a schema's primary key (rows breaking it are never in the good rows).
fn same_set<'a>(primary_key: &[String], keys: impl Iterator<Item = &'a String>) -> bool {
    let keys: std::collections::BTreeSet<&String> = keys.collect();
    !primary_key.is_empty() && keys == primary_key.iter().collect()
}

impl Run<'_> {
    /// For a rerun: the bytes the replayed run wrote for the same output (table and
    /// destination), from its archive.
    fn replayed_output(
        &self,
        ledger: &Ledger,
        o: &crate::config::Output,
    ) -> Result<Option<Vec<u8>>, RunError> {
        let Some(replayed) = &self.manifest.rerun_of else {
            return Ok(None);
        };
        let Some(archive) = ledger.run_archive(replayed)? else {
            return Ok(None);
        };
        let dir = self.home.root.join(archive);
        let Some(manifest) = manifest::read_if_present(&dir)? else {
            return Ok(None);
        };
        Ok(manifest
            .outputs
            .iter()
            .find(|e| {
                e.table == o.table && e.destination == o.destination && e.control_for.is_none()
            })
            .and_then(|e| std::fs::read(dir.join("output").join(&e.name)).ok()))
    }

    /// 997s and TA1s for what the partner sent (`x12_ack::receive`), written before the data
    /// is judged (a rejected interchange is acknowledged as rejected). Reruns send none: the
    /// partner has them.
    fn send_acks(&mut self, replies: Vec<(String, Vec<u8>)>, dest: &str) -> Result<(), RunError> {
        for (name, ack) in replies {
            let outbox = self.home.outbox().join(dest);
            let staged = stage_streamed(&outbox, &name, &self.run_id, |w| w.write_all(&ack))?;
            let table = name.split('_').next().unwrap_or("997").to_string();
            self.keep_staged(staged, &table, dest, 1, true)?;
        }
        Ok(())
    }

    /// Archives a staged output (an independent copy: an ERP that rewrites its file in place
    /// must not rewrite our evidence) and notes what the ledger and manifest will say of it.
    fn keep_staged(
        &mut self,
        staged: Staged,
        table: &str,
        destination: &str,
        rows: usize,
        ack: bool,
    ) -> Result<(), RunError> {
        let entry = self.archive_staged(&staged, table, destination, rows)?;
        self.keep_entry(staged, entry, ack)
    }

    /// Copies a staged output into the run's archive; returns its manifest entry.
    fn archive_staged(
        &mut self,
        staged: &Staged,
        table: &str,
        destination: &str,
        rows: usize,
    ) -> Result<OutputEntry, RunError> {
        let name = staged
            .target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let copy = copy_to_archive(&staged.temp, &self.dir.join("output"), &name)?;
        self.finish_in_background(copy);
        Ok(OutputEntry {
            table: table.into(),
            destination: destination.into(),
            name,
            rows,
            size: staged.size,
            sha256: staged.sha256.clone(),
            held: None,
            supersedes: None,
            current: None,
            control_for: None,
            note: None,
        })
    }

    /// Notes what the ledger and manifest will say of an archived output to be published.
    fn keep_entry(
        &mut self,
        staged: Staged,
        entry: OutputEntry,
        ack: bool,
    ) -> Result<(), RunError> {
        let name = entry.name.clone();
        let destination = entry.destination.as_str();
        let archived = rel(self.home, &self.dir.join("output").join(&name));
        let record = NewOutbound {
            destination: destination.into(),
            name,
            path: rel(self.home, &staged.target),
            temp_path: rel(self.home, &staged.temp),
            size: staged.size,
            sha256: staged.sha256.clone(),
            delivery: super::delivery::queue_for(self.p, destination, ack, &archived),
        };
        self.manifest.outputs.push(entry.clone());
        self.staged.push(StagedOutput {
            staged,
            record,
            entry,
            ack,
        });
        Ok(())
    }
}

fn is_structure(rule: &str) -> bool {
    matches!(
        rule,
        "field-count" | "stray-quote" | "unclosed-quote" | "encoding" | "nul-byte"
    )
}
