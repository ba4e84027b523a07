//! Settled orders through the real binary (issue 18, point 5): a settlement pipeline with
//! `[settled_orders] channel = "acme"` moves acme's shipped or invoiced orders its lines name to
//! `settled`, with the settlement file, run and line in the order's timeline; an order paid
//! before it shipped keeps its state and gets the step; an order of no line is untouched. Then
//! returns matched to the refunds the settlement recorded: one order's whole life through six
//! files (CSV order, 940, 945, 810, settlement, RMA receipts).

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{both, tallyman};
use orders::*;

const STRIPE: &str = include_str!("../pipelines/settlement_stripe_itemized.toml");

/// A hand-made X12 945 shipping all of `sku` (`qty`) of `order`.
fn x945(control: u32, order: &str, sku: &str, qty: &str) -> String {
    let body = format!("ST*945*0001~W06*N*{order}*20261126*BOL-{control}~LX*1~W12*CC*{qty}*{qty}**EA**VN*{sku}~W03*1*1*LB~");
    let segments = body.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*TALLYMAN       *261126*2200*U*00401*{control:09}*0*P*>~GS*SW*ACME3PL*TALLYMAN*20261126*2200*{control}*X*004010~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~\n"
    )
}

/// A hand-made X12 810 billing `qty` of `sku` at `price` on order `po`.
fn x810(control: u32, invoice: &str, po: &str, sku: &str, qty: &str, price: &str) -> String {
    let body = format!(
        "ST*810*0001~BIG*20261127*{invoice}**{po}~IT1*1*{qty}*EA*{price}**VN*{sku}~TDS*5000~"
    );
    let segments = body.matches('~').count() + 1;
    format!(
        "ISA*00*          *00*          *ZZ*ACMESHOP       *ZZ*TALLYMAN       *261127*0900*U*00401*{control:09}*0*P*>~GS*IN*ACMESHOP*TALLYMAN*20261127*0900*{control}*X*004010~{body}SE*{segments}*0001~GE*1*{control}~IEA*1*{control:09}~\n"
    )
}

