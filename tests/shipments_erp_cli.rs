//! Shipments against the ERP's open-orders extract through the real binary (issue 18, point
//! 6): the shipped shipments pipeline with the extract as its `[erp]`; a shipment for an order
//! the ERP cancelled is `shipped_after_cancellation`, one for an order the ERP closed or lacks is
//! reported; the ERP's shipment confirmations are written for each.

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{sql, Home};
use orders::*;

fn x945(control: u32, order: &str, sku: &str, qty: &str) -> String {
    let body = format!("ST*945*0001~W06*N*{order}*20261126*BOL-{control}~LX*1~W12*CC*{qty}*{qty}**EA**VN*{sku}~W03*1*1*LB~");
    let segments = body.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*TALLYMAN       *261126*2200*U*00401*{control:09}*0*P*>~GS*SW*ACME3PL*TALLYMAN*20261126*2200*{control}*X*004010~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~\n"
    )
}

fn report_of(h: &Home, order: &str) -> String {
    let dir = sql(
        &h.root,
        &format!(
            "SELECT r.archive_path FROM runs r JOIN order_events e ON e.run_id = r.run_id
             WHERE e.order_id = '{order}' AND r.pipeline = 'shipments_x12'"
        ),
    );
    read(&h.root.join(dir).join("report.csv"))
}

/// A home with the shipped orders pipeline and the shipments pipeline with its `[erp]` opened
/// on `schema` (and `extra` appended), the schema file beside them; `check` passes.
fn with_erp_extract(schema: &str, extra: &str) -> Home {
    let pipeline = SHIPMENTS
        .replace("# [erp]", "[erp]")
        .replace("# folder = \"inbox/erp\"", "folder = \"inbox/erp\"")
        .replace(
            "# pattern = \"erp_order_status_{date}.csv\"",
            "pattern = \"erp_order_status_{date}.csv\"",
        )
        .replace(
            "# schema = \"erp_order_status.v1\"",
            &format!("schema = \"{schema}\"\n\n[business_date]\nfrom_name = '(?P<date>\\d{{4}}-\\d{{2}}-\\d{{2}})'\nformat = \"%Y-%m-%d\""),
        );
    assert!(pipeline.contains("\n[erp]\n") && pipeline.contains(&format!("schema = \"{schema}\"")));
    let pipeline = format!("{pipeline}{extra}");
    let h = home_with(&[("orders_csv", CSV.into()), ("shipments_x12", pipeline)]);
    std::fs::write(
        h.root.join(format!("schemas/{schema}.json")),
        read(&fixture(&format!("../../schemas/{schema}.json"))),
    )
    .expect("schema");
    let o = home::tallyman(&h.root, &["check"]);
    assert!(o.status.success(), "{}", home::both(&o));
    h
}

#[test]
fn a_per_line_extract_checks_each_shipped_line_against_its_erp_line() {
    let h = with_erp_extract("erp_open_order_lines.v1", "");
    let mut orders = csv_order(
        "PO-71",
        &[
            ("SKU-00000001", "2", "89.99"),
            ("SKU-00000003", "2", "24.50"),
        ],
        "",
    );
    let other = csv_order("PO-72", &[("SKU-00000001", "1", "89.99")], "");
    orders.push_str(other.lines().nth(1).expect("row"));
    orders.push('\n');
    drop_file(&h, "orders_csv", "orders.csv", orders.as_bytes());
    run(&h);
    std::fs::create_dir_all(h.root.join("inbox/erp")).expect("erp folder");
    std::fs::write(
        h.root.join("inbox/erp/erp_order_status_2026-11-26.csv"),
        "order_id,sku,status,open_quantity,updated_at\n\
         PO-71,SKU-00000001,open,1,\n\
         PO-71,SKU-00000003,cancelled,0,2026-11-25T17:00\n\
         PO-72,SKU-00000003,open,1,\n",
    )
    .expect("extract");
    for (n, (po, sku, q)) in [
        ("PO-71", "SKU-00000001", "2"),
        ("PO-71", "SKU-00000003", "1"),
        ("PO-72", "SKU-00000001", "1"),
    ]
    .into_iter()
    .enumerate()
    {
        drop_file(
            &h,
            "shipments_x12",
            &format!("945_{n}_2026-11-26.x12"),
            x945(810 + n as u32, po, sku, q).as_bytes(),
        );
    }
    let out = run(&h);
    for count in [
        "shipment_over_erp_open 1",
        "shipment_shipped_after_cancellation 1",
        "shipment_not_in_erp_order 1",
    ] {
        assert!(out.contains(count), "{count}: {out}");
    }
    let statuses = sql(
        &h.root,
        "SELECT order_id || ' ' || detail FROM order_events WHERE event IN ('shipped', 'partly_shipped') ORDER BY order_id",
    );
    for said in [
        "PO-71 SKU-00000001 over_erp_open",
        "PO-71 SKU-00000003 shipped_after_cancellation",
        "PO-72 SKU-00000001 not_in_erp_order",
    ] {
        assert!(statuses.contains(said), "{said}: {statuses}");
    }
    // Open in the ERP through an open line: no not-open warning in any shipment's report.
    let dirs = sql(
        &h.root,
        "SELECT archive_path FROM runs WHERE pipeline = 'shipments_x12'",
    );
    assert_eq!(dirs.lines().count(), 3, "{dirs}");
    for dir in dirs.lines() {
        let report = read(&h.root.join(dir).join("report.csv"));
        assert!(!report.contains("shipment-not-open-in-erp"), "{report}");
    }
}

