//! PostgreSQL's own: the schemas compared, versioning, refusals, reconnecting after a
//! restart, the export from SQLite, and a measurement of both backends.

use super::*;

/// Every table and its columns in order, as the backend reports them.
pub(super) fn schema(ledger: &Ledger) -> Vec<(String, Vec<String>)> {
    let mut db = ledger.db();
    let rows = match db.dialect() {
        crate::store::db::Dialect::Sqlite => db.query(
            "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, c.cid",
            &[],
        ),
        crate::store::db::Dialect::Postgres => db.query(
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
    assert_eq!(version(&pg), crate::store::SCHEMA_VERSION);
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

/// A run's end with open items on PostgreSQL keeps them (observations in the order seen),
/// its outputs come back unpublished in the order recorded, and a dry run's copy is a SQLite
/// ledger holding the same runs; a wrong password says whose ledger it is, never the password.
#[test]
fn postgres_run_end_dry_run_copy_and_refusals() {
    let cluster = PgCluster::start();
    let name = cluster.database();
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("open");
    let run = pg
        .start_run("p", None, None, "now", "file", None, None, None)
        .expect("run");
    let observed: Vec<crate::engine::open_items::Observation> = ["k9", "k1", "k5"]
        .iter()
        .map(|k| crate::engine::open_items::Observation {
            identity: crate::engine::open_items::Identity {
                key: k.to_string(),
                kind: "missing".into(),
            },
            amount: None,
            currency: None,
            source: "erp".into(),
        })
        .collect();
    let view = crate::engine::open_items::RunView {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        run: run.clone(),
        observed: observed.clone(),
        matched: Default::default(),
    };
    let outputs: Vec<crate::store::outputs::NewOutbound> = ["z_data.csv", "a_data.ctl"]
        .iter()
        .map(|n| crate::store::outputs::NewOutbound {
            destination: "erp".into(),
            name: n.to_string(),
            path: format!("outbox/erp/{n}"),
            size: 1,
            sha256: "00".into(),
            temp_path: format!("outbox/erp/.{n}.tmp"),
            delivery: None,
        })
        .collect();
    pg.finish_run(
        &run,
        "now",
        "succeeded",
        None,
        None,
        &[],
        None,
        None,
        None,
        false,
        &outputs,
        None,
        Some(("p", &view)),
        None,
        None,
    )
    .expect("a run's end with open items");
    let names: Vec<String> = pg
        .unpublished_outputs("p")
        .expect("unpublished")
        .into_iter()
        .map(|u| u.name)
        .collect();
    assert_eq!(names, ["z_data.csv", "a_data.ctl"], "the order recorded");
    let (views, _) = pg.open_item_history("p", None).expect("history");
    assert_eq!(
        views.len(),
        0,
        "the run has no business date: not in the book"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("copy.sqlite");
    pg.copy_to(&copy).expect("copy for a dry run");
    let scratch = Ledger::open(&copy).expect("open the copy");
    assert_eq!(
        scratch.runs(&RunFilter::default()).expect("runs")[0].run_id,
        run
    );
    assert_eq!(
        scratch.unpublished_outputs("p").expect("unpublished").len(),
        2
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

/// Every row of every table, as text, sorted (row order is not part of the comparison).
pub(super) fn contents(ledger: &Ledger, tables: &[String]) -> Vec<(String, Vec<String>)> {
    tables
        .iter()
        .map(|t| {
            let mut rows: Vec<String> = ledger
                .db()
                .query(&format!("SELECT * FROM {t}"), &[])
                .expect("read")
                .iter()
                .map(|r| format!("{r:?}"))
                .collect();
            rows.sort();
            (t.clone(), rows)
        })
        .collect()
}

/// A SQLite ledger with runs, outputs, uploads, mail, catalogs, sources and the daemon's
/// tables, exported into an empty PostgreSQL ledger: every row the same, ids and the home's
/// Message-ID tag kept, new rows numbered after the copied ones, a second export refused.
#[test]
fn a_sqlite_ledger_exports_into_postgres_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sqlite = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
    for case in [run_end, mail, catalogs, sources, daemon_state] {
        case(&mut sqlite);
    }
    let cluster = PgCluster::start();
    let mut pg = Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
    let copied = sqlite.export_to(&pg).expect("export");
    let tables: Vec<String> = copied.iter().map(|(t, _)| t.clone()).collect();
    assert!(
        copied.iter().any(|(t, n)| t == "runs" && *n == 5),
        "{copied:?}"
    );
    let (want, got) = (contents(&sqlite, &tables), contents(&pg, &tables));
    for ((table, want), (_, got)) in want.iter().zip(&got) {
        assert_eq!(got, want, "{table}");
    }
    assert_eq!(pg.home_tag().expect("tag"), sqlite.home_tag().expect("tag"));
    let next = pg
        .start_run("p", None, None, "now", "file", None, None, None)
        .expect("a new run");
    assert_eq!(next, "r000006");
    let Claim::New { file_id, .. } = pg
        .claim(
            "p",
            &landing("new.csv", "new", None),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    let most: i64 = sqlite
        .db()
        .query_one("SELECT max(id) FROM files", &[])
        .and_then(|r| r.get(0))
        .expect("max");
    assert_eq!(file_id, most + 1);
    let err = sqlite.export_to(&pg).expect_err("not empty");
    assert!(
        err.to_string().contains("only fills an empty ledger"),
        "{err}"
    );
}

/// Ledger writes per second, SQLite against PostgreSQL (fsync on for both), one ledger and
/// three at once: each file claimed, its run started and ended. A measurement, not a check:
/// `cargo test --lib store::backend_tests::postgres::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_claims_per_second() {
    const FILES: usize = 300;
    fn work(open: &(dyn Fn() -> Ledger + Sync), threads: usize) -> f64 {
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    let mut ledger = open();
                    for i in 0..FILES / threads {
                        let name = format!("f{t}-{i}.csv");
                        let Claim::New { file_id, .. } = ledger
                            .claim("p", &landing(&name, &name, None), DuplicateRule::Content)
                            .expect("claim")
                        else {
                            panic!("new")
                        };
                        let run = ledger
                            .start_run("p", None, Some(file_id), "now", "file", None, None, None)
                            .expect("run");
                        ledger
                            .finish_run(
                                &run,
                                "now",
                                "succeeded",
                                Some(1000),
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
                            .expect("finish");
                    }
                });
            }
        });
        FILES as f64 / started.elapsed().as_secs_f64()
    }
    let cluster = PgCluster::start_with(true);
    for threads in [1, 3] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("l.sqlite");
        let sqlite = work(&|| Ledger::open(&path).expect("open"), threads);
        let t = target(&cluster, &cluster.database());
        let pg = work(&|| Ledger::open_postgres(&t).expect("open"), threads);
        eprintln!("{threads} ledger(s): sqlite {sqlite:.0} files/s, postgres {pg:.0} files/s");
    }
}

