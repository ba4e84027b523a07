//! What the partner is told about each X12 interchange, through the real binary: the 997 and
//! TA1 Tallyman writes for a rejected interchange (broken group count, broken IEA), for its
//! corrected resend under the same control number (accepted: only accepted interchanges make a
//! number "already received"), and for a true duplicate; read back with `tallyman inspect` on
//! the file we wrote. The replies use the partner's version (00401 / 004010).
//!
//! The interchanges are `tests/fixtures/x12/ediEngine_850.OK.edi` (see PROVENANCE.tsv) with
//! its ISA made 00401, control number 905, TA1 requested (ISA14 = 1), and the changes each case
//! names.

#[path = "support/home.rs"]
mod home;

use home::tallyman;
use std::path::{Path, PathBuf};
use std::process::Command;

const SENDER: &str = "ABCDEFGHIJKLMNO";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A home with the demo set up and an X12 850 pipeline acknowledging into outbox/partner_acme.
fn home(ta1: Option<&str>) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // Only the inventory demo: the settlement demo's pipeline would add its own runs and mails.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the settlement demo");
    }
    std::fs::create_dir_all(root.join("inbox/po850")).unwrap();
    std::fs::write(
        root.join("schemas/po_lines.v1.json"),
        r#"{"fields": [
            {"name": "po_number", "type": "string", "constraints": {"required": true}},
            {"name": "line_number", "type": "integer"},
            {"name": "sku", "type": "string", "constraints": {"required": true}},
            {"name": "quantity", "type": "integer", "constraints": {"required": true}}],
           "fieldsMatch": "superset"}"#,
    )
    .unwrap();
    let ta1 = ta1.map(|t| format!("ta1 = \"{t}\"\n")).unwrap_or_default();
    std::fs::write(
        root.join("pipelines/po850.toml"),
        format!(
            "[source]\nmin_age_secs = 0\nsettle_secs = 0\n[input]\nformat = \"x12\"\ntable = \"x12_850_lines\"\nschema = \"po_lines.v1\"\nack_destination = \"partner_acme\"\n{ta1}[[outputs]]\ntable = \"input\"\ndestination = \"erp\"\nname = \"po_lines_{{run_id}}.csv\"\n"
        ),
    )
    .unwrap();
    (dir, root)
}

/// The fixture as a 00401 interchange with control number `control`, TA1 requested when
/// `ack_requested`, and the replacements `edits` applied.
fn interchange(control: &str, ack_requested: bool, edits: &[(&str, &str)]) -> String {
    let path = format!(
        "{}/tests/fixtures/x12/ediEngine_850.OK.edi",
        env!("CARGO_MANIFEST_DIR")
    );
    let isa14 = if ack_requested { "1" } else { "0" };
    let mut s = std::fs::read_to_string(path).unwrap().replace(
        "*U*00400*000003438*0*P*>",
        &format!("*U*00401*{control}*{isa14}*P*>"),
    );
    s = s.replace("IEA*1*000003438", &format!("IEA*1*{control}"));
    for (from, to) in edits {
        assert!(s.contains(from), "the fixture has no {from:?}");
        s = s.replace(from, to);
    }
    s
}

/// Drops `content` as `name` (old enough to be taken), runs the pipeline and returns the run's
/// exit code and stdout, and the reply files the run added.
fn deliver(root: &Path, name: &str, content: &str) -> (Option<i32>, String, Vec<PathBuf>) {
    let before = replies(root);
    let path = root.join("inbox/po850").join(name);
    std::fs::write(&path, content).unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
    // Closed before the run: a file still open for writing is not taken (issue 12).
    drop(f);
    let o = tallyman(root, &["run", "po850"]);
    let added = replies(root)
        .into_iter()
        .filter(|p| !before.contains(p))
        .collect();
    (o.status.code(), text(&o.stdout) + &text(&o.stderr), added)
}

