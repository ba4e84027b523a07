//! The whole demo (inventory, settlement, orders, catalog, shipments) through the real binary
//! on two homes, one on SQLite and one whose `tallyman.toml` names a throwaway PostgreSQL
//! cluster: the same exit code and byte-identical outputs; then `runs`, `breaks`, `orders`,
//! a dry-run rerun (nothing written to the cluster) and a rerun work the same on both. And
//! `serve` on a PostgreSQL home: it takes the dropped file, records its run there, answers
//! `/readyz` and the console from it, and takes no home lock.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/home.rs"]
mod home;
#[path = "../src/store/db/pg_cluster.rs"]
mod pg_cluster;
#[path = "support/prom.rs"]
mod prom;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use home::{both, tallyman};
use pg_cluster::PgCluster;

/// Every file under `dir`, by path relative to it; mail as `mail/N` in order (a report's
/// mail is named by its random Message-ID and dated: the same report, never the same bytes).
fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = every_file(dir);
    let mail: Vec<String> = out
        .keys()
        .filter(|k| k.starts_with("mail/"))
        .cloned()
        .collect();
    for (i, name) in mail.iter().enumerate() {
        let bytes = out.remove(name).expect("listed");
        out.insert(format!("mail/{i}"), bytes);
    }
    out
}

/// An X12 interchange (a 997, a 940) with the time it was written blanked (ISA09/ISA10,
/// GS04/GS05): the two demos may run either side of a minute; every other file as it is.
fn undated(bytes: &[u8]) -> Vec<u8> {
    if !bytes.starts_with(b"ISA") || bytes.len() < 106 {
        return bytes.to_vec();
    }
    let (element, segment) = (bytes[3] as char, bytes[105] as char);
    let text = String::from_utf8_lossy(bytes);
    let segments: Vec<String> = text
        .split(segment)
        .map(|seg| {
            let mut fields: Vec<&str> = seg.split(element).collect();
            let blank: &[usize] = match fields[0].trim_start() {
                "ISA" => &[9, 10],
                "GS" => &[4, 5],
                _ => &[],
            };
            for &i in blank {
                if i < fields.len() {
                    fields[i] = "";
                }
            }
            fields.join(&element.to_string())
        })
        .collect();
    segments.join(&segment.to_string()).into_bytes()
}

fn every_file(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let path = e.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).expect("under").display().to_string();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

/// `text` with its times (the runs' clocks differ between the two homes) as `<time>`.
fn untimed(text: &str) -> String {
    let time = regex::Regex::new(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")
        .expect("regex");
    time.replace_all(text, "<time>").into_owned()
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// The demo's runs of one home: (exit code of `tallyman demo`).
fn demo(root: &Path) -> Option<i32> {
    let o = tallyman(root, &["demo"]);
    assert!(code(&o).is_some_and(|c| c <= 1), "{}", both(&o));
    code(&o)
}

/// `runs --json` as (run id, pipeline, state, rows) per run, newest first: what must agree
/// between the backends (times differ).
fn runs(root: &Path) -> Vec<(String, String, String, String)> {
    let o = tallyman(root, &["runs", "--json", "--limit", "1000"]);
    assert!(o.status.success(), "{}", both(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("runs --json");
    v["runs"]
        .as_array()
        .expect("a list of runs")
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].to_string();
            (f("run_id"), f("pipeline"), f("state"), f("rows"))
        })
        .collect()
}

#[test]
fn the_demo_on_postgres_gives_what_it_gives_on_sqlite() {
    let cluster = PgCluster::start();
    let lite = tempfile::tempdir().expect("temp dir");
    let pg = tempfile::tempdir().expect("temp dir");
    let db = cluster.database();
    std::fs::copy(&cluster.password_file, pg.path().join("pg.password")).expect("copy pw");
    std::fs::write(
        pg.path().join("tallyman.toml"),
        format!(
            "[ledger]\nbackend = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n\
             dbname = \"{db}\"\npassword_file = \"pg.password\"\n",
            cluster.port,
            pg_cluster::USER
        ),
    )
    .expect("write tallyman.toml");

    // Timed for the record (`--nocapture`): the ledger is not where the demo spends its time.
    let timed = |root: &Path| {
        let started = std::time::Instant::now();
        let code = demo(root);
        (code, started.elapsed())
    };
    let ((code_a, took_a), (code_b, took_b)) = (timed(lite.path()), timed(pg.path()));
    eprintln!("tallyman demo: SQLite {took_a:?}, PostgreSQL {took_b:?}");
    assert_eq!(code_a, code_b, "the same exit code");
    assert!(
        !pg.path().join("var/ledger.sqlite").exists(),
        "the PostgreSQL home made no SQLite ledger"
    );
    let (a, b) = (
        files_under(&lite.path().join("outbox")),
        files_under(&pg.path().join("outbox")),
    );
    assert!(a.len() >= 8, "the demo wrote its outputs: {:?}", a.keys());
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same outputs"
    );
    for (name, bytes) in &a {
        if name.starts_with("mail/") {
            continue;
        }
        assert!(
            undated(bytes) == undated(&b[name]),
            "{name} differs between SQLite and PostgreSQL"
        );
    }

    let (ra, rb) = (runs(lite.path()), runs(pg.path()));
    assert!(!ra.is_empty());
    assert_eq!(ra, rb, "the same runs");
    for args in [
        &["breaks"][..],
        &["breaks", "--json"],
        &["orders"],
        &["orders", "show", "PO-2026-0042"],
        &["mail"],
    ] {
        let (oa, ob) = (tallyman(lite.path(), args), tallyman(pg.path(), args));
        assert!(oa.status.success(), "{args:?}: {}", both(&oa));
        assert_eq!(code(&oa), code(&ob), "{args:?}: {}", both(&ob));
        if args[0] != "mail" {
            assert_eq!(untimed(&both(&oa)), untimed(&both(&ob)), "{args:?}");
        }
    }

    // A dry run replays into a scratch copy: nothing is recorded in the cluster.
    let rerun = |root: &Path, dry: bool| {
        let mut args = vec![
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "backend test",
        ];
        if dry {
            args.push("--dry-run");
        }
        tallyman(root, &args)
    };
    let before = runs(pg.path()).len();
    let (da, db_) = (rerun(lite.path(), true), rerun(pg.path(), true));
    assert!(code(&db_).is_some_and(|c| c <= 1), "{}", both(&db_));
    assert_eq!(code(&da), code(&db_), "{}", both(&db_));
    assert_eq!(runs(pg.path()).len(), before, "a dry run records nothing");
    let (ra, rb) = (rerun(lite.path(), false), rerun(pg.path(), false));
    assert!(code(&rb).is_some_and(|c| c <= 1), "{}", both(&rb));
    assert_eq!(code(&ra), code(&rb), "{}", both(&rb));
    assert_eq!(runs(pg.path()).len(), before + 1, "the rerun is recorded");
    assert_eq!(runs(lite.path()), runs(pg.path()));
    let (a, b) = (
        files_under(&lite.path().join("outbox")),
        files_under(&pg.path().join("outbox")),
    );
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "the same outputs after the rerun"
    );
}

