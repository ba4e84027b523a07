//! Sink side: atomic upload (temp name, remote fsync, rename) with the "already there" rule
//! described in the module doc of `sftp`, and removal of stale temps of our naming.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};
use ssh2::{OpenFlags, OpenType};

use super::error::{SFTP_NO_SUCH_FILE, SFTP_OP_UNSUPPORTED};
use super::fetch::CHUNK;
use super::remote_name::{is_our_temp, remote_join, temp_name};
use super::{Fault, SftpClient, SftpError, Step};

/// What to upload.
#[derive(Debug, Clone, Copy)]
pub enum UploadSource<'a> {
    Path(&'a Path),
    Bytes(&'a [u8]),
}

/// How an upload ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// Written and renamed into place; `remote_fsynced` is false when the server lacks
    /// fsync@openssh.com.
    Uploaded {
        bytes: u64,
        sha256: String,
        remote_fsynced: bool,
    },
    /// The final name already held exactly these bytes: nothing was written.
    AlreadyPresent { bytes: u64, sha256: String },
}

struct Digested {
    bytes: u64,
    sha256: String,
}

/// Unique per upload attempt within this host: pid, a counter and the time in nanoseconds.
fn attempt_tag() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{:x}-{n:x}-{nanos:x}", std::process::id())
}

impl SftpClient {
    /// Uploads `source` as `remote_dir/final_name` so that the final name appears only complete.
    pub fn upload_atomic(
        &self,
        source: UploadSource<'_>,
        remote_dir: &str,
        final_name: &str,
    ) -> Result<UploadOutcome, SftpError> {
        let final_name = self.checked_name(final_name)?;
        let final_path = remote_join(remote_dir, final_name);
        let ours = self.digest_source(source)?;
        if let Some(outcome) = self.compare_existing(&final_path, &ours)? {
            return Ok(outcome);
        }
        let tmp = remote_join(remote_dir, &temp_name(final_name, &attempt_tag()));
        let written = self
            .write_temp(source, &tmp, &ours)
            .and_then(|fsynced| self.verify_temp(&tmp, &ours).map(|()| fsynced));
        let remote_fsynced = match written {
            Ok(f) => f,
            Err(e) => {
                let _ = self.sftp.unlink(Path::new(&tmp));
                return Err(e);
            }
        };
        match self
            .sftp
            .rename(Path::new(&tmp), Path::new(&final_path), None)
        {
            Ok(()) => {
                self.verify_final_size(&final_path, &ours)?;
                Ok(UploadOutcome::Uploaded {
                    bytes: ours.bytes,
                    sha256: ours.sha256,
                    remote_fsynced,
                })
            }
            Err(e) => {
                let err = self.remote_err(Step::Rename, &format!("{tmp} -> {final_path}"), &e);
                if err.is_retryable() {
                    return Err(err);
                }
                let _ = self.sftp.unlink(Path::new(&tmp));
                // Someone (or our own earlier run) put the final name there meanwhile.
                match self.compare_existing(&final_path, &ours)? {
                    Some(outcome) => Ok(outcome),
                    None => Err(err),
                }
            }
        }
    }

