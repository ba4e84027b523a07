//! Pipelines whose input is an X12, EDIFACT or XML document, through the real binary: a 3PL's
//! 945 validated, reconciled against an ERP open-orders extract, with a 997 in the partner's
//! outbound folder and a re-sent interchange control number rejected; EDIFACT DESADV and UBL /
//! cXML documents taken like CSV files.

#[path = "support/home.rs"]
mod home;
#[path = "support/ship945.rs"]
mod ship945;

use home::tallyman;
use ship945::{OPEN_ORDERS_SCHEMA, PIPELINE_945, SHIPMENT_SCHEMA};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Home {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A home with the demo's folders, `pipeline` (TOML) as `pipelines/<id>.toml` and `schemas`
/// (name, JSON), checked.
fn home_with(id: &str, pipeline: &str, schemas: &[(&str, &str)]) -> Home {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    assert!(tallyman(&root, &["demo", "--no-run"]).status.success());
    std::fs::create_dir_all(root.join("inbox").join(id)).unwrap();
    std::fs::write(root.join(format!("pipelines/{id}.toml")), pipeline).unwrap();
    for (name, text) in schemas {
        std::fs::write(root.join(format!("schemas/{name}.json")), text).unwrap();
    }
    let check = tallyman(&root, &["check"]);
    assert!(
        check.status.success(),
        "{}{}",
        stdout(&check),
        String::from_utf8_lossy(&check.stderr)
    );
    Home { _dir: dir, root }
}

/// Drops a fixture into the pipeline's inbox under `name`, old enough to be taken.
fn drop_file(h: &Home, id: &str, from: &Path, name: &str) {
    let to = h.root.join("inbox").join(id).join(name);
    std::fs::copy(from, &to).unwrap();
    let f = std::fs::OpenOptions::new().append(true).open(&to).unwrap();
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .unwrap();
}

fn sql(root: &Path, query: &str) -> Vec<String> {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).unwrap();
    let mut stmt = conn.prepare(query).unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The issue's end-to-end case: a 945 from a 3PL is validated, reconciled against an ERP
/// open-orders extract, and a 997 lands in the partner's outbound folder; the same
/// interchange control number sent again (with other bytes) is rejected as a duplicate.
#[test]
fn a_945_is_reconciled_against_erp_open_orders_and_acknowledged() {
    let h = home_with(
        "ship945",
        PIPELINE_945,
        &[
            ("shipment_lines.v1", SHIPMENT_SCHEMA),
            ("erp_open_orders.v1", OPEN_ORDERS_SCHEMA),
        ],
    );
    std::fs::write(
        h.root.join("inbox/erp/erp_open_orders_2026-11-25.csv"),
        "order_number,sku,qty_open\nSO-1001,SKU-1,10\nSO-1001,SKU-2,5\nSO-1002,SKU-3,4\nSO-1003,SKU-4,7\n",
    )
    .unwrap();
    drop_file(
        &h,
        "ship945",
        &fixture("x12/handmade/945_acme_2026-11-25.x12"),
        "945_acme_2026-11-25.x12",
    );
    let o = tallyman(&h.root, &["run", "ship945"]);
    let out = stdout(&o);
    assert!(
        out.contains("945_acme_2026-11-25.x12 -> succeeded") && out.contains("3 rows"),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("reconciliation: duplicate_key 0, matched 2, mismatched 1, only_in_erp 1, only_in_partner 0"),
        "{out}"
    );
    let breaks = std::fs::read_to_string(
        h.root
            .join("outbox/erp/shipment_breaks_2026-11-25_r000001.csv"),
    )
    .unwrap();
    assert!(
        breaks.contains("SO-1001") && breaks.contains("SKU-2") && breaks.contains("mismatched"),
        "{breaks}"
    );
    assert!(
        breaks.contains("SO-1003") && breaks.contains("only_in_erp"),
        "{breaks}"
    );
    assert!(
        !breaks.contains("SKU-1,"),
        "matched lines are not breaks: {breaks}"
    );

    let acks = files_in(&h.root.join("outbox/to_acme3pl"));
    assert_eq!(acks.len(), 1, "{acks:?}");
    let ack = std::fs::read_to_string(h.root.join("outbox/to_acme3pl").join(&acks[0])).unwrap();
    assert!(
        ack.contains("ST*997*") && ack.contains("AK1*SW*905") && ack.contains("AK9*A*2*2*2"),
        "{ack}"
    );
    assert!(
        ack.contains("*ZZ*TALLYMAN       *ZZ*ACME3PL        *"),
        "we answer as the receiver: {ack}"
    );

    // Interchange 000000905 again, different bytes: flagged and rejected, nothing reconciled.
    drop_file(
        &h,
        "ship945",
        &fixture("x12/handmade/945_acme_2026-11-25_resent.x12"),
        "945_acme_2026-11-25_resent.x12",
    );
    let out = stdout(&tallyman(&h.root, &["run", "ship945"]));
    assert!(
        out.contains("945_acme_2026-11-25_resent.x12 -> rejected"),
        "{out}"
    );
    assert!(out.contains("1 X12 envelope error(s)"), "{out}");
    assert_eq!(
        sql(&h.root, "select rule || ' ' || message from issues where run_id = 'r000002'"),
        vec!["x12-envelope:TA105:025 interchange control number 000000905 from ZZ:ACME3PL was already received in an earlier file (945_acme_2026-11-25.x12, run r000001) (segment 1, byte 0, interchange 1 ISA13 000000905): duplicate interchange control number".to_string()]
    );
    assert!(
        h.root
            .join("quarantine/ship945")
            .read_dir()
            .unwrap()
            .any(|e| e
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".reason.txt")),
        "quarantined with a reason"
    );
    // A rerun of the first file's date is not a duplicate of itself.
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "ship945",
            "--date",
            "2026-11-25",
            "--reason",
            "check",
        ],
    );
    assert!(
        stdout(&o).contains("(succeeded)"),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// EDIFACT and XML inputs go through the same validation and outputs as CSV: one row per
/// mapped line, the values the document really holds.
#[test]
fn edifact_and_xml_documents_are_pipeline_inputs() {
    // (format, table, schema, fixture, rows, a line the output must hold)
    let cases: &[(&str, &str, &str, &str, usize, &str)] = &[
        (
            "edifact",
            "edifact_desadv_lines",
            r#"{"fields": [{"name": "shipment_id", "type": "string", "constraints": {"required": true}},
                {"name": "sku", "type": "string"}, {"name": "quantity", "type": "number"}],
               "fieldsMatch": "superset"}"#,
            "edifact/handmade/desadv_d96a.edi",
            3,
            "DES587441",
        ),
        (
            "xml",
            "xml_order_lines",
            r#"{"fields": [{"name": "po_number", "type": "string", "constraints": {"required": true}},
                {"name": "sku", "type": "string", "constraints": {"required": true}},
                {"name": "quantity", "type": "number", "constraints": {"minimum": 1}},
                {"name": "unit_price", "type": "number", "scale": 2}],
               "fieldsMatch": "superset"}"#,
            "xml/cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml",
            2,
            "DO1234,1,1233244,VN",
        ),
        (
            "xml",
            "xml_order_lines",
            r#"{"fields": [{"name": "po_number", "type": "string", "constraints": {"required": true}},
                {"name": "sku", "type": "string", "constraints": {"required": true}}],
               "fieldsMatch": "superset"}"#,
            "xml/ubl/phubl_UBL-Order-2.1-Example.xml",
            2,
            "SItemNo011",
        ),
        (
            "xml",
            "xml_ship_lines",
            r#"{"fields": [{"name": "shipment_id", "type": "string", "constraints": {"required": true}},
                {"name": "order_number", "type": "string", "constraints": {"required": true}},
                {"name": "sku", "type": "string", "constraints": {"required": true}}],
               "fieldsMatch": "superset"}"#,
            "xml/ubl/phubl_UBL-DespatchAdvice-2.0-Example.xml",
            1,
            "AEG012345",
        ),
    ];
    for (format, table, schema, file, rows, must) in cases {
        let pipeline = format!(
            "[source]\nmin_age_secs = 0\nsettle_secs = 0\n[input]\nformat = \"{format}\"\ntable = \"{table}\"\nschema = \"doc.v1\"\n[[outputs]]\ntable = \"input\"\ndestination = \"erp\"\nname = \"doc_{{run_id}}.csv\"\n"
        );
        let h = home_with("docs", &pipeline, &[("doc.v1", schema)]);
        let name = Path::new(file).file_name().unwrap().to_str().unwrap();
        drop_file(&h, "docs", &fixture(file), name);
        let o = tallyman(&h.root, &["run", "docs"]);
        let out = stdout(&o);
        assert!(
            out.contains(&format!("{name} -> succeeded")) && out.contains(&format!("{rows} rows")),
            "{file}: {out}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let csv = std::fs::read_to_string(h.root.join("outbox/erp/doc_r000001.csv")).unwrap();
        assert_eq!(csv.lines().count(), rows + 1, "{file}: {csv}");
        assert!(csv.contains(must), "{file}: {csv}");
    }
}

