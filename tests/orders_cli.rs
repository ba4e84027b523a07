//! Orders end to end through the real binary (issue 18): the same order as an X12 850 and as a
//! CSV gives one ERP line and one 940; an amendment flagged, then accepted as a change; a retry
//! storm (the same file 50 times, 50 renamed copies) sends one order; bad lines come back with
//! reasons (a CSV and the EDIFACT ORDERS sample with no prices); UBL and cXML orders; a rerun
//! sends nothing again; a crash after the 940 is staged and before the ledger records the
//! order, and one after the record: after recovery the 3PL has exactly one 940; the X12 and
//! CSV pipelines of one channel running at once. (Shipments: tests/shipments_cli.rs.)
//!
//! The X12 850s are hand-made here (each needs its own interchange control number); the UBL,
//! cXML and EDIFACT samples are tests/fixtures' (tests/fixtures/PROVENANCE.tsv).

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{both, sql, tallyman};
use orders::*;

#[test]
fn the_same_order_as_an_850_and_as_a_csv_is_one_erp_line_one_940_and_a_997() {
    let h = acme();
    let line = [("SKU-00000001", "2", "89.99")];
    drop_file(
        &h,
        "orders_x12",
        "po_0042.edi",
        x850(101, "PO-0042", &line).as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_new 1"), "{out}");
    // The same order from the same partner as a CSV, with the price written 89.990.
    drop_file(
        &h,
        "orders_csv",
        "orders.csv",
        csv_order("PO-0042", &[("SKU-00000001", "2.0", "89.990")], "shoe").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_duplicate 1"), "{out}");
    assert!(out.contains("(order-duplicate)"), "{out}");
    // Counted and reported: the run's report says what became of the file's orders.
    let dir = sql(
        &h.root,
        "SELECT archive_path FROM runs WHERE run_id = 'r000002'",
    );
    let html = read(&h.root.join(dir).join("report.html"));
    assert!(html.contains("<h2>Orders (channel acme)</h2>"), "{html}");
    assert!(html.contains("new 0, duplicate 1, amendment 0"), "{html}");
    assert_eq!(
        erp_rows(&h),
        ["acme,PO-0042,1,new,2026-11-25,,Jo Walker,12 Harbor Road,Portland,ME,04101,,1,SKU-00000001,2,EA,89.99,"]
    );
    let w940 = outbox(&h, "3pl", "940_");
    assert_eq!(w940.len(), 1, "{w940:?}");
    let text = read(&w940[0]);
    assert!(text.contains("W05*N*PO-0042*PO-0042~"), "{text}");
    assert!(text.contains("W01*2*EA**VN*SKU-00000001~"), "{text}");
    let acks = outbox(&h, "partner_acme", "997_");
    assert_eq!(acks.len(), 1, "{acks:?}");
    assert!(read(&acks[0]).contains("AK5*A~"));
    assert!(outbox(&h, "partner_acme", "order_rejects").is_empty());
    // The order's state and its timeline, with file, run and line.
    let o = tallyman(&h.root, &["orders"]);
    let listed = both(&o);
    assert!(
        listed.contains("acme/PO-0042  released  version 1  first run r000001"),
        "{listed}"
    );
    let o = tallyman(&h.root, &["orders", "show", "PO-0042"]);
    let shown = both(&o);
    for want in [
        "new (version 1)  orders_x12 run r000001 po_0042.edi line 1",
        "released (version 1)  orders_x12 run r000001 po_0042.edi line 1: 940 940_",
        "duplicate (version 1)  orders_csv run r000002 orders.csv line 2",
    ] {
        assert!(shown.contains(want), "{want}\n{shown}");
    }
    let o = tallyman(&h.root, &["orders", "--state", "released", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(json[0]["order_id"], "PO-0042");
    assert_eq!(json[0]["state"], "released");
    // Released and not shipped: stuck for 0 days (its last step is in the past), not for 2.
    let stuck = both(&tallyman(&h.root, &["orders", "--stuck-for", "0"]));
    assert!(stuck.contains("acme/PO-0042  released"), "{stuck}");
    let stuck = both(&tallyman(&h.root, &["orders", "--stuck-for", "2"]));
    assert_eq!(stuck.trim(), "no orders");
    let o = tallyman(&h.root, &["orders", "--state", "lost"]);
    assert_eq!(o.status.code(), Some(2), "{}", both(&o));
}

#[test]
fn an_amendment_is_flagged_and_not_sent_unless_the_pipeline_accepts_it() {
    let h = acme();
    drop_file(
        &h,
        "orders_csv",
        "a.csv",
        csv_order("PO-7", &[("SKU-00000001", "2", "89.99")], "").as_bytes(),
    );
    run(&h);
    // The same order id, another quantity: flagged for a person, nothing sent.
    drop_file(
        &h,
        "orders_csv",
        "b.csv",
        csv_order("PO-7", &[("SKU-00000001", "3", "89.99")], "").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_amendment 1"), "{out}");
    assert!(out.contains("(order-amendment)"), "{out}");
    assert_eq!(erp_rows(&h).len(), 1);
    let listed = both(&tallyman(&h.root, &["orders"]));
    assert!(
        listed.contains("AMENDMENT waiting for a person"),
        "{listed}"
    );
    let report = read(&h.root.join(
        sql(
            &h.root,
            "SELECT archive_path FROM runs WHERE run_id = 'r000002'",
        ) + "/report.csv",
    ));
    assert!(report.contains("order-amendment"), "{report}");
    // The pipeline now accepts amendments: the next version goes to the ERP as a change, the
    // 3PL (which has the order) gets no second 940, and the first version stays in the ledger.
    let path = h.root.join("pipelines/orders_csv.toml");
    let text = read(&path).replace("amendments = \"flag\"", "amendments = \"accept\"");
    std::fs::write(&path, text).expect("pipeline");
    drop_file(
        &h,
        "orders_csv",
        "c.csv",
        csv_order("PO-7", &[("SKU-00000001", "4", "89.99")], "").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_amended 1"), "{out}");
    let rows = erp_rows(&h);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].starts_with("acme,PO-7,2,change,"), "{rows:?}");
    assert!(rows[1].contains(",SKU-00000001,4,EA,89.99"), "{rows:?}");
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1);
    let versions = sql(
        &h.root,
        "SELECT event, version, json_extract(content, '$.lines[0].quantity') FROM order_events WHERE order_id = 'PO-7' AND content IS NOT NULL ORDER BY id",
    );
    assert_eq!(versions, "new|1|2\namendment|2|3\namended|2|4");
    assert_eq!(
        sql(
            &h.root,
            "SELECT state, version, pending_amendment IS NULL FROM orders"
        ),
        "released|2|1"
    );
}

#[test]
fn a_retry_storm_sends_one_order() {
    let h = acme();
    let order = csv_order("PO-9", &[("SKU-00000002", "1", "89.99")], "first");
    // The same file 50 times: each drop after the one before was taken.
    for _ in 0..50 {
        drop_file(&h, "orders_csv", "orders.csv", order.as_bytes());
        run(&h);
    }
    // 50 renamed copies at once, each with other bytes (the description) but the same order.
    for i in 0..50 {
        let copy = csv_order(
            "PO-9",
            &[("SKU-00000002", "1", "89.99")],
            &format!("retry {i}"),
        );
        drop_file(
            &h,
            "orders_csv",
            &format!("orders_retry_{i:02}.csv"),
            copy.as_bytes(),
        );
    }
    run(&h);
    // And an 850 interchange holding the order three times (a partner's batch of retries).
    let line: &[(&str, &str, &str)] = &[("SKU-00000002", "1", "89.99")];
    let batch = x850_sets(601, &[("PO-9", line), ("PO-9", line), ("PO-9", line)]);
    drop_file(&h, "orders_x12", "batch.edi", batch.as_bytes());
    run(&h);
    assert_eq!(erp_rows(&h).len(), 1);
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1);
    assert_eq!(
        sql(
            &h.root,
            "SELECT state, count(*) FROM files GROUP BY state ORDER BY state"
        ),
        "duplicate|49\nprocessed|52"
    );
    assert_eq!(
        sql(
            &h.root,
            "SELECT event, count(*) FROM order_events GROUP BY event ORDER BY event"
        ),
        "duplicate|53\nnew|1\nreleased|1"
    );
}

#[test]
fn bad_lines_are_rejected_with_line_field_and_reason() {
    let h = acme();
    let text = format!(
        "{HEADER}\
         PO-1,2026-11-25,USD,Jo,1 Road,Town,ME,04101,US,1,SKU-00000001,1,EA,89.99,good\n\
         PO-2,2026-11-25,USD,Al,2 Road,Town,ME,04101,US,1,SKU-99999999,1,EA,5.00,unknown sku\n\
         PO-2,2026-11-25,USD,Al,2 Road,Town,ME,04101,US,2,SKU-00000003,0,PK,24.50,no quantity\n\
         PO-3,2026-11-25,USD,Bo,3 Road,Town,ME,04101,US,1,SKU-00000004,1,EA,,no price\n"
    );
    drop_file(&h, "orders_csv", "orders.csv", text.as_bytes());
    let out = run(&h);
    assert!(
        out.contains("orders_new 1") && out.contains("orders_rejected 2"),
        "{out}"
    );
    assert_eq!(erp_rows(&h).len(), 1, "only the good order goes on");
    let rejects = outbox(&h, "partner_acme", "order_rejects_");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        read(&rejects[0]),
        "channel,order_id,line,line_number,sku,field,value,reason\n\
         acme,PO-2,3,1,SKU-99999999,sku,SKU-99999999,unknown SKU: not in the item master\n\
         acme,PO-2,4,2,SKU-00000003,quantity,0,quantity is not positive\n\
         acme,PO-3,5,1,SKU-00000004,unit_price,,price missing\n"
    );
    assert_eq!(
        sql(
            &h.root,
            "SELECT order_id, state FROM orders ORDER BY order_id"
        ),
        "PO-1|released\nPO-2|rejected\nPO-3|rejected"
    );
    // The partner's corrected resend of a rejected order is taken.
    drop_file(
        &h,
        "orders_csv",
        "fixed.csv",
        csv_order("PO-3", &[("SKU-00000004", "1", "149.00")], "").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_new 1"), "{out}");
    // An 850 with an unknown SKU: its 997 accepts the interchange (the envelope is sound),
    // the reject file names the line.
    drop_file(
        &h,
        "orders_x12",
        "bad.edi",
        x850(202, "PO-4", &[("NOPE", "1", "1.00")]).as_bytes(),
    );
    run(&h);
    let rejects = outbox(&h, "partner_acme", "order_rejects_");
    assert_eq!(rejects.len(), 2);
    assert!(
        read(&rejects[1])
            .contains("acme,PO-4,1,1,NOPE,sku,NOPE,unknown SKU: not in the item master"),
        "{}",
        read(&rejects[1])
    );
    // Its 997 refuses the set, naming the PO1 and the element: it never accepts an order
    // that was not taken.
    let acks = outbox(&h, "partner_acme", "997_");
    assert_eq!(acks.len(), 1);
    let ack = read(&acks[0]);
    assert!(
        ack.contains("AK2*850*0001~\nAK3*PO1*6**8~\nAK4*7*234*7*NOPE~\nAK5*R*5~\nAK9*R*1*1*0~"),
        "{ack}"
    );
    // An interchange with a good order and a bad one: the good one goes on, the 997 accepts
    // its set and refuses the other, field by field (AK9 P: partly accepted).
    let good: Lines = &[("SKU-00000005", "1", "149.00")];
    let bad: Lines = &[("SKU-00000006", "0", "x")];
    drop_file(
        &h,
        "orders_x12",
        "mixed.edi",
        x850_sets(203, &[("PO-5", good), ("PO-6", bad)]).as_bytes(),
    );
    let out = run(&h);
    assert!(
        out.contains("orders_new 1") && out.contains("orders_rejected 1"),
        "{out}"
    );
    assert!(erp_rows(&h)
        .iter()
        .any(|r| r.starts_with("acme,PO-5,1,new,")));
    let acks = outbox(&h, "partner_acme", "997_");
    assert_eq!(acks.len(), 2);
    let ack = read(&acks[1]);
    assert!(
        ack.contains("AK2*850*0001~\nAK5*A~\nAK2*850*0002~\nAK3*PO1*6**8~\nAK4*2*330*7*0~\nAK4*4*212*6*x~\nAK5*R*5~\nAK9*P*2*2*1~"),
        "{ack}"
    );
}

/// A document pipeline built from the shipped X12 one: another format and table, channel `b2b`,
/// no item master (the samples' SKUs are the buyers').
fn document_pipeline(format: &str, table: &str, schema: &str) -> String {
    X12.replace("format = \"x12\"", &format!("format = \"{format}\""))
        .replace("table = \"x12_850_lines\"", &format!("table = \"{table}\""))
        .replace(
            "schema = \"order_lines_x12.v1\"",
            &format!("schema = \"{schema}\""),
        )
        .replace("ack_destination = \"partner_acme\"\n", "")
        .replace("pattern = \"*.edi\"", "pattern = \"*\"")
        .replace("channel = \"acme\"", "channel = \"b2b\"")
        .replace("items = \"items\"", "")
}

#[test]
fn ubl_cxml_and_edifact_orders_map_to_the_same_tables() {
    let plain = CSV
        .replace("channel = \"acme\"", "channel = \"b2b\"")
        .replace("items = \"items\"", "");
    let h = home_with(&[
        (
            "orders_ubl",
            document_pipeline("xml", "xml_order_lines", "order_lines_x12.v1"),
        ),
        (
            "orders_edifact",
            document_pipeline("edifact", "edifact_orders_lines", "order_lines_edifact.v1"),
        ),
        ("orders_csv", plain),
    ]);
    let ubl = std::fs::read(fixture("xml/ubl/phubl_UBL-Order-2.1-Example.xml")).unwrap();
    drop_file(&h, "orders_ubl", "order.xml", &ubl);
    let cxml = std::fs::read(fixture(
        "xml/cxml/cxmlphp_metadata_cxml_samples_OrderRequest.xml",
    ))
    .unwrap();
    drop_file(&h, "orders_ubl", "request.xml", &cxml);
    // EDIFACT ORDERS with no prices: every line rejected, "price missing".
    let orders = std::fs::read(fixture("orders/orders_d96a.edi")).unwrap();
    drop_file(&h, "orders_edifact", "orders.edi", &orders);
    run(&h);
    let rows = erp_rows(&h);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.starts_with("b2b,34,1,new,") && r.contains(",SItemNo001,120,LTR,50")),
        "{rows:?}"
    );
    assert!(
        rows.iter()
            .any(|r| r.starts_with("b2b,DO1234,1,new,") && r.contains(",1233245,20,EA,3.2")),
        "{rows:?}"
    );
    let rejects = outbox(&h, "partner_acme", "order_rejects_");
    assert_eq!(rejects.len(), 1);
    let text = read(&rejects[0]);
    assert_eq!(text.matches("price missing").count(), 2, "{text}");
    assert!(
        text.contains("b2b,801715918011,1,1,5020436373085,unit_price,,price missing"),
        "{text}"
    );
    // UBL order 34 again as a plain CSV of the channel: a duplicate.
    let again = csv_order(
        "34",
        &[("SItemNo001", "120", "50"), ("SItemNo011", "15", "15.00")],
        "",
    )
    .replace(",EA,50,", ",LTR,50,")
    .replace(",EA,15.00,", ",C62,15.00,");
    drop_file(&h, "orders_csv", "again.csv", again.as_bytes());
    let out = run(&h);
    assert!(out.contains("orders_duplicate 1"), "{out}");
}