#[test]
fn serve_runs_on_a_postgres_ledger() {
    let cluster = PgCluster::start();
    let home = home::demo_home();
    let db = cluster.database();
    std::fs::copy(&cluster.password_file, home.root.join("pg.password")).expect("copy pw");
    std::fs::write(
        home.root.join("tallyman.toml"),
        format!(
            "[ledger]\nbackend = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n\
             dbname = \"{db}\"\npassword_file = \"pg.password\"\n",
            cluster.port,
            pg_cluster::USER
        ),
    )
    .expect("write tallyman.toml");
    let d = daemon::serve(&home.root);
    let mut client = cluster.client(&db).expect("connect");
    let ended = |client: &mut postgres::Client| -> i64 {
        client
            .query_one(
                "SELECT count(*) FROM runs WHERE pipeline = 'inventory_3pl' AND ended_at IS NOT NULL",
                &[],
            )
            .expect("count")
            .get(0)
    };
    daemon::wait_for(std::time::Duration::from_secs(60), || {
        ended(&mut client) == 1
    });
    let (code, body) = d.get("/readyz").expect("GET /readyz");
    assert!(code == 200 || code == 503, "{code}: {body}");
    assert!(!body.contains("cannot be read"), "{body}");
    assert!(
        !home.root.join("var/ledger.sqlite").exists(),
        "no SQLite ledger made behind the configuration's back"
    );
    assert!(
        !home.root.join("var/tallyman.lock").exists(),
        "with PostgreSQL the home lock is not taken"
    );
    // The console reads the same ledger: the file found by name, its run's page.
    let (code, found) = d.get("/search?q=stock_2026").expect("GET /search");
    assert_eq!(code, 200, "{found}");
    assert!(
        found.contains("stock_2026-11-25.csv")
            && found.contains("<a href=\"/runs/r000001\">r000001</a>"),
        "{found}"
    );
    let (code, page) = d.get("/runs/r000001").expect("GET a run");
    assert_eq!(code, 200, "{page}");
    let (code, page) = d.get("/").expect("GET the overview");
    assert_eq!(code, 200, "{page}");
    let outputs = files_under(&home.root.join("outbox/erp"));
    assert!(
        outputs.keys().any(|k| k.starts_with("inventory_variance_")),
        "{:?}",
        outputs.keys()
    );
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
    assert_eq!(ended(&mut client), 1, "the file was taken once");
}
