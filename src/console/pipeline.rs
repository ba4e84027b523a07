//! `/pipelines/<name>`: the pipeline's runs by business date with a chart of rows, issues and
//! breaks per day, its expected-file calendar with missed days marked, its open breaks with their
//! age, the console actions taken on it, its forms, and its configuration as compiled.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Duration, NaiveDate, Utc};
use maud::{html, Markup};

use super::layout::{self, age, seg};
use super::svg::{chart, Day};
use super::{actions, failure, Console, Reply};
use crate::config::Pipeline;
use crate::store::open_items::ItemFilter;
use crate::store::{Ledger, RunFilter, RunRow};

/// Runs listed, newest first; the chart covers the dates among them.
const RUNS_SHOWN: u32 = 200;
/// Days of the expected-file calendar (four weeks, ending today).
const CALENDAR_DAYS: i64 = 28;

/// Breaks of a run: its reconciliation counts other than the matched ones.
fn breaks_of(run: &RunRow) -> i64 {
    run.counts
        .as_deref()
        .and_then(|c| serde_json::from_str::<BTreeMap<String, i64>>(c).ok())
        .map(|m| {
            m.iter()
                .filter(|(k, _)| *k != crate::engine::reconcile::MATCHED)
                .map(|(_, v)| *v)
                .sum()
        })
        .unwrap_or(0)
}

/// One point per business date: the latest run of each file that date, summed.
pub fn days(runs: &[RunRow]) -> Vec<Day> {
    let mut by_date: BTreeMap<&str, (BTreeSet<&str>, Day)> = BTreeMap::new();
    // Newest first: the first run seen of a file on a date is its latest.
    for r in runs {
        let Some(date) = r.business_date.as_deref() else {
            continue;
        };
        let (files, day) = by_date.entry(date).or_insert_with(|| {
            (
                BTreeSet::new(),
                Day {
                    date: date.to_string(),
                    rows: 0,
                    issues: 0,
                    breaks: 0,
                },
            )
        });
        if files.insert(r.file.as_deref().unwrap_or("")) {
            day.rows += r.rows.unwrap_or(0);
            day.issues += r.issues.unwrap_or(0);
            day.breaks += breaks_of(r);
        }
    }
    by_date.into_values().map(|(_, d)| d).collect()
}

fn calendar(p: &Pipeline, ledger: &Ledger) -> Markup {
    let Some(expected) = &p.expected else {
        return html! { p.muted { "No expected file is configured ([expected])." } };
    };
    let now = Utc::now();
    let received: BTreeSet<NaiveDate> = ledger
        .arrival_dates(&p.id)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let today = now.with_timezone(&expected.time_zone()).date_naive();
    let start = today - Duration::days(CALENDAR_DAYS - 1);
    let lead = start.format("%u").to_string().parse::<usize>().unwrap_or(1) - 1;
    html! {
        p.muted { "Expected-file calendar, the last four weeks (Monday first)." }
        div.calendar role="list" aria-label="expected files" {
            @for _ in 0..lead { span aria-hidden="true" {} }
            @for i in 0..CALENDAR_DAYS {
                @let d = start + Duration::days(i);
                @let (class, what) = match expected.deadline(d) {
                    None => ("off", "not due"),
                    Some(_) if received.contains(&d) => ("received", "received"),
                    Some(deadline) if deadline <= now => ("missed", "missed"),
                    Some(_) => ("due", "due"),
                };
                span class=(class) role="listitem" title={ (d) ": " (what) } data-date=(d) {
                    (d.format("%d")) @if class == "missed" { " ✗" }
                    span.muted.day-state { (what) }
                }
            }
        }
    }
}

fn open_breaks(p: &Pipeline, ledger: &Ledger) -> Markup {
    let items = ledger
        .open_items(&ItemFilter {
            pipeline: Some(p.id.clone()),
            state: Some("open".into()),
            open_before: None,
        })
        .unwrap_or_default();
    if items.is_empty() {
        return html! { p.muted { "No open breaks." } };
    }
    let today = Utc::now().date_naive();
    html! {
        div.scroll { table {
            thead { tr { th { "Key" } th { "Kind" } th { "Open since" } th.num { "Age (days)" } th.num { "Amount" } th { "Note" } } }
            tbody { @for i in &items {
                @let days = i.open_since.parse::<NaiveDate>().map(|d| (today - d).num_days()).unwrap_or(0);
                tr {
                    td { code { (i.key) } } td { (i.kind) } td { (i.open_since) } td.num { (days) }
                    td.num { (i.amount.as_deref().unwrap_or("")) " " (i.currency.as_deref().unwrap_or("")) }
                    td { (i.note.as_deref().unwrap_or("")) }
                }
            } }
        } }
    }
}

