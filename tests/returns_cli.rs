//! Returns against refunds through the real binary (issue 18, point 7): the shipped returns
//! pipeline (pipelines/returns_csv.toml) reads the 3PL's RMA receipts and the ERP's refunds
//! extract of the same date; each (order, SKU) is matched, refunded but not received,
//! received but not refunded, of another quantity, or of an order never taken; orders that
//! came back become `returned` with the file, run and line in their timeline.

#[path = "support/home.rs"]
mod home;
#[path = "support/orders.rs"]
mod orders;

use home::{both, sql, tallyman, Home};
use orders::*;

fn returns_home() -> Home {
    let h = home_with(&[("orders_csv", CSV.into()), ("returns_csv", RETURNS.into())]);
    for name in ["rma_receipts.v1", "erp_refunds.v1"] {
        let text = read(&fixture(&format!("../../schemas/{name}.json")));
        std::fs::write(h.root.join(format!("schemas/{name}.json")), text).expect("schema");
    }
    std::fs::create_dir_all(h.root.join("inbox/erp")).expect("erp folder");
    let mut orders = String::new();
    for (po, sku, q) in [
        ("PO-21", "SKU-00000001", "2"),
        ("PO-22", "SKU-00000003", "1"),
        ("PO-23", "SKU-00000001", "1"),
        ("PO-24", "SKU-00000003", "1"),
        // Rejected (a SKU not in the item master): never taken.
        ("PO-25", "SKU-99999999", "1"),
    ] {
        let one = csv_order(po, &[(sku, q, "10.00")], "");
        if orders.is_empty() {
            orders.push_str(&one);
        } else {
            orders.push_str(one.lines().nth(1).expect("row"));
            orders.push('\n');
        }
    }
    drop_file(&h, "orders_csv", "orders.csv", orders.as_bytes());
    run(&h);
    h
}

fn statuses(h: &Home) -> Vec<String> {
    let files = outbox(h, "returns", "return_check_");
    assert_eq!(files.len(), 1, "{files:?}");
    let text = read(&files[0]);
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (o, s, st, line) = (col("order_id"), col("sku"), col("status"), col("line"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            format!("{} {} {} {}", f[o], f[s], f[st], f[line])
        })
        .collect()
}

#[test]
fn receipts_are_matched_to_refunds_and_returned_orders_say_so() {
    let h = returns_home();
    std::fs::write(
        h.root.join("inbox/erp/erp_refunds_2026-11-27.csv"),
        "refund_id,order_id,sku,quantity_refunded,amount,currency,refunded_date\n\
         CM-1,PO-21,SKU-00000001,2,20.00,USD,2026-11-27\n\
         CM-2,PO-22,SKU-00000003,1,10.00,USD,2026-11-27\n\
         CM-3,PO-23,SKU-00000001,2,20.00,USD,2026-11-27\n",
    )
    .expect("refunds");
    drop_file(
        &h,
        "returns_csv",
        "rma_receipts_2026-11-27.csv",
        b"rma_id,order_id,sku,quantity_received,condition,received_date\n\
          RMA-1,PO-21,SKU-00000001,1,sellable,2026-11-26\n\
          RMA-1,PO-21,SKU-00000001,1,damaged,2026-11-26\n\
          RMA-2,PO-23,SKU-00000001,1,sellable,2026-11-26\n\
          RMA-3,PO-24,SKU-00000003,1,defective,2026-11-27\n\
          RMA-4,PO-99,SKU-00000001,1,sellable,2026-11-27\n\
          RMA-5,PO-25,SKU-00000001,1,sellable,2026-11-27\n",
    );
    let out = run(&h);
    assert!(out.contains("return_matched 1"), "{out}");
    assert_eq!(
        statuses(&h),
        [
            "PO-21 SKU-00000001 matched 2",
            "PO-22 SKU-00000003 refunded_not_received ",
            "PO-23 SKU-00000001 quantity_differs 4",
            "PO-24 SKU-00000003 received_not_refunded 5",
            "PO-25 SKU-00000001 unknown_order 7",
            "PO-99 SKU-00000001 unknown_order 6",
        ]
    );
    // The report lists every (order, SKU) not matched, at the receipt's line.
    let dir = sql(
        &h.root,
        "SELECT archive_path FROM runs WHERE pipeline = 'returns_csv'",
    );
    let report = read(&h.root.join(&dir).join("report.csv"));
    for rule in [
        "return-refunded_not_received",
        "return-quantity_differs",
        "return-received_not_refunded",
        "return-unknown_order",
    ] {
        assert!(report.contains(rule), "{rule}: {report}");
    }
    assert!(!report.contains("return-matched"), "{report}");
    let html = read(&h.root.join(&dir).join("report.html"));
    assert!(
        html.contains("<h2>Returns (channel acme)</h2>")
            && html.contains("matched 1, quantity differs 1, received not refunded 1, refunded not received 1, unknown order 2"),
        "{html}"
    );
    // Orders that came back are `returned`; the one only refunded is not.
    let o = tallyman(&h.root, &["orders", "--state", "returned", "--json"]);
    let listed = both(&o);
    assert!(o.status.success(), "{listed}");
    for po in ["PO-21", "PO-23", "PO-24"] {
        assert!(listed.contains(&format!("\"{po}\"")), "{po}: {listed}");
    }
    assert!(
        !listed.contains("PO-22") && !listed.contains("PO-99"),
        "{listed}"
    );
    let shown = both(&tallyman(&h.root, &["orders", "show", "PO-21"]));
    let step = shown
        .lines()
        .find(|l| l.contains(" returned "))
        .unwrap_or_else(|| panic!("no returned step: {shown}"));
    assert!(
        step.contains("returns_csv run")
            && step.contains("rma_receipts_2026-11-27.csv line 2")
            && step.contains(
                "SKU-00000001 matched received 2 (RMA RMA-1 sellable/damaged), refunded 2"
            ),
        "{step}"
    );
    // A rerun of the day matches again and records no second return.
    let returned = "SELECT count(*) FROM order_events WHERE event = 'returned'";
    assert_eq!(sql(&h.root, returned), "3");
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "returns_csv",
            "--date",
            "2026-11-27",
            "--reason",
            "test",
        ],
    );
    assert!(o.status.success(), "{}", both(&o));
    assert_eq!(sql(&h.root, returned), "3");
    assert_eq!(
        sql(
            &h.root,
            "SELECT count(*) FROM runs WHERE pipeline = 'returns_csv'"
        ),
        "2"
    );
}

