//! `sslmode` against real servers: a TLS-only cluster (plain connections rejected by
//! `pg_hba.conf`, a certificate naming `localhost` only, a client certificate required for one
//! database) and a plain one. Each connection that succeeds is asked whether it is encrypted
//! (`pg_stat_ssl`); each that fails must name the target, the mode and the reason.

use std::path::PathBuf;
use std::time::Duration;

use super::connect_postgres;
use super::pg_cluster::{PgCluster, CERT_DB, USER};
use crate::config::ledger::{ClientCert, PasswordSource, PostgresTarget, PostgresTls, SslMode};
use crate::store::Ledger;

/// Which CA file `sslrootcert` names.
#[derive(Clone, Copy)]
enum Ca {
    /// None: the system's trusted CAs.
    System,
    /// The CA that signed the server's certificate.
    Right,
    /// A CA that signed nothing the server presents.
    Other,
    /// A file that does not exist.
    Missing,
}

struct Case {
    name: &'static str,
    host: &'static str,
    mode: SslMode,
    ca: Ca,
    /// Connect to the database that requires a client certificate, and present one or not.
    cert_db: bool,
    client_cert: bool,
    /// `Ok(encrypted)`, or the parts the error must contain (besides the target).
    want: Result<bool, &'static [&'static str]>,
}

const fn case(name: &'static str, host: &'static str, mode: SslMode, ca: Ca) -> Case {
    Case {
        name,
        host,
        mode,
        ca,
        cert_db: false,
        client_cert: false,
        want: Ok(true),
    }
}

const TLS_ONLY: &[Case] = &[
    case(
        "verify-full, the right CA, the name in the certificate",
        "localhost",
        SslMode::VerifyFull,
        Ca::Right,
    ),
    case(
        "verify-ca does not check the name",
        "127.0.0.1",
        SslMode::VerifyCa,
        Ca::Right,
    ),
    case(
        "require encrypts without a CA",
        "127.0.0.1",
        SslMode::Require,
        Ca::System,
    ),
    case(
        "prefer encrypts when the server offers TLS",
        "localhost",
        SslMode::Prefer,
        Ca::System,
    ),
    Case {
        want: Err(&[
            "(sslmode verify-full)",
            "certificate verify failed",
            "IP address mismatch (certificate CN=localhost)",
        ]),
        ..case(
            "verify-full to a name the certificate lacks",
            "127.0.0.1",
            SslMode::VerifyFull,
            Ca::Right,
        )
    },
    Case {
        want: Err(&[
            "(sslmode verify-full)",
            "certificate verify failed",
            "self-signed certificate in certificate chain (certificate CN=Tallyman test CA)",
        ]),
        ..case(
            "verify-full with another CA",
            "localhost",
            SslMode::VerifyFull,
            Ca::Other,
        )
    },
    Case {
        want: Err(&["(sslmode verify-ca)", "certificate verify failed"]),
        ..case(
            "verify-ca with another CA",
            "127.0.0.1",
            SslMode::VerifyCa,
            Ca::Other,
        )
    },
    Case {
        want: Err(&["(sslmode verify-full)", "certificate verify failed"]),
        ..case(
            "verify-full with the system's CAs",
            "localhost",
            SslMode::VerifyFull,
            Ca::System,
        )
    },
    Case {
        want: Err(&["sslrootcert", "no-such-ca.pem", "No such file"]),
        ..case(
            "a CA file that is not there",
            "localhost",
            SslMode::VerifyFull,
            Ca::Missing,
        )
    },
    Case {
        want: Err(&[
            "(sslmode disable)",
            "pg_hba.conf rejects connection",
            "no encryption",
        ]),
        ..case(
            "disable is refused by a TLS-only server",
            "127.0.0.1",
            SslMode::Disable,
            Ca::System,
        )
    },
    Case {
        cert_db: true,
        client_cert: true,
        ..case(
            "a client certificate where one is required",
            "localhost",
            SslMode::VerifyFull,
            Ca::Right,
        )
    },
    Case {
        cert_db: true,
        want: Err(&[
            "(sslmode verify-full)",
            "connection requires a valid client certificate",
        ]),
        ..case(
            "no client certificate where one is required",
            "localhost",
            SslMode::VerifyFull,
            Ca::Right,
        )
    },
];

const PLAIN: &[Case] = &[
    Case {
        want: Ok(false),
        ..case(
            "prefer (the default) connects plain to a server without TLS",
            "127.0.0.1",
            SslMode::Prefer,
            Ca::System,
        )
    },
    Case {
        want: Ok(false),
        ..case(
            "disable connects plain",
            "127.0.0.1",
            SslMode::Disable,
            Ca::System,
        )
    },
    Case {
        want: Err(&["(sslmode require)", "server does not support TLS"]),
        ..case(
            "require refuses a server without TLS",
            "127.0.0.1",
            SslMode::Require,
            Ca::System,
        )
    },
];

