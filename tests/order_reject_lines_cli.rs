//! The reject file's line numbers are the file's physical lines (header line 1), also when
//! validation set rows aside before the order step (issue 18, point 3).

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use orders::*;

#[test]
fn a_rejected_line_after_a_row_set_aside_names_its_own_line() {
    let pipeline = CSV.replace(
        "schema = \"orders_plain.v1\"",
        "schema = \"orders_plain.v1\"\non_error = \"set_rows_aside\"",
    );
    assert_ne!(pipeline, CSV);
    let h = home_with(&[("orders_csv", pipeline)]);
    let text = format!(
        "{HEADER}\
         PO-1,2026-11-25,USD,Jo,1 Road,Town,ME,04101,US,1,SKU-00000001,1,EA,89.99,good\n\
         PO-9,2026-11-25,USD,Jo,1 Road,Town,ME,04101,US,1,SKU-00000001,1,EA,89.99,one,field,too many\n\
         PO-2,2026-11-25,USD,Al,2 Road,Town,ME,04101,US,1,SKU-99999999,1,EA,5.00,unknown sku\n\
         PO-3,2026-11-25,USD,Bo,3 Road,Town,ME,04101,US,1,SKU-00000004,1,EA,,no price\n"
    );
    drop_file(&h, "orders_csv", "orders.csv", text.as_bytes());
    let out = run(&h);
    assert!(
        out.contains("orders_new 1") && out.contains("orders_rejected 2"),
        "{out}"
    );
    let rejects = outbox(&h, "partner_acme", "order_rejects_");
    assert_eq!(rejects.len(), 1);
    assert_eq!(
        read(&rejects[0]),
        "channel,order_id,line,line_number,sku,field,value,reason\n\
         acme,PO-2,4,1,SKU-99999999,sku,SKU-99999999,unknown SKU: not in the item master\n\
         acme,PO-3,5,1,SKU-00000004,unit_price,,price missing\n"
    );
    let shown = home::both(&home::tallyman(&h.root, &["orders", "show", "PO-1"]));
    assert!(shown.contains("orders.csv line 2"), "{shown}");
}
