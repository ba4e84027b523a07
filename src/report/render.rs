//! Renders a `RunReport` into subject, HTML, plain text and a CSV attachment (pure, no IO).
//!
//! The email leads with what happened: that the run is a rerun (of which run, who asked, why),
//! then the verdict (files quarantined, acknowledgements sent to the partner), then money
//! (the net per currency, amounts right-aligned), reconciliation counts and money per status
//! and currency, the biggest breaks ranked within each currency, validation
//! issues grouped by rule, and files that were duplicates or corrections. Every value is
//! HTML-escaped; the CSV carries every break and issue with formula-looking cells neutralised.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::model::{Break, FileNote, ReconStatus, RunReport};
use crate::issue::Issue;

/// Knobs for how much of the report goes into the email body (the CSV always has all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// How many breaks (largest absolute difference first) the body shows.
    pub top_breaks: usize,
    /// How many example issues the body shows per rule.
    pub examples_per_rule: usize,
    /// The largest CSV attached to the mail; beyond it the attachment holds the first rows and
    /// the body says so (the archived `report.csv` always has every row).
    pub max_attachment_bytes: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            top_breaks: 20,
            examples_per_rule: 5,
            max_attachment_bytes: 5 << 20,
        }
    }
}

/// A rendered report, ready to be put into a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// Every break and issue as CSV (UTF-8): archived as the run's `report.csv`.
    pub csv: Vec<u8>,
    /// What the mail attaches: `csv`, or its first rows when it is over the size limit.
    pub attachment: Vec<u8>,
    /// Rows in `attachment` and in `csv`.
    pub attachment_rows: (usize, usize),
    /// File name for the attachment, e.g. `settlement-2026-11-25-exceptions.csv`.
    pub csv_name: String,
}

/// Rendering can only fail inside the CSV writer.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("writing the CSV attachment: {0}")]
    Csv(#[from] csv::Error),
    #[error("finishing the CSV attachment: {0}")]
    CsvFlush(String),
}

/// Renders the report; `subject_template` is a compiled rule's subject.
pub fn render(
    report: &RunReport,
    subject_template: &str,
    opts: &RenderOptions,
) -> Result<Rendered, RenderError> {
    let csv = super::attachment::csv_attachment(report)?;
    let (attachment, kept, total) = super::attachment::cap(&csv, opts.max_attachment_bytes)?;
    let closing = if kept < total {
        format!(
            "The attached CSV holds the first {kept} of {total} rows (the mail size limit); every row is in the run's archived report.csv."
        )
    } else {
        "Every break and issue is in the attached CSV.".to_string()
    };
    Ok(Rendered {
        subject: subject(report, subject_template),
        text: text(report, opts, &closing),
        html: html(report, opts, &closing),
        csv,
        attachment,
        attachment_rows: (kept, total),
        csv_name: format!(
            "{}-{}-exceptions.csv",
            file_safe(&report.pipeline),
            report.business_date
        ),
    })
}

/// Fills `{pipeline}`, `{date}` and `{summary}`; control characters are dropped so partner data
/// can never start a new header line.
/// One pass, so a pipeline name containing `{summary}` is not expanded again. Unknown
/// placeholders were refused at config time and are kept literally here.
pub fn subject(report: &RunReport, template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open..];
        let (value, used) = match after.find('}').map(|close| (&after[1..close], close + 1)) {
            Some(("pipeline", n)) => (report.pipeline.clone(), n),
            Some(("date", n)) => (report.business_date.to_string(), n),
            Some(("summary", n)) => (report.summary(), n),
            _ => ("{".to_string(), 1),
        };
        out.push_str(&value);
        rest = &after[used..];
    }
    out.push_str(rest);
    out.chars().filter(|c| !c.is_control()).collect()
}

fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Issues grouped by rule, biggest group first, then by rule name.
fn issues_by_rule(issues: &[Issue]) -> Vec<(&str, Vec<&Issue>)> {
    let mut groups: BTreeMap<&str, Vec<&Issue>> = BTreeMap::new();
    for issue in issues {
        groups.entry(issue.rule.as_str()).or_default().push(issue);
    }
    let mut out: Vec<_> = groups.into_iter().collect();
    out.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(b.0)));
    out
}

pub(super) fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn keys_text(b: &Break) -> String {
    b.keys
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn measures_text(b: &Break) -> String {
    b.measures
        .iter()
        .map(|m| {
            format!(
                "{}: partner {} / erp {} / diff {}",
                m.name,
                opt(&m.partner),
                opt(&m.erp),
                m.effective_difference()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Rows as lines of columns padded to their widest cell: the first `numeric_from` columns
/// left-aligned (labels), the rest right-aligned (amounts line up on their last digit).
pub(super) fn aligned(rows: &[Vec<String>], numeric_from: usize) -> Vec<String> {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|v| v.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(c, (v, w))| {
                    if c < numeric_from {
                        format!("{v:<w$}")
                    } else {
                        format!("{v:>w$}")
                    }
                })
                .collect();
            cells.join("  ").trim_end().to_string()
        })
        .collect()
}

fn text(r: &RunReport, opts: &RenderOptions, closing: &str) -> String {
    let mut t = String::new();
    let _ = writeln!(
        t,
        "Tallyman report: {} for {} ({})",
        r.pipeline, r.business_date, r.time_zone
    );
    let _ = writeln!(t, "Run {}: {}\n", r.run_id, r.summary());
    // What happened comes before the detail: a rerun says so, a quarantined file and what
    // the partner was sent are the verdict.
    if let Some(n) = &r.rerun {
        let _ = writeln!(
            t,
            "RERUN of run {}, asked by {}: {}",
            n.of, n.actor, n.reason
        );
        if n.changes.is_empty() {
            let _ = writeln!(t, "  no differences from run {}", n.of);
        }
        for c in &n.changes {
            let _ = writeln!(t, "  changed: {c}");
        }
        let _ = writeln!(t);
    }
    if !r.quarantined.is_empty() || !r.acknowledgements.is_empty() {
        let _ = writeln!(t, "VERDICT");
        for n in &r.quarantined {
            let _ = writeln!(t, "  {} sha256 {}: {}", n.name, n.sha256, n.reason);
        }
        for a in &r.acknowledgements {
            let _ = writeln!(t, "  acknowledgement sent to the partner: {a}");
        }
        let _ = writeln!(t);
    }
    // A settlement's deposit and footing lead (render_settlement.rs).
    super::render_settlement::text(r, &mut t);
    orders_text(r, &mut t);
    super::render_drift::text(r, &mut t);
    super::render_catalog::text(r, &mut t);
    super::render_open_items::text(r, &mut t);
    // Money leads: the net per currency over every key, amounts right-aligned.
    let net = r.net_by_currency();
    if !net.is_empty() {
        let _ = writeln!(t, "MONEY BY CURRENCY (every key)");
        let mut rows = vec![vec![
            String::new(),
            "partner".to_string(),
            "erp".to_string(),
            "difference".to_string(),
        ]];
        rows.extend(
            net.iter()
                .map(|(c, p, e, d)| vec![c.clone(), p.to_string(), e.to_string(), d.to_string()]),
        );
        for line in aligned(&rows, 1) {
            let _ = writeln!(t, "  {line}");
        }
        let _ = writeln!(t);
    }
    if let Some(rec) = &r.reconciliation {
        let _ = writeln!(t, "RECONCILIATION");
        for st in ReconStatus::ALL {
            let _ = writeln!(t, "  {:<16} {}", st.label(), rec.counts.get(st));
        }
        if !rec.totals.is_empty() {
            let _ = writeln!(t, "\n  Money by currency and status:");
            let mut rows = vec![vec![
                String::new(),
                String::new(),
                "keys".to_string(),
                "partner".to_string(),
                "erp".to_string(),
                "difference".to_string(),
            ]];
            rows.extend(rec.totals.iter().map(|m| {
                vec![
                    m.currency.clone(),
                    m.status.label().to_string(),
                    m.count.to_string(),
                    m.partner.to_string(),
                    m.erp.to_string(),
                    m.difference.to_string(),
                ]
            }));
            for line in aligned(&rows, 2) {
                let _ = writeln!(t, "  {line}");
            }
        }
        let _ = writeln!(t);
    }
    if !r.breaks.is_empty() {
        let _ = writeln!(
            t,
            "BREAKS ({}), largest difference first within each currency",
            r.breaks.len()
        );
        let groups = r.breaks_by_currency();
        let single = groups.len() == 1;
        for (currency, list) in groups {
            let shown = opts.top_breaks.min(list.len());
            let _ = writeln!(
                t,
                "  {}top {shown} of {}",
                group_label(currency, single),
                list.len()
            );
            for b in list.into_iter().take(opts.top_breaks) {
                let _ = writeln!(
                    t,
                    "    [{}] {}: {}",
                    b.status_text(),
                    keys_text(b),
                    measures_text(b)
                );
            }
        }
        let _ = writeln!(t);
    }
    if !r.issues.is_empty() {
        let _ = writeln!(t, "VALIDATION ISSUES ({})", r.issues.len());
        for (rule, list) in issues_by_rule(&r.issues) {
            let _ = writeln!(t, "  {rule}: {} issue(s)", list.len());
            for i in list.iter().take(opts.examples_per_rule) {
                let _ = writeln!(t, "    {i}");
            }
        }
        let _ = writeln!(t);
    }
    for (title, notes) in file_sections(r) {
        if !notes.is_empty() {
            let _ = writeln!(t, "{} ({})", title.to_uppercase(), notes.len());
            for n in notes {
                let _ = writeln!(t, "  {} sha256 {}: {}", n.name, n.sha256, n.reason);
            }
            let _ = writeln!(t);
        }
    }
    let _ = writeln!(t, "{closing}");
    t
}

/// The file notes shown after the detail (quarantined files are the verdict, shown first).
fn file_sections(r: &RunReport) -> [(&'static str, &[FileNote]); 3] {
    [
        ("Held files (not processed yet)", &r.held),
        ("Corrections", &r.corrections),
        ("Duplicate files", &r.duplicates),
    ]
}

/// `EUR: ` before a currency's breaks; nothing when every break is without a currency
/// (quantities), `no currency: ` when those sit beside currencies.
fn group_label(currency: Option<&str>, single: bool) -> String {
    match (currency, single) {
        (Some(c), _) => format!("{c}: "),
        (None, true) => String::new(),
        (None, false) => "no currency: ".to_string(),
    }
}

/// Amount cells line up on their last digit.
const RIGHT: &str = "style=\"text-align:right\"";

fn html(r: &RunReport, opts: &RenderOptions, closing: &str) -> String {
    let e = escape;
    let mut h = String::new();
    let _ = write!(h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{}</title></head><body style=\"font-family:sans-serif\">\n", e(&r.pipeline));
    let _ = writeln!(h, "<h1>{} &mdash; {}</h1>", e(&r.pipeline), r.business_date);
    let _ = writeln!(
        h,
        "<p>Business date {} ({}), run <code>{}</code>: <strong id=\"summary\">{}</strong></p>",
        r.business_date,
        e(&r.time_zone),
        e(&r.run_id),
        e(&r.summary())
    );
    if let Some(n) = &r.rerun {
        let _ = writeln!(
            h,
            "<p id=\"rerun\"><strong>Rerun</strong> of run <code>{}</code>, asked by {}: {}</p>",
            e(&n.of),
            e(&n.actor),
            e(&n.reason)
        );
        if n.changes.is_empty() {
            let _ = writeln!(
                h,
                "<p>No differences from run <code>{}</code>.</p>",
                e(&n.of)
            );
        } else {
            h.push_str("<ul id=\"changes\">\n");
            for c in &n.changes {
                let _ = writeln!(h, "<li>{}</li>", e(c));
            }
            h.push_str("</ul>\n");
        }
    }
    if !r.quarantined.is_empty() || !r.acknowledgements.is_empty() {
        let _ = writeln!(h, "<h2>Verdict</h2>\n<ul id=\"verdict\">");
        for n in &r.quarantined {
            let _ = writeln!(
                h,
                "<li>Quarantined: <strong>{}</strong> <small>sha256 {}</small>: {}</li>",
                e(&n.name),
                e(&n.sha256),
                e(&n.reason)
            );
        }
        for a in &r.acknowledgements {
            let _ = writeln!(
                h,
                "<li>Acknowledgement sent to the partner: <code>{}</code></li>",
                e(a)
            );
        }
        h.push_str("</ul>\n");
    }
    super::render_settlement::html(r, &mut h);
    if let Some(n) = &r.orders {
        let _ = writeln!(
            h,
            "<h2>{} (channel {})</h2>\n<p>{}</p>",
            orders_title(&n.kind),
            escape(&n.channel),
            escape(&orders_line(n))
        );
    }
    super::render_drift::html(r, &mut h);
    super::render_catalog::html(r, &mut h);
    super::render_open_items::html(r, &mut h);
    let net = r.net_by_currency();
    if !net.is_empty() {
        h.push_str("<h2>Money by currency</h2>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Currency</th><th>Partner</th><th>ERP</th><th>Difference</th></tr>\n");
        for (c, p, erp, d) in &net {
            let cell = |field: &str, v: &rust_decimal::Decimal| {
                format!(
                    "<td {RIGHT} data-net-currency=\"{}\" data-field=\"{field}\">{v}</td>",
                    e(c)
                )
            };
            let _ = writeln!(
                h,
                "<tr><td>{}</td>{}{}{}</tr>",
                e(c),
                cell("partner", p),
                cell("erp", erp),
                cell("difference", d)
            );
        }
        h.push_str("</table>\n");
    }
    if let Some(rec) = &r.reconciliation {
        h.push_str("<h2>Reconciliation</h2>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Status</th><th>Keys</th></tr>\n");
        for st in ReconStatus::ALL {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td {RIGHT} data-count=\"{}\">{}</td></tr>",
                st.label(),
                st.as_str(),
                rec.counts.get(st)
            );
        }
        h.push_str("</table>\n");
        if !rec.totals.is_empty() {
            h.push_str("<h3>Money by currency and status</h3>\n<table border=\"1\" cellpadding=\"4\"><tr><th>Currency</th><th>Status</th><th>Keys</th><th>Partner</th><th>ERP</th><th>Difference</th></tr>\n");
            for m in &rec.totals {
                let attr = |field: &str| {
                    format!(
                        "{RIGHT} data-currency=\"{}\" data-status=\"{}\" data-field=\"{field}\"",
                        e(&m.currency),
                        m.status.as_str()
                    )
                };
                let _ = writeln!(h, "<tr><td>{}</td><td>{}</td><td {}>{}</td><td {}>{}</td><td {}>{}</td><td {}>{}</td></tr>", e(&m.currency), m.status.label(), attr("count"), m.count, attr("partner"), m.partner, attr("erp"), m.erp, attr("difference"), m.difference);
            }
            h.push_str("</table>\n");
        }
    }
    if !r.breaks.is_empty() {
        let _ = writeln!(
            h,
            "<h2><span data-total=\"breaks\">{}</span> breaks, largest difference first within each currency</h2>",
            r.breaks.len()
        );
        let groups = r.breaks_by_currency();
        let single = groups.len() == 1;
        for (currency, list) in groups {
            let shown = opts.top_breaks.min(list.len());
            let _ = writeln!(
                h,
                "<h3>{}top {shown} of {}</h3>",
                e(&group_label(currency, single)),
                list.len()
            );
            h.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>Key</th><th>Status</th><th>Measures</th></tr>\n");
            for b in list.into_iter().take(opts.top_breaks) {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&keys_text(b)),
                    e(b.status_label()),
                    e(&measures_text(b))
                );
            }
            h.push_str("</table>\n");
        }
    }
    if !r.issues.is_empty() {
        let _ = writeln!(
            h,
            "<h2>Validation issues (<span data-total=\"issues\">{}</span>)</h2>",
            r.issues.len()
        );
        for (rule, list) in issues_by_rule(&r.issues) {
            let _ = writeln!(
                h,
                "<h3>{} &mdash; <span data-rule=\"{}\">{}</span> issue(s)</h3>",
                e(rule),
                e(rule),
                list.len()
            );
            h.push_str("<table border=\"1\" cellpadding=\"4\"><tr><th>File</th><th>Line</th><th>Column</th><th>Value</th><th>Severity</th><th>Message</th></tr>\n");
            for i in list.iter().take(opts.examples_per_rule) {
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    e(&i.file),
                    opt(&i.line),
                    e(&opt(&i.column)),
                    e(&opt(&i.value)),
                    i.severity.as_str(),
                    e(&i.message)
                );
            }
            h.push_str("</table>\n");
        }
    }
    for (title, notes) in file_sections(r) {
        if !notes.is_empty() {
            let _ = writeln!(h, "<h2>{title} ({})</h2>\n<ul>", notes.len());
            for n in notes {
                let _ = writeln!(
                    h,
                    "<li><strong>{}</strong> <small>sha256 {}</small>: {}</li>",
                    e(&n.name),
                    e(&n.sha256),
                    e(&n.reason)
                );
            }
            h.push_str("</ul>\n");
        }
    }
    let _ = writeln!(h, "<p>{}</p>\n</body></html>", escape(closing));
    h
}

