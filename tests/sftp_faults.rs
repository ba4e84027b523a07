//! What a strict server, an odd name or a crash does to an SFTP pipeline, through the real
//! binary against a real sshd on 127.0.0.1: a server that refuses the delete or the move after
//! the claim, done markers, files that cannot be read, a 240-byte name, names with control
//! characters, orphaned staging files, and two upload pushes at once.

#[path = "support/home.rs"]
mod home;

#[path = "support/cut_proxy.rs"]
mod cut_proxy;
#[path = "support/sshd.rs"]
mod sshd;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use home::tallyman;
use sshd::Sshd;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn both(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(o),
        stderr(o)
    )
}

fn ledger_rows(root: &Path, query: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn ledger_exec(root: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    conn.execute_batch(sql).unwrap();
}

fn set_mtime(path: &Path, t: SystemTime) {
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(t).unwrap();
}

fn age(path: &Path) {
    set_mtime(path, SystemTime::now() - Duration::from_secs(60));
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The TOML of an SFTP table for `server`'s `folder`.
fn sftp_table(header: &str, server: &Sshd, port: u16, known_hosts: &Path, folder: &Path) -> String {
    format!(
        "[{header}]\nhost = \"127.0.0.1\"\nport = {port}\nuser = \"{}\"\nkey_file = \"{}\"\nknown_hosts = \"{}\"\nfolder = \"{}\"\nconnect_timeout_secs = 5\nio_timeout_secs = 10\n",
        server.user,
        server.client_key.display(),
        known_hosts.display(),
        folder.display()
    )
}

/// A demo home whose `inventory_3pl` pipeline takes `stock_*.csv` from `remote` on `server`
/// (`sftp_keys` added to `[source.sftp]`, `source_keys` to `[source]`). Returns the home and
/// the demo's stock file bytes (removed from the local inbox).
fn sftp_home(
    server: &Sshd,
    remote: &Path,
    sftp_keys: &str,
    source_keys: &str,
) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
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
    let local = root.join("inbox/inventory_3pl/stock_2026-11-25.csv");
    let bytes = std::fs::read(&local).unwrap();
    std::fs::remove_file(&local).unwrap();
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let table = sftp_table(
        "source.sftp",
        server,
        server.port,
        &server.known_hosts,
        remote,
    ) + "pattern = \"stock_*.csv\"\n"
        + sftp_keys;
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace(
            "settle_secs = 1\n",
            &format!("settle_secs = 1\n{source_keys}\n"),
        )
        .replace("[input]", &format!("{table}\n[input]"));
    std::fs::write(&pipeline, text).unwrap();
    let check = tallyman(&root, &["check"]);
    assert!(check.status.success(), "{}", both(&check));
    (dir, root, bytes)
}

/// The demo stock file with another quantity: new content for the same business date.
fn other_content(bytes: &[u8]) -> Vec<u8> {
    String::from_utf8_lossy(bytes)
        .replacen(",120,", ",121,", 1)
        .into_bytes()
}

/// A partner account without delete permission (the server is read-only): each claimed file
/// is processed once, the refused delete is recorded and shown, the other file goes through,
/// and later passes neither fetch the files again nor pile up rows or landing copies.
#[test]
fn a_delete_the_server_refuses_does_not_block_the_pipeline_or_pile_up() {
    let server = Sshd::start_with_sftp_flags("-R");
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let a = remote.join("stock_2026-11-25.csv");
    let b = remote.join("stock_2026-11-25_b.csv");
    std::fs::write(&a, &bytes).unwrap();
    std::fs::write(&b, other_content(&bytes)).unwrap();
    age(&a);
    age(&b);

    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        stdout(&o).contains("stock_2026-11-25.csv -> succeeded")
            && stdout(&o).contains("stock_2026-11-25_b.csv -> succeeded"),
        "{}",
        both(&o)
    );
    assert!(
        stderr(&o).contains(&format!(
            "delete of stock_2026-11-25.csv after the claim: sftp 127.0.0.1: delete {}",
            a.display()
        )) && stderr(&o).contains("retried with backoff"),
        "the refusal names host, path and step: {}",
        both(&o)
    );
    assert!(a.exists() && b.exists(), "the read-only server kept both");
    let runs = stdout(&tallyman(root, &["runs"]));
    assert!(
        runs.contains("after-claim delete of stock_2026-11-25.csv on sftp://")
            && runs.contains("pending after 1 attempt(s)"),
        "{runs}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&tallyman(root, &["runs", "--json"]))).unwrap();
    assert_eq!(
        json["remote_actions"].as_array().unwrap().len(),
        2,
        "{json}"
    );
    assert_eq!(json["runs"].as_array().unwrap().len(), 2, "{json}");

    for pass in 0..2 {
        let o = tallyman(root, &["run"]);
        assert!(o.status.success(), "pass {pass}: {}", both(&o));
        assert!(
            stdout(&o).contains("nothing ready"),
            "pass {pass}: {}",
            both(&o)
        );
    }
    assert_eq!(
        ledger_rows(root, "select state from files order by id"),
        vec!["processed", "processed"],
        "no duplicate rows"
    );
    assert!(
        names(&root.join("var/landing/inventory_3pl")).is_empty(),
        "no landing copies pile up"
    );
    assert!(!root.join("archive/inventory_3pl/_duplicates").exists());
}

/// A `move_to` folder that does not exist: the file is processed, the move is retried with
/// backoff, and once the folder exists the next due retry moves it (no second claim).
#[test]
fn a_missing_move_to_folder_is_retried_until_it_exists() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let done = server.dir.path().join("served/done");
    let keys = format!("after_claim = \"move\"\nmove_to = \"{}\"\n", done.display());
    let (_dir, root, bytes) = sftp_home(&server, &remote, &keys, "");
    let root = root.as_path();
    let a = remote.join("stock_2026-11-25.csv");
    std::fs::write(&a, &bytes).unwrap();
    age(&a);

    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(stdout(&o).contains("-> succeeded"), "{}", both(&o));
    assert!(
        stderr(&o).contains(&format!("move:{} of stock_2026-11-25.csv", done.display())),
        "{}",
        both(&o)
    );
    let o = tallyman(root, &["run"]);
    assert!(stdout(&o).contains("nothing ready"), "{}", both(&o));
    assert_eq!(
        ledger_rows(root, "select state from files"),
        vec!["processed"]
    );

    std::fs::create_dir_all(&done).unwrap();
    // Within the backoff nothing is tried; make the retry due instead of waiting 30 s.
    let o = tallyman(root, &["run"]);
    assert!(a.exists(), "within the backoff: {}", both(&o));
    ledger_exec(root, "UPDATE remote_actions SET next_attempt_at = 0");
    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        !a.exists() && done.join("stock_2026-11-25.csv").is_file(),
        "{}",
        both(&o)
    );
    assert_eq!(
        ledger_rows(root, "select state || ' ' || attempts from remote_actions"),
        vec!["done 1"]
    );
    assert_eq!(
        ledger_rows(root, "select state from files"),
        vec!["processed"]
    );
    assert!(!stdout(&tallyman(root, &["runs"])).contains("after-claim"));
}

