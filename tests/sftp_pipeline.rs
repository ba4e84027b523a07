//! Pipelines with SFTP sources and destinations (a real sshd on 127.0.0.1), through the real
//! binary: fetched, processed like a local drop, deleted on the server only after the claim;
//! the same bytes uploaded again are a duplicate; outputs uploaded atomically, never twice
//! after a crash, queued while the server is down; `check --connections`; `serve` polling.

#[path = "support/home.rs"]
mod home;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/prom.rs"]
mod prom;
#[path = "support/sshd.rs"]
mod sshd;

use home::tallyman;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn ledger_rows(root: &Path, query: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn age(path: &Path) {
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

#[test]
fn an_sftp_drop_is_fetched_processed_and_deleted_after_the_claim() {
    let server = sshd::Sshd::start();
    let remote = server.folder("outbound");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(tallyman(root, &["demo", "--no-run"]).status.success());
    // These tests count the inventory pipeline's files and runs: no settlement demo.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).unwrap();
    }
    let local = root.join("inbox/inventory_3pl/stock_2026-11-25.csv");
    let bytes = std::fs::read(&local).unwrap();
    std::fs::remove_file(&local).unwrap();
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        "[input]",
        &format!(
            "[source.sftp]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\nfolder = \"{}\"\npattern = \"stock_*.csv\"\nafter_claim = \"delete\"\n\n[input]",
            server.port,
            server.user,
            server.client_key.display(),
            server.known_hosts.display(),
            remote.display()
        ),
    );
    std::fs::write(&pipeline, text).unwrap();
    let check = tallyman(root, &["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let on_server = remote.join("stock_2026-11-25.csv");
    std::fs::write(&on_server, &bytes).unwrap();
    age(&on_server);
    let o = tallyman(root, &["run"]);
    assert!(
        stdout(&o).contains("stock_2026-11-25.csv -> succeeded"),
        "{}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        !on_server.exists(),
        "the remote file is deleted once claimed"
    );
    assert!(root.join("outbox/erp/atp_20261125_r000001.csv").is_file());
    assert_eq!(
        ledger_rows(root, "select state from files"),
        vec!["processed"]
    );

    // The partner uploads the same bytes again: a duplicate, not a second run.
    std::fs::write(&on_server, &bytes).unwrap();
    age(&on_server);
    let o = tallyman(root, &["run"]);
    assert!(stdout(&o).contains("duplicate"), "{}", stdout(&o));
    assert_eq!(
        ledger_rows(root, "select state from files order by id"),
        vec!["processed", "duplicate"]
    );
    assert_eq!(
        ledger_rows(root, "select run_id from runs"),
        vec!["r000001"]
    );
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The TOML of an SFTP table for `server`'s `folder` (a source adds its own keys after it).
fn sftp_table(header: &str, server: &sshd::Sshd, folder: &Path, known_hosts: &Path) -> String {
    format!(
        "[{header}]\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\nfolder = \"{}\"\nconnect_timeout_secs = 5\nio_timeout_secs = 10\n",
        server.port,
        server.user,
        server.client_key.display(),
        known_hosts.display(),
        folder.display()
    )
}

/// The demo home with its `erp` destination also uploaded to `folder` on `server`.
fn demo_with_destination(server: &sshd::Sshd, folder: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    assert!(tallyman(&root, &["demo", "--no-run"]).status.success());
    // These tests count the inventory pipeline's files and runs: no settlement demo.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).unwrap();
    }
    set_destination(&root, server, folder);
    for f in std::fs::read_dir(root.join("inbox/inventory_3pl")).unwrap() {
        age(&f.unwrap().path());
    }
    (dir, root)
}

fn set_destination(root: &Path, server: &sshd::Sshd, folder: &Path) {
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let text = match text.find("\n[destinations.erp.sftp]") {
        Some(i) => text[..i].to_string(),
        None => text,
    };
    let table = sftp_table("destinations.erp.sftp", server, folder, &server.known_hosts);
    std::fs::write(&pipeline, format!("{text}\n{table}")).unwrap();
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn delivery_states(root: &Path) -> Vec<String> {
    ledger_rows(
        root,
        "select name || ' ' || state || ' ' || coalesce(outcome, '-') from deliveries order by name",
    )
}

#[test]
fn outputs_are_uploaded_and_a_crash_after_the_upload_does_not_upload_twice() {
    let server = sshd::Sshd::start();
    let remote = server.folder("to_erp");
    let (_dir, root) = demo_with_destination(&server, &remote);
    let root = root.as_path();

    // The process dies right after the first upload's rename, before the ledger hears of it.
    let crashed = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().unwrap(), "run"])
        .env("TALLYMAN_LOG", "warn")
        .env("TALLYMAN_FAILPOINTS", "delivery-uploaded")
        .output()
        .unwrap();
    assert!(!crashed.status.success(), "{}", stderr(&crashed));
    assert!(stderr(&crashed).contains("failpoint delivery-uploaded hit"));
    let on_server = names(&remote);
    assert_eq!(on_server.len(), 1, "one upload got through: {on_server:?}");
    let first = remote.join(&on_server[0]);
    let ino = std::fs::metadata(&first).unwrap().ino();
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(root.join("outbox/erp").join(&on_server[0])).unwrap()
    );
    assert!(delivery_states(root)
        .iter()
        .all(|s| s.contains(" pending ")));

    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("uploads: 1 uploaded, 1 already on the server, 0 problem(s)"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        std::fs::metadata(&first).unwrap().ino(),
        ino,
        "the file found on the server was verified, not uploaded again"
    );
    // Both outputs are on the server, complete and equal to the outbox copies; no temp left.
    let mut local = names(&root.join("outbox/erp"));
    local.retain(|n| n.ends_with(".csv"));
    assert_eq!(names(&remote), local);
    for n in &local {
        assert_eq!(
            std::fs::read(remote.join(n)).unwrap(),
            std::fs::read(root.join("outbox/erp").join(n)).unwrap()
        );
    }
    let states = delivery_states(root);
    assert_eq!(states.len(), 2);
    assert!(
        states
            .iter()
            .any(|s| s.ends_with(" delivered already-present")),
        "{states:?}"
    );
    assert!(
        states.iter().any(|s| s.ends_with(" delivered uploaded")),
        "{states:?}"
    );
    let o = tallyman(root, &["run"]);
    assert!(
        !stdout(&o).contains("uploads:"),
        "nothing left to upload: {}",
        stdout(&o)
    );
}

