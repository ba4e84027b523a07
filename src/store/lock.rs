//! One processor per pipeline: an exclusive advisory lock on `var/locks/<pipeline>.lock`, held by
//! `run`, `rerun` and each `serve` job while they take, process or recover the pipeline's files.
//!
//! Because every process that touches a pipeline's files holds this lock, a file left `claimed`
//! or a run left `running` that is found while holding it belongs to a process that is gone:
//! "claimed" means "claimed by a live process" only while its owner holds the lock. The lock is
//! flock(2) on an open file description (std's `File::try_lock`), so it ends with its process,
//! however that process ends; the PID written inside is only for messages.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// Held while a pipeline's files are worked on; dropping it releases the lock.
#[derive(Debug)]
pub struct PipelineLock {
    file: File,
    pipeline: String,
}

/// Why a pipeline lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("pipeline {pipeline} is busy: another tallyman (pid {}) holds {} (waited {waited:?})", pid.map_or("unknown".to_string(), |p| p.to_string()), path.display())]
    Busy {
        pipeline: String,
        path: PathBuf,
        pid: Option<u32>,
        waited: Duration,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl PipelineLock {
    /// The lock file of a pipeline under the home's `var/`.
    pub fn path_for(var: &Path, pipeline: &str) -> PathBuf {
        var.join("locks")
            .join(format!("{}.lock", super::files::safe_name(pipeline)))
    }

    /// Takes the pipeline's lock, polling until `wait` has passed (zero: one try).
    pub fn acquire(var: &Path, pipeline: &str, wait: Duration) -> Result<PipelineLock, LockError> {
        let path = Self::path_for(var, pipeline);
        let io = |step: &'static str| {
            let path = path.clone();
            move |source| StoreError::Io { path, step, source }
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io("create folder"))?;
        }
        // No truncate on open: the file may belong to the holder, whose PID the message names.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open lock file"))?;
        let started = Instant::now();
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if started.elapsed() < wait => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    return Err(LockError::Busy {
                        pipeline: pipeline.to_string(),
                        path,
                        pid: text.trim().parse().ok(),
                        waited: started.elapsed(),
                    });
                }
                Err(TryLockError::Error(source)) => return Err(io("lock")(source).into()),
            }
        }
        file.set_len(0).map_err(io("write pid"))?;
        file.seek(SeekFrom::Start(0)).map_err(io("write pid"))?;
        writeln!(file, "{}", std::process::id()).map_err(io("write pid"))?;
        Ok(PipelineLock {
            file,
            pipeline: pipeline.to_string(),
        })
    }

    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }
}

impl Drop for PipelineLock {
    /// Unlocks explicitly: a child forked by another thread shares the open file description
    /// until it execs, and closing our descriptor alone would leave the lock with that child.
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = PipelineLock::acquire(dir.path(), "inv", Duration::ZERO).expect("first");
        match PipelineLock::acquire(dir.path(), "inv", Duration::from_millis(250)) {
            Err(LockError::Busy { pid, waited, .. }) => {
                assert_eq!(pid, Some(std::process::id()));
                assert!(waited >= Duration::from_millis(250));
            }
            other => panic!("expected Busy, got {other:?}"),
        }
        // Other pipelines are independent.
        let other = PipelineLock::acquire(dir.path(), "orders", Duration::ZERO);
        assert!(other.is_ok());
        drop(first);
        assert!(PipelineLock::acquire(dir.path(), "inv", Duration::ZERO).is_ok());
    }
}