/// The done marker goes with the file; a file written again under an old marker (a marker
/// older than the file) is not taken until the partner writes a new marker.
#[test]
fn the_done_marker_is_removed_and_an_old_marker_never_takes_a_file_mid_write() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(
        &server,
        &remote,
        "after_claim = \"delete\"\n",
        "done_marker = \".done\"",
    );
    let root = root.as_path();
    let a = remote.join("stock_2026-11-25.csv");
    let marker = remote.join("stock_2026-11-25.csv.done");
    std::fs::write(&a, &bytes).unwrap();
    std::fs::write(&marker, b"").unwrap();
    let o = tallyman(root, &["run"]);
    assert!(stdout(&o).contains("-> succeeded"), "{}", both(&o));
    assert!(
        names(&remote).is_empty(),
        "file and marker removed: {:?}",
        names(&remote)
    );

    // The partner starts the next upload of the same name; a marker of an earlier upload is
    // still there (e.g. its removal failed, or the pipeline keeps files).
    let next = other_content(&bytes);
    std::fs::write(&marker, b"").unwrap();
    set_mtime(&marker, SystemTime::now() - Duration::from_secs(120));
    std::fs::write(&a, &next[..next.len() / 2]).unwrap();
    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        stdout(&o).contains("stock_2026-11-25.csv not taken yet (StaleMarker)"),
        "{}",
        both(&o)
    );
    assert_eq!(
        std::fs::read(&a).unwrap().len(),
        next.len() / 2,
        "left alone"
    );
    assert_eq!(
        ledger_rows(root, "select state from files"),
        vec!["processed"]
    );

    // The upload completes and the partner writes the marker after it.
    std::fs::write(&a, &next).unwrap();
    std::fs::write(&marker, b"").unwrap();
    let o = tallyman(root, &["run"]);
    assert!(stdout(&o).contains("-> succeeded"), "{}", both(&o));
    assert_eq!(
        ledger_rows(root, "select cast(size as text) from files order by id"),
        vec![bytes.len().to_string(), next.len().to_string()],
        "the second file was taken whole"
    );
    assert!(names(&remote).is_empty(), "{:?}", names(&remote));
}

