//! Files held rather than lost, and the duplicate rule, through the real binary: a file waiting
//! for its ERP extract (taken by the next `run`, or by `serve` as soon as the extract lands,
//! rejected when the wait runs out), a bad SQL transform holding its file `failed` until a rerun,
//! an unchanged snapshot on the next business date, and a ledger written by the old schema.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/home.rs"]
mod home;
#[path = "support/prom.rs"]
mod prom;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use daemon::{wait_for, Daemon};
use home::sql;
use home::tallyman;

const DROP: &str = "inbox/inventory_3pl";
const PIPELINE: &str = "pipelines/inventory_3pl.toml";
const ERP_25: &str = "inbox/erp/erp_onhand_2026-11-25.csv";

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

/// The demo's home with its snapshot for 2026-11-25 dropped (aged, so `run` takes it at once).
fn demo_home() -> Home {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Only the inventory demo: the settlement demo's pipeline would add its own runs and mails.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the settlement demo");
    }
    age(&root.join(DROP).join("stock_2026-11-25.csv"));
    Home { _dir: dir, root }
}

/// Makes a dropped file look settled long ago.
fn age(path: &Path) {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - Duration::from_secs(60))
        .expect("mtime");
}

fn edit_pipeline(root: &Path, edit: impl FnOnce(String) -> String) {
    let path = root.join(PIPELINE);
    let toml = std::fs::read_to_string(&path).expect("read pipeline");
    let edited = edit(toml.clone());
    assert_ne!(edited, toml, "the edit changed nothing");
    std::fs::write(&path, edited).expect("write pipeline");
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn a_file_waits_for_its_erp_extract_and_the_next_run_takes_it() {
    let h = demo_home();
    let extract = h.root.join(ERP_25);
    let saved = std::fs::read(&extract).expect("extract");
    std::fs::remove_file(&extract).expect("remove extract");
    let o = tallyman(&h.root, &["run"]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("stock_2026-11-25.csv -> waiting (waiting for the ERP extract inbox/erp/erp_onhand_2026-11-25.csv until"),
        "{out}"
    );
    assert_eq!(
        sql(&h.root, "select state, business_date from files"),
        "waiting|2026-11-25"
    );
    assert_eq!(sql(&h.root, "select count(*) from runs"), "0");
    // Its bytes are safe: taken from the drop folder, kept in the landing area.
    assert!(files_in(&h.root.join(DROP)).is_empty());
    assert_eq!(files_in(&h.root.join("var/landing/inventory_3pl")).len(), 1);
    let runs = stdout(&tallyman(&h.root, &["runs"]));
    assert!(
        runs.contains("stock_2026-11-25.csv of inventory_3pl (2026-11-25): waiting: waiting for the ERP extract"),
        "{runs}"
    );
    // A run while it still waits changes nothing.
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("nothing ready"), "{}", stdout(&o));
    assert_eq!(sql(&h.root, "select state from files"), "waiting");
    // Another day's file, whose extract is there, runs; its report tells of the one waiting.
    std::fs::write(h.root.join("inbox/erp/erp_onhand_2026-11-24.csv"), &saved).expect("extract");
    let drop = h.root.join(DROP);
    std::fs::write(
        drop.join("stock_2026-11-24.csv"),
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000002,3PL-RENO,80,0,EA,2026-11-24T23:59:00Z\n",
    )
    .expect("drop");
    age(&drop.join("stock_2026-11-24.csv"));
    let o = tallyman(&h.root, &["run"]);
    assert!(
        stdout(&o).contains("stock_2026-11-24.csv -> succeeded (run r000001"),
        "{}",
        stdout(&o)
    );
    let report = std::fs::read_to_string(
        h.root
            .join("archive/inventory_3pl/2026-11-24/r000001/report.json"),
    )
    .expect("report");
    let report: serde_json::Value = serde_json::from_str(&report).expect("json");
    assert_eq!(
        report["held"][0]["name"], "stock_2026-11-25.csv",
        "{report}"
    );
    assert!(
        report["held"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("waiting for the ERP extract")),
        "{report}"
    );
    // The extract is being written (its mtime is not 2 s old): not read yet.
    std::fs::write(&extract, saved).expect("extract lands");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&extract)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() + Duration::from_secs(600))
        .expect("mtime");
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("nothing ready"), "{}", stdout(&o));
    assert_eq!(
        sql(&h.root, "select state from files order by id"),
        "waiting\nprocessed"
    );
    // Written and quiet: the next run takes the file.
    age(&extract);
    let o = tallyman(&h.root, &["run"]);
    let out = stdout(&o);
    assert!(
        out.contains("stock_2026-11-25.csv -> succeeded (run r000002"),
        "{out}"
    );
    assert_eq!(
        sql(&h.root, "select state from files order by id"),
        "processed\nprocessed"
    );
    assert!(files_in(&h.root.join("var/landing/inventory_3pl")).is_empty());
    assert_eq!(files_in(&h.root.join("outbox/erp")).len(), 4);
    let runs = stdout(&tallyman(&h.root, &["runs"]));
    assert!(!runs.contains("waiting"), "{runs}");
}

