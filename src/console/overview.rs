//! `/`: one row per pipeline, problems first (failing, late, breaks open, paused, ok), with its
//! last run, what comes next, open breaks, failing source, and undelivered uploads and mails;
//! below, the uploads and mails that failed (with retry buttons when actions are allowed).
//! The table refreshes itself from `/fragments/overview` (no full reload, no flicker).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use maud::{html, Markup};
use rust_decimal::Decimal;

use super::layout::{self, age, badge, seg};
use super::{actions, failure, Console, Reply};
use crate::daemon::expected::{Arrival, WindowState};
use crate::store::open_items::ItemFilter;
use crate::store::{DeliveryState, Ledger, MailState, RunRow};

/// How often the overview refreshes its table.
const REFRESH_MS: u32 = 10_000;

/// What the overview says of one pipeline.
#[derive(Debug, Clone)]
pub struct Status {
    pub pipeline: String,
    /// `failing`, `late`, `breaks open`, `paused` or `ok`: the worst that applies.
    pub state: &'static str,
    /// Every reason, one sentence each.
    pub reasons: Vec<String>,
    pub last_run: Option<RunRow>,
    pub next: Option<String>,
    pub open_breaks: usize,
    /// Open amounts summed per currency ("" when the breaks carry none).
    pub open_amounts: BTreeMap<String, Decimal>,
    pub failing_source: Option<String>,
    pub undelivered: i64,
    pub unsent_mail: usize,
}

fn rank(state: &str) -> u8 {
    match state {
        "failing" => 0,
        "late" => 1,
        "breaks open" => 2,
        "paused" => 3,
        _ => 4,
    }
}

/// Every pipeline's status, problems first, as of `now`.
pub fn statuses(
    console: &Console,
    ledger: &Ledger,
    now: DateTime<Utc>,
) -> Result<Vec<Status>, crate::store::StoreError> {
    let since = crate::runner::now_text(now - chrono::Duration::hours(24));
    let unresolved = ledger.unresolved_runs(&since)?;
    let sources = ledger.source_problems()?;
    let paused = ledger.paused_pipelines()?;
    let undelivered = ledger.undelivered_by_pipeline()?;
    let mail = ledger.mail_queue()?;
    let mut out = Vec::new();
    for (id, p) in console.pipelines() {
        let mut reasons = Vec::new();
        let mut states = Vec::new();
        for u in unresolved.iter().filter(|u| u.pipeline == id) {
            states.push("failing");
            reasons.push(format!(
                "{} {} run(s) in the last 24h not rerun successfully (latest: {})",
                u.count,
                u.state,
                u.latest_file.as_deref().unwrap_or("-")
            ));
        }
        let failing_source = sources.iter().find(|s| s.pipeline == id).map(|s| {
            format!(
                "{} failing since {} ({} pass(es)): {}",
                s.source, s.failing_since, s.failures, s.last_error
            )
        });
        if let Some(s) = &failing_source {
            states.push("failing");
            reasons.push(format!("source {s}"));
        }
        let mut next = p.schedule.as_ref().and_then(|s| {
            s.next_after(now)
                .map(|t| format!("tick at {}", t.format("%Y-%m-%d %H:%M UTC")))
        });
        if let Some(expected) = &p.expected {
            let from = ledger.expected_since(&id, now)?;
            let arrivals: Vec<Arrival> = ledger
                .arrival_dates(&id)?
                .into_iter()
                .map(Arrival::BusinessDate)
                .collect();
            let windows = expected.windows(from, now, &arrivals);
            if let Some(w) = windows.last().filter(|w| w.state == WindowState::Late) {
                states.push("late");
                reasons.push(format!(
                    "no file for business date {} by its deadline {}",
                    w.date,
                    w.deadline.format("%Y-%m-%d %H:%M UTC")
                ));
            }
            if let Some((date, deadline)) = expected.next_deadline(now) {
                let file = format!(
                    "file for {date} expected by {}",
                    deadline.format("%Y-%m-%d %H:%M UTC")
                );
                next = Some(next.map_or(file.clone(), |n| format!("{n}; {file}")));
            }
        }
        let items = ledger.open_items(&ItemFilter {
            pipeline: Some(id.clone()),
            state: Some("open".into()),
            open_before: None,
        })?;
        let mut open_amounts = BTreeMap::new();
        for item in &items {
            if let Some(a) = item
                .amount
                .as_deref()
                .and_then(|a| a.parse::<Decimal>().ok())
            {
                *open_amounts
                    .entry(item.currency.clone().unwrap_or_default())
                    .or_insert(Decimal::ZERO) += a;
            }
        }
        if !items.is_empty() {
            states.push("breaks open");
            reasons.push(format!("{} break(s) open", items.len()));
        }
        if let Some(pz) = paused.iter().find(|pz| pz.pipeline == id) {
            states.push("paused");
            reasons.push(format!(
                "paused by {} at {}{}",
                pz.actor,
                pz.paused_at,
                pz.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            ));
        }
        let state = states.into_iter().min_by_key(|s| rank(s)).unwrap_or("ok");
        let last_run = ledger
            .runs(&crate::store::RunFilter {
                pipeline: Some(id.clone()),
                limit: Some(1),
                ..Default::default()
            })?
            .into_iter()
            .next();
        out.push(Status {
            undelivered: undelivered.get(&id).copied().unwrap_or(0),
            unsent_mail: mail
                .iter()
                .filter(|m| m.pipeline == id && m.state != MailState::Sent)
                .count(),
            pipeline: id,
            state,
            reasons,
            last_run,
            next,
            open_breaks: items.len(),
            open_amounts,
            failing_source,
        });
    }
    out.sort_by(|a, b| {
        rank(a.state)
            .cmp(&rank(b.state))
            .then(a.pipeline.cmp(&b.pipeline))
    });
    Ok(out)
}

