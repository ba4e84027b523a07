//! Exception reports through the real `tallyman` binary: the demo's report spooled as an .eml,
//! delivery to a real SMTP server (aiosmtpd) on loopback, a server that is down and comes back,
//! a permanent refusal, and configuration errors in `[report]` and `tallyman.toml`.

#[path = "support/home.rs"]
mod home;

#[path = "support/smtp.rs"]
mod smtp;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use home::tallyman;
use smtp::{free_port, parse_mail, ParsedMail, ServerOpts, SmtpServer};

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A home folder with the demo's pipeline (with its `[report]`), schemas and files dropped.
fn demo_home() -> Home {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().to_path_buf();
    ok(&tallyman(&root, &["demo", "--no-run"]));
    inventory_only(&root);
    Home { _dir: dir, root }
}

/// Takes the demo's settlement pipeline out of a demo home: these tests are about the
/// inventory pipeline's report (the settlement's is tested in tests/settlement_cli.rs).
fn inventory_only(root: &Path) {
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the settlement demo");
    }
}

/// Points the home's mail at a plain-text SMTP server on 127.0.0.1.
fn smtp_settings(root: &Path, port: u16) {
    std::fs::write(
        root.join("tallyman.toml"),
        format!(
            "[mail]\nfrom = \"Tallyman <tallyman@example.com>\"\nsmtp_host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ntimeout_secs = 5\n"
        ),
    )
    .expect("write tallyman.toml");
}

fn spooled(root: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(root.join("outbox/mail"))
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()) == Some("eml"))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).expect("read file")
}

const RUN_DIR: &str = "archive/inventory_3pl/2026-11-25/r000001";

fn csv_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

/// The report's numbers are the run's numbers: counts from the manifest, issues from the
/// ledger's run row and issues.csv, breaks from the variance file the run wrote.
fn assert_report_matches_run(root: &Path, mail: &ParsedMail) {
    assert_eq!(
        mail.header("Subject"),
        Some("[tallyman] inventory_3pl 2026-11-25: 3 breaks, 2 issues")
    );
    assert_eq!(
        mail.header("To"),
        Some("Inventory Control <inventory-control@example.com>")
    );
    let html = &mail.part("text/html").expect("html part").body;
    let manifest: serde_json::Value =
        serde_json::from_str(&read(root, &format!("{RUN_DIR}/manifest.json"))).expect("manifest");
    let counts = manifest["reconciliation"].as_object().expect("counts");
    assert_eq!(counts["mismatched"], 1);
    assert_eq!(counts["only_in_erp"], 2);
    for (status, n) in counts {
        let cell = format!("data-count=\"{status}\">{n}</td>");
        assert!(html.contains(&cell), "{cell} not in the HTML:\n{html}");
    }
    assert!(
        html.contains("data-total=\"issues\">2</span>"),
        "2 issues:\n{html}"
    );
    assert!(
        html.contains("data-total=\"breaks\">3</span>"),
        "3 breaks:\n{html}"
    );
    assert!(
        mail.part("text/plain").is_some(),
        "a plain text part as well"
    );

    let attachment = mail
        .parts
        .iter()
        .find(|p| p.filename.is_some())
        .expect("CSV attachment");
    assert_eq!(
        attachment.filename.as_deref(),
        Some("inventory_3pl-2026-11-25-exceptions.csv")
    );
    let rows = csv_rows(&attachment.body);
    let breaks: BTreeSet<(String, String, String)> = rows
        .iter()
        .filter(|r| r["record"] == "break")
        .map(|r| {
            (
                r["item_id"].clone(),
                r["warehouse"].clone(),
                r["status"].clone(),
            )
        })
        .collect();
    let variance = read(root, "outbox/erp/inventory_variance_2026-11-25_r000001.csv");
    let expected_breaks: BTreeSet<(String, String, String)> = csv_rows(&variance)
        .iter()
        .map(|r| {
            (
                r["item_id"].clone(),
                r["warehouse"].clone(),
                r["status"].clone(),
            )
        })
        .collect();
    assert_eq!(expected_breaks.len(), 3);
    assert_eq!(breaks, expected_breaks, "every break is in the attachment");
    let mismatch = rows
        .iter()
        .find(|r| r["item_id"] == "SKU-00000002")
        .expect("the mismatch");
    assert_eq!(
        (
            mismatch["qty_on_hand_partner"].as_str(),
            mismatch["qty_on_hand_erp"].as_str(),
            mismatch["qty_on_hand_difference"].as_str()
        ),
        ("77", "80", "-3")
    );
    let issues: BTreeSet<(String, String)> = rows
        .iter()
        .filter(|r| r["record"] == "issue")
        .map(|r| (r["line"].clone(), r["rule"].clone()))
        .collect();
    let expected_issues: BTreeSet<(String, String)> =
        csv_rows(&read(root, &format!("{RUN_DIR}/issues.csv")))
            .iter()
            .map(|r| (r["line"].clone(), r["rule"].clone()))
            .collect();
    assert_eq!(
        expected_issues,
        BTreeSet::from([
            ("6".to_string(), "field-count".to_string()),
            ("8".to_string(), "foreign-key".to_string())
        ])
    );
    assert_eq!(issues, expected_issues, "every issue is in the attachment");
    assert_eq!(
        attachment.body,
        read(root, &format!("{RUN_DIR}/report.csv")),
        "the archived report.csv is the attachment"
    );
    assert!(read(root, &format!("{RUN_DIR}/report.html")).contains("data-total=\"issues\">2<"));
}

