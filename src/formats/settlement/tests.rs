//! Known answers for each built-in layout, from the fixtures in tests/fixtures/settlement.

use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/settlement/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn read_fixture(layout: Layout, name: &str) -> Settlement {
    read(
        name,
        layout,
        &fixture(name),
        &Components::for_layout(layout, &BTreeMap::new()),
    )
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Sum of the lines per component (only the non-zero ones), as text at two places.
fn by_component(s: &Settlement) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in &s.lines {
        *m.entry(l.component.clone()).or_default() += l.amount;
    }
    m.into_iter()
        .map(|(k, v)| (k, money::render(v, currency_scale(&s.lines[0].currency))))
        .collect()
}

fn rules(s: &Settlement) -> Vec<(String, Option<u64>, crate::issue::Severity)> {
    s.issues
        .iter()
        .map(|i| (i.rule.clone(), i.line, i.severity))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn amazon_v2_eu_numbers_foot_and_map_to_components() {
    let s = read_fixture(Layout::AmazonV2, "amazon_v2_eu.tsv");
    assert_eq!(s.lines.len(), 11);
    assert_eq!(s.summaries.len(), 1);
    let sum = &s.summaries[0];
    assert_eq!(sum.settlement_id, "12345678");
    assert_eq!(sum.reported_total, Some(d("966.00")));
    assert_eq!(sum.computed_total, d("966.00"));
    assert!(sum.foots());
    assert_eq!(sum.source_line, 2);
    // `1.050,00` is one thousand and fifty.
    assert_eq!(s.lines[4].amount, d("1050.00"));
    assert_eq!(s.lines[4].source_line, 7);
    assert_eq!(
        by_component(&s),
        map(&[
            ("fulfilment_fee", "-9.50"),
            ("marketplace_fee", "-169.50"),
            ("other", "1.00"),
            ("principal", "1150.00"),
            ("promotion", "-5.00"),
            ("refund", "-20.00"),
            ("tax", "19.00"),
        ])
    );
    // The unmapped type is a warning naming the type, at its first line.
    assert_eq!(
        rules(&s),
        vec![(
            "unmapped-type".into(),
            Some(12),
            crate::issue::Severity::Warning
        )]
    );
    assert_eq!(
        s.issues[0].value.as_deref(),
        Some("Order/ItemPrice/NewThing")
    );
}

#[test]
fn a_settlement_that_does_not_foot_is_an_error_naming_totals_and_difference() {
    let s = read_fixture(Layout::AmazonV2, "amazon_v2_unfooted.tsv");
    let errors: Vec<_> = s
        .issues
        .iter()
        .filter(|i| i.rule == "control-total")
        .collect();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].message,
        "settlement 12345678 does not foot in EUR: reported 970.00, lines sum to 966.00, difference 4.00"
    );
    assert_eq!(errors[0].line, Some(2));
    assert_eq!(s.unfooted().count(), 1);
}

#[test]
fn the_real_amazon_v1_excerpt_reads_and_does_not_foot() {
    // An excerpt: the summary says 16630.13 for the whole settlement, the excerpt holds two
    // amounts (the first item row has a quantity and no amount, so it is no line).
    let s = read_fixture(
        Layout::AmazonV1,
        "mws-rs_settlement_flatfile_v1_excerpt.tsv",
    );
    assert_eq!(s.lines.len(), 2);
    let l = &s.lines[0];
    assert_eq!(
        (
            l.order_ref.as_str(),
            l.component.as_str(),
            l.amount,
            l.source_line
        ),
        ("112-8095165-5463447", "principal", d("27.99"), 4)
    );
    assert_eq!(l.posted_at, "2015-12-02T04:15:26+00:00");
    assert_eq!(l.sku, "edifier-p270-gold");
    let f = &s.lines[1];
    assert_eq!(
        (f.component.as_str(), f.amount, f.description.as_str()),
        ("fulfilment_fee", d("-1.00"), "FBAPerOrderFulfillmentFee")
    );
    let sum = &s.summaries[0];
    assert_eq!(
        (
            sum.settlement_id.as_str(),
            sum.deposit_date.as_str(),
            sum.currency.as_str()
        ),
        ("6016502941", "2015-12-18T03:27:08+00:00", "USD")
    );
    assert_eq!(sum.difference(), d("16603.14"));
    assert_eq!(
        s.issues.iter().map(|i| i.message.as_str()).collect::<Vec<_>>(),
        vec!["settlement 6016502941 does not foot in USD: reported 16630.13, lines sum to 26.99, difference 16603.14"]
    );
}

