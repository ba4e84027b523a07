//! Catalog pipelines through the real `tallyman` binary: a plain catalog day 1 → day 2 with
//! adds, changes and removals (the exact change set, the versions published, the ERP delta
//! feed, the report's line), bad rows named by line, field and rule, a truncated catalog held,
//! and a Shopify products export.

#[path = "support/home.rs"]
mod home;

use std::path::{Path, PathBuf};

use home::{both, sql, tallyman};

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// An empty home with the shipped catalog pipelines and their schemas.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for rel in [
        "pipelines/catalog_items.toml",
        "pipelines/catalog_shopify.toml",
        "schemas/catalog_items.v1.json",
        "schemas/shopify_products.v1.json",
        "pipelines/catalog_x12_832.toml",
        "schemas/x12_832_lines.v1.json",
    ] {
        let to = dir.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("folder");
        std::fs::copy(repo(rel), to).expect("copy");
    }
    for f in [
        "inbox/catalog_items",
        "inbox/catalog_shopify",
        "inbox/catalog_x12_832",
    ] {
        std::fs::create_dir_all(dir.path().join(f)).expect("inbox");
    }
    dir
}

/// Drops `text` as if the partner finished it a minute ago, and runs the pipeline.
fn run(root: &Path, pipeline: &str, name: &str, text: &str) -> std::process::Output {
    let path = root.join("inbox").join(pipeline).join(name);
    std::fs::write(&path, text).expect("write");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .expect("mtime");
    // A drop file open for writing is not taken: closed before the run.
    drop(f);
    tallyman(root, &["run", pipeline])
}

const HEADER: &str = "sku,description,gtin,uom,price,currency,vendor,status\n";

/// Day 1: twenty items A-01..A-20.
fn day1() -> String {
    let mut s = HEADER.to_string();
    for n in 1..=20 {
        s.push_str(&format!("A-{n:02},Item {n},,EA,{n}.00,USD,Acme,active\n"));
    }
    s
}

/// The one file of `outbox/<dest>` whose name contains `part`.
fn outbox(root: &Path, dest: &str, part: &str) -> String {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("outbox").join(dest))
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains(part))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    std::fs::read_to_string(files.remove(0)).expect("read")
}

/// The archived report of a run, as text of its HTML.
fn report(root: &Path, run_id: &str) -> String {
    let path = sql(
        root,
        &format!("SELECT archive_path FROM runs WHERE run_id = '{run_id}'"),
    );
    std::fs::read_to_string(root.join(path).join("report.html")).unwrap_or_default()
}

