//! The whole pipeline through the real `tallyman` binary on real folders: demo data, duplicates,
//! corrections, policies, reruns, settling, and config errors.

#[path = "support/home.rs"]
mod home;

use home::tallyman;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A home folder with the demo's pipeline, schemas and files dropped (not run).
fn demo_home() -> Home {
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
    Home { _dir: dir, root }
}

fn sql(root: &Path, query: &str) -> String {
    let db = root.join("var/ledger.sqlite");
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    let rows: Vec<String> = stmt
        .query_map([], |r| {
            let n = r.as_ref().column_count();
            let mut parts = Vec::new();
            for i in 0..n {
                let v: rusqlite::types::Value = r.get(i)?;
                parts.push(match v {
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

fn outbox_files(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("outbox/erp"))
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap()
}

fn age(path: &Path) {
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

const DROP: &str = "inbox/inventory_3pl";

#[test]
fn demo_file_travels_the_whole_way() {
    let h = demo_home();
    let o = tallyman(&h.root, &["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = stdout(&o);
    assert!(out.contains("succeeded"), "{out}");
    assert_eq!(
        outbox_files(&h.root),
        vec![
            "atp_20261125_r000001.csv",
            "inventory_variance_2026-11-25_r000001.csv"
        ]
    );
    assert_eq!(
        read(
            &h.root,
            "outbox/erp/inventory_variance_2026-11-25_r000001.csv"
        ),
        "item_id,warehouse,status,side,partner_qty_on_hand,erp_on_hand,difference_qty_on_hand\n\
         SKU-00000002,3PL-RENO,mismatched,both,77,80,-3\n\
         SKU-00000005,3PL-RENO,only_in_erp,erp,,12,\n\
         SKU-00000007,3PL-RENO,only_in_erp,erp,,10,\n"
    );
    // ATP = on hand - damaged - ERP allocated - safety stock, floored at 0; never raw on-hand.
    assert!(
        read(&h.root, "outbox/erp/atp_20261125_r000001.csv").contains("SKU-00000002,3PL-RENO,69\n")
    );
    assert_eq!(
        sql(&h.root, "select name, state from files"),
        "stock_2026-11-25.csv|processed"
    );
    assert_eq!(
        sql(
            &h.root,
            "select run_id, business_date, state, rows, issues from runs"
        ),
        "r000001|2026-11-25|succeeded|7|2"
    );
    assert_eq!(
        sql(
            &h.root,
            "select line, column_name, rule from issues order by line"
        ),
        "6|NULL|field-count\n8|item_id|foreign-key"
    );
    let manifest: serde_json::Value = serde_json::from_str(&read(
        &h.root,
        "archive/inventory_3pl/2026-11-25/r000001/manifest.json",
    ))
    .unwrap();
    assert_eq!(manifest["reconciliation"]["mismatched"], 1);
    assert_eq!(manifest["rows_set_aside"], 2);
    let inputs: Vec<&str> = manifest["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["role"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, vec!["partner", "reference", "erp"]);
    // Each input's size and sha256 (hashed on background threads) are those of its archived copy.
    for input in manifest["inputs"].as_array().unwrap() {
        let folder = match input["role"].as_str().unwrap() {
            "partner" => "input",
            role => role,
        };
        let path = h
            .root
            .join("archive/inventory_3pl/2026-11-25/r000001")
            .join(folder)
            .join(input["name"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(!bytes.is_empty(), "{}", path.display());
        assert_eq!(input["size"], bytes.len() as u64, "{input}");
        let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
        assert_eq!(input["sha256"], sha.as_str(), "{input}");
    }
    assert!(h
        .root
        .join("archive/inventory_3pl/2026-11-25/r000001/input/stock_2026-11-25.csv")
        .is_file());
    assert!(
        !h.root.join(DROP).join("stock_2026-11-25.csv").exists(),
        "the drop copy is removed after the claim"
    );
    let runs = stdout(&tallyman(&h.root, &["runs", "--pipeline", "inventory_3pl"]));
    assert!(
        runs.contains("r000001") && runs.contains("succeeded"),
        "{runs}"
    );
}

#[test]
fn a_hundred_drops_of_the_same_bytes_are_processed_once() {
    let h = demo_home();
    let bytes = std::fs::read(h.root.join(DROP).join("stock_2026-11-25.csv")).unwrap();
    for i in 0..99 {
        let p = h
            .root
            .join(DROP)
            .join(format!("stock_2026-11-25_copy{i:02}.csv"));
        std::fs::write(&p, &bytes).unwrap();
        age(&p);
    }
    let o = tallyman(&h.root, &["run"]);
    assert!(o.status.success());
    assert_eq!(
        sql(
            &h.root,
            "select state, count(*) from files group by state order by state"
        ),
        "duplicate|99\nprocessed|1"
    );
    assert_eq!(sql(&h.root, "select count(*) from runs"), "1");
    assert_eq!(outbox_files(&h.root).len(), 2);
    // Duplicates keep their bytes too.
    assert_eq!(
        std::fs::read_dir(h.root.join("archive/inventory_3pl/_duplicates"))
            .unwrap()
            .count(),
        99
    );
}

#[test]
fn same_name_with_new_content_is_a_correction() {
    let h = demo_home();
    assert!(tallyman(&h.root, &["run"]).status.success());
    let p = h.root.join(DROP).join("stock_2026-11-25.csv");
    std::fs::write(&p, "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\nSKU-00000002,3PL-RENO,80,0,EA,2026-11-25T23:59:00Z\n").unwrap();
    age(&p);
    assert!(tallyman(&h.root, &["run"]).status.success());
    assert_eq!(
        sql(
            &h.root,
            "select id, state, correction_of from files order by id"
        ),
        "1|processed|NULL\n2|processed|1"
    );
}

#[test]
fn reject_file_policy_quarantines_with_a_reason() {
    let h = demo_home();
    let pipeline = h.root.join("pipelines/inventory_3pl.toml");
    let text = read(&h.root, "pipelines/inventory_3pl.toml").replace(
        "on_error = \"set_rows_aside\"",
        "on_error = \"reject_file\"",
    );
    std::fs::write(&pipeline, text).unwrap();
    let o = tallyman(&h.root, &["run"]);
    assert_eq!(o.status.code(), Some(1), "a rejected file is exit 1");
    assert!(stdout(&o).contains("rejected"), "{}", stdout(&o));
    assert!(
        outbox_files(&h.root).is_empty(),
        "a rejected file writes nothing outbound"
    );
    assert_eq!(sql(&h.root, "select state from files"), "quarantined");
    let reason = read(
        &h.root,
        "quarantine/inventory_3pl/1-stock_2026-11-25.csv.reason.txt",
    );
    assert!(
        reason.contains("2 error(s)")
            && reason.contains("field-count")
            && reason.contains("foreign-key"),
        "{reason}"
    );
    // The quarantined copy is the partner's bytes, unchanged.
    assert_eq!(
        std::fs::read(
            h.root
                .join("quarantine/inventory_3pl/1-stock_2026-11-25.csv")
        )
        .unwrap(),
        include_bytes!("../demo/drop/inventory_3pl/stock_2026-11-25.csv")
    );
}

#[test]
fn rerun_is_byte_identical_and_shows_an_erp_change() {
    let h = demo_home();
    assert!(tallyman(&h.root, &["run"]).status.success());
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "audit",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout(&o).contains("no differences"), "{}", stdout(&o));
    let first = read(
        &h.root,
        "archive/inventory_3pl/2026-11-25/r000001/output/atp_20261125_r000001.csv",
    );
    let second = read(
        &h.root,
        "archive/inventory_3pl/2026-11-25/r000002/output/atp_20261125_r000002.csv",
    );
    assert_eq!(first, second);
    assert_eq!(
        sql(
            &h.root,
            "select trigger, reason, rerun_of from runs where run_id = 'r000002'"
        ),
        "rerun|audit|r000001"
    );
    // The ERP corrects its on-hand for SKU 2: the variance disappears.
    let erp = h.root.join("inbox/erp/erp_onhand_2026-11-25.csv");
    std::fs::write(
        &erp,
        read(&h.root, "inbox/erp/erp_onhand_2026-11-25.csv")
            .replace("SKU-00000002,3PL-RENO,80,", "SKU-00000002,3PL-RENO,77,"),
    )
    .unwrap();
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "ERP fixed",
        ],
    );
    let out = stdout(&o);
    assert!(
        out.contains("input erp erp_onhand_2026-11-25.csv: content changed"),
        "{out}"
    );
    assert!(out.contains("reconciliation mismatched: 1 -> 0"), "{out}");
    assert!(
        out.contains("output breaks (erp): differs: 3 -> 2 rows"),
        "{out}"
    );
}

/// `[erp] wait_secs = 0`: a file whose extract is missing is rejected at once (the wait itself
/// is tested in tests/waiting_cli.rs).
fn no_erp_wait(root: &Path) {
    let path = root.join("pipelines/inventory_3pl.toml");
    let toml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, toml.replace("[erp]\n", "[erp]\nwait_secs = 0\n")).unwrap();
}

#[test]
fn a_missing_erp_extract_quarantines_and_a_rerun_recovers() {
    let h = demo_home();
    no_erp_wait(&h.root);
    let erp = h.root.join("inbox/erp/erp_onhand_2026-11-25.csv");
    let saved = std::fs::read(&erp).unwrap();
    std::fs::remove_file(&erp).unwrap();
    let o = tallyman(&h.root, &["run"]);
    assert!(
        stdout(&o).contains("no ERP extract for business date 2026-11-25"),
        "{}",
        stdout(&o)
    );
    assert_eq!(sql(&h.root, "select state from files"), "quarantined");
    std::fs::write(&erp, saved).unwrap();
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-25",
            "--reason",
            "extract arrived",
        ],
    );
    assert!(
        stdout(&o).contains("state: rejected -> succeeded"),
        "{}",
        stdout(&o)
    );
    assert_eq!(sql(&h.root, "select state from files"), "processed");
}

#[test]
fn a_file_still_being_written_is_not_taken() {
    let h = demo_home();
    no_erp_wait(&h.root);
    let p = h.root.join(DROP).join("stock_2026-11-26.csv");
    std::fs::remove_file(h.root.join(DROP).join("stock_2026-11-25.csv")).unwrap();
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::File::create(&p).unwrap();
            f.write_all(b"item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n")
                .unwrap();
            for i in 0..30 {
                writeln!(
                    f,
                    "SKU-0000000{},3PL-RENO,{i},0,EA,2026-11-26T23:59:00Z",
                    i % 7 + 1
                )
                .unwrap();
                f.flush().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(150));
            }
        })
    };
    // The writer is under way (its first row is out) before `run` looks.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::fs::read_to_string(&p).map_or(0, |t| t.lines().count()) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "2"]);
    assert!(stdout(&o).contains("not taken yet"), "{}", stdout(&o));
    assert_eq!(sql(&h.root, "select count(*) from files"), "0");
    writer.join().unwrap();
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    assert_eq!(
        sql(&h.root, "select name, size from files"),
        format!(
            "stock_2026-11-26.csv|{}",
            std::fs::metadata(
                h.root
                    .join("archive/inventory_3pl/2026-11-26/r000001/input/stock_2026-11-26.csv")
            )
            .unwrap()
            .len()
        ),
        "{}",
        stdout(&o)
    );
}

#[test]
fn bad_pipeline_files_report_every_problem_at_once() {
    let h = demo_home();
    std::fs::write(
        h.root.join("pipelines/broken.toml"),
        "time_zone = \"Mars/Olympus\"\n[source]\nfolder = \"inbox/nowhere\"\n[input]\nschema = \"missing.v9\"\non_error = \"shrug\"\n[[outputs]]\ntable = \"nope\"\ndestination = \"../etc\"\nname = \"x.csv\"\n",
    )
    .unwrap();
    std::fs::write(
        h.root.join("pipelines/typo.toml"),
        "[input]\nschema = \"tpl_snapshot.v1\"\nschemma = 1\n",
    )
    .unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "pipelines/broken.toml: time_zone",
        "pipelines/broken.toml: source.folder: folder `inbox/nowhere` does not exist",
        "pipelines/broken.toml: input.schema: schema `missing.v9`",
        "pipelines/broken.toml: input.on_error",
        "pipelines/broken.toml: outputs.table: `nope`",
        "pipelines/broken.toml: outputs.destination",
        "pipelines/typo.toml: line 3: unknown field `schemma`",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
    std::fs::remove_file(h.root.join("pipelines/broken.toml")).unwrap();
    std::fs::remove_file(h.root.join("pipelines/typo.toml")).unwrap();
    assert!(tallyman(&h.root, &["check"]).status.success());

    // A broken schema is reported once, and only the pipelines using it say so.
    std::fs::write(
        h.root.join("schemas/erp_onhand.v1.json"),
        "{\"fields\": []}",
    )
    .unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("schemas/: schema: schema erp_onhand.v1: `fields` is empty"),
        "{err}"
    );
    assert!(
        err.contains("erp.schema: schema `erp_onhand.v1` is invalid"),
        "{err}"
    );
    assert!(
        !err.contains("tpl_snapshot.v1"),
        "valid schemas still load: {err}"
    );
    assert!(err.contains("2 configuration problem(s)"), "{err}");
}

