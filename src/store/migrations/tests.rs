//! Ledgers written before the migration list existed open and upgrade; a fresh ledger and an
//! upgraded one end with the same tables and columns; a newer ledger is refused.

use rusqlite::Connection;

use super::{MIGRATIONS, SCHEMA_VERSION};
use crate::config::DuplicateRule;
use crate::store::{Claim, FileState, Landing, Ledger, StoreError};

/// Today's main (before this list), copied as it was: `store::ledger::SCHEMA`. Pre-version-1
/// ledgers differ in `files` and lack the columns added later (see `PRE_V1`).
const MAIN_CORE: &str = "
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'processed', 'duplicate', 'quarantined', 'waiting', 'failed')),
    reason TEXT,
    duplicate_of INTEGER REFERENCES files(id),
    correction_of INTEGER REFERENCES files(id),
    stored_path TEXT,
    business_date TEXT
);
CREATE INDEX IF NOT EXISTS files_by_content ON files (pipeline, sha256);
CREATE INDEX IF NOT EXISTS files_by_name ON files (pipeline, name);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT UNIQUE,
    pipeline TEXT NOT NULL,
    business_date TEXT,
    file_id INTEGER REFERENCES files(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'rejected', 'failed')),
    trigger TEXT NOT NULL CHECK (trigger IN ('file', 'rerun')),
    actor TEXT,
    reason TEXT,
    rerun_of TEXT,
    rows INTEGER,
    rows_set_aside INTEGER,
    issues INTEGER,
    counts TEXT,
    archive_path TEXT,
    message TEXT,
    report_state TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_date ON runs (pipeline, business_date);
CREATE TABLE IF NOT EXISTS issues (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    file TEXT NOT NULL,
    line INTEGER,
    column_name TEXT,
    value TEXT,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_by_run ON issues (run_id);
CREATE TABLE IF NOT EXISTS outbound (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    written_at TEXT NOT NULL,
    temp_path TEXT,
    published_at TEXT
);
CREATE TABLE IF NOT EXISTS source_status (
    pipeline TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    last_ok_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    pipeline TEXT NOT NULL,
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    always INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    outcome TEXT,
    UNIQUE (run_id, destination, name)
);";

/// What main's `Ledger::open` added after `MAIN_CORE` (the migrate functions of
/// `store::deliveries`, `store::source_status`, `store::interchanges` and `report::queue`),
/// then what `serve`, `runner::x12_ack` and `runner::sftp_source` created on first use.
const MAIN_REST: &str = "
ALTER TABLE deliveries ADD COLUMN lease_owner TEXT;
ALTER TABLE deliveries ADD COLUMN lease_until INTEGER;
CREATE TABLE IF NOT EXISTS remote_actions (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime INTEGER NOT NULL,
    action TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'done', 'dropped')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at TEXT NOT NULL,
    done_at TEXT,
    UNIQUE (pipeline, name, size, mtime, action)
);
CREATE TABLE IF NOT EXISTS x12_interchanges_received (
    sender TEXT NOT NULL,
    control TEXT NOT NULL,
    file TEXT NOT NULL,
    run_id TEXT NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (sender, control)
);
CREATE TABLE IF NOT EXISTS mail_queue (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    message_id TEXT NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    recipients TEXT NOT NULL,
    message BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
);
CREATE INDEX IF NOT EXISTS mail_queue_due ON mail_queue (state, next_attempt_at);
CREATE TABLE IF NOT EXISTS mail_identity (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    tag TEXT NOT NULL
);
ALTER TABLE mail_queue ADD COLUMN lease_owner TEXT;
INSERT OR IGNORE INTO mail_identity (id, tag) VALUES (1, '00c0ffee00c0ffee');
PRAGMA user_version = 1;";

