//! Schema drift through the real `tallyman` binary: the demo's stock snapshot sent with its
//! header drifted (a column renamed, added, dropped, moved) is rejected with the drift in the
//! report and a JSON Patch of `schemas/tpl_snapshot.v1.json` archived with the run;
//! `tallyman schema apply RUN` applies it, and a rerun of the same file is then accepted.

#[path = "support/home.rs"]
mod home;

use std::path::Path;

use home::{both, demo_home, sql, tallyman};

const DROP: &str = "inbox/inventory_3pl/stock_2026-11-25.csv";
const SCHEMA: &str = "schemas/tpl_snapshot.v1.json";

/// A column of the drifted file: the demo file's column (by name), one under a new name
/// (new, old), or a new one with a value.
enum Col {
    From(&'static str),
    As(&'static str, &'static str),
    New(&'static str, &'static str),
}

/// The demo snapshot with its columns rearranged as `cols` say; short (malformed) rows as sent.
fn drifted(root: &Path, cols: &[Col]) -> String {
    let text = std::fs::read_to_string(root.join(DROP)).expect("demo file");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let pick = |row: &[&str]| -> String {
        cols.iter()
            .map(|c| match c {
                Col::From(name) | Col::As(_, name) => {
                    let at = header.iter().position(|h| h == name).expect("column");
                    row[at].to_string()
                }
                Col::New(_, value) => value.to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let names: Vec<&str> = cols
        .iter()
        .map(|c| match c {
            Col::From(n) | Col::As(n, _) | Col::New(n, _) => *n,
        })
        .collect();
    let mut out = vec![names.join(",")];
    for line in lines {
        let row: Vec<&str> = line.split(',').collect();
        out.push(if row.len() == header.len() {
            pick(&row)
        } else {
            line.to_string()
        });
    }
    out.join("\n") + "\n"
}

/// Sends the drifted file, checks the rejection and its proposed patch, applies it, reruns.
fn case(cols: &[Col], described: &[&str], new_header: &str) {
    let h = demo_home();
    let root = h.root.as_path();
    let text = drifted(root, cols);
    std::fs::write(root.join(DROP), &text).expect("drop");
    let schema_before = std::fs::read_to_string(root.join(SCHEMA)).expect("schema");

    let o = tallyman(root, &["run", "inventory_3pl", "--max-wait-secs", "30"]);
    assert_eq!(o.status.code(), Some(1), "rejected: {}", both(&o));
    assert_eq!(
        sql(root, "SELECT run_id, state FROM runs"),
        "r000001|rejected"
    );
    let message = sql(root, "SELECT message FROM runs WHERE run_id = 'r000001'");
    for d in described {
        assert!(message.contains(d), "{d} in {message}");
    }
    assert!(
        message.contains("tallyman schema apply r000001"),
        "{message}"
    );
    let run_dir = root.join("archive/inventory_3pl/2026-11-25/r000001");
    let patch = std::fs::read_to_string(run_dir.join("schema.patch.json")).expect("patch");
    let report = std::fs::read_to_string(run_dir.join("report.html")).expect("report");
    for d in described {
        let shown = d.replace('`', "&#96;");
        assert!(
            report.contains(*d) || report.contains(&shown),
            "{d} in the report"
        );
    }
    assert!(report.contains("schema-patch"), "the patch in the report");
    // Nothing is applied by the run itself.
    assert_eq!(
        std::fs::read_to_string(root.join(SCHEMA)).unwrap(),
        schema_before
    );

    let o = tallyman(root, &["schema", "apply", "r000001"]);
    assert!(o.status.success(), "apply: {}\n{patch}", both(&o));
    let schema_after = std::fs::read_to_string(root.join(SCHEMA)).expect("schema");
    let doc: serde_json::Value = serde_json::from_str(&schema_after).expect("json");
    let names: Vec<&str> = doc["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| f["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names.join(","), new_header, "{patch}");
    let o = tallyman(root, &["check"]);
    assert!(o.status.success(), "check after apply: {}", both(&o));
    // The same patch again no longer fits the schema it was made against.
    let o = tallyman(root, &["schema", "apply", "r000001"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        both(&o).contains("changed since run r000001"),
        "{}",
        both(&o)
    );

    let o = tallyman(
        root,
        &[
            "rerun",
            "inventory_3pl",
            "--run",
            "r000001",
            "--reason",
            "schema patched",
        ],
    );
    assert!(o.status.success(), "rerun: {}", both(&o));
    assert_eq!(
        sql(root, "SELECT run_id, state FROM runs ORDER BY run_id"),
        "r000001|rejected\nr000002|succeeded"
    );
    assert!(!root
        .join("archive/inventory_3pl/2026-11-25/r000002/schema.patch.json")
        .exists());
}

#[test]
fn a_renamed_column_is_patched_and_the_file_accepted() {
    use Col::From;
    case(
        &[
            From("item_id"),
            From("warehouse"),
            From("qty_on_hand"),
            From("qty_damaged"),
            Col::As("unit_of_measure", "unit"),
            From("snapshot_ts"),
        ],
        &["column 5 `unit` is now called `unit_of_measure` (renamed)"],
        "item_id,warehouse,qty_on_hand,qty_damaged,unit_of_measure,snapshot_ts",
    );
}

#[test]
fn an_added_column_is_patched_and_the_file_accepted() {
    use Col::From;
    case(
        &[
            From("item_id"),
            From("warehouse"),
            From("qty_on_hand"),
            From("qty_damaged"),
            From("unit"),
            From("snapshot_ts"),
            Col::New("lot", "L-7"),
        ],
        &["column 7 `lot` is new (not in the schema)"],
        "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts,lot",
    );
}

#[test]
fn a_dropped_column_is_patched_and_the_file_accepted() {
    use Col::From;
    case(
        &[
            From("item_id"),
            From("warehouse"),
            From("qty_on_hand"),
            From("qty_damaged"),
            From("snapshot_ts"),
        ],
        &["schema column 5 `unit` is gone from the file"],
        "item_id,warehouse,qty_on_hand,qty_damaged,snapshot_ts",
    );
}

#[test]
fn a_moved_column_is_patched_and_the_file_accepted() {
    use Col::From;
    case(
        &[
            From("snapshot_ts"),
            From("item_id"),
            From("warehouse"),
            From("qty_on_hand"),
            From("qty_damaged"),
            From("unit"),
        ],
        &["column `snapshot_ts` moved from column 6 to 1"],
        "snapshot_ts,item_id,warehouse,qty_on_hand,qty_damaged,unit",
    );
}

/// A renamed column the pipeline names (reconcile's `compare`): the patch applies, but the
/// pipeline no longer checks, and `schema apply` says so (exit 1) instead of inviting a rerun.
#[test]
fn a_rename_the_pipeline_names_is_flagged_after_apply() {
    use Col::From;
    let h = demo_home();
    let root = h.root.as_path();
    let cols = [
        From("item_id"),
        From("warehouse"),
        Col::As("quantity_on_hand", "qty_on_hand"),
        From("qty_damaged"),
        From("unit"),
        From("snapshot_ts"),
    ];
    std::fs::write(root.join(DROP), drifted(root, &cols)).expect("drop");
    let o = tallyman(root, &["run", "inventory_3pl", "--max-wait-secs", "30"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let o = tallyman(root, &["schema", "apply", "r000001"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let out = both(&o);
    assert!(
        out.contains("schemas/tpl_snapshot.v1.json patched"),
        "{out}"
    );
    assert!(out.contains("qty_on_hand"), "names the column: {out}");
    assert!(!out.contains("tallyman rerun"), "{out}");
}

/// A patch file of one's own, to a named schema: applied when the result compiles; refused,
/// with the schema untouched, when it would not, or when the name is no schema's.
#[test]
fn a_patch_file_applies_to_a_named_schema() {
    let h = demo_home();
    let root = h.root.as_path();
    let patch = root.join("add_lot.json");
    std::fs::write(
        &patch,
        r#"[{"op": "add", "path": "/fields/-", "value": {"name": "lot", "type": "string"}}]"#,
    )
    .expect("patch");
    let p = patch.to_str().expect("utf-8");
    let o = tallyman(root, &["schema", "apply", p, "--schema", "tpl_snapshot.v1"]);
    assert!(o.status.success(), "{}", both(&o));
    let after = std::fs::read_to_string(root.join(SCHEMA)).expect("schema");
    assert!(
        after.contains("    {\"name\": \"lot\", \"type\": \"string\"}\n  ],"),
        "{after}"
    );
    let broken = root.join("broken.json");
    std::fs::write(&broken, r#"[{"op": "remove", "path": "/fields/0"}]"#).expect("patch");
    let o = tallyman(
        root,
        &[
            "schema",
            "apply",
            broken.to_str().expect("utf-8"),
            "--schema",
            "tpl_snapshot.v1",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(both(&o).contains("not valid"), "{}", both(&o));
    assert_eq!(
        std::fs::read_to_string(root.join(SCHEMA)).expect("schema"),
        after
    );
    let o = tallyman(root, &["schema", "apply", p, "--schema", "../pipelines/x"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let o = tallyman(root, &["schema", "apply", "r000042"]);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
}

/// `tallyman validate` (no pipeline) shows the same drift and patch: `drift` in its JSON.
#[test]
fn validate_shows_the_drift_and_its_patch() {
    use Col::From;
    let h = demo_home();
    let root = h.root.as_path();
    let cols = [
        From("item_id"),
        From("warehouse"),
        From("qty_on_hand"),
        From("qty_damaged"),
        From("snapshot_ts"),
    ];
    std::fs::write(root.join(DROP), drifted(root, &cols)).expect("drop");
    let file = root.join(DROP);
    let schema = root.join(SCHEMA);
    let args = [
        "validate",
        file.to_str().expect("utf-8"),
        "--schema",
        schema.to_str().expect("utf-8"),
    ];
    let o = tallyman(root, &[&args[..], &["--json"]].concat());
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    let out: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(
        out["drift"]["changes"],
        serde_json::json!(["schema column 5 `unit` is gone from the file"])
    );
    assert_eq!(
        out["drift"]["patch"],
        serde_json::json!([{"op": "remove", "path": "/fields/4"}])
    );
    let o = tallyman(root, &args);
    assert!(
        both(&o).contains("schema drift:\n  schema column 5 `unit` is gone"),
        "{}",
        both(&o)
    );
}
