//! Stuck orders through the real binary (issue 18, point 5): `[orders] stuck` allowances per
//! state, counted from the step that put the order there; `tallyman orders --stuck` lists the
//! orders over them and each intake run's report lists them as exceptions; `check` names bad
//! allowances.

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{both, sql, tallyman};
use orders::*;

fn with_stuck(allowances: &str) -> String {
    let text = CSV.replace(
        "amendments = \"flag\"",
        &format!("amendments = \"flag\"\nstuck = {allowances}"),
    );
    assert_ne!(text, CSV, "the pipeline gained `stuck`");
    text
}

#[test]
fn orders_over_their_allowance_are_listed_and_are_exceptions_of_the_next_run() {
    let h = home_with(&[(
        "orders_csv",
        with_stuck(r#"{ released = "2d", shipped = "5d" }"#),
    )]);
    let mut orders = csv_order("PO-51", &[("SKU-00000001", "1", "89.99")], "");
    orders.push_str(
        csv_order("PO-52", &[("SKU-00000003", "1", "24.50")], "")
            .lines()
            .nth(1)
            .expect("row"),
    );
    orders.push('\n');
    drop_file(&h, "orders_csv", "a.csv", orders.as_bytes());
    let out = run(&h);
    assert!(out.contains("orders_stuck 0"), "{out}");
    let o = tallyman(&h.root, &["orders", "--stuck"]);
    assert_eq!(both(&o).trim(), "no stuck orders");
    // PO-51 was released three days ago (its steps' times moved back), PO-52 just now.
    let three_days_ago = (chrono::Utc::now() - chrono::Duration::hours(73)).to_rfc3339();
    sql(
        &h.root,
        &format!("UPDATE order_events SET at = '{three_days_ago}' WHERE order_id = 'PO-51'"),
    );
    let o = tallyman(&h.root, &["orders", "--stuck", "--json"]);
    assert!(o.status.success(), "{}", both(&o));
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let rows = rows.as_array().expect("array");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["order_id"], "PO-51");
    assert_eq!(rows[0]["state"], "released");
    assert_eq!(rows[0]["hours"], 73);
    assert_eq!(rows[0]["allowed_hours"], 48);
    // The next intake run of the channel lists it in its report.
    drop_file(
        &h,
        "orders_csv",
        "b.csv",
        csv_order("PO-53", &[("SKU-00000001", "1", "89.99")], "").as_bytes(),
    );
    let out = run(&h);
    assert!(out.contains("orders_stuck 1"), "{out}");
    let dir = sql(
        &h.root,
        "SELECT archive_path FROM runs ORDER BY run_id DESC LIMIT 1",
    );
    let report = read(&h.root.join(dir).join("report.csv"));
    let stuck: Vec<&str> = report
        .lines()
        .filter(|l| l.contains("order-stuck"))
        .collect();
    assert_eq!(stuck.len(), 1, "{report}");
    assert!(
        stuck[0].contains("order PO-51 is released since") && stuck[0].contains("48 h allowed"),
        "{}",
        stuck[0]
    );
}

#[test]
fn check_names_a_state_no_order_leaves_and_an_allowance_it_cannot_read() {
    let h = home_with(&[(
        "orders_csv",
        with_stuck(r#"{ rejected = "2d", released = "2w" }"#),
    )]);
    let o = tallyman(&h.root, &["check"]);
    let out = both(&o);
    assert!(!o.status.success(), "{out}");
    assert!(
        out.contains("orders.stuck.rejected") && out.contains("is not a state an order leaves"),
        "{out}"
    );
    assert!(
        out.contains("orders.stuck.released") && out.contains("`2w`: write whole days or hours"),
        "{out}"
    );
}