#[test]
fn shopify_payouts_foot_on_the_payout_row() {
    let s = read_fixture(Layout::ShopifyPayments, "shopify_payments.csv");
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    assert_eq!(s.summaries.len(), 1);
    assert_eq!(s.summaries[0].reported_total, Some(d("124.05")));
    assert_eq!(s.summaries[0].deposit_date, "2026-11-30");
    assert_eq!(
        by_component(&s),
        map(&[
            ("adjustment", "-1.00"),
            ("marketplace_fee", "-4.95"),
            ("principal", "150.00"),
            ("refund", "-20.00"),
        ])
    );
    let bad = read_fixture(Layout::ShopifyPayments, "shopify_payments_unfooted.csv");
    assert_eq!(bad.unfooted().count(), 1);
    assert_eq!(bad.issues[0].line, Some(6));
}

#[test]
fn stripe_jpy_has_no_decimal_places() {
    let s = read_fixture(Layout::StripeItemized, "stripe_itemized.csv");
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    let sum = &s.summaries[0];
    assert_eq!(
        (sum.settlement_id.as_str(), sum.currency.as_str()),
        ("po_1", "JPY")
    );
    assert_eq!(sum.reported_total, Some(d("6720")));
    assert_eq!(s.lines[0].order_ref, "JP-1");
    let csv = String::from_utf8(s.summary_csv()).unwrap();
    assert!(csv.contains(",JPY,6720,6720,0,true,5\n"), "{csv}");
    // A fraction of a yen is refused.
    let text = String::from_utf8(fixture("stripe_itemized.csv"))
        .unwrap()
        .replace("5000,175,4825", "5000.5,175,4825.5");
    let c = Components::for_layout(Layout::StripeItemized, &BTreeMap::new());
    let bad = read("x.csv", Layout::StripeItemized, text.as_bytes(), &c);
    assert!(bad
        .issues
        .iter()
        .any(|i| i.rule == "scale" && i.line == Some(2)));
}

#[test]
fn paypal_stl_minor_units_debit_credit_and_footers() {
    let s = read_fixture(Layout::PaypalStl, "paypal_stl.csv");
    assert_eq!(
        rules(&s),
        vec![(
            "unmapped-type".into(),
            Some(8),
            crate::issue::Severity::Warning
        )]
    );
    let sum = &s.summaries[0];
    assert_eq!(sum.settlement_id, "ACCT123-2026/11/30 00:00:00 -0800");
    assert_eq!(sum.reported_total, Some(d("126.05")));
    assert!(sum.foots());
    assert_eq!(
        by_component(&s),
        map(&[
            ("marketplace_fee", "-4.95"),
            ("other", "1.00"),
            ("principal", "150.00"),
            ("refund", "-20.00"),
        ])
    );
    // A file footer that disagrees with the lines is a control-total error of its own.
    let text = String::from_utf8(fixture("paypal_stl.csv"))
        .unwrap()
        .replace("\"RF\",\"USD\",15100", "\"RF\",\"USD\",15200");
    let c = Components::for_layout(Layout::PaypalStl, &BTreeMap::new());
    let bad = read("x.csv", Layout::PaypalStl, text.as_bytes(), &c);
    let e: Vec<_> = bad
        .issues
        .iter()
        .filter(|i| i.rule == "control-total")
        .collect();
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].line, Some(11));
    assert!(e[0].message.contains("difference 1.00"), "{}", e[0].message);
}

#[test]
fn pipeline_overrides_win_over_the_layout_defaults() {
    let overrides = map(&[
        ("Order/ItemPrice/NewThing", "gift_wrap"),
        ("ItemFees/Commission", "other_fee"),
    ]);
    let c = Components::for_layout(Layout::AmazonV2, &overrides);
    let s = read("a.tsv", Layout::AmazonV2, &fixture("amazon_v2_eu.tsv"), &c);
    assert!(s.issues.is_empty(), "{:?}", s.issues);
    let comps = by_component(&s);
    assert_eq!(comps["gift_wrap"], "1.00");
    assert_eq!(comps["other_fee"], "-169.50");
    assert_eq!(
        check_overrides(&map(&[("X", "fees")])),
        vec![format!(
            "`X` maps to `fees`, which is no component (one of {})",
            COMPONENTS.join(", ")
        )]
    );
}

#[test]
fn the_lines_table_renders_every_documented_column() {
    let s = read_fixture(Layout::AmazonV2, "amazon_v2_eu.tsv");
    let csv = String::from_utf8(s.lines_csv()).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next().unwrap(), LINE_COLUMNS.join(","));
    assert_eq!(
        lines.next().unwrap(),
        "12345678,03.11.2026 10:15:00 UTC,302-0000001,M-0000001,Order,ItemPrice,Principal,principal,SKU-1,1,100.00,EUR,3"
    );
}