#[test]
fn demo_spools_one_eml_whose_numbers_are_the_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let out = ok(&tallyman(root, &["demo"]));
    // The inventory pipeline's report and the settlement pipeline's.
    assert!(out.contains("mail: 2 spooled to outbox/mail"), "{out}");
    let files = spooled(root);
    assert_eq!(files.len(), 2, "{files:?}");
    let mails: Vec<ParsedMail> = files
        .iter()
        .map(|f| parse_mail(&std::fs::read(f).expect("read eml")))
        .collect();
    let (inventory, settlement): (Vec<_>, Vec<_>) = mails.into_iter().partition(|m| {
        m.header("Subject")
            .is_some_and(|s| s.contains("inventory_3pl"))
    });
    assert_report_matches_run(root, &inventory[0]);
    assert_eq!(
        settlement[0].header("Subject"),
        Some("[tallyman] settlement_amazon_v2 2026-11-25: 5 breaks, 1 issue")
    );

    let listed = ok(&tallyman(root, &["mail"]));
    assert!(
        listed.contains(" sent ") && listed.contains("inventory-control@example.com"),
        "{listed}"
    );
    // Nothing new to process: no second message.
    ok(&tallyman(root, &["run"]));
    ok(&tallyman(root, &["mail", "flush"]));
    assert_eq!(spooled(root).len(), 2);
}

/// A crash after the run's end is recorded but before its report is queued (a failpoint aborts
/// the process there): the next pass finishes the report from the archived report.json, and it
/// is mailed exactly once, with the run's own numbers.
#[test]
fn a_crash_before_the_report_is_queued_loses_no_report() {
    let home = demo_home();
    let root = &home.root;
    let crashed = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().expect("utf-8 temp path"), "run"])
        .env("TALLYMAN_LOG", "warn")
        .env("TALLYMAN_FAILPOINTS", "run-recorded")
        .output()
        .expect("run tallyman");
    assert!(
        !crashed.status.success(),
        "the failpoint must abort the run"
    );
    assert!(
        String::from_utf8_lossy(&crashed.stderr).contains("failpoint run-recorded hit"),
        "{}",
        String::from_utf8_lossy(&crashed.stderr)
    );
    let runs = ok(&tallyman(root, &["runs"]));
    assert!(
        runs.contains("succeeded"),
        "the run itself was recorded: {runs}"
    );
    assert!(spooled(root).is_empty(), "nothing queued before the crash");
    assert!(root.join(RUN_DIR).join("report.json").is_file());
    assert!(!root.join(RUN_DIR).join("report.html").exists());

    let out = ok(&tallyman(root, &["run"]));
    assert!(out.contains("mail: 1 spooled to outbox/mail"), "{out}");
    let files = spooled(root);
    assert_eq!(files.len(), 1, "{files:?}");
    assert_report_matches_run(root, &parse_mail(&std::fs::read(&files[0]).expect("eml")));
    assert!(root.join(RUN_DIR).join("report.html").is_file());
    ok(&tallyman(root, &["run"]));
    assert_eq!(
        spooled(root).len(),
        1,
        "a finished report is not queued again"
    );
}