#[test]
fn symlinks_and_folders_in_a_drop_folder_are_refused() {
    let h = demo_home();
    std::os::unix::fs::symlink("/etc/passwd", h.root.join(DROP).join("stock_link.csv")).unwrap();
    std::fs::create_dir(h.root.join(DROP).join("stock_dir.csv")).unwrap();
    let out = stdout(&tallyman(&h.root, &["run"]));
    assert!(
        out.contains("stock_link.csv refused: a symbolic link"),
        "{out}"
    );
    assert!(out.contains("stock_dir.csv refused: a folder"), "{out}");
    assert_eq!(sql(&h.root, "select count(*) from files"), "1");
}

#[test]
fn inspect_names_envelope_problems_with_their_codes() {
    let fixture = |name: &str| format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let run = |path: String| {
        let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
            .args(["inspect", &path, "--json"])
            .output()
            .unwrap();
        (
            o.status.code(),
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap(),
        )
    };
    let (code, v) = run(fixture("x12/ediEngine_MultipleInterchangesAndGroups.edi"));
    assert_eq!(code, Some(0));
    assert_eq!(
        (
            v["format"].as_str(),
            v["counts"]["interchanges"].as_u64(),
            v["counts"]["groups"].as_u64(),
            v["counts"]["sets"].as_u64()
        ),
        (Some("x12"), Some(2), Some(4), Some(6))
    );
    let (code, v) = run(fixture("x12/ediEngine_ControlNumbersMismatch.edi"));
    assert_eq!(code, Some(1));
    let text = v["problems"].to_string();
    for code in ["AK502", "AK905", "TA105"] {
        assert!(text.contains(code), "{code} missing in {text}");
    }
    let (_, v) = run(fixture("edifact/pydifact_order.edi"));
    assert_eq!(v["format"], "edifact");
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", &fixture("PROVENANCE.tsv")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("not an X12 (ISA) or EDIFACT (UNA/UNB) interchange"));
}

