//! `tallyman serve` tells the on-call the truth, through the real binary: `/readyz` degraded
//! while a file is quarantined for a missing ERP extract and ready again once a rerun puts it
//! right; degraded after a failed SIGHUP reload (counted in /metrics, logged at error level)
//! and ready after a good one; `last_success` read back from the ledger after a restart; and a
//! log written to a pipe carries no ANSI colour codes.

#[path = "support/home.rs"]
mod home;

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/prom.rs"]
mod prom;

use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon::{count, wait_for, Daemon};
use home::tallyman;

const DROP: &str = "inbox/inventory_3pl";
const DEMO: &str = "stock_2026-11-25.csv";
const ERP: &str = "inbox/erp/erp_onhand_2026-11-25.csv";

/// `serve --scan-secs 1` with `NO_COLOR` unset: the log must be plain because stderr is a pipe.
fn serve(root: &Path) -> Daemon {
    daemon::serve_with(root, &["--scan-secs", "1"], &["NO_COLOR"])
}

trait Probes {
    fn ready(&self) -> (u16, serde_json::Value);
    fn metric(&self, name: &str) -> Option<String>;
}

impl Probes for Daemon {
    /// (status code, JSON body) of `/readyz`.
    fn ready(&self) -> (u16, serde_json::Value) {
        let (code, body) = self.get("/readyz").expect("GET /readyz");
        (code, serde_json::from_str(&body).expect("JSON"))
    }

    /// The value of the first line of `/metrics` starting with `name`, as written.
    fn metric(&self, name: &str) -> Option<String> {
        let (_, text) = self.get("/metrics").expect("GET /metrics");
        text.lines()
            .find(|l| l.starts_with(name))
            .map(|l| l.rsplit(' ').next().unwrap_or("").to_string())
    }
}

/// A home with the demo pipeline, its drop folder empty and the ERP extract taken away.
fn home() -> (tempfile::TempDir, PathBuf, String, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Only the inventory demo: the settlement demo's pipeline would add its own runs and mails.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the settlement demo");
    }
    let demo = std::fs::read_to_string(root.join(DROP).join(DEMO)).unwrap();
    std::fs::remove_file(root.join(DROP).join(DEMO)).unwrap();
    let erp = std::fs::read(root.join(ERP)).unwrap();
    std::fs::remove_file(root.join(ERP)).unwrap();
    // A missing extract rejects at once here (by default the file would wait for it).
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let toml = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, toml.replace("[erp]\n", "[erp]\nwait_secs = 0\n")).unwrap();
    (dir, root, demo, erp)
}

#[test]
fn readyz_is_degraded_while_something_needs_a_person_and_ready_once_it_is_put_right() {
    let (_dir, root, demo, erp) = home();
    let d = serve(&root);
    assert_eq!(
        d.ready(),
        (200, serde_json::json!({"status": "ready", "reasons": []}))
    );

    // The partner file arrives before the ERP extract: quarantined, and /readyz says why.
    std::fs::write(root.join(DROP).join(DEMO), &demo).unwrap();
    wait_for(Duration::from_secs(30), || {
        count(&root, "select count(*) from runs where state = 'rejected'") == 1
    });
    let (code, json) = d.ready();
    assert_eq!(code, 503, "{json}");
    assert_eq!(json["status"], "degraded");
    let reasons = json["reasons"].to_string();
    assert!(
        reasons.contains("inventory_3pl: 1 file(s) rejected")
            && reasons.contains(DEMO)
            && reasons.contains("no ERP extract"),
        "{reasons}"
    );
    // /healthz stays the liveness answer.
    assert_eq!(d.get("/healthz").unwrap().0, 200);

    // The extract lands and an admin reruns the date: ready again.
    std::fs::write(root.join(ERP), &erp).unwrap();
    let o = tallyman(
        &root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "extract arrived",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert_eq!(d.ready().0, 200, "{}", d.ready().1);

    // A bad configuration on SIGHUP: degraded, counted, logged; a good one puts it right.
    let bad = root.join("pipelines/bad.toml");
    std::fs::write(&bad, "this is = not [valid").unwrap();
    d.signal("HUP");
    wait_for(Duration::from_secs(15), || d.ready().0 == 503);
    assert!(
        d.ready().1["reasons"]
            .to_string()
            .contains("reload (SIGHUP) failed"),
        "{}",
        d.ready().1
    );
    assert_eq!(
        d.metric("tallyman_config_reload_failures_total").as_deref(),
        Some("1")
    );
    assert_eq!(
        d.metric("tallyman_config_last_reload_successful")
            .as_deref(),
        Some("0")
    );
    std::fs::remove_file(&bad).unwrap();
    d.signal("HUP");
    wait_for(Duration::from_secs(15), || d.ready().0 == 200);
    assert_eq!(
        d.metric("tallyman_config_last_reload_successful")
            .as_deref(),
        Some("1")
    );
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(
        log.contains("ERROR") && log.contains("configuration problem"),
        "{log}"
    );
    // stderr was a pipe: plain text for the log file or journald.
    assert!(
        !log.contains('\u{1b}'),
        "ANSI escape codes in a piped log: {log:?}"
    );

    // After a restart the last success comes from the ledger, not from this process's memory.
    let ended: String = rusqlite::Connection::open(root.join("var/ledger.sqlite"))
        .unwrap()
        .query_row(
            "select max(ended_at) from runs where state = 'succeeded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let expected = chrono::DateTime::parse_from_rfc3339(&ended)
        .unwrap()
        .timestamp_millis() as f64
        / 1000.0;
    let d = serve(&root);
    let last = d
        .metric("tallyman_last_success_timestamp_seconds{pipeline=\"inventory_3pl\"}")
        .expect("last success after a restart");
    assert_eq!(last.parse::<f64>().unwrap(), expected);
    let (status, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
}
