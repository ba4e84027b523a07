//! The flow of one file: detect, settle, land, claim, validate, reconcile, transform, write,
//! archive. This is the edge where the pure core meets folders, the ledger and the clock.

pub mod control;
pub mod delivery;
pub mod disposition;
pub mod erp_wait;
pub mod lease_keeper;
pub mod manifest;
pub mod open_items;
pub mod plan;
pub mod process;
pub mod report;
pub mod rerun;
pub mod resume;
pub mod settlement;
pub mod sftp_source;
pub mod tables;
pub mod x12_ack;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use chrono::{DateTime, Utc};

use crate::config::{Home, Pipeline};
use crate::store::files::{land, move_file, remove_if_present, safe_name};
use crate::store::intake;
use crate::store::lock::PipelineLock;
use crate::store::{Claim, FileState, Landing, Ledger, StoreError};
use crate::transport::settle::{Settler, Sighting, Wait};

pub use process::{process, Outcome};
pub use rerun::{rerun, RerunReport};

/// Operational failures of a run (data problems are issues, never these).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{pipeline}: {}: {source}", path.display())]
    Io {
        pipeline: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{pipeline}: {message}")]
    Data { pipeline: String, message: String },
    /// The pipeline's own configuration failed at run time (a transform's SQL, an output's
    /// table or columns): no fault of the partner's, and trying again will not help.
    #[error("{pipeline}: configuration: {message}")]
    Config { pipeline: String, message: String },
    #[error("{0}")]
    Rerun(String),
    /// An archived run manifest that could not be read or written (a rerun, a diff, the last
    /// published copy of an output all depend on it).
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    /// The file's earlier runs failed or were interrupted (the process running them died) as
    /// many times as a file may: it is not run again, lest it take the daemon down once more.
    #[error("{pipeline}: {file}: {failed} earlier runs of this file failed or were interrupted (the process running them stopped); not run again")]
    GaveUp {
        pipeline: String,
        file: String,
        failed: i64,
    },
}

/// Whose problem a failed run is, which decides what becomes of its file
/// (`disposition::decide`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The pipeline's configuration: the file is held `failed` until a rerun after the fix.
    Config,
    /// I/O, a full disk, the ledger: the file is tried again, up to `MAX_ATTEMPTS` runs.
    Operational,
}

impl RunError {
    pub fn kind(&self) -> FailureKind {
        match self {
            RunError::Config { .. } => FailureKind::Config,
            RunError::Store(_)
            | RunError::Io { .. }
            | RunError::Data { .. }
            | RunError::Rerun(_)
            | RunError::Manifest(_)
            | RunError::GaveUp { .. } => FailureKind::Operational,
        }
    }
}

/// What `run_pipeline` did.
#[derive(Debug, Default)]
pub struct Summary {
    pub outcomes: Vec<Outcome>,
    pub duplicates: Vec<String>,
    pub waiting: Vec<(String, Wait)>,
    /// Files claimed and held `waiting` for their ERP extract this pass (name, why).
    pub erp_waiting: Vec<(String, String)>,
    pub refused: Vec<(String, String)>,
    /// Exception reports stored in the mail queue by this pass (`report::report_pass`).
    pub mail_queued: usize,
    /// Reports that could not be built, archived or queued (the runs themselves are done).
    pub report_errors: Vec<String>,
    /// Files whose taking or run ended in an operational error (left for recovery).
    pub file_errors: Vec<String>,
    /// Uploads to SFTP destinations tried in this pass (`delivery::deliver_pending`).
    pub deliveries: delivery::DeliverySummary,
    /// Remote files that could not be fetched this pass (host, path and step in each): errors
    /// for the exit code; the other files went on (`sftp_source`).
    pub source_errors: Vec<String>,
    /// After-claim actions (delete, move, marker removal) the server refused: the file was
    /// processed; the action is retried with backoff and listed by `tallyman runs`.
    pub source_warnings: Vec<String>,
}

