//! Health (`/healthz`) and metrics (`/metrics`) over HTTP, served by tiny_http on its own thread.
//!
//! tiny_http is blocking and needs no async runtime; the daemon only answers scrapes and probes.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Header, Method, Request, Response, Server};

use super::metrics::Metrics;

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

/// What `/healthz` reports; the run loop updates the pipeline list on reload.
#[derive(Debug)]
pub struct Health {
    started: Instant,
    pipelines: Mutex<Vec<String>>,
}

impl Health {
    pub fn new(pipelines: Vec<String>) -> Health {
        Health {
            started: Instant::now(),
            pipelines: Mutex::new(pipelines),
        }
    }

    pub fn set_pipelines(&self, pipelines: Vec<String>) {
        *self.pipelines.lock().unwrap_or_else(|p| p.into_inner()) = pipelines;
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
        serde_json::json!({
            "status": "ok",
            "uptime_seconds": self.uptime().as_secs(),
            "pipelines": pipelines,
        })
        .to_string()
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
                .spawn(move || serve(&server, &stop, &health, &metrics))
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

fn serve(server: &Server, stop: &AtomicBool, health: &Health, metrics: &Metrics) {
    while !stop.load(Ordering::SeqCst) {
        // Errors here are one client's broken connection; the next request may be fine.
        if let Ok(Some(request)) = server.recv_timeout(POLL) {
            respond(request, health, metrics);
        }
    }
}

fn respond(request: Request, health: &Health, metrics: &Metrics) {
    let path = request.url().split('?').next().unwrap_or("");
    let (status, content_type, body) = match (request.method(), path) {
        (Method::Get | Method::Head, "/healthz") => (200, "application/json", health.to_json()),
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
