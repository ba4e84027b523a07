//! A run's outbound files: staged beside their final names under names no consumer takes, and
//! published only after the run's end (and the list of its outputs) is in the ledger, so that a
//! crash at any point leaves either nothing visible or a set that recovery completes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use super::files::{fill_hashed, io, sha256_file, sync_dir, write_temp};
use super::StoreError;

/// An outbound file written under its staging name, not visible yet.
#[derive(Debug, Clone)]
pub struct Staged {
    pub temp: PathBuf,
    pub target: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Permission bits given to published outbound files (0: leave them as created). The binary
/// runs with umask 0077, since the home holds partner data; files for the ERP get the umask
/// Tallyman was started with instead, so a consumer running as another user can read them.
static OUTPUT_MODE: AtomicU32 = AtomicU32::new(0);

/// Sets the process's umask to 0077, so everything Tallyman creates in the home (ledger,
/// archive, quarantine, landing, spooled mail) is 0600/0700 however it was started, and keeps
/// the umask it was started with for outbound files and their folders (see [`OUTPUT_MODE`]).
pub fn private_umask() {
    // SAFETY: umask(2) cannot fail; it only swaps the process's file-creation mask.
    let started_with = unsafe { libc::umask(0o077) } as u32;
    OUTPUT_MODE.store(0o666 & !started_with, Ordering::Relaxed);
}

/// Opens an outbox folder (and the outbox itself) to whom the started-with umask allows.
fn open_outbox_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = OUTPUT_MODE.load(Ordering::Relaxed);
    if mode == 0 {
        return Ok(());
    }
    // Read bits of the file mode become read and search bits of the folder's.
    let dir_mode = 0o700 | (mode & 0o044) | ((mode & 0o044) >> 2);
    for d in [Some(dir), dir.parent()].into_iter().flatten() {
        fs::set_permissions(d, fs::Permissions::from_mode(dir_mode))
            .map_err(io(d, "set permissions"))?;
    }
    Ok(())
}

/// The staging name of output `name` of run `run_id`: dot-named (never taken by a settle rule
/// or by an ERP that skips hidden files) and tied to the run, so recovery finds it.
pub fn staging_name(run_id: &str, name: &str) -> String {
    format!(".tallyman-{run_id}-{name}.staged")
}

/// Writes an output under its staging name in `dir`, hashed and counted on the way; an error
/// from `fill` leaves nothing behind.
pub fn stage_streamed(
    dir: &Path,
    name: &str,
    run_id: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<Staged, StoreError> {
    let temp = dir.join(staging_name(run_id, name));
    let (size, sha256) = write_temp(dir, &temp, |f| fill_hashed(f, fill))?;
    open_outbox_dir(dir)?;
    sync_dir(dir)?;
    Ok(Staged {
        temp,
        target: dir.join(name),
        size,
        sha256,
    })
}

/// Makes a staged output visible under its final name. Idempotent, so recovery can call it
/// again after a crash at any point: a target that already holds these bytes is done. A target
/// holding other bytes is replaced only when `may_replace` says Tallyman wrote those bytes (a
/// rerun's corrected file supersedes the earlier one); anything else is refused, so a lost
/// ledger can never make a new run overwrite evidence.
pub fn publish(s: &Staged, may_replace: &mut dyn FnMut(&str) -> bool) -> Result<(), StoreError> {
    let dir = s.target.parent().unwrap_or(Path::new("."));
    if !s.temp.exists() {
        return match s.target.exists() && sha256_file(&s.target)?.1 == s.sha256 {
            true => Ok(()),
            false => Err(StoreError::Io {
                path: s.temp.clone(),
                step: "publish",
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "the staged output is gone and its final name does not hold it",
                ),
            }),
        };
    }
    let mode = OUTPUT_MODE.load(Ordering::Relaxed);
    if mode != 0 {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&s.temp, fs::Permissions::from_mode(mode))
            .map_err(io(&s.temp, "set permissions"))?;
    }
    if s.target.exists() {
        let there = sha256_file(&s.target)?.1;
        if there == s.sha256 {
            fs::remove_file(&s.temp).map_err(io(&s.temp, "remove staged output"))?;
            return sync_dir(dir);
        }
        if !may_replace(&there) {
            return Err(StoreError::WouldOverwrite {
                path: s.target.clone(),
            });
        }
        fs::rename(&s.temp, &s.target).map_err(io(&s.target, "rename"))?;
        return sync_dir(dir);
    }
    match rename_no_replace(&s.temp, &s.target) {
        Ok(()) => sync_dir(dir),
        // Someone created the name between the look and the rename: look again.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => publish(s, may_replace),
        Err(e) => Err(io(&s.target, "rename")(e)),
    }
}

