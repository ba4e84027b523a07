//! The open-item part of a report: what this run opened, reopened and closed (with the money),
//! how many items are carried within grace and how many are exceptions, the book by aging
//! bucket, and the acknowledged items (listed, never alerted on again). Pure.

use std::fmt::Write;

use super::model::{CurrencyAmount, OpenItemsNote, RunReport};
use super::render::{aligned, escape};

const RIGHT: &str = "style=\"text-align:right\"";

/// `3,210.55 USD; 4 units`: amounts per currency, a quantity without one.
pub fn amounts_text(amounts: &[CurrencyAmount]) -> String {
    amounts
        .iter()
        .map(|a| match a.currency.as_str() {
            "" => a.amount.to_string(),
            c => format!("{} {c}", a.amount),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The one-line verdict: "new 2, still open 5, closed today 14 (3210.55 USD), reopened 1".
pub fn headline(n: &OpenItemsNote) -> String {
    let mut s = format!(
        "new {}, still open {}, closed today {}",
        n.new, n.still_open, n.closed
    );
    if !n.closed_amounts.is_empty() {
        let _ = write!(s, " ({})", amounts_text(&n.closed_amounts));
    }
    if n.reopened > 0 {
        let _ = write!(s, ", reopened {}", n.reopened);
    }
    let _ = write!(
        s,
        "; {} exception(s), {} carried within grace, {} acknowledged",
        n.exceptions,
        n.carried,
        n.acknowledged.len()
    );
    s
}

pub(super) fn text(r: &RunReport, t: &mut String) {
    let Some(n) = &r.open_items else {
        return;
    };
    let _ = writeln!(t, "OPEN ITEMS");
    let _ = writeln!(t, "  {}", headline(n));
    let mut rows = vec![vec![
        "age (days)".to_string(),
        "items".into(),
        "amount".into(),
    ]];
    rows.extend(n.buckets.iter().map(|b| {
        vec![
            b.name.clone(),
            b.count.to_string(),
            amounts_text(&b.amounts),
        ]
    }));
    for line in aligned(&rows, 1) {
        let _ = writeln!(t, "  {line}");
    }
    if !n.acknowledged.is_empty() {
        let _ = writeln!(t, "\n  Acknowledged (not alerted again):");
        for i in &n.acknowledged {
            let _ = writeln!(
                t,
                "  #{} {} {} ({} days): {}",
                i.id, i.key, i.kind, i.age_days, i.note
            );
        }
    }
    let _ = writeln!(t);
}

pub(super) fn html(r: &RunReport, h: &mut String) {
    let Some(n) = &r.open_items else {
        return;
    };
    let e = escape;
    let _ = writeln!(
        h,
        "<h2>Open items</h2>\n<p id=\"open-items\">{}</p>",
        e(&headline(n))
    );
    h.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>Age (days)</th><th>Items</th><th>Amount</th></tr>\n");
    for b in &n.buckets {
        let _ = writeln!(
            h,
            "<tr data-bucket=\"{}\"><td>{}</td><td {RIGHT}>{}</td><td {RIGHT}>{}</td></tr>",
            e(&b.name),
            e(&b.name),
            b.count,
            e(&amounts_text(&b.amounts))
        );
    }
    h.push_str("</table>\n");
    if !n.acknowledged.is_empty() {
        h.push_str("<h3>Acknowledged (not alerted again)</h3>\n<ul id=\"acknowledged\">\n");
        for i in &n.acknowledged {
            let _ = writeln!(
                h,
                "<li>#{} {} <code>{}</code> ({} days): {}</li>",
                i.id,
                e(&i.key),
                e(&i.kind),
                i.age_days,
                e(&i.note)
            );
        }
        h.push_str("</ul>\n");
    }
}