#[test]
fn day_one_to_day_two_gives_the_exact_change_set_and_a_new_version() {
    let h = home();
    let root = h.path();
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    assert!(o.status.success(), "{}", both(&o));
    // Day 2: A-01 price, A-02 description, A-03 both; A-20 gone (1 of 20: exactly 5%); two new.
    let mut d2 = HEADER.to_string();
    d2.push_str("A-01,Item 1,,EA,1.25,USD,Acme,active\n");
    d2.push_str("A-02,Item two,,EA,2.00,USD,Acme,active\n");
    d2.push_str("A-03,Item three,,EA,3.5,USD,Acme,active\n");
    for n in 4..=19 {
        d2.push_str(&format!("A-{n:02},Item {n},,EA,{n}.0,USD,Acme,active\n"));
    }
    d2.push_str("B-01,New one,4006381333931,CS,10.00,USD,Acme,active\n");
    d2.push_str("B-02,New two,,PK,0,USD,Acme,active\n");
    let o = run(root, "catalog_items", "catalog_2026-11-25.csv", &d2);
    assert!(o.status.success(), "{}", both(&o));

    assert_eq!(
        sql(root, "SELECT source, version, run_id, path, items FROM catalog_versions ORDER BY version"),
        "acme|1|r000001|reference/catalog/acme/v0001.csv|20\nacme|2|r000002|reference/catalog/acme/v0002.csv|21"
    );
    let v2 = std::fs::read_to_string(root.join("reference/catalog/acme/v0002.csv")).expect("v2");
    assert!(v2.starts_with(HEADER), "{v2}");
    assert!(
        v2.contains("A-01,Item 1,,EA,1.25,USD,Acme,active\n"),
        "{v2}"
    );
    assert!(!v2.contains("A-20"), "{v2}");

    let delta = outbox(root, "erp", "catalog_delta_20261125");
    assert_eq!(
        delta,
        "sku,change,field,old_value,new_value\n\
         A-01,changed,price,1.00,1.25\n\
         A-02,changed,description,Item 2,Item two\n\
         A-03,changed,description,Item 3,Item three\n\
         A-03,changed,price,3.00,3.50\n\
         A-20,removed,,,\n\
         B-01,new,,,\n\
         B-02,new,,,\n"
    );
    let r = report(root, "r000002");
    assert!(
        r.contains("2 new, 3 changed (description 2, price 2), 1 removed, 16 unchanged"),
        "{r}"
    );
    assert!(
        r.contains("Published as version 2 of acme (against version 1)"),
        "{r}"
    );
    for listed in [
        "<li>A-01 price: 1.00 -&gt; 1.25</li>",
        "<li>A-03 description: Item 3 -&gt; Item three</li>",
        "<li>A-20 removed</li>",
        "<li>B-02 new</li>",
    ] {
        assert!(r.contains(listed), "{listed}: {r}");
    }
    assert_eq!(
        sql(root, "SELECT counts FROM runs WHERE run_id = 'r000002'"),
        r#"{"catalog_changed":3,"catalog_new":2,"catalog_removed":1,"catalog_unchanged":16}"#
    );
}

#[test]
fn bad_rows_are_named_by_line_field_and_rule_and_set_aside() {
    let h = home();
    let root = h.path();
    let mut f = HEADER.to_string();
    f.push_str("G-1,Good,4006381333931,EA,1.00,USD,Acme,active\n"); // line 2
    f.push_str("G-2,Bad digit,4006381333932,EA,1.00,USD,Acme,active\n"); // line 3
    f.push_str("G-3,Bad UPC,036000291453,EA,1.00,USD,Acme,active\n"); // line 4
    f.push_str("G-4,Odd unit,,PAIR,1.00,USD,Acme,active\n"); // line 5
    f.push_str("G-5,Negative,,EA,-2.00,USD,Acme,active\n"); // line 6
    f.push_str("G-6,Too precise,,EA,1.005,USD,Acme,active\n"); // line 7
    f.push_str("G-7,,,EA,,USD,Acme,active\n"); // line 8
    f.push_str("G-1,Again,,EA,1.00,USD,Acme,active\n"); // line 9
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &f);
    // Rows set aside are issues, not a rejection: the good rows are taken.
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        sql(
            root,
            "SELECT file, line, column_name, rule FROM issues ORDER BY line, rule"
        ),
        "catalog_2026-11-24.csv|3|gtin|gtin-check-digit\n\
         catalog_2026-11-24.csv|4|gtin|gtin-check-digit\n\
         catalog_2026-11-24.csv|5|uom|uom\n\
         catalog_2026-11-24.csv|6|price|price-negative\n\
         catalog_2026-11-24.csv|7|price|price-scale\n\
         catalog_2026-11-24.csv|8|description|required\n\
         catalog_2026-11-24.csv|8|price|required\n\
         catalog_2026-11-24.csv|9|sku|duplicate-sku"
    );
    assert_eq!(
        sql(root, "SELECT state, rows, rows_set_aside FROM runs"),
        "succeeded|8|7"
    );
    let v1 = std::fs::read_to_string(root.join("reference/catalog/acme/v0001.csv")).expect("v1");
    assert_eq!(
        v1,
        format!("{HEADER}G-1,Good,4006381333931,EA,1.00,USD,Acme,active\n")
    );
}