#[test]
fn when_the_wait_runs_out_the_file_is_rejected_with_the_reason() {
    let h = demo_home();
    edit_pipeline(&h.root, |t| t.replace("[erp]\n", "[erp]\nwait_secs = 2\n"));
    std::fs::remove_file(h.root.join(ERP_25)).expect("remove extract");
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("-> waiting"), "{}", stdout(&o));
    // Each run looks again; once the two seconds are over the file is rejected, saying why.
    wait_for(Duration::from_secs(20), || {
        tallyman(&h.root, &["run"]);
        sql(&h.root, "select state from files") == "quarantined"
    });
    assert!(
        sql(&h.root, "select reason from files")
            .starts_with("no ERP extract for business date 2026-11-25"),
        "{}",
        sql(&h.root, "select reason from files")
    );
    assert_eq!(
        sql(&h.root, "select state, message is not null from runs"),
        "rejected|1"
    );
    assert_eq!(
        files_in(&h.root.join("quarantine/inventory_3pl")),
        vec![
            "1-stock_2026-11-25.csv",
            "1-stock_2026-11-25.csv.reason.txt"
        ]
    );
}

#[test]
fn a_bad_sql_holds_the_file_failed_and_a_rerun_after_the_fix_closes_it() {
    let h = demo_home();
    edit_pipeline(&h.root, |t| {
        t.replace("FROM input i", "FROM no_such_table i")
    });
    let o = tallyman(&h.root, &["run"]);
    let out = stdout(&o);
    assert!(out.contains("stock_2026-11-25.csv -> failed"), "{out}");
    assert!(out.contains("configuration: transform `atp`"), "{out}");
    // Not the partner's fault: held, not quarantined, and not retried by later runs.
    assert_eq!(sql(&h.root, "select state from files"), "failed");
    assert!(files_in(&h.root.join("quarantine/inventory_3pl")).is_empty());
    assert!(files_in(&h.root.join("outbox/erp")).is_empty());
    tallyman(&h.root, &["run"]);
    tallyman(&h.root, &["run"]);
    assert_eq!(sql(&h.root, "select state from files"), "failed");
    assert_eq!(sql(&h.root, "select count(*) from runs"), "1");
    // The report says it is held, not quarantined.
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            h.root
                .join("archive/inventory_3pl/2026-11-25/r000001/report.json"),
        )
        .expect("report"),
    )
    .expect("json");
    assert_eq!(report["quarantined"], serde_json::json!([]), "{report}");
    assert!(
        report["held"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("held until a rerun after the fix")),
        "{report}"
    );
    let runs = stdout(&tallyman(&h.root, &["runs"]));
    assert!(
        runs.contains("stock_2026-11-25.csv of inventory_3pl (2026-11-25): failed:")
            && runs.contains("then `tallyman rerun`"),
        "{runs}"
    );
    // The SQL is fixed: a rerun closes the file.
    edit_pipeline(&h.root, |t| {
        t.replace("FROM no_such_table i", "FROM input i")
    });
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "SQL fixed",
        ],
    );
    assert!(
        stdout(&o).contains("state: failed -> succeeded"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        sql(&h.root, "select state, reason from files"),
        "processed|NULL"
    );
    assert_eq!(files_in(&h.root.join("outbox/erp")).len(), 2);
    let runs = stdout(&tallyman(&h.root, &["runs"]));
    assert!(!runs.contains("then `tallyman rerun`"), "{runs}");
}