#[test]
fn a_file_claimed_before_a_crash_is_resumed() {
    let h = demo_home();
    // What a crash right after the claim leaves: the landed copy, a `claimed` row, no run.
    let drop = h.root.join(DROP).join("stock_2026-11-25.csv");
    let size = std::fs::metadata(&drop).unwrap().len();
    let landed =
        tallyman::store::files::land(&drop, &h.root.join("var/landing/inventory_3pl"), size)
            .unwrap();
    let stored = landed
        .path
        .strip_prefix(&h.root)
        .unwrap()
        .display()
        .to_string();
    let mut ledger = tallyman::store::Ledger::open(&h.root.join("var/ledger.sqlite")).unwrap();
    ledger
        .claim(
            "inventory_3pl",
            &tallyman::store::Landing {
                name: "stock_2026-11-25.csv",
                size,
                sha256: &landed.sha256,
                business_date: Some("2026-11-25"),
                received_at: "2026-11-26T00:00:00Z",
                stored: &stored,
            },
            tallyman::config::DuplicateRule::default(),
        )
        .unwrap();
    std::fs::remove_file(&drop).unwrap();
    drop_ledger(ledger);
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));
    assert_eq!(sql(&h.root, "select state from files"), "processed");
    assert_eq!(outbox_files(&h.root).len(), 2);
    // Resumed once: a second run finds nothing to do.
    assert!(stdout(&tallyman(&h.root, &["run"])).contains("nothing ready"));
}