/// What a daemon's ledger calls cost on this machine (a measurement, ignored by default; the
/// client as built, debug in tests): one statement's round trip, a new connection (password
/// exchange, server process, schema check), and a run's end with a thousand issues, against
/// SQLite. `cargo test --lib store::backend_tests::postgres::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_round_trips() {
    fn each(n: u32, mut f: impl FnMut()) -> f64 {
        let started = std::time::Instant::now();
        for _ in 0..n {
            f();
        }
        started.elapsed().as_secs_f64() * 1000.0 / f64::from(n)
    }
    let issues: Vec<_> = (0..1000)
        .map(|n| crate::issue::Issue::error("a.csv", "reference", format!("unknown {n}")))
        .collect();
    let run_end = |ledger: &mut Ledger| {
        let run =
            (ledger.start_run("p", None, None, "now", "file", None, None, None)).expect("run");
        each(1, || {
            ledger
                .finish_run(
                    &run,
                    "now",
                    "succeeded",
                    None,
                    None,
                    &issues,
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
                .expect("finish");
        })
    };
    let cluster = PgCluster::start();
    let t = target(&cluster, &cluster.database());
    let mut pg = Ledger::open_postgres(&t).expect("open");
    let statement = each(2000, || {
        pg.last_scheduled_run("p").expect("ask");
    });
    let connect = each(20, || drop(Ledger::open_postgres(&t).expect("open")));
    let pg_end = run_end(&mut pg);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut lite = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
    let lite_statement = each(2000, || {
        lite.last_scheduled_run("p").expect("ask");
    });
    let lite_end = run_end(&mut lite);
    eprintln!(
        "postgres: a statement {statement:.3} ms, a connection {connect:.1} ms, a run's end \
         with 1,000 issues {pg_end:.1} ms; sqlite: a statement {lite_statement:.3} ms, the \
         run's end {lite_end:.1} ms"
    );
}

/// PostgreSQL stopped under a ledger: the statement fails as a connection failure (not a
/// refused statement), reconnecting fails while it is down and works once it is back, the
/// claim tried during the outage left nothing behind, and work resumes.
#[test]
fn a_restarted_postgres_is_reconnected_with_nothing_half_recorded() {
    let mut cluster = PgCluster::start();
    let mut ledger = Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
    let rule = DuplicateRule::Content;
    ledger
        .claim("p", &landing("a.csv", "1", None), rule)
        .expect("claim");
    cluster.stop();
    let err = ledger
        .claim("p", &landing("b.csv", "2", None), rule)
        .expect_err("the server is down");
    assert!(err.is_connection(), "{err}");
    let down = ledger.reconnect().expect_err("still down");
    assert!(down.is_connection(), "{down}");
    cluster.start_again();
    ledger.reconnect().expect("reconnect");
    assert_eq!(
        ledger.file_states("p").expect("states"),
        [("claimed".to_string(), 1)],
        "the claim tried during the outage left nothing"
    );
    let again = ledger
        .claim("p", &landing("b.csv", "2", None), rule)
        .expect("claim");
    assert!(matches!(again, Claim::New { .. }), "{again:?}");
    let refused = ledger
        .db()
        .execute("INSERT INTO no_such_table VALUES (1)", &[])
        .map_err(ledger.q("a refused statement"))
        .expect_err("refused");
    assert!(!refused.is_connection(), "{refused}");
}
