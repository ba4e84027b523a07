//! SFTP source side against a real OpenSSH sshd on 127.0.0.1 (one private sshd per test):
//! listing and fetch, settle of a growing file, host key refusal, login refusal, connection
//! cuts and stalls, files changed during download, after-claim moves.

#[path = "support/cut_proxy.rs"]
mod cut_proxy;
#[path = "support/sample.rs"]
mod sample;
#[path = "support/sshd.rs"]
mod sshd;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use cut_proxy::{CutProxy, Fail};
use sample::{data, sha};
use sshd::Sshd;
use tallyman::config::sftp::{SftpEndpoint, SftpRaw};
use tallyman::config::SettlePolicy;
use tallyman::transport::settle::Settler;
use tallyman::transport::sftp::{with_retry, SftpError, Step};

/// The endpoint through `proxy`; known_hosts names the port we dial, so it gets the key too.
fn via_proxy(sshd: &Sshd, folder: &Path, proxy: &CutProxy, io_timeout_secs: u64) -> SftpEndpoint {
    let kh = sshd.dir.path().join(format!("kh_proxy_{}", proxy.port));
    let host_line = fs::read_to_string(&sshd.known_hosts).unwrap();
    let key = host_line.split_once(' ').unwrap().1;
    fs::write(&kh, format!("[127.0.0.1]:{} {key}", proxy.port)).unwrap();
    let mut raw = sshd.raw(folder);
    raw.port = proxy.port;
    raw.known_hosts = kh;
    raw.io_timeout_secs = io_timeout_secs;
    raw.compile().unwrap()
}

fn sighting_of(ep: &SftpEndpoint, name: &str) -> tallyman::transport::settle::Sighting {
    let client = ep.connect().expect("connect");
    client
        .list()
        .expect("list")
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} not listed"))
}

#[test]
fn fetch_lists_only_matching_regular_files_and_downloads_exact_content() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let content = data(3 * 1024 * 1024 + 17, 7);
    fs::write(inbox.join("a.csv"), &content).unwrap();
    fs::write(inbox.join("notes.txt"), b"x").unwrap();
    fs::write(inbox.join("bad\nname.csv"), b"x").unwrap();
    fs::create_dir(inbox.join("dir.csv")).unwrap();
    std::os::unix::fs::symlink(inbox.join("a.csv"), inbox.join("link.csv")).unwrap();
    let mut raw = sshd.raw(&inbox);
    raw.pattern = "*.csv".into();
    let client = raw.compile().unwrap().connect().expect("connect");

    let listing = client.list_detailed(None).expect("list");
    let names: Vec<&str> = listing.files.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["a.csv"]);
    assert_eq!(listing.skipped.len(), 1, "{:?}", listing.skipped);
    assert_eq!(listing.files[0].size, content.len() as u64);

    let staging = sshd.dir.path().join("a.csv.staging");
    let fetched = client.fetch(&listing.files[0], &staging).expect("fetch");
    assert_eq!(fetched.bytes, content.len() as u64);
    assert_eq!(fetched.sha256, sha(&content));
    assert_eq!(fs::read(&staging).unwrap(), content);

    client.delete("a.csv").expect("delete");
    assert!(!inbox.join("a.csv").exists());
    assert!(matches!(
        client.delete("../a.csv"),
        Err(SftpError::UnsafeName { .. })
    ));
}

#[test]
fn move_to_keeps_an_existing_file_of_the_same_name() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let done = sshd.folder("done");
    let client = sshd.endpoint(&inbox).connect().expect("connect");
    for (round, want) in [(1u8, "stock.csv"), (2, "stock.csv.1")] {
        fs::write(inbox.join("stock.csv"), [round]).unwrap();
        let moved = client
            .move_to("stock.csv", &done.display().to_string())
            .expect("move");
        assert_eq!(moved, format!("{}/{want}", done.display()));
        assert_eq!(fs::read(done.join(want)).unwrap(), vec![round]);
    }
    assert!(!inbox.join("stock.csv").exists());
}