/// A file the account may list but not read: an error of the run with host, path and step
/// (exit 1, `source_status`, `runs`, `runs --json`), not "still changing".
#[test]
fn a_file_that_cannot_be_read_is_an_error_not_a_file_still_changing() {
    let server = Sshd::start_with_sftp_flags("-P open");
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let a = remote.join("stock_2026-11-25.csv");
    std::fs::write(&a, &bytes).unwrap();
    age(&a);
    let o = tallyman(root, &["run"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let want = format!("sftp 127.0.0.1: read {}:", a.display());
    assert!(
        stderr(&o).contains(&want),
        "host, step and path: {}",
        both(&o)
    );
    assert!(!stdout(&o).contains("not taken yet"), "{}", both(&o));
    let status = ledger_rows(
        root,
        "select failures || ' ' || last_error from source_status where pipeline = 'inventory_3pl'",
    );
    assert!(
        status.len() == 1 && status[0].starts_with("1 ") && status[0].contains(&want),
        "{status:?}"
    );
    let runs = stdout(&tallyman(root, &["runs"]));
    assert!(
        runs.contains("source of inventory_3pl (sftp://") && runs.contains(&want),
        "{runs}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&stdout(&tallyman(root, &["runs", "--json"]))).unwrap();
    let last = json["sources"][0]["last_error"]
        .as_str()
        .unwrap_or_default();
    assert!(last.contains(&want), "{json}");
    assert!(a.exists());
    assert!(names(&root.join("var/landing/inventory_3pl")).is_empty());
}

/// A 240-byte remote name is staged, archived and recorded (the local names are shortened).
#[test]
fn a_240_byte_remote_name_is_taken() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let name = format!("stock_2026-11-25_{}.csv", "x".repeat(240 - 21));
    assert_eq!(name.len(), 240);
    let a = remote.join(&name);
    std::fs::write(&a, &bytes).unwrap();
    age(&a);
    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        stdout(&o).contains(&format!("{name} -> succeeded")),
        "{}",
        both(&o)
    );
    assert!(!a.exists());
    assert_eq!(ledger_rows(root, "select name from files"), vec![name]);
    assert_eq!(
        ledger_rows(root, "select state from runs"),
        vec!["succeeded"]
    );
}

/// Names with newline, CR or ESC are refused, and printed escaped: a partner cannot forge an
/// output line or send terminal escapes.
#[test]
fn remote_names_with_control_characters_are_printed_escaped() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, _) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    for name in [
        "stock_2026-11-25\ninventory_3pl: forged.csv -> succeeded.csv",
        "stock_\u{1b}[2J.csv",
        "stock_a\rb.csv",
    ] {
        let p = remote.join(name);
        std::fs::write(&p, b"x").unwrap();
        age(&p);
    }
    let o = tallyman(root, &["run"]);
    let out = stdout(&o) + &stderr(&o);
    assert!(
        out.contains(
            "stock_2026-11-25\\ninventory_3pl: forged.csv -> succeeded.csv refused on the server"
        ) && out.contains("stock_\\u{1b}[2J.csv refused")
            && out.contains("stock_a\\rb.csv refused"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}') && !out.contains('\r'), "{out:?}");
    assert!(
        !out.lines().any(|l| l.starts_with("inventory_3pl: forged")),
        "a forged line: {out}"
    );
}

/// A download killed mid-way leaves a staging file: the next pass removes it. Every pass holds
/// the pipeline's lock (`var/locks/<pipeline>.lock`) while it lands files, so a staging file
/// found by a pass is an orphan, however young.
#[test]
fn orphaned_staging_files_are_removed() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, _) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let landing = root.join("var/landing/inventory_3pl");
    std::fs::create_dir_all(&landing).unwrap();
    let old = landing.join(".1764000000000000000.landing");
    let fresh = landing.join(".1764000000000000001.landing");
    std::fs::write(&old, b"half").unwrap();
    std::fs::write(&fresh, b"half").unwrap();
    set_mtime(&old, SystemTime::now() - Duration::from_secs(3600));
    let o = tallyman(root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(!old.exists(), "orphan removed");
    assert!(
        !fresh.exists(),
        "a young orphan removed too: no one else lands under the lock"
    );
}

