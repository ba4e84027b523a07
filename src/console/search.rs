//! `/search?q=`: where a file is and what became of it, found by name or sha256 prefix (received
//! files and written outputs), a run by id, or an order by id: each answer names its run.

use maud::html;

use super::layout::{self, seg};
use super::{failure, parse_form, Console, Reply};

/// Shortest query searched (a single character would list everything).
const MIN_QUERY: usize = 2;

pub fn page(console: &Console, query: &str) -> Reply {
    let form = parse_form(query);
    let q = form.get("q").map(|q| q.trim()).unwrap_or("").to_string();
    if q.chars().count() < MIN_QUERY {
        return Reply::html(
            200,
            layout::page(
                "Find",
                html! { p { "Type at least " (MIN_QUERY) " characters: a file name, a sha256 prefix, a run id or an order id." } },
            ),
        );
    }
    let ledger = match console.ledger() {
        Ok(l) => l,
        Err(e) => return failure(503, "Find", &format!("the ledger cannot be read: {e}")),
    };
    let runs = ledger.runs_with_prefix(&q).unwrap_or_default();
    let files = ledger.find_files(&q).unwrap_or_default();
    let orders = ledger.order_timeline(&q, None).unwrap_or_default();
    drop(ledger);
    let nothing = runs.is_empty() && files.is_empty() && orders.is_empty();
    let body = html! {
        @if nothing { p #nothing { "Nothing matches " code { (q) } "." } }
        @if !runs.is_empty() {
            h2 { "Runs" }
            ul #found-runs { @for r in &runs {
                li { a href={ "/runs/" (seg(&r.run_id)) } { (r.run_id) } ": " (r.pipeline) ", "
                     (r.business_date.as_deref().unwrap_or("-")) ", " (r.state) ", " (r.file.as_deref().unwrap_or("")) }
            } }
        }
        @if !files.is_empty() {
            h2 { "Files" }
            div.scroll { table #found-files {
                thead { tr { th { "File" } th { "Pipeline" } th { "What happened" } th { "When" } th { "Run" } th { "sha256" } th.num { "Bytes" } } }
                tbody { @for f in &files {
                    tr {
                        td { (f.name) div.muted { (f.kind) } } td { (f.pipeline) } td { (f.what) } td { (f.at) }
                        td { @if let Some(r) = &f.run_id { a href={ "/runs/" (seg(r)) } { (r) } } }
                        td { code { (f.sha256) } } td.num { (f.size) }
                    }
                } }
            } }
        }
        @if !orders.is_empty() {
            h2 { "Order " (q) }
            div.scroll { table #found-order {
                thead { tr { th { "When" } th { "Channel" } th { "Event" } th { "Pipeline" } th { "Run" } th { "File" } th { "Detail" } } }
                tbody { @for e in &orders {
                    tr {
                        td { (e.at) } td { (e.channel) } td { (e.event) " (v" (e.version) ")" } td { (e.pipeline) }
                        td { a href={ "/runs/" (seg(&e.run_id)) } { (e.run_id) } }
                        td { (e.file) @if let Some(l) = e.line { ":" (l) } } td { (e.detail.as_deref().unwrap_or("")) }
                    }
                } }
            } }
        }
    };
    Reply::html(200, layout::page(&format!("Find “{q}”"), body))
}
