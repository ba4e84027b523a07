//! A pipeline's own breaks table drives its report, through the real binary: a settlement
//! check written in SQL (no reconcile) names its table in `[breaks]`, and the mail's subject,
//! body, CSV and `when = "problems"` go by it; before, the email said "no problems". `check`
//! refuses a `[breaks]` column the table does not have.

#[path = "support/home.rs"]
mod home;

use home::tallyman;
use std::path::Path;
use std::process::Command;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const PIPELINE: &str = r#"
[source]
min_age_secs = 0
settle_secs = 0
[input]
schema = "payouts.v1"
[business_date]
from_name = '(?P<date>\d{4}-\d{2}-\d{2})'
[[transforms]]
name = "payout_check"
sql = """
SELECT payout_id, currency,
       CASE WHEN gross - fee = net THEN 'ok' ELSE 'fee_mismatch' END AS verdict,
       net - (gross - fee) AS off_by
FROM input
"""
[breaks]
table = "payout_check"
status = "verdict"
key = ["payout_id"]
amount = "off_by"
currency = "currency"
ok = ["ok"]
[[outputs]]
table = "payout_check"
destination = "finance"
name = "payout_check_{date}.csv"
order_by = ["payout_id"]
[report]
to = ["finance@example.com"]
when = "problems"
"#;

fn home() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    for d in ["pipelines", "schemas", "inbox/payouts"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(
        root.join("schemas/payouts.v1.json"),
        r#"{"fields": [
            {"name": "payout_id", "type": "string", "constraints": {"required": true}},
            {"name": "currency", "type": "string"},
            {"name": "gross", "type": "number", "scale": 2},
            {"name": "fee", "type": "number", "scale": 2},
            {"name": "net", "type": "number", "scale": 2}]}"#,
    )
    .unwrap();
    std::fs::write(root.join("pipelines/payouts.toml"), PIPELINE).unwrap();
    (dir, root)
}

fn drop(root: &Path, name: &str, content: &str) {
    let path = root.join("inbox/payouts").join(name);
    std::fs::write(&path, content).unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

fn mails(root: &Path) -> Vec<String> {
    let mut v: Vec<_> = std::fs::read_dir(root.join("outbox/mail"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v.iter()
        .map(|p| unfold_quoted_printable(&std::fs::read_to_string(p).unwrap()))
        .collect()
}

/// The text parts' soft line breaks (`=` at a line's end) joined and `=3D` read as `=`, so a
/// long line (a rerun's row-level change) is compared whole.
fn unfold_quoted_printable(mail: &str) -> String {
    mail.replace("=\r\n", "").replace("=3D", "=")
}

#[test]
fn a_sql_breaks_table_drives_the_report_subject_and_when() {
    let (_dir, root) = home();
    let o = tallyman(&root, &["check"]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    // P2's fee does not add up (100.00 - 2.90 is 97.10, not 97.00); P1 and P3 do.
    drop(
        &root,
        "payouts_2026-11-25.csv",
        "payout_id,currency,gross,fee,net\nP1,EUR,50.00,1.50,48.50\nP2,EUR,100.00,2.90,97.00\nP3,USD,20.00,0.60,19.40\n",
    );
    let o = tallyman(&root, &["run"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let sent = mails(&root);
    assert_eq!(sent.len(), 1, "problems found: one mail");
    let mail = &sent[0];
    assert!(
        mail.contains("Subject: [tallyman] payouts 2026-11-25: 1 break"),
        "{mail}"
    );
    assert!(!mail.contains("no problems"), "{mail}");
    assert!(
        mail.contains("fee_mismatch") && mail.contains("P2"),
        "{mail}"
    );
    let csv = std::fs::read_to_string(root.join("archive/payouts/2026-11-25/r000001/report.csv"))
        .unwrap();
    assert!(
        csv.contains("P2") && csv.contains("fee_mismatch") && csv.contains("-0.10"),
        "{csv}"
    );
    assert!(
        !csv.contains("P1") && !csv.contains("P3"),
        "ok rows are no breaks: {csv}"
    );

    // A day where every payout adds up: nothing to say, so nothing is mailed.
    drop(
        &root,
        "payouts_2026-11-26.csv",
        "payout_id,currency,gross,fee,net\nP4,EUR,10.00,0.30,9.70\n",
    );
    let o = tallyman(&root, &["run"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert_eq!(mails(&root).len(), 1, "no problems: no second mail");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("archive/payouts/2026-11-26/r000002/report.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["breaks"], serde_json::json!([]));

    // A rerun's mail says so first: which run it replays, who asked, why, and what changed
    // (here the check's sign, so its output differs).
    std::fs::write(
        root.join("pipelines/payouts.toml"),
        PIPELINE.replace(
            "net - (gross - fee) AS off_by",
            "(gross - fee) - net AS off_by",
        ),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", root.to_str().unwrap()])
        .args([
            "rerun",
            "payouts",
            "--date",
            "2026-11-25",
            "--reason",
            "fee table fixed",
        ])
        .env("TALLYMAN_ACTOR", "alice")
        .env("TALLYMAN_LOG", "warn")
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let sent = mails(&root);
    assert_eq!(
        sent.len(),
        2,
        "the rerun found the break again: a second mail"
    );
    let rerun = sent
        .iter()
        .find(|m| m.contains("RERUN of run r000001"))
        .expect("the rerun's mail");
    assert!(
        rerun.contains("RERUN of run r000001, asked by alice: fee table fixed"),
        "{rerun}"
    );
    assert!(
        rerun.find("RERUN of run").unwrap() < rerun.find("BREAKS").unwrap(),
        "the rerun is said before the detail: {rerun}"
    );
    let changed: Vec<&str> = rerun
        .lines()
        .filter(|l| l.trim_start().starts_with("changed: "))
        .collect();
    assert!(
        changed.iter().any(|l| l.contains("payout_check")),
        "what changed is said: {rerun}"
    );
    let o2 = text(&o.stdout);
    for c in &changed {
        let line = c.trim_start().trim_start_matches("changed: ");
        assert!(
            o2.contains(line),
            "the mail says what the rerun printed: {line} / {o2}"
        );
    }

    // A [breaks] column the table does not have is a configuration problem.
    std::fs::write(
        root.join("pipelines/payouts.toml"),
        PIPELINE.replace("amount = \"off_by\"", "amount = \"difference\""),
    )
    .unwrap();
    let o = tallyman(&root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(
            "breaks: `difference` is not a column of `payout_check` (its columns: payout_id, currency, verdict, off_by)"
        ),
        "{}",
        text(&o.stderr)
    );
}
