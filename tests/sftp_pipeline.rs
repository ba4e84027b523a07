//! A pipeline whose source is an SFTP server (a real sshd on 127.0.0.1), through the real
//! binary: fetched, processed like a local drop, deleted on the server only after the claim;
//! the same bytes uploaded again are a duplicate.

#[path = "support/sshd.rs"]
mod sshd;

use std::path::Path;
use std::process::{Command, Output};

fn tallyman(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().unwrap()])
        .args(args)
        .env("TALLYMAN_LOG", "warn")
        .output()
        .expect("run tallyman")
}

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