#[test]
fn a_shopify_export_is_one_order_per_name() {
    let h = home_with(&[("orders_shopify", SHOPIFY.into())]);
    let header =
        std::fs::read_to_string(fixture("orders/SPEC_shopify_orders_export.header.csv")).unwrap();
    let columns: Vec<&str> = header.trim_end().split(',').collect();
    let row = |values: &[(&str, &str)]| {
        columns
            .iter()
            .map(|c| values.iter().find(|(k, _)| k == c).map_or("", |(_, v)| v))
            .collect::<Vec<_>>()
            .join(",")
    };
    let text = format!(
        "{}\n{}\n{}\n",
        header.trim_end(),
        row(&[
            ("Name", "#1001"),
            ("Currency", "USD"),
            ("Created at", "2026-11-25 10:00:00 -0500"),
            ("Lineitem quantity", "1"),
            ("Lineitem price", "89.99"),
            ("Lineitem sku", "SKU-00000001"),
            ("Shipping Name", "Jo Walker"),
            ("Shipping City", "Portland"),
        ]),
        row(&[
            ("Name", "#1001"),
            ("Lineitem quantity", "2"),
            ("Lineitem price", "24.50"),
            ("Lineitem sku", "SKU-00000003"),
        ]),
    );
    drop_file(&h, "orders_shopify", "orders_export_1.csv", text.as_bytes());
    run(&h);
    let rows = erp_rows(&h);
    assert_eq!(
        rows,
        [
            "shopify,1001,1,new,2026-11-25,USD,Jo Walker,,Portland,,,,1,SKU-00000001,1,EA,89.99,",
            "shopify,1001,1,new,2026-11-25,USD,Jo Walker,,Portland,,,,2,SKU-00000003,2,EA,24.5,",
        ]
    );
}

