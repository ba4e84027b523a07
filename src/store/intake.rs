//! What the settle rules cannot see about a drop file: whether another process still has it open
//! for writing (Linux `/proc`), and whether the home's disk has room to take it.

use std::path::Path;

/// Whether a process other than this one has `path` open for writing, as far as `/proc` shows
/// (all processes as root, this user's otherwise). A writer that pauses longer than the settle
/// window still holds its descriptor, so this catches what "unchanged for N seconds" cannot.
pub fn open_for_writing(path: &Path) -> bool {
    let Ok(target) = std::fs::canonicalize(path) else {
        return false;
    };
    let me = std::process::id().to_string();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    for proc_entry in procs.flatten() {
        let pid = proc_entry.file_name();
        let Some(pid) = pid
            .to_str()
            .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(proc_entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if std::fs::read_link(fd.path()).is_ok_and(|l| l == target)
                && writes(&proc_entry.path(), &fd.file_name().to_string_lossy())
            {
                return true;
            }
        }
    }
    false
}

/// Whether descriptor `fd` of process folder `proc_dir` was opened for writing (its `flags`
/// line in `fdinfo`, octal: access mode O_WRONLY or O_RDWR).
fn writes(proc_dir: &Path, fd: &str) -> bool {
    let Ok(info) = std::fs::read_to_string(proc_dir.join("fdinfo").join(fd)) else {
        return false;
    };
    info.lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
        .is_some_and(|flags| flags & 0o3 != 0)
}

/// Bytes available to this process on the file system holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: a valid NUL-terminated path and a statvfs struct to fill.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Free space kept in reserve on the home's file system before a file is taken, in bytes:
/// `TALLYMAN_MIN_FREE_MB` (default 256 MiB).
pub fn reserve_bytes(env: &dyn Fn(&str) -> Option<String>) -> u64 {
    env("TALLYMAN_MIN_FREE_MB")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(256)
        * 1024
        * 1024
}

/// Whether a file of `size` bytes may be taken with `free` bytes left: its landing copy, a
/// quarantine copy and outputs of its size fit, with `reserve` to spare.
pub fn room_for(size: u64, free: u64, reserve: u64) -> Result<(), String> {
    let need = reserve.saturating_add(size.saturating_mul(3));
    if free >= need {
        return Ok(());
    }
    Err(format!(
        "intake paused: {} MiB free on the home's disk, {} MiB needed to take a {} MiB file \
         (three times its size plus the TALLYMAN_MIN_FREE_MB reserve of {} MiB)",
        free >> 20,
        need >> 20,
        size >> 20,
        reserve >> 20
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_file_open_for_writing_elsewhere_is_seen_and_a_closed_one_is_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("stock.csv");
        std::fs::write(&path, b"sku,qty\n").expect("write");
        assert!(!open_for_writing(&path));
        // Another process appending to it, as a slow partner would.
        let mut child = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("exec 3>>'{}'; echo ready; read _", path.display()))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        )
        .expect("ready");
        assert!(open_for_writing(&path));
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(b"\n")
            .expect("release");
        child.wait().expect("wait");
        assert!(!open_for_writing(&path));
    }

    #[test]
    fn room_is_three_times_the_file_plus_the_reserve() {
        let mib = 1 << 20;
        assert!(room_for(10 * mib, 290 * mib, 256 * mib).is_ok());
        let why = room_for(10 * mib, 280 * mib, 256 * mib).expect_err("no room");
        assert!(why.contains("280 MiB free"), "{why}");
        assert_eq!(reserve_bytes(&|_| Some("5".into())), 5 * mib);
        assert_eq!(reserve_bytes(&|_| None), 256 * mib);
        assert!(free_bytes(Path::new("/")).expect("statvfs") > 0);
    }
}
