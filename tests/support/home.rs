//! A Tallyman home for end-to-end tests: a temp folder with the demo's pipeline, schemas and
//! files dropped (`tallyman demo --no-run`), the real binary run on it, its ledger read.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A home folder, removed when dropped.
pub struct Home {
    pub _dir: tempfile::TempDir,
    pub root: PathBuf,
}

/// Runs the real binary on `root` (logs at warn).
pub fn tallyman(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().expect("utf-8 path")])
        .args(args)
        .env("TALLYMAN_LOG", "warn")
        .env_remove("TALLYMAN_FAILPOINTS")
        .output()
        .expect("run tallyman")
}

/// A home with the demo's pipeline, schemas and files dropped, not run.
pub fn demo_home() -> Home {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", both(&o));
    // Only the inventory demo: the settlement demo's pipeline would add its own runs and mails.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the settlement demo");
    }
    Home { _dir: dir, root }
}

/// stdout then stderr, as text.
pub fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A query's rows from the home's ledger, `|` between columns and a line per row. An SQL error
/// fails the test.
pub fn sql(root: &Path, query: &str) -> String {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).expect("open ledger");
    // A daemon may be writing: wait for its lock rather than fail on SQLITE_BUSY.
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .expect("busy timeout");
    let mut stmt = conn
        .prepare(query)
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    let n = stmt.column_count();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            (0..n)
                .map(|i| {
                    r.get::<_, rusqlite::types::Value>(i).map(|v| match v {
                        rusqlite::types::Value::Null => "NULL".into(),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        other => format!("{other:?}"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|cols| cols.join("|"))
        })
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    rows.join("\n")
}

/// Writes a file as if its writer finished a minute ago, so the settle window takes it at once.
pub fn write_aged(path: &Path, bytes: impl AsRef<[u8]>) {
    std::fs::write(path, bytes).expect("write");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .expect("mtime");
}