/// Two pushes at once (`uploads push` twice, as `serve` and an operator might): each upload
/// is leased in the ledger first, so the second push leaves what the first is uploading
/// alone; both files end on the server once, with the right bytes; a stale temp of ours
/// (a crash's leftover) is removed.
#[test]
fn two_upload_pushes_at_once_share_the_work_through_leases() {
    let server = Sshd::start();
    let remote = server.folder("to_erp");
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
    for f in std::fs::read_dir(root.join("inbox/inventory_3pl")).unwrap() {
        age(&f.unwrap().path());
    }
    // First the destination is down, so the run's uploads are queued.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = closed.local_addr().unwrap().port();
    drop(closed);
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let base = std::fs::read_to_string(&pipeline).unwrap();
    let with = |port: u16, kh: &Path| {
        let table = sftp_table("destinations.erp.sftp", &server, port, kh, &remote);
        std::fs::write(&pipeline, format!("{base}\n{table}")).unwrap();
    };
    with(closed_port, &server.known_hosts);
    let o = tallyman(root, &["run"]);
    assert!(stdout(&o).contains("-> succeeded"), "{}", both(&o));
    assert!(tallyman(root, &["uploads", "retry", "--all"])
        .status
        .success());

    // Then it is back behind a slow link; a stale temp of ours is there from a crash.
    let stale = remote.join(".atp_20261125_r000001.csv.1-0-0.tallyman-tmp");
    std::fs::write(&stale, b"partial").unwrap();
    set_mtime(&stale, SystemTime::now() - Duration::from_secs(7200));
    let proxy = cut_proxy::start_slow(server.port, 512, Duration::from_millis(60));
    let kh = root.join("kh_proxy");
    let key = std::fs::read_to_string(&server.known_hosts).unwrap();
    let key = key.split_once(' ').unwrap().1.to_string();
    std::fs::write(&kh, format!("[127.0.0.1]:{} {key}", proxy.port)).unwrap();
    with(proxy.port, &kh);

    let first = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().unwrap(), "uploads", "push"])
        .env("TALLYMAN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first push holds a lease, then push again.
    let deadline = Instant::now() + Duration::from_secs(30);
    while ledger_rows(
        root,
        "select name from deliveries where lease_owner is not null",
    )
    .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the first push never leased an upload"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let second = tallyman(root, &["uploads", "push"]);
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", both(&first));
    assert!(second.status.success(), "{}", both(&second));
    assert!(
        stdout(&second).contains("being uploaded by another process"),
        "the second push left the leased upload alone:\n{}\n{}",
        both(&first),
        both(&second)
    );
    let mut local = names(&root.join("outbox/erp"));
    local.retain(|n| n.ends_with(".csv"));
    assert_eq!(names(&remote), local, "both on the server, no temp left");
    for n in &local {
        assert_eq!(
            std::fs::read(remote.join(n)).unwrap(),
            std::fs::read(root.join("outbox/erp").join(n)).unwrap()
        );
    }
    assert_eq!(
        ledger_rows(root, "select state || ' ' || outcome from deliveries"),
        vec!["delivered uploaded", "delivered uploaded"],
        "each uploaded once, by one of the pushes"
    );
}

/// SFTP sources wait for a minute of quiet by default: a partner's upload that paused a few
/// seconds is not taken half-written. `check` warns about a source with neither a done marker
/// nor a quiet window of a minute.
#[test]
fn sftp_sources_default_to_a_minute_of_quiet_and_check_warns_about_less() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let warned = stdout(&tallyman(root, &["check"]));
    assert!(
        warned.contains(
            "warning: inventory_3pl: SFTP source: no done_marker and a quiet window of 1s"
        ),
        "{warned}"
    );
    // Without min_age_secs and settle_secs the SFTP default applies.
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace("min_age_secs = 1\n", "")
        .replace("settle_secs = 1\n", "");
    std::fs::write(&pipeline, text).unwrap();
    let quiet = tallyman(root, &["check"]);
    assert!(quiet.status.success(), "{}", both(&quiet));
    assert!(!stdout(&quiet).contains("warning:"), "{}", both(&quiet));

    // Half a file whose writer paused 6 s ago.
    let a = remote.join("stock_2026-11-25.csv");
    std::fs::write(&a, &bytes[..bytes.len() / 2]).unwrap();
    set_mtime(&a, SystemTime::now() - Duration::from_secs(6));
    let o = tallyman(root, &["run", "--max-wait-secs", "2"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        stdout(&o).contains("stock_2026-11-25.csv not taken yet (TooYoung)"),
        "{}",
        both(&o)
    );
    assert!(a.exists());
    assert!(ledger_rows(root, "select state from files").is_empty());
    // The upload finished a minute ago: taken.
    std::fs::write(&a, &bytes).unwrap();
    set_mtime(&a, SystemTime::now() - Duration::from_secs(61));
    let o = tallyman(root, &["run", "--max-wait-secs", "5"]);
    assert!(stdout(&o).contains("-> succeeded"), "{}", both(&o));
}

