//! `tallyman serve` under test: the real binary on a free loopback port, its `/metrics` and
//! `/readyz` read, its progress waited for by condition (the loop's heartbeat, a pipeline's
//! passes) with a deadline, never by a bare sleep; SIGTERM and everything it logged.
//! A test file using it declares `mod prom;` (support/prom.rs) beside it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::prom;

pub struct Daemon {
    pub child: Child,
    pub port: u16,
    /// stderr, read on a thread so a chatty daemon never blocks on a full pipe.
    log: std::thread::JoinHandle<String>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// `serve --scan-secs 1`, logging at info; returns once `/healthz` answers.
pub fn serve(root: &Path) -> Daemon {
    serve_with(root, &["--scan-secs", "1"], &[])
}

/// `serve` with `args` (before `--listen`) and the environment variables `unset` removed.
pub fn serve_with(root: &Path, args: &[&str], unset: &[&str]) -> Daemon {
    serve_env(root, args, unset, &[])
}

/// `serve_with`, with the environment variables `set` given too.
pub fn serve_env(root: &Path, args: &[&str], unset: &[&str], set: &[(&str, &str)]) -> Daemon {
    let port = free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tallyman"));
    cmd.args(["--home", root.to_str().expect("utf-8 path"), "serve"])
        .args(args)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("TALLYMAN_LOG", "info")
        .env_remove("TALLYMAN_FAILPOINTS")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for name in unset {
        cmd.env_remove(name);
    }
    for (name, value) in set {
        cmd.env(name, value);
    }
    let mut child = cmd.spawn().expect("start tallyman serve");
    let mut err = child.stderr.take().expect("stderr");
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err.read_to_string(&mut text);
        text
    });
    let d = Daemon { child, port, log };
    wait_for(Duration::from_secs(30), || d.get("/healthz").is_some());
    d
}

impl Daemon {
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(ok.success(), "kill -{sig}");
    }

    /// SIGTERM, then the exit status and everything it logged.
    pub fn stop(mut self) -> (ExitStatus, String) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(90);
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("try_wait") {
                break s;
            }
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(50));
        };
        (status, self.log.join().expect("log thread"))
    }

    /// A plain HTTP/1.0 GET: (status code, body), or None when nothing answers.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").ok()?;
        let mut text = String::new();
        s.read_to_string(&mut text).ok()?;
        let (head, body) = text.split_once("\r\n\r\n")?;
        let code = head.split(' ').nth(1)?.parse().ok()?;
        Some((code, body.to_string()))
    }

    /// Every sample of `/metrics`, checked against the exposition format.
    pub fn samples(&self) -> Vec<prom::Sample> {
        let (_, text) = self.get("/metrics").expect("GET /metrics");
        prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    /// One sample's value: of `pipeline`, or the unlabelled one with `None`.
    pub fn value(&self, name: &str, pipeline: Option<&str>) -> Option<f64> {
        self.samples()
            .into_iter()
            .find(|s| s.name == name && s.labels.get("pipeline").map(String::as_str) == pipeline)
            .map(|s| s.value)
    }

    /// Jobs the daemon finished for `pipeline` (`tallyman_passes_total`).
    pub fn passes(&self, pipeline: &str) -> f64 {
        self.value("tallyman_passes_total", Some(pipeline))
            .expect("tallyman_passes_total")
    }

    /// Waits until `pipeline` has finished `n` more whole jobs than now: whatever it was going to
    /// do with what it could see now, it has done.
    pub fn passes_after(&self, pipeline: &str, n: f64) {
        let start = self.passes(pipeline);
        wait_for(Duration::from_secs(60), || {
            self.passes(pipeline) >= start + n
        });
    }

    fn heartbeat(&self) -> Option<f64> {
        self.value("tallyman_daemon_heartbeat_timestamp_seconds", None)
    }

    /// Waits until the daemon's loop has gone round for `span` of its own clock from now
    /// (schedules, hints and expected-file windows looked at again and again in that time).
    pub fn ran_for(&self, span: Duration) {
        wait_for(Duration::from_secs(30), || self.heartbeat().is_some());
        let start = self.heartbeat().expect("heartbeat");
        wait_for(span + Duration::from_secs(30), || {
            self.heartbeat().expect("heartbeat") >= start + span.as_secs_f64()
        });
    }
}

/// Polls `ok` until it holds, failing the test after `limit`.
pub fn wait_for(limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A count from the home's ledger: 0 while no ledger exists yet; any SQL error fails the test
/// (a broken query must never read as "nothing happened").
pub fn count(root: &Path, query: &str) -> i64 {
    let path = root.join("var/ledger.sqlite");
    if !path.exists() {
        return 0;
    }
    let conn =
        rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE)
            .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    conn.busy_timeout(Duration::from_secs(10))
        .expect("busy timeout");
    conn.query_row(query, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{query}: {e}"))
}