/// Created on first use by main's `serve` (daemon/state.rs), `runner/x12_ack.rs` and
/// `runner/sftp_source.rs`: a ledger may hold any of them.
const MAIN_ON_USE: &str = "
CREATE TABLE IF NOT EXISTS daemon_pipelines (
    pipeline TEXT PRIMARY KEY,
    last_scheduled_run TEXT,
    expected_since TEXT
);
CREATE TABLE IF NOT EXISTS late_alerts (
    pipeline TEXT NOT NULL,
    window_date TEXT NOT NULL,
    deadline TEXT NOT NULL,
    raised_at TEXT NOT NULL,
    PRIMARY KEY (pipeline, window_date)
);
CREATE TABLE IF NOT EXISTS x12_control_numbers (
    partner TEXT PRIMARY KEY,
    last_interchange INTEGER NOT NULL,
    last_group INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sftp_kept (
    pipeline TEXT NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL, mtime INTEGER NOT NULL,
    PRIMARY KEY (pipeline, name, size, mtime));";

/// A ledger of the first releases: `files` with four states and no business date, `runs`
/// without `report_state`, `outbound` without its staging columns, `deliveries` without
/// leases, `x12_interchanges_received` without `accepted`, `mail_queue` without its lease and
/// no `mail_identity`; `user_version` 0.
fn pre_v1() -> String {
    let core = MAIN_CORE
        .replace("'quarantined', 'waiting', 'failed')", "'quarantined')")
        .replace(
            "    stored_path TEXT,\n    business_date TEXT\n",
            "    stored_path TEXT\n",
        )
        .replace(
            "    message TEXT,\n    report_state TEXT\n",
            "    message TEXT\n",
        )
        .replace(
            "    written_at TEXT NOT NULL,\n    temp_path TEXT,\n    published_at TEXT\n",
            "    written_at TEXT NOT NULL\n",
        );
    assert!(!core.contains("'waiting'") && !core.contains("report_state"));
    assert!(!core.contains("temp_path") && !core.contains("business_date TEXT\n);"));
    format!(
        "{core}
        CREATE TABLE x12_interchanges_received (
            sender TEXT NOT NULL, control TEXT NOT NULL, file TEXT NOT NULL, run_id TEXT NOT NULL,
            PRIMARY KEY (sender, control));
        CREATE TABLE mail_queue (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, pipeline TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE, subject TEXT NOT NULL, envelope_from TEXT NOT NULL,
            recipients TEXT NOT NULL, message BLOB NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER NOT NULL,
            last_error TEXT, created_at INTEGER NOT NULL, sent_at INTEGER);"
    )
}

fn write(path: &std::path::Path, sql: &str) {
    let conn = Connection::open(path).expect("open");
    conn.execute_batch(sql).expect("old schema");
}

/// (table, sorted columns with type, not-null and default), and index names, of a ledger.
fn shape(ledger: &Ledger) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let conn = ledger.connection();
    let names = |kind: &str| -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = ?1 AND name NOT LIKE 'sqlite_%'
                 ORDER BY name",
            )
            .expect("prepare");
        let rows = stmt.query_map([kind], |r| r.get(0)).expect("query");
        rows.collect::<Result<_, _>>().expect("names")
    };
    let tables = names("table")
        .into_iter()
        .map(|t| {
            let mut stmt = conn
                .prepare("SELECT name, type, \"notnull\", dflt_value FROM pragma_table_info(?1)")
                .expect("prepare");
            let rows = stmt
                .query_map([&t], |r| {
                    Ok(format!(
                        "{} {} {} {:?}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?
                    ))
                })
                .expect("query");
            let mut cols: Vec<String> = rows.collect::<Result<_, _>>().expect("columns");
            cols.sort();
            (t, cols)
        })
        .collect();
    (tables, names("index"))
}

fn version(ledger: &Ledger) -> i64 {
    ledger
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version")
}

#[test]
fn versions_count_up_from_one() {
    for (i, m) in MIGRATIONS.iter().enumerate() {
        assert_eq!(m.version, i as i64 + 1);
        assert!(!m.steps.is_empty());
    }
    assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
}

/// Another program's SQLite file is refused, untouched.
#[test]
fn another_programs_database_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("other.sqlite");
    write(&path, "PRAGMA application_id = 42; CREATE TABLE t (x);");
    let err = Ledger::open(&path).err().expect("refused");
    assert!(
        matches!(
            err,
            StoreError::NotALedger {
                application_id: 42,
                ..
            }
        ),
        "{err}"
    );
}

/// Every kind of old ledger ends with exactly the tables, columns and indexes of a new one.
#[test]
fn old_ledgers_end_like_new_ones() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = Ledger::open(&dir.path().join("new.sqlite")).expect("new ledger");
    assert_eq!(version(&fresh), SCHEMA_VERSION);
    let want = shape(&fresh);
    let kinds = [
        ("pre-v1", pre_v1()),
        ("main", format!("{MAIN_CORE}{MAIN_REST}")),
        ("main, used", format!("{MAIN_CORE}{MAIN_REST}{MAIN_ON_USE}")),
        ("main core only", MAIN_CORE.to_string()),
    ];
    for (kind, sql) in kinds {
        let path = dir.path().join(format!("{kind}.sqlite"));
        write(&path, &sql);
        let ledger = Ledger::open(&path).unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(version(&ledger), SCHEMA_VERSION, "{kind}");
        assert_eq!(shape(&ledger), want, "{kind}");
        drop(ledger);
        let again = Ledger::open(&path).expect("reopen");
        assert_eq!(shape(&again), want, "{kind}: opening again changes nothing");
    }
}

