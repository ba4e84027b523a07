//! The ledger's typed questions asked of both backends: each case runs on a fresh SQLite
//! ledger and on a fresh database of one throwaway PostgreSQL cluster (`db::pg_cluster`), and
//! the two schemas the migrations build are compared table by table, column by column.

use std::time::Duration;

use super::db::pg_cluster::{PgCluster, USER};
use super::db::Exec;
use super::{Claim, FileState, Landing, Ledger, RunFilter, RunState, StoreError};
use crate::config::ledger::{PasswordSource, PostgresTarget};
use crate::config::DuplicateRule;

fn target(cluster: &PgCluster, dbname: &str) -> PostgresTarget {
    PostgresTarget {
        host: "127.0.0.1".into(),
        port: cluster.port,
        user: USER.into(),
        dbname: dbname.into(),
        password: PasswordSource::File(cluster.password_file.clone()),
        connect_timeout: Duration::from_secs(5),
    }
}

/// One case: a name and its body, given a fresh ledger.
type Case = (&'static str, fn(&mut Ledger));

const CASES: &[Case] = &[
    ("the duplicate rule decides the claim", duplicate_rule),
    ("a correction names the file it corrects", correction),
    ("runs are numbered, finished and listed", runs),
    ("the daemon's times and alerts", daemon_state),
];

#[test]
fn ledger_cases_on_sqlite() {
    for (name, case) in CASES {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
        eprintln!("sqlite: {name}");
        case(&mut ledger);
    }
}

#[test]
fn ledger_cases_on_postgres() {
    let cluster = PgCluster::start();
    for (name, case) in CASES {
        let mut ledger =
            Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
        eprintln!("postgres: {name}");
        case(&mut ledger);
    }
}

fn landing<'a>(name: &'a str, sha256: &'a str, date: Option<&'a str>) -> Landing<'a> {
    Landing {
        name,
        size: 3,
        sha256,
        business_date: date,
        received_at: "2026-11-25T10:00:00.000Z",
        stored: "var/landing/p/x",
    }
}

/// Each duplicate rule, on the same history.
fn duplicate_rule(ledger: &mut Ledger) {
    let file = |name, date| landing(name, "same", date);
    let first = file("stock_a.csv", Some("2026-11-25"));
    for rule in [
        DuplicateRule::ContentPerBusinessDate,
        DuplicateRule::Content,
        DuplicateRule::NameAndContent,
    ] {
        let c = ledger.claim(rule.as_str(), &first, rule).expect("claim");
        assert!(matches!(c, Claim::New { .. }));
    }
    let check = |ledger: &mut Ledger, rule: DuplicateRule, f: Landing<'_>, dup: bool| {
        let c = ledger.claim(rule.as_str(), &f, rule).expect("claim");
        assert_eq!(matches!(c, Claim::Duplicate { .. }), dup, "{rule:?} {f:?}");
    };
    use DuplicateRule::*;
    let same_date_other_name = file("stock_b.csv", Some("2026-11-25"));
    let next_date = file("stock_c.csv", Some("2026-11-26"));
    let same_name_next_date = file("stock_a.csv", Some("2026-11-27"));
    check(ledger, ContentPerBusinessDate, same_date_other_name, true);
    check(ledger, ContentPerBusinessDate, next_date, false);
    check(ledger, Content, same_date_other_name, true);
    check(ledger, Content, next_date, true);
    check(ledger, NameAndContent, same_date_other_name, false);
    check(ledger, NameAndContent, same_name_next_date, true);
    // Undated files (the name gave no date) meet each other.
    check(ledger, ContentPerBusinessDate, file("x.csv", None), false);
    check(ledger, ContentPerBusinessDate, file("y.csv", None), true);
}

