//! A sample `RunReport` shared by the report tests: money in two currencies, breaks and issues
//! carrying HTML and spreadsheet-formula payloads, and file notes.

#![allow(dead_code)]

use std::str::FromStr;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use tallyman::issue::Issue;
use tallyman::report::model::*;

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).expect("decimal")
}

pub fn measure(name: &str, partner: Option<&str>, erp: Option<&str>) -> Measure {
    Measure {
        name: name.into(),
        partner: partner.map(dec),
        erp: erp.map(dec),
        difference: None,
    }
}

pub fn brk(order: &str, status: ReconStatus, partner: Option<&str>, erp: Option<&str>) -> Break {
    Break {
        keys: vec![
            ("order_id".into(), order.into()),
            ("line".into(), "1".into()),
        ],
        status,
        kind: None,
        currency: Some("EUR".into()),
        measures: vec![measure("amount", partner, erp)],
    }
}

pub fn note(name: &str, reason: &str) -> FileNote {
    FileNote {
        name: name.into(),
        sha256: "ab".repeat(32),
        reason: reason.into(),
    }
}

pub fn sample_report() -> RunReport {
    let total = |currency: &str, status, count, p: &str, e: &str| MoneyTotal {
        currency: currency.into(),
        status,
        count,
        partner: dec(p),
        erp: dec(e),
        difference: dec(p) - dec(e),
    };
    RunReport {
        pipeline: "stripe-settlement".into(),
        business_date: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        run_id: "20261126T0300Z-7".into(),
        time_zone: "Europe/Berlin".into(),
        reconciliation: Some(ReconSummary {
            counts: StatusCounts {
                matched: 1412,
                mismatched: 3,
                only_in_partner: 2,
                only_in_erp: 1,
                duplicate_key: 0,
            },
            totals: vec![
                total("EUR", ReconStatus::Matched, 1400, "98765.43", "98765.43"),
                total("EUR", ReconStatus::Mismatched, 3, "310.00", "297.55"),
                total("USD", ReconStatus::OnlyInPartner, 2, "-12.50", "0"),
            ],
        }),
        breaks: vec![
            brk(
                "SO-1",
                ReconStatus::Mismatched,
                Some("100.00"),
                Some("99.00"),
            ),
            brk(
                "=HYPERLINK(\"http://evil\")",
                ReconStatus::OnlyInPartner,
                Some("-12.50"),
                None,
            ),
            brk(
                "SO-<script>",
                ReconStatus::Mismatched,
                Some("200.00"),
                Some("188.55"),
            ),
            brk("SO-4", ReconStatus::OnlyInErp, None, Some("5000.00")),
        ],
        issues: vec![
            Issue::error("payouts.csv", "type", "not a decimal")
                .at_line(7)
                .in_column("amount")
                .with_value("12,50"),
            Issue::error("payouts.csv", "type", "not a decimal")
                .at_line(9)
                .in_column("amount")
                .with_value("@SUM(A1)"),
            Issue::error("payouts.csv", "required", "missing order id")
                .at_line(12)
                .in_column("order_id"),
        ],
        duplicates: vec![note(
            "payouts-1125.csv",
            "same content as a file processed on 2026-11-25",
        )],
        corrections: vec![],
        quarantined: vec![note("garbage<b>.csv", "not UTF-8 & not CSV")],
        rerun: None,
        acknowledgements: vec![],
        held: vec![],
        settlement: None,
        open_items: None,
        orders: None,
        catalog: None,
        schema_drift: None,
    }
}