/// A broken document is rejected whole, with the format's own problem as the reason.
#[test]
fn broken_edifact_and_xml_documents_are_rejected_with_their_problem() {
    let schema = r#"{"fields": [{"name": "sku", "type": "string"}], "fieldsMatch": "superset"}"#;
    let evil = b"<?xml version=\"1.0\"?>\n<!DOCTYPE Order [ <!ENTITY x \"boom\"> ]>\n<Order xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:Order-2\">&x;</Order>\n";
    let dir = tempfile::tempdir().unwrap();
    let evil_path = dir.path().join("evil.xml");
    std::fs::write(&evil_path, evil).unwrap();
    // (format, table, file, reason in the run output, rule in the ledger)
    let cases: &[(&str, &str, PathBuf, &str, &str)] = &[
        (
            "edifact",
            "edifact_desadv_lines",
            fixture("edifact/handmade/desadv_d96a_bad_unt.edi"),
            "1 EDIFACT envelope error(s)",
            "0085:29",
        ),
        (
            "xml",
            "xml_order_lines",
            evil_path,
            "XML document error(s)",
            "xml:entity-declared",
        ),
    ];
    for (format, table, file, reason, rule) in cases {
        let pipeline = format!(
            "[source]\nmin_age_secs = 0\nsettle_secs = 0\n[input]\nformat = \"{format}\"\ntable = \"{table}\"\nschema = \"doc.v1\"\n"
        );
        let h = home_with("docs", &pipeline, &[("doc.v1", schema)]);
        let name = file.file_name().unwrap().to_str().unwrap();
        drop_file(&h, "docs", file, name);
        let out = stdout(&tallyman(&h.root, &["run", "docs"]));
        assert!(
            out.contains(&format!("{name} -> rejected")) && out.contains(reason),
            "{name}: {out}"
        );
        let rules = sql(&h.root, "select rule from issues");
        assert!(rules.iter().any(|r| r.contains(rule)), "{name}: {rules:?}");
        assert_eq!(sql(&h.root, "select state from files"), vec!["quarantined"]);
    }
}

