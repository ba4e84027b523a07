//! The schema-drift part of a report: how the file's header differs from its schema, and the
//! proposed schema patch with the command that applies it (text and HTML).

use std::fmt::Write;

use super::model::{DriftNote, RunReport};
use super::render::escape;

/// The one command a person runs after reviewing the patch.
fn apply_line(n: &DriftNote, run_id: &str) -> Option<String> {
    n.patch_file.as_ref().map(|f| {
        format!(
            "Proposed patch of schemas/{}.json: {f}; review it, then `tallyman schema apply {run_id}` and rerun the file.",
            n.schema
        )
    })
}

pub(super) fn text(r: &RunReport, t: &mut String) {
    let Some(n) = &r.schema_drift else {
        return;
    };
    let _ = writeln!(t, "SCHEMA DRIFT (schema {})", n.schema);
    for c in &n.changes {
        let _ = writeln!(t, "  {c}");
    }
    if let Some(line) = apply_line(n, &r.run_id) {
        let _ = writeln!(t, "  {line}");
    }
    if let Some(why) = &n.no_patch {
        let _ = writeln!(t, "  No patch proposed: {why}");
    }
    if let Some(p) = &n.patch {
        for l in p.lines() {
            let _ = writeln!(t, "    {l}");
        }
    }
    let _ = writeln!(t);
}

pub(super) fn html(r: &RunReport, h: &mut String) {
    let Some(n) = &r.schema_drift else {
        return;
    };
    let _ = writeln!(
        h,
        "<h2>Schema drift ({})</h2>\n<ul id=\"schema-drift\">",
        escape(&n.schema)
    );
    for c in &n.changes {
        let _ = writeln!(h, "<li>{}</li>", escape(c));
    }
    h.push_str("</ul>\n");
    if let Some(line) = apply_line(n, &r.run_id) {
        let _ = writeln!(h, "<p>{}</p>", escape(&line));
    }
    if let Some(why) = &n.no_patch {
        let _ = writeln!(h, "<p>No patch proposed: {}</p>", escape(why));
    }
    if let Some(p) = &n.patch {
        let _ = writeln!(h, "<pre id=\"schema-patch\">{}</pre>", escape(p));
    }
}
