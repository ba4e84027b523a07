//! SFTP sink side and `check` against a real OpenSSH sshd on 127.0.0.1 (one private sshd per
//! test): atomic uploads seen only complete, the restart rule for an existing final name,
//! stale temp cleanup, source and destination checks.

#[path = "support/cut_proxy.rs"]
mod cut_proxy;
#[path = "support/sample.rs"]
mod sample;
#[path = "support/sshd.rs"]
mod sshd;

use std::fs;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, SystemTime};

use sample::{data, sha};
use sshd::Sshd;
use tallyman::transport::sftp::{Access, SftpError, UploadOutcome, UploadSource};

#[test]
fn a_polling_reader_never_sees_a_partial_upload_under_the_final_name() {
    let sshd = Sshd::start();
    let outbox = sshd.folder("out");
    let content = data(48 * 1024 * 1024, 5);
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let reader = {
        let (dir, stop, seen) = (outbox.clone(), Arc::clone(&stop), Arc::clone(&seen));
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                for entry in fs::read_dir(&dir).unwrap().flatten() {
                    let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
                    let name = entry.file_name().to_string_lossy().into_owned();
                    seen.lock().unwrap().push((name, len));
                }
                thread::sleep(Duration::from_millis(1));
            }
        })
    };
    let client = sshd.endpoint(&outbox).connect().expect("connect");
    let dir = outbox.display().to_string();
    let outcome = client
        .upload_atomic(UploadSource::Bytes(&content), &dir, "atp.csv")
        .expect("upload");
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert_eq!(
        outcome,
        UploadOutcome::Uploaded {
            bytes: content.len() as u64,
            sha256: sha(&content),
            remote_fsynced: true
        }
    );
    let seen = seen.lock().unwrap();
    let full = content.len() as u64;
    assert!(
        seen.iter().all(|(n, len)| n != "atp.csv" || *len == full),
        "final name seen partial"
    );
    assert!(
        seen.iter().any(|(n, len)| n.starts_with(".atp.csv.")
            && n.ends_with(".tallyman-tmp")
            && *len < full),
        "the reader never saw the upload in progress, so it proved nothing"
    );
    let names: Vec<_> = fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("atp.csv")]);
}

#[test]
fn uploading_again_after_a_crash_verifies_instead_of_rewriting() {
    let sshd = Sshd::start();
    let outbox = sshd.folder("out");
    let dir = outbox.display().to_string();
    let client = sshd.endpoint(&outbox).connect().expect("connect");
    let src = sshd.dir.path().join("orders.csv");
    let content = data(300_000, 9);
    fs::write(&src, &content).unwrap();
    let first = client
        .upload_atomic(UploadSource::Path(&src), &dir, "orders.csv")
        .unwrap();
    assert!(matches!(first, UploadOutcome::Uploaded { .. }));
    let before = fs::metadata(outbox.join("orders.csv")).unwrap();
    // The ledger never heard of the first upload: the caller simply uploads again.
    let again = client
        .upload_atomic(UploadSource::Path(&src), &dir, "orders.csv")
        .unwrap();
    assert_eq!(
        again,
        UploadOutcome::AlreadyPresent {
            bytes: content.len() as u64,
            sha256: sha(&content)
        }
    );
    let after = fs::metadata(outbox.join("orders.csv")).unwrap();
    assert_eq!(before.modified().unwrap(), after.modified().unwrap());

    let mut same_size = content.clone();
    same_size[100] ^= 0xff;
    let cases: [(&str, Vec<u8>); 2] = [("other size", b"other".to_vec()), ("same size", same_size)];
    for (what, ours) in cases {
        let err = client
            .upload_atomic(UploadSource::Bytes(&ours), &dir, "orders.csv")
            .expect_err("refused");
        eprintln!("{what}: {err}");
        assert!(
            matches!(err, SftpError::FinalExistsDifferent { .. }),
            "{what}: {err:?}"
        );
        assert_eq!(
            fs::read(outbox.join("orders.csv")).unwrap(),
            content,
            "{what}"
        );
        let temps: Vec<_> = fs::read_dir(&outbox)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tallyman-tmp"))
            .collect();
        assert!(temps.is_empty(), "{what}: {temps:?}");
    }
}

#[test]
fn stale_temps_of_our_naming_are_cleaned_and_nothing_else() {
    let sshd = Sshd::start();
    let outbox = sshd.folder("out");
    let old = SystemTime::now() - Duration::from_secs(7200);
    for (name, mtime) in [
        (".a.csv.tallyman-tmp", old),
        (".b.csv.tallyman-tmp", SystemTime::now()),
        (".partner-file", old),
        ("c.csv", old),
    ] {
        let f = fs::File::create(outbox.join(name)).unwrap();
        f.set_modified(mtime).unwrap();
    }
    let client = sshd.endpoint(&outbox).connect().expect("connect");
    let removed = client
        .clean_stale_temps(
            &outbox.display().to_string(),
            Duration::from_secs(3600),
            SystemTime::now(),
        )
        .unwrap();
    assert_eq!(removed, vec![".a.csv.tallyman-tmp".to_string()]);
    let mut left: Vec<_> = fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, vec![".b.csv.tallyman-tmp", ".partner-file", "c.csv"]);
}

