//! The report leads with money: the net per currency over every key, amounts right-aligned,
//! before the counts; breaks are ranked within their currency (an amount in USD is never
//! ranked against one in EUR).

#[path = "support/fixture.rs"]
mod fixture;

use fixture::{brk, dec, sample_report};
use tallyman::report::model::ReconStatus;
use tallyman::report::{render, RenderOptions};

#[test]
fn money_leads_net_per_currency_right_aligned() {
    let report = sample_report();
    // EUR: matched 98765.43 / 98765.43 and mismatched 310.00 / 297.55; USD: -12.50 / 0.
    assert_eq!(
        report.net_by_currency(),
        vec![
            (
                "EUR".to_string(),
                dec("99075.43"),
                dec("99062.98"),
                dec("12.45")
            ),
            ("USD".to_string(), dec("-12.50"), dec("0"), dec("-12.50")),
        ]
    );
    let r = render(&report, "{summary}", &RenderOptions::default()).expect("render");
    let money = r.text.find("MONEY BY CURRENCY").expect("money section");
    assert!(money < r.text.find("RECONCILIATION").unwrap(), "{}", r.text);
    let block: Vec<&str> = r.text[money..]
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(block.len(), 3, "a header and two currencies: {block:?}");
    assert!(
        block[1].starts_with("  EUR") && block[1].ends_with(" 12.45"),
        "{block:?}"
    );
    assert!(
        block[2].starts_with("  USD") && block[2].ends_with("-12.50"),
        "{block:?}"
    );
    // Right-aligned: every line of the block ends in the same column.
    assert!(
        block
            .iter()
            .all(|l| l.chars().count() == block[0].chars().count()),
        "{block:#?}"
    );
    assert!(
        r.html
            .contains(r#"data-net-currency="EUR" data-field="difference">12.45<"#),
        "{}",
        r.html
    );
    assert!(r.html.find("Money by currency").unwrap() < r.html.find("Reconciliation").unwrap());
}

#[test]
fn breaks_are_ranked_within_their_currency() {
    let mut report = sample_report();
    let usd = |order: &str, partner: &str| {
        let mut b = brk(order, ReconStatus::Mismatched, Some(partner), Some("0"));
        b.currency = Some("USD".into());
        b
    };
    report.breaks = vec![
        brk(
            "EUR-SMALL",
            ReconStatus::Mismatched,
            Some("1.00"),
            Some("0"),
        ),
        usd("USD-MID", "50.00"),
        brk(
            "EUR-BIG",
            ReconStatus::Mismatched,
            Some("100.00"),
            Some("0"),
        ),
        usd("USD-BIG", "500.00"),
    ];
    let groups: Vec<(Option<&str>, Vec<&str>)> = report
        .breaks_by_currency()
        .into_iter()
        .map(|(c, list)| (c, list.iter().map(|b| b.keys[0].1.as_str()).collect()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (Some("USD"), vec!["USD-BIG", "USD-MID"]),
            (Some("EUR"), vec!["EUR-BIG", "EUR-SMALL"]),
        ]
    );
    let text = render(
        &report,
        "{summary}",
        &RenderOptions {
            top_breaks: 1,
            ..RenderOptions::default()
        },
    )
    .expect("render")
    .text;
    // The top one of each currency, not the top one overall.
    let usd = text.find("USD: top 1 of 2").expect("USD group");
    let eur = text.find("EUR: top 1 of 2").expect("EUR group");
    assert!(usd < eur, "{text}");
    assert!(
        text.contains("order_id=USD-BIG") && text.contains("order_id=EUR-BIG"),
        "{text}"
    );
    assert!(
        !text.contains("USD-MID") && !text.contains("EUR-SMALL"),
        "{text}"
    );
}