/// A ledger written by main, used by `serve`, X12 and SFTP, keeps every row, and the typed
/// methods read them.
#[test]
fn a_main_ledger_keeps_its_rows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    write(
        &path,
        &format!(
            "{MAIN_CORE}{MAIN_REST}{MAIN_ON_USE}
            INSERT INTO runs (run_id, pipeline, started_at, state, trigger, archive_path, report_state)
            VALUES ('r000001', 'p', '2026-11-25T10:00:00.000Z', 'succeeded', 'file', 'archive/p/r1', 'pending');
            INSERT INTO mail_queue (run_id, pipeline, message_id, subject, envelope_from, recipients,
                message, state, attempts, next_attempt_at, created_at, lease_owner)
            VALUES ('r000001', 'p', '<m@x>', 's', 'a@x', '[\"b@x\"]', x'41', 'failed', 1, 0, 0, NULL);
            INSERT INTO daemon_pipelines (pipeline, last_scheduled_run)
            VALUES ('p', '2026-11-25T06:00:00.000Z');
            INSERT INTO late_alerts VALUES ('p', '2026-11-24', 'd', 'r');
            INSERT INTO x12_control_numbers VALUES ('ZZ:ACME', 41, 7);
            INSERT INTO sftp_kept VALUES ('p', 'a.csv', 3, 100);"
        ),
    );
    let ledger = Ledger::open(&path).expect("upgrades");
    assert_eq!(ledger.home_tag().expect("tag"), "00c0ffee00c0ffee");
    assert_eq!(
        ledger.pending_reports("p").expect("pending"),
        vec![("r000001".to_string(), "archive/p/r1".to_string())]
    );
    let mail = ledger.mail_queue().expect("mail");
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].state, crate::store::MailState::Failed);
    assert_eq!(mail[0].recipients, vec!["b@x"]);
    assert!(ledger.requeue_mail(mail[0].id, 5).expect("requeue"));
    assert_eq!(
        ledger.last_scheduled_run("p").expect("schedule"),
        "2026-11-25T06:00:00Z".parse().ok()
    );
    assert_eq!(
        ledger.raised_alerts().expect("alerts"),
        vec![("p".to_string(), "2026-11-24".parse().expect("date"))]
    );
    assert_eq!(ledger.next_x12_controls("ZZ:ACME").expect("next"), (42, 8));
    assert!(ledger.already_kept("p", "a.csv", 3, 100).expect("kept"));
    assert!(!ledger.already_kept("p", "a.csv", 4, 100).expect("kept"));
}

/// A ledger written by a newer Tallyman is refused, untouched.
#[test]
fn a_newer_ledger_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    drop(Ledger::open(&path).expect("new"));
    write(
        &path,
        &format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1),
    );
    let err = Ledger::open(&path).err().expect("refused");
    assert!(
        matches!(err, StoreError::TooNew { found, known, .. } if found == SCHEMA_VERSION + 1 && known == SCHEMA_VERSION),
        "{err}"
    );
    assert!(
        err.to_string().contains("newer than this Tallyman knows"),
        "{err}"
    );
    let conn = Connection::open(&path).expect("open");
    let v: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("version");
    assert_eq!(v, SCHEMA_VERSION + 1);
}