#[test]
fn a_refunds_extract_without_its_columns_fails_the_run_and_returns_nothing() {
    let h = returns_home();
    std::fs::write(
        h.root.join("inbox/erp/erp_refunds_2026-11-27.csv"),
        "refund_id,order_id,quantity_refunded\nCM-1,PO-21,2\n",
    )
    .expect("refunds");
    drop_file(
        &h,
        "returns_csv",
        "rma_receipts_2026-11-27.csv",
        b"rma_id,order_id,sku,quantity_received,condition,received_date\n\
          RMA-1,PO-21,SKU-00000001,2,sellable,2026-11-26\n",
    );
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    let out = both(&o);
    let state = sql(
        &h.root,
        "SELECT state || ' ' || coalesce(reason, '') FROM runs WHERE pipeline = 'returns_csv'",
    );
    // An unusable extract fails the run (the file stays claimed for the next pass).
    assert!(state.starts_with("failed"), "{state}\n{out}");
    assert!(
        out.contains("the ERP extract is unusable") && out.contains("the schema expects `sku`"),
        "{out}"
    );
    let listed = both(&tallyman(&h.root, &["orders", "--state", "returned"]));
    assert!(listed.contains("no orders"), "{listed}");
}

#[test]
fn check_names_where_refunds_come_from_when_it_cannot_be() {
    let no_erp = {
        let start = RETURNS.find("# The ERP's refunds").expect("[erp]");
        let end = RETURNS.find("[returns]").expect("[returns]");
        format!("{}{}", &RETURNS[..start], &RETURNS[end..])
    };
    let cases = [
        (
            no_erp.clone(),
            "needs the ERP's refunds extract as its [erp]",
        ),
        (
            RETURNS.replace(
                "channel = \"acme\"",
                "channel = \"acme\"\nrefunds = \"settlement\"",
            ),
            "\"settlement\" reads the refunds settlements recorded",
        ),
        (
            no_erp.replace(
                "channel = \"acme\"",
                "channel = \"acme\"\nrefunds = \"paypal\"",
            ),
            "`paypal`: use \"erp\" or \"settlement\"",
        ),
    ];
    for (pipeline, why) in cases {
        let h = home_with(&[("returns_csv", pipeline)]);
        for name in ["rma_receipts.v1", "erp_refunds.v1"] {
            let text = read(&fixture(&format!("../../schemas/{name}.json")));
            std::fs::write(h.root.join(format!("schemas/{name}.json")), text).expect("schema");
        }
        let o = tallyman(&h.root, &["check"]);
        let out = both(&o);
        assert!(!o.status.success() && out.contains(why), "{why}: {out}");
    }
}

/// A returns run crashed at `point` and recovered by the next pass: one `return_check`, each
/// returned order recorded once.
fn returns_crash_then_recover(point: &str) {
    let h = returns_home();
    std::fs::write(
        h.root.join("inbox/erp/erp_refunds_2026-11-27.csv"),
        "refund_id,order_id,sku,quantity_refunded,amount,currency,refunded_date\n\
         CM-1,PO-21,SKU-00000001,2,20.00,USD,2026-11-27\n",
    )
    .expect("refunds");
    drop_file(
        &h,
        "returns_csv",
        "rma_receipts_2026-11-27.csv",
        b"rma_id,order_id,sku,quantity_received,condition,received_date\n\
          RMA-1,PO-21,SKU-00000001,2,sellable,2026-11-26\n\
          RMA-3,PO-24,SKU-00000003,1,defective,2026-11-27\n",
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
    run(&h);
    assert_eq!(
        statuses(&h),
        [
            "PO-21 SKU-00000001 matched 2",
            "PO-24 SKU-00000003 received_not_refunded 3"
        ],
        "{point}"
    );
    assert_eq!(
        sql(
            &h.root,
            "SELECT order_id FROM order_events WHERE event = 'returned' ORDER BY order_id"
        ),
        "PO-21\nPO-24",
        "{point}"
    );
}

#[test]
fn a_returns_run_crashed_before_its_record_is_redone_once() {
    returns_crash_then_recover("output-staged");
}

#[test]
fn a_returns_run_crashed_after_its_record_is_published_once() {
    returns_crash_then_recover("run-recorded");
}
