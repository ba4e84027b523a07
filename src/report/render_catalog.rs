//! The catalog part of a report: the change set in one line, and the version published or why
//! the catalog was held (text and HTML).

use std::fmt::Write;

use super::model::{CatalogNote, RunReport};
use super::render::escape;

/// What became of the catalog, in one sentence.
fn outcome(n: &CatalogNote) -> String {
    let against = match n.previous_version {
        Some(v) => format!("against version {v}"),
        None => "the source's first catalog".into(),
    };
    match (&n.held, n.version) {
        (Some(why), _) => format!("Held, not applied ({against}): {why}"),
        (None, Some(v)) => format!("Published as version {v} of {} ({against}).", n.source),
        (None, None) => format!("Not published ({against})."),
    }
}

pub(super) fn text(r: &RunReport, t: &mut String) {
    let Some(n) = &r.catalog else {
        return;
    };
    let _ = writeln!(t, "CATALOG {}", n.source);
    let _ = writeln!(t, "  {}", n.summary);
    let _ = writeln!(t, "  {}\n", outcome(n));
}

pub(super) fn html(r: &RunReport, h: &mut String) {
    let Some(n) = &r.catalog else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2>Catalog {}</h2>\n<p id=\"catalog-changes\">{}</p>\n<p id=\"catalog-outcome\">{}</p>",
        escape(&n.source),
        escape(&n.summary),
        escape(&outcome(n))
    );
}