/// A retry after a failed run copies the input from the failed run's archive folder; a crash
/// after the retry's folder was recorded and before that copy leaves the newest run folder
/// without the input. Recovery takes it from the newest run folder that has it.
#[test]
fn a_retry_interrupted_before_it_copied_its_input_is_taken_from_an_older_run() {
    let h = demo_home();
    assert!(tallyman(&h.root, &["run"]).status.success());
    // r000001 failed (its input in its folder), then r000002 started and recorded its folder
    // but crashed before copying the input into it.
    let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
    conn.execute_batch(
        "UPDATE files SET state = 'claimed', stored_path = 'var/landing/inventory_3pl/stock_2026-11-25.csv';
         UPDATE runs SET state = 'failed', message = 'disk full';
         DELETE FROM outbound;
         INSERT INTO runs (run_id, pipeline, business_date, file_id, started_at, state, trigger, archive_path)
           VALUES ('r000002', 'inventory_3pl', '2026-11-25', 1, '2026-11-26T00:00:00Z', 'running', 'file',
                   'archive/inventory_3pl/2026-11-25/r000002');",
    )
    .unwrap();
    drop(conn);
    std::fs::create_dir_all(
        h.root
            .join("archive/inventory_3pl/2026-11-25/r000002/input"),
    )
    .unwrap();
    for f in outbox_files(&h.root) {
        std::fs::remove_file(h.root.join("outbox/erp").join(f)).unwrap();
    }
    let o = tallyman(&h.root, &["run"]);
    assert!(
        stdout(&o).contains("succeeded"),
        "{}\n{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        sql(&h.root, "select run_id, state from runs order by seq"),
        "r000001|failed\nr000002|failed\nr000003|succeeded"
    );
    assert_eq!(sql(&h.root, "select state from files"), "processed");
    assert!(h
        .root
        .join("archive/inventory_3pl/2026-11-25/r000003/input/stock_2026-11-25.csv")
        .is_file());
}

fn drop_ledger(ledger: tallyman::store::Ledger) {
    drop(ledger);
}

