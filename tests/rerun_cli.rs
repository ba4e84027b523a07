//! Reruns and the ERP's pickup contract through the real `tallyman` binary on real folders:
//! unchanged outputs are not sent again, a dry run writes nothing, one file or one run can be
//! replayed, control files describe their data file and follow it, and a feed that must be
//! complete is withheld or carried when rows were set aside.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
    /// The binary's TMPDIR, so a test sees whatever a dry run leaves there.
    tmp: PathBuf,
}

fn tallyman(h: &Home, args: &[&str]) -> Output {
    tallyman_crashing_at(h, args, "")
}

/// `tallyman ARGS` with a crash point armed (`TALLYMAN_FAILPOINTS`; empty: none).
fn tallyman_crashing_at(h: &Home, args: &[&str], point: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", h.root.to_str().unwrap()])
        .args(args)
        .env("TALLYMAN_LOG", "warn")
        .env("TMPDIR", &h.tmp)
        .env("TALLYMAN_FAILPOINTS", point)
        .output()
        .expect("run tallyman")
}

/// `tallyman ARGS`, which must succeed; its stdout.
fn ok(h: &Home, args: &[&str]) -> String {
    let o = tallyman(h, args);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "tallyman {args:?}: {out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

/// A home folder with the demo's pipeline, schemas and files dropped (not run).
fn demo_home() -> Home {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("home");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let h = Home {
        _dir: dir,
        root,
        tmp,
    };
    ok(&h, &["demo", "--no-run"]);
    // Only the inventory demo: the settlement demo's pipeline would add its own runs and mails.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(h.root.join(rel)).expect("remove the settlement demo");
    }
    h
}

const PIPELINE: &str = "pipelines/inventory_3pl.toml";
const DROP: &str = "inbox/inventory_3pl";
const ERP: &str = "inbox/erp/erp_onhand_2026-11-25.csv";
const ATP_OUTPUT: &str =
    "name = \"atp_{yyyymmdd}_{run_id}.csv\"\norder_by = [\"sku\", \"location\"]\n";

/// Adds `lines` to the pipeline's ATP output.
fn atp_output(h: &Home, lines: &str) {
    let path = h.root.join(PIPELINE);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(ATP_OUTPUT), "{text}");
    std::fs::write(
        &path,
        text.replace(ATP_OUTPUT, &format!("{ATP_OUTPUT}{lines}\n")),
    )
    .unwrap();
}

fn sql(root: &Path, query: &str) -> String {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            let mut parts = Vec::new();
            for i in 0..r.as_ref().column_count() {
                parts.push(match r.get::<_, rusqlite::types::Value>(i)? {
                    rusqlite::types::Value::Null => "NULL".into(),
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(t) => t,
                    other => format!("{other:?}"),
                });
            }
            Ok(parts.join("|"))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    rows.join("\n")
}

/// Every file under `dir` (relative path → sha256 of its bytes; a link → its target).
fn tree(dir: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            let bytes = match e.path_is_symlink() {
                true => std::fs::read_link(e.path()).unwrap().display().to_string(),
                false => sha256(&std::fs::read(e.path()).unwrap()),
            };
            (rel, bytes)
        })
        .collect()
}

/// The names in `outbox/erp/`.
fn outbox(h: &Home) -> Vec<String> {
    tree(&h.root.join("outbox/erp")).into_keys().collect()
}

fn read(h: &Home, rel: &str) -> String {
    std::fs::read_to_string(h.root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// What the ledger says, table by table (a dry run must change none of it).
fn ledger_dump(h: &Home) -> String {
    [
        "select * from runs order by seq",
        "select * from files order by id",
        "select * from outbound order by rowid",
        "select count(*) from issues",
        "select count(*) from mail_queue",
    ]
    .iter()
    .map(|q| sql(&h.root, q))
    .collect::<Vec<_>>()
    .join("\n--\n")
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bytes))
}