#[test]
fn a_truncated_catalog_is_held_not_applied() {
    let h = home();
    let root = h.path();
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    assert!(o.status.success(), "{}", both(&o));
    let cut: String = day1().lines().take(11).map(|l| format!("{l}\n")).collect();
    let o = run(root, "catalog_items", "catalog_2026-11-25.csv", &cut);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT state, message FROM runs WHERE run_id = 'r000002'"),
        "rejected|the catalog would remove 10 of 20 items, more than 5%: held, not applied (a truncated file?)"
    );
    assert_eq!(sql(root, "SELECT count(*) FROM catalog_versions"), "1");
    assert!(!root.join("reference/catalog/acme/v0002.csv").exists());
    assert_eq!(
        sql(
            root,
            "SELECT state FROM files WHERE name = 'catalog_2026-11-25.csv'"
        ),
        "quarantined"
    );
    let r = report(root, "r000002");
    assert!(
        r.contains("0 new, 0 changed, 10 removed, 10 unchanged"),
        "{r}"
    );
    assert!(r.contains("Held, not applied (against version 1)"), "{r}");
    // Only day 1's feed reached the ERP.
    let feeds: Vec<_> = std::fs::read_dir(root.join("outbox/erp"))
        .expect("outbox")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    assert_eq!(feeds.len(), 1, "{feeds:?}");
}

#[test]
fn a_shopify_products_export_is_a_catalog() {
    let h = home();
    let root = h.path();
    let text = std::fs::read_to_string(repo("tests/fixtures/catalog/shopify_products_export.csv"))
        .expect("fixture");
    let o = run(
        root,
        "catalog_shopify",
        "products_export_2026-11-24.csv",
        &text,
    );
    assert!(o.status.success(), "{}", both(&o));
    let v1 = std::fs::read_to_string(root.join("reference/catalog/shopify/v0001.csv")).expect("v1");
    assert_eq!(
        v1,
        "sku,description,gtin,uom,price,currency,vendor,status\n\
         MUG-L,Classic Mug,036000291452,EA,9.50,USD,Acme Ceramics,active\n\
         MUG-S,Classic Mug,4006381333931,EA,8.00,USD,Acme Ceramics,active\n\
         TOTE-1,Canvas Tote,96385074,EA,24.00,USD,Bagworks,active\n"
    );
}

#[test]
fn the_shipped_catalog_pipelines_pass_check() {
    let h = home();
    let o = tallyman(h.path(), &["check"]);
    assert!(o.status.success(), "{}", both(&o));
}

#[test]
fn the_demo_publishes_two_catalog_versions_and_the_day_two_feed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let o = tallyman(root, &["demo"]);
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        sql(
            root,
            "SELECT version, items FROM catalog_versions ORDER BY version"
        ),
        "1|7\n2|8"
    );
    assert_eq!(
        outbox(root, "erp", "catalog_delta_20261125"),
        "sku,change,field,old_value,new_value\n\
         SKU-00000003,changed,price,24.50,26.00\n\
         SKU-00000004,changed,description,Rain shell jacket M,Rain shell jacket M (2026)\n\
         SKU-00000007,changed,status,active,discontinued\n\
         SKU-00000008,new,,,\n"
    );
    // Day 2's bad check digit is an issue; the item keeps its day-1 values.
    assert_eq!(
        sql(
            root,
            "SELECT line, column_name, rule FROM issues WHERE rule = 'gtin-check-digit'"
        ),
        "7|gtin|gtin-check-digit"
    );
    let v2 = std::fs::read_to_string(root.join("reference/catalog/acme/v0002.csv")).expect("v2");
    assert!(
        v2.contains("SKU-00000006,Insulated bottle 750ml,96385074,"),
        "{v2}"
    );
}