#[test]
fn a_rerun_archives_its_own_report_for_comparison() {
    let home = demo_home();
    let root = home.root.as_path();
    ok(&tallyman(root, &["run"]));
    let rerun = |reason: &str| {
        ok(&tallyman(
            root,
            &[
                "rerun",
                "inventory_3pl",
                "--date",
                "2026-11-25",
                "--reason",
                reason,
            ],
        ))
    };
    let out = rerun("test");
    assert!(out.contains("no differences"), "{out}");
    let first = read(root, &format!("{RUN_DIR}/report.csv"));
    let second = read(root, "archive/inventory_3pl/2026-11-25/r000002/report.csv");
    assert_eq!(first, second, "same inputs, same report");
    assert_eq!(spooled(root).len(), 2, "the rerun's report is mailed too");
    // The ERP corrects SKU 2: the mismatch leaves the report, and the rerun says so.
    let erp = root.join("inbox/erp/erp_onhand_2026-11-25.csv");
    let fixed = read(root, "inbox/erp/erp_onhand_2026-11-25.csv")
        .replace("SKU-00000002,3PL-RENO,80,", "SKU-00000002,3PL-RENO,77,");
    std::fs::write(&erp, fixed).expect("write erp");
    let out = rerun("ERP fixed");
    assert!(
        out.contains("exception report (report.csv): differs from r000002's"),
        "{out}"
    );
    let third = read(root, "archive/inventory_3pl/2026-11-25/r000003/report.csv");
    assert!(!third.contains("SKU-00000002") && second.contains("SKU-00000002"));
}

#[test]
fn delivered_once_to_a_real_smtp_server() {
    let server = SmtpServer::start(ServerOpts::default());
    let h = demo_home();
    smtp_settings(&h.root, server.port);
    let out = ok(&tallyman(&h.root, &["run"]));
    assert!(
        out.contains("mail: 1 sent, 0 to retry later, 0 failed"),
        "{out}"
    );
    let received = server.messages();
    assert_eq!(received.len(), 1);
    let mail = parse_mail(&received[0]);
    assert_report_matches_run(&h.root, &mail);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&tallyman(&h.root, &["mail", "--json"]))).expect("json");
    assert_eq!(listed[0]["state"], "sent");
    assert_eq!(listed[0]["attempts"], 1);
    assert_eq!(
        mail.header("Message-ID"),
        listed[0]["message_id"].as_str(),
        "the stored message is what arrived"
    );
    assert!(out.contains("1 report(s) queued"), "{out}");
    let again = ok(&tallyman(&h.root, &["mail", "flush"]));
    assert!(again.contains("0 sent"), "{again}");
    assert_eq!(server.messages().len(), 1, "delivered exactly once");
    assert!(spooled(&h.root).is_empty(), "nothing spooled with a relay");
}

#[test]
fn server_down_stays_queued_then_mail_flush_delivers_exactly_once() {
    let port = free_port();
    let h = demo_home();
    smtp_settings(&h.root, port);
    let out = ok(&tallyman(&h.root, &["run"]));
    assert!(out.contains("0 sent, 1 to retry later"), "{out}");
    let listed = ok(&tallyman(&h.root, &["mail"]));
    assert!(listed.contains(" queued "), "{listed}");
    assert!(
        listed.contains("last error: SMTP 127.0.0.1"),
        "the error is shown: {listed}"
    );
    let runs = ok(&tallyman(&h.root, &["runs"]));
    assert!(
        runs.contains("mail: 0 report(s) failed, 1 waiting to be retried"),
        "{runs}"
    );

    let server = SmtpServer::start(ServerOpts {
        port,
        ..ServerOpts::default()
    });
    let flushed = ok(&tallyman(&h.root, &["mail", "flush"]));
    assert!(
        flushed.contains("mail: 1 sent, 0 to retry later, 0 failed"),
        "{flushed}"
    );
    let again = ok(&tallyman(&h.root, &["mail", "flush"]));
    assert!(again.contains("mail: 0 sent"), "{again}");
    assert_eq!(server.messages().len(), 1, "delivered exactly once");
    assert_eq!(server.data_answers(), vec!["250"]);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&tallyman(&h.root, &["mail", "--json"]))).expect("json");
    assert_eq!(listed[0]["state"], "sent");
    assert_eq!(listed[0]["attempts"], 2);
    assert_eq!(listed[0]["last_error"], serde_json::Value::Null);
    assert!(!ok(&tallyman(&h.root, &["runs"])).contains("mail:"));
}

