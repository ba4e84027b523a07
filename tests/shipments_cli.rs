//! Shipments against the orders taken, through the real binary (issue 18): hand-made X12 945s
//! from the 3PL matched line by line (short, then complete; over; a SKU the order lacks; an
//! order never taken), the order's state and timeline, the ERP's shipment confirmations; the
//! 856 sample (tests/fixtures/PROVENANCE.tsv) naming orders never taken. Invoices (810) after
//! them: matched, another price, more than shipped; the 810 sample billing an order never
//! taken.

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{both, sql, tallyman, Home};
use orders::*;

/// A hand-made X12 945 from the 3PL (control `control`): one W12 per (sku, ordered, shipped).
fn x945(control: u32, order: &str, lines: &[(&str, &str, &str)]) -> String {
    let mut body = format!("ST*945*0001~W06*N*{order}*20261126*BOL-{control}~");
    for (i, (sku, ordered, shipped)) in lines.iter().enumerate() {
        body.push_str(&format!(
            "LX*{}~W12*CC*{ordered}*{shipped}**EA**VN*{sku}~",
            i + 1
        ));
    }
    body.push_str("W03*1*1*LB~");
    let segments = body.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*TALLYMAN       *261126*2200*U*00401*{control:09}*0*P*>~GS*SW*ACME3PL*TALLYMAN*20261126*2200*{control}*X*004010~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~\n"
    )
}