fn age(path: &Path) {
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

fn drop_file(h: &Home, name: &str, text: &str) {
    let p = h.root.join(DROP).join(name);
    std::fs::write(&p, text).unwrap();
    age(&p);
}

/// The ERP corrects SKU 1's allocation (its ATP changes) and SKU 2's on-hand (its variance goes).
fn correct_erp(h: &Home) {
    let text = read(h, ERP)
        .replace(
            "SKU-00000001,3PL-RENO,120,20,",
            "SKU-00000001,3PL-RENO,120,25,",
        )
        .replace("SKU-00000002,3PL-RENO,80,", "SKU-00000002,3PL-RENO,77,");
    std::fs::write(h.root.join(ERP), text).unwrap();
}

fn rerun(h: &Home, extra: &[&str]) -> String {
    let mut args = vec!["rerun", "inventory_3pl"];
    args.extend(extra);
    ok(h, &args)
}

#[test]
fn a_rerun_with_unchanged_inputs_publishes_nothing_and_says_so() {
    let h = demo_home();
    ok(&h, &["run"]);
    let before = tree(&h.root.join("outbox/erp"));
    assert_eq!(before.len(), 2, "{:?}", before.keys());
    let out = rerun(&h, &["--date", "2026-11-25", "--reason", "audit"]);
    assert!(out.contains("no differences"), "{out}");
    assert!(
        out.contains(
            "output atp (erp) atp_20261125_r000002.csv: not published: unchanged since r000001's"
        ),
        "{out}"
    );
    assert!(
        out.contains("output breaks (erp) inventory_variance_2026-11-25_r000002.csv: not published: unchanged since r000001's"),
        "{out}"
    );
    assert_eq!(
        tree(&h.root.join("outbox/erp")),
        before,
        "the outbox is byte-for-byte unchanged"
    );
    assert_eq!(
        sql(
            &h.root,
            "select count(*) from outbound where run_id = 'r000002'"
        ),
        "0"
    );
    assert_eq!(
        sql(
            &h.root,
            "select state, trigger, rerun_of from runs where run_id = 'r000002'"
        ),
        "succeeded|rerun|r000001"
    );
    // The rerun's outputs are evidence in its archive, marked as held.
    let manifest: serde_json::Value = serde_json::from_str(&read(
        &h,
        "archive/inventory_3pl/2026-11-25/r000002/manifest.json",
    ))
    .unwrap();
    for o in manifest["outputs"].as_array().unwrap() {
        assert_eq!(o["held"], "unchanged", "{o}");
        assert_eq!(o["current"], "r000001", "{o}");
    }
    assert!(h
        .root
        .join("archive/inventory_3pl/2026-11-25/r000002/output/atp_20261125_r000002.csv")
        .is_file());
    // A rerun of the rerun still knows whose copy the ERP has.
    let out = rerun(&h, &["--date", "2026-11-25", "--reason", "again"]);
    assert!(out.contains("rerun of r000002 as r000003"), "{out}");
    assert!(
        out.contains("not published: unchanged since r000001's"),
        "{out}"
    );
    assert_eq!(tree(&h.root.join("outbox/erp")), before);
}

#[test]
fn a_dry_run_writes_nothing_and_shows_the_rows_that_would_change() {
    let h = demo_home();
    atp_output(&h, "control = \"json\"");
    ok(&h, &["run"]);
    correct_erp(&h);
    let outbox_before = tree(&h.root.join("outbox"));
    let archive_before = tree(&h.root.join("archive"));
    let ledger_before = ledger_dump(&h);
    let out = rerun(&h, &["--date", "2026-11-25", "--dry-run"]);
    assert!(out.contains("dry run of r000001 (succeeded)"), "{out}");
    assert!(
        out.contains("input erp erp_onhand_2026-11-25.csv: content changed"),
        "{out}"
    );
    // ATP = on hand - damaged - ERP allocated - safety stock: 120 - 0 - 25 - 2.
    assert!(
        out.contains("output atp (erp): differs: 5 -> 5 rows: 0 added, 0 removed, 1 changed\n      changed sku=SKU-00000001, location=3PL-RENO: atp 98 -> 93\n"),
        "{out}"
    );
    assert!(
        out.contains("output breaks (erp): differs: 3 -> 2 rows: 0 added, 1 removed, 0 changed\n      removed item_id=SKU-00000002, warehouse=3PL-RENO (status=mismatched"),
        "{out}"
    );
    assert!(
        out.contains(": would publish, superseding r000001's"),
        "{out}"
    );
    assert_eq!(
        tree(&h.root.join("outbox")),
        outbox_before,
        "outbox unchanged"
    );
    assert_eq!(
        tree(&h.root.join("archive")),
        archive_before,
        "archive unchanged"
    );
    assert_eq!(ledger_dump(&h), ledger_before, "ledger unchanged");
    assert!(
        tree(&h.tmp).is_empty(),
        "the scratch copy is gone: {:?}",
        tree(&h.tmp).keys()
    );
    // The real rerun does what the dry run said, under the next run id (the dry run took none).
    let out = rerun(&h, &["--date", "2026-11-25", "--reason", "ERP fixed"]);
    assert!(out.contains("rerun of r000001 as r000002"), "{out}");
    assert!(
        out.contains("changed sku=SKU-00000001, location=3PL-RENO: atp 98 -> 93"),
        "{out}"
    );
    assert!(outbox(&h).contains(&"atp_20261125_r000002.csv".to_string()));
}

#[test]
fn file_and_run_replay_one_file_only() {
    let h = demo_home();
    ok(&h, &["run"]);
    drop_file(
        &h,
        "stock_2026-11-25_late.csv",
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000003,3PL-RENO,300,0,PK,2026-11-25T23:59:00Z\n",
    );
    ok(&h, &["run"]);
    assert_eq!(
        sql(
            &h.root,
            "select run_id, f.name from runs r join files f on f.id = r.file_id order by seq"
        ),
        "r000001|stock_2026-11-25.csv\nr000002|stock_2026-11-25_late.csv"
    );
    let out = rerun(
        &h,
        &[
            "--date",
            "2026-11-25",
            "--file",
            "stock_2026-11-25_late.csv",
            "--reason",
            "one",
        ],
    );
    assert!(out.contains("rerun of r000002 as r000003"), "{out}");
    assert!(!out.contains("rerun of r000001"), "{out}");
    let out = rerun(&h, &["--run", "r000001", "--reason", "the other"]);
    assert!(out.contains("rerun of r000001 as r000004"), "{out}");
    assert!(
        !out.contains("rerun of r000002") && !out.contains("r000003 as"),
        "{out}"
    );
    assert_eq!(
        sql(
            &h.root,
            "select run_id, rerun_of, reason from runs where trigger = 'rerun' order by seq"
        ),
        "r000003|r000002|one\nr000004|r000001|the other"
    );
    // A name the date does not have is refused, naming the ones it has.
    let o = tallyman(
        &h,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--file",
            "nope.csv",
            "--reason",
            "x",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("stock_2026-11-25_late.csv"), "{err}");
    assert_eq!(sql(&h.root, "select count(*) from runs"), "4");
}

#[test]
fn on_rerun_always_republishes_with_a_done_marker_naming_the_superseded_run() {
    let h = demo_home();
    atp_output(&h, "on_rerun = \"always\"\ncontrol = \"done\"");
    ok(&h, &["run"]);
    assert_eq!(
        outbox(&h),
        [
            "atp_20261125_r000001.csv",
            "atp_20261125_r000001.csv.done",
            "inventory_variance_2026-11-25_r000001.csv"
        ]
    );
    let first = read(&h, "outbox/erp/atp_20261125_r000001.csv.done");
    assert!(
        first.contains("\nsupersedes=\n") && first.contains("\nrun_id=r000001\n"),
        "{first}"
    );
    let out = rerun(&h, &["--date", "2026-11-25", "--reason", "resend"]);
    assert!(out.contains("no differences"), "{out}");
    // ATP is sent again (with its marker); the variance file, unchanged, is not.
    assert_eq!(
        outbox(&h),
        [
            "atp_20261125_r000001.csv",
            "atp_20261125_r000001.csv.done",
            "atp_20261125_r000002.csv",
            "atp_20261125_r000002.csv.done",
            "inventory_variance_2026-11-25_r000001.csv"
        ]
    );
    let data = std::fs::read(h.root.join("outbox/erp/atp_20261125_r000002.csv")).unwrap();
    let done = read(&h, "outbox/erp/atp_20261125_r000002.csv.done");
    assert_eq!(
        done,
        format!(
            "version=1\nfile=atp_20261125_r000002.csv\npipeline=inventory_3pl\ntable=atp\nrows=5\nsize={}\nsha256={}\nbusiness_date=2026-11-25\nrun_id=r000002\nsupersedes=r000001\ncarried=0\n",
            data.len(),
            sha256(&data)
        )
    );
    // Recorded (and so published) data first, marker last.
    assert_eq!(
        sql(
            &h.root,
            "select name from outbound where run_id = 'r000002' order by rowid"
        ),
        "atp_20261125_r000002.csv\natp_20261125_r000002.csv.done"
    );
}

#[test]
fn a_json_control_file_describes_its_data_file_and_appears_only_with_it() {
    let h = demo_home();
    atp_output(&h, "control = \"json\"");
    ok(&h, &["run"]);
    let data = std::fs::read(h.root.join("outbox/erp/atp_20261125_r000001.csv")).unwrap();
    let ctl: serde_json::Value =
        serde_json::from_str(&read(&h, "outbox/erp/atp_20261125_r000001.csv.ctl.json")).unwrap();
    assert_eq!(ctl["version"], "1");
    assert_eq!(ctl["file"], "atp_20261125_r000001.csv");
    assert_eq!(ctl["rows"], 5);
    assert_eq!(ctl["size"], data.len());
    assert_eq!(ctl["sha256"], sha256(&data));
    assert_eq!(ctl["business_date"], "2026-11-25");
    assert_eq!(ctl["run_id"], "r000001");
    assert_eq!(ctl["supersedes"], serde_json::Value::Null);
    // The ERP corrects SKU 1: the ATP feed changes and is resent; its control file says so.
    correct_erp(&h);
    rerun(&h, &["--date", "2026-11-25", "--reason", "ERP fixed"]);
    let ctl: serde_json::Value =
        serde_json::from_str(&read(&h, "outbox/erp/atp_20261125_r000002.csv.ctl.json")).unwrap();
    assert_eq!(ctl["supersedes"], "r000001");
    assert_eq!(ctl["run_id"], "r000002");
    // No control file without its data file, and none for the output without `control`.
    let names = outbox(&h);
    for n in &names {
        if let Some(data) = n.strip_suffix(".ctl.json") {
            assert!(
                names.iter().any(|d| d == data),
                "{n} without its data file: {names:?}"
            );
        }
    }
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".ctl.json")).count(),
        2,
        "{names:?}"
    );
    // An unchanged rerun sends neither the data nor a control file.
    let before = tree(&h.root.join("outbox/erp"));
    rerun(&h, &["--date", "2026-11-25", "--reason", "audit"]);
    assert_eq!(tree(&h.root.join("outbox/erp")), before);
}