pub fn page(console: &Console, name: &str) -> Reply {
    let Some(p) = console.pipelines().get(name).cloned() else {
        return failure(
            404,
            "No such pipeline",
            &format!("no pipeline `{name}` is loaded"),
        );
    };
    let ledger = match console.ledger() {
        Ok(l) => l,
        Err(e) => return failure(503, name, &format!("the ledger cannot be read: {e}")),
    };
    let runs = ledger
        .runs(&RunFilter {
            pipeline: Some(p.id.clone()),
            limit: Some(RUNS_SHOWN),
            ..Default::default()
        })
        .unwrap_or_default();
    let paused = ledger
        .paused_pipelines()
        .unwrap_or_default()
        .into_iter()
        .find(|x| x.pipeline == p.id);
    let done: Vec<_> = ledger
        .console_actions(200)
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.pipeline.as_deref() == Some(p.id.as_str()))
        .take(10)
        .collect();
    let now = Utc::now();
    let body = html! {
        p { (p.description) }
        @if let Some(pz) = &paused {
            p.problem { "Paused by " (pz.actor) " at " (pz.paused_at) @if let Some(r) = &pz.reason { ": " (r) } }
        }
        (actions::pause_form(console, &p.id, paused.is_some()))
        h2 { "Runs by business date" }
        (chart(&days(&runs)))
        (actions::rerun_form(console, &p.id))
        div.scroll { table #runs {
            thead { tr {
                th { "Business date" } th { "Run" } th { "State" } th { "File" } th.num { "Rows" }
                th.num { "Issues" } th.num { "Breaks" } th { "Started" } th { "Trigger" }
            } }
            tbody { @for r in &runs {
                tr {
                    td { (r.business_date.as_deref().unwrap_or("-")) }
                    td { a href={ "/runs/" (seg(&r.run_id)) } { (r.run_id) } }
                    td { (r.state) }
                    td { (r.file.as_deref().unwrap_or("")) }
                    td.num { (r.rows.unwrap_or(0)) } td.num { (r.issues.unwrap_or(0)) } td.num { (breaks_of(r)) }
                    td { (age(&r.started_at, now)) }
                    td { (r.trigger) @if let Some(a) = &r.actor { " by " (a) } @if let Some(why) = &r.reason { ": " (why) } }
                }
            } }
        } }
        h2 { "Expected file" }
        (calendar(&p, &ledger))
        h2 { "Open breaks" }
        (open_breaks(&p, &ledger))
        @if !done.is_empty() {
            h2 { "Console actions" }
            table #actions {
                thead { tr { th { "When" } th { "Who" } th { "What" } th { "Outcome" } } }
                tbody { @for a in &done {
                    tr {
                        td { (a.at) } td { (a.actor) }
                        td { (a.action) " " (a.target.as_deref().unwrap_or("")) @if let Some(r) = &a.reason { ": " (r) } }
                        td { (a.outcome.as_deref().unwrap_or("in progress")) }
                    }
                } }
            }
        }
        h2 { "Configuration as compiled" }
        p.muted { "config sha256 " code { (p.config_sha256) } }
        details { summary { "Show" } pre { (format!("{p:#?}")) } }
    };
    Reply::html(200, layout::page(&p.id, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(date: &str, file: &str, rows: i64, counts: &str) -> RunRow {
        RunRow {
            run_id: "r".into(),
            file_id: None,
            pipeline: "p".into(),
            business_date: Some(date.into()),
            file: Some(file.into()),
            started_at: String::new(),
            ended_at: None,
            state: "succeeded".into(),
            trigger: "file".into(),
            actor: None,
            reason: None,
            rows: Some(rows),
            issues: Some(1),
            counts: Some(counts.into()),
            message: None,
            archive_path: None,
        }
    }

    #[test]
    fn a_day_counts_the_latest_run_of_each_file() {
        // Newest first, as the ledger lists them: the rerun (30 rows) replaces the first run.
        let runs = vec![
            run(
                "2026-01-02",
                "a.csv",
                30,
                r#"{"matched":5,"missing_in_erp":2}"#,
            ),
            run("2026-01-02", "a.csv", 10, "{}"),
            run("2026-01-02", "b.csv", 5, "{}"),
            run("2026-01-01", "a.csv", 7, r#"{"amount_mismatch":1}"#),
        ];
        let d = days(&runs);
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].date.as_str(), d[0].rows, d[0].breaks),
            ("2026-01-01", 7, 1)
        );
        assert_eq!((d[1].rows, d[1].issues, d[1].breaks), (35, 2, 2));
    }
}
