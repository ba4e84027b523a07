//! `tallyman ledger migrate` and `[ledger]` through the real binary: a SQLite home says its
//! version; a home naming a throwaway PostgreSQL cluster (password from a file, or from an
//! environment variable) is migrated, again without change, and `check`, `run` and `runs` work
//! on it with no `var/ledger.sqlite` made; a wrong password names the ledger, never the
//! password. `ledger_postgres_cli.rs` runs the whole demo on both backends.

#[path = "support/home.rs"]
mod home;
#[path = "../src/store/db/pg_cluster.rs"]
mod pg_cluster;

use std::path::Path;
use std::process::Command;

use home::{both, demo_home, tallyman};
use pg_cluster::PgCluster;

fn ledger_section(cluster: &PgCluster, dbname: &str, password: &str) -> String {
    format!(
        "[ledger]\nbackend = \"postgres\"\nhost = \"127.0.0.1\"\nport = {}\nuser = \"{}\"\n\
         dbname = \"{dbname}\"\n{password}\n",
        cluster.port,
        pg_cluster::USER
    )
}

fn write_global(root: &Path, text: &str) {
    std::fs::write(root.join("tallyman.toml"), text).expect("write tallyman.toml");
}

#[test]
fn sqlite_home_migrates_and_says_its_version() {
    let home = demo_home();
    let o = tallyman(&home.root, &["ledger", "migrate"]);
    assert!(o.status.success(), "{}", both(&o));
    let version = tallyman::store::SCHEMA_VERSION;
    let text = both(&o);
    assert!(
        text.contains("var/ledger.sqlite") && text.contains(&format!("schema version {version}")),
        "{text}"
    );
    assert!(home.root.join("var/ledger.sqlite").exists());
}

#[test]
fn postgres_home_is_migrated_and_runs_on_it() {
    let cluster = PgCluster::start();
    let home = demo_home();
    let db = cluster.database();
    std::fs::copy(&cluster.password_file, home.root.join("pg.password")).expect("copy pw");
    write_global(
        &home.root,
        &ledger_section(&cluster, &db, "password_file = \"pg.password\""),
    );
    for _ in 0..2 {
        let o = tallyman(&home.root, &["ledger", "migrate"]);
        assert!(o.status.success(), "{}", both(&o));
        let want = format!(
            "ledger postgresql://tallyman@127.0.0.1:{}/{db}: schema version {}",
            cluster.port,
            tallyman::store::SCHEMA_VERSION
        );
        assert!(both(&o).contains(&want), "{}", both(&o));
    }
    let mut client = cluster.client(&db).expect("connect");
    let version: i64 = client
        .query_one("SELECT version FROM tallyman_ledger", &[])
        .expect("version")
        .get(0);
    assert_eq!(version, tallyman::store::SCHEMA_VERSION);

    // The home runs on it: nothing goes to a SQLite file behind the configuration's back.
    for args in [&["check"][..], &["run"], &["runs"]] {
        let o = tallyman(&home.root, args);
        assert!(
            o.status.code().is_some_and(|c| c <= 1),
            "{args:?}: {}",
            both(&o)
        );
    }
    assert!(
        !home.root.join("var/ledger.sqlite").exists(),
        "no SQLite ledger made behind the configuration's back"
    );
    let runs: i64 = client
        .query_one("SELECT count(*) FROM runs", &[])
        .expect("runs")
        .get(0);
    assert!(runs > 0, "the run was recorded in PostgreSQL");
}

#[test]
fn postgres_password_from_the_environment_and_a_wrong_one() {
    let cluster = PgCluster::start();
    let home = demo_home();
    let db = cluster.database();
    write_global(
        &home.root,
        &ledger_section(
            &cluster,
            &db,
            "password_env = \"TALLYMAN_TEST_PG_PASSWORD\"",
        ),
    );
    let migrate = |password: Option<&str>| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tallyman"));
        cmd.args(["--home", home.root.to_str().expect("utf-8")])
            .args(["ledger", "migrate"])
            .env("TALLYMAN_LOG", "warn");
        match password {
            Some(p) => cmd.env("TALLYMAN_TEST_PG_PASSWORD", p),
            None => cmd.env_remove("TALLYMAN_TEST_PG_PASSWORD"),
        };
        cmd.output().expect("run tallyman")
    };
    let o = migrate(Some(pg_cluster::PASSWORD));
    assert!(o.status.success(), "{}", both(&o));
    let o = migrate(Some("not-the-password"));
    assert!(!o.status.success());
    let text = both(&o);
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(
        text.contains(&format!("127.0.0.1:{}/{db}", cluster.port)),
        "{text}"
    );
    assert!(!text.contains("not-the-password"), "{text}");
    let o = migrate(None);
    assert!(!o.status.success());
    assert!(
        both(&o).contains("TALLYMAN_TEST_PG_PASSWORD is not set"),
        "{}",
        both(&o)
    );
}

/// A home that ran on SQLite moves to PostgreSQL: `ledger export` copies every run, file and
/// output (the same rows as the SQLite ledger), once; a second export is refused.
#[test]
fn a_home_exports_its_sqlite_ledger_into_postgres() {
    let cluster = PgCluster::start();
    let home = demo_home();
    let o = tallyman(&home.root, &["run"]);
    assert!(o.status.code().is_some(), "{}", both(&o));
    let runs = home::sql(&home.root, "SELECT count(*) FROM runs");
    let files = home::sql(&home.root, "SELECT count(*) FROM files");
    assert_ne!(runs.trim(), "0");
    let db = cluster.database();
    std::fs::copy(&cluster.password_file, home.root.join("pg.password")).expect("copy pw");
    write_global(
        &home.root,
        &ledger_section(&cluster, &db, "password_file = \"pg.password\""),
    );
    let o = tallyman(&home.root, &["ledger", "export"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(
        both(&o).contains(&format!("runs: {} row(s)", runs.trim())),
        "{}",
        both(&o)
    );
    let mut client = cluster.client(&db).expect("connect");
    let count = |client: &mut postgres::Client, table: &str| -> i64 {
        client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .expect("count")
            .get(0)
    };
    assert_eq!(count(&mut client, "runs").to_string(), runs.trim());
    assert_eq!(count(&mut client, "files").to_string(), files.trim());
    let o = tallyman(&home.root, &["ledger", "export"]);
    assert!(!o.status.success());
    assert!(
        both(&o).contains("only fills an empty ledger"),
        "{}",
        both(&o)
    );
}