#[test]
fn a_rerun_of_an_order_file_sends_nothing_again() {
    let h = acme();
    drop_file(
        &h,
        "orders_csv",
        "a.csv",
        csv_order("PO-5", &[("SKU-00000001", "1", "89.99")], "").as_bytes(),
    );
    run(&h);
    let date = sql(
        &h.root,
        "SELECT business_date FROM runs WHERE run_id = 'r000001'",
    );
    let o = tallyman(
        &h.root,
        &["rerun", "orders_csv", "--date", &date, "--reason", "test"],
    );
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(erp_rows(&h).len(), 1);
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1);
    assert_eq!(
        sql(
            &h.root,
            "SELECT event, run_id FROM order_events ORDER BY id"
        ),
        "new|r000001\nreleased|r000001"
    );
}

/// Crashes the run at `point`, then lets the next pass recover: the 3PL has exactly one 940
/// and the ledger the order once; the same order again is a duplicate.
fn crash_then_recover(point: &str) {
    let h = acme();
    drop_file(
        &h,
        "orders_x12",
        "po.edi",
        x850(303, "PO-8", &[("SKU-00000001", "1", "89.99")]).as_bytes(),
    );
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args([
            "--home",
            h.root.to_str().unwrap(),
            "run",
            "--max-wait-secs",
            "5",
        ])
        .env("TALLYMAN_LOG", "warn")
        .env("TALLYMAN_FAILPOINTS", point)
        .output()
        .expect("run");
    assert!(!o.status.success(), "the failpoint aborts: {}", both(&o));
    assert!(outbox(&h, "3pl", "940_").len() <= 1);
    if point == "orders-staged" {
        assert!(
            outbox(&h, "3pl", "940_").is_empty(),
            "nothing visible before the record"
        );
        assert_eq!(sql(&h.root, "SELECT count(*) FROM order_events"), "0");
    }
    run(&h);
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1, "{point}");
    assert_eq!(erp_rows(&h).len(), 1, "{point}");
    let staged: Vec<_> = std::fs::read_dir(h.root.join("outbox/3pl"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with('.'))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");
    assert_eq!(
        sql(&h.root, "SELECT event FROM order_events ORDER BY id"),
        "new\nreleased"
    );
    drop_file(
        &h,
        "orders_csv",
        "again.csv",
        csv_order("PO-8", &[("SKU-00000001", "1", "89.99")], "").as_bytes(),
    );
    run(&h);
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1, "{point}");
}