#[test]
fn a_slowly_written_file_settles_only_after_the_writer_stops() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let path = inbox.join("slow.csv");
    fs::write(&path, b"header\n").unwrap();
    let finished = Arc::new(AtomicBool::new(false));
    let writer = {
        let (path, finished) = (path.clone(), Arc::clone(&finished));
        thread::spawn(move || {
            for i in 0..25 {
                let mut f = fs::OpenOptions::new().append(true).open(&path).unwrap();
                std::io::Write::write_all(&mut f, format!("row {i}\n").as_bytes()).unwrap();
                drop(f);
                thread::sleep(Duration::from_millis(100));
            }
            finished.store(true, Ordering::SeqCst);
        })
    };
    let client = sshd.endpoint(&inbox).connect().expect("connect");
    let policy = SettlePolicy {
        min_age: Duration::from_secs(1),
        settle: Duration::from_millis(600),
        done_marker: None,
    };
    let mut settler = Settler::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut looks_while_writing = 0;
    let ready = loop {
        assert!(Instant::now() < deadline, "never settled");
        let writing = !finished.load(Ordering::SeqCst);
        let listing = client.list().expect("list");
        let (ready, _) = settler.look(&policy, &listing, SystemTime::now());
        if writing {
            looks_while_writing += 1;
            assert!(ready.is_empty(), "settled while still being written");
        } else if let Some(s) = ready.into_iter().next() {
            break s;
        }
        thread::sleep(Duration::from_millis(250));
    };
    writer.join().unwrap();
    assert!(looks_while_writing >= 5, "{looks_while_writing}");
    assert_eq!(ready.size, fs::metadata(&path).unwrap().len());
}

#[test]
fn unknown_or_changed_host_keys_refuse_before_login() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let other = sshd::keygen(&sshd.dir.path().join("other_host"));
    let cases: [(&str, String, Step); 3] = [
        ("empty", String::new(), Step::HostKey),
        ("other host", format!("otherhost {other}\n"), Step::HostKey),
        (
            "changed",
            format!("[127.0.0.1]:{} {other}\n", sshd.port),
            Step::HostKey,
        ),
    ];
    for (what, text, step) in cases {
        let kh = sshd
            .dir
            .path()
            .join(format!("kh_{}", what.replace(' ', "_")));
        fs::write(&kh, text).unwrap();
        let mut raw = sshd.raw(&inbox);
        raw.known_hosts = kh;
        let err = raw.compile().unwrap().connect().err().expect("refused");
        eprintln!("{what}: {err}");
        assert_eq!(err.step(), step, "{what}: {err}");
        assert!(!err.is_retryable(), "{what}");
        match (what, &err) {
            ("changed", SftpError::HostKeyChanged { fingerprint, .. })
            | ("empty" | "other host", SftpError::HostKeyUnknown { fingerprint, .. }) => {
                assert!(fingerprint.starts_with("SHA256:"), "{err}")
            }
            _ => panic!("{what}: wrong variant {err:?}"),
        }
    }
    // Control: the same server does log a login, so the absence below means something.
    sshd.endpoint(&inbox)
        .connect()
        .expect("connect with the right key");
    let log = log_before_the_control_login(&sshd);
    assert!(!log.contains("publickey"), "a key was offered:\n{log}");
}

/// After a good login (the last connection), sshd's log up to that connection: what the
/// refused connections before it showed it. Waiting for the login's line is the deadline-bound
/// condition that every earlier connection has been logged.
fn log_before_the_control_login(sshd: &Sshd) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !sshd.log_text().contains("Accepted publickey") {
        assert!(Instant::now() < deadline, "{}", sshd.log_text());
        thread::sleep(Duration::from_millis(50));
    }
    let log = sshd.log_text();
    let control = log
        .rfind("Connection from")
        .expect("the control connection is logged");
    log[..control].to_string()
}

