//! The catalog part of a report: the change set in one line, the version published or why the
//! catalog was held, and the first changes (text and HTML).

use std::fmt::Write;

use super::model::{CatalogChangeLine, CatalogNote, RunReport};
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

/// A change as one phrase: "A-01 price: 1.00 -> 1.25", "B-01 new".
fn phrase(c: &CatalogChangeLine) -> String {
    match &c.field {
        Some(f) => format!(
            "{} {f}: {} -> {}",
            c.sku,
            c.old_value.as_deref().unwrap_or("(empty)"),
            c.new_value.as_deref().unwrap_or("(empty)")
        ),
        None => format!("{} {}", c.sku, c.change),
    }
}

fn more(n: &CatalogNote) -> Option<String> {
    (n.more_changes > 0).then(|| format!("and {} more (catalog_changes)", n.more_changes))
}

pub(super) fn text(r: &RunReport, t: &mut String) {
    let Some(n) = &r.catalog else {
        return;
    };
    let _ = writeln!(t, "CATALOG {}", n.source);
    let _ = writeln!(t, "  {}", n.summary);
    let _ = writeln!(t, "  {}", outcome(n));
    for c in &n.changes {
        let _ = writeln!(t, "    {}", phrase(c));
    }
    if let Some(m) = more(n) {
        let _ = writeln!(t, "    {m}");
    }
    let _ = writeln!(t);
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
    if n.changes.is_empty() {
        return;
    }
    h.push_str("<ul id=\"catalog-change-list\">\n");
    for c in &n.changes {
        let _ = writeln!(h, "<li>{}</li>", escape(&phrase(c)));
    }
    if let Some(m) = more(n) {
        let _ = writeln!(h, "<li>{}</li>", escape(&m));
    }
    h.push_str("</ul>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_and_outcomes_read_as_sentences() {
        let line = |field: Option<&str>, old: Option<&str>, new: Option<&str>| CatalogChangeLine {
            sku: "A-1".into(),
            change: if field.is_some() { "changed" } else { "new" }.into(),
            field: field.map(String::from),
            old_value: old.map(String::from),
            new_value: new.map(String::from),
        };
        assert_eq!(
            phrase(&line(Some("price"), Some("1.00"), Some("1.25"))),
            "A-1 price: 1.00 -> 1.25"
        );
        assert_eq!(
            phrase(&line(Some("gtin"), None, Some("96385074"))),
            "A-1 gtin: (empty) -> 96385074"
        );
        assert_eq!(phrase(&line(None, None, None)), "A-1 new");
        let mut n = CatalogNote {
            source: "acme".into(),
            previous_version: Some(3),
            version: Some(4),
            ..CatalogNote::default()
        };
        assert_eq!(
            outcome(&n),
            "Published as version 4 of acme (against version 3)."
        );
        n.held = Some("why".into());
        assert_eq!(outcome(&n), "Held, not applied (against version 3): why");
        n.previous_version = None;
        assert_eq!(
            outcome(&n),
            "Held, not applied (the source's first catalog): why"
        );
        n.more_changes = 5;
        assert_eq!(more(&n).as_deref(), Some("and 5 more (catalog_changes)"));
    }
}