/// Replaces `from` with `to` in the home's pipeline file.
fn edit_pipeline(root: &Path, pipeline: &str, from: &str, to: &str) {
    let path = root.join("pipelines").join(format!("{pipeline}.toml"));
    let text = std::fs::read_to_string(&path).expect("pipeline");
    assert!(text.contains(from), "{from}");
    std::fs::write(&path, text.replace(from, to)).expect("write pipeline");
}

#[test]
fn a_price_change_over_the_limit_is_held_then_approved_and_published() {
    let h = home();
    let root = h.path();
    edit_pipeline(
        root,
        "catalog_items",
        "max_drop = \"20%\"",
        "max_drop = \"20%\"\nmax_price_change = \"50%\"",
    );
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    assert!(o.status.success(), "{}", both(&o));
    // A-01 in cents instead of units; A-02 up 25% (within the limit).
    let d2 = day1()
        .replace("A-01,Item 1,,EA,1.00,", "A-01,Item 1,,EA,100,")
        .replace("A-02,Item 2,,EA,2.00,", "A-02,Item 2,,EA,2.50,");
    let o = run(root, "catalog_items", "catalog_2026-11-25.csv", &d2);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT state, message FROM runs WHERE run_id = 'r000002'"),
        "rejected|1 price(s) moved by more than 50% (A-01 1.00 -> 100.00): held for approval (tallyman catalog approve RUN)"
    );
    assert_eq!(
        sql(root, "SELECT run_id, pipeline, kind FROM catalog_holds"),
        "r000002|catalog_items|price_change"
    );
    assert_eq!(sql(root, "SELECT max(version) FROM catalog_versions"), "1");
    assert!(report(root, "r000002").contains("held for approval"));

    let o = tallyman(
        root,
        &[
            "catalog",
            "approve",
            "r000002",
            "--reason",
            "supplier confirmed",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(sql(root, "SELECT run_id FROM catalog_approvals"), "r000002");
    assert_eq!(
        sql(
            root,
            "SELECT run_id, state, trigger, rerun_of FROM runs WHERE run_id = 'r000003'"
        ),
        "r000003|succeeded|rerun|r000002"
    );
    assert_eq!(
        sql(
            root,
            "SELECT version, run_id, items FROM catalog_versions ORDER BY version"
        ),
        "1|r000001|20\n2|r000003|20"
    );
    assert_eq!(
        outbox(root, "erp", "catalog_delta_20261125"),
        "sku,change,field,old_value,new_value\n\
         A-01,changed,price,1.00,100.00\n\
         A-02,changed,price,2.00,2.50\n"
    );
}

#[test]
fn a_hold_for_removals_cannot_be_approved() {
    let h = home();
    let root = h.path();
    run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    let cut: String = day1().lines().take(5).map(|l| format!("{l}\n")).collect();
    run(root, "catalog_items", "catalog_2026-11-25.csv", &cut);
    assert_eq!(sql(root, "SELECT kind FROM catalog_holds"), "removals");
    let o = tallyman(root, &["catalog", "approve", "r000002"]);
    assert!(!o.status.success());
    assert!(
        both(&o).contains("only price changes can be approved"),
        "{}",
        both(&o)
    );
    assert_eq!(sql(root, "SELECT count(*) FROM catalog_approvals"), "0");
}

#[test]
fn a_delta_file_changes_only_what_it_names() {
    let h = home();
    let root = h.path();
    edit_pipeline(root, "catalog_items", "mode = \"full\"", "mode = \"delta\"");
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    assert!(o.status.success(), "{}", both(&o));
    let delta = format!(
        "{HEADER}A-05,Item 5,,EA,5.25,USD,Acme,active\n\
         A-06,Item 6,,EA,6.00,USD,Acme,discontinued\n\
         B-01,New,,EA,1.00,USD,Acme,active\n"
    );
    let o = run(root, "catalog_items", "catalog_2026-11-25.csv", &delta);
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        outbox(root, "erp", "catalog_delta_20261125"),
        "sku,change,field,old_value,new_value\n\
         A-05,changed,price,5.00,5.25\n\
         A-06,removed,,,\n\
         B-01,new,,,\n"
    );
    assert_eq!(
        sql(
            root,
            "SELECT version, items FROM catalog_versions ORDER BY version"
        ),
        "1|20\n2|20"
    );
    let v2 = std::fs::read_to_string(root.join("reference/catalog/acme/v0002.csv")).expect("v2");
    assert!(
        !v2.contains("A-06") && v2.contains("B-01,New") && v2.contains("A-07,Item 7"),
        "{v2}"
    );
    assert!(report(root, "r000002").contains("1 new, 1 changed (price 1), 1 removed, 18 unchanged"));
}

