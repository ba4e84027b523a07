//! Health and metrics over real HTTP on an ephemeral loopback port, spoken to with a raw TCP client.

#[path = "support/prom.rs"]
mod prom;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tallyman::daemon::http::{parse_listen, Health, HttpError, HttpServer, DEFAULT_LISTEN};
use tallyman::daemon::metrics::{Counter, Metrics};

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

/// One raw HTTP/1.1 exchange; the server closes after answering `Connection: close`.
fn request(addr: SocketAddr, method: &str, path: &str) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read reply");
    let (headers, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {raw:?}"));
    let status = headers
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line: {headers:?}"));
    Reply {
        status,
        headers: headers.to_ascii_lowercase(),
        body: body.to_string(),
    }
}

fn start(pipelines: &[&str]) -> (HttpServer, Arc<Health>, Arc<Metrics>) {
    let health = Arc::new(Health::new(
        pipelines.iter().map(|p| p.to_string()).collect(),
    ));
    let metrics = Arc::new(Metrics::new());
    for p in pipelines {
        metrics.register_pipeline(p);
    }
    let addr = parse_listen("127.0.0.1:0").expect("loopback address");
    let server =
        HttpServer::start(addr, Arc::clone(&health), Arc::clone(&metrics)).expect("server starts");
    (server, health, metrics)
}

#[test]
fn healthz_reports_ok_uptime_and_pipelines() {
    let (server, health, _) = start(&["acme_945", "stripe_payouts"]);
    let reply = request(server.local_addr(), "GET", "/healthz");
    assert_eq!(reply.status, 200);
    assert!(
        reply.headers.contains("content-type: application/json"),
        "{}",
        reply.headers
    );
    let json: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON body");
    assert_eq!(json["status"], "ok");
    assert!(json["uptime_seconds"].is_u64(), "{json}");
    assert_eq!(
        json["pipelines"],
        serde_json::json!(["acme_945", "stripe_payouts"])
    );
    assert_eq!(json["taking_work"], true, "{json}");
    assert_eq!(json["ledger"], "connected", "{json}");
    // The ledger's database gone: still alive (200), not taking work, and why.
    health.set_ledger_fault(Some("ledger unreachable: connection refused".into()));
    let reply = request(server.local_addr(), "GET", "/healthz");
    assert_eq!(reply.status, 200);
    let json: serde_json::Value = serde_json::from_str(&reply.body).expect("JSON body");
    assert_eq!(json["taking_work"], false, "{json}");
    assert_eq!(
        json["ledger"], "ledger unreachable: connection refused",
        "{json}"
    );
    health.set_ledger_fault(None);

    health.set_pipelines(vec!["only_one".into()]);
    let json: serde_json::Value =
        serde_json::from_str(&request(server.local_addr(), "GET", "/healthz").body)
            .expect("JSON body");
    assert_eq!(json["pipelines"], serde_json::json!(["only_one"]));
    server.shutdown().expect("clean shutdown");
}

#[test]
fn metrics_are_served_live_in_the_exposition_format() {
    let (server, _, metrics) = start(&["acme_945"]);
    for round in 1..=3u64 {
        metrics.add("acme_945", Counter::FilesReceived, 2);
        metrics.set_mail_queue_depth(round);
        let reply = request(server.local_addr(), "GET", "/metrics");
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .headers
                .contains("content-type: text/plain; version=0.0.4"),
            "{}",
            reply.headers
        );
        let samples = prom::parse(&reply.body).unwrap_or_else(|e| panic!("{e}\n{}", reply.body));
        let find = |name: &str| samples.iter().find(|s| s.name == name).map(|s| s.value);
        assert_eq!(
            find("tallyman_files_received_total"),
            Some((2 * round) as f64)
        );
        assert_eq!(find("tallyman_mail_queue_depth"), Some(round as f64));
    }
    server.shutdown().expect("clean shutdown");
}

