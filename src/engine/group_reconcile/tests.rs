//! Known answers for every status, and the property that no line is lost or counted twice.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::*;

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn spec() -> GroupSpec {
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    GroupSpec {
        partner_key: "order_ref".into(),
        strip_prefixes: strs(&["#"]),
        erp_key: "order_id".into(),
        partner_amount: "amount".into(),
        erp_amount: "expected".into(),
        partner_currency: "currency".into(),
        erp_currency: "currency".into(),
        class_column: Some("component".into()),
        sales: strs(&["principal", "tax", "shipping", "promotion"]),
        refunds: strs(&["refund", "chargeback"]),
        fees: strs(&["marketplace_fee", "fulfilment_fee", "other_fee"]),
        tolerances: BTreeMap::from([("USD".to_string(), d("0.01"))]),
        first_line: Some("source_line".into()),
        parts: Vec::new(),
    }
}

/// Settlement lines as a validated table would hold them (money as Decimal).
fn lines(rows: &[(&str, &str, &str, &str)]) -> DataFrame {
    let n = rows.len() as i64;
    let df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "order_ref".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "currency".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            ),
            Column::new(
                "component".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
            Column::new(
                "amount".into(),
                rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )
            .cast(&DataType::Decimal(38, 2))
            .unwrap(),
            Column::new("source_line".into(), (2..n + 2).collect::<Vec<i64>>()),
        ],
    );
    df.unwrap()
}

fn erp(rows: &[(&str, &str, &str)]) -> DataFrame {
    DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "order_id".into(),
                rows.iter().map(|r| r.0).collect::<Vec<_>>(),
            ),
            Column::new(
                "expected".into(),
                rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            )
            .cast(&DataType::Decimal(38, 2))
            .unwrap(),
            Column::new(
                "currency".into(),
                rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            ),
        ],
    )
    .unwrap()
}

