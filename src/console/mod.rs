//! The operator console served by `tallyman serve` beside `/metrics`: HTML pages of every
//! pipeline, run and file (`overview`, `pipeline`, `run`, `search`), archived files to download
//! (`download`, never outside the home's archive) and the actions of the CLI behind a token and a
//! CSRF check (`actions`). Pages are maud templates compiled into the binary; one stylesheet.
//!
//! Plain functions of a request: the HTTP thread (`daemon::http`) parses nothing but the method,
//! the path, the query and the body, and answers with what `Console::handle` returns.

mod actions;
mod download;
mod form;
mod layout;
mod overview;
mod pipeline;
mod run;
mod search;
mod svg;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use sha2::{Digest, Sha256};

use crate::config::console::{ConsoleSettings, TokenSource};
use crate::config::{Home, Pipeline};
use crate::store::Ledger;

pub use actions::MAX_BODY;
pub use download::{resolve_archived, Refusal};
pub use form::{parse_form, percent_decode};

#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("console token file {}: {source}", path.display())]
    TokenFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("console token variable {0} is not set")]
    TokenEnv(String),
    #[error("the console token (from {0}) is empty")]
    TokenEmpty(String),
    #[error("cannot read random bytes for the console's CSRF secret: {0}")]
    Random(std::io::Error),
}

/// A request as the console sees it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// `GET`, `HEAD` or `POST` (anything else is refused).
    pub method: &'a str,
    /// The path, still percent-encoded.
    pub path: &'a str,
    pub query: &'a str,
    pub body: &'a [u8],
}

/// The console's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    fn html(status: u16, page: maud::Markup) -> Reply {
        Reply {
            status,
            content_type: "text/html; charset=utf-8",
            body: page.into_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn text(status: u16, text: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body: text.into().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn redirect(to: &str) -> Reply {
        Reply {
            status: 303,
            content_type: "text/plain; charset=utf-8",
            body: format!("see {to}\n").into_bytes(),
            headers: vec![("Location", to.to_string())],
        }
    }
}

/// The console of one home; shared by the HTTP thread and the serve loop (pipelines on reload).
pub struct Console {
    home: Home,
    /// Its own connection, opened on the first page: never the run loop's.
    ledger: Mutex<Option<Ledger>>,
    pipelines: Mutex<BTreeMap<String, Arc<Pipeline>>>,
    /// `None`: read-only (no forms; POST refused).
    token: Option<String>,
    /// This process's CSRF value: SHA-256 of a random secret read at start, so a page of
    /// another site cannot know it and a restart invalidates every form.
    csrf: String,
    /// The binary a rerun is started with (the CLI's own code path, actor and all).
    exe: PathBuf,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("home", &self.home.root)
            .field("read_only", &self.token.is_none())
            .finish_non_exhaustive()
    }
}

/// Reads the token named by `[console]`.
pub fn read_token(settings: &ConsoleSettings) -> Result<Option<String>, ConsoleError> {
    let (token, from) = match &settings.token {
        None => return Ok(None),
        Some(TokenSource::File(path)) => (
            std::fs::read_to_string(path).map_err(|source| ConsoleError::TokenFile {
                path: path.clone(),
                source,
            })?,
            path.display().to_string(),
        ),
        Some(TokenSource::Env(name)) => (
            std::env::var(name).map_err(|_| ConsoleError::TokenEnv(name.clone()))?,
            name.clone(),
        ),
    };
    let token = token.trim().to_string();
    if token.is_empty() {
        return Err(ConsoleError::TokenEmpty(from));
    }
    Ok(Some(token))
}

fn random_secret() -> Result<[u8; 32], ConsoleError> {
    use std::io::Read;
    let mut secret = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut secret))
        .map_err(ConsoleError::Random)?;
    Ok(secret)
}

/// Equal without stopping at the first difference (the token and the CSRF value).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Console {
    pub fn new(home: Home, token: Option<String>) -> Result<Console, ConsoleError> {
        let secret = random_secret()?;
        let mut h = Sha256::new();
        h.update(secret);
        h.update(b"tallyman console csrf");
        Ok(Console {
            home,
            ledger: Mutex::new(None),
            pipelines: Mutex::new(BTreeMap::new()),
            token,
            csrf: hex::encode(h.finalize()),
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("tallyman")),
        })
    }

    pub fn set_pipelines(&self, pipelines: BTreeMap<String, Arc<Pipeline>>) {
        *self.pipelines.lock().unwrap_or_else(|p| p.into_inner()) = pipelines;
    }

    fn pipelines(&self) -> BTreeMap<String, Arc<Pipeline>> {
        self.pipelines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether actions are offered (a token is configured).
    pub fn writable(&self) -> bool {
        self.token.is_some()
    }

    fn ledger(&self) -> Result<LedgerGuard<'_>, String> {
        let mut guard = self.ledger.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(Ledger::open_for_home(&self.home).map_err(|e| e.to_string())?);
        }
        Ok(LedgerGuard(guard))
    }

    /// The answer to `req`, or `None` when the path is not the console's.
    pub fn handle(&self, req: &Incoming<'_>) -> Option<Reply> {
        let path = req.path;
        let get = matches!(req.method, "GET" | "HEAD");
        if let Some(rest) = path.strip_prefix("/actions/") {
            return Some(match req.method {
                "POST" => actions::post(self, rest, req.body),
                _ => with_allow(Reply::text(405, "actions are POST only\n"), "POST"),
            });
        }
        let reply = match path {
            "/" => overview::page(self),
            "/fragments/overview" => overview::fragment(self),
            "/console.css" => Reply {
                status: 200,
                content_type: "text/css; charset=utf-8",
                body: layout::STYLESHEET.as_bytes().to_vec(),
                headers: vec![("Cache-Control", "max-age=300".into())],
            },
            "/console.js" => overview::script(),
            "/search" => search::page(self, req.query),
            _ => {
                if let Some(name) = path.strip_prefix("/pipelines/") {
                    pipeline::page(self, &percent_decode(name))
                } else if let Some(rest) = path.strip_prefix("/runs/") {
                    run::route(self, rest)
                } else if let Some(rel) = path.strip_prefix("/archive/") {
                    download::reply(self, rel)
                } else {
                    return None;
                }
            }
        };
        Some(match get {
            true => reply,
            false => with_allow(Reply::text(405, "method not allowed\n"), "GET, HEAD"),
        })
    }
}

fn with_allow(mut r: Reply, allow: &str) -> Reply {
    r.headers.push(("Allow", allow.to_string()));
    r
}

/// The console's ledger connection, held for one page.
struct LedgerGuard<'a>(MutexGuard<'a, Option<Ledger>>);

impl std::ops::Deref for LedgerGuard<'_> {
    type Target = Ledger;
    fn deref(&self) -> &Ledger {
        // Set before the guard is made (`Console::ledger`).
        self.0.as_ref().expect("ledger opened")
    }
}

/// A page saying what went wrong (the ledger unreadable, say).
fn failure(status: u16, title: &str, why: &str) -> Reply {
    Reply::html(
        status,
        layout::page(title, maud::html! { p.problem { (why) } }),
    )
}
