//! Source side: listing the folder, downloading one file into a verified staging file, and the
//! after-claim actions (delete, move).

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::remote_name::{remote_join, safe_local_name};
use super::{Fault, SftpClient, SftpError, Step};
use crate::transport::settle::Sighting;

/// Large reads let libssh2 keep many read requests in flight; small ones crawl.
pub(crate) const CHUNK: usize = 1024 * 1024;

/// A verified download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

/// A name in the folder that matched the pattern but cannot be taken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Lossy UTF-8 of the remote name, for the operator.
    pub name: String,
    pub why: String,
}

/// One look at the folder.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Regular files matching the pattern (and done markers of them), by name.
    pub files: Vec<Sighting>,
    pub skipped: Vec<Skipped>,
}

/// Removes the staging file unless the download was accepted.
struct StagingGuard<'a> {
    path: &'a Path,
    keep: bool,
}

impl Drop for StagingGuard<'_> {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(self.path);
        }
    }
}

impl SftpClient {
    /// Regular files in the folder whose names match the pattern. Symlinks, directories and
    /// unsafe names are never listed.
    pub fn list(&self) -> Result<Vec<Sighting>, SftpError> {
        Ok(self.list_detailed(None)?.files)
    }

    /// Like `list`, also listing `NAME + done_marker` for matching names (the marker itself
    /// rarely matches the pattern), and reporting what was skipped.
    pub fn list_detailed(&self, done_marker: Option<&str>) -> Result<Listing, SftpError> {
        let folder = &self.endpoint.folder;
        let entries = self
            .sftp
            .readdir(Path::new(folder))
            .map_err(|e| self.remote_err(Step::List, folder, &e))?;
        let pattern = &self.endpoint.pattern;
        let mut out = Listing::default();
        for (path, stat) in entries {
            // OpenSSH's sftp-server lstat()s readdir entries, so a symlink is reported as one.
            if !stat.file_type().is_file() {
                continue;
            }
            let Some(raw_name) = path.file_name() else {
                continue;
            };
            let lossy = raw_name.to_string_lossy().into_owned();
            let matches = |n: &str| {
                pattern.matches(n)
                    || done_marker
                        .and_then(|m| n.strip_suffix(m))
                        .is_some_and(|data| pattern.matches(data))
            };
            if !matches(&lossy) {
                continue;
            }
            let skip = |why: String| Skipped {
                name: lossy.clone(),
                why,
            };
            let Some(name) = raw_name.to_str() else {
                out.skipped.push(skip("name is not UTF-8".into()));
                continue;
            };
            if let Err(why) = safe_local_name(name) {
                out.skipped.push(skip(why.to_string()));
                continue;
            }
            let (Some(size), Some(mtime)) = (stat.size, stat.mtime) else {
                out.skipped
                    .push(skip("server did not report size and mtime".into()));
                continue;
            };
            out.files.push(Sighting {
                name: name.to_string(),
                size,
                mtime: UNIX_EPOCH + Duration::from_secs(mtime),
            });
        }
        out.files.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Downloads the sighted file into `staging`, fsyncs it, and accepts it only if exactly the
    /// listed size was read and the remote file still has the listed size and mtime. On any
    /// failure the staging file is removed.
    pub fn fetch(&self, sighting: &Sighting, staging: &Path) -> Result<Fetched, SftpError> {
        self.fetch_with_progress(sighting, staging, &mut |_| {})
    }

    /// `fetch`, calling `progress(bytes_so_far)` after each chunk (progress output, tests).
    pub fn fetch_with_progress(
        &self,
        sighting: &Sighting,
        staging: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Fetched, SftpError> {
        let mut guard = StagingGuard {
            path: staging,
            keep: false,
        };
        let mut out = std::fs::File::create(staging)
            .map_err(|e| self.local_err(staging, "create staging file", e))?;
        let fetched = self.fetch_into(sighting, &mut out, staging, progress)?;
        out.sync_all()
            .map_err(|e| self.local_err(staging, "fsync staging file", e))?;
        guard.keep = true;
        Ok(fetched)
    }

    /// Downloads the sighted file into `out` (a file the caller created: in a home, the landing
    /// area's staging file, see `store::files::land_produced`), and accepts it only if exactly
    /// the listed size was read and the remote file still has the listed size and mtime.
    /// `shown` names `out` in errors. The caller fsyncs, and removes `out` on an error.
    pub fn fetch_into(
        &self,
        sighting: &Sighting,
        out: &mut dyn Write,
        shown: &Path,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Fetched, SftpError> {
        let name = self.checked_name(&sighting.name)?;
        let remote = remote_join(&self.endpoint.folder, name);
        let mut file = self
            .sftp
            .open(Path::new(&remote))
            .map_err(|e| self.remote_err(Step::Read, &remote, &e))?;
        let opened = file
            .stat()
            .map_err(|e| self.remote_err(Step::Stat, &remote, &e))?;
        if !self.same_as_listed(sighting, &opened) {
            return Err(self.changed(sighting, &remote, 0, &opened));
        }
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; CHUNK];
        let mut total: u64 = 0;
        // Read at most one byte past the listed size: enough to notice growth, and a file
        // that keeps growing cannot keep us reading forever.
        let limit = sighting.size.saturating_add(1);
        while total < limit {
            let want = usize::try_from(limit - total).map_or(CHUNK, |left| left.min(CHUNK));
            let window = buf.get_mut(..want).unwrap_or_default();
            let n = match file.read(window) {
                Ok(n) => n,
                Err(e) => return Err(self.remote_io_err(Step::Read, &remote, &e)),
            };
            if n == 0 {
                break;
            }
            let chunk = buf.get(..n).unwrap_or_default();
            out.write_all(chunk)
                .map_err(|e| self.local_err(shown, "write staging file", e))?;
            hasher.update(chunk);
            total += n as u64;
            progress(total);
        }
        let _ = file.close();
        out.flush()
            .map_err(|e| self.local_err(shown, "write staging file", e))?;
        let after = self.sftp.lstat(Path::new(&remote)).map_err(|e| {
            match self.remote_err(Step::Stat, &remote, &e) {
                err if err.is_not_found() => self.changed_gone(sighting, &remote, total),
                err => err,
            }
        })?;
        if total != sighting.size || !self.same_as_listed(sighting, &after) {
            return Err(self.changed(sighting, &remote, total, &after));
        }
        Ok(Fetched {
            bytes: total,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// Size and mtime (seconds) of `name` in the source folder now, `None` when it is gone:
    /// an after-claim action first checks that the file is still the one taken, so a
    /// partner's new upload under the same name is never deleted or moved unseen.
    pub fn stat_name(&self, name: &str) -> Result<Option<(u64, u64)>, SftpError> {
        let name = self.checked_name(name)?;
        let remote = remote_join(&self.endpoint.folder, name);
        match self.sftp.lstat(Path::new(&remote)) {
            Ok(st) => Ok(Some((st.size.unwrap_or(0), st.mtime.unwrap_or(0)))),
            Err(e) => match self.remote_err(Step::Stat, &remote, &e) {
                err if err.is_not_found() => Ok(None),
                err => Err(err),
            },
        }
    }

    /// After-claim "delete": removes the file from the source folder.
    pub fn delete(&self, name: &str) -> Result<(), SftpError> {
        let name = self.checked_name(name)?;
        let remote = remote_join(&self.endpoint.folder, name);
        self.sftp
            .unlink(Path::new(&remote))
            .map_err(|e| self.remote_err(Step::Delete, &remote, &e))
    }

    /// After-claim "move": renames the file into `dir` on the same server. A file of the same
    /// name already there (yesterday's `stock.csv`) is kept: ours becomes `NAME.1`, `NAME.2`...
    /// Returns the remote path the file now has.
    pub fn move_to(&self, name: &str, dir: &str) -> Result<String, SftpError> {
        let name = self.checked_name(name)?;
        let from = remote_join(&self.endpoint.folder, name);
        let mut last = None;
        for n in 0..100u32 {
            let target_name = if n == 0 {
                name.to_string()
            } else {
                format!("{name}.{n}")
            };
            let to = remote_join(dir, &target_name);
            match self.sftp.rename(Path::new(&from), Path::new(&to), None) {
                Ok(()) => return Ok(to),
                Err(e) => {
                    let err = self.remote_err(Step::Rename, &format!("{from} -> {to}"), &e);
                    // Only "target exists" is worth another name; OpenSSH reports it as a
                    // generic failure, so look.
                    let target_exists = self.sftp.lstat(Path::new(&to)).is_ok();
                    let source_exists = self.sftp.lstat(Path::new(&from)).is_ok();
                    if !(target_exists && source_exists) || err.is_retryable() {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
        }
        Err(last.unwrap_or_else(|| SftpError::Remote {
            host: self.endpoint.host.clone(),
            path: from,
            step: Step::Rename,
            fault: Fault::Server { sftp_status: None },
            detail: "no free name in the target folder".into(),
        }))
    }

    pub(crate) fn checked_name<'n>(&self, name: &'n str) -> Result<&'n str, SftpError> {
        safe_local_name(name).map_err(|why| SftpError::UnsafeName {
            host: self.endpoint.host.clone(),
            name: name.to_string(),
            why,
        })
    }

    fn same_as_listed(&self, s: &Sighting, stat: &ssh2::FileStat) -> bool {
        let listed_mtime = super::remote_name::epoch_secs(s.mtime);
        stat.file_type().is_file() && stat.size == Some(s.size) && stat.mtime == Some(listed_mtime)
    }

    fn changed(&self, s: &Sighting, remote: &str, read: u64, now: &ssh2::FileStat) -> SftpError {
        let now = match (now.size, now.mtime) {
            (Some(size), Some(mtime)) if now.file_type().is_file() => {
                format!("{size} bytes mtime {mtime}")
            }
            _ => "not a regular file".into(),
        };
        self.changed_with(s, remote, read, now)
    }

    fn changed_gone(&self, s: &Sighting, remote: &str, read: u64) -> SftpError {
        self.changed_with(s, remote, read, "gone".into())
    }

    fn changed_with(&self, s: &Sighting, remote: &str, read: u64, now: String) -> SftpError {
        SftpError::ChangedDuringDownload {
            host: self.endpoint.host.clone(),
            path: remote.to_string(),
            listed_size: s.size,
            listed_mtime: super::remote_name::epoch_secs(s.mtime),
            read_bytes: read,
            now,
        }
    }
}
