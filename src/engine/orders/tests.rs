//! Orders with known answers: the same order read from an X12-shaped and a Shopify-shaped
//! table hashes the same; duplicates, amendments (flagged, accepted) and bad lines.

use std::collections::{HashMap, HashSet};

use polars::prelude::*;

use super::*;

fn df(cols: &[(&str, &[&str])]) -> DataFrame {
    let h = cols[0].1.len();
    DataFrame::new(
        h,
        cols.iter()
            .map(|(n, v)| Column::new((*n).into(), v.to_vec()))
            .collect(),
    )
    .unwrap()
}

fn policy(amendments: Amendments) -> Policy {
    Policy {
        channel: "acme".into(),
        layout: Layout::PlainCsv,
        items: None,
        amendments,
        atp: None,
        stuck: Default::default(),
    }
}

#[test]
fn stuck_allowances_are_days_or_hours() {
    assert_eq!(super::allowance_secs("2d"), Some(172_800));
    assert_eq!(super::allowance_secs("36h"), Some(129_600));
    for bad in ["", "d", "2", "2w", "-1d", "1.5d"] {
        assert_eq!(super::allowance_secs(bad), None, "{bad}");
    }
}

fn x12_lines() -> DataFrame {
    df(&[
        ("po_number", &["1001", "1001"]),
        ("line_number", &["1", "2"]),
        ("sku", &["SKU-1", "SKU-2"]),
        ("quantity", &["2", "1"]),
        ("unit", &["EA", "EA"]),
        ("unit_price", &["19.95", "5.00"]),
    ])
}

fn shopify_lines() -> DataFrame {
    df(&[
        ("Name", &["#1001", "#1001"]),
        ("Currency", &["USD", ""]),
        ("Lineitem sku", &["SKU-2", "SKU-1"]),
        ("Lineitem quantity", &["1", "2.0"]),
        ("Lineitem price", &["5", "19.950"]),
        ("Shipping Name", &["Jo Doe", ""]),
    ])
}

fn known(hashes: &[&str]) -> HashMap<String, Known> {
    let mut k = Known::default();
    for h in hashes {
        k.apply("new", h, 1);
    }
    HashMap::from([("1001".to_string(), k)])
}

#[test]
fn the_same_order_in_two_layouts_is_one_content() {
    let a = read_orders(Layout::X12_850, &x12_lines(), None).unwrap();
    let b = read_orders(Layout::ShopifyCsv, &shopify_lines(), None).unwrap();
    assert_eq!(a.orders.len(), 1);
    assert_eq!(b.orders[0].id, "1001");
    assert_eq!(b.orders[0].currency, "USD");
    assert_eq!(b.orders[0].ship_to.name, "Jo Doe");
    assert_eq!(b.orders[0].lines[1].line, 3, "the file's line");
    assert_eq!(b.orders[0].lines[1].line_number, "2", "the position");
    assert_eq!(content_hash(&a.orders[0]), content_hash(&b.orders[0]));
}

#[test]
fn new_then_duplicate_then_amendment() {
    let p = policy(Amendments::Flag);
    let first = intake(
        &p,
        read_orders(Layout::X12_850, &x12_lines(), None).unwrap(),
        &HashMap::new(),
        None,
    );
    assert_eq!(first.taken[0].verdict, Verdict::New);
    assert_eq!(first.taken[0].version, 1);
    let hash = first.taken[0].hash.clone();
    let again = intake(
        &p,
        read_orders(Layout::ShopifyCsv, &shopify_lines(), None).unwrap(),
        &known(&[&hash]),
        None,
    );
    assert_eq!(again.taken[0].verdict, Verdict::Duplicate);
    let t = tables(&again).unwrap();
    assert_eq!(t["erp_orders"].height(), 0);
    assert_eq!(t["shipping_orders"].height(), 0);
    assert_eq!(t["orders"].height(), 1);

    let changed = df(&[
        ("po_number", &["1001"]),
        ("sku", &["SKU-1"]),
        ("quantity", &["3"]),
        ("unit_price", &["19.95"]),
    ]);
    let flagged = intake(
        &p,
        read_orders(Layout::X12_850, &changed, None).unwrap(),
        &known(&[&hash]),
        None,
    );
    assert_eq!(flagged.taken[0].verdict, Verdict::Amendment);
    assert_eq!(tables(&flagged).unwrap()["erp_orders"].height(), 0);
    let accepted = intake(
        &policy(Amendments::Accept),
        read_orders(Layout::X12_850, &changed, None).unwrap(),
        &known(&[&hash]),
        None,
    );
    assert_eq!(accepted.taken[0].verdict, Verdict::Amended);
    assert_eq!(accepted.taken[0].version, 2);
    // A flagged amendment sent again: a duplicate while flagged, sent once accepted.
    let mut after = known(&[&hash]);
    let k = after.get_mut("1001").unwrap();
    k.apply("amendment", &flagged.taken[0].hash, 2);
    let again = |a| {
        intake(
            &policy(a),
            read_orders(Layout::X12_850, &changed, None).unwrap(),
            &after,
            None,
        )
    };
    assert_eq!(again(Amendments::Flag).taken[0].verdict, Verdict::Duplicate);
    assert_eq!(again(Amendments::Accept).taken[0].verdict, Verdict::Amended);
    let t = tables(&accepted).unwrap();
    assert_eq!(
        t["erp_orders"]
            .column("change")
            .unwrap()
            .str()
            .unwrap()
            .get(0),
        Some("change")
    );
    assert_eq!(
        t["shipping_orders"].height(),
        0,
        "the 3PL has the order already"
    );
}