#[test]
fn a_rerun_compares_with_what_its_run_saw_and_never_publishes_over_later_versions() {
    let h = home();
    let root = h.path();
    run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    let d2 = day1().replace("A-01,Item 1,,EA,1.00,", "A-01,Item 1,,EA,1.10,");
    let o = run(root, "catalog_items", "catalog_2026-11-25.csv", &d2);
    assert!(o.status.success(), "{}", both(&o));
    // A dry run replays it in a scratch home: the real versions are read, none is written.
    let o = tallyman(
        root,
        &["rerun", "catalog_items", "--run", "r000002", "--dry-run"],
    );
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(sql(root, "SELECT count(*) FROM catalog_versions"), "2");
    assert!(!root.join("reference/catalog/acme/v0003.csv").exists());
    // Day 2 again: compared with version 1, as its run was; the next version is 3.
    let o = tallyman(
        root,
        &[
            "rerun",
            "catalog_items",
            "--run",
            "r000002",
            "--reason",
            "test",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT counts FROM runs WHERE run_id = 'r000003'"),
        r#"{"catalog_changed":1,"catalog_new":0,"catalog_removed":0,"catalog_unchanged":19}"#
    );
    assert_eq!(
        sql(
            root,
            "SELECT version, run_id FROM catalog_versions ORDER BY version"
        ),
        "1|r000001\n2|r000002\n3|r000003"
    );
    // Day 1 again would put its older catalog over versions 2 and 3: refused.
    let o = tallyman(
        root,
        &[
            "rerun",
            "catalog_items",
            "--run",
            "r000001",
            "--reason",
            "test",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT state, message FROM runs WHERE run_id = 'r000004'"),
        "rejected|run r000001 published version 1 of acme, and version 3 followed it: a rerun would publish an older catalog over it (drop the file again instead)"
    );
    assert_eq!(sql(root, "SELECT count(*) FROM catalog_versions"), "3");
}

#[test]
fn a_real_x12_832_catalog_is_published_and_its_next_issue_compared() {
    let h = home();
    let root = h.path();
    // A produce supplier's 832 (stupidedi's SC832 fixture; see tests/fixtures/PROVENANCE.tsv):
    // 176 LIN items with PID descriptions and CTP prices at five decimals, no currency.
    let day1 =
        std::fs::read_to_string(repo("tests/fixtures/x12/stupidedi_004010_SC832_fail_2.edi"))
            .expect("fixture");
    let o = run(root, "catalog_x12_832", "baldor_2026-11-24.edi", &day1);
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT source, version, items FROM catalog_versions"),
        "supplier_832|1|176"
    );
    let v1 =
        std::fs::read_to_string(root.join("reference/catalog/supplier_832/v0001.csv")).expect("v1");
    assert!(
        v1.starts_with(
            "sku,description,gtin,uom,price,currency,vendor,status\n\
             A3-CTN,BABY ARUGULA,,CA,14.20,USD,,\n\
             A5-CTN,ROCAT ARUGULA KILO,,CA,14.40,USD,,\n"
        ),
        "{v1}"
    );
    // The next issue: a new interchange number, one item renamed and repriced.
    let day2 = day1
        .replace("000028307", "000028308")
        .replace("PID*F****BABY ARUGULA~", "PID*F****BABY ARUGULA 3LB~")
        .replace("CTP**CAT*14.20000*", "CTP**CAT*15.00000*");
    let o = run(root, "catalog_x12_832", "baldor_2026-11-25.edi", &day2);
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT counts FROM runs WHERE run_id = 'r000002'"),
        r#"{"catalog_changed":1,"catalog_new":0,"catalog_removed":0,"catalog_unchanged":175}"#
    );
    let feeds: Vec<PathBuf> = std::fs::read_dir(root.join("outbox/erp"))
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains("r000002"))
        .collect();
    assert_eq!(feeds.len(), 1, "{feeds:?}");
    assert_eq!(
        std::fs::read_to_string(&feeds[0]).expect("feed"),
        "sku,change,field,old_value,new_value\n\
         A3-CTN,changed,description,BABY ARUGULA,BABY ARUGULA 3LB\n\
         A3-CTN,changed,price,14.20,15.00\n"
    );
}