#[test]
fn known_hosts_holding_one_of_several_host_keys_is_enough() {
    // libssh2 negotiates its own favourite key type unless told which ones we know; a
    // known_hosts holding another of the server's keys would then look like a changed key.
    for kinds in [
        ["ed25519", "ecdsa"],
        ["ecdsa", "ed25519"],
        ["rsa", "ed25519"],
    ] {
        let sshd = Sshd::start_with_host_keys(&kinds);
        let inbox = sshd.folder("in");
        let client = sshd.endpoint(&inbox).connect().expect("connect");
        let want = sshd::run(
            std::process::Command::new("ssh-keygen")
                .arg("-lf")
                .arg(sshd.dir.path().join(format!("host_{}.pub", kinds[0]))),
        );
        assert!(
            want.contains(client.host_key_fingerprint()),
            "{kinds:?}: {want} vs {}",
            client.host_key_fingerprint()
        );
    }
}

#[test]
fn login_failures_are_auth_errors_and_not_retried() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let stranger = sshd.dir.path().join("stranger");
    sshd::keygen(&stranger);
    let unset_var = format!("TALLYMAN_TEST_UNSET_PASSPHRASE_{}", sshd.port);
    type Change<'a> = Box<dyn Fn(&mut SftpRaw) + 'a>;
    let cases: [(&str, Change, &str); 3] = [
        (
            "unknown key",
            Box::new(|r| r.key_file = stranger.clone()),
            "stranger",
        ),
        (
            "missing key file",
            Box::new(|r| r.key_file = r.key_file.with_extension("missing")),
            "missing",
        ),
        (
            "passphrase variable unset",
            Box::new(|r| r.passphrase_env = Some(unset_var.clone())),
            unset_var.as_str(),
        ),
    ];
    for (what, change, mentions) in cases {
        let mut raw = sshd.raw(&inbox);
        change(&mut raw);
        let err = raw.compile().unwrap().connect().err().expect("refused");
        eprintln!("{what}: {err}");
        assert!(matches!(err, SftpError::Auth { .. }), "{what}: {err:?}");
        assert!(!err.is_retryable(), "{what}");
        assert!(err.to_string().contains(mentions), "{what}: {err}");
    }
}

#[test]
fn a_connection_cut_mid_download_fails_the_read_step_and_a_retry_succeeds() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let content = data(8 * 1024 * 1024, 11);
    fs::write(inbox.join("big.csv"), &content).unwrap();
    let sighting = sighting_of(&sshd.endpoint(&inbox), "big.csv");
    let proxy = CutProxy::start(sshd.port, 2, 2 * 1024 * 1024, Fail::Cut);
    let ep = via_proxy(&sshd, &inbox, &proxy, 10);
    let staging = sshd.dir.path().join("big.staging");
    let fetch = || ep.connect()?.fetch(&sighting, &staging);

    let err = fetch().expect_err("cut");
    eprintln!("cut: {err}");
    assert_eq!(err.step(), Step::Read, "{err}");
    assert!(err.is_retryable(), "{err:?}");
    assert!(err.to_string().contains("127.0.0.1") && err.to_string().contains("big.csv"));
    assert!(!staging.exists(), "staging left behind");

    let mut attempts = 0;
    let fetched = with_retry(3, Duration::from_millis(50), || {
        attempts += 1;
        fetch()
    })
    .expect("retry succeeds");
    assert_eq!(attempts, 2, "second connection is cut too, third is clean");
    assert_eq!(fetched.sha256, sha(&content));
    assert_eq!(proxy.accepted.load(Ordering::SeqCst), 3);
}

#[test]
fn a_stalled_server_fails_the_read_after_io_timeout_instead_of_hanging() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    fs::write(inbox.join("big.csv"), data(8 * 1024 * 1024, 13)).unwrap();
    let sighting = sighting_of(&sshd.endpoint(&inbox), "big.csv");
    let proxy = CutProxy::start(sshd.port, 1, 1024 * 1024, Fail::Stall);
    let ep = via_proxy(&sshd, &inbox, &proxy, 2);
    let client = ep.connect().expect("connect");
    let staging = sshd.dir.path().join("stall.staging");
    let started = Instant::now();
    let err = client.fetch(&sighting, &staging).expect_err("timed out");
    let took = started.elapsed();
    eprintln!("stall after {took:?}: {err}");
    assert_eq!(err.step(), Step::Read, "{err}");
    assert!(err.is_retryable(), "{err:?}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    assert!(!staging.exists());
}