fn replies(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(root.join("outbox/partner_acme"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// `tallyman inspect --table NAME FILE`: the mapped table's rows after the three context
/// columns, as `a,b,c` lines (CSV without the header).
fn table(file: &Path, name: &str) -> Vec<String> {
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", "--table", name, file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines = out.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("interchange_control,group_control,set_control,"),
        "{out}"
    );
    lines
        .map(|l| l.splitn(4, ',').nth(3).unwrap_or("").to_string())
        .collect()
}

/// The archived report.html of run `run` (business date = today's, the only date here).
fn report_html(root: &Path, run: &str) -> String {
    let dir = std::fs::read_dir(root.join("archive/po850"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join(run).is_dir())
        .expect("the run's archive folder");
    std::fs::read_to_string(dir.join(run).join("report.html")).unwrap()
}

/// `tallyman inspect --json FILE` of a reply: it must read back with no problem.
fn inspect(file: &Path) -> serde_json::Value {
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", "--json", file.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["counts"]["problems"], 0, "our reply has problems: {v}");
    assert_eq!(o.status.code(), Some(0));
    v
}

/// (TA101, TA104, TA105) of the TA1 a reply carries, if any.
fn ta1(v: &serde_json::Value) -> Option<(String, String, String)> {
    let t = v["interchanges"][0]["ta1"].get(0)?;
    let s = |k: &str| t[k].as_str().unwrap().to_string();
    Some((s("control"), s("status"), s("note")))
}

#[test]
fn rejected_resent_and_duplicate_interchanges_are_answered_as_they_were_treated() {
    let (_dir, root) = home(None);

    // 1. GE01 says 2 sets, the group has 1: the file is rejected, and so is everything in it.
    let (code, out, added) = deliver(
        &root,
        "po_1.x12",
        &interchange("000000905", true, &[("GE*1*1421", "GE*2*1421")]),
    );
    assert_eq!(code, Some(1), "a rejected file exits 1: {out}");
    assert!(out.contains("po_1.x12 -> rejected"), "{out}");
    assert_eq!(added.len(), 1, "{added:?}");
    let reply = &added[0];
    assert!(
        reply
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&format!("997_{SENDER}_000000905_")),
        "{reply:?}"
    );
    // functional_id, acked_group_control, status, sets_declared, sets_received, sets_accepted,
    // errors (AK905 5: the set count does not match).
    assert_eq!(table(reply, "x12_997_groups"), vec!["PO,1421,R,2,1,0,5"]);
    // acked_group_control, set_id, acked_set_control, status, errors, segment_errors.
    assert_eq!(table(reply, "x12_997_sets"), vec!["1421,850,000000010,R,,"]);
    let v = inspect(reply);
    let ic = &v["interchanges"][0];
    assert_eq!(
        ic["version"], "00401",
        "the reply speaks the partner's version"
    );
    assert_eq!(ic["groups"][0]["version"], "004010");
    assert_eq!(ic["groups"][0]["functional_id"], "FA");
    // Asked for in ISA14: rejected for what its group holds (TA105 024).
    assert_eq!(
        ta1(&v),
        Some(("000000905".into(), "R".into(), "024".into()))
    );
    // 4010 has no AK103: the reply must not carry one.
    let raw = std::fs::read_to_string(reply).unwrap();
    assert!(raw.contains("AK1*PO*1421~"), "{raw}");
    // The run's report puts the verdict first: quarantined, and what the partner was sent.
    let html = report_html(&root, "r000001");
    let reply_name = reply.file_name().unwrap().to_string_lossy().into_owned();
    let verdict = html.find("<h2>Verdict</h2>").expect("a verdict");
    assert!(
        html[verdict..].contains("Quarantined: <strong>po_1.x12</strong>"),
        "{html}"
    );
    assert!(
        html[verdict..].contains(&format!(
            "Acknowledgement sent to the partner: <code>{reply_name}</code>"
        )),
        "{html}"
    );
    assert!(verdict < html.find("Validation issues").unwrap(), "{html}");

    // 2. The corrected resend reuses 905: the rejected interchange did not use the number up.
    let (code, out, added) = deliver(&root, "po_2.x12", &interchange("000000905", true, &[]));
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("po_2.x12 -> succeeded"), "{out}");
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(table(&added[0], "x12_997_groups"), vec!["PO,1421,A,1,1,1,"]);
    assert_eq!(
        table(&added[0], "x12_997_sets"),
        vec!["1421,850,000000010,A,,"]
    );
    let v = inspect(&added[0]);
    assert_eq!(
        ta1(&v),
        Some(("000000905".into(), "A".into(), "000".into()))
    );

    // 3. 905 again with other content: a true duplicate of the accepted interchange.
    let (code, out, added) = deliver(
        &root,
        "po_3.x12",
        &interchange(
            "000000905",
            true,
            &[("BEG*00*SA*08292233294", "BEG*00*SA*08292233295")],
        ),
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("po_3.x12 -> rejected"), "{out}");
    assert!(
        out.contains("was already received in an earlier file (po_2.x12, run r000002)"),
        "{out}"
    );
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(table(&added[0], "x12_997_groups"), vec!["PO,1421,R,1,1,0,"]);
    assert_eq!(
        table(&added[0], "x12_997_sets"),
        vec!["1421,850,000000010,R,,"]
    );
    let v = inspect(&added[0]);
    assert_eq!(
        ta1(&v),
        Some(("000000905".into(), "R".into(), "025".into()))
    );

    // 4. IEA02 differs from ISA13: an interchange-level fault, named in the TA1 (001).
    let (code, out, added) = deliver(
        &root,
        "po_4.x12",
        &interchange("000000906", true, &[("IEA*1*000000906", "IEA*1*000000907")]),
    );
    assert_eq!(code, Some(1), "{out}");
    let v = inspect(&added[0]);
    assert_eq!(
        ta1(&v),
        Some(("000000906".into(), "R".into(), "001".into()))
    );
    assert_eq!(table(&added[0], "x12_997_groups"), vec!["PO,1421,R,1,1,0,"]);

    // The one accepted interchange is the one remembered as received.
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let rows: Vec<(String, String, i64)> = conn
        .prepare("SELECT control, file, accepted FROM x12_interchanges_received ORDER BY control")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        vec![
            ("905".to_string(), "po_2.x12".to_string(), 1),
            ("906".to_string(), "po_4.x12".to_string(), 0)
        ]
    );
}