#[test]
fn routes_and_methods() {
    let (server, _, _) = start(&["p"]);
    // (method, path, status, body is empty)
    let cases = [
        ("GET", "/metrics?name=x", 200, false),
        ("HEAD", "/healthz", 200, true),
        ("GET", "/", 404, false),
        ("GET", "/healthz/extra", 404, false),
        ("POST", "/metrics", 405, false),
        ("DELETE", "/healthz", 405, false),
    ];
    for (method, path, status, empty) in cases {
        let reply = request(server.local_addr(), method, path);
        assert_eq!(reply.status, status, "{method} {path}");
        assert_eq!(
            reply.body.is_empty(),
            empty,
            "{method} {path}: {:?}",
            reply.body
        );
        if status == 405 {
            assert!(
                reply.headers.contains("allow: get, head"),
                "{}",
                reply.headers
            );
        }
    }
    server.shutdown().expect("clean shutdown");
}

#[test]
fn shutdown_closes_the_port_and_a_taken_port_is_an_error() {
    let (server, _, _) = start(&[]);
    let addr = server.local_addr();
    assert_eq!(request(addr, "GET", "/healthz").status, 200);
    server.shutdown().expect("clean shutdown");
    // tiny_http closes its listener from its accept thread just after the stop.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{addr} still accepts after shutdown"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_addr = taken.local_addr().expect("addr");
    let err = HttpServer::start(
        taken_addr,
        Arc::new(Health::new(vec![])),
        Arc::new(Metrics::new()),
    )
    .err()
    .expect("second bind fails");
    assert!(
        matches!(err, HttpError::Bind { addr, .. } if addr == taken_addr),
        "{err}"
    );
}

#[test]
fn listen_addresses() {
    let cases = [
        (DEFAULT_LISTEN, Some("127.0.0.1:9464")),
        ("[::1]:9464", Some("[::1]:9464")),
        (" 0.0.0.0:80 ", Some("0.0.0.0:80")),
        ("localhost:9464", None),
        ("127.0.0.1", None),
        ("127.0.0.1:99999", None),
    ];
    for (text, want) in cases {
        let got = parse_listen(text).ok().map(|a| a.to_string());
        assert_eq!(got.as_deref(), want, "{text:?}");
    }
}

/// `/readyz` reads the ledger: a source whose last pass failed is a reason (with its error),
/// a pass that works clears it; a failed reload is a reason until a reload works.
#[test]
fn readyz_answers_503_with_each_reason_and_200_once_they_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("var/ledger.sqlite");
    let ledger = tallyman::store::Ledger::open(&path).unwrap();
    let home = tallyman::config::Home::new(dir.path().to_path_buf());
    let health = Arc::new(Health::new(vec!["acme".into()]).with_ledger(home));
    let metrics = Arc::new(Metrics::new());
    let server = HttpServer::start(
        parse_listen("127.0.0.1:0").unwrap(),
        Arc::clone(&health),
        metrics,
    )
    .unwrap();
    let ready = || {
        let r = request(server.local_addr(), "GET", "/readyz");
        let json: serde_json::Value = serde_json::from_str(&r.body).expect("JSON body");
        (r.status, json)
    };
    assert_eq!(
        ready(),
        (200, serde_json::json!({"status": "ready", "reasons": []}))
    );
    ledger
        .source_failed(
            "acme",
            "sftp://acme@sftp.example:22/out",
            "connect: refused",
            "2026-12-04T10:00:00.000Z",
        )
        .unwrap();
    health.reload_failed(2);
    let (status, json) = ready();
    assert_eq!(status, 503);
    assert_eq!(json["status"], "degraded");
    let reasons: Vec<&str> = json["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(
        reasons[0].contains("failed with 2 problem(s)"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains(
            "acme: source sftp://acme@sftp.example:22/out failing since 2026-12-04T10:00:00.000Z"
        ) && reasons[1].contains("connect: refused"),
        "{reasons:?}"
    );
    ledger
        .source_ok(
            "acme",
            "sftp://acme@sftp.example:22/out",
            "2026-12-04T10:05:00.000Z",
        )
        .unwrap();
    health.reloaded();
    assert_eq!(ready().0, 200);
}
