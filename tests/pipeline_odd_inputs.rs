//! Files that are valid but empty or easily misread, through the real `tallyman run` on the
//! demo home: CR-only line endings, a BOM, a bad first data row, a header-only or 0-byte partner
//! file, a header-only ERP extract, and `allow_empty`.

use std::path::Path;

#[path = "support/home.rs"]
mod home;
use home::{demo_home, sql, tallyman};

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Replaces a file and makes it old enough to be taken at once.
fn put(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    let f = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

fn edit_pipeline(root: &Path, from: &str, to: &str) {
    let path = root.join("pipelines/inventory_3pl.toml");
    let text = read(root, "pipelines/inventory_3pl.toml");
    assert!(text.contains(from), "{from} not in the demo pipeline");
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

const PARTNER: &str = "inbox/inventory_3pl/stock_2026-11-25.csv";
const ERP: &str = "inbox/erp/erp_onhand_2026-11-25.csv";
const DEMO: &str = include_str!("../demo/drop/inventory_3pl/stock_2026-11-25.csv");
const ATP: &str = "outbox/erp/atp_20261125_r000001.csv";

/// (name, partner file from the demo's lines, expected run state, rows, issues as
/// "line|rule" in line order)
type Case = (
    &'static str,
    fn(&str) -> Vec<u8>,
    &'static str,
    i64,
    &'static str,
);
const CASES: &[Case] = &[
    (
        "LF",
        |t| t.as_bytes().to_vec(),
        "succeeded",
        7,
        "6|field-count\n8|foreign-key",
    ),
    (
        "CRLF",
        |t| t.replace('\n', "\r\n").into_bytes(),
        "succeeded",
        7,
        "6|field-count\n8|foreign-key",
    ),
    (
        "CR only",
        |t| t.replace('\n', "\r").into_bytes(),
        "succeeded",
        7,
        "6|field-count\n8|foreign-key",
    ),
    (
        "CR only with a BOM",
        |t| format!("\u{feff}{}", t.replace('\n', "\r")).into_bytes(),
        "succeeded",
        7,
        "6|field-count\n8|foreign-key",
    ),
    (
        "bad first data row, CRLF, BOM",
        |t| {
            let (head, rest) = t.split_once('\n').unwrap();
            format!("\u{feff}{head}\nSKU-00000001,3PL-RENO\n{rest}")
                .replace('\n', "\r\n")
                .into_bytes()
        },
        "succeeded",
        8,
        "2|field-count\n7|field-count\n9|foreign-key",
    ),
];

/// Each way of writing the demo file is read the same: the same rows, the issues on the lines
/// a partner sees in an editor, and the same ATP feed (ATP from all 7 rows, never a header
/// alone with every ERP row a false break).
#[test]
fn line_endings_a_bom_and_a_bad_first_row_read_like_the_plain_file() {
    let mut atp_of_lf = None;
    for (name, make, state, rows, issues) in CASES {
        let h = demo_home();
        // The demo file is written with CRLF: each case starts from its LF form.
        put(&h.root.join(PARTNER), &make(&DEMO.replace("\r\n", "\n")));
        let o = tallyman(&h.root, &["run"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert_eq!(
            sql(&h.root, "select state, rows from runs"),
            format!("{state}|{rows}"),
            "{name}: {out}"
        );
        assert_eq!(
            sql(&h.root, "select line, rule from issues order by line"),
            *issues,
            "{name}"
        );
        let breaks = sql(&h.root, "select counts from runs");
        assert!(breaks.contains("\"matched\":4"), "{name}: {breaks}");
        let atp = read(&h.root, ATP);
        assert!(atp.contains("SKU-00000002,3PL-RENO,69\n"), "{name}: {atp}");
        match &atp_of_lf {
            None => atp_of_lf = Some(atp),
            Some(lf) => assert_eq!(&atp, lf, "{name}: the ATP feed differs from the LF file's"),
        }
    }
}

/// (name, partner file bytes)
const EMPTY_PARTNER: &[(&str, &[u8])] = &[
    ("0 bytes", b""),
    (
        "header only",
        b"item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n",
    ),
    (
        "CR-only header",
        b"item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\r",
    ),
];

#[test]
fn an_empty_partner_file_is_quarantined_with_rule_empty_file() {
    for (name, bytes) in EMPTY_PARTNER {
        let h = demo_home();
        put(&h.root.join(PARTNER), bytes);
        let o = tallyman(&h.root, &["run"]);
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("rejected"), "{name}: {out}");
        assert_eq!(sql(&h.root, "select state from runs"), "rejected", "{name}");
        assert_eq!(
            sql(&h.root, "select state from files"),
            "quarantined",
            "{name}"
        );
        let reason = read(
            &h.root,
            "quarantine/inventory_3pl/1-stock_2026-11-25.csv.reason.txt",
        );
        assert!(
            reason.contains("file: stock_2026-11-25.csv") && reason.contains("(empty-file)"),
            "{name}: {reason}"
        );
        assert!(
            !h.root.join("outbox/erp").exists()
                || std::fs::read_dir(h.root.join("outbox/erp"))
                    .unwrap()
                    .count()
                    == 0,
            "{name}: a rejected file writes nothing outbound"
        );
    }
}

#[test]
fn allow_empty_lets_a_header_only_partner_file_through() {
    let h = demo_home();
    edit_pipeline(
        &h.root,
        "on_error = \"set_rows_aside\"",
        "on_error = \"set_rows_aside\"\nallow_empty = true",
    );
    put(
        &h.root.join(PARTNER),
        b"item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\r\n",
    );
    let o = tallyman(&h.root, &["run"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(sql(&h.root, "select state, rows from runs"), "succeeded|0");
    // Nothing from the partner: every ERP row is only in the ERP, and the ATP feed is empty.
    assert!(
        sql(&h.root, "select counts from runs").contains("\"only_in_erp\":7"),
        "{}",
        sql(&h.root, "select counts from runs")
    );
    assert_eq!(read(&h.root, ATP), "sku,location,atp\n");
}

/// (table, its file in the home, its header, the pipeline line `allow_empty` goes after)
const EXTRACTS: &[(&str, &str, &str, &str)] = &[
    (
        "ERP extract",
        ERP,
        "sku,location,on_hand,allocated,uom,as_of\n",
        "schema = \"erp_onhand.v1\"",
    ),
    (
        "reference table",
        "reference/item_master.csv",
        "sku,description,uom,pack_size,safety_stock,unit_price,active\n",
        "schema = \"item_master.v1\"",
    ),
];

/// A header-only ERP extract once made every partner row `only_in_partner` and ATP ignore the
/// ERP's allocations; now it fails the run with a reason naming the file and the rule, and
/// nothing is written. `allow_empty = true` in its section lets the run go on.
#[test]
fn a_header_only_erp_extract_or_reference_fails_the_run_unless_allowed() {
    for (table, file, header, anchor) in EXTRACTS {
        let h = demo_home();
        put(&h.root.join(file), header.as_bytes());
        tallyman(&h.root, &["run"]);
        let reason = sql(&h.root, "select state, message from runs");
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        assert!(
            reason.starts_with("failed|")
                && reason.contains(name)
                && reason.contains("(empty-file)"),
            "{table}: {reason}"
        );
        assert!(!h.root.join(ATP).exists(), "{table}: no ATP feed written");

        let h = demo_home();
        edit_pipeline(&h.root, anchor, &format!("{anchor}\nallow_empty = true"));
        put(&h.root.join(file), header.as_bytes());
        let o = tallyman(&h.root, &["run"]);
        assert!(
            o.status.success(),
            "{table}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            sql(&h.root, "select state, rows from runs"),
            "succeeded|7",
            "{table}"
        );
    }
}