fn target(cluster: &PgCluster, c: &Case) -> PostgresTarget {
    let files = cluster.tls.as_ref();
    let file = |f: fn(&super::pg_cluster::TlsFiles) -> &PathBuf| {
        files.map(|t| f(t).clone()).expect("a TLS cluster")
    };
    PostgresTarget {
        host: c.host.into(),
        port: cluster.port,
        user: USER.into(),
        dbname: if c.cert_db {
            CERT_DB.into()
        } else {
            cluster.database()
        },
        password: PasswordSource::File(cluster.password_file.clone()),
        connect_timeout: Duration::from_secs(5),
        tls: PostgresTls {
            mode: c.mode,
            root_cert: match c.ca {
                Ca::System => None,
                Ca::Right => Some(file(|t| &t.ca)),
                Ca::Other => Some(file(|t| &t.other_ca)),
                Ca::Missing => Some("/nonexistent/no-such-ca.pem".into()),
            },
            client_cert: c.client_cert.then(|| ClientCert {
                cert: file(|t| &t.client_cert),
                key: file(|t| &t.client_key),
            }),
        },
    }
}

fn run(cluster: &PgCluster, cases: &[Case]) {
    for c in cases {
        let target = target(cluster, c);
        match (connect_postgres(&target), c.want) {
            (Ok(mut client), Ok(encrypted)) => {
                let row = client
                    .query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .unwrap_or_else(|e| panic!("{}: {e}", c.name));
                assert_eq!(row.get::<_, bool>(0), encrypted, "{}: encrypted", c.name);
                // And the ledger works over it: its migrations run.
                let ledger = Ledger::open_postgres(&target)
                    .unwrap_or_else(|e| panic!("{}: open the ledger: {e}", c.name));
                assert!(ledger.last_scheduled_run("p").is_ok(), "{}", c.name);
            }
            (Err(e), Err(parts)) => {
                let text = e.to_string();
                eprintln!("{}: {text}", c.name);
                assert!(text.starts_with(&target.to_string()), "{}: {text}", c.name);
                for part in parts {
                    assert!(text.contains(part), "{}: {text:?} lacks {part:?}", c.name);
                }
                assert!(!text.contains(super::pg_cluster::PASSWORD), "{}", c.name);
            }
            (Ok(_), Err(_)) => panic!("{}: connected", c.name),
            (Err(e), Ok(_)) => panic!("{}: {e}", c.name),
        }
    }
}

#[test]
fn sslmode_against_a_tls_only_server() {
    let cluster = PgCluster::start_tls();
    run(&cluster, TLS_ONLY);

    // A client key others can read is refused before connecting, as libpq does.
    let dir = tempfile::tempdir().expect("temp dir");
    let open_key = dir.path().join("client.key");
    let files = cluster.tls.as_ref().expect("TLS files");
    std::fs::copy(&files.client_key, &open_key).expect("copy the key");
    let mode = |m| std::os::unix::fs::PermissionsExt::from_mode(m);
    std::fs::set_permissions(&open_key, mode(0o644)).expect("chmod");
    let with_cert = TLS_ONLY
        .iter()
        .find(|c| c.client_cert && c.want.is_ok())
        .expect("a case that connects with a client certificate");
    let mut target = target(&cluster, with_cert);
    if let Some(c) = &mut target.tls.client_cert {
        c.key = open_key.clone();
    }
    let Err(e) = connect_postgres(&target).map(|_| ()) else {
        panic!("connected with a key others can read");
    };
    let e = e.to_string();
    assert!(
        e.contains("sslkey") && e.contains("readable by others (mode 0644)"),
        "{e}"
    );
    std::fs::set_permissions(&open_key, mode(0o600)).expect("chmod");
    connect_postgres(&target).expect("the same key, private");
}

#[test]
fn sslmode_against_a_server_without_tls() {
    run(&PgCluster::start(), PLAIN);
}

/// What TLS adds to making a connection (a new connection per reconnect, and per lease
/// keeper): `cargo test --lib store::db::tls_tests::measure -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement"]
fn measure_connections_per_second_plain_and_tls() {
    let (plain, tls) = (PgCluster::start(), PgCluster::start_tls());
    let runs: &[(&str, &PgCluster, Case)] = &[
        (
            "plain",
            &plain,
            case("", "127.0.0.1", SslMode::Disable, Ca::System),
        ),
        (
            "require",
            &tls,
            case("", "127.0.0.1", SslMode::Require, Ca::System),
        ),
        (
            "verify-full",
            &tls,
            case("", "localhost", SslMode::VerifyFull, Ca::Right),
        ),
    ];
    for (name, cluster, c) in runs {
        let target = target(cluster, c);
        let n = 100;
        let started = std::time::Instant::now();
        for _ in 0..n {
            let mut client = connect_postgres(&target).expect("connect");
            client.simple_query("SELECT 1").expect("query");
        }
        let each = started.elapsed() / n;
        eprintln!("{name}: {each:?} per connection and one query ({n} in a row)");
    }
}