fn correction(ledger: &mut Ledger) {
    let rule = DuplicateRule::ContentPerBusinessDate;
    let Claim::New { file_id: first, .. } = ledger
        .claim("p", &landing("a.csv", "one", Some("2026-11-25")), rule)
        .expect("claim")
    else {
        panic!("first claim is new")
    };
    let again = ledger
        .claim("p", &landing("a.csv", "two", Some("2026-11-25")), rule)
        .expect("claim");
    assert!(
        matches!(again, Claim::New { correction_of: Some(f), .. } if f == first),
        "{again:?}"
    );
    let dup = ledger
        .claim("p", &landing("b.csv", "one", Some("2026-11-25")), rule)
        .expect("claim");
    assert!(
        matches!(dup, Claim::Duplicate { duplicate_of, .. } if duplicate_of == first),
        "{dup:?}"
    );
    assert_eq!(
        ledger.file_content(first).expect("content"),
        Some((3, "one".to_string()))
    );
    assert_eq!(ledger.file_content(9999).expect("content"), None);
    ledger
        .set_file_state(first, FileState::Processed, Some("done"), "archive/p/x")
        .expect("state");
    assert_eq!(
        ledger.file_states("p").expect("states"),
        vec![
            ("claimed".to_string(), 1),
            ("duplicate".to_string(), 1),
            ("processed".to_string(), 1)
        ]
    );
}

fn runs(ledger: &mut Ledger) {
    let Claim::New { file_id, .. } = ledger
        .claim(
            "p",
            &landing("a.csv", "x", Some("2026-11-25")),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    let now = "2026-11-25T10:00:00.000Z";
    let first = ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            Some(file_id),
            now,
            "file",
            None,
            None,
            None,
        )
        .expect("start");
    let second = ledger
        .start_run(
            "q",
            None,
            None,
            now,
            "rerun",
            Some("ann"),
            Some("why"),
            Some(&first),
        )
        .expect("start");
    assert_eq!((first.as_str(), second.as_str()), ("r000001", "r000002"));
    assert_eq!(ledger.run_archive(&first).expect("archive"), None);
    ledger
        .set_run_archive(&first, "archive/p/2026-11-25/r000001")
        .expect("archive");
    assert_eq!(
        ledger.run_archive(&first).expect("archive").as_deref(),
        Some("archive/p/2026-11-25/r000001")
    );
    let all = ledger.runs(&RunFilter::default()).expect("runs");
    let ids: Vec<_> = all.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["r000002", "r000001"], "newest first");
    assert_eq!(all[1].file.as_deref(), Some("a.csv"));
    assert_eq!(all[1].file_id, Some(file_id));
    assert_eq!(all[1].state, RunState::Running.as_str());
    assert_eq!(all[0].actor.as_deref(), Some("ann"));
    let only_p = ledger
        .runs(&RunFilter {
            pipeline: Some("p".into()),
            date: Some("2026-11-25".into()),
            state: Some("running".into()),
            limit: Some(10),
        })
        .expect("runs");
    assert_eq!(only_p.len(), 1);
    assert!(ledger
        .outbound_for_run(&first)
        .expect("outbound")
        .is_empty());
}

fn daemon_state(ledger: &mut Ledger) {
    use chrono::{NaiveDate, TimeZone, Utc};
    let t = Utc
        .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
        .single()
        .expect("time");
    assert_eq!(ledger.last_scheduled_run("p").expect("read"), None);
    ledger.set_last_scheduled_run("p", t).expect("set");
    ledger
        .set_last_scheduled_run("p", t + chrono::Duration::hours(1))
        .expect("set again");
    assert_eq!(
        ledger.last_scheduled_run("p").expect("read"),
        Some(t + chrono::Duration::hours(1))
    );
    assert_eq!(ledger.expected_since("p", t).expect("since"), t);
    assert_eq!(
        ledger
            .expected_since("p", t + chrono::Duration::days(1))
            .expect("since"),
        t,
        "set once"
    );
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    ledger.record_alert("p", day, t, t).expect("alert");
    ledger.record_alert("p", day, t, t).expect("alert once");
    assert_eq!(
        ledger.raised_alerts().expect("alerts"),
        vec![("p".to_string(), day)]
    );
    ledger
        .claim(
            "p",
            &landing("a.csv", "w", Some("2026-11-24")),
            DuplicateRule::Content,
        )
        .expect("claim");
    ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            None,
            "2026-11-25T10:00:00.000Z",
            "file",
            None,
            None,
            None,
        )
        .expect("start");
    assert_eq!(ledger.arrival_dates("p").expect("arrivals"), vec![day]);
}

