//! A throwaway PostgreSQL cluster for tests: `initdb` into a temp folder and `postgres` on a
//! free loopback port, as a user that is not root (PostgreSQL refuses to run as root; CI runs
//! as root, so the server runs as `nobody`), with password authentication; stopped and removed
//! when dropped. The server binaries are Debian's (`/usr/lib/postgresql/<version>/bin`, installed
//! by `scripts/test.sh`); a machine without them fails the test saying so.
//!
//! `start_tls` starts one that takes TLS only: a CA and a server certificate for `localhost`
//! made with the `openssl` command in the temp folder, `ssl = on`, and a `pg_hba.conf` that
//! rejects every connection without encryption (so a test that connects proves TLS was used).
//!
//! Shared by the library's tests and, through `#[path]`, the integration tests.

#![allow(dead_code)]

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "pg_pki.rs"]
mod pki;
pub use pki::TlsFiles;

/// The login the tests' ledgers use.
pub const USER: &str = "tallyman";
pub const PASSWORD: &str = "test-only-secret";

/// A running server; `database` makes a fresh empty database per test case.
pub struct PgCluster {
    pub port: u16,
    /// A file holding `PASSWORD`, for `[ledger] password_file`.
    pub password_file: PathBuf,
    server: Child,
    /// How the server was started, to start it again after `stop`.
    launch: Launch,
    _dir: tempfile::TempDir,
    next_db: std::sync::atomic::AtomicU32,
    /// The certificates of a TLS-only server (`start_tls`).
    pub tls: Option<TlsFiles>,
}

/// The database of a TLS server that also requires a client certificate naming `USER`.
pub const CERT_DB: &str = "certdb";

/// What starting the server takes.
struct Launch {
    bin: PathBuf,
    who: Option<(u32, u32)>,
    dir: PathBuf,
    durable: bool,
    tls: bool,
}

impl Launch {
    fn spawn(&self, port: u16) -> Child {
        // `TALLYMAN_TEST_PG_LOG=<file>`: every connection and statement logged there, with its
        // time (to measure where a daemon's ledger time goes; the folder is removed on drop).
        let statements = std::env::var_os("TALLYMAN_TEST_PG_LOG").map(PathBuf::from);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(
                statements
                    .clone()
                    .unwrap_or_else(|| self.dir.join("server.log")),
            )
            .expect("log file");
        let data = self.dir.join("data");
        let mut cmd = Command::new(self.bin.join("postgres"));
        if statements.is_some() {
            cmd.args(["-c", "log_connections=on", "-c", "log_disconnections=on"])
                .args(["-c", "log_min_duration_statement=0"])
                .args(["-c", "log_line_prefix=%m [%p] %d "]);
        }
        as_server_user(&mut cmd, self.who)
            .current_dir(&self.dir)
            .args(["-D", data.to_str().expect("utf-8 path")])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("port={port}")])
            .args(["-c", "unix_socket_directories="])
            // Throwaway data: no fsync unless asked, so tests do not wait on the disk.
            .args(if self.durable {
                ["-c", "fsync=on", "-c", "synchronous_commit=on"]
            } else {
                ["-c", "fsync=off", "-c", "synchronous_commit=off"]
            })
            .args(if self.tls {
                let tls = self.dir.join("tls");
                let at = |name: &str| tls.join(name).to_str().expect("utf-8 path").to_string();
                vec![
                    "-c".to_string(),
                    "ssl=on".into(),
                    "-c".into(),
                    format!("ssl_cert_file={}", at("server.crt")),
                    "-c".into(),
                    format!("ssl_key_file={}", at("server.key")),
                    "-c".into(),
                    format!("ssl_ca_file={}", at("ca.crt")),
                ]
            } else {
                Vec::new()
            })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start postgres")
    }
}

/// The newest `bin` folder under `/usr/lib/postgresql`.
pub fn server_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server binaries are missing (/usr/lib/postgresql/<version>/bin/initdb): \
             install Debian's `postgresql` (scripts/test.sh does)"
        ),
    }
}

/// The uid and gid the server runs as: ours, or `nobody`'s when we are root.
fn server_user() -> Option<(u32, u32)> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let name = std::ffi::CString::new("nobody").expect("no NUL");
    // SAFETY: a valid C string; the returned record is read at once, before any other
    // getpw* call in this thread could overwrite it.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    assert!(!pw.is_null(), "no `nobody` user to run PostgreSQL as");
    // SAFETY: checked non-null above.
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

fn as_server_user(cmd: &mut Command, who: Option<(u32, u32)>) -> &mut Command {
    if let Some((uid, gid)) = who {
        cmd.uid(uid).gid(gid);
    }
    cmd.env("LC_ALL", "C").env_remove("PGDATA")
}