#[test]
fn check_reports_readable_and_writable_folders_and_fails_on_missing_ones() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    fs::write(inbox.join("a.csv"), b"1").unwrap();
    let ep = sshd.endpoint(&inbox);
    let source = ep.check(Access::Source).expect("source check");
    assert_eq!(source.matching_files, 1);
    assert!(source.host_key_fingerprint.starts_with("SHA256:"));
    let dest = ep.check(Access::Destination).expect("destination check");
    assert!(dest.probe_written);
    let names: Vec<_> = fs::read_dir(&inbox)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "probe left behind: {names:?}");

    let missing = sshd.endpoint(&inbox.join("nope"));
    for access in [Access::Source, Access::Destination] {
        let err = missing.check(access).expect_err("missing folder");
        eprintln!("{access:?}: {err}");
        assert!(!err.is_retryable(), "{access:?}: {err}");
        assert!(err.to_string().contains("nope"), "{access:?}: {err}");
    }
}

/// Two uploads of the same name at once over a slow link (a `run` and an `uploads push`, or two
/// daemons): each writes its own temp, so neither truncates what the other is about to rename,
/// and a reader polling the final name only ever sees the complete, right bytes. One upload
/// wins the rename; the other finds our bytes there.
#[test]
fn two_uploads_of_one_name_at_once_never_expose_wrong_bytes() {
    let sshd = Sshd::start();
    let outbox = sshd.folder("out");
    let content = Arc::new(data(3 * 1024 * 1024, 21));
    let proxy = cut_proxy::start_slow(sshd.port, 16 * 1024, Duration::from_millis(5));
    let kh = sshd.dir.path().join("kh_slow");
    let key = fs::read_to_string(&sshd.known_hosts).unwrap();
    let key = key.split_once(' ').unwrap().1.to_string();
    fs::write(&kh, format!("[127.0.0.1]:{} {key}", proxy.port)).unwrap();
    let mut raw = sshd.raw(&outbox);
    raw.port = proxy.port;
    raw.known_hosts = kh;
    raw.io_timeout_secs = 60;
    let ep = raw.compile().unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let wrong: Arc<Mutex<Vec<String>>> = Arc::default();
    let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reader = {
        let (path, stop, wrong, reads, content) = (
            outbox.join("atp.csv"),
            Arc::clone(&stop),
            Arc::clone(&wrong),
            Arc::clone(&reads),
            Arc::clone(&content),
        );
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Ok(bytes) = fs::read(&path) {
                    reads.fetch_add(1, Ordering::SeqCst);
                    if bytes != *content {
                        let nul = bytes.iter().filter(|b| **b == 0).count();
                        wrong
                            .lock()
                            .unwrap()
                            .push(format!("{} bytes, {nul} NUL", bytes.len()));
                    }
                }
                thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let dir = outbox.display().to_string();
    let uploads: Vec<_> = (0..2)
        .map(|_| {
            let (ep, content, dir) = (ep.clone(), Arc::clone(&content), dir.clone());
            thread::spawn(move || {
                let client = ep.connect().expect("connect");
                client.upload_atomic(UploadSource::Bytes(&content), &dir, "atp.csv")
            })
        })
        .collect();
    let outcomes: Vec<_> = uploads
        .into_iter()
        .map(|h| h.join().unwrap().expect("upload"))
        .collect();
    // Keep reading a little after both are done, then stop.
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while reads.load(Ordering::SeqCst) < 10 && std::time::Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Ordering::SeqCst);
    reader.join().unwrap();
    assert!(
        wrong.lock().unwrap().is_empty(),
        "{:?}",
        wrong.lock().unwrap()
    );
    assert!(
        reads.load(Ordering::SeqCst) > 0,
        "the reader never saw the file"
    );
    let uploaded = outcomes
        .iter()
        .filter(|o| matches!(o, UploadOutcome::Uploaded { .. }))
        .count();
    let present = outcomes
        .iter()
        .filter(|o| matches!(o, UploadOutcome::AlreadyPresent { .. }))
        .count();
    assert_eq!((uploaded, present), (1, 1), "{outcomes:?}");
    assert_eq!(fs::read(outbox.join("atp.csv")).unwrap(), *content);
    let names: Vec<_> = fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["atp.csv".to_string()], "no temp left");
}