#[test]
fn a_feed_that_must_be_complete_is_withheld_when_rows_were_set_aside() {
    let h = demo_home();
    atp_output(&h, "complete = \"withhold\"\ncontrol = \"json\"");
    // The demo file has two rows set aside (a short record, an unknown SKU). The ERP goes
    // without its feed: exit 1, so the scheduler alerts.
    let o = tallyman(&h, &["run"]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        out.contains("not published: atp_20261125_r000001.csv (output `atp` withheld: 2 row(s)"),
        "{out}"
    );
    assert!(!out.contains("wrote outbox/erp/atp"), "{out}");
    assert_eq!(outbox(&h), ["inventory_variance_2026-11-25_r000001.csv"]);
    assert_eq!(
        sql(&h.root, "select name from outbound"),
        "inventory_variance_2026-11-25_r000001.csv"
    );
    let message = sql(&h.root, "select message from runs where run_id = 'r000001'");
    assert!(
        message.contains("output `atp` withheld: 2 row(s) of stock_2026-11-25.csv were set aside"),
        "{message}"
    );
    let runs = ok(&h, &["runs"]);
    assert!(runs.contains("withheld"), "{runs}");
    assert_eq!(
        sql(
            &h.root,
            "select severity from issues where rule = 'output-withheld'"
        ),
        "warning"
    );
    let report = read(&h, "archive/inventory_3pl/2026-11-25/r000001/report.json");
    assert!(report.contains("output-withheld"), "{report}");
}