/// A pipeline that reads the accepted catalog of `acme` as its `items` reference.
const STOCK_PIPELINE: &str = r#"
description = "stock valued at the accepted catalog's prices"
[source]
pattern = "stock_*.csv"
min_age_secs = 1
settle_secs = 1
[input]
schema = "stock_valued.v1"
[business_date]
from_name = '(?P<date>\d{4}-\d{2}-\d{2})'
format = "%Y-%m-%d"
[references.items]
catalog = "acme"
schema = "catalog_items.v1"
[[transforms]]
name = "valued"
sql = "SELECT s.sku, s.qty, i.price FROM input s LEFT JOIN items i ON s.sku = i.sku"
[[outputs]]
table = "valued"
destination = "erp"
name = "valued_{date}_{run_id}.csv"
order_by = ["sku"]
"#;

const STOCK_SCHEMA: &str = r#"{"name": "stock_valued", "fields": [
  {"name": "sku", "type": "string", "constraints": {"required": true}},
  {"name": "qty", "type": "integer"}],
  "foreignKeys": [{"fields": "sku", "reference": {"resource": "items", "fields": "sku"}}]}"#;

/// The catalog versions a run's manifest says it read.
fn versions_read(root: &Path, run_id: &str) -> serde_json::Value {
    let path = sql(
        root,
        &format!("SELECT archive_path FROM runs WHERE run_id = '{run_id}'"),
    );
    let text = std::fs::read_to_string(root.join(path).join("manifest.json")).expect("manifest");
    let m: serde_json::Value = serde_json::from_str(&text).expect("json");
    m["catalog_versions"].clone()
}

