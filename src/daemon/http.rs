//! Health over HTTP, served by tiny_http on its own thread: `/healthz` is liveness (the process
//! answers), `/readyz` readiness (503 "degraded" with the reasons when a person should look: the
//! last SIGHUP reload failed, files were rejected or runs failed and nothing has put them right
//! since, a source keeps failing), and `/metrics`.
//!
//! Every other path is the operator console's (`crate::console`) when `serve` gives one.
//!
//! tiny_http is blocking and needs no async runtime; the daemon only answers scrapes, probes and
//! the console's pages, one request at a time.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use tiny_http::{Header, Method, Request, Response, Server};

use super::metrics::Metrics;
use crate::console::{Console, Incoming};
use crate::store::{Ledger, RunState};

/// Loopback by default: the endpoints carry no secrets but need not face the network.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9464";
/// How often the serving thread looks at the stop flag while idle.
const POLL: Duration = Duration::from_millis(200);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("listen address {value:?}: {reason}")]
    Address { value: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot serve HTTP on {addr}: {reason}")]
    Serve { addr: SocketAddr, reason: String },
    #[error("cannot start the HTTP thread for {addr}: {source}")]
    Spawn { addr: SocketAddr, source: io::Error },
    #[error("the HTTP thread for {addr} panicked")]
    Panicked { addr: SocketAddr },
}

/// Parses a configured `host:port` such as `127.0.0.1:9464` or `[::1]:9464`.
pub fn parse_listen(value: &str) -> Result<SocketAddr, HttpError> {
    value
        .trim()
        .parse()
        .map_err(|e: std::net::AddrParseError| HttpError::Address {
            value: value.to_string(),
            reason: e.to_string(),
        })
}

/// How far back a rejected file or a failed run keeps `/readyz` degraded when nothing puts it
/// right (a rerun that succeeds does): long enough for the next working day to see it.
pub const ATTENTION_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// What `/healthz` and `/readyz` report; the run loop updates the pipeline list and the reload
/// outcome.
pub struct Health {
    started: Instant,
    pipelines: Mutex<Vec<String>>,
    /// Why the last SIGHUP reload failed; `None` while the loaded configuration is the latest.
    reload_failure: Mutex<Option<String>>,
    /// The ledger `/readyz` reads: its own connection (opened on the first probe), never the
    /// run loop's.
    /// The home whose ledger `/healthz` reads (its own connection).
    ledger_home: Option<crate::config::Home>,
    ledger: Mutex<Option<Ledger>>,
    /// Why the run loop's ledger connection is down (`ledger_fault.rs`), while it is.
    ledger_fault: Mutex<Option<String>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("started", &self.started)
            .field("pipelines", &self.pipelines)
            .field("reload_failure", &self.reload_failure)
            .field("ledger_home", &self.ledger_home.as_ref().map(|h| &h.root))
            .finish_non_exhaustive()
    }
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    /// `ready` or `degraded`.
    pub status: &'static str,
    /// Why degraded, one sentence each; empty when ready.
    pub reasons: Vec<String>,
}

impl Health {
    pub fn new(pipelines: Vec<String>) -> Health {
        Health {
            started: Instant::now(),
            pipelines: Mutex::new(pipelines),
            reload_failure: Mutex::new(None),
            ledger_home: None,
            ledger: Mutex::new(None),
            ledger_fault: Mutex::new(None),
        }
    }

    /// Why the run loop takes no new work because its ledger connection broke (`None`: up).
    pub fn set_ledger_fault(&self, why: Option<String>) {
        *self.ledger_fault.lock().unwrap_or_else(|p| p.into_inner()) = why;
    }

    /// `/readyz` also reads the ledger at `path` (rejected files, failed runs, sources).
    pub fn with_ledger(mut self, home: crate::config::Home) -> Health {
        self.ledger_home = Some(home);
        self
    }

    pub fn set_pipelines(&self, pipelines: Vec<String>) {
        *self.pipelines.lock().unwrap_or_else(|p| p.into_inner()) = pipelines;
    }