#[test]
fn a_feed_that_must_be_complete_carries_missing_keys_from_the_last_published_copy() {
    let h = demo_home();
    atp_output(
        &h,
        "complete = \"carry_last_good\"\nkey = [\"sku\", \"location\"]\ncontrol = \"json\"",
    );
    // The day before: a clean file (SKU 5 has 30 on hand: ATP 30 - 0 - 12 - 1 = 17).
    std::fs::copy(
        h.root.join(ERP),
        h.root.join("inbox/erp/erp_onhand_2026-11-24.csv"),
    )
    .unwrap();
    let today = h.root.join(DROP).join("stock_2026-11-25.csv");
    let held_back = std::fs::read(&today).unwrap();
    std::fs::remove_file(&today).unwrap();
    drop_file(
        &h,
        "stock_2026-11-24.csv",
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n\
         SKU-00000001,3PL-RENO,120,0,EA,2026-11-24T23:59:00Z\n\
         SKU-00000005,3PL-RENO,30,0,EA,2026-11-24T23:59:00Z\n\
         SKU-00000006,3PL-RENO,500,0,EA,2026-11-24T23:59:00Z\n",
    );
    ok(&h, &["run"]);
    assert!(read(&h, "outbox/erp/atp_20261124_r000001.csv").contains("SKU-00000005,3PL-RENO,17\n"));
    // Today's file sets SKU 5's short record aside: its ATP is carried from yesterday's feed.
    std::fs::write(&today, held_back).unwrap();
    age(&today);
    ok(&h, &["run"]);
    let atp = read(&h, "outbox/erp/atp_20261125_r000002.csv");
    assert_eq!(
        atp,
        "sku,location,atp\n\
         SKU-00000001,3PL-RENO,98\n\
         SKU-00000002,3PL-RENO,69\n\
         SKU-00000003,3PL-RENO,250\n\
         SKU-00000004,3PL-RENO,42\n\
         SKU-00000005,3PL-RENO,17\n\
         SKU-00000006,3PL-RENO,435\n"
    );
    let ctl: serde_json::Value =
        serde_json::from_str(&read(&h, "outbox/erp/atp_20261125_r000002.csv.ctl.json")).unwrap();
    assert_eq!(ctl["carried"], 1);
    assert_eq!(ctl["rows"], 6);
    let carried = sql(
        &h.root,
        "select message from issues where rule = 'output-carried'",
    );
    assert!(
        carried.contains("1 key(s) missing from output `atp`")
            && carried.contains("carried from run r000001's published copy: SKU-00000005/3PL-RENO"),
        "{carried}"
    );
    let message = sql(&h.root, "select message from runs where run_id = 'r000002'");
    assert!(message.contains("carried from run r000001"), "{message}");
}