/// `tallyman inspect` on XML: the document kind and id, the DOCTYPE named but not fetched,
/// the mapped tables; JSON for scripts; a refused document exits 1 with its code.
#[test]
fn inspect_says_what_an_xml_document_holds() {
    let file = fixture("xml/cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml");
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", file.to_str().unwrap()])
        .output()
        .unwrap();
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("XML: cxml:OrderRequest document 1625586002.193314.7293@dev, 2 line(s)")
            && out.contains(
                "DOCTYPE http://xml.cXML.org/schemas/cXML/1.2.050/cXML.dtd (not fetched)"
            )
            && out.contains("xml_order_lines 2 row(s)"),
        "{out}"
    );
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", file.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["format"], "xml");
    assert_eq!(v["kind"], "cxml:OrderRequest");
    assert_eq!(v["doctype"]["expanded"], false);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.xml");
    std::fs::write(&bad, "<Order><ID>1</Order>").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["inspect", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("error xml:malformed at byte"),
        "{}",
        stdout(&o)
    );
}

/// Available-to-promise published to a marketplace as an X12 846 (never raw on hand): the
/// document reads back to the very rows of the CSV feed; a rerun of the same inputs writes the
/// same interchange, and one with changed figures takes the
/// partner's next control number instead of reusing one.
#[test]
fn atp_is_published_as_an_846_that_reads_back_to_the_same_rows() {
    use tallyman::formats::x12;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    assert!(tallyman(root, &["demo", "--no-run"]).status.success());
    // Run ids are per home: the demo's settlement would take r000002.
    for rel in [
        "pipelines/settlement_amazon_v2.toml",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).unwrap();
    }
    let pipeline = root.join("pipelines/inventory_3pl.toml");
    let text = std::fs::read_to_string(&pipeline).unwrap().replace(
        "[report]",
        r#"[[transforms]]
name = "atp_846"
sql = "SELECT location, sku, atp AS quantity FROM atp ORDER BY location, sku"

[[outputs]]
table = "atp_846"
destination = "to_marketplace"
name = "846_{yyyymmdd}_{run_id}.x12"
format = "x12_846"
x12 = { sender = "TALLYMAN", receiver = "MARKETPLACE", usage = "T" }

[report]"#,
    );
    std::fs::write(&pipeline, text).unwrap();
    for f in std::fs::read_dir(root.join("inbox/inventory_3pl")).unwrap() {
        let f = std::fs::OpenOptions::new()
            .append(true)
            .open(f.unwrap().path())
            .unwrap();
        f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
            .unwrap();
    }
    let o = tallyman(root, &["run"]);
    assert!(
        stdout(&o).contains("wrote outbox/to_marketplace/846_20261125_r000001.x12"),
        "{}{}",
        stdout(&o),
        String::from_utf8_lossy(&o.stderr)
    );
    let bytes = std::fs::read(root.join("outbox/to_marketplace/846_20261125_r000001.x12")).unwrap();
    let parsed = x12::parse(&bytes);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let ic = &parsed.interchanges[0];
    assert_eq!(
        (ic.sender.trim(), ic.receiver.trim(), ic.usage.as_str()),
        ("TALLYMAN", "MARKETPLACE", "T")
    );
    let tables = x12::map_tables(&parsed);
    let lines = tables.iter().find(|t| t.name == "x12_846_lines").unwrap();
    let col = |name: &str| lines.column(name).unwrap().to_vec();
    let got: Vec<(String, String, String)> = (0..lines.rows())
        .map(|r| {
            let v = |n: &str| col(n)[r].clone().unwrap_or_default();
            (v("location"), v("sku"), v("quantity"))
        })
        .collect();
    // The same rows as the ATP CSV feed of the same run.
    let csv = std::fs::read_to_string(root.join("outbox/erp/atp_20261125_r000001.csv")).unwrap();
    let mut want: Vec<(String, String, String)> = csv
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[0].to_string(), f[2].to_string())
        })
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert!(!got.is_empty());

    // A rerun of the same inputs computes the very same interchange (same control number: a
    // partner receiving it again would see a duplicate, not new stock figures), and does not
    // send it again (`on_rerun = "changed"`, the default): it is archived only...
    let rerun = |reason: &str| {
        let o = tallyman(
            root,
            &[
                "rerun",
                "inventory_3pl",
                "--date",
                "2026-11-25",
                "--reason",
                reason,
            ],
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        stdout(&o)
    };
    let out = rerun("check");
    assert!(
        out.contains("no differences: outputs are byte-identical"),
        "{out}"
    );
    let again = std::fs::read(
        root.join("archive/inventory_3pl/2026-11-25/r000002/output/846_20261125_r000002.x12"),
    )
    .unwrap();
    assert_eq!(again, bytes);
    assert!(!root
        .join("outbox/to_marketplace/846_20261125_r000002.x12")
        .exists());
    // ...while changed figures (the ERP allocates 5 more of SKU 2) are a new interchange with
    // the partner's next control number.
    let erp = root.join("inbox/erp/erp_onhand_2026-11-25.csv");
    let changed = std::fs::read_to_string(&erp).unwrap().replace(
        "SKU-00000002,3PL-RENO,80,5,",
        "SKU-00000002,3PL-RENO,80,10,",
    );
    std::fs::write(&erp, changed).unwrap();
    rerun("ERP fixed");
    let third_bytes =
        std::fs::read(root.join("outbox/to_marketplace/846_20261125_r000003.x12")).unwrap();
    let third = x12::parse(&third_bytes);
    assert!(third.problems.is_empty());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(text(&bytes).contains("LIN**VN*SKU-00000002~\nQTY*33*69*EA~"));
    assert!(text(&third_bytes).contains("LIN**VN*SKU-00000002~\nQTY*33*64*EA~"));
    let control = |p: &x12::Parsed| p.interchanges[0].control.trim().parse::<u32>().unwrap();
    assert_eq!(control(&third), control(&parsed) + 1, "never reused");
}