#[test]
fn a_run_interrupted_mid_way_is_resumed_from_its_archive() {
    let h = demo_home();
    assert!(tallyman(&h.root, &["run"]).status.success());
    // Rewind the ledger to "run r000001 started, input moved into its archive, then a crash".
    let conn = rusqlite::Connection::open(h.root.join("var/ledger.sqlite")).unwrap();
    conn.execute_batch("UPDATE files SET state = 'claimed'; UPDATE runs SET state = 'running', ended_at = NULL; DELETE FROM outbound;").unwrap();
    drop(conn);
    for f in outbox_files(&h.root) {
        std::fs::remove_file(h.root.join("outbox/erp").join(f)).unwrap();
    }
    let o = tallyman(&h.root, &["run"]);
    assert!(stdout(&o).contains("succeeded"), "{}", stdout(&o));
    // Issue 21: recovery records the interrupted run failed and takes the file again in a new
    // run (from the input the first one archived), which writes the one set of outputs.
    assert_eq!(
        sql(
            &h.root,
            "select run_id, state, coalesce(substr(message, 1, 12), '') from runs order by seq"
        ),
        "r000001|failed|interrupted:\nr000002|succeeded|"
    );
    assert_eq!(sql(&h.root, "select state from files"), "processed");
    assert_eq!(
        outbox_files(&h.root),
        vec![
            "atp_20261125_r000002.csv",
            "inventory_variance_2026-11-25_r000002.csv"
        ]
    );
    assert_eq!(
        sql(
            &h.root,
            "select count(*) from outbound where published_at is not null"
        ),
        "2"
    );
}

#[test]
fn an_x12_850_is_validated_and_written_like_a_csv_and_a_broken_envelope_is_rejected() {
    let h = demo_home();
    std::fs::create_dir_all(h.root.join("inbox/po850")).unwrap();
    std::fs::write(
        h.root.join("schemas/po_lines.v1.json"),
        r#"{"fields": [
            {"name": "po_number", "type": "string", "constraints": {"required": true}},
            {"name": "line_number", "type": "integer"},
            {"name": "sku", "type": "string", "constraints": {"required": true}},
            {"name": "quantity", "type": "integer", "constraints": {"required": true, "minimum": 100}},
            {"name": "unit", "type": "string"},
            {"name": "unit_price", "type": "number", "scale": 4}],
           "fieldsMatch": "superset"}"#,
    )
    .unwrap();
    std::fs::write(
        h.root.join("pipelines/po850.toml"),
        "[source]\nmin_age_secs = 0\nsettle_secs = 0\n[input]\nformat = \"x12\"\ntable = \"x12_850_lines\"\nschema = \"po_lines.v1\"\non_error = \"set_rows_aside\"\nack_destination = \"partner_acme\"\n[[outputs]]\ntable = \"input\"\ndestination = \"erp\"\nname = \"po_lines_{run_id}.csv\"\norder_by = [\"po_number\", \"line_number\"]\n",
    )
    .unwrap();
    for f in [
        "ediEngine_850.OK.edi",
        "ediEngine_ControlNumbersMismatch.edi",
    ] {
        let to = h.root.join("inbox/po850").join(f);
        std::fs::copy(
            format!("{}/tests/fixtures/x12/{f}", env!("CARGO_MANIFEST_DIR")),
            &to,
        )
        .unwrap();
        age(&to);
    }
    let out = stdout(&tallyman(&h.root, &["run", "po850"]));
    assert!(out.contains("ediEngine_850.OK.edi -> succeeded"), "{out}");
    assert!(
        out.contains("ediEngine_ControlNumbersMismatch.edi -> rejected"),
        "{out}"
    );
    // Its 3 envelope errors, and its interchange control number 3438 is the one the first
    // file (same sender) already used: flagged as a duplicate (TA1 note 025).
    assert!(out.contains("4 X12 envelope error(s)"), "{out}");
    let lines = read(&h.root, "outbox/erp/po_lines_r000001.csv");
    // Quantities below 100 (76 and 72) are set aside by the schema; the rest pass, prices exact.
    assert_eq!(lines.lines().count(), 5, "{lines}");
    assert!(
        lines.contains("08292233294,1,AB3542,VN,,120,EA,9.2500,SMALL WIDGET"),
        "{lines}"
    );
    assert_eq!(
        sql(&h.root, "select rule, message like 'x12_850_lines row %' from issues where run_id = 'r000001' order by message"),
        "minimum|1\nminimum|1"
    );
    assert_eq!(
        sql(
            &h.root,
            "select rule from issues where run_id = 'r000002' order by rule"
        ),
        "x12-envelope:AK502:3\nx12-envelope:AK905:4\nx12-envelope:TA105:001\nx12-envelope:TA105:025"
    );
    // A 997 per received interchange, the broken one rejected, control numbers never reused.
    let mut acks: Vec<String> = std::fs::read_dir(h.root.join("outbox/partner_acme"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    acks.sort();
    assert_eq!(
        acks,
        vec![
            "997_ABCDEFGHIJKLMNO_000003438_000000001.x12",
            "997_ABCDEFGHIJKLMNO_000003438_000000002.x12"
        ]
    );
    let accepted = read(&h.root, &format!("outbox/partner_acme/{}", acks[0]));
    assert!(
        // The partner sent 00400/004010: the reply is in that version, which has no AK103.
        accepted.contains("AK1*PO*1421~")
            && accepted.contains("*U*00400*")
            && accepted.contains("GS*FA*")
            && accepted.contains("*X*004010~")
            && accepted.contains("AK9*A*1*1*1~"),
        "{accepted}"
    );
    let rejected = read(&h.root, &format!("outbox/partner_acme/{}", acks[1]));
    assert!(
        rejected.contains("AK5*R*3~") && rejected.contains("AK9*R*1*1*0*4~"),
        "{rejected}"
    );
    // What we write, we read back clean.
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args([
            "inspect",
            h.root
                .join("outbox/partner_acme")
                .join(&acks[1])
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    assert!(stdout(&o).contains("no problems"), "{}", stdout(&o));
    // A rerun does not acknowledge again.
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "po850",
            "--date",
            &sql(
                &h.root,
                "select business_date from runs where run_id = 'r000001'",
            ),
            "--reason",
            "check",
        ],
    );
    // The broken interchange is replayed too, and rejected again: the rerun says so (exit 1).
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).contains("(rejected)"), "{}", stdout(&o));
    assert_eq!(
        std::fs::read_dir(h.root.join("outbox/partner_acme"))
            .unwrap()
            .count(),
        2
    );
}