/// rename(2) that fails instead of replacing an existing target (renameat2 RENAME_NOREPLACE;
/// on a file system without it, a plain rename after the caller's look).
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (f, t) = (c(from)?, c(to)?);
    // SAFETY: two valid NUL-terminated paths; AT_FDCWD resolves them like rename(2).
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => fs::rename(from, to),
        _ => Err(e),
    }
}

/// Removes what a run staged in `dir` and never published (its run failed, or is being redone
/// after a crash); returns how many files went.
pub fn discard_staged(dir: &Path, run_id: &str) -> Result<usize, StoreError> {
    let prefix = format!(".tallyman-{run_id}-");
    remove_matching(dir, |name| {
        name.starts_with(&prefix) && name.ends_with(".staged")
    })
}

/// Removes the temp files of atomic writes whose writer is dead (`.NAME.HOST.PID.tmp`, HOST this
/// host's, no process PID), left in `dir` by a kill or a power cut. Another host's temps are
/// left alone: its PIDs mean nothing here (it sweeps its own).
pub fn sweep_dead_temps(dir: &Path) -> Result<usize, StoreError> {
    let here = super::lease::host_tag();
    remove_matching(dir, |name| {
        let Some(rest) = name.strip_suffix(".tmp") else {
            return false;
        };
        let mut parts = rest.rsplitn(3, '.');
        let (Some(pid), Some(host), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            return false;
        };
        name.starts_with('.')
            && host == here
            && pid.parse::<i32>().is_ok_and(|pid| !process_alive(pid))
    })
}

/// Whether a process with this PID exists (kill with signal 0 only checks).
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn remove_matching(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<usize, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(dir, "list folder")(e)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io(dir, "list folder"))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(&matches) {
            super::files::remove_if_present(&entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(dir)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(dir: &Path, name: &str, run: &str, bytes: &[u8]) -> Staged {
        stage_streamed(dir, name, run, |w| w.write_all(bytes)).expect("stage")
    }

    #[test]
    fn staged_outputs_are_invisible_until_published_and_publishing_twice_is_harmless() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = stage(dir.path(), "atp.csv", "r000001", b"sku,atp\nA,1\n");
        assert!(!s.target.exists());
        assert!(s.temp.exists());
        publish(&s, &mut |_| false).expect("publish");
        assert_eq!(fs::read(&s.target).expect("read"), b"sku,atp\nA,1\n");
        assert!(!s.temp.exists());
        // Recovery after a crash right after the rename calls it again.
        publish(&s, &mut |_| false).expect("publish again");
    }

    #[test]
    fn a_target_with_unknown_bytes_is_never_overwritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(dir.path().join("atp.csv"), b"evidence").expect("write");
        let s = stage(dir.path(), "atp.csv", "r000001", b"new");
        match publish(&s, &mut |_| false) {
            Err(StoreError::WouldOverwrite { path }) => assert_eq!(path, s.target),
            other => panic!("expected WouldOverwrite, got {other:?}"),
        }
        assert_eq!(fs::read(&s.target).expect("read"), b"evidence");
        // Bytes Tallyman wrote itself (a rerun superseding its own file) may be replaced.
        let ours = crate::store::files::sha256_hex(b"evidence");
        publish(&s, &mut |sha| sha == ours).expect("publish");
        assert_eq!(fs::read(&s.target).expect("read"), b"new");
    }

    #[test]
    fn discarded_and_dead_temps_go_and_live_ones_stay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = stage(dir.path(), "a.csv", "r000007", b"x");
        stage(dir.path(), "a.csv", "r000008", b"y");
        assert_eq!(discard_staged(dir.path(), "r000007").expect("discard"), 1);
        assert!(!s.temp.exists());
        assert!(dir.path().join(staging_name("r000008", "a.csv")).exists());
        let here = crate::store::lease::host_tag();
        let live = dir.path().join(crate::store::files::temp_name("b.csv"));
        assert!(
            live.to_string_lossy().contains(&format!(".{here}.")),
            "{live:?}"
        );
        // PID 2^22+1 is above Linux's pid_max limit, so no process has it.
        let dead = dir.path().join(format!(".b.csv.{here}.4194305.tmp"));
        // The same dead-looking PID on another host sharing the home: not ours to judge.
        let elsewhere = dir.path().join(".b.csv.other-host.4194305.tmp");
        for f in [&live, &dead, &elsewhere] {
            fs::write(f, b"1").expect("write");
        }
        assert_eq!(sweep_dead_temps(dir.path()).expect("sweep"), 1);
        assert!(live.exists());
        assert!(!dead.exists());
        assert!(elsewhere.exists());
    }
}
