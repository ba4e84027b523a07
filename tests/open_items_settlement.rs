//! Open items of a settlement pipeline over five business dates, through the real binary: an
//! order awaiting settlement carried within its grace (business days), closed by the settlement
//! that pays it with the money in the report, reopened when the ERP expects it again, and an
//! exception once its grace ran out; the other breaks alert from the first day.

#[path = "support/home.rs"]
mod home;

use std::path::Path;

use home::{both, sql, tallyman, write_aged};

const PIPELINE: &str = "settlement_amazon_v2";

/// An Amazon V2 settlement (EU numbers) paying each order its principal; the total foots.
fn settlement(id: &str, paid: &[(&str, &str)]) -> String {
    let cents: i64 = paid
        .iter()
        .map(|(_, a)| a.replace(',', "").parse::<i64>().expect("amount"))
        .sum();
    let total = format!("{},{:02}", cents / 100, cents % 100);
    let mut s = "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased\n".to_string();
    s.push_str(&format!(
        "{id}\t16.11.2026\t30.11.2026\t02.12.2026\t{total}\tEUR{}\n",
        "\t".repeat(17)
    ));
    for (order, amount) in paid {
        s.push_str(&format!(
            "{id}\t\t\t\t\t\tOrder\t{order}\t\t\t\tAmazon.de\tItemPrice\tPrincipal\t{amount}\t\t\t\t\t\t\tSKU-1\t1\n"
        ));
    }
    s
}

/// One business date: the ERP's open orders and the settlement, then a run of the pipeline.
fn day(root: &Path, date: &str, erp: &[(&str, &str)], paid: &[(&str, &str)]) {
    let mut extract = "order_id,expected_amount,currency,tax,shipping\n".to_string();
    for (order, amount) in erp {
        extract.push_str(&format!("{order},{amount},EUR,0.00,0.00\n"));
    }
    write_aged(
        &root.join(format!("inbox/erp/erp_orders_amazon_{date}.csv")),
        &extract,
    );
    write_aged(
        &root.join(format!("inbox/{PIPELINE}/settlement_{date}.tsv")),
        settlement(&date.replace('-', ""), paid),
    );
    let o = tallyman(root, &["run", PIPELINE]);
    assert!(o.status.success(), "{}", both(&o));
}

fn note(root: &Path, date: &str) -> serde_json::Value {
    let runs = sql(
        root,
        &format!(
            "select archive_path from runs where pipeline = '{PIPELINE}' and business_date = '{date}'"
        ),
    );
    let path = root.join(runs.trim()).join("report.json");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("report.json")).expect("json");
    report["open_items"].clone()
}

fn counts(n: &serde_json::Value) -> [u64; 6] {
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

fn item(root: &Path, order: &str) -> String {
    sql(
        root,
        &format!(
            "select state, open_since, amount from open_items
             where pipeline = '{PIPELINE}' and item_key = 'order_ref={order}'
               and kind = 'awaiting_settlement'"
        ),
    )
}

#[test]
fn an_order_awaiting_settlement_is_carried_closed_reopened_and_alerts_after_its_grace() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let o = tallyman(root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", both(&o));
    let path = root.join(format!("pipelines/{PIPELINE}.toml"));
    let toml = std::fs::read_to_string(&path).expect("pipeline");
    let toml = match toml.find("\n[open_items]") {
        // The shipped grace, narrowed for five days of test.
        Some(at) => toml[..at].to_string(),
        None => toml,
    };
    std::fs::write(
        &path,
        toml + "\n[open_items]\ngrace = { awaiting_settlement = \"2bd\" }\n",
    )
    .expect("pipeline");

    // Wednesday 25th, the demo's settlement: 302-0000005 awaits (carried); short_paid,
    // refunded, unknown_order and no_order alert at once.
    let o = tallyman(root, &["run", PIPELINE]);
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(counts(&note(root, "2026-11-25")), [5, 0, 0, 0, 1, 4]);
    // Thursday: 302-0000005 paid (closes it, its money said), 302-0000006 now awaits.
    day(
        root,
        "2026-11-26",
        &[("302-0000005", "45.00"), ("302-0000006", "30.00")],
        &[("302-0000005", "45,00")],
    );
    let n = note(root, "2026-11-26");
    assert_eq!(counts(&n), [1, 0, 0, 1, 1, 4], "{n}");
    assert_eq!(n["closed_amounts"][0]["currency"], "EUR", "{n}");
    assert_eq!(n["closed_amounts"][0]["amount"], "-45.00", "{n}");
    assert_eq!(item(root, "302-0000005"), "resolved|2026-11-25|-45.00");
    // Friday: the ERP expects 302-0000005 again: reopened, carried again from today.
    day(
        root,
        "2026-11-27",
        &[
            ("302-0000005", "45.00"),
            ("302-0000006", "30.00"),
            ("302-0000007", "10.00"),
        ],
        &[("302-0000007", "10,00")],
    );
    let n = note(root, "2026-11-27");
    assert_eq!(counts(&n), [0, 1, 1, 0, 2, 4], "{n}");
    assert_eq!(item(root, "302-0000005"), "open|2026-11-27|-45.00");
    // Monday 30th: 302-0000006 has waited two business days (Friday, Monday): still carried.
    day(
        root,
        "2026-11-30",
        &[("302-0000006", "30.00"), ("302-0000008", "8.00")],
        &[("302-0000008", "8,00")],
    );
    assert_eq!(counts(&note(root, "2026-11-30")), [0, 0, 1, 0, 2, 4]);
    // Tuesday: its grace has run out: an exception.
    day(
        root,
        "2026-12-01",
        &[("302-0000006", "30.00"), ("302-0000009", "9.00")],
        &[("302-0000009", "9,00")],
    );
    let n = note(root, "2026-12-01");
    assert_eq!(counts(&n), [0, 0, 1, 0, 1, 5], "{n}");
    assert_eq!(item(root, "302-0000006"), "open|2026-11-26|-30.00");
    // `tallyman breaks` lists it among the open items, with its age.
    let o = tallyman(root, &["breaks", "--pipeline", PIPELINE, "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let keys: Vec<&str> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["key"].as_str().expect("key"))
        .collect();
    assert!(keys.contains(&"order_ref=302-0000006"), "{rows}");
}