/// The demo's snapshot processed, then the same bytes as the next day's snapshot (with that
/// day's extract).
fn same_snapshot_next_day(h: &Home) -> Output {
    let drop = h.root.join(DROP);
    let bytes = std::fs::read(drop.join("stock_2026-11-25.csv")).expect("snapshot");
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));
    std::fs::copy(
        h.root.join(ERP_25),
        h.root.join("inbox/erp/erp_onhand_2026-11-26.csv"),
    )
    .expect("next day's extract");
    std::fs::write(drop.join("stock_2026-11-26.csv"), bytes).expect("drop");
    age(&drop.join("stock_2026-11-26.csv"));
    tallyman(&h.root, &["run"])
}

#[test]
fn an_unchanged_snapshot_on_the_next_business_date_is_processed() {
    let h = demo_home();
    let o = same_snapshot_next_day(&h);
    assert!(
        stdout(&o).contains("stock_2026-11-26.csv -> succeeded"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        sql(
            &h.root,
            "select name, state, business_date from files order by id"
        ),
        "stock_2026-11-25.csv|processed|2026-11-25\nstock_2026-11-26.csv|processed|2026-11-26"
    );
    assert!(files_in(&h.root.join("outbox/erp")).contains(&"atp_20261126_r000002.csv".into()));
    // The same bytes again on the same business date are a duplicate.
    let drop = h.root.join(DROP);
    std::fs::copy(
        h.root
            .join("archive/inventory_3pl/2026-11-26/r000002/input/stock_2026-11-26.csv"),
        drop.join("stock_2026-11-26_again.csv"),
    )
    .expect("again");
    age(&drop.join("stock_2026-11-26_again.csv"));
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("-> duplicate"), "{}", stdout(&o));
    assert_eq!(
        sql(
            &h.root,
            "select reason like 'same content for the same business date%' from files where id = 3"
        ),
        "1"
    );
}

#[test]
fn under_the_content_rule_an_unchanged_snapshot_is_a_duplicate() {
    let h = demo_home();
    edit_pipeline(&h.root, |t| {
        t.replace("[source]\n", "[source]\nduplicates = \"content\"\n")
    });
    let o = same_snapshot_next_day(&h);
    assert!(
        stdout(&o).contains("stock_2026-11-26.csv -> duplicate"),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        sql(
            &h.root,
            "select state, duplicate_of from files where id = 2"
        ),
        "duplicate|1"
    );
}

#[test]
fn an_unknown_duplicate_rule_or_wait_key_is_a_config_error() {
    let h = demo_home();
    let check = |h: &Home, expect: &str| {
        let o = tallyman(&h.root, &["check"]);
        let err = String::from_utf8_lossy(&o.stderr).into_owned() + &stdout(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(expect), "{err}");
    };
    edit_pipeline(&h.root, |t| {
        t.replace("[source]\n", "[source]\nduplicates = \"by_name\"\n")
    });
    check(&h, "source.duplicates: `by_name` is not one of content_per_business_date, content, name_and_content");
    edit_pipeline(&h.root, |t| {
        t.replace("duplicates = \"by_name\"\n", "")
            .replace("[erp]\n", "[erp]\nwait = \"6h\"\n")
    });
    check(&h, "unknown field `wait`");
}