fn chown(path: &Path, who: Option<(u32, u32)>) {
    if let Some((uid, gid)) = who {
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown for the server user");
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl PgCluster {
    /// A server for correctness tests: fsync off (throwaway data, no waiting on the disk).
    pub fn start() -> PgCluster {
        PgCluster::start_with(false)
    }

    /// `durable`: fsync and synchronous commit on, as a production server runs (for
    /// measurements that compare with SQLite's `synchronous = FULL`).
    pub fn start_with(durable: bool) -> PgCluster {
        PgCluster::start_as(durable, false)
    }

    /// A server that takes TLS connections only (see `TlsFiles`).
    pub fn start_tls() -> PgCluster {
        PgCluster::start_as(false, true)
    }

    fn start_as(durable: bool, tls: bool) -> PgCluster {
        let bin = server_bin();
        let who = server_user();
        let dir = tempfile::tempdir().expect("temp dir");
        // The server user must reach its folders inside our private temp dir.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("open the temp dir");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).expect("data folder");
        chown(&data, who);
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("password file");
        chown(&pwfile, who);
        let out = as_server_user(&mut Command::new(bin.join("initdb")), who)
            .current_dir(dir.path())
            .args(["-D", data.to_str().expect("utf-8 path")])
            .args(["-U", USER, "--pwfile", pwfile.to_str().expect("utf-8 path")])
            .args(["--auth", "scram-sha-256", "-E", "UTF8", "--locale", "C"])
            .arg("--no-sync")
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let tls_files = tls.then(|| {
            let files = pki::make_pki(&dir.path().join("tls"), who);
            // Encrypted or refused; the client certificate on top of the password for CERT_DB
            // (`verify-full`: it must name the user).
            std::fs::write(
                data.join("pg_hba.conf"),
                format!(
                    "hostnossl all all 0.0.0.0/0 reject\n\
                     hostssl {CERT_DB} all 127.0.0.1/32 scram-sha-256 clientcert=verify-full\n\
                     hostssl all all 127.0.0.1/32 scram-sha-256\n"
                ),
            )
            .expect("write pg_hba.conf");
            files
        });
        let port = free_port();
        let launch = Launch {
            bin,
            who,
            dir: dir.path().to_path_buf(),
            durable,
            tls,
        };
        let cluster = PgCluster {
            port,
            password_file: pwfile,
            server: launch.spawn(port),
            launch,
            _dir: dir,
            next_db: 0.into(),
            tls: tls_files,
        };
        cluster.wait_ready();
        if cluster.tls.is_some() {
            cluster
                .client("postgres")
                .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {CERT_DB}")))
                .unwrap_or_else(|e| panic!("create database {CERT_DB}: {e}"));
        }
        cluster
    }

    /// Stops the server (fast shutdown: sessions are ended), as a restart or an outage does.
    pub fn stop(&mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe {
            libc::kill(self.server.id() as i32, libc::SIGINT);
        }
        let _ = self.server.wait();
    }

    /// Starts the stopped server again on the same port and data.
    pub fn start_again(&mut self) {
        self.server = self.launch.spawn(self.port);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let started = Instant::now();
        loop {
            match self.client("postgres") {
                Ok(_) => return,
                Err(e) if started.elapsed() < Duration::from_secs(30) => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("PostgreSQL did not start on port {}: {e}", self.port),
            }
        }
    }

    /// The connection settings of database `dbname` on this server.
    pub fn config(&self, dbname: &str) -> postgres::Config {
        let mut c = postgres::Config::new();
        c.host("127.0.0.1")
            .port(self.port)
            .user(USER)
            .password(PASSWORD)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(5));
        c
    }

    /// The harness's own connection: plain, or encrypted without verifying the server to a
    /// TLS server (what is verified is the ledger's business, not the harness's).
    pub fn client(&self, dbname: &str) -> Result<postgres::Client, postgres::Error> {
        if self.tls.is_none() {
            return self.config(dbname).connect(postgres::NoTls);
        }
        let mut builder =
            openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client())
                .expect("an OpenSSL context");
        builder.set_verify(openssl::ssl::SslVerifyMode::NONE);
        let mut tls = postgres_openssl::MakeTlsConnector::new(builder.build());
        tls.set_callback(|c, _| {
            c.set_verify_hostname(false);
            Ok(())
        });
        self.config(dbname)
            .ssl_mode(postgres::config::SslMode::Require)
            .connect(tls)
    }

    /// A new empty database, named for the test case.
    pub fn database(&self) -> String {
        let n = self
            .next_db
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("ledger_{n}");
        self.client("postgres")
            .and_then(|mut c| c.batch_execute(&format!("CREATE DATABASE {name}")))
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        name
    }
}

impl Drop for PgCluster {
    /// Fast shutdown (SIGINT: open sessions are ended, nothing is kept), then the folder goes.
    fn drop(&mut self) {
        self.stop();
    }
}
