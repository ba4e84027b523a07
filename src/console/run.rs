//! `/runs/<id>`: one run: its counts, the archived exception report (`report.html`, the HTML of
//! the email, shown in a sandboxed frame from `/runs/<id>/report`), the manifest's inputs and
//! outputs with checksums and sizes, each output's delivery, the issues with file, line and
//! column, what changed against the run it replayed, and links to every archived file.

use std::path::{Path, PathBuf};

use maud::{html, Markup};

use super::layout::{page, seg};
use super::{failure, Console, Reply};
use crate::runner::manifest::{self, Manifest};
use crate::store::RunRow;

/// Issues listed on the page (the archived issues.csv holds them all).
const ISSUES_SHOWN: u32 = 500;

pub fn route(console: &Console, rest: &str) -> Reply {
    let rest = super::percent_decode(rest);
    match rest.split_once('/') {
        None => page_of(console, &rest),
        Some((id, "report")) => report(console, id),
        Some(_) => failure(404, "Not found", "no such page of a run"),
    }
}

/// The run and its archive folder (absolute), if it has one.
fn find(console: &Console, id: &str) -> Result<(RunRow, Option<PathBuf>), Reply> {
    let ledger = console
        .ledger()
        .map_err(|e| failure(503, id, &format!("the ledger cannot be read: {e}")))?;
    let run = ledger
        .run_by_id(id)
        .map_err(|e| failure(503, id, &e.to_string()))?
        .ok_or_else(|| failure(404, "No such run", &format!("no run `{id}` in the ledger")))?;
    let dir = run
        .archive_path
        .as_deref()
        .map(|rel| console.home.root.join(rel));
    Ok((run, dir))
}

fn report(console: &Console, id: &str) -> Reply {
    let (_, dir) = match find(console, id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    match dir.map(|d| std::fs::read(d.join("report.html"))) {
        Some(Ok(bytes)) => Reply {
            status: 200,
            content_type: "text/html; charset=utf-8",
            body: bytes,
            // The report is shown, never run: no script, no form, no navigation of the console.
            headers: vec![(
                "Content-Security-Policy",
                "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:".into(),
            )],
        },
        _ => Reply::text(404, "this run has no archived report.html\n"),
    }
}

/// Every file under the run's folder, relative to the archive (for download links).
fn archived_files(archive: &Path, dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            e.path()
                .strip_prefix(archive)
                .ok()
                .and_then(|p| p.to_str())
                .map(String::from)
        })
        .collect();
    out.sort();
    out
}

fn link(rel: &str) -> String {
    let parts: Vec<String> = rel.split('/').map(seg).collect();
    format!("/archive/{}", parts.join("/"))
}

/// What changed against the replayed run, from the two manifests.
fn diff(now: &Manifest, before: &Manifest) -> Vec<String> {
    let mut out = Vec::new();
    for o in &now.outputs {
        let old = before.outputs.iter().find(|b| {
            b.same_data(&o.table, &o.destination, o.partition.as_deref())
                && b.control_for == o.control_for
        });
        match old {
            None => out.push(format!("{}: new ({} rows)", o.label(), o.rows)),
            Some(b) if b.sha256 == o.sha256 => out.push(format!("{}: byte-identical", o.label())),
            Some(b) => out.push(format!(
                "{}: differs ({} rows, was {}; sha256 {}…, was {}…)",
                o.label(),
                o.rows,
                b.rows,
                &o.sha256[..12.min(o.sha256.len())],
                &b.sha256[..12.min(b.sha256.len())]
            )),
        }
    }
    for b in &before.outputs {
        if !now.outputs.iter().any(|o| {
            o.same_data(&b.table, &b.destination, b.partition.as_deref())
                && b.control_for == o.control_for
        }) {
            out.push(format!("{}: no longer written", b.label()));
        }
    }
    if now.rows != before.rows || now.issues != before.issues {
        out.push(format!(
            "rows {} (was {}), issues {} (was {})",
            now.rows, before.rows, now.issues, before.issues
        ));
    }
    if now.reconciliation != before.reconciliation {
        out.push(format!(
            "reconciliation {:?} (was {:?})",
            now.reconciliation, before.reconciliation
        ));
    }
    out
}