#[test]
fn a_pipeline_reads_one_catalog_version_and_its_rerun_reads_the_same() {
    let h = home();
    let root = h.path();
    std::fs::write(root.join("pipelines/stock_valued.toml"), STOCK_PIPELINE).expect("pipeline");
    std::fs::write(root.join("schemas/stock_valued.v1.json"), STOCK_SCHEMA).expect("schema");
    std::fs::create_dir_all(root.join("inbox/stock_valued")).expect("inbox");
    // No accepted catalog yet: the run fails and says why.
    let stock = "sku,qty\nA-01,5\nA-02,1\n";
    let o = run(root, "stock_valued", "stock_2026-11-23.csv", stock);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert!(
        both(&o).contains("catalog `acme` has no accepted version yet"),
        "{}",
        both(&o)
    );

    run(root, "catalog_items", "catalog_2026-11-24.csv", &day1());
    let o = run(root, "stock_valued", "stock_2026-11-24.csv", stock);
    assert!(o.status.success(), "{}", both(&o));
    // The file of the 23rd was kept for another try and is taken now too: the 24th's run.
    let run_v1 = sql(
        root,
        "SELECT r.run_id FROM runs r JOIN files f ON f.id = r.file_id
         WHERE f.name = 'stock_2026-11-24.csv' AND r.state = 'succeeded'",
    );
    assert_eq!(versions_read(root, &run_v1), serde_json::json!({"acme": 1}));
    let valued = outbox(root, "erp", &format!("valued_2026-11-24_{run_v1}"));
    assert_eq!(valued, "sku,qty,price\nA-01,5,1.00\nA-02,1,2.00\n");

    // Version 2 changes A-01's price; the rerun of the 24th still reads version 1.
    let d2 = day1().replace("A-01,Item 1,,EA,1.00,", "A-01,Item 1,,EA,1.10,");
    run(root, "catalog_items", "catalog_2026-11-25.csv", &d2);
    assert_eq!(sql(root, "SELECT max(version) FROM catalog_versions"), "2");
    let o = tallyman(
        root,
        &[
            "rerun",
            "stock_valued",
            "--run",
            &run_v1,
            "--reason",
            "test",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    let rerun = sql(
        root,
        &format!("SELECT run_id FROM runs WHERE rerun_of = '{run_v1}'"),
    );
    assert_eq!(versions_read(root, &rerun), serde_json::json!({"acme": 1}));
    // Same version, same rows: the ERP gets no second file for the 24th.
    let for_24th = std::fs::read_dir(root.join("outbox/erp"))
        .expect("outbox")
        .filter(|e| {
            let name = e.as_ref().expect("entry").file_name();
            name.to_string_lossy().starts_with("valued_2026-11-24")
        })
        .count();
    assert_eq!(for_24th, 1);
    // Same version, same bytes: nothing new for the ERP.
    assert!(
        both(&o).contains("unchanged") || !both(&o).contains("published"),
        "{}",
        both(&o)
    );

    // A new run reads version 2.
    let o = run(root, "stock_valued", "stock_2026-11-25.csv", stock);
    assert!(o.status.success(), "{}", both(&o));
    let latest = sql(
        root,
        "SELECT max(run_id) FROM runs WHERE pipeline = 'stock_valued'",
    );
    assert_eq!(versions_read(root, &latest), serde_json::json!({"acme": 2}));
    let valued = outbox(root, "erp", &format!("valued_2026-11-25_{latest}"));
    assert_eq!(valued, "sku,qty,price\nA-01,5,1.10\nA-02,1,2.00\n");
}

#[test]
fn item_rule_errors_reject_the_file_under_reject_file() {
    let h = home();
    let root = h.path();
    edit_pipeline(
        root,
        "catalog_items",
        "on_error = \"set_rows_aside\"",
        "on_error = \"reject_file\"",
    );
    let bad = format!("{HEADER}G-1,Good,,EA,1.00,USD,Acme,active\nG-2,Bad,4006381333932,EA,1.00,USD,Acme,active\n");
    let o = run(root, "catalog_items", "catalog_2026-11-24.csv", &bad);
    assert_eq!(o.status.code(), Some(1), "{}", both(&o));
    assert_eq!(
        sql(root, "SELECT state, message FROM runs"),
        "rejected|1 item rule error(s) in the catalog; the pipeline rejects files with errors"
    );
    assert_eq!(sql(root, "SELECT count(*) FROM catalog_versions"), "0");
}

#[test]
fn check_lists_every_problem_of_a_catalog_section() {
    let h = home();
    let root = h.path();
    edit_pipeline(
        root,
        "catalog_items",
        "source = \"acme\"\nlayout = \"plain\"\nmode = \"full\"",
        "source = \"a/b\"\nlayout = \"csv\"\nmode = \"partial\"\nmax_price_change = \"ten\"",
    );
    edit_pipeline(
        root,
        "catalog_items",
        "required = [\"description\", \"price\"]",
        "required = [\"colour\"]",
    );
    let o = tallyman(root, &["check"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
    let out = both(&o);
    for key in [
        "catalog.source",
        "catalog.layout",
        "catalog.mode",
        "catalog.required",
        "catalog.max_price_change",
    ] {
        assert!(
            out.contains(&format!("catalog_items.toml: {key}:")),
            "{key}: {out}"
        );
    }
}