pub fn now_text(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Lists a drop folder: regular files matching the pattern; symlinks, FIFOs and folders are
/// refused with a reason (never followed or read).
/// Files seen, and (name, why) of entries refused.
pub type Listing = (Vec<Sighting>, Vec<(String, String)>);

pub fn list_folder(p: &Pipeline) -> Result<Listing, RunError> {
    let dir = &p.source.folder;
    let io = |source| RunError::Io {
        pipeline: p.id.clone(),
        path: dir.clone(),
        source,
    };
    let mut seen = Vec::new();
    let mut refused = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else {
            refused.push((
                entry
                    .file_name()
                    .to_string_lossy()
                    .escape_debug()
                    .to_string(),
                "refused: the name is not valid UTF-8; rename it to be taken".to_string(),
            ));
            continue;
        };
        let meta = match std::fs::symlink_metadata(entry.path()) {
            Ok(m) => m,
            // Gone between the listing and the look (the partner moved it): not there.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io(e)),
        };
        let kind = meta.file_type();
        if !kind.is_file() {
            if !crate::transport::settle::is_never_taken(&name) {
                let what = if kind.is_symlink() {
                    "a symbolic link"
                } else if kind.is_dir() {
                    "a folder"
                } else {
                    "not a regular file (FIFO, socket or device)"
                };
                refused.push((
                    name,
                    format!("refused: {what}; only regular files are taken"),
                ));
            }
            continue;
        }
        let is_marker = p
            .source
            .settle
            .done_marker
            .as_ref()
            .is_some_and(|m| name.ends_with(m.as_str()));
        if !is_marker && !p.source.pattern.matches(&name) {
            continue;
        }
        // A hard link can make any file of the system look like a partner file.
        if std::os::unix::fs::MetadataExt::nlink(&meta) > 1 {
            refused.push((
                name,
                format!(
                    "refused: it has {} hard links (one is expected; a link can point at any file on this machine)",
                    std::os::unix::fs::MetadataExt::nlink(&meta)
                ),
            ));
            continue;
        }
        seen.push(Sighting {
            name,
            size: meta.len(),
            mtime: meta.modified().map_err(io)?,
        });
    }
    seen.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((seen, refused))
}

/// Processes what is ready in a pipeline's drop folder, once: two looks a settle window apart
/// (waiting for young files to come of age, up to `max_wait`), then each complete file in name order.
pub fn run_pipeline(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    mail: &crate::config::MailSettings,
    max_wait: Duration,
    lock: &PipelineLock,
) -> Result<Summary, RunError> {
    if let Some(ep) = &p.source.sftp {
        let mut summary = sftp_source::run_sftp(home, ledger, p, ep, max_wait)?;
        let mut resumed = resume::resume_claimed(home, ledger, p, lock)?;
        resumed.append(&mut summary.outcomes);
        summary.outcomes = resumed;
        report::report_pass(home, ledger, p, mail, &mut summary);
        summary.deliveries = delivery::deliver_pending(home, ledger, p)?;
        return Ok(summary);
    }
    let mut settler = Settler::new();
    let mut summary = Summary {
        outcomes: resume::resume_claimed(home, ledger, p, lock)?,
        ..Summary::default()
    };
    let (listing, refused) = list_folder(p)?;
    for (name, why) in &refused {
        tracing::warn!(pipeline = %p.id, file = %name, "{why}");
    }
    summary.refused = refused;
    settler.look(&p.source.settle, &listing, SystemTime::now());
    let mut ready = Vec::new();
    if !listing.is_empty() {
        let wait = settler
            .next_look_in(&p.source.settle, SystemTime::now())
            .unwrap_or_default()
            .min(max_wait);
        if !wait.is_zero() {
            tracing::info!(pipeline = %p.id, "waiting {:.1}s for {} file(s) to settle", wait.as_secs_f64(), listing.len());
            std::thread::sleep(wait);
        }
        let (listing, _) = list_folder(p)?;
        let (r, waiting) = settler.look(&p.source.settle, &listing, SystemTime::now());
        ready = r;
        summary.waiting = waiting
            .into_iter()
            .filter(|(_, w)| !matches!(w, Wait::NeverTaken | Wait::IsMarker))
            .collect();
    }
    for s in ready {
        // One file's operational failure (a full disk, a ledger error) is reported and the
        // pass goes on: it never blocks the files after it. Recovery finishes it next pass.
        // A panic is isolated like `serve` isolates it: the file is reported failed with the
        // panic's message, stays claimed for recovery, and the next file goes on.
        match crate::isolate::guarded(|| take_and_process(home, ledger, p, &s)) {
            Ok(Ok(FileResult::Duplicate(name))) => summary.duplicates.push(name),
            Ok(Ok(FileResult::Processed(outcome))) => summary.outcomes.push(*outcome),
            Ok(Ok(FileResult::Changed(name))) => summary.waiting.push((name, Wait::Changing)),
            Ok(Ok(FileResult::Waiting(name, why))) => summary.erp_waiting.push((name, why)),
            Ok(Ok(FileResult::Paused(name, why))) => summary.refused.push((name, why)),
            Ok(Err(e)) => {
                tracing::error!(pipeline = %p.id, file = %s.name, "{e}");
                summary
                    .file_errors
                    .push(format!("{}: {e}", s.name.escape_debug()));
            }
            Err(why) => {
                tracing::error!(pipeline = %p.id, file = %s.name, "panicked: {why}; going on with the next file");
                summary
                    .file_errors
                    .push(format!("{}: panicked: {why}", s.name.escape_debug()));
                // The connection may be inside a transaction the panic abandoned.
                *ledger = Ledger::open_for_home(home)?;
            }
        }
    }
    report::report_pass(home, ledger, p, mail, &mut summary);
    summary.deliveries = delivery::deliver_pending(home, ledger, p)?;
    Ok(summary)
}