#[test]
fn an_order_twice_in_one_file_is_sent_once() {
    let lines = df(&[
        ("order_id", &["7", "7", "7"]),
        ("line_number", &["1", "1", "1"]),
        ("sku", &["A", "A", "A"]),
        ("quantity", &["1", "1", "1"]),
        ("unit_price", &["1", "1", "1"]),
    ]);
    // Line 1 three times: the order three times, sent once.
    let r = intake(
        &policy(Amendments::Flag),
        read_orders(Layout::PlainCsv, &lines, None).unwrap(),
        &HashMap::new(),
        None,
    );
    let verdicts: Vec<Verdict> = r.taken.iter().map(|t| t.verdict).collect();
    assert_eq!(
        verdicts,
        [Verdict::New, Verdict::Duplicate, Verdict::Duplicate]
    );
    assert_eq!(tables(&r).unwrap()["erp_orders"].height(), 1);
    // Two 850 sets of one interchange with the same PO: two copies of the order.
    let sets = df(&[
        ("interchange_control", &["1", "1", "1"]),
        ("group_control", &["1", "1", "1"]),
        ("set_control", &["0001", "0001", "0002"]),
        ("po_number", &["9", "9", "9"]),
        ("line_number", &["1", "2", "1"]),
        ("sku", &["A", "B", "A"]),
        ("quantity", &["1", "1", "1"]),
        ("unit_price", &["1", "1", "1"]),
    ]);
    let r = intake(
        &policy(Amendments::Flag),
        read_orders(Layout::X12_850, &sets, None).unwrap(),
        &HashMap::new(),
        None,
    );
    let verdicts: Vec<(usize, Verdict)> = r
        .taken
        .iter()
        .map(|t| (t.order.lines.len(), t.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [(2, Verdict::New), (1, Verdict::Amendment)],
        "the second set has other lines"
    );
}

#[test]
fn bad_lines_reject_their_order_with_reasons() {
    let lines = df(&[
        ("order_id", &["8", "8", "8", "9", ""]),
        ("sku", &["A", "NOPE", "A", "A", "A"]),
        ("quantity", &["1", "1", "0", "x", "1"]),
        ("unit_price", &["1.00", "2", "", "1", "1"]),
    ]);
    let items: HashSet<String> = ["A".to_string()].into();
    let r = intake(
        &policy(Amendments::Flag),
        read_orders(Layout::PlainCsv, &lines, None).unwrap(),
        &HashMap::new(),
        Some(&items),
    );
    let got: Vec<(String, u64, &str, String)> = r
        .rejects
        .iter()
        .map(|x| (x.order_id.clone(), x.line, x.field, x.reason.clone()))
        .collect();
    assert_eq!(
        got,
        [
            ("".into(), 6, "order_id", "the line names no order".into()),
            (
                "8".into(),
                3,
                "sku",
                "unknown SKU: not in the item master".into()
            ),
            ("8".into(), 4, "quantity", "quantity is not positive".into()),
            ("8".into(), 4, "unit_price", "price missing".into()),
            ("9".into(), 5, "quantity", "quantity is not a number".into()),
        ]
    );
    assert!(r.taken.iter().all(|t| t.verdict == Verdict::Rejected));
    let t = tables(&r).unwrap();
    assert_eq!(t["erp_orders"].height(), 0);
    assert_eq!(t["order_rejects"].height(), 5);
    // A rejected order is not taken: a corrected resend is new.
    let fixed = df(&[
        ("order_id", &["8"]),
        ("sku", &["A"]),
        ("quantity", &["1"]),
        ("unit_price", &["1"]),
    ]);
    let r = intake(
        &policy(Amendments::Flag),
        read_orders(Layout::PlainCsv, &fixed, None).unwrap(),
        &HashMap::new(),
        Some(&items),
    );
    assert_eq!(r.taken[0].verdict, Verdict::New);
}

#[test]
fn a_document_takes_its_order_fields_from_the_header_table() {
    use crate::formats::column::Column as TextColumn;
    use crate::formats::table::Table;
    let header = Table {
        name: "x12_850_header".into(),
        columns: vec![
            TextColumn::from_values("po_number", [Some("1001")].into_iter()),
            TextColumn::from_values("po_date", [Some("20261125")].into_iter()),
            TextColumn::from_values("ship_to", [Some("John Doe")].into_iter()),
            TextColumn::from_values("ship_to_city", [Some("Hauppauge")].into_iter()),
        ],
    };
    let r = read_orders(Layout::X12_850, &x12_lines(), Some(&header)).unwrap();
    let o = &r.orders[0];
    assert_eq!(
        (
            o.date.as_str(),
            o.ship_to.name.as_str(),
            o.ship_to.city.as_str()
        ),
        ("2026-11-25", "John Doe", "Hauppauge")
    );
    assert_eq!(o.lines[0].line, 1, "the mapped table's row");
}

#[test]
fn a_layout_missing_a_column_says_which() {
    let e = read_orders(Layout::ShopifyCsv, &x12_lines(), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the shopify_csv layout needs a column `Name` in the input"
    );
}

#[test]
fn order_dates_come_out_in_one_form() {
    let lines = df(&[
        ("order_id", &["1", "2", "3", "4", "5"]),
        (
            "order_date",
            &[
                "20261125",
                "201508030000",
                "2026-11-25",
                "2026-11-25 10:00:00 -0500",
                "25/11/2026",
            ],
        ),
        ("sku", &["A"; 5]),
        ("quantity", &["1"; 5]),
        ("unit_price", &["1"; 5]),
    ]);
    let r = read_orders(Layout::PlainCsv, &lines, None).unwrap();
    let dates: Vec<&str> = r.orders.iter().map(|o| o.date.as_str()).collect();
    assert_eq!(
        dates,
        [
            "2026-11-25",
            "2015-08-03",
            "2026-11-25",
            "2026-11-25",
            "25/11/2026"
        ]
    );
}

/// ATP taken in file order: (order, verdict, [(sku, quantity)]) → each line's backorder.
#[test]
fn atp_is_taken_line_by_line_in_file_order_by_the_orders_sent() {
    use rust_decimal::Decimal;
    let d = |s: &str| s.parse::<Decimal>().unwrap();
    let atp: HashMap<String, Decimal> = [("A".to_string(), d("5")), ("B".to_string(), d("0"))]
        .into_iter()
        .collect();
    let order = |id: &str, verdict: Verdict, lines: &[(&str, &str)]| Taken {
        order: Order {
            id: id.into(),
            lines: lines
                .iter()
                .map(|(sku, q)| Line {
                    sku: sku.to_string(),
                    quantity: q.to_string(),
                    ..Line::default()
                })
                .collect(),
            ..Order::default()
        },
        hash: String::new(),
        verdict,
        version: 1,
        backorder: Vec::new(),
    };
    let mut intake = Intake {
        channel: "c".into(),
        taken: vec![
            order("1", Verdict::New, &[("A", "3"), ("B", "1")]),
            // A duplicate is not sent: it takes nothing.
            order("2", Verdict::Duplicate, &[("A", "2")]),
            order("3", Verdict::Amended, &[("A", "4"), ("C", "2")]),
            order("4", Verdict::New, &[("A", "1")]),
        ],
        rejects: Vec::new(),
    };
    allocate(&mut intake, &atp);
    let got: Vec<Vec<Option<Decimal>>> = intake.taken.iter().map(|t| t.backorder.clone()).collect();
    assert_eq!(
        got,
        vec![
            vec![Some(d("0")), Some(d("1"))],
            vec![],
            // 2 of A left: 2 over; C is not in the ATP: all of it.
            vec![Some(d("2")), Some(d("2"))],
            vec![Some(d("1"))],
        ]
    );
}
