//! The settlement part of a report, first among the money: each deposit and whether its
//! settlement foots, totals per currency and component, then the variance per status of the
//! many-to-one matching (pure).

use std::fmt::Write;

use super::model::RunReport;
use super::render::{aligned, escape};

const RIGHT: &str = "style=\"text-align:right\"";

pub(super) fn text(r: &RunReport, t: &mut String) {
    let Some(s) = &r.settlement else {
        return;
    };
    let _ = writeln!(t, "SETTLEMENT");
    let mut rows = vec![vec![
        "settlement".to_string(),
        "currency".into(),
        "deposit".into(),
        "lines".into(),
        "difference".into(),
        "foots".into(),
    ]];
    rows.extend(s.deposits.iter().map(|d| {
        vec![
            d.settlement_id.clone(),
            d.currency.clone(),
            d.deposit.to_string(),
            d.computed.to_string(),
            d.difference.to_string(),
            if d.foots { "yes" } else { "NO" }.into(),
        ]
    }));
    for line in aligned(&rows, 2) {
        let _ = writeln!(t, "  {line}");
    }
    if !s.components.is_empty() {
        let _ = writeln!(t, "\n  By component:");
        let mut rows = vec![vec!["currency".into(), "component".into(), "amount".into()]];
        rows.extend(s.components.iter().map(|c| {
            vec![
                c.currency.clone(),
                c.component.clone(),
                c.amount.to_string(),
            ]
        }));
        for line in aligned(&rows, 2) {
            let _ = writeln!(t, "  {line}");
        }
    }
    if !s.variance.is_empty() {
        let _ = writeln!(t, "\n  Orders by status:");
        let mut rows = vec![vec![
            "status".into(),
            "currency".into(),
            "orders".into(),
            "expected".into(),
            "settled".into(),
            "variance".into(),
        ]];
        rows.extend(s.variance.iter().map(|v| {
            vec![
                v.status.clone(),
                v.currency.clone(),
                v.count.to_string(),
                v.expected.to_string(),
                v.settled.to_string(),
                v.difference.to_string(),
            ]
        }));
        for line in aligned(&rows, 2) {
            let _ = writeln!(t, "  {line}");
        }
    }
    let _ = writeln!(t);
}

pub(super) fn html(r: &RunReport, h: &mut String) {
    let Some(s) = &r.settlement else {
        return;
    };
    let e = escape;
    h.push_str("<h2>Settlement</h2>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Settlement</th><th>Currency</th><th>Deposit</th><th>Lines</th><th>Difference</th><th>Foots</th></tr>\n");
    for d in &s.deposits {
        let _ = writeln!(
            h,
            "<tr data-settlement=\"{}\"><td>{}</td><td>{}</td><td {RIGHT} data-field=\"deposit\">{}</td><td {RIGHT} data-field=\"computed\">{}</td><td {RIGHT} data-field=\"difference\">{}</td><td data-field=\"foots\">{}</td></tr>",
            e(&d.settlement_id),
            e(&d.settlement_id),
            e(&d.currency),
            d.deposit,
            d.computed,
            d.difference,
            if d.foots { "yes" } else { "<strong>NO</strong>" }
        );
    }
    h.push_str("</table>\n");
    if !s.components.is_empty() {
        h.push_str("<h3>By component</h3>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Currency</th><th>Component</th><th>Amount</th></tr>\n");
        for c in &s.components {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td {RIGHT} data-component=\"{}\">{}</td></tr>",
                e(&c.currency),
                e(&c.component),
                e(&c.component),
                c.amount
            );
        }
        h.push_str("</table>\n");
    }
    if !s.variance.is_empty() {
        h.push_str("<h3>Orders by status</h3>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Status</th><th>Currency</th><th>Orders</th><th>Expected</th><th>Settled</th><th>Variance</th></tr>\n");
        for v in &s.variance {
            let _ = writeln!(
                h,
                "<tr data-status=\"{}\"><td>{}</td><td>{}</td><td {RIGHT}>{}</td><td {RIGHT}>{}</td><td {RIGHT}>{}</td><td {RIGHT} data-field=\"variance\">{}</td></tr>",
                e(&v.status),
                e(&v.status),
                e(&v.currency),
                v.count,
                v.expected,
                v.settled,
                v.difference
            );
        }
        h.push_str("</table>\n");
    }
}
