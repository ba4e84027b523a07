//! The operator console under test: a demo home whose overview has problems to show (a late
//! expected file, a failing SFTP source), a console token, and plain HTTP/1.0 requests (GET and
//! form POSTs, paths sent exactly as written) to a real `tallyman serve`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::Duration;

use crate::home::{both, tallyman, Home};

pub const TOKEN: &str = "s3cret-console-token";

/// The whole demo, run (`tallyman demo`: inventory_3pl's r000001, the settlement, the catalog,
/// the orders), then: catalog_items ticks at 06:30 every day and
/// expects a file every day by 00:00 UTC and has been watched for three days (so today's is
/// late), orders_x12's source has been failing, and `[console]` reads `TOKEN` from a file
/// when `with_token`.
pub fn console_home(with_token: bool) -> Home {
    let dir = tempfile::tempdir().expect("tempdir");
    let h = Home {
        root: dir.path().to_path_buf(),
        _dir: dir,
    };
    let o = tallyman(&h.root, &["demo"]);
    assert!(o.status.success(), "{}", both(&o));
    let catalog = h.root.join("pipelines/catalog_items.toml");
    let mut text = std::fs::read_to_string(&catalog).expect("catalog pipeline");
    // A schedule too (a top-level key: before the first table), so its next tick is shown.
    text = format!(
        "schedule = \"30 6 * * *\"\n{text}\n[expected]\nby = \"00:00\"\ntime_zone = \"UTC\"\n"
    );
    std::fs::write(&catalog, text).expect("write catalog pipeline");
    let since = (chrono::Utc::now() - chrono::Duration::days(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).expect("ledger");
    conn.execute(
        "INSERT INTO daemon_pipelines (pipeline, expected_since) VALUES ('catalog_items', ?1)",
        [&since],
    )
    .expect("expected_since");
    conn.execute(
        "INSERT INTO source_status (pipeline, source, failures, failing_since, last_error)
         VALUES ('orders_x12', 'sftp://partner@127.0.0.1:1/out', 4, ?1, 'connect: refused')",
        [&since],
    )
    .expect("source_status");
    if with_token {
        std::fs::write(h.root.join("var/console.token"), format!("{TOKEN}\n")).expect("token");
        let global = h.root.join("tallyman.toml");
        let mut g = std::fs::read_to_string(&global).unwrap_or_default();
        g.push_str("\n[console]\ntoken_file = \"var/console.token\"\n");
        std::fs::write(&global, g).expect("tallyman.toml");
    }
    h
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One request; `body` is sent as a form when given.
pub fn request(port: u16, method: &str, path: &str, body: Option<&str>) -> Answer {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut head = format!("{method} {path} HTTP/1.0\r\nHost: localhost\r\n");
    if let Some(b) = body {
        head.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            b.len()
        ));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).expect("write");
    if let Some(b) = body {
        s.write_all(b.as_bytes()).expect("write body");
    }
    let mut bytes = Vec::new();
    s.read_to_end(&mut bytes).expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Answer {
        status,
        headers,
        body: body.to_string(),
    }
}

pub fn get(port: u16, path: &str) -> Answer {
    request(port, "GET", path, None)
}

/// The CSRF value of the forms on `path`.
pub fn csrf(port: u16, path: &str) -> String {
    let page = get(port, path).body;
    let re = regex::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#).expect("regex");
    re.captures(&page)
        .unwrap_or_else(|| panic!("no CSRF field on {path}"))[1]
        .to_string()
}

/// `data-<attr>="name">value<` pairs of a page, in order.
pub fn data_counts(html: &str, attr: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(&format!(r#"data-{attr}="([^"]+)"[^>]*>([^<]*)<"#)).expect("regex");
    re.captures_iter(html)
        .map(|c| (c[1].to_string(), c[2].trim().to_string()))
        .collect()
}

/// The archive folder of run `run` (relative to the home).
pub fn run_dir(root: &Path, run: &str) -> std::path::PathBuf {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).expect("ledger");
    let rel: String = conn
        .query_row(
            "SELECT archive_path FROM runs WHERE run_id = ?1",
            [run],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("archive of {run}: {e}"));
    root.join(rel)
}

/// How many pipelines the home holds (`pipelines/*.toml`): the overview shows one row each.
pub fn pipeline_count(root: &Path) -> usize {
    std::fs::read_dir(root.join("pipelines"))
        .expect("pipelines folder")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count()
}