/// A ledger written by the old schema is rebuilt on open: its files keep their ids, links
/// and runs, gain the business date of their first run, and may then be `waiting`/`failed`.
#[test]
fn old_ledgers_gain_the_new_file_states() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(&pre_v1()).expect("old schema");
        conn.execute_batch(
            "INSERT INTO files (id, pipeline, name, size, sha256, received_at, state, stored_path)
             VALUES (1, 'p', 'a.csv', 3, 'aa', '2026-11-25T10:00:00.000Z', 'processed', 'archive/a');
             INSERT INTO files (id, pipeline, name, size, sha256, received_at, state, duplicate_of)
             VALUES (2, 'p', 'b.csv', 3, 'aa', '2026-11-25T11:00:00.000Z', 'duplicate', 1);
             INSERT INTO runs (run_id, pipeline, business_date, file_id, started_at, state, trigger)
             VALUES ('r000001', 'p', '2026-11-25', 1, '2026-11-25T10:00:01Z', 'succeeded', 'file');",
        )
        .expect("old rows");
        let bad = conn.execute("UPDATE files SET state = 'waiting' WHERE id = 1", []);
        assert!(bad.is_err(), "the old CHECK refuses the new states");
    }
    let mut ledger = Ledger::open(&path).expect("migrates");
    let conn = ledger.connection();
    assert_eq!(version(&ledger), SCHEMA_VERSION);
    let rows: Vec<(i64, String, Option<i64>, Option<String>)> = conn
        .prepare("SELECT id, state, duplicate_of, business_date FROM files ORDER BY id")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        vec![
            (1, "processed".into(), None, Some("2026-11-25".into())),
            (2, "duplicate".into(), Some(1), None),
        ]
    );
    ledger
        .set_file_state(1, FileState::Waiting, Some("w"), "x")
        .expect("waiting is a state now");
    ledger
        .set_file_state(1, FileState::Failed, Some("f"), "x")
        .expect("failed is a state now");
    // Foreign keys are on again, and point at the rebuilt table.
    let orphan = ledger.connection().execute(
        "INSERT INTO runs (run_id, pipeline, file_id, started_at, state, trigger)
         VALUES ('r000009', 'p', 99, 'now', 'running', 'file')",
        [],
    );
    assert!(orphan.is_err(), "runs.file_id still references files");
    // The claim works on the migrated table (per business date by default).
    let landing = |name, date| Landing {
        name,
        size: 3,
        sha256: "aa",
        business_date: Some(date),
        received_at: "2026-11-26T10:00:00.000Z",
        stored: "var/landing/p/x",
    };
    let next_day = ledger
        .claim(
            "p",
            &landing("c.csv", "2026-11-26"),
            DuplicateRule::default(),
        )
        .expect("claim");
    assert!(matches!(next_day, Claim::New { .. }), "{next_day:?}");
    drop(ledger);
    // Opening again changes nothing.
    let again = Ledger::open(&path).expect("reopen");
    let n: i64 = again
        .connection()
        .query_row("SELECT count(*) FROM files", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 3);
}

/// A ledger created before `runs.report_state` existed gets the column on open, and its
/// old runs (NULL) are never taken for pending reports.
#[test]
fn old_ledgers_gain_the_report_state_column() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(&pre_v1()).expect("old schema");
        conn.execute(
            "INSERT INTO runs (run_id, pipeline, started_at, state, trigger, archive_path)
             VALUES ('r000001', 'p', '2026-01-01T00:00:00Z', 'succeeded', 'file', 'archive/p')",
            [],
        )
        .expect("old run");
    }
    let ledger = Ledger::open(&path).expect("reopen");
    assert!(ledger.pending_reports("p").expect("pending").is_empty());
    ledger
        .connection()
        .execute("UPDATE runs SET report_state = 'pending'", [])
        .expect("column exists");
    assert_eq!(
        ledger.pending_reports("p").expect("pending"),
        vec![("r000001".to_string(), "archive/p".to_string())]
    );
    ledger.set_report_done("r000001").expect("done");
    assert!(ledger.pending_reports("p").expect("pending").is_empty());
}

/// Version 6 numbers the rows of a version-5 ledger by their rowid: outputs recorded before it
/// are still published in the order they were recorded (a control file after its data file).
#[test]
fn version_6_keeps_the_order_rows_were_recorded_in() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("ledger.sqlite");
    {
        let ledger = Ledger::open(&path).expect("new");
        ledger
            .connection()
            .execute_batch(
                "ALTER TABLE outbound DROP COLUMN seq;
                 ALTER TABLE issues DROP COLUMN seq;
                 ALTER TABLE open_item_observations DROP COLUMN seq;
                 INSERT INTO runs (run_id, pipeline, started_at, state, trigger)
                 VALUES ('r000001', 'p', 'now', 'succeeded', 'file');
                 INSERT INTO outbound (run_id, destination, name, path, size, sha256, written_at, temp_path)
                 VALUES ('r000001', 'erp', 'z_data.csv', 'outbox/erp/z_data.csv', 1, 'a', 'now', 't1'),
                        ('r000001', 'erp', 'a_data.ctl', 'outbox/erp/a_data.ctl', 1, 'b', 'now', 't2');
                 PRAGMA user_version = 5;",
            )
            .expect("a version-5 ledger");
    }
    let ledger = Ledger::open(&path).expect("migrates");
    assert_eq!(version(&ledger), SCHEMA_VERSION);
    let names: Vec<String> = ledger
        .unpublished_outputs("p")
        .expect("unpublished")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["z_data.csv", "a_data.ctl"]);
    let seqs: Vec<(String, i64)> = ledger
        .connection()
        .prepare("SELECT name, seq FROM outbound ORDER BY name")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        seqs,
        [("a_data.ctl".to_string(), 2), ("z_data.csv".to_string(), 1)],
        "numbered by rowid"
    );
}
