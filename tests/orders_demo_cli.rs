//! The orders demo through the real binary (issue 18, point 9): `tallyman demo` drops one
//! order twice (an X12 850 and a CSV of the same channel) and its shipment (a 945); the outbox
//! holds one ERP order line, one 940, the 997 to the partner and one shipment confirmation,
//! and the order's timeline goes received, released, shipped.

#[path = "support/home.rs"]
mod home;

use home::{both, tallyman};

fn files(root: &std::path::Path, dest: &str, prefix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root.join("outbox").join(dest))
        .expect("outbox folder")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    out.sort();
    out
}

#[test]
fn the_demo_takes_its_order_once_and_ships_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let o = tallyman(root, &["demo"]);
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("outbox/erp_shipments/"), "{out}");
    let erp = files(root, "erp_orders", "orders_");
    assert_eq!(erp.len(), 1, "{erp:?}");
    let rows = std::fs::read_to_string(root.join("outbox/erp_orders").join(&erp[0])).expect("read");
    assert_eq!(
        rows.lines().count(),
        2,
        "a header and one order line: {rows}"
    );
    assert_eq!(files(root, "3pl", "940_").len(), 1);
    assert_eq!(files(root, "partner_acme", "997_").len(), 1);
    let shipped = files(root, "erp_shipments", "shipments_");
    assert_eq!(shipped.len(), 1, "{shipped:?}");
    let confirmation =
        std::fs::read_to_string(root.join("outbox/erp_shipments").join(&shipped[0])).expect("read");
    assert!(
        confirmation.contains("acme,PO-2026-0042,SKU-00000001,2,2,2,complete"),
        "{confirmation}"
    );
    let shown = both(&tallyman(root, &["orders", "show", "PO-2026-0042"]));
    let steps: Vec<&str> = shown
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(
        steps,
        ["new", "released", "duplicate", "shipped"],
        "{shown}"
    );
}
