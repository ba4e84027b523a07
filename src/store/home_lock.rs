//! One daemon per home folder: an exclusive advisory lock on `<data>/var/tallyman.lock` holding the PID.
//!
//! Uses std's `File::try_lock` (flock(2) on Linux, stable since Rust 1.89), so no extra crate.
//! The lock belongs to the open file description and ends when the process exits, however it
//! exits, so a crash never leaves a stale lock; the PID inside is only for the error message.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// The exit code the CLI uses when another daemon holds the folder (EX_TEMPFAIL).
pub const EXIT_LOCKED: i32 = 75;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{path} is locked by another tallyman (pid {})", pid.map_or("unknown".to_string(), |p| p.to_string()))]
    Held { path: PathBuf, pid: Option<u32> },
    #[error("cannot lock {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

impl LockError {
    /// The process exit code for this error: `EXIT_LOCKED` when held, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            LockError::Held { .. } => EXIT_LOCKED,
            LockError::Io { .. } => 1,
        }
    }
}

/// Held for the daemon's life; dropping it releases the lock.
#[derive(Debug)]
pub struct DataLock {
    path: PathBuf,
    file: File,
}

impl DataLock {
    /// The lock file's path for a data folder.
    pub fn path_for(data: &Path) -> PathBuf {
        data.join("var").join("tallyman.lock")
    }

    /// Takes the lock without waiting; `LockError::Held` if another process (or another open
    /// of the file in this process) has it.
    pub fn acquire(data: &Path) -> Result<DataLock, LockError> {
        let path = Self::path_for(data);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        // No truncate on open: the file may belong to the running daemon, whose PID we want to report.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let pid = read_pid(&mut file);
                return Err(LockError::Held { path, pid });
            }
            Err(TryLockError::Error(source)) => return Err(io_err(source)),
        }
        file.set_len(0).map_err(io_err)?;
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        writeln!(file, "{}", std::process::id()).map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(DataLock { path, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DataLock {
    /// Unlocks explicitly: a child forked by another thread shares the open file description
    /// until it execs, and closing our descriptor alone would leave the lock with that child.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

fn read_pid(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