fn shipment_check(h: &Home, run: &str) -> String {
    let dir = sql(
        &h.root,
        &format!("SELECT archive_path FROM runs WHERE run_id = '{run}'"),
    );
    let report = read(&h.root.join(dir).join("report.csv"));
    report
        .lines()
        .filter(|l| l.contains("shipment"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn shipments_are_matched_line_by_line_and_move_the_order_to_shipped() {
    let h = home_with(&[
        ("orders_csv", CSV.into()),
        ("shipments_x12", SHIPMENTS.into()),
    ]);
    drop_file(
        &h,
        "orders_csv",
        "a.csv",
        csv_order(
            "PO-11",
            &[
                ("SKU-00000001", "2", "89.99"),
                ("SKU-00000003", "1", "24.50"),
            ],
            "",
        )
        .as_bytes(),
    );
    run(&h);
    // The 3PL ships one of two SKU-1 and a SKU the order does not have; SKU-3 not at all.
    drop_file(
        &h,
        "shipments_x12",
        "945_a.x12",
        x945(
            501,
            "PO-11",
            &[("SKU-00000001", "2", "1"), ("SKU-00000005", "1", "1")],
        )
        .as_bytes(),
    );
    let out = run(&h);
    assert!(
        out.contains("shipment_short 2") && out.contains("shipment_wrong_sku 1"),
        "{out}"
    );
    assert_eq!(sql(&h.root, "SELECT state FROM orders"), "partly_shipped");
    let confirmations = outbox(&h, "erp_shipments", "shipments_");
    assert_eq!(confirmations.len(), 1);
    assert_eq!(
        read(&confirmations[0]),
        "channel,order_id,sku,shipped,shipped_total,ordered,status\nacme,PO-11,SKU-00000001,1,1,2,short\n"
    );
    assert_eq!(
        outbox(&h, "3pl_acks", "997_").len(),
        1,
        "the 3PL gets its 997"
    );
    let breaks = shipment_check(&h, "r000002");
    assert!(breaks.contains("wrong_sku"), "{breaks}");
    // The rest follows: complete; the order is shipped.
    drop_file(
        &h,
        "shipments_x12",
        "945_b.x12",
        x945(
            502,
            "PO-11",
            &[("SKU-00000001", "2", "1"), ("SKU-00000003", "1", "1")],
        )
        .as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("shipment_complete 2"), "{out}");
    assert_eq!(sql(&h.root, "SELECT state FROM orders"), "shipped");
    let shown = both(&tallyman(&h.root, &["orders", "show", "PO-11"]));
    for want in [
        "partly_shipped (version 0)  shipments_x12 run r000002 945_a.x12 line 1: SKU-00000001 short 0+1 of 2; SKU-00000005 wrong_sku 0+1 of -; SKU-00000003 short 0+0 of 1",
        "shipped (version 0)  shipments_x12 run r000003 945_b.x12 line 1: SKU-00000001 complete 1+1 of 2; SKU-00000003 complete 0+1 of 1",
    ] {
        assert!(shown.contains(want), "{want}\n{shown}");
    }
    // Over-shipped, and an order never taken.
    drop_file(
        &h,
        "shipments_x12",
        "945_c.x12",
        x945(503, "PO-11", &[("SKU-00000003", "1", "1")]).as_bytes(),
    );
    drop_file(
        &h,
        "shipments_x12",
        "945_d.x12",
        x945(504, "PO-404", &[("SKU-00000003", "1", "1")]).as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("shipment_over 1"), "{out}");
    assert!(out.contains("shipment_unknown_order 1"), "{out}");
    let shown = both(&tallyman(&h.root, &["orders", "show", "PO-404"]));
    assert!(
        shown.contains("unknown_order (version 0)  shipments_x12"),
        "{shown}"
    );
}

#[test]
fn the_856_sample_names_an_order_never_taken() {
    let pipeline = SHIPMENTS
        .replace("table = \"x12_945_lines\" ", "table = \"x12_856_lines\" ")
        .replace(
            "schema = \"shipment_lines_945.v1\"",
            "schema = \"shipment_items.v1\"",
        )
        .replace("pattern = \"*.x12\"", "pattern = \"*.edi\"");
    let h = home_with(&[("shipments_856", pipeline)]);
    let bytes = std::fs::read(fixture("x12/ediEngine_856.Crossdock.OK.edi")).unwrap();
    drop_file(&h, "shipments_856", "asn.edi", &bytes);
    let out = run(&h);
    assert!(out.contains("shipment_unknown_order"), "{out}");
    assert!(
        outbox(&h, "erp_shipments", "shipments_").is_empty(),
        "nothing to confirm"
    );
    assert_eq!(
        sql(&h.root, "SELECT DISTINCT event, order_id FROM order_events"),
        "unknown_order|POREF00\nunknown_order|POREF01"
    );
}

/// A hand-made X12 810 (control `control`): invoice `invoice` for order `po`, one IT1 per
/// (sku, quantity, price).
fn x810(control: u32, invoice: &str, po: &str, lines: &[(&str, &str, &str)]) -> String {
    let mut body = format!("ST*810*0001~BIG*20261127*{invoice}**{po}~");
    for (i, (sku, qty, price)) in lines.iter().enumerate() {
        body.push_str(&format!("IT1*{}*{qty}*EA*{price}**VN*{sku}~", i + 1));
    }
    body.push_str("TDS*100~");
    let segments = body.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*ACMESHOP       *ZZ*TALLYMAN       *261127*0900*U*00401*{control:09}*0*P*>~GS*IN*ACMESHOP*TALLYMAN*20261127*0900*{control}*X*004010~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~\n"
    )
}

#[test]
fn invoices_are_matched_to_the_price_sent_and_the_quantity_shipped() {
    let h = home_with(&[
        ("orders_csv", CSV.into()),
        ("shipments_x12", SHIPMENTS.into()),
        ("invoices_x12", INVOICES.into()),
    ]);
    drop_file(
        &h,
        "orders_csv",
        "a.csv",
        csv_order("PO-12", &[("SKU-00000001", "2", "89.99")], "").as_bytes(),
    );
    run(&h);
    drop_file(
        &h,
        "shipments_x12",
        "945.x12",
        x945(701, "PO-12", &[("SKU-00000001", "2", "2")]).as_bytes(),
    );
    run(&h);
    drop_file(
        &h,
        "invoices_x12",
        "810_a.x12",
        x810(801, "INV-1", "PO-12", &[("SKU-00000001", "2", "89.99")]).as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("invoice_matched 1"), "{out}");
    assert_eq!(sql(&h.root, "SELECT state FROM orders"), "invoiced");
    let shown = both(&tallyman(&h.root, &["orders", "show", "PO-12"]));
    assert!(
        shown.contains("invoiced (version 0)  invoices_x12 run r000003 810_a.x12 line 1: SKU-00000001 matched 2 at 89.99"),
        "{shown}"
    );
    // Another price, and more than was shipped.
    drop_file(
        &h,
        "invoices_x12",
        "810_b.x12",
        x810(
            802,
            "INV-2",
            "PO-12",
            &[
                ("SKU-00000001", "2", "99.99"),
                ("SKU-00000001", "3", "89.99"),
            ],
        )
        .as_bytes(),
    );
    let out = run(&h);
    assert!(
        out.contains("invoice_price_mismatch 1") && out.contains("invoice_over_invoiced 1"),
        "{out}"
    );
    let check = outbox(&h, "finance", "invoice_check_");
    assert_eq!(check.len(), 2);
    assert!(
        read(&check[1])
            .contains("acme,INV-2,PO-12,SKU-00000001,2,2,2,89.99,99.99,price_mismatch,1"),
        "{}",
        read(&check[1])
    );
    // The 810 sample bills an order acme never sent us.
    let sample = std::fs::read(fixture("x12/ediNet_x12.810a.edi")).unwrap();
    drop_file(&h, "invoices_x12", "sample.x12", &sample);
    let out = run(&h);
    assert!(out.contains("invoice_unknown_order"), "{out}");
    assert_eq!(outbox(&h, "invoice_acks", "997_").len(), 3);
}