    /// A SIGHUP reload failed with `problems` configuration problems.
    pub fn reload_failed(&self, problems: usize) {
        *self.reload_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!(
            "the last configuration reload (SIGHUP) failed with {problems} problem(s); the pipelines loaded before keep running"
        ));
    }

    /// A SIGHUP reload worked: the configuration on disk is the one running.
    pub fn reloaded(&self) {
        *self
            .reload_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn to_json(&self) -> String {
        let pipelines = self
            .pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Liveness stays 200 (restarting a daemon whose database is down helps nothing), but it
        // says whether the daemon takes work and, when not, why.
        let fault = (self.ledger_fault.lock().unwrap_or_else(|p| p.into_inner())).clone();
        serde_json::json!({
            "status": "ok",
            "uptime_seconds": self.uptime().as_secs(),
            "pipelines": pipelines,
            "taking_work": fault.is_none(),
            "ledger": fault.as_deref().unwrap_or("connected"),
        })
        .to_string()
    }

    /// Whether a person should look, and why, as of `now`.
    pub fn readiness(&self, now: DateTime<Utc>) -> Readiness {
        let mut reasons: Vec<String> = self
            .reload_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect();
        reasons.extend((self.ledger_fault.lock().unwrap_or_else(|p| p.into_inner())).clone());
        reasons.extend(self.ledger_reasons(now));
        Readiness {
            status: if reasons.is_empty() {
                "ready"
            } else {
                "degraded"
            },
            reasons,
        }
    }

    fn ledger_reasons(&self, now: DateTime<Utc>) -> Vec<String> {
        let Some(home) = &self.ledger_home else {
            return Vec::new();
        };
        let mut guard = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            match Ledger::open_for_home(home) {
                Ok(l) => *guard = Some(l),
                Err(e) => return vec![format!("the ledger cannot be read: {e}")],
            }
        }
        let Some(ledger) = guard.as_ref() else {
            return Vec::new();
        };
        let since = now - chrono::Duration::from_std(ATTENTION_WINDOW).unwrap_or_default();
        let since = crate::runner::now_text(since);
        let mut reasons = Vec::new();
        match ledger.unresolved_runs(&since) {
            Ok(runs) => reasons.extend(runs.iter().map(|u| {
                let what = match u.state {
                    RunState::Rejected => "file(s) rejected to quarantine",
                    _ => "run(s) failed",
                };
                format!(
                    "{}: {} {what} in the last {}h and not rerun successfully (latest: {}{})",
                    u.pipeline,
                    u.count,
                    ATTENTION_WINDOW.as_secs() / 3600,
                    u.latest_file.as_deref().unwrap_or("-"),
                    u.latest_message
                        .as_deref()
                        .map(|m| format!(": {m}"))
                        .unwrap_or_default()
                )
            })),
            Err(e) => reasons.push(format!("the ledger cannot be read: {e}")),
        }
        match ledger.source_problems() {
            Ok(sources) => reasons.extend(sources.iter().map(|s| {
                format!(
                    "{}: source {} failing since {} ({} pass(es)): {}",
                    s.pipeline, s.source, s.failing_since, s.failures, s.last_error
                )
            })),
            Err(e) => reasons.push(format!("the ledger cannot be read: {e}")),
        }
        // A broken connection (PostgreSQL restarted or unreachable) is opened again on the
        // next probe; until then the reason above says why the daemon is not ready.
        if reasons
            .iter()
            .any(|r| r.starts_with("the ledger cannot be read"))
        {
            *guard = None;
        }
        reasons
    }
}