/// A customer's 850 turned into a 940 for the warehouse: one set per order, lines as sent.
#[test]
fn an_850_becomes_a_940_for_the_warehouse() {
    use tallyman::formats::x12;
    let pipeline = r#"[source]
min_age_secs = 0
settle_secs = 0
[input]
format = "x12"
table = "x12_850_lines"
schema = "po_lines.v1"
[[transforms]]
name = "w940"
sql = "SELECT po_number AS order_number, po_number, line_number, sku, quantity, unit FROM input ORDER BY po_number, line_number"
[[outputs]]
table = "w940"
destination = "to_warehouse"
name = "940_{run_id}.x12"
format = "x12_940"
x12 = { sender = "TALLYMAN", receiver_qualifier = "01", receiver = "WAREHOUSE1" }
"#;
    let schema = r#"{"fields": [
        {"name": "po_number", "type": "string", "constraints": {"required": true}},
        {"name": "line_number", "type": "integer"},
        {"name": "sku", "type": "string", "constraints": {"required": true}},
        {"name": "quantity", "type": "integer", "constraints": {"required": true}},
        {"name": "unit", "type": "string"}], "fieldsMatch": "superset"}"#;
    let h = home_with("po850", pipeline, &[("po_lines.v1", schema)]);
    drop_file(&h, "po850", &fixture("x12/ediEngine_850.OK.edi"), "po.edi");
    let out = stdout(&tallyman(&h.root, &["run", "po850"]));
    assert!(
        out.contains("po.edi -> succeeded") && out.contains("6 rows"),
        "{out}"
    );
    let bytes = std::fs::read(h.root.join("outbox/to_warehouse/940_r000001.x12")).unwrap();
    let parsed = x12::parse(&bytes);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    let tables = x12::map_tables(&parsed);
    let lines = tables.iter().find(|t| t.name == "x12_940_lines").unwrap();
    assert_eq!(lines.rows(), 6);
    // The warehouse gets exactly the customer's lines: SKU and quantity as the 850 has them.
    let po_bytes = std::fs::read(fixture("x12/ediEngine_850.OK.edi")).unwrap();
    let po_tables = x12::map_tables(&x12::parse(&po_bytes));
    let po = po_tables
        .iter()
        .find(|t| t.name == "x12_850_lines")
        .unwrap();
    for column in ["sku", "quantity", "line_number"] {
        assert_eq!(
            lines.column(column).unwrap().to_vec(),
            po.column(column).unwrap().to_vec(),
            "{column}"
        );
    }
    let header = tables.iter().find(|t| t.name == "x12_940_header").unwrap();
    assert_eq!(
        header.column("order_number").unwrap().to_vec(),
        vec![Some("08292233294".to_string())]
    );
}