#[test]
fn every_status_has_its_known_answer() {
    let partner = lines(&[
        ("#1001", "USD", "principal", "100.00"),
        ("#1001", "USD", "tax", "8.00"),
        ("#1001", "USD", "marketplace_fee", "-3.00"),
        ("1002", "USD", "principal", "50.00"),
        ("1003", "USD", "principal", "60.00"),
        ("1004", "USD", "principal", "20.00"),
        ("1005", "USD", "refund", "-20.00"),
        ("1006", "USD", "marketplace_fee", "-1.00"),
        ("9999", "USD", "principal", "10.00"),
        ("1007", "EUR", "principal", "30.00"),
        ("", "USD", "fulfilment_fee", "-6.00"),
        ("J1", "JPY", "principal", "5000"),
        // An order split over two settlements of the same file: paid once both are in.
        ("1009", "USD", "principal", "25.00"),
        ("1009", "USD", "principal", "25.00"),
        ("1010", "USD", "gift_card", "4.00"),
    ]);
    let erp = erp(&[
        ("1001", "108.00", "USD"),
        ("1002", "55.00", "USD"),
        ("1003", "55.00", "USD"),
        ("1004", "20.01", "USD"),
        ("1005", "100.00", "USD"),
        ("1006", "12.00", "USD"),
        ("1007", "30.00", "USD"),
        ("1008", "40.00", "USD"),
        ("1002", "1.00", "USD"),
        ("J1", "5000", "JPY"),
        ("1009", "50.00", "USD"),
        ("1010", "4.00", "USD"),
    ]);
    let rows = group_rows(&partner, &erp, &spec()).unwrap();
    let got: Vec<(&str, &str, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.status,
                r.settled.normalize().to_string(),
                r.difference.normalize().to_string(),
            )
        })
        .collect();
    let want: Vec<(&str, &str, &str, &str)> = vec![
        ("1001", PAID, "105.00", "0.00"),
        ("1002", SHORT_PAID, "50.00", "-5.00"),
        ("1003", OVER_PAID, "60.00", "5.00"),
        ("1004", PAID, "20.00", "-0.01"),
        ("1005", REFUNDED, "-20.00", "-20.00"),
        ("1006", FEES_ONLY, "-1.00", "-1.00"),
        ("9999", UNKNOWN_ORDER, "10.00", "10.00"),
        ("1007", CURRENCY_MISMATCH, "30.00", "0.00"),
        ("", NO_ORDER, "-6.00", "-6.00"),
        ("J1", PAID, "5000", "0"),
        ("1009", PAID, "50.00", "0.00"),
        // A class in no list is `other`: it is settled, not a sale.
        ("1010", SHORT_PAID, "4.00", "-4.00"),
        ("1008", AWAITING_SETTLEMENT, "0", "-40.00"),
        ("1002", DUPLICATE_KEY, "0", "-1.00"),
    ];
    let want: Vec<(&str, &str, String, String)> = want
        .into_iter()
        .map(|(k, s, a, b)| {
            (
                k,
                s,
                d(a).normalize().to_string(),
                d(b).normalize().to_string(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let first = &rows[0];
    assert_eq!(first.first_line, Some(2));
    assert_eq!(first.lines, 3);
    assert_eq!(
        first.components,
        "marketplace_fee=-3.00; principal=100.00; tax=8.00"
    );
    assert_eq!(first.erp_row, Some(0));
    assert_eq!(rows[9].first_line, Some(13));
}

#[test]
fn the_table_and_summary_are_exact_decimals() {
    let partner = lines(&[
        ("1", "USD", "principal", "10.10"),
        ("2", "USD", "principal", "0.20"),
        ("3", "USD", "principal", "0.30"),
    ]);
    let erp = erp(&[
        ("1", "10.10", "USD"),
        ("2", "0.30", "USD"),
        ("4", "1.00", "USD"),
    ]);
    let g = group_reconcile(&partner, &erp, &spec()).unwrap();
    assert_eq!(
        g.table.column("settled").unwrap().dtype(),
        &DataType::Decimal(38, 2)
    );
    assert_eq!(g.table.get_column_names()[0].as_str(), "order_ref");
    let s = &g.summary;
    let status: Vec<&str> = s
        .column("status")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .collect();
    assert_eq!(
        status,
        [PAID, SHORT_PAID, UNKNOWN_ORDER, AWAITING_SETTLEMENT]
    );
    let settled = s
        .column("settled")
        .unwrap()
        .cast(&DataType::String)
        .unwrap();
    let settled: Vec<&str> = settled.str().unwrap().iter().flatten().collect();
    assert_eq!(settled, ["10.10", "0.20", "0.30", "0.00"]);
}

/// A small deterministic generator (no dependency): xorshift.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }
}

#[test]
fn no_line_is_lost_or_counted_twice() {
    let keys = ["#1", "1", "2", "3", "", "4", "#5", "6", "7", "8"];
    let currencies = ["USD", "EUR", "JPY"];
    let components = [
        "principal",
        "tax",
        "refund",
        "marketplace_fee",
        "reserve",
        "unmapped",
    ];
    for seed in 1..40u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let n = (rng.next() % 200) as usize;
        let rows: Vec<(String, String, String, String)> = (0..n)
            .map(|_| {
                let cents = (rng.next() % 200_001) as i64 - 100_000;
                (
                    rng.pick(&keys).to_string(),
                    rng.pick(&currencies).to_string(),
                    rng.pick(&components).to_string(),
                    Decimal::new(cents, 2).to_string(),
                )
            })
            .collect();
        let borrowed: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str(), r.3.as_str()))
            .collect();
        let erp_rows: Vec<(String, String, String)> = (0..(rng.next() % 12))
            .map(|_| {
                (
                    rng.pick(&["1", "2", "3", "4", "5", "9"]).to_string(),
                    Decimal::new((rng.next() % 100_000) as i64, 2).to_string(),
                    rng.pick(&currencies).to_string(),
                )
            })
            .collect();
        let erp_b: Vec<(&str, &str, &str)> = erp_rows
            .iter()
            .map(|r| (r.0.as_str(), r.1.as_str(), r.2.as_str()))
            .collect();
        let out = group_rows(&lines(&borrowed), &erp(&erp_b), &spec()).unwrap();
        let mut want: BTreeMap<&str, Decimal> = BTreeMap::new();
        for r in &borrowed {
            *want.entry(r.1).or_default() += d(r.3);
        }
        let mut got: BTreeMap<&str, Decimal> = BTreeMap::new();
        for r in &out {
            if r.lines > 0 {
                *got.entry(r.currency.as_str()).or_default() += r.settled;
            }
            assert_eq!(r.settled, r.sales + r.refunds + r.fees + r.other);
        }
        assert_eq!(got, want, "seed {seed}");
        assert_eq!(
            out.iter().map(|r| r.lines).sum::<u64>(),
            n as u64,
            "seed {seed}"
        );
        // Each ERP row appears once: matched by a group, awaiting, or a duplicate.
        let mut erp_seen: Vec<u64> = out.iter().filter_map(|r| r.erp_row).collect();
        let groups_per_erp = erp_seen.len();
        erp_seen.sort();
        erp_seen.dedup();
        assert_eq!(erp_seen.len(), erp_b.len(), "seed {seed}");
        assert!(groups_per_erp >= erp_b.len());
    }
}