#[test]
fn check_names_every_bad_rerun_control_and_completeness_key() {
    let h = demo_home();
    atp_output(
        &h,
        "on_rerun = \"sometimes\"\ncontrol = \"xml\"\ncomplete = \"maybe\"",
    );
    let text = std::fs::read_to_string(h.root.join(PIPELINE))
        .unwrap()
        .replace(
            "name = \"inventory_variance_{date}_{run_id}.csv\"\n",
            "name = \"inventory_variance_{date}_{run_id}.csv\"\ncomplete = \"carry_last_good\"\n",
        );
    std::fs::write(h.root.join(PIPELINE), text).unwrap();
    let o = tallyman(&h, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "outputs.on_rerun: `sometimes` is not one of changed, always, never",
        "outputs.control: `xml` is not one of json, done",
        "outputs.complete: `maybe` is not one of withhold, carry_last_good",
        "outputs.key: output `breaks` carries keys from its last good copy",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    // Once the pipeline compiles, its SQL is planned: a key column the output lacks is named.
    let h = demo_home();
    atp_output(&h, "key = [\"sku\", \"bin\"]");
    let o = tallyman(&h, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("outputs.key: `bin` is not a column of `atp`"),
        "{err}"
    );
}

#[test]
fn a_rerun_of_an_older_run_compares_with_the_copy_the_erp_has_now() {
    let h = demo_home();
    atp_output(&h, "control = \"json\"");
    ok(&h, &["run"]);
    let original = read(&h, ERP);
    correct_erp(&h);
    rerun(&h, &["--date", "2026-11-25", "--reason", "ERP fixed"]);
    assert!(outbox(&h).contains(&"atp_20261125_r000002.csv".to_string()));
    // The correction is taken back: replaying r000001 computes r000001's feed again, which is
    // not what the ERP has now (r000002's), so it is sent, superseding r000002.
    std::fs::write(h.root.join(ERP), original).unwrap();
    let out = rerun(&h, &["--run", "r000001", "--reason", "correction undone"]);
    assert!(out.contains("no differences"), "{out}");
    assert!(
        out.contains("atp_20261125_r000003.csv: published, superseding r000002's"),
        "{out}"
    );
    let ctl: serde_json::Value =
        serde_json::from_str(&read(&h, "outbox/erp/atp_20261125_r000003.csv.ctl.json")).unwrap();
    assert_eq!(ctl["supersedes"], "r000002");
    assert_eq!(
        read(&h, "outbox/erp/atp_20261125_r000003.csv"),
        read(&h, "outbox/erp/atp_20261125_r000001.csv")
    );
}

#[test]
fn a_control_file_is_never_visible_before_its_data_file_even_across_a_crash() {
    let h = demo_home();
    // ATP alone, with its control file: the first output published is its data file.
    let path = h.root.join(PIPELINE);
    let text = std::fs::read_to_string(&path).unwrap();
    let breaks = "[[outputs]]\ntable = \"breaks\"\ndestination = \"erp\"\nname = \"inventory_variance_{date}_{run_id}.csv\"\n";
    assert!(text.contains(breaks), "{text}");
    std::fs::write(&path, text.replace(breaks, "")).unwrap();
    atp_output(&h, "control = \"json\"");
    let o = tallyman_crashing_at(&h, &["run"], "first-output-published");
    assert!(!o.status.success(), "the crash point was never hit");
    let visible: Vec<String> = outbox(&h)
        .into_iter()
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(visible, ["atp_20261125_r000001.csv"]);
    // The next pass publishes the rest of the recorded set: the control file, last.
    ok(&h, &["run"]);
    assert_eq!(
        outbox(&h),
        [
            "atp_20261125_r000001.csv",
            "atp_20261125_r000001.csv.ctl.json"
        ]
    );
}

#[test]
fn on_rerun_never_keeps_a_changed_output_back() {
    let h = demo_home();
    atp_output(&h, "on_rerun = \"never\"");
    ok(&h, &["run"]);
    correct_erp(&h);
    let out = rerun(&h, &["--date", "2026-11-25", "--reason", "ERP fixed"]);
    assert!(out.contains("changed sku=SKU-00000001"), "{out}");
    assert!(
        out.contains("atp_20261125_r000002.csv: not published: on_rerun = \"never\""),
        "{out}"
    );
    // The variance file (default policy) changed, so it is sent.
    assert_eq!(
        outbox(&h),
        [
            "atp_20261125_r000001.csv",
            "inventory_variance_2026-11-25_r000001.csv",
            "inventory_variance_2026-11-25_r000002.csv"
        ]
    );
}

#[test]
fn a_rerun_against_a_truncated_manifest_fails_naming_it_and_starts_no_run() {
    let h = demo_home();
    ok(&h, &["run"]);
    let rel = "archive/inventory_3pl/2026-11-25/r000001/manifest.json";
    let path = h.root.join(rel);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let runs_before = sql(&h.root, "select count(*) from runs");
    let o = tallyman(
        &h,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "audit",
        ],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    // exit::PROBLEMS: something needs a person (src/cli/exit.rs).
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains(rel) && err.contains("damaged"), "{err}");
    // Nothing was replayed: no run, no new control numbers, the outbox as it was.
    assert_eq!(sql(&h.root, "select count(*) from runs"), runs_before);
}