#[test]
fn a_shipment_for_an_order_the_erp_cancelled_is_shipped_after_cancellation() {
    // A transform may read the ERP's status of each row (`check` runs it on no rows).
    let h = with_erp_extract(
        "erp_order_status.v1",
        "\n[[transforms]]\nname = \"cancelled\"\nsql = \"SELECT order_id, erp_status FROM shipment_check WHERE erp_status = 'cancelled'\"\n",
    );
    let mut orders = csv_order("PO-61", &[("SKU-00000001", "1", "89.99")], "");
    for po in ["PO-62", "PO-63"] {
        let one = csv_order(po, &[("SKU-00000003", "2", "24.50")], "");
        orders.push_str(one.lines().nth(1).expect("row"));
        orders.push('\n');
    }
    drop_file(&h, "orders_csv", "orders.csv", orders.as_bytes());
    run(&h);
    std::fs::create_dir_all(h.root.join("inbox/erp")).expect("erp folder");
    std::fs::write(
        h.root.join("inbox/erp/erp_order_status_2026-11-26.csv"),
        "order_id,status,updated_at\nPO-61,open,\nPO-62,cancelled,2026-11-25T17:00\n",
    )
    .expect("extract");
    for (n, (po, sku, q)) in [
        ("PO-61", "SKU-00000001", "1"),
        ("PO-62", "SKU-00000003", "2"),
        ("PO-63", "SKU-00000003", "2"),
    ]
    .into_iter()
    .enumerate()
    {
        drop_file(
            &h,
            "shipments_x12",
            &format!("945_{n}_2026-11-26.x12"),
            x945(800 + n as u32, po, sku, q).as_bytes(),
        );
    }
    let out = run(&h);
    assert!(
        out.contains("shipment_shipped_after_cancellation 1"),
        "{out}"
    );
    let checks = outbox(&h, "erp_shipments", "shipments_");
    assert_eq!(
        checks.len(),
        3,
        "a confirmation for each shipment: {checks:?}"
    );
    let open = report_of(&h, "PO-61");
    assert!(!open.contains("shipment-not-open-in-erp"), "{open}");
    let cancelled = report_of(&h, "PO-62");
    assert!(
        cancelled.contains("shipment-shipped_after_cancellation")
            && cancelled.contains("order PO-62 shipped but the ERP has it cancelled"),
        "{cancelled}"
    );
    let missing = report_of(&h, "PO-63");
    assert!(
        missing.contains("order PO-63 shipped but the ERP has it missing"),
        "{missing}"
    );
    // The ERP's confirmation says what shipped, and that it was after cancellation.
    let confirmations: String = checks.iter().map(|f| read(f)).collect();
    assert!(
        confirmations.contains("acme,PO-62,SKU-00000003,2,2,2,shipped_after_cancellation"),
        "{confirmations}"
    );
    // So does the order's timeline.
    let statuses = sql(
        &h.root,
        "SELECT order_id || ' ' || detail FROM order_events WHERE event = 'shipped' ORDER BY order_id",
    );
    assert!(
        statuses.contains("PO-62 SKU-00000003 shipped_after_cancellation 0+2 of 2"),
        "{statuses}"
    );
}

#[test]
fn check_names_an_erp_extract_that_is_no_order_status() {
    // The shipments pipeline with the settlement's ERP orders extract as its [erp].
    let pipeline = SHIPMENTS.replace(
        "[shipments]",
        "[erp]\nfolder = \"inbox/erp\"\npattern = \"erp_orders_{date}.csv\"\nschema = \"erp_orders.v1\"\n\n[shipments]",
    );
    let h = home_with(&[("shipments_x12", pipeline)]);
    let o = home::tallyman(&h.root, &["check"]);
    let out = home::both(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("erp.schema: a [shipments] pipeline's ERP extract is its order status (erp_order_status.v1, or erp_open_order_lines.v1 per line): its schema needs a field `status`"),
        "{out}"
    );
}