#[test]
fn tax_and_shipping_are_compared_on_their_own() {
    let strs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let spec = GroupSpec {
        parts: vec![
            Part {
                name: "tax".into(),
                erp_column: "tax".into(),
                classes: strs(&["tax", "shipping_tax"]),
            },
            Part {
                name: "shipping".into(),
                erp_column: "shipping".into(),
                classes: strs(&["shipping"]),
            },
        ],
        ..spec()
    };
    let partner = lines(&[
        // Everything as the ERP says.
        ("1", "USD", "principal", "100.00"),
        ("1", "USD", "tax", "8.00"),
        ("1", "USD", "shipping", "5.00"),
        // The total is right, but the tax is 2.00 short (the principal 2.00 over).
        ("2", "USD", "principal", "102.00"),
        ("2", "USD", "tax", "6.00"),
        // Principal and tax right, shipping 1.00 over: over_paid by the total too.
        ("3", "USD", "principal", "100.00"),
        ("3", "USD", "tax", "8.00"),
        ("3", "USD", "shipping", "6.00"),
        // The total is right and shipping is 5.00 over, tax 5.00 short: tax decides first.
        ("4", "USD", "principal", "100.00"),
        ("4", "USD", "tax", "3.00"),
        ("4", "USD", "shipping", "10.00"),
        // The ERP gives no tax for it: only the total and shipping are compared.
        ("5", "USD", "principal", "50.00"),
        ("5", "USD", "tax", "1.00"),
    ]);
    let mut erp = erp(&[
        ("1", "113.00", "USD"),
        ("2", "108.00", "USD"),
        ("3", "113.00", "USD"),
        ("4", "113.00", "USD"),
        ("5", "51.00", "USD"),
        ("6", "20.00", "USD"),
    ]);
    let money = |name: &str, v: &[Option<&str>]| {
        Column::new(name.into(), v.to_vec())
            .cast(&DataType::Decimal(38, 2))
            .unwrap()
    };
    erp.with_column(money(
        "tax",
        &[
            Some("8.00"),
            Some("8.00"),
            Some("8.00"),
            Some("8.00"),
            None,
            Some("1.50"),
        ],
    ))
    .unwrap();
    erp.with_column(money(
        "shipping",
        &[
            Some("5.00"),
            Some("0.00"),
            Some("5.00"),
            Some("5.00"),
            Some("0.00"),
            Some("0.00"),
        ],
    ))
    .unwrap();
    let rows = group_rows(&partner, &erp, &spec).unwrap();
    let text = |d: Option<Decimal>| d.map(|d| d.to_string()).unwrap_or_default();
    let got: Vec<(&str, &str, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.status,
                r.difference.to_string(),
                text(r.parts[0].difference()),
                text(r.parts[1].difference()),
            )
        })
        .collect();
    let want = [
        ("1", PAID, "0.00", "0.00", "0.00"),
        ("2", SHORT_PAID, "0.00", "-2.00", "0.00"),
        ("3", OVER_PAID, "1.00", "0.00", "1.00"),
        ("4", SHORT_PAID, "0.00", "-5.00", "5.00"),
        ("5", PAID, "0.00", "", "0.00"),
        ("6", AWAITING_SETTLEMENT, "-20.00", "-1.50", "0.00"),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(k, s, d, t, h)| (*k, *s, d.to_string(), t.to_string(), h.to_string()))
        .collect();
    assert_eq!(got, want);
    // The table has the three columns of each part, exact.
    let g = group_reconcile(&partner, &erp, &spec).unwrap();
    let names: Vec<&str> = g
        .table
        .get_column_names()
        .iter()
        .map(|c| c.as_str())
        .collect();
    assert!(names.ends_with(&[
        "expected_tax",
        "settled_tax",
        "tax_difference",
        "expected_shipping",
        "settled_shipping",
        "shipping_difference"
    ]));
    assert_eq!(
        g.table.column("settled_tax").unwrap().dtype(),
        &DataType::Decimal(38, 2)
    );
}