#[test]
fn permanent_550_fails_is_listed_and_can_be_retried() {
    let server = SmtpServer::start(ServerOpts {
        fail_550: true,
        ..ServerOpts::default()
    });
    let h = demo_home();
    smtp_settings(&h.root, server.port);
    let out = ok(&tallyman(&h.root, &["run"]));
    assert!(out.contains("0 sent, 0 to retry later, 1 failed"), "{out}");
    let listed = ok(&tallyman(&h.root, &["mail"]));
    assert!(listed.contains(" failed "), "{listed}");
    assert!(
        listed.contains("550") && listed.contains("Recipient refused by test policy"),
        "{listed}"
    );
    let runs = ok(&tallyman(&h.root, &["runs"]));
    assert!(runs.contains("mail: 1 report(s) failed"), "{runs}");
    // A failed message is not retried by itself.
    ok(&tallyman(&h.root, &["mail", "flush"]));
    assert_eq!(server.data_answers(), vec!["550"]);

    let id = {
        let v: serde_json::Value =
            serde_json::from_str(&ok(&tallyman(&h.root, &["mail", "--json"]))).expect("json");
        v[0]["id"].as_i64().expect("id").to_string()
    };
    let retried = ok(&tallyman(&h.root, &["mail", "retry", &id]));
    assert!(retried.contains("queued again"), "{retried}");
    assert!(ok(&tallyman(&h.root, &["mail"])).contains(" queued "));
    let o = tallyman(&h.root, &["mail", "flush"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a refused message fails the flush"
    );
    assert_eq!(server.data_answers(), vec!["550", "550"]);
    assert!(server.messages().is_empty());
    let missing = tallyman(&h.root, &["mail", "retry", "999"]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn check_names_bad_report_and_mail_keys() {
    let h = demo_home();
    let pipeline = h.root.join("pipelines/inventory_3pl.toml");
    let text = read(&h.root, "pipelines/inventory_3pl.toml")
        .replace(
            "to = [\"Inventory Control <inventory-control@example.com>\"]",
            "to = [\"not an address\"]",
        )
        .replace("when = \"problems\"", "when = \"sometimes\"");
    std::fs::write(&pipeline, text).expect("write pipeline");
    std::fs::write(
        h.root.join("tallyman.toml"),
        "[mail]\nfrom = \"nobody\"\ntls = \"maybe\"\n",
    )
    .expect("write tallyman.toml");
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "pipelines/inventory_3pl.toml: report.to[0]:",
        "pipelines/inventory_3pl.toml: report.when:",
        "tallyman.toml: mail.from:",
        "tallyman.toml: mail.tls:",
    ] {
        assert!(err.contains(needle), "{needle} missing:\n{err}");
    }
    std::fs::write(h.root.join("tallyman.toml"), "[mial]\n").expect("write");
    let o = tallyman(&h.root, &["check"]);
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tallyman.toml: line 1: unknown field `mial`")
    );
}

/// Money columns (`number` with a `scale`) get exact totals per currency and status; the
/// currency comes from the `currency` key.
#[test]
fn money_totals_per_currency_and_status() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    for d in ["pipelines", "schemas", "inbox/settle", "inbox/erp"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    let schema = |name: &str| {
        format!(
            r#"{{"name": "{name}", "fields": [
                {{"name": "order_id", "type": "string", "constraints": {{"required": true}}}},
                {{"name": "currency", "type": "string", "constraints": {{"required": true}}}},
                {{"name": "amount", "type": "number", "scale": 2}}]}}"#
        )
    };
    let files = [
        ("schemas/settle.v1.json", schema("settle")),
        ("schemas/erp_settle.v1.json", schema("erp_settle")),
        (
            "pipelines/settle.toml",
            r#"
[source]
min_age_secs = 1
settle_secs = 1
[input]
schema = "settle.v1"
[business_date]
from_name = '(?P<date>\d{4}-\d{2}-\d{2})'
[erp]
folder = "inbox/erp"
pattern = "erp_settle_{date}.csv"
schema = "erp_settle.v1"
[reconcile]
keys = [{ partner = "order_id", erp = "order_id" }, { partner = "currency", erp = "currency" }]
compare = [{ partner = "amount", erp = "amount" }]
[report]
to = ["finance@example.com"]
when = "always"
"#
            .to_string(),
        ),
        (
            "inbox/erp/erp_settle_2026-11-25.csv",
            "order_id,currency,amount\nA1,EUR,100.00\nA2,EUR,50.00\nA3,USD,12.50\nA5,USD,3.00\n"
                .to_string(),
        ),
        (
            "inbox/settle/settle_2026-11-25.csv",
            "order_id,currency,amount\nA1,EUR,100.00\nA2,EUR,50.25\nA3,USD,10.00\nA4,EUR,7.10\n"
                .to_string(),
        ),
    ];
    for (rel, text) in &files {
        let path = root.join(rel);
        std::fs::write(&path, text).expect("write");
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .expect("age");
    }
    let out = ok(&tallyman(root, &["run"]));
    assert!(
        out.contains("succeeded") && out.contains("mail: 1 spooled to outbox/mail"),
        "{out}"
    );
    let html = read(root, "archive/settle/2026-11-25/r000001/report.html");
    for (currency, status, field, value) in [
        ("EUR", "matched", "difference", "0.00"),
        ("EUR", "mismatched", "partner", "50.25"),
        ("EUR", "mismatched", "difference", "0.25"),
        ("EUR", "only_in_partner", "difference", "7.10"),
        ("USD", "mismatched", "difference", "-2.50"),
        ("USD", "only_in_erp", "difference", "-3.00"),
        ("USD", "only_in_erp", "count", "1"),
    ] {
        let cell = format!(
            "data-currency=\"{currency}\" data-status=\"{status}\" data-field=\"{field}\">{value}<"
        );
        assert!(html.contains(&cell), "{cell} not in:\n{html}");
    }
    let csv = read(root, "archive/settle/2026-11-25/r000001/report.csv");
    let rows = csv_rows(&csv);
    let a3 = rows
        .iter()
        .find(|r| r["order_id"] == "A3")
        .expect("A3 break");
    assert_eq!(
        (a3["currency"].as_str(), a3["amount_difference"].as_str()),
        ("USD", "-2.50")
    );
    assert_eq!(rows.len(), 4, "four breaks, no issues: {csv}");
}

