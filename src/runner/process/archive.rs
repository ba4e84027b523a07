//! The run's archive (IO): inputs copied into the run folder and hashed on background threads,
//! outputs copied beside them, a rejected file quarantined, and an interrupted run's folder
//! emptied for its redo. Every copy is joined before the run's end is recorded.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use super::{io, Run, StagedOutput};
use crate::config::{Home, Pipeline};
use crate::issue::{Issue, Severity};
use crate::runner::manifest::{InputEntry, OutputEntry};
use crate::runner::{rel, RunError};
use crate::store::files::{
    copy_to_archive, map_file, safe_name, sha256_open, write_atomic, Mapped,
};
use crate::store::outputs::NewOutbound;
use crate::store::publish::Staged;
use crate::store::StoreError;

impl Run<'_> {
    /// Copies an ERP extract or reference into the run's archive and returns the copy's bytes
    /// (mapped: what is validated is exactly what was archived). The copy is made durable on a
    /// background thread, joined before the run's end is recorded.
    pub(super) fn read_input(&mut self, role: &str, path: &Path) -> Result<Mapped, RunError> {
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
    pub(super) fn finish_in_background(&mut self, copy: crate::store::files::ArchiveCopy) {
        let before = self.copies.take();
        self.copies = Some(std::thread::spawn(move || {
            let earlier = before.map_or(Ok(()), join_copy);
            copy.finish()?;
            earlier
        }));
    }

    /// Records the partner file in the manifest without holding it: it is read only when its
    /// turn comes, so it is not in memory while the ERP extract is validated.
    pub(super) fn note_partner(&mut self, path: &Path) -> Result<(), RunError> {
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
    pub(super) fn hash_in_background(&mut self, path: &Path) -> Result<(), RunError> {
        // Opened here: the archive copy's temp name may be renamed before the thread reads it.
        let file = std::fs::File::open(path).map_err(|e| io(self.p, path, e))?;
        let path = path.to_path_buf();
        let at = self.manifest.inputs.len().saturating_sub(1);
        self.hashes
            .push((at, std::thread::spawn(move || sha256_open(file, &path))));
        Ok(())
    }

    /// Waits for the archive copies started by `read_input` and the inputs' hashes.
    pub(super) fn finish_copies(&mut self) -> Result<(), RunError> {
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

    /// Archives a staged output (an independent copy: an ERP that rewrites its file in place
    /// must not rewrite our evidence) and notes what the ledger and manifest will say of it.
    pub(super) fn keep_staged(
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
    pub(super) fn archive_staged(
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
            partition: None,
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
    pub(super) fn keep_entry(
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
            delivery: crate::runner::delivery::queue_for(self.p, destination, ack, &archived),
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

/// Empties an interrupted run's folder of everything but its `input/` (its partial outputs,
/// copies and temps): the input stays as the evidence of what the failed run read, and as the
/// bytes the next run copies.
pub(in crate::runner) fn clear_run_folder(dir: &Path) -> std::io::Result<()> {
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
pub(super) fn quarantine(
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