/// A running server; stop it with `shutdown` (dropping it stops it too, without the report).
pub struct HttpServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Binds `addr` (port 0 picks a free port) and serves on a new thread.
    pub fn start(
        addr: SocketAddr,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
    ) -> Result<HttpServer, HttpError> {
        HttpServer::start_with_console(addr, health, metrics, None)
    }

    /// `start`, also serving the operator console's pages and actions.
    pub fn start_with_console(
        addr: SocketAddr,
        health: Arc<Health>,
        metrics: Arc<Metrics>,
        console: Option<Arc<Console>>,
    ) -> Result<HttpServer, HttpError> {
        let listener =
            TcpListener::bind(addr).map_err(|source| HttpError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| HttpError::Bind { addr, source })?;
        let server = Server::from_listener(listener, None).map_err(|e| HttpError::Serve {
            addr,
            reason: e.to_string(),
        })?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, stop) = (Arc::clone(&server), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("tallyman-http".into())
                .spawn(move || serve(&server, &stop, &health, &metrics, console.as_deref()))
                .map_err(|source| HttpError::Spawn { addr, source })?
        };
        Ok(HttpServer {
            addr,
            stop,
            server,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, finishes the request in hand and joins the thread.
    pub fn shutdown(mut self) -> Result<(), HttpError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), HttpError> {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        match self.thread.take().map(JoinHandle::join) {
            Some(Err(_)) => Err(HttpError::Panicked { addr: self.addr }),
            _ => Ok(()),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

fn serve(
    server: &Server,
    stop: &AtomicBool,
    health: &Health,
    metrics: &Metrics,
    console: Option<&Console>,
) {
    while !stop.load(Ordering::SeqCst) {
        // Errors here are one client's broken connection; the next request may be fine.
        if let Ok(Some(request)) = server.recv_timeout(POLL) {
            match console {
                Some(c) => respond_with_console(request, health, metrics, c),
                None => respond(request, health, metrics),
            }
        }
    }
}

/// The console's answer when the path is one of its own, else `respond`'s.
fn respond_with_console(
    mut request: Request,
    health: &Health,
    metrics: &Metrics,
    console: &Console,
) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return respond(request, health, metrics);
    }
    let method = request.method().as_str().to_ascii_uppercase();
    let mut body = Vec::new();
    if method == "POST" {
        use std::io::Read;
        let limit = crate::console::MAX_BODY as u64 + 1;
        // A body that cannot be read is an empty form: refused by the action's checks.
        let _ = request.as_reader().take(limit).read_to_end(&mut body);
    }
    let incoming = Incoming {
        method: &method,
        path,
        query,
        body: &body,
    };
    let Some(reply) = console.handle(&incoming) else {
        return respond(request, health, metrics);
    };
    let mut response = Response::from_data(reply.body).with_status_code(reply.status);
    let mut headers = vec![
        ("Content-Type", reply.content_type.to_string()),
        ("X-Frame-Options", "SAMEORIGIN".to_string()),
        ("Referrer-Policy", "no-referrer".to_string()),
    ];
    // Every console page is under the console's policy unless it brings a stricter one (the
    // archived report, sandboxed).
    if !reply
        .headers
        .iter()
        .any(|(name, _)| *name == "Content-Security-Policy")
    {
        headers.push(("Content-Security-Policy", CONSOLE_CSP.to_string()));
    }
    for (name, value) in headers.into_iter().chain(reply.headers) {
        if let Ok(header) = Header::from_bytes(name, value) {
            response = response.with_header(header);
        }
    }
    let _ = request.respond(response);
}

/// The console's Content-Security-Policy: its own script, stylesheet, frames (the report),
/// fetches (the overview's refresh) and forms only; nothing inline, nothing from elsewhere.
pub const CONSOLE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; frame-src 'self'; form-action 'self'; \
     base-uri 'none'; frame-ancestors 'self'";

fn respond(request: Request, health: &Health, metrics: &Metrics) {
    let path = request.url().split('?').next().unwrap_or("");
    let (status, content_type, body) = match (request.method(), path) {
        (Method::Get | Method::Head, "/healthz") => (200, "application/json", health.to_json()),
        (Method::Get | Method::Head, "/readyz") => {
            let r = health.readiness(Utc::now());
            // 503 when degraded, so a probe or a load balancer that reads only the status sees it.
            let status = if r.reasons.is_empty() { 200 } else { 503 };
            let body = serde_json::to_string(&r).unwrap_or_default();
            (status, "application/json", body)
        }
        (Method::Get | Method::Head, "/metrics") => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            metrics.render(),
        ),
        (Method::Get | Method::Head, _) => {
            (404, "text/plain; charset=utf-8", "not found\n".to_string())
        }
        _ => (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".to_string(),
        ),
    };
    let mut headers = vec![("Content-Type", content_type)];
    if status == 405 {
        headers.push(("Allow", "GET, HEAD"));
    }
    let mut response = Response::from_string(body).with_status_code(status);
    for (name, value) in headers {
        if let Ok(header) = Header::from_bytes(name, value) {
            response = response.with_header(header);
        }
    }
    // A client that hung up needs no answer.
    let _ = request.respond(response);
}