fn state_of(h: &home::Home, id: &str) -> String {
    let o = tallyman(&h.root, &["orders", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("orders JSON");
    rows.as_array()
        .expect("array")
        .iter()
        .find(|r| r["order_id"] == id)
        .map(|r| r["state"].as_str().expect("state").to_string())
        .unwrap_or_else(|| panic!("no order {id}: {rows}"))
}

/// acme's orders JP-1 (shipped), JP-2 and JP-3 (released), and the Stripe settlement paying
/// JP-1 and JP-2 and refunding part of JP-1, run; `extra`: more pipelines.
fn settled_home(extra: &[(&str, String)]) -> (home::Home, String) {
    let settlement = STRIPE.replace(
        "[group_reconcile]",
        "[settled_orders]\nchannel = \"acme\"\n\n[group_reconcile]",
    );
    assert_ne!(settlement, STRIPE, "the pipeline gained [settled_orders]");
    let mut pipelines = vec![
        ("orders_csv", CSV.to_string()),
        ("shipments_x12", SHIPMENTS.to_string()),
        ("invoices_x12", INVOICES.to_string()),
        ("settlement_stripe_itemized", settlement),
    ];
    pipelines.extend(extra.iter().cloned());
    let h = home_with(&pipelines);
    for name in [
        "settlement_lines.v1",
        "settlement_summary.v1",
        "erp_orders.v1",
        "rma_receipts.v1",
    ] {
        let text = read(&fixture(&format!("../../schemas/{name}.json")));
        std::fs::write(h.root.join(format!("schemas/{name}.json")), text).expect("schema");
    }
    let mut orders = csv_order("JP-1", &[("SKU-00000001", "1", "50.00")], "");
    for po in ["JP-2", "JP-3"] {
        let one = csv_order(po, &[("SKU-00000003", "1", "30.00")], "");
        orders.push_str(one.lines().nth(1).expect("row"));
        orders.push('\n');
    }
    drop_file(&h, "orders_csv", "orders.csv", orders.as_bytes());
    run(&h);
    drop_file(
        &h,
        "shipments_x12",
        "945_jp1.x12",
        x945(701, "JP-1", "SKU-00000001", "1").as_bytes(),
    );
    run(&h);
    assert_eq!(state_of(&h, "JP-1"), "shipped");
    drop_file(
        &h,
        "invoices_x12",
        "810_jp1.x12",
        x810(702, "INV-JP1", "JP-1", "SKU-00000001", "1", "50.00").as_bytes(),
    );
    run(&h);
    assert_eq!(state_of(&h, "JP-1"), "invoiced");
    std::fs::create_dir_all(h.root.join("inbox/erp")).expect("erp folder");
    std::fs::write(
        h.root.join("inbox/erp/erp_orders_stripe_2026-11-30.csv"),
        "order_id,expected_amount,currency,tax,shipping\nJP-1,5000,JPY,,\nJP-2,3000,JPY,,\n",
    )
    .expect("erp");
    drop_file(
        &h,
        "settlement_stripe_itemized",
        "payout_reconciliation_2026-11-30.csv",
        read(&fixture("settlement/stripe_itemized.csv")).as_bytes(),
    );
    let out = run(&h);
    (h, out)
}

#[test]
fn a_settlement_settles_the_orders_of_its_channel_that_shipped() {
    let (h, out) = settled_home(&[]);
    assert!(out.contains("orders_settled 2"), "{out}");
    assert_eq!(state_of(&h, "JP-1"), "settled");
    // Paid before it shipped: the step is kept, the order still waits for its shipment.
    assert_eq!(state_of(&h, "JP-2"), "released");
    assert_eq!(state_of(&h, "JP-3"), "released");
    let shown = both(&tallyman(&h.root, &["orders", "show", "JP-1"]));
    let step = shown
        .lines()
        .find(|l| l.contains(" settled "))
        .unwrap_or_else(|| panic!("no settled step: {shown}"));
    assert!(
        step.contains("settlement_stripe_itemized run")
            && step.contains("payout_reconciliation_2026-11-30.csv line 2")
            && step.contains("settlement po_1"),
        "{step}"
    );
    let shown = both(&tallyman(&h.root, &["orders", "show", "JP-2"]));
    assert!(shown.contains(" settled "), "{shown}");
    let shown = both(&tallyman(&h.root, &["orders", "show", "JP-3"]));
    assert!(!shown.contains(" settled "), "{shown}");
    // The pipeline with the section passes `check`.
    let o = tallyman(&h.root, &["check"]);
    assert!(o.status.success(), "{}", both(&o));
}

#[test]
fn returns_can_be_matched_to_the_refunds_settlements_recorded() {
    // The shipped returns pipeline, its refunds from the settlements instead of the ERP.
    let start = RETURNS
        .find("# The ERP's refunds")
        .expect("[erp] of returns_csv");
    let end = RETURNS.find("[returns]").expect("[returns]");
    let returns = format!(
        "{}{}",
        &RETURNS[..start],
        &RETURNS[end..].replace(
            "channel = \"acme\"",
            "channel = \"acme\"\nrefunds = \"settlement\""
        )
    );
    assert!(returns.contains("\nrefunds = \"settlement\"") && !returns.contains("\n[erp]"));
    let (h, out) = settled_home(&[("returns_csv", returns)]);
    assert!(out.contains("orders_refunded 1"), "{out}");
    let shown = both(&tallyman(&h.root, &["orders", "show", "JP-1"]));
    let step = shown
        .lines()
        .find(|l| l.contains(" refunded "))
        .unwrap_or_else(|| panic!("no refunded step: {shown}"));
    assert!(
        step.contains("payout_reconciliation_2026-11-30.csv line 4")
            && step.contains("refund -1000 JPY"),
        "{step}"
    );
    drop_file(
        &h,
        "returns_csv",
        "rma_receipts_2026-12-01.csv",
        b"rma_id,order_id,sku,quantity_received,condition,received_date\n\
          RMA-1,JP-1,SKU-00000001,1,sellable,2026-12-01\n\
          RMA-2,JP-2,SKU-00000003,1,damaged,2026-12-01\n",
    );
    let out = run(&h);
    assert!(
        out.contains("return_matched 1") && out.contains("return_received_not_refunded 1"),
        "{out}"
    );
    let files = outbox(&h, "returns", "return_check_");
    assert_eq!(files.len(), 1);
    let text = read(&files[0]);
    assert!(
        text.contains("acme,JP-1,SKU-00000001,RMA-1,sellable,1,po_1,0,-1000 JPY,matched,2,4"),
        "{text}"
    );
    assert!(
        text.contains("acme,JP-2,SKU-00000003,RMA-2,damaged,1,,0,,received_not_refunded,3,"),
        "{text}"
    );
    assert_eq!(state_of(&h, "JP-1"), "returned");
    // The whole life of JP-1, a step per file.
    let shown = both(&tallyman(&h.root, &["orders", "show", "JP-1"]));
    let steps: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        steps,
        ["new", "released", "shipped", "invoiced", "settled", "refunded", "returned"],
        "{shown}"
    );
}

const SHOPIFY_PAYMENTS: &str = include_str!("../pipelines/settlement_shopify_payments.toml");

#[test]
fn a_shopify_payout_settles_orders_by_their_number_without_its_hash() {
    let settlement = SHOPIFY_PAYMENTS.replace(
        "[group_reconcile]",
        "[settled_orders]\nchannel = \"acme\"\n\n[group_reconcile]",
    );
    let h = home_with(&[
        ("orders_csv", CSV.to_string()),
        ("settlement_shopify_payments", settlement),
    ]);
    for name in [
        "settlement_lines.v1",
        "settlement_summary.v1",
        "erp_orders.v1",
    ] {
        let text = read(&fixture(&format!("../../schemas/{name}.json")));
        std::fs::write(h.root.join(format!("schemas/{name}.json")), text).expect("schema");
    }
    let mut orders = csv_order("1001", &[("SKU-00000001", "1", "100.00")], "");
    orders.push_str(
        csv_order("1002", &[("SKU-00000003", "1", "50.00")], "")
            .lines()
            .nth(1)
            .expect("row"),
    );
    orders.push('\n');
    drop_file(&h, "orders_csv", "orders.csv", orders.as_bytes());
    run(&h);
    std::fs::create_dir_all(h.root.join("inbox/erp")).expect("erp folder");
    std::fs::write(
        h.root.join("inbox/erp/erp_orders_shopify_2026-11-30.csv"),
        "order_id,expected_amount,currency,tax,shipping\n1001,100.00,USD,,\n1002,50.00,USD,,\n",
    )
    .expect("erp");
    drop_file(
        &h,
        "settlement_shopify_payments",
        "payout_transactions_2026-11-30.csv",
        read(&fixture("settlement/shopify_payments.csv")).as_bytes(),
    );
    let out = run(&h);
    assert!(
        out.contains("orders_settled 2") && out.contains("orders_refunded 1"),
        "{out}"
    );
    let dir = home::sql(
        &h.root,
        "SELECT archive_path FROM runs WHERE pipeline = 'settlement_shopify_payments'",
    );
    let html = read(&h.root.join(dir).join("report.html"));
    assert!(
        html.contains("<h2>Settled orders (channel acme)</h2>\n<p>refunded 1, settled 2</p>"),
        "{html}"
    );
    let shown = both(&tallyman(&h.root, &["orders", "show", "1001"]));
    assert!(
        shown.contains(" settled ") && shown.contains("payout_transactions_2026-11-30.csv line 2"),
        "{shown}"
    );
}