/// One look at a drop folder with a caller-kept `Settler` (the daemon keeps one per pipeline
/// across scans): the files complete now, why the others wait, and entries refused.
pub fn look_ready(p: &Pipeline, settler: &mut Settler) -> Result<Looked, RunError> {
    let (listing, refused) = list_folder(p)?;
    let (ready, waiting) = settler.look(&p.source.settle, &listing, SystemTime::now());
    let waiting = waiting
        .into_iter()
        .filter(|(_, w)| !matches!(w, Wait::NeverTaken | Wait::IsMarker))
        .collect();
    Ok(Looked {
        ready,
        waiting,
        refused,
    })
}

/// What `look_ready` saw.
#[derive(Debug, Default)]
pub struct Looked {
    pub ready: Vec<Sighting>,
    pub waiting: Vec<(String, Wait)>,
    pub refused: Vec<(String, String)>,
}

/// What became of one complete file.
#[derive(Debug)]
pub enum FileResult {
    Processed(Box<Outcome>),
    Duplicate(String),
    /// It changed while being copied, or another process still writes it; left in place for a
    /// later look.
    Changed(String),
    /// Not taken: the home's disk is short of space (name, why); left in place.
    Paused(String, String),
    /// Claimed and held `waiting` for its ERP extract (name, why).
    Waiting(String, String),
}

/// Takes one complete file (land, claim, remove the partner's copy) and processes it.
pub fn take_and_process(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    s: &Sighting,
) -> Result<FileResult, RunError> {
    let free = intake::free_bytes(&home.root).map_err(|source| RunError::Io {
        pipeline: p.id.clone(),
        path: home.root.clone(),
        source,
    })?;
    if let Err(why) = intake::room_for(
        s.size,
        free,
        intake::reserve_bytes(&|k| std::env::var(k).ok()),
    ) {
        tracing::warn!(pipeline = %p.id, file = %s.name, "{why}");
        return Ok(FileResult::Paused(s.name.clone(), why));
    }
    if intake::open_for_writing(&p.source.folder.join(&s.name)) {
        tracing::info!(pipeline = %p.id, file = %s.name, "still open for writing by another process; not taken yet");
        return Ok(FileResult::Changed(s.name.clone()));
    }
    Ok(match take_file(home, ledger, p, s)? {
        Taken::Duplicate(name) => FileResult::Duplicate(name),
        Taken::Process {
            file_id,
            landed,
            arrived,
        } => erp_wait::process_or_wait(home, ledger, p, file_id, &s.name, &landed, arrived)?,
        Taken::Changed => FileResult::Changed(s.name.clone()),
    })
}

enum Taken {
    Duplicate(String),
    Process {
        file_id: i64,
        landed: PathBuf,
        arrived: DateTime<Utc>,
    },
    Changed,
}