    /// Removes temp files of our naming in `remote_dir` whose mtime is older than `older_than`
    /// at `now` (a crashed upload's leftovers); returns their names.
    pub fn clean_stale_temps(
        &self,
        remote_dir: &str,
        older_than: Duration,
        now: SystemTime,
    ) -> Result<Vec<String>, SftpError> {
        let entries = self
            .sftp
            .readdir(Path::new(remote_dir))
            .map_err(|e| self.remote_err(Step::List, remote_dir, &e))?;
        let cutoff = now
            .checked_sub(older_than)
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs());
        let mut removed = Vec::new();
        for (path, stat) in entries {
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let old = stat.mtime.is_some_and(|m| m < cutoff);
            if stat.file_type().is_file() && is_our_temp(name) && old {
                let remote = remote_join(remote_dir, name);
                self.sftp
                    .unlink(Path::new(&remote))
                    .map_err(|e| self.remote_err(Step::Delete, &remote, &e))?;
                removed.push(name.to_string());
            }
        }
        Ok(removed)
    }

    fn digest_source(&self, source: UploadSource<'_>) -> Result<Digested, SftpError> {
        let mut hasher = Sha256::new();
        let bytes = match source {
            UploadSource::Bytes(b) => {
                hasher.update(b);
                b.len() as u64
            }
            UploadSource::Path(p) => {
                let mut f = std::fs::File::open(p)
                    .map_err(|e| self.local_err(p, "open upload source", e))?;
                let mut buf = vec![0u8; CHUNK];
                let mut total = 0u64;
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| self.local_err(p, "read upload source", e))?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(buf.get(..n).unwrap_or_default());
                    total += n as u64;
                }
                total
            }
        };
        Ok(Digested {
            bytes,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Writes the temp file, fsyncs and closes it, and checks its size; returns whether the
    /// server fsynced it.
    fn write_temp(
        &self,
        source: UploadSource<'_>,
        tmp: &str,
        ours: &Digested,
    ) -> Result<bool, SftpError> {
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let mut remote = self
            .sftp
            .open_mode(Path::new(tmp), flags, 0o644, OpenType::File)
            .map_err(|e| self.remote_err(Step::Write, tmp, &e))?;
        let write_err = |e: std::io::Error| self.remote_io_err(Step::Write, tmp, &e);
        let mut hasher = Sha256::new();
        match source {
            UploadSource::Bytes(b) => {
                for chunk in b.chunks(CHUNK) {
                    remote.write_all(chunk).map_err(write_err)?;
                }
                hasher.update(b);
            }
            UploadSource::Path(p) => {
                let mut f = std::fs::File::open(p)
                    .map_err(|e| self.local_err(p, "open upload source", e))?;
                let mut buf = vec![0u8; CHUNK];
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| self.local_err(p, "read upload source", e))?;
                    if n == 0 {
                        break;
                    }
                    let chunk = buf.get(..n).unwrap_or_default();
                    remote.write_all(chunk).map_err(write_err)?;
                    hasher.update(chunk);
                }
            }
        }
        if hex::encode(hasher.finalize()) != ours.sha256 {
            return Err(self.local_err(
                Path::new(tmp),
                "upload source changed while uploading",
                std::io::Error::other("sha256 differs from the first read"),
            ));
        }
        let fsynced = match remote.fsync() {
            Ok(()) => true,
            Err(e) if e.code() == ssh2::ErrorCode::SFTP(SFTP_OP_UNSUPPORTED) => false,
            Err(e) => return Err(self.remote_err(Step::Fsync, tmp, &e)),
        };
        remote
            .close()
            .map_err(|e| self.remote_err(Step::Write, tmp, &e))?;
        let stat = self
            .sftp
            .lstat(Path::new(tmp))
            .map_err(|e| self.remote_err(Step::Stat, tmp, &e))?;
        if stat.size != Some(ours.bytes) {
            return Err(SftpError::Remote {
                host: self.endpoint.host.clone(),
                path: tmp.to_string(),
                step: Step::Write,
                fault: Fault::Server { sftp_status: None },
                detail: format!(
                    "temp file has {:?} bytes after writing {}",
                    stat.size, ours.bytes
                ),
            });
        }
        Ok(fsynced)
    }

    /// Reads the closed temp back and compares its sha256 with ours, so the rename only ever
    /// publishes the right bytes (a temp another writer touched, or a server that stored
    /// something else, is caught here). Servers that refuse reading a file we wrote are
    /// trusted on size, which `write_temp` checked.
    fn verify_temp(&self, tmp: &str, ours: &Digested) -> Result<(), SftpError> {
        match self.remote_sha256(tmp) {
            Ok(theirs) if theirs == ours.sha256 => Ok(()),
            Ok(theirs) => Err(SftpError::Remote {
                host: self.endpoint.host.clone(),
                path: tmp.to_string(),
                step: Step::Write,
                fault: Fault::Server { sftp_status: None },
                detail: format!(
                    "temp file read back has sha256 {theirs}, we wrote {}; not renamed",
                    ours.sha256
                ),
            }),
            Err(e) if e.is_retryable() => Err(e),
            Err(e) => {
                tracing::debug!("temp not readable back, trusting its size: {e}");
                Ok(())
            }
        }
    }

    /// After the rename: the final name must have our size (SFTP has no atomic
    /// rename-and-stat, so this is the check that the name holds what we renamed).
    fn verify_final_size(&self, final_path: &str, ours: &Digested) -> Result<(), SftpError> {
        let stat = self
            .sftp
            .lstat(Path::new(final_path))
            .map_err(|e| self.remote_err(Step::Stat, final_path, &e))?;
        if stat.size == Some(ours.bytes) {
            return Ok(());
        }
        Err(SftpError::Remote {
            host: self.endpoint.host.clone(),
            path: final_path.to_string(),
            step: Step::Rename,
            fault: Fault::Server { sftp_status: None },
            detail: format!(
                "after the rename it has {:?} bytes, we wrote {}",
                stat.size, ours.bytes
            ),
        })
    }

    /// `None` when the final name does not exist; `AlreadyPresent` when it holds our bytes;
    /// `FinalExistsDifferent` otherwise.
    fn compare_existing(
        &self,
        final_path: &str,
        ours: &Digested,
    ) -> Result<Option<UploadOutcome>, SftpError> {
        let stat = match self.sftp.lstat(Path::new(final_path)) {
            Ok(s) => s,
            Err(e) if e.code() == ssh2::ErrorCode::SFTP(SFTP_NO_SUCH_FILE) => return Ok(None),
            Err(e) => return Err(self.remote_err(Step::Stat, final_path, &e)),
        };
        let different = |theirs: String| SftpError::FinalExistsDifferent {
            host: self.endpoint.host.clone(),
            path: final_path.to_string(),
            theirs,
            ours_size: ours.bytes,
            ours_sha256: ours.sha256.clone(),
        };
        if !stat.file_type().is_file() {
            return Err(different("not a regular file".into()));
        }
        if stat.size != Some(ours.bytes) {
            let theirs = stat
                .size
                .map_or("unknown size".into(), |n| format!("{n} bytes"));
            return Err(different(theirs));
        }
        let theirs = self.remote_sha256(final_path)?;
        if theirs != ours.sha256 {
            return Err(different(format!("{} bytes sha256 {theirs}", ours.bytes)));
        }
        Ok(Some(UploadOutcome::AlreadyPresent {
            bytes: ours.bytes,
            sha256: theirs,
        }))
    }

    fn remote_sha256(&self, path: &str) -> Result<String, SftpError> {
        let mut f = self
            .sftp
            .open(Path::new(path))
            .map_err(|e| self.remote_err(Step::Read, path, &e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| self.remote_io_err(Step::Read, path, &e))?;
            if n == 0 {
                break;
            }
            hasher.update(buf.get(..n).unwrap_or_default());
        }
        Ok(hex::encode(hasher.finalize()))
    }
}