/// The heading of an orders note by its kind (`runner/process/orders.rs` `orders_note`).
fn orders_title(kind: &str) -> &'static str {
    match kind {
        "shipments" => "Shipments",
        "invoices" => "Invoices",
        "returns" => "Returns",
        "settled orders" => "Settled orders",
        _ => "Orders",
    }
}

/// "new 1, duplicate 1, amendment 0, ...": the counts of an orders note, in their order.
fn orders_line(n: &super::model::OrdersNote) -> String {
    n.counts
        .iter()
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

fn orders_text(r: &RunReport, t: &mut String) {
    let Some(n) = &r.orders else {
        return;
    };
    let title = orders_title(&n.kind).to_uppercase();
    let _ = writeln!(t, "{title} (channel {})", n.channel);
    let _ = writeln!(t, "  {}\n", orders_line(n));
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn report(pipeline: &str) -> RunReport {
        RunReport {
            pipeline: pipeline.into(),
            business_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default(),
            run_id: "r1".into(),
            time_zone: "UTC".into(),
            reconciliation: None,
            breaks: vec![],
            issues: vec![Issue::error("f.csv", "type", "bad")],
            duplicates: vec![],
            corrections: vec![],
            quarantined: vec![],
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

    #[test]
    fn subjects_fill_placeholders_once_and_drop_control_characters() {
        // (pipeline, template, expected)
        let cases = [
            (
                "orders",
                "{pipeline} {date}: {summary}",
                "orders 2026-03-01: 1 issue",
            ),
            ("x{summary}", "[{pipeline}]", "[x{summary}]"),
            (
                "a\r\nBcc: evil@example.com",
                "{pipeline}",
                "aBcc: evil@example.com",
            ),
            ("p", "{unclosed", "{unclosed"),
            ("p", "{}{date}", "{}2026-03-01"),
        ];
        for (pipeline, template, want) in cases {
            assert_eq!(subject(&report(pipeline), template), want, "{template}");
        }
    }

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