#[test]
fn a_file_changed_during_download_is_refused_and_leaves_no_staging_file() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    type Change = fn(&Path);
    let cases: [(&str, Change); 2] = [
        ("truncated", |p| {
            fs::OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(1000)
                .unwrap()
        }),
        ("appended", |p| {
            let mut f = fs::OpenOptions::new().append(true).open(p).unwrap();
            std::io::Write::write_all(&mut f, b"late row\n").unwrap();
        }),
    ];
    for (what, change) in cases {
        let name = format!("{what}.csv");
        let local = inbox.join(&name);
        fs::write(&local, data(16 * 1024 * 1024, 3)).unwrap();
        let client = sshd.endpoint(&inbox).connect().expect("connect");
        let sighting = client
            .list()
            .unwrap()
            .into_iter()
            .find(|s| s.name == name)
            .unwrap();
        let staging = sshd.dir.path().join(format!("{what}.staging"));
        let mut changed = false;
        let result = client.fetch_with_progress(&sighting, &staging, &mut |_| {
            if !changed {
                changed = true;
                change(&local);
            }
        });
        let err = result.expect_err("refused");
        eprintln!("{what}: {err}");
        assert!(
            matches!(err, SftpError::ChangedDuringDownload { .. }),
            "{what}: {err:?}"
        );
        assert!(!staging.exists(), "{what}: staging left behind");
    }
}

/// OpenSSH refuses a host key listed on an `@revoked` line, whatever else known_hosts says;
/// libssh2 does not know the marker, so we read it ourselves. An `@cert-authority` line is
/// refused explicitly: host certificates are not supported, and the error says so.
#[test]
fn revoked_host_keys_and_certificate_authorities_are_refused_with_a_clear_error() {
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let line = fs::read_to_string(&sshd.known_hosts).unwrap();
    let (_, key) = line.trim().split_once(' ').unwrap();
    let cases = [
        ("revoked", format!("{line}@revoked * {key}\n")),
        (
            "ca",
            format!("@cert-authority [127.0.0.1]:{} {key}\n", sshd.port),
        ),
    ];
    for (what, text) in cases {
        let kh = sshd.dir.path().join(format!("kh_{what}"));
        fs::write(&kh, text).unwrap();
        let mut raw = sshd.raw(&inbox);
        raw.known_hosts = kh;
        let err = raw.compile().unwrap().connect().err().expect("refused");
        eprintln!("{what}: {err}");
        assert_eq!(err.step(), Step::HostKey, "{what}: {err}");
        match what {
            "revoked" => assert!(
                matches!(err, SftpError::HostKeyRevoked { .. })
                    && err.to_string().contains("REVOKED"),
                "{err:?}"
            ),
            _ => assert!(err.to_string().contains("@cert-authority"), "{err}"),
        }
    }
    // Control: the plain line alone is accepted.
    sshd.endpoint(&inbox)
        .connect()
        .expect("plain line accepted");
    let log = log_before_the_control_login(&sshd);
    assert!(!log.contains("publickey"), "a key was offered:\n{log}");
}

/// A private key others may read or write is refused before it is offered, as OpenSSH does.
#[test]
fn a_private_key_open_to_others_is_refused_like_openssh() {
    use std::os::unix::fs::PermissionsExt;
    let sshd = Sshd::start();
    let inbox = sshd.folder("in");
    let key = sshd.dir.path().join("open_key");
    fs::copy(&sshd.client_key, &key).unwrap();
    for mode in [0o666, 0o640, 0o604] {
        fs::set_permissions(&key, fs::Permissions::from_mode(mode)).unwrap();
        let mut raw = sshd.raw(&inbox);
        raw.key_file = key.clone();
        let err = raw.compile().unwrap().connect().err().expect("refused");
        assert!(matches!(err, SftpError::Auth { .. }), "{mode:o}: {err:?}");
        assert!(
            err.to_string().contains("UNPROTECTED PRIVATE KEY FILE")
                && err.to_string().contains(&format!("{mode:04o}")),
            "{err}"
        );
    }
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).unwrap();
    let mut raw = sshd.raw(&inbox);
    raw.key_file = key;
    raw.compile().unwrap().connect().expect("0600 accepted");
}