#[test]
fn a_crash_after_the_940_is_staged_and_before_the_ledger_records_it_sends_one_940() {
    crash_then_recover("orders-staged");
}

#[test]
fn a_crash_after_the_record_and_before_publication_sends_one_940() {
    crash_then_recover("run-recorded");
}

#[test]
fn check_takes_the_shipped_order_pipelines_and_lists_every_problem_of_orders() {
    let h = home_with(&[
        ("orders_x12", X12.into()),
        ("orders_csv", CSV.into()),
        ("orders_shopify", SHOPIFY.into()),
        ("shipments_x12", SHIPMENTS.into()),
        ("invoices_x12", INVOICES.into()),
        ("returns_csv", RETURNS.into()),
    ]);
    let o = tallyman(&h.root, &["check"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("ok  returns_csv:"), "{}", both(&o));
    let bad = CSV
        .replace("layout = \"plain_csv\"", "layout = \"x12_850\"")
        .replace("items = \"items\"", "items = \"catalog\"")
        .replace("[orders]\n", "[orders]\nitems_column = \"item\"\n")
        .replace("amendments = \"flag\"", "amendments = \"maybe\"")
        .replacen("when_empty = \"skip\"", "when_empty = \"never\"", 1);
    std::fs::write(h.root.join("pipelines/orders_csv.toml"), bad).expect("pipeline");
    let x12 = X12.replace("[orders]\n", "[orders]\nitems_column = \"item\"\n");
    std::fs::write(h.root.join("pipelines/orders_x12.toml"), x12).expect("pipeline");
    let o = tallyman(&h.root, &["check"]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    for want in [
        "orders_csv.toml: orders.layout: `x12_850` reads input.table `x12_850_lines`",
        "orders_csv.toml: orders.items: `catalog` is not a reference table of this pipeline ([references.catalog])",
        "orders_csv.toml: orders.amendments: `maybe`: use \"flag\" or \"accept\"",
        "orders_x12.toml: orders.items_column: `item` is not a field of the schema of `items`",
        "orders_csv.toml: outputs.when_empty: `never`: use \"write\" or \"skip\"",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn an_order_rejected_for_an_unknown_sku_goes_out_once_when_rerun_after_the_item_is_added() {
    let h = acme();
    drop_file(
        &h,
        "orders_csv",
        "a.csv",
        csv_order("PO-6", &[("SKU-00000099", "1", "10.00")], "").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_rejected 1"), "{out}");
    assert!(erp_rows(&h).is_empty());
    let master = h.root.join("reference/item_master.csv");
    let text = read(&master) + "SKU-00000099,New boot,EA,1,0,10.00,true\n";
    std::fs::write(&master, text).expect("item master");
    let date = sql(
        &h.root,
        "SELECT business_date FROM runs WHERE run_id = 'r000001'",
    );
    for _ in 0..2 {
        let o = tallyman(
            &h.root,
            &[
                "rerun",
                "orders_csv",
                "--date",
                &date,
                "--reason",
                "item added",
            ],
        );
        assert!(o.status.success(), "{}", both(&o));
    }
    assert_eq!(erp_rows(&h).len(), 1, "sent once, by the first rerun");
    assert_eq!(outbox(&h, "3pl", "940_").len(), 1);
    assert_eq!(
        sql(
            &h.root,
            "SELECT event, run_id FROM order_events ORDER BY id"
        ),
        "rejected|r000001\nnew|r000002\nreleased|r000002"
    );
    assert_eq!(sql(&h.root, "SELECT state FROM orders"), "released");
}

#[test]
fn two_pipelines_of_one_channel_running_at_once_send_each_order_once() {
    let h = acme();
    for round in 0..5u32 {
        let po = format!("PO-R{round}");
        let line = [("SKU-00000001", "1", "89.99")];
        drop_file(
            &h,
            "orders_x12",
            &format!("po_{round}.edi"),
            x850(400 + round, &po, &line).as_bytes(),
        );
        drop_file(
            &h,
            "orders_csv",
            &format!("po_{round}.csv"),
            csv_order(&po, &line, "").as_bytes(),
        );
        // Two processes at once, one per pipeline: the channel's lock puts them in turn.
        let spawn = |pipeline: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_tallyman"))
                .args([
                    "--home",
                    h.root.to_str().unwrap(),
                    "run",
                    pipeline,
                    "--max-wait-secs",
                    "5",
                ])
                .env("TALLYMAN_LOG", "warn")
                .env_remove("TALLYMAN_FAILPOINTS")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        };
        let (mut a, mut b) = (spawn("orders_x12"), spawn("orders_csv"));
        assert!(a.wait().unwrap().success() && b.wait().unwrap().success());
    }
    assert_eq!(erp_rows(&h).len(), 5, "{:?}", erp_rows(&h));
    let sent: usize = outbox(&h, "3pl", "940_")
        .iter()
        .map(|f| read(f).matches("W05*N*").count())
        .sum();
    assert_eq!(sent, 5);
    assert_eq!(
        sql(
            &h.root,
            "SELECT event, count(*) FROM order_events GROUP BY event ORDER BY event"
        ),
        "duplicate|5\nnew|5\nreleased|5"
    );
}

/// ATP at intake: the orders pipeline reads the ATP the inventory pipeline published for its
/// location. The first order fits in it; the second, in the same file, asks for more of the
/// same SKU than is left: sent all the same, its line flagged as a backorder for the rest, in
/// the ERP file and in the run's issues.
#[test]
fn order_lines_over_the_published_atp_are_backorders_and_take_it_in_turn() {
    let h = home::demo_home();
    std::fs::write(
        h.root.join("schemas/orders_plain.v1.json"),
        include_str!("../schemas/orders_plain.v1.json"),
    )
    .expect("schema");
    let pipeline = CSV.replace("min_age_secs = 1", "min_age_secs = 0").replace(
        "amendments = \"flag\"             # or \"accept\": sent to the ERP as a change",
        "amendments = \"flag\"\natp = { pipeline = \"inventory_3pl\", location = \"3PL-RENO\" }",
    );
    assert!(pipeline.contains("atp = {"), "{pipeline}");
    std::fs::write(h.root.join("pipelines/orders_csv.toml"), pipeline).expect("pipeline");
    std::fs::create_dir_all(h.root.join("inbox/orders_csv")).expect("inbox");
    // No ATP published yet: the lines are not checked, and the run says so.
    drop_file(
        &h,
        "orders_csv",
        "early.csv",
        csv_order("PO-0", &[("SKU-00000001", "1", "5.00")], "").as_bytes(),
    );
    let o = tallyman(&h.root, &["run", "orders_csv"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("order-atp-missing"), "{}", both(&o));
    // The inventory run publishes its ATP feed.
    let o = tallyman(&h.root, &["run", "inventory_3pl"]);
    assert!(o.status.success(), "{}", both(&o));
    let feed = outbox(&h, "erp", "atp_");
    let text = std::fs::read_to_string(&feed[0]).expect("atp feed");
    let available: u64 = text
        .lines()
        .find(|l| l.starts_with("SKU-00000001,3PL-RENO,"))
        .and_then(|l| l.rsplit(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("SKU-00000001 in {text}"));
    assert!(available >= 2, "{text}");
    // Two orders in one file: the first takes all but one, the second wants three.
    let first = (available - 1).to_string();
    let mut file = csv_order("PO-1", &[("SKU-00000001", &first, "5.00")], "");
    file.push_str(
        csv_order("PO-2", &[("SKU-00000001", "3", "5.00")], "")
            .lines()
            .nth(1)
            .expect("row"),
    );
    file.push('\n');
    drop_file(&h, "orders_csv", "orders.csv", file.as_bytes());
    let o = tallyman(&h.root, &["run", "orders_csv"]);
    assert!(o.status.success(), "{}", both(&o));
    let rows = erp_rows(&h);
    let backorder = |po: &str| -> String {
        rows.iter()
            .find(|r| r.starts_with(&format!("acme,{po},")))
            .and_then(|r| r.rsplit(',').next())
            .unwrap_or_else(|| panic!("{po} in {rows:?}"))
            .to_string()
    };
    assert_eq!(backorder("PO-0"), "", "checked against nothing: {rows:?}");
    assert_eq!(backorder("PO-1"), "0", "{rows:?}");
    assert_eq!(backorder("PO-2"), "2", "{rows:?}");
    assert_eq!(
        sql(
            &h.root,
            "select line, rule from issues where rule = 'order-backorder'"
        ),
        "3|order-backorder"
    );
}