/// `[reconcile] carry` copies columns into the reconciled table, so ATP can be computed from it
/// without joining the two sides again: the result equals the shipped SQL join's, row for row.
#[test]
fn carried_columns_give_the_same_atp_as_the_sql_join() {
    let h = demo_home();
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let compare =
        "compare = [{ partner = \"qty_on_hand\", erp = \"on_hand\", abs_tolerance = \"0\" }]";
    assert!(text.contains(compare), "the demo pipeline changed:\n{text}");
    let text = text.replace(
        compare,
        &format!("{compare}\ncarry = {{ partner = [\"qty_damaged\"], erp = [\"allocated\"] }}"),
    );
    let text = format!(
        "{text}\n[[transforms]]\nname = \"atp_carried\"\nsql = \"\"\"\n\
         SELECT r.item_id AS sku, r.warehouse AS location,\n\
         GREATEST(r.partner_qty_on_hand - COALESCE(r.partner_qty_damaged, 0)\n\
         - COALESCE(r.erp_allocated, 0) - COALESCE(m.safety_stock, 0), 0) AS atp\n\
         FROM reconciled r LEFT JOIN items m ON r.item_id = m.sku WHERE r.side <> 'erp'\n\"\"\"\n\
         [[outputs]]\ntable = \"atp_carried\"\ndestination = \"erp\"\nname = \"carried_{{run_id}}.csv\"\n\
         order_by = [\"sku\", \"location\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let read = |prefix: &str| {
        let name = outbox_files(&h.root)
            .into_iter()
            .find(|n| n.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}* in outbox/erp: {}", stdout(&o)));
        std::fs::read_to_string(h.root.join("outbox/erp").join(name)).unwrap()
    };
    let (joined, carried) = (read("atp_"), read("carried_"));
    assert!(joined.lines().count() > 3, "{joined}");
    assert_eq!(carried, joined);

    // The variance file carries the columns too; an ERP-only row has no partner value.
    let variance = read("inventory_variance_");
    let header: Vec<&str> = variance.lines().next().unwrap().split(',').collect();
    let at = |c: &str| {
        header
            .iter()
            .position(|h| *h == c)
            .unwrap_or_else(|| panic!("{c} in {header:?}"))
    };
    let (status, damaged, allocated) =
        (at("status"), at("partner_qty_damaged"), at("erp_allocated"));
    let erp_only: Vec<Vec<&str>> = variance
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|r| r[status] == "only_in_erp")
        .collect();
    assert!(!erp_only.is_empty(), "{variance}");
    for r in erp_only {
        assert_eq!(r[damaged], "", "{variance}");
        assert_ne!(r[allocated], "", "{variance}");
    }

    // Carrying an unknown column, or one already compared, is a configuration error.
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "carry = { partner = [\"qty_damaged\"], erp = [\"allocated\"] }",
        "carry = { partner = [\"qty_damagd\"], erp = [\"on_hand\"] }",
    );
    std::fs::write(&path, text).unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    for needle in [
        "reconcile.carry.partner: partner column `qty_damagd` is not in schema `tpl_snapshot.v1`",
        "reconcile.carry.erp: `on_hand` is compared already",
    ] {
        assert!(err.contains(needle), "missing {needle:?} in:\n{err}");
    }
}