/// Every table and its columns in order, as the backend reports them.
fn schema(ledger: &Ledger) -> Vec<(String, Vec<String>)> {
    let mut db = ledger.db();
    let rows = match db.dialect() {
        super::db::Dialect::Sqlite => db.query(
            "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, c.cid",
            &[],
        ),
        super::db::Dialect::Postgres => db.query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> 'tallyman_ledger'
             ORDER BY table_name, ordinal_position",
            &[],
        ),
    }
    .expect("schema");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in rows {
        let (table, column): (String, String) = (r.get(0).expect("t"), r.get(1).expect("c"));
        match out.last_mut() {
            Some((t, cols)) if *t == table => cols.push(column),
            _ => out.push((table, vec![column])),
        }
    }
    out
}

/// The same migrations build the same tables on both; a PostgreSQL ledger is versioned like
/// SQLite's: reopened as it is, a newer one refused, a database holding other tables refused,
/// two daemons creating it at once both succeed.
#[test]
fn postgres_migrations_match_sqlite_and_are_versioned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
    let cluster = PgCluster::start();
    let name = cluster.database();
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("open");
    let (want, got) = (schema(&sqlite), schema(&pg));
    assert!(want.len() > 20, "{want:?}");
    assert_eq!(got, want);
    drop(pg);

    // Reopened: nothing to do, same version.
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("reopen");
    let version = |l: &Ledger| -> i64 {
        l.db()
            .query_one("SELECT version FROM tallyman_ledger", &[])
            .and_then(|r| r.get(0))
            .expect("version")
    };
    assert_eq!(version(&pg), super::SCHEMA_VERSION);
    pg.db()
        .execute("UPDATE tallyman_ledger SET version = version + 1", &[])
        .expect("wind forward");
    drop(pg);
    let err = Ledger::open_postgres(&target(&cluster, &name)).err();
    assert!(
        matches!(err, Some(StoreError::TooNew { found, known, .. }) if found == known + 1),
        "{err:?}"
    );

    let other = cluster.database();
    cluster
        .client(&other)
        .and_then(|mut c| c.batch_execute("CREATE TABLE accounts (id int)"))
        .expect("another program's table");
    let err = Ledger::open_postgres(&target(&cluster, &other)).err();
    assert!(
        matches!(err, Some(StoreError::NotALedger { .. })),
        "{err:?}"
    );

    // Two daemons starting together on an empty database: one creates, the other waits.
    let fresh = cluster.database();
    let t = target(&cluster, &fresh);
    let both: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| Ledger::open_postgres(&t).map(|_| ()));
        let b = s.spawn(|| Ledger::open_postgres(&t).map(|_| ()));
        vec![a.join().expect("a"), b.join().expect("b")]
    });
    assert!(both.iter().all(Result::is_ok), "{both:?}");
}

/// What is not on `store::db` yet refuses a PostgreSQL ledger by name, never half-works; and
/// a wrong password says whose ledger it is, never the password.
#[test]
fn postgres_refusals_are_clear() {
    let cluster = PgCluster::start();
    let name = cluster.database();
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("open");
    let err = pg
        .finish_run(
            "r000001",
            "now",
            "succeeded",
            None,
            None,
            &[],
            None,
            None,
            None,
            false,
            &[],
            None,
            None,
            None,
            None,
        )
        .expect_err("not yet");
    assert!(
        err.to_string()
            .contains("finish a run: not yet supported with the PostgreSQL ledger"),
        "{err}"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = dir.path().join("pw");
    std::fs::write(&wrong, "wrong-password\n").expect("write");
    let mut t = target(&cluster, &name);
    t.password = PasswordSource::File(wrong);
    let err = Ledger::open_postgres(&t).err().expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "postgresql://tallyman@127.0.0.1:{}/{name}",
            cluster.port
        )),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
    t.password = PasswordSource::Env("TALLYMAN_TEST_NO_SUCH_VARIABLE".into());
    let err = Ledger::open_postgres(&t).err().expect("refused");
    assert!(
        err.to_string()
            .contains("TALLYMAN_TEST_NO_SUCH_VARIABLE is not set"),
        "{err}"
    );
}