#[test]
fn a_destination_that_is_down_keeps_its_uploads_queued_until_it_is_back() {
    let server = sshd::Sshd::start();
    let remote = server.folder("to_erp");
    let (_dir, root) = demo_with_destination(&server, &remote);
    let root = root.as_path();
    // A closed port: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap();
    let at = text.find("[destinations.erp.sftp]").unwrap();
    let down = text[..at].to_string()
        + &text[at..].replace(
            &format!("port = {}", server.port),
            &format!("port = {closed_port}"),
        );
    std::fs::write(&pipeline, down).unwrap();

    let o = tallyman(root, &["run"]);
    assert!(
        o.status.success(),
        "a server that is down fails no run: {}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("-> succeeded"), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("0 uploaded, 0 already on the server, 1 problem(s)"),
        "{}",
        stdout(&o)
    );
    assert!(
        stderr(&o).contains(&format!("sftp://{}@127.0.0.1:{closed_port}", server.user)),
        "the error names host and folder: {}",
        stderr(&o)
    );
    assert!(names(&remote).is_empty());
    let runs = stdout(&tallyman(root, &["runs"]));
    assert!(runs.contains("pending after 1 attempt(s)"), "{runs}");
    // The next pass is within the backoff: nothing is tried.
    let o = tallyman(root, &["uploads", "push"]);
    assert!(
        stdout(&o).contains("0 uploaded, 0 already on the server, 0 problem(s)"),
        "{}",
        stdout(&o)
    );

    set_destination(root, &server, &remote);
    let o = tallyman(root, &["uploads", "retry", "--all"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = tallyman(root, &["run"]);
    assert!(
        stdout(&o).contains("uploads: 2 uploaded"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    assert_eq!(names(&remote).len(), 2);
    let listed = stdout(&tallyman(root, &["uploads"]));
    assert_eq!(listed.matches(" delivered ").count(), 2, "{listed}");
}

#[test]
fn check_connections_proves_each_endpoint_or_says_why_not() {
    let server = sshd::Sshd::start();
    let remote = server.folder("to_erp");
    let (_dir, root) = demo_with_destination(&server, &remote);
    let root = root.as_path();
    let o = tallyman(root, &["check", "--connections"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("ok  inventory_3pl destination erp: sftp://")
            && stdout(&o).contains("folder writable (probe written and removed)"),
        "{}",
        stdout(&o)
    );
    assert!(names(&remote).is_empty(), "the probe is removed");
    // Plain `check` never connects.
    assert!(!stdout(&tallyman(root, &["check"])).contains("sftp://"));

    // A known_hosts that does not hold the server's key: no login attempt, exit 3.
    let empty = root.join("empty_known_hosts");
    std::fs::write(&empty, "").unwrap();
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        &format!("known_hosts = \"{}\"", server.known_hosts.display()),
        &format!("known_hosts = \"{}\"", empty.display()),
    );
    std::fs::write(&pipeline, text).unwrap();
    let o = tallyman(root, &["check", "--connections"]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("FAIL inventory_3pl destination erp")
            && stdout(&o).contains("not logging in"),
        "{}",
        stdout(&o)
    );
}

/// `tallyman serve` polls an SFTP source (poll_secs = 1): a file the partner drops on the
/// server is fetched, processed, and its outputs uploaded to the SFTP destination.
#[test]
fn serve_polls_an_sftp_source_and_uploads_the_outputs() {
    let server = sshd::Sshd::start();
    let inbound = server.folder("outbound");
    let remote = server.folder("to_erp");
    let (_dir, root) = demo_with_destination(&server, &remote);
    let root = root.as_path();
    let local = root.join("inbox/inventory_3pl/stock_2026-11-25.csv");
    let bytes = std::fs::read(&local).unwrap();
    std::fs::remove_file(&local).unwrap();
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let source = sftp_table("source.sftp", &server, &inbound, &server.known_hosts)
        + "pattern = \"stock_*.csv\"\nafter_claim = \"delete\"\npoll_secs = 1\n";
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("[input]", &format!("{source}\n[input]"));
    std::fs::write(&pipeline, text).unwrap();

    let daemon = daemon::serve(root);
    let on_server = inbound.join("stock_2026-11-25.csv");
    std::fs::write(&on_server, &bytes).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while names(&remote).len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, log) = daemon.stop();
    assert!(status.success(), "{log}");
    assert_eq!(names(&remote).len(), 2, "both outputs uploaded: {log}");
    assert!(!on_server.exists(), "deleted on the server after the claim");
    assert_eq!(
        ledger_rows(root, "select state from runs"),
        vec!["succeeded"]
    );
    assert!(root.join("outbox/erp/atp_20261125_r000001.csv").is_file());
}

/// A partner whose SFTP server accepts the connection and never answers (a stall) costs its
/// own pipeline a time-out per poll; the daemon's other pipelines go on, and `tallyman runs`
/// says since when that source fails and why.
#[test]
fn a_stalled_sftp_source_does_not_hold_up_other_pipelines() {
    let server = sshd::Sshd::start(); // only for its key and known_hosts
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = black_hole.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(tallyman(root, &["demo", "--no-run"]).status.success());
    // These tests count the inventory pipeline's files and runs: no settlement demo.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).unwrap();
    }
    let demo = std::fs::read_to_string(root.join("pipelines/inventory_3pl.toml")).unwrap();
    let source = format!(
        "[source.sftp]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\nfolder = \"/outbound\"\nconnect_timeout_secs = 2\nio_timeout_secs = 2\npoll_secs = 1\n\n[input]",
        server.user,
        server.client_key.display(),
        server.known_hosts.display()
    );
    let stalled = demo
        .replace("[input]", &source)
        .replace("destination = \"erp\"", "destination = \"erp_stalled\"");
    std::fs::write(root.join("pipelines/partner_stalled.toml"), stalled).unwrap();
    let check = tallyman(root, &["check"]);
    assert!(check.status.success(), "{}", stderr(&check));

    let daemon = daemon::serve(root);
    for f in std::fs::read_dir(root.join("inbox/inventory_3pl")).unwrap() {
        age(&f.unwrap().path());
    }
    let started = Instant::now();
    let out = root.join("outbox/erp/atp_20261125_r000001.csv");
    while !out.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    // Let the stalled source fail a few polls: two whole passes of its pipeline.
    daemon.passes_after("partner_stalled", 2.0);
    let (status, log) = daemon.stop();
    drop(black_hole);
    assert!(status.success(), "{log}");
    assert!(
        out.exists(),
        "the local pipeline's file was processed: {log}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}: {log}");
    assert!(
        log.contains(&format!("sftp://{}@127.0.0.1:{port}/outbound", server.user)),
        "the failure names the source: {log}"
    );
    let runs = stdout(&tallyman(root, &["runs"]));
    assert!(
        runs.contains("source of partner_stalled (sftp://")
            && runs.contains("failing since")
            && runs.contains("last worked never"),
        "{runs}"
    );
}