/// A file whose run kills the process each time (out of memory on it, a crash it provokes) is
/// run as many times as a file may fail, each killed run recorded failed as interrupted; the
/// next pass quarantines it with its reason and report instead of dying on it again.
#[test]
fn a_file_that_kills_its_run_three_times_is_quarantined_not_run_again() {
    let h = demo_home();
    for attempt in 1..=3 {
        let o = tallyman_crashing_at(&h, &["run"], "output-staged");
        assert!(
            !o.status.success(),
            "attempt {attempt}: the crash point was not hit"
        );
    }
    let o = tallyman(&h, &["run"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert_eq!(
        sql(&h.root, "select run_id, state, substr(message, 1, 12) from runs order by run_id"),
        "r000001|failed|interrupted:\nr000002|failed|interrupted:\nr000003|failed|interrupted:\nr000004|failed|inventory_3p"
    );
    let why = sql(&h.root, "select message from runs where run_id = 'r000004'");
    assert!(
        why.contains("3 earlier runs of this file failed or were interrupted"),
        "{why}"
    );
    assert_eq!(sql(&h.root, "select state from files"), "quarantined");
    let q = h.root.join("quarantine/inventory_3pl");
    let reason =
        std::fs::read_to_string(q.join("1-stock_2026-11-25.csv.reason.txt")).expect("reason");
    assert!(
        reason.contains("run: r000004") && reason.contains("not run again"),
        "{reason}"
    );
    assert!(q.join("1-stock_2026-11-25.csv").is_file());
    // Nothing was published; the on-call gets the run's report.
    assert_eq!(sql(&h.root, "select count(*) from outbound"), "0");
    assert_eq!(
        sql(
            &h.root,
            "select count(*) from mail_queue where run_id = 'r000004'"
        ),
        "1"
    );
}

#[test]
fn a_file_whose_run_panics_is_reported_failed_and_the_next_file_goes_on() {
    let h = demo_home();
    let demo = read(&h, &format!("{DROP}/stock_2026-11-25.csv"));
    drop_file(
        &h,
        "stock_2026-11-25_late.csv",
        &demo.replace("SKU-00000002,3PL-RENO,77,", "SKU-00000002,3PL-RENO,78,"),
    );
    age(&h.root.join(DROP).join("stock_2026-11-25.csv"));
    // The first file's run panics (a bug meeting its data); the second is run all the same.
    let o = tallyman_crashing_at(&h, &["run"], "panic-once:run-started");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("stock_2026-11-25.csv: panicked: failpoint run-started hit"),
        "{err}"
    );
    assert_eq!(
        sql(&h.root, "select run_id, state from runs order by run_id"),
        "r000001|running\nr000002|succeeded"
    );
    // The next pass records the interrupted run failed and takes its file again in a new run.
    ok(&h, &["run"]);
    assert_eq!(
        sql(&h.root, "select run_id, state from runs order by run_id"),
        "r000001|failed\nr000002|succeeded\nr000003|succeeded"
    );
}