/// Land, claim, and only then remove the partner's copy (and its done marker).
fn take_file(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    s: &Sighting,
) -> Result<Taken, RunError> {
    let from = p.source.folder.join(&s.name);
    let landing = home.var().join("landing").join(&p.id);
    let landed = match land(&from, &landing, s.size) {
        Ok(l) => l,
        Err(StoreError::Changed { .. }) => {
            tracing::info!(pipeline = %p.id, file = %s.name, "changed while copying; will retry once it settles");
            return Ok(Taken::Changed);
        }
        Err(e) => return Err(e.into()),
    };
    if !unchanged(&from, s) {
        tracing::info!(pipeline = %p.id, file = %s.name, "changed while copying; will retry once it settles");
        remove_if_present(&landed.path)?;
        return Ok(Taken::Changed);
    }
    crate::failpoint::hit("landed");
    claim_landed(home, ledger, p, &s.name, landed, &mut || {
        crate::failpoint::hit("claimed");
        // Never delete a partner's copy that changed since it was landed: what changed would
        // be lost. It stays, and its new content is taken later as a correction.
        if !unchanged(&from, s) {
            tracing::warn!(pipeline = %p.id, file = %s.name, "changed after it was landed: the partner's copy is left in place");
            return Ok(());
        }
        remove_if_present(&from)?;
        if let Some(m) = &p.source.settle.done_marker {
            remove_if_present(&p.source.folder.join(format!("{}{m}", s.name)))?;
        }
        Ok(())
    })
}

/// Whether a drop file still has the size and mtime it was seen with.
fn unchanged(path: &Path, s: &Sighting) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == s.size && m.modified().ok() == Some(s.mtime))
}

/// Claims a landed file in the ledger, and only then lets the source forget it (`after_claim`:
/// remove the local drop copy, or delete/move the remote one); routes duplicates to the archive.
fn claim_landed(
    home: &Home,
    ledger: &mut Ledger,
    p: &Pipeline,
    name: &str,
    landed: crate::store::files::Landed,
    after_claim: &mut dyn FnMut() -> Result<(), RunError>,
) -> Result<Taken, RunError> {
    let s = Sighting {
        name: name.to_string(),
        size: landed.size,
        mtime: SystemTime::now(),
    };
    // A declared trailer not there yet: the partner is still writing (or the file was cut
    // short). Not claimed; the partner's copy stays for a later look.
    if let Some(pattern) = &p.trailer {
        let complete =
            crate::formats::trailer::file_has_trailer(&landed.path, pattern).map_err(|source| {
                RunError::Io {
                    pipeline: p.id.clone(),
                    path: landed.path.clone(),
                    source,
                }
            })?;
        if !complete {
            tracing::info!(pipeline = %p.id, file = %name, "no trailer record yet: not complete; left for a later look");
            remove_if_present(&landed.path)?;
            return Ok(Taken::Changed);
        }
    }
    let arrived = Utc::now();
    // Recorded with the claim: the duplicate rule may compare business dates. A name that
    // gives none is claimed undated (its run rejects it, saying why).
    let date = crate::config::business_date(&p.business_date, p.time_zone, name, arrived)
        .ok()
        .map(|d| d.to_string());
    let claim = ledger.claim(
        &p.id,
        &Landing {
            name,
            size: landed.size,
            sha256: &landed.sha256,
            business_date: date.as_deref(),
            received_at: &now_text(arrived),
            stored: &rel(home, &landed.path),
        },
        p.source.duplicates,
    )?;
    after_claim()?;
    match claim {
        Claim::Duplicate {
            file_id,
            duplicate_of,
            why,
        } => {
            let to = home
                .archive()
                .join(&p.id)
                .join("_duplicates")
                .join(format!("{file_id}-{}", safe_name(&s.name)));
            move_file(&landed.path, &to)?;
            let reason = format!("{why} (sha256 {}) as file #{duplicate_of}", landed.sha256);
            ledger.set_file_state(
                file_id,
                FileState::Duplicate,
                Some(&reason),
                &rel(home, &to),
            )?;
            tracing::info!(pipeline = %p.id, file = %s.name, "duplicate of file #{duplicate_of}: recorded, not processed again");
            Ok(Taken::Duplicate(s.name.clone()))
        }
        Claim::New {
            file_id,
            correction_of,
        } => {
            if let Some(prev) = correction_of {
                tracing::warn!(pipeline = %p.id, file = %s.name, "correction: same name as file #{prev} with new content");
            }
            Ok(Taken::Process {
                file_id,
                landed: landed.path,
                arrived,
            })
        }
    }
}

/// A path relative to the home folder, for the ledger and messages.
pub fn rel(home: &Home, path: &Path) -> String {
    path.strip_prefix(&home.root)
        .unwrap_or(path)
        .display()
        .to_string()
}