/// Columns nothing reads are dropped after validation, but never one a transform needs: a
/// column named in the SQL, every column under `*`, and not for a name only in a string literal.
#[test]
fn transforms_see_every_column_they_name() {
    let cases: [(&str, &str); 4] = [
        ("SELECT * FROM input", "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts"),
        ("SELECT i.* FROM input i", "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts"),
        (
            "SELECT item_id, unit FROM input WHERE unit <> 'snapshot_ts' -- qty_damaged",
            "item_id,unit",
        ),
        (
            "SELECT i.item_id, e.uom, e.as_of FROM input i JOIN erp e ON i.item_id = e.sku AND i.warehouse = e.location",
            "item_id,uom,as_of",
        ),
    ];
    for (sql, header) in cases {
        let h = demo_home();
        let path = h.root.join("pipelines/inventory_3pl.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let text = format!(
            "{text}\n[[transforms]]\nname = \"picked\"\nsql = \"\"\"\n{sql}\n\"\"\"\n\
             [[outputs]]\ntable = \"picked\"\ndestination = \"erp\"\nname = \"picked_{{run_id}}.csv\"\n\
             order_by = [\"item_id\"]\n"
        );
        std::fs::write(&path, text).unwrap();
        let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
        assert!(
            o.status.success(),
            "{sql}: {}{}",
            stdout(&o),
            String::from_utf8_lossy(&o.stderr)
        );
        let name = outbox_files(&h.root)
            .into_iter()
            .find(|n| n.starts_with("picked_"))
            .unwrap_or_else(|| panic!("{sql}: no output: {}", stdout(&o)));
        let out = std::fs::read_to_string(h.root.join("outbox/erp").join(name)).unwrap();
        assert_eq!(out.lines().next(), Some(header), "{sql}");
        assert!(out.lines().count() > 3, "{sql}: {out}");
    }
}