/// A ledger whose `files` table was created by the old schema (four states, no business date)
/// is upgraded when the binary opens it, and its history still counts.
#[test]
fn an_old_ledger_migrates() {
    let h = demo_home();
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));
    {
        let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).expect("ledger");
        conn.execute_batch(
            "PRAGMA foreign_keys = OFF;
             BEGIN;
             CREATE TABLE files_old (
                 id INTEGER PRIMARY KEY,
                 pipeline TEXT NOT NULL,
                 name TEXT NOT NULL,
                 size INTEGER NOT NULL,
                 sha256 TEXT NOT NULL,
                 received_at TEXT NOT NULL,
                 state TEXT NOT NULL CHECK (state IN ('claimed', 'processed', 'duplicate', 'quarantined')),
                 reason TEXT,
                 duplicate_of INTEGER REFERENCES files(id),
                 correction_of INTEGER REFERENCES files(id),
                 stored_path TEXT
             );
             INSERT INTO files_old SELECT id, pipeline, name, size, sha256, received_at, state,
                 reason, duplicate_of, correction_of, stored_path FROM files;
             DROP TABLE files;
             ALTER TABLE files_old RENAME TO files;
             CREATE INDEX files_by_content ON files (pipeline, sha256);
             CREATE INDEX files_by_name ON files (pipeline, name);
             PRAGMA user_version = 0;
             COMMIT;",
        )
        .expect("old schema");
    }
    // A file whose extract is missing may now wait: the table takes the new state.
    let drop = h.root.join(DROP);
    std::fs::write(
        drop.join("stock_2026-11-27.csv"),
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000002,3PL-RENO,80,0,EA,2026-11-27T23:59:00Z\n",
    )
    .expect("drop");
    age(&drop.join("stock_2026-11-27.csv"));
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("-> waiting"), "{}", home::both(&o));
    assert_eq!(
        sql(
            &h.root,
            "select name, state, business_date from files order by id"
        ),
        "stock_2026-11-25.csv|processed|2026-11-25\nstock_2026-11-27.csv|waiting|2026-11-27"
    );
    assert_eq!(
        sql(&h.root, "pragma user_version"),
        tallyman::store::SCHEMA_VERSION.to_string()
    );
    assert_eq!(
        sql(&h.root, "select count(*) from pragma_foreign_key_check"),
        "0"
    );
}

/// `serve` scanning only every 30 s: what it does sooner, a hint made it do.
fn serve(root: &Path) -> Daemon {
    daemon::serve_with(root, &["--scan-secs", "30"], &[])
}

fn gauge(d: &Daemon, name: &str) -> Option<f64> {
    d.value(name, Some("inventory_3pl"))
}

/// Under `serve` (scanning only every 30 s), the extract landing is what takes the file: the
/// ERP folder is watched.
#[test]
fn under_serve_a_waiting_file_runs_as_soon_as_its_extract_lands() {
    let h = demo_home();
    let extract = h.root.join(ERP_25);
    let saved = std::fs::read(&extract).expect("extract");
    std::fs::remove_file(&extract).expect("remove extract");
    let d = serve(&h.root);
    wait_for(Duration::from_secs(20), || {
        sql(&h.root, "select state from files") == "waiting"
    });
    wait_for(Duration::from_secs(10), || {
        gauge(&d, "tallyman_files_waiting") == Some(1.0)
    });
    std::fs::write(&extract, saved).expect("extract lands");
    // Well inside the 30 s scan interval: taken because the extract's folder changed.
    wait_for(Duration::from_secs(20), || {
        sql(&h.root, "select state from files") == "processed"
    });
    wait_for(Duration::from_secs(10), || {
        gauge(&d, "tallyman_files_waiting") == Some(0.0)
    });
    let (_, log) = d.stop();
    assert!(log.contains("the ERP extract arrived"), "{log}");
    assert_eq!(files_in(&h.root.join("outbox/erp")).len(), 2);
}

/// A scheduled pipeline takes new files only at its ticks, but a file already waiting runs as
/// soon as its extract lands, between ticks.
#[test]
fn a_scheduled_pipeline_runs_a_waiting_file_between_its_ticks() {
    let h = demo_home();
    // Once a year: no tick during the test.
    edit_pipeline(&h.root, |t| {
        t.replace(
            "time_zone = \"America/New_York\"\n",
            "time_zone = \"America/New_York\"\nschedule = \"0 3 1 1 *\"\n",
        )
    });
    let extract = h.root.join(ERP_25);
    let saved = std::fs::read(&extract).expect("extract");
    std::fs::remove_file(&extract).expect("remove extract");
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("-> waiting"), "{}", stdout(&o));
    let d = serve(&h.root);
    std::fs::write(&extract, saved).expect("extract lands");
    wait_for(Duration::from_secs(20), || {
        sql(&h.root, "select state from files") == "processed"
    });
    d.stop();
    assert_eq!(sql(&h.root, "select count(*) from runs"), "1");
}
