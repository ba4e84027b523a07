//! Open items of a shipments pipeline (3PL 945s against the ERP's open orders) over four
//! business dates, through the real binary: a short shipment alerts, is resolved when the rest
//! ships and reopens when a later shipment is short again; an order not shipped yet is carried
//! for one business day, then an exception, and closed once it ships.

#[path = "support/home.rs"]
mod home;
#[path = "support/ship945.rs"]
mod ship945;

use std::path::Path;

use home::{both, sql, tallyman, write_aged};
use ship945::{x945, Order, OPEN_ORDERS_SCHEMA, PIPELINE_945, SHIPMENT_SCHEMA};

const ID: &str = "ship945";

/// One business date: the ERP's open order lines and the 3PL's 945, then a run.
fn day(root: &Path, date: &str, control: u32, open: &[(&str, &str, u32)], shipped: &[Order]) {
    let mut extract = "order_number,sku,qty_open\n".to_string();
    for (order, sku, qty) in open {
        extract.push_str(&format!("{order},{sku},{qty}\n"));
    }
    write_aged(
        &root.join(format!("inbox/erp/erp_open_orders_{date}.csv")),
        &extract,
    );
    let yymmdd = date[2..].replace('-', "");
    write_aged(
        &root.join(format!("inbox/{ID}/945_acme_{date}.x12")),
        x945(control, &yymmdd, shipped),
    );
    let o = tallyman(root, &["run", ID]);
    assert!(
        o.status.success() && both(&o).contains("succeeded"),
        "{}",
        both(&o)
    );
}

fn counts(root: &Path, date: &str) -> [u64; 6] {
    let dir = sql(
        root,
        &format!(
            "select archive_path from runs where pipeline = '{ID}' and business_date = '{date}'"
        ),
    );
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(root.join(dir.trim()).join("report.json")).expect("report.json"),
    )
    .expect("json");
    let n = &report["open_items"];
    [
        "new",
        "reopened",
        "still_open",
        "closed",
        "carried",
        "exceptions",
    ]
    .map(|k| n[k].as_u64().unwrap_or_else(|| panic!("{k} in {n}")))
}

#[test]
fn shipments_open_carry_alert_close_and_reopen_over_four_days() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    assert!(tallyman(root, &["demo", "--no-run"]).status.success());
    std::fs::create_dir_all(root.join("inbox").join(ID)).expect("inbox");
    std::fs::write(
        root.join(format!("pipelines/{ID}.toml")),
        format!("{PIPELINE_945}\n[open_items]\ngrace = {{ only_in_erp = \"1bd\" }}\n"),
    )
    .expect("pipeline");
    for (name, text) in [
        ("shipment_lines.v1", SHIPMENT_SCHEMA),
        ("erp_open_orders.v1", OPEN_ORDERS_SCHEMA),
    ] {
        std::fs::write(root.join(format!("schemas/{name}.json")), text).expect("schema");
    }

    // Wednesday: SO-1001/SKU-2 ships 3 of 5 (an exception); SO-1003 not shipped yet (carried).
    day(
        root,
        "2026-11-25",
        905,
        &[
            ("SO-1001", "SKU-1", 10),
            ("SO-1001", "SKU-2", 5),
            ("SO-1002", "SKU-3", 4),
            ("SO-1003", "SKU-4", 7),
        ],
        &[
            ("SO-1001", &[("SKU-1", 10, 10), ("SKU-2", 5, 3)]),
            ("SO-1002", &[("SKU-3", 4, 4)]),
        ],
    );
    assert_eq!(counts(root, "2026-11-25"), [2, 0, 0, 0, 1, 1]);
    // Thursday: the rest of SKU-2 ships (resolved); SO-1004 is new and waits (carried), SO-1003
    // has waited one business day (still carried).
    day(
        root,
        "2026-11-26",
        906,
        &[
            ("SO-1001", "SKU-2", 2),
            ("SO-1003", "SKU-4", 7),
            ("SO-1004", "SKU-5", 1),
        ],
        &[("SO-1001", &[("SKU-2", 2, 2)])],
    );
    assert_eq!(counts(root, "2026-11-26"), [1, 0, 1, 1, 2, 0]);
    // Friday: SO-1004 ships (resolved); SO-1003's grace has run out (an exception).
    day(
        root,
        "2026-11-27",
        907,
        &[("SO-1003", "SKU-4", 7), ("SO-1004", "SKU-5", 1)],
        &[("SO-1004", &[("SKU-5", 1, 1)])],
    );
    assert_eq!(counts(root, "2026-11-27"), [0, 0, 1, 1, 0, 1]);
    // Monday: SO-1003 ships (resolved); the ERP reopened SKU-2 and the 3PL ships 1 of 2: the
    // short shipment reopens with its history.
    day(
        root,
        "2026-11-30",
        908,
        &[("SO-1001", "SKU-2", 2), ("SO-1003", "SKU-4", 7)],
        &[
            ("SO-1001", &[("SKU-2", 2, 1)]),
            ("SO-1003", &[("SKU-4", 7, 7)]),
        ],
    );
    assert_eq!(counts(root, "2026-11-30"), [0, 1, 0, 1, 0, 1]);
    assert_eq!(
        sql(
            root,
            &format!(
                "select item_key, kind, state, first_seen, open_since, amount from open_items
                 where pipeline = '{ID}' order by item_key, kind"
            )
        ),
        [
            "order_number=SO-1001, sku=SKU-2|mismatched|open|2026-11-25|2026-11-30|-1",
            "order_number=SO-1003, sku=SKU-4|only_in_erp|resolved|2026-11-25|2026-11-25|-7",
            "order_number=SO-1004, sku=SKU-5|only_in_erp|resolved|2026-11-26|2026-11-26|-1",
        ]
        .join("\n")
    );
    let id = sql(
        root,
        &format!("select id from open_items where pipeline = '{ID}' and kind = 'mismatched'"),
    );
    let o = tallyman(root, &["breaks", "show", id.trim()]);
    let story = both(&o);
    for what in ["opened", "resolved", "reopened"] {
        assert!(story.contains(what), "{what}: {story}");
    }
}