fn table(console: &Console) -> Markup {
    let now = Utc::now();
    let ledger = match console.ledger() {
        Ok(l) => l,
        Err(e) => return html! { p.problem { "the ledger cannot be read: " (e) } },
    };
    let rows = match statuses(console, &ledger, now) {
        Ok(r) => r,
        Err(e) => return html! { p.problem { "the ledger cannot be read: " (e) } },
    };
    html! {
        p.muted { "As of " (now.format("%Y-%m-%d %H:%M:%S UTC")) "; refreshes every " (REFRESH_MS / 1000) "s." }
        div.scroll {
            table #pipelines {
                caption.muted { "Pipelines, problems first" }
                thead { tr {
                    th scope="col" { "Pipeline" } th scope="col" { "State" } th scope="col" { "Last run" }
                    th scope="col" { "Next" } th scope="col" class="num" { "Open breaks" }
                    th scope="col" { "Source" } th scope="col" class="num" { "Uploads / mails waiting" }
                } }
                tbody {
                    @for s in &rows {
                        tr data-pipeline=(s.pipeline) data-state=(s.state) {
                            th scope="row" { a href={ "/pipelines/" (seg(&s.pipeline)) } { (s.pipeline) } }
                            td data-label="State" {
                                (badge(s.state))
                                @for r in &s.reasons { div.muted { (r) } }
                            }
                            td data-label="Last run" {
                                @if let Some(r) = &s.last_run {
                                    a href={ "/runs/" (seg(&r.run_id)) } { (r.run_id) } " " (r.state)
                                    div.muted {
                                        (r.business_date.as_deref().unwrap_or("-")) ", "
                                        (r.rows.unwrap_or(0)) " rows, " (r.issues.unwrap_or(0)) " issues, "
                                        (age(&r.started_at, now))
                                    }
                                } @else { span.muted { "no run yet" } }
                            }
                            td data-label="Next" { (s.next.as_deref().unwrap_or("on arrival")) }
                            td.num data-label="Open breaks" {
                                (s.open_breaks)
                                @for (currency, amount) in &s.open_amounts {
                                    div.muted { (amount) " " (currency) }
                                }
                            }
                            td data-label="Source" {
                                @if let Some(f) = &s.failing_source { span.problem { (f) } } @else { "ok" }
                            }
                            td.num data-label="Uploads / mails waiting" { (s.undelivered) " / " (s.unsent_mail) }
                        }
                    }
                }
            }
        }
        (failed_transfers(console, &ledger))
    }
}

/// Failed uploads and mails, each with its retry button when actions are allowed.
fn failed_transfers(console: &Console, ledger: &Ledger) -> Markup {
    let uploads: Vec<_> = ledger
        .deliveries(None)
        .unwrap_or_default()
        .into_iter()
        .filter(|d| d.state == DeliveryState::Failed)
        .collect();
    let mails: Vec<_> = ledger
        .mail_queue()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m.state == MailState::Failed)
        .collect();
    if uploads.is_empty() && mails.is_empty() {
        return html! {};
    }
    html! {
        h2 { "Failed uploads and mails" }
        table {
            thead { tr { th { "What" } th { "Run" } th { "Error" } th { "" } } }
            tbody {
                @for d in &uploads {
                    tr {
                        td { "upload " (d.id) ": " (d.name) " → " (d.target) }
                        td { a href={ "/runs/" (seg(&d.run_id)) } { (d.run_id) } }
                        td { (d.last_error.as_deref().unwrap_or("")) }
                        td { (actions::retry_form(console, "retry-upload", d.id)) }
                    }
                }
                @for m in &mails {
                    tr {
                        td { "mail " (m.id) ": " (m.subject) }
                        td { a href={ "/runs/" (seg(&m.run_id)) } { (m.run_id) } }
                        td { (m.last_error.as_deref().unwrap_or("")) }
                        td { (actions::retry_form(console, "retry-mail", m.id)) }
                    }
                }
            }
        }
    }
}

/// Swaps the table in place: fetch the fragment, replace the container's HTML.
const REFRESH_SCRIPT: &str = r#"(function () {
  var box = document.getElementById('overview');
  setInterval(function () {
    fetch('/fragments/overview', { cache: 'no-store' })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (t) { if (t !== null) { box.innerHTML = t; } })
      .catch(function () {});
  }, INTERVAL);
})();"#;

pub fn page_markup(console: &Console) -> Markup {
    html! {
        div #overview aria-live="polite" { (table(console)) }
        // A script file, not inline: the console's Content-Security-Policy allows `'self'` only.
        script src="/console.js" {}
    }
}

pub fn page(console: &Console) -> Reply {
    if console.pipelines().is_empty() && console.ledger().is_err() {
        return failure(
            503,
            "Overview",
            "no pipeline loaded and the ledger cannot be read",
        );
    }
    Reply::html(200, layout::page("Pipelines", page_markup(console)))
}

/// The overview's refresh script, served as `/console.js`.
pub fn script() -> Reply {
    Reply {
        status: 200,
        content_type: "text/javascript; charset=utf-8",
        body: REFRESH_SCRIPT
            .replace("INTERVAL", &REFRESH_MS.to_string())
            .into_bytes(),
        headers: vec![("Cache-Control", "max-age=300".into())],
    }
}

pub fn fragment(console: &Console) -> Reply {
    Reply::html(200, table(console))
}
