//! The real binary on a PostgreSQL ledger that takes TLS only (`pg_hba.conf` rejects plain
//! connections): `tallyman.toml`'s `sslmode` and `sslrootcert` decide whether it connects,
//! and when it does not, the message names the ledger, the mode and why.

#[path = "support/home.rs"]
mod home;
#[path = "../src/store/db/pg_cluster.rs"]
mod pg_cluster;

use std::path::Path;

use home::{both, tallyman};
use pg_cluster::{PgCluster, PASSWORD, USER};

/// Writes `root/tallyman.toml` naming database `db` of `cluster` on `host`, with the TLS keys
/// `tls`; the password and the cluster's CAs copied into the home (`pg.password`, `tls/ca.pem`
/// and `tls/other-ca.pem`), so relative names are taken from it.
fn configure(root: &Path, cluster: &PgCluster, db: &str, host: &str, tls: &str) {
    let files = cluster.tls.as_ref().expect("a TLS cluster");
    std::fs::create_dir_all(root.join("tls")).expect("tls folder");
    std::fs::copy(&files.ca, root.join("tls/ca.pem")).expect("copy the CA");
    std::fs::copy(&files.other_ca, root.join("tls/other-ca.pem")).expect("copy the other CA");
    std::fs::copy(&cluster.password_file, root.join("pg.password")).expect("copy password");
    std::fs::write(
        root.join("tallyman.toml"),
        format!(
            "[ledger]\nbackend = \"postgres\"\nhost = \"{host}\"\nport = {}\nuser = \"{USER}\"\n\
             dbname = \"{db}\"\npassword_file = \"pg.password\"\n{tls}\n",
            cluster.port
        ),
    )
    .expect("write tallyman.toml");
}

#[test]
fn the_demo_runs_on_a_ledger_reached_over_verified_tls() {
    let cluster = PgCluster::start_tls();
    let home = tempfile::tempdir().expect("temp dir");
    let root = home.path();
    let db = cluster.database();
    configure(
        root,
        &cluster,
        &db,
        "localhost",
        "sslmode = \"verify-full\"\nsslrootcert = \"tls/ca.pem\"",
    );

    let o = tallyman(root, &["ledger", "migrate"]);
    assert!(o.status.success(), "{}", both(&o));
    let o = tallyman(root, &["demo"]);
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", both(&o));
    assert!(
        !root.join("var/ledger.sqlite").exists(),
        "the demo's ledger is the cluster's"
    );
    let o = tallyman(root, &["runs", "--json", "--limit", "1000"]);
    assert!(o.status.success(), "{}", both(&o));
    let runs: serde_json::Value = serde_json::from_slice(&o.stdout).expect("runs --json");
    let listed = runs["runs"].as_array().expect("a list of runs").len();
    assert!(listed >= 5, "the demo's runs: {listed}");
    // The runs are in the cluster's database (which no plain connection could have reached).
    let mut client = cluster.client(&db).expect("connect");
    let recorded: i64 = client
        .query_one("SELECT count(*) FROM runs", &[])
        .expect("count runs")
        .get(0);
    assert_eq!(recorded as usize, listed);

    // `check` says which ledger and how it is reached.
    let o = tallyman(root, &["check"]);
    assert!(o.status.success(), "{}", both(&o));
    let want = format!(
        "ledger: PostgreSQL postgresql://{USER}@localhost:{}/{db} (sslmode verify-full, CA {})",
        cluster.port,
        root.join("tls/ca.pem").display()
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&want),
        "{}",
        both(&o)
    );
}

/// A host to connect to, the TLS keys, and Ok or the parts of the error after the target.
type Case = (
    &'static str,
    &'static str,
    Result<(), &'static [&'static str]>,
);

/// `tallyman ledger migrate` with each setting: it connects, or it fails (exit 1) naming the
/// target, the mode and the reason; `tallyman check` refuses settings that make no sense.
#[test]
fn each_sslmode_connects_or_says_why_not() {
    let cluster = PgCluster::start_tls();
    let cases: &[Case] = &[
        ("127.0.0.1", "sslmode = \"require\"", Ok(())),
        (
            "localhost",
            "sslmode = \"verify-full\"\nsslrootcert = \"tls/other-ca.pem\"",
            Err(&[
                "(sslmode verify-full): TLS handshake failed: certificate verify failed",
                "self-signed certificate in certificate chain",
            ]),
        ),
        (
            "127.0.0.1",
            "sslmode = \"verify-full\"\nsslrootcert = \"tls/ca.pem\"",
            Err(&[
                "(sslmode verify-full)",
                "IP address mismatch (certificate CN=localhost)",
            ]),
        ),
        (
            "127.0.0.1",
            "sslmode = \"disable\"",
            Err(&["(sslmode disable)", "pg_hba.conf rejects", "no encryption"]),
        ),
        (
            "localhost",
            "sslmode = \"verify-ca\"\nsslrootcert = \"tls/missing.pem\"",
            Err(&["sslrootcert", "tls/missing.pem: No such file"]),
        ),
    ];
    for (host, tls, want) in cases {
        let home = tempfile::tempdir().expect("temp dir");
        let db = cluster.database();
        configure(home.path(), &cluster, &db, host, tls);
        let o = tallyman(home.path(), &["ledger", "migrate"]);
        let text = both(&o);
        assert!(!text.contains(PASSWORD), "{tls}: {text}");
        match want {
            Ok(()) => {
                assert!(o.status.success(), "{tls}: {text}");
                assert!(text.contains("schema version"), "{tls}: {text}");
            }
            Err(parts) => {
                eprintln!("{tls}: {text}");
                assert_eq!(o.status.code(), Some(1), "{tls}: {text}");
                let target = format!("postgresql://{USER}@{host}:{}/{db}", cluster.port);
                assert!(text.contains(&target), "{tls}: {text} lacks {target}");
                // Said once by the error, once by the command's context: not again per cause.
                assert!(text.matches(&target).count() <= 2, "{tls}: {text}");
                for part in *parts {
                    assert!(text.contains(part), "{tls}: {text} lacks {part}");
                }
            }
        }
    }

    let home = tempfile::tempdir().expect("temp dir");
    configure(
        home.path(),
        &cluster,
        "x",
        "localhost",
        "sslmode = \"verify_full\"\nsslkey = \"me.key\"",
    );
    let o = tallyman(home.path(), &["check"]);
    let text = both(&o);
    eprintln!("check: {text}");
    assert_eq!(o.status.code(), Some(2), "{text}");
    for key in ["ledger.sslmode", "ledger.sslcert: required with sslkey"] {
        assert!(text.contains(key), "{text} lacks {key}");
    }
}