/// Exit codes, so cron and schedulers alert: 0 when every file succeeded, 1 when one was
/// rejected or a rerun failed, 2 for what the command line or the config got wrong.
#[test]
fn exit_codes_say_whether_anything_needs_a_person() {
    let h = demo_home();
    // A missing extract rejects at once (by default the file would wait for it).
    no_erp_wait(&h.root);
    let erp = h.root.join("inbox/erp/erp_onhand_2026-11-25.csv");
    let saved = std::fs::read(&erp).unwrap();
    std::fs::remove_file(&erp).unwrap();
    let o = tallyman(&h.root, &["run"]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("-> rejected"), "{}", stdout(&o));
    let rerun = |reason: &str| {
        tallyman(
            &h.root,
            &[
                "rerun",
                "inventory_3pl",
                "--date",
                "2026-11-25",
                "--reason",
                reason,
            ],
        )
    };
    let o = rerun("  ");
    assert_eq!(o.status.code(), Some(2), "an empty reason is refused");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--reason"));
    assert_eq!(
        sql(&h.root, "select count(*) from runs"),
        "1",
        "nothing ran"
    );
    // The extract is still missing: the rerun is rejected again, and says so.
    let o = rerun("retry");
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    std::fs::write(&erp, saved).unwrap();
    let o = rerun("extract arrived");
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("(succeeded)"), "{}", stdout(&o));
    // Nothing ready is nothing wrong.
    assert_eq!(tallyman(&h.root, &["run"]).status.code(), Some(0));
    for args in [
        &["run", "nope"][..],
        &["rerun", "nope", "--date", "2026-11-25", "--reason", "x"],
        &["runs", "--state", "succeded"],
        &["runs", "--date", "2026-13-01"],
    ] {
        let o = tallyman(&h.root, args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
    }
    let o = tallyman(
        &h.root,
        &["runs", "--state", "succeeded", "--date", "2026-11-25"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("r000003"), "{}", stdout(&o));
}

/// `check` runs each transform on the schemas' columns: a column typo or an unknown file name
/// placeholder is a configuration problem (exit 2) before any partner file meets it.
#[test]
fn check_plans_the_sql_and_names_unknown_placeholders() {
    let h = demo_home();
    let o = tallyman(&h.root, &["check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let good = read(&h.root, "pipelines/inventory_3pl.toml");
    let broken = good
        .replace("COALESCE(e.allocated, 0)", "COALESCE(e.alocated, 0)")
        .replace(
            "atp_{yyyymmdd}_{run_id}.csv",
            "atp_{yyyymmddd}_{run_id}.csv",
        )
        .replace(
            "order_by = [\"sku\", \"location\"]",
            "order_by = [\"sku\", \"site\"]",
        );
    std::fs::write(&path, &broken).unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pipelines/inventory_3pl.toml: outputs.name: `{yyyymmddd}` in `atp_{yyyymmddd}_{run_id}.csv` is not a placeholder"),
        "{err}"
    );
    // The placeholder is a compile problem: the SQL is planned once the pipeline compiles.
    std::fs::write(&path, broken.replace("{yyyymmddd}", "{yyyymmdd}")).unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("pipelines/inventory_3pl.toml: transforms.atp: the SQL does not run on the schemas' columns")
            && err.contains("alocated"),
        "{err}"
    );
    // With the SQL right, the output's order_by column that atp does not have.
    std::fs::write(
        &path,
        good.replace(
            "order_by = [\"sku\", \"location\"]",
            "order_by = [\"sku\", \"site\"]",
        ),
    )
    .unwrap();
    let err = String::from_utf8_lossy(&tallyman(&h.root, &["check"]).stderr).into_owned();
    assert!(
        err.contains(
            "outputs.order_by: `site` is not a column of `atp` (its columns: sku, location, atp)"
        ),
        "{err}"
    );
    // Nothing was processed: the partner file still waits in the drop folder.
    assert!(h.root.join(DROP).join("stock_2026-11-25.csv").is_file());
    std::fs::write(&path, &good).unwrap();

    // An X12 input is its whole mapped table: SQL may name a mapped column the schema does
    // not list (a run keeps them), but not one the table does not have.
    std::fs::create_dir_all(h.root.join("inbox/po850")).unwrap();
    std::fs::write(
        h.root.join("schemas/po_lines.v1.json"),
        r#"{"fields": [{"name": "po_number", "type": "string"}, {"name": "quantity", "type": "integer"}],
           "fieldsMatch": "superset"}"#,
    )
    .unwrap();
    let po = |sql: &str| {
        format!("[input]\nformat = \"x12\"\ntable = \"x12_850_lines\"\nschema = \"po_lines.v1\"\n[[transforms]]\nname = \"t\"\nsql = \"{sql}\"\n")
    };
    std::fs::write(
        h.root.join("pipelines/po850.toml"),
        po("SELECT interchange_control, po_number, upc, quantity * 2 AS q FROM input"),
    )
    .unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(
        h.root.join("pipelines/po850.toml"),
        po("SELECT upcc FROM input"),
    )
    .unwrap();
    let o = tallyman(&h.root, &["check"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("transforms.t: the SQL does not run"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Columns whose names are no plain words (`Fee (USD)`, `sku#`) reach the SQL that names them
/// (quoted): pruning reads the parsed SQL, not a word-boundary regex that missed them.
#[test]
fn columns_named_with_any_character_reach_the_sql() {
    let h = demo_home();
    let schema = h.root.join("schemas/tpl_snapshot.v1.json");
    let text = std::fs::read_to_string(&schema).unwrap();
    assert!(text.contains("\"name\": \"unit\"") && text.contains("\"name\": \"snapshot_ts\""));
    let text = text
        .replace("\"name\": \"unit\"", "\"name\": \"Fee (USD)\"")
        .replace("\"name\": \"snapshot_ts\"", "\"name\": \"sku#\"");
    std::fs::write(&schema, text).unwrap();
    let drop = h.root.join(DROP).join("stock_2026-11-25.csv");
    let data = std::fs::read_to_string(&drop).unwrap();
    std::fs::write(
        &drop,
        data.replacen("unit,snapshot_ts", "\"Fee (USD)\",sku#", 1),
    )
    .unwrap();
    age(&drop);
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = format!(
        "{text}\n[[transforms]]\nname = \"picked\"\nsql = '''\n\
         SELECT item_id, \"Fee (USD)\" AS fee_unit, \"sku#\" FROM input\n'''\n\
         [[outputs]]\ntable = \"picked\"\ndestination = \"erp\"\nname = \"picked_{{run_id}}.csv\"\n\
         order_by = [\"item_id\"]\n"
    );
    std::fs::write(&path, text).unwrap();
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    assert!(
        o.status.success(),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let name = outbox_files(&h.root)
        .into_iter()
        .find(|n| n.starts_with("picked_"))
        .unwrap_or_else(|| panic!("no output: {}", stdout(&o)));
    let out = std::fs::read_to_string(h.root.join("outbox/erp").join(name)).unwrap();
    assert_eq!(out.lines().next(), Some("item_id,fee_unit,sku#"), "{out}");
    assert!(
        out.lines()
            .nth(1)
            .is_some_and(|l| l.contains(",EA,2026-11-25")),
        "{out}"
    );
}