fn age(path: &Path) {
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .expect("age");
}

fn subjects(root: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&tallyman(root, &["mail", "--json"]))).expect("json");
    let mut out: Vec<String> = v
        .as_array()
        .expect("list")
        .iter()
        .map(|m| m["subject"].as_str().unwrap_or_default().to_string())
        .collect();
    out.reverse();
    out
}

/// Duplicates of a pass, corrections and quarantined files are in the report too.
#[test]
fn duplicates_corrections_and_quarantined_files_are_reported() {
    let h = demo_home();
    // A missing ERP extract rejects at once (no wait), so that this pass reports it.
    let pipeline = h.root.join("pipelines/inventory_3pl.toml");
    let toml = read(&h.root, "pipelines/inventory_3pl.toml");
    std::fs::write(&pipeline, toml.replace("[erp]\n", "[erp]\nwait_secs = 0\n")).expect("write");
    let drop = h.root.join("inbox/inventory_3pl");
    let original = std::fs::read(drop.join("stock_2026-11-25.csv")).expect("read drop");
    ok(&tallyman(&h.root, &["run"]));
    // The same bytes under another name (a duplicate) and the same name with new content.
    std::fs::write(drop.join("stock_2026-11-25_again.csv"), &original).expect("write");
    std::fs::write(
        drop.join("stock_2026-11-25.csv"),
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000002,3PL-RENO,80,0,EA,2026-11-25T23:59:00Z\n",
    )
    .expect("write");
    age(&drop.join("stock_2026-11-25_again.csv"));
    age(&drop.join("stock_2026-11-25.csv"));
    ok(&tallyman(&h.root, &["run"]));
    // No ERP extract for this date: the file is quarantined, and the report says so.
    std::fs::write(
        drop.join("stock_2026-11-26.csv"),
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000002,3PL-RENO,80,0,EA,2026-11-26T23:59:00Z\n",
    )
    .expect("write");
    age(&drop.join("stock_2026-11-26.csv"));
    // A quarantined file is exit 1 (cron alerts), and its report is still queued.
    assert_eq!(tallyman(&h.root, &["run"]).status.code(), Some(1));
    let s = subjects(&h.root);
    assert_eq!(s.len(), 3, "{s:?}");
    assert_eq!(
        s[1],
        "[tallyman] inventory_3pl 2026-11-25: 6 breaks, 1 correction, 1 duplicate file"
    );
    assert_eq!(
        s[2],
        "[tallyman] inventory_3pl 2026-11-26: 1 quarantined file"
    );
    let html = read(
        &h.root,
        "archive/inventory_3pl/2026-11-25/r000002/report.html",
    );
    assert!(
        html.contains("stock_2026-11-25_again.csv") && html.contains("as a correction"),
        "{html}"
    );
    let html = read(
        &h.root,
        "archive/inventory_3pl/2026-11-26/r000003/report.html",
    );
    assert!(
        html.contains("no ERP extract for business date 2026-11-26"),
        "{html}"
    );
}