#[test]
fn a_ta1_is_sent_when_asked_for_or_when_the_pipeline_always_wants_one() {
    // Not asked for (ISA14 = 0), default policy: the 997 alone.
    let (_dir, root) = home(None);
    let (code, out, added) = deliver(
        &root,
        "po_1.x12",
        &interchange("000000905", false, &[("GE*1*1421", "GE*2*1421")]),
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(ta1(&inspect(&added[0])), None);
    assert_eq!(
        table(&added[0], "x12_997_groups"),
        vec!["PO,1421,R,2,1,0,5"]
    );

    // `ta1 = "problems"`: a rejected interchange gets its TA1 even unasked; a clean one not.
    let (_dir, root) = home(Some("problems"));
    let (_, _, added) = deliver(
        &root,
        "po_1.x12",
        &interchange(
            "000000905",
            false,
            &[("IEA*1*000000905", "IEA*1*000000907")],
        ),
    );
    assert_eq!(
        ta1(&inspect(&added[0])),
        Some(("000000905".into(), "R".into(), "001".into()))
    );
    let (code, out, added) = deliver(&root, "po_2.x12", &interchange("000000905", false, &[]));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(ta1(&inspect(&added[0])), None);

    // `ta1 = "always"`: every interchange.
    let (_dir, root) = home(Some("always"));
    let (_, _, added) = deliver(&root, "po_1.x12", &interchange("000000905", false, &[]));
    assert_eq!(
        ta1(&inspect(&added[0])),
        Some(("000000905".into(), "A".into(), "000".into()))
    );
}

/// A partner that always sends an unpadded ISA triggers a warning on every file; the pipeline
/// can mute it in its report (`[report] mute`), so "problems" mails mean problems. The warning
/// stays in the ledger, and the TA1 still says `E` with its note.
#[test]
fn a_muted_partner_habit_does_not_make_a_report_a_problem() {
    let (_dir, root) = home(Some("problems"));
    let pipeline = root.join("pipelines/po850.toml");
    let report = "[report]\nto = [\"ops@example.com\"]\nwhen = \"problems\"\n";
    let base = std::fs::read_to_string(&pipeline).unwrap();
    std::fs::write(&pipeline, format!("{base}{report}")).unwrap();
    let unpadded =
        |control: &str| interchange(control, false, &[("*ZZ*ABCDEFGHIJKLMNO*", "*ZZ*ACME*")]);
    let mails = |root: &Path| {
        std::fs::read_dir(root.join("outbox/mail"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    let (code, out, added) = deliver(&root, "po_1.x12", &unpadded("000000905"));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(mails(&root), 1, "the warning is a problem to report: {out}");
    assert_eq!(
        ta1(&inspect(&added[0])),
        Some(("000000905".into(), "E".into(), "006".into()))
    );

    std::fs::write(
        &pipeline,
        format!("{base}{report}mute = [\"x12-envelope:TA105:006\"]\n"),
    )
    .unwrap();
    let (code, out, _) = deliver(&root, "po_2.x12", &unpadded("000000906"));
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(mails(&root), 1, "muted: nothing to report, no second mail");
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let kept: i64 = conn
        .query_row(
            "SELECT count(*) FROM issues WHERE run_id = 'r000002' AND rule = 'x12-envelope:TA105:006'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept, 1, "a muted warning is still recorded");
}