fn manifest_tables(m: &Manifest, deliveries: &[crate::store::deliveries::Delivery]) -> Markup {
    html! {
        h2 { "Counts (manifest)" }
        dl #counts {
            dt { "Rows" } dd data-count="rows" { (m.rows) }
            dt { "Rows set aside" } dd data-count="rows_set_aside" { (m.rows_set_aside) }
            dt { "Issues" } dd data-count="issues" { (m.issues) }
            @for (k, v) in &m.reconciliation { dt { (k) } dd data-count=(k) { (v) } }
        }
        h2 { "Inputs" }
        div.scroll { table #inputs {
            thead { tr { th { "Role" } th { "Name" } th.num { "Bytes" } th { "sha256" } } }
            tbody { @for i in &m.inputs {
                tr { td { (i.role) } td { (i.name) } td.num { (i.size) } td { code { (i.sha256) } } }
            } }
        } }
        h2 { "Outputs" }
        div.scroll { table #outputs {
            thead { tr { th { "Table" } th { "Destination" } th { "Name" } th.num { "Rows" } th.num { "Bytes" } th { "sha256" } th { "Delivery" } } }
            tbody { @for o in &m.outputs {
                @let d = deliveries.iter().find(|d| d.name == o.name && d.destination == o.destination);
                tr {
                    td { (o.table) } td { (o.destination) } td { (o.name) } td.num { (o.rows) } td.num { (o.size) }
                    td { code { (o.sha256) } }
                    td {
                        @match d {
                            Some(d) => { (d.state) " (" (d.attempts) " attempt(s))" @if let Some(e) = &d.last_error { div.problem { (e) } } }
                            None => @if o.held.is_some() { "held" } @else { "written to the outbox" },
                        }
                    }
                }
            } }
        } }
    }
}

fn page_of(console: &Console, id: &str) -> Reply {
    let (run, dir) = match find(console, id) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let ledger = match console.ledger() {
        Ok(l) => l,
        Err(e) => return failure(503, id, &e),
    };
    let manifest = dir
        .as_deref()
        .map(manifest::read_if_present)
        .transpose()
        .map(Option::flatten);
    let deliveries = ledger.deliveries(Some(id)).unwrap_or_default();
    let issues = ledger.run_issues(id, ISSUES_SHOWN).unwrap_or_default();
    let replayed = ledger.rerun_of(id).ok().flatten();
    let before = replayed.as_deref().and_then(|r| {
        let rel = ledger.run_archive(r).ok().flatten()?;
        manifest::read_if_present(&console.home.root.join(rel))
            .ok()
            .flatten()
    });
    drop(ledger);
    let archive = console.home.archive();
    let archive = archive.canonicalize().unwrap_or(archive);
    let files = dir
        .as_deref()
        .and_then(|d| d.canonicalize().ok())
        .map(|d| archived_files(&archive, &d))
        .unwrap_or_default();
    let has_report = dir
        .as_deref()
        .is_some_and(|d| d.join("report.html").is_file());
    let body = html! {
        p {
            "Pipeline " a href={ "/pipelines/" (seg(&run.pipeline)) } { (run.pipeline) }
            ", business date " (run.business_date.as_deref().unwrap_or("-"))
            ", file " (run.file.as_deref().unwrap_or("-"))
        }
        p {
            strong #run-state { (run.state) } " · " (run.trigger)
            @if let Some(a) = &run.actor { " by " (a) }
            @if let Some(r) = &run.reason { ": " (r) }
            " · started " (run.started_at) @if let Some(e) = &run.ended_at { ", ended " (e) }
        }
        @if let Some(m) = &run.message { p.problem { (m) } }
        @if let Some(r) = &replayed {
            h2 { "Rerun of " a href={ "/runs/" (seg(r)) } { (r) } }
            @match (&manifest, &before) {
                (Ok(Some(now)), Some(b)) => ul #rerun-diff { @for line in diff(now, b) { li { (line) } } },
                _ => p.muted { "The manifests to compare are not both archived." },
            }
        }
        @match &manifest {
            Ok(Some(m)) => (manifest_tables(m, &deliveries)),
            Ok(None) => p.muted { "No manifest archived for this run." },
            Err(e) => p.problem { (e.to_string()) },
        }
        h2 { "Exception report" }
        @if has_report {
            iframe.report src={ "/runs/" (seg(id)) "/report" } title={ "Exception report of run " (id) } {}
        } @else { p.muted { "No report archived for this run." } }
        h2 { "Issues" }
        @if issues.is_empty() { p.muted { "No issues." } } @else {
            div.scroll { table #issues {
                thead { tr { th { "File" } th.num { "Line" } th { "Column" } th { "Value" } th { "Rule" } th { "Severity" } th { "Message" } } }
                tbody { @for i in &issues {
                    tr {
                        td { (i.file) } td.num { (i.line.map(|l| l.to_string()).unwrap_or_default()) }
                        td { (i.column.as_deref().unwrap_or("")) } td { code { (i.value.as_deref().unwrap_or("")) } }
                        td { (i.rule) } td { (i.severity) } td { (i.message) }
                    }
                } }
            } }
        }
        h2 { "Archived files" }
        ul #files { @for f in &files { li { a href=(link(f)) download { (f) } } } }
    };
    Reply::html(200, page(&format!("Run {id}"), body))
}