/// The process dies during the first send of a report (after the queue row was claimed): the
/// next `mail flush` takes over the dead process's claim at once and sends it, instead of
/// waiting out the 15-minute lease.
#[test]
fn mail_flush_sends_at_once_what_a_crashed_first_attempt_left_claimed() {
    let server = SmtpServer::start(ServerOpts::default());
    let h = demo_home();
    smtp_settings(&h.root, server.port);
    let crashed = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", h.root.to_str().unwrap(), "run"])
        .env("TALLYMAN_LOG", "warn")
        .env("TALLYMAN_FAILPOINTS", "mail-claimed")
        .output()
        .expect("run tallyman");
    assert!(!crashed.status.success());
    assert!(String::from_utf8_lossy(&crashed.stderr).contains("failpoint mail-claimed hit"));
    assert!(server.messages().is_empty());
    let flushed = ok(&tallyman(&h.root, &["mail", "flush"]));
    assert!(flushed.contains("mail: 1 sent"), "{flushed}");
    assert_eq!(server.messages().len(), 1);
    let listed: serde_json::Value =
        serde_json::from_str(&ok(&tallyman(&h.root, &["mail", "--json"]))).expect("json");
    assert_eq!(listed[0]["state"], "sent");
    assert_eq!(listed[0]["attempts"], 2);
}

/// Two homes each mail their own `r000001`: the Message-IDs differ (a per-home random part),
/// so a mailbox that drops repeated Message-IDs shows both; within one home a report keeps
/// its Message-ID (the queue stays idempotent).
#[test]
fn message_ids_of_two_homes_differ() {
    let ids: Vec<String> = (0..2)
        .map(|_| {
            let h = demo_home();
            ok(&tallyman(&h.root, &["run"]));
            let listed: serde_json::Value =
                serde_json::from_str(&ok(&tallyman(&h.root, &["mail", "--json"]))).expect("json");
            let id = listed[0]["message_id"]
                .as_str()
                .expect("message id")
                .to_string();
            assert!(id.contains(".r000001."), "{id}");
            id
        })
        .collect();
    assert_ne!(ids[0], ids[1]);
}

/// `check` refuses a plain-text relay off loopback when a login is configured, and accepts
/// one on loopback.
#[test]
fn check_refuses_a_plain_text_login_off_loopback() {
    let h = demo_home();
    for (host, ok_expected) in [
        ("smtp.example.com", false),
        ("127.0.0.1", true),
        ("localhost", true),
    ] {
        std::fs::write(
            h.root.join("tallyman.toml"),
            format!(
                "[mail]\nfrom = \"Tallyman <tallyman@example.com>\"\nsmtp_host = \"{host}\"\ntls = \"none\"\nusername_env = \"U\"\npassword_env = \"P\"\n"
            ),
        )
        .expect("write tallyman.toml");
        let o = tallyman(&h.root, &["check"]);
        assert_eq!(
            o.status.success(),
            ok_expected,
            "{host}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        if !ok_expected {
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(
                err.contains("mail.tls") && err.contains("plain text"),
                "{err}"
            );
        }
    }
}