/// The connection drops in the middle of a download: an error of the run naming host, path
/// and step (exit 1, `source_status`), no staging file left, and nothing claimed.
#[test]
fn a_connection_dropped_mid_download_is_an_error_with_host_path_and_step() {
    let server = Sshd::start();
    let remote = server.folder("outbound");
    let (_dir, root, _) = sftp_home(&server, &remote, "after_claim = \"delete\"\n", "");
    let root = root.as_path();
    let proxy = cut_proxy::CutProxy::start(server.port, 1, 1024 * 1024, cut_proxy::Fail::Cut);
    let kh = root.join("kh_proxy");
    let key = std::fs::read_to_string(&server.known_hosts).unwrap();
    let key = key.split_once(' ').unwrap().1.to_string();
    std::fs::write(&kh, format!("[127.0.0.1]:{} {key}", proxy.port)).unwrap();
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline)
        .unwrap()
        .replace(
            &format!("port = {}\n", server.port),
            &format!("port = {}\n", proxy.port),
        )
        .replace(
            &format!("known_hosts = \"{}\"", server.known_hosts.display()),
            &format!("known_hosts = \"{}\"", kh.display()),
        );
    std::fs::write(&pipeline, text).unwrap();
    let a = remote.join("stock_2026-11-25.csv");
    std::fs::write(&a, vec![b'x'; 8 * 1024 * 1024]).unwrap();
    age(&a);
    let o = tallyman(root, &["run"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let want = format!("sftp 127.0.0.1: read {}:", a.display());
    assert!(stderr(&o).contains(&want), "{}", both(&o));
    assert!(!stdout(&o).contains("not taken yet"), "{}", both(&o));
    let status = ledger_rows(root, "select last_error from source_status");
    assert!(status.len() == 1 && status[0].contains(&want), "{status:?}");
    assert!(ledger_rows(root, "select state from files").is_empty());
    assert!(names(&root.join("var/landing/inventory_3pl")).is_empty());
    assert!(a.exists());
}

/// Under `serve` a refused delete is recorded once and nothing piles up over later polls: the
/// file is not fetched again, and no rows or landing copies accumulate.
#[test]
fn serve_does_not_pile_up_rows_for_a_file_it_may_not_delete() {
    let server = Sshd::start_with_sftp_flags("-R");
    let remote = server.folder("outbound");
    let (_dir, root, bytes) = sftp_home(
        &server,
        &remote,
        "after_claim = \"delete\"\npoll_secs = 1\n",
        "",
    );
    let root = root.as_path();
    let a = remote.join("stock_2026-11-25.csv");
    std::fs::write(&a, &bytes).unwrap();
    age(&a);
    let mut child = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args([
            "--home",
            root.to_str().unwrap(),
            "serve",
            "--listen",
            "off",
            "--scan-secs",
            "1",
        ])
        .env("TALLYMAN_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut err, &mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    // The daemon creates the ledger: until it has, a query finds nothing.
    let rows_now = |query: &str| -> Vec<String> {
        let Ok(conn) = rusqlite::Connection::open_with_flags(
            root.join("var/ledger.sqlite"),
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
        ) else {
            return Vec::new();
        };
        let Ok(mut stmt) = conn.prepare(query) else {
            return Vec::new();
        };
        stmt.query_map([], |r| r.get::<_, String>(0))
            .map(|rows| rows.filter_map(Result::ok).collect())
            .unwrap_or_default()
    };
    // Wait for the file's run, then for three more successful polls of the source.
    while rows_now("select state from runs").is_empty() {
        assert!(Instant::now() < deadline, "never processed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = std::collections::BTreeSet::new();
    while seen.len() < 4 {
        assert!(Instant::now() < deadline, "the source was not polled again");
        seen.extend(rows_now(
            "select last_ok_at from source_status where last_ok_at is not null",
        ));
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    let log = log.join().unwrap();
    assert!(status.success(), "{log}");
    assert_eq!(
        ledger_rows(root, "select state from files"),
        vec!["processed"],
        "{log}"
    );
    assert_eq!(
        ledger_rows(root, "select state from runs"),
        vec!["succeeded"]
    );
    assert!(names(&root.join("var/landing/inventory_3pl")).is_empty());
    assert_eq!(
        ledger_rows(root, "select action || ' ' || state from remote_actions"),
        vec!["delete pending"]
    );
    assert!(a.exists());
}
