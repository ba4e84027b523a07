//! One daemon per data folder: the lock excludes a second open in this process and other processes.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use tallyman::store::home_lock::{DataLock, LockError, EXIT_LOCKED};

/// Set in the child copy of this test binary: the folder the child must lock.
const CHILD_ENV: &str = "TALLYMAN_TEST_LOCK_CHILD";
/// What the child prints once it holds the lock, followed by its PID.
const PID_MARK: &str = "child-locked-pid=";

fn held_pid(result: Result<DataLock, LockError>) -> Option<u32> {
    match result {
        Err(e @ LockError::Held { .. }) => {
            assert_eq!(e.exit_code(), EXIT_LOCKED);
            match e {
                LockError::Held { pid, .. } => pid,
                LockError::Io { .. } => None,
            }
        }
        Err(e) => panic!("expected Held, got {e}"),
        Ok(lock) => panic!("second lock on {} was granted", lock.path().display()),
    }
}

#[test]
fn a_second_open_in_the_same_process_is_refused_until_the_first_drops() {
    let data = tempfile::tempdir().expect("tempdir");
    let first = DataLock::acquire(data.path()).expect("first lock");
    assert_eq!(first.path(), data.path().join("var/tallyman.lock"));
    let pid = std::fs::read_to_string(first.path()).expect("lock file");
    assert_eq!(pid.trim(), std::process::id().to_string());

    assert_eq!(
        held_pid(DataLock::acquire(data.path())),
        Some(std::process::id())
    );
    drop(first);
    let again = DataLock::acquire(data.path()).expect("lock after release");
    drop(again);
}

#[test]
fn flock_from_util_linux_sees_the_lock() {
    let data = tempfile::tempdir().expect("tempdir");
    let path = DataLock::path_for(data.path());
    let flock = |p: &Path| {
        Command::new("flock")
            .args(["-n", "-E", "75"])
            .arg(p)
            .arg("true")
            .status()
            .expect("run flock(1) from util-linux")
            .code()
    };
    let lock = DataLock::acquire(data.path()).expect("lock");
    assert_eq!(flock(&path), Some(75), "flock(1) got the lock we hold");
    drop(lock);
    assert_eq!(
        flock(&path),
        Some(0),
        "flock(1) could not lock a released file"
    );
}

#[test]
fn another_process_holding_the_lock_is_reported_with_its_pid() {
    let data = tempfile::tempdir().expect("tempdir");
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "lock_child_helper",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, data.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    // libtest may print "test lock_child_helper ... " on the same line first.
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let locked = lines.find_map(|l| l.split(PID_MARK).nth(1).map(str::to_string));
    assert_eq!(locked, Some(child.id().to_string()));

    assert_eq!(held_pid(DataLock::acquire(data.path())), Some(child.id()));

    drop(child.stdin.take()); // the child releases on end of input and exits
    lines.for_each(drop); // keep reading, or the child's last output fails on a closed pipe
    let status = child.wait().expect("child exits");
    assert!(status.success(), "child failed: {status}");
    DataLock::acquire(data.path()).expect("lock after the child exited");
}

/// Not a test on its own: the child side of the test above (a no-op unless CHILD_ENV is set).
#[test]
fn lock_child_helper() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let lock = DataLock::acquire(Path::new(&dir)).expect("child lock");
    println!("{PID_MARK}{}", std::process::id());
    let mut sink = String::new();
    while std::io::stdin()
        .read_line(&mut sink)
        .map(|n| n > 0)
        .unwrap_or(false)
    {}
    drop(lock);
}

#[test]
fn an_unusable_data_folder_is_an_io_error() {
    let data = tempfile::tempdir().expect("tempdir");
    let file = data.path().join("not-a-folder");
    std::fs::write(&file, b"x").expect("write");
    match DataLock::acquire(&file) {
        Err(e @ LockError::Io { .. }) => {
            assert_eq!(e.exit_code(), 1);
            assert!(e.to_string().contains("not-a-folder"), "{e}");
        }
        other => panic!("expected an Io error, got {other:?}"),
    }
}
