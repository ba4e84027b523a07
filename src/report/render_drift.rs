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

#[cfg(test)]
mod tests {
    use super::*;

    fn report(patch_file: Option<&str>) -> RunReport {
        let mut r: RunReport = serde_json::from_value(serde_json::json!({
            "pipeline": "p", "business_date": "2026-11-25", "run_id": "r000007",
            "time_zone": "UTC", "reconciliation": null, "breaks": [], "issues": [],
            "duplicates": [], "corrections": [], "quarantined": []
        }))
        .expect("an old report.json, without schema_drift, still reads");
        assert_eq!(r.schema_drift, None);
        r.schema_drift = Some(DriftNote {
            schema: "s.v1".into(),
            changes: vec!["column 2 `a<b` is new (not in the schema)".into()],
            patch_file: patch_file.map(str::to_string),
            patch: patch_file.map(|_| "[\n  {\"op\": \"add\"}\n]\n".to_string()),
            schema_sha256: None,
            no_patch: patch_file
                .is_none()
                .then(|| "schemas/s.v1.json: gone".into()),
        });
        r
    }

    #[test]
    fn the_drift_and_the_command_that_applies_its_patch() {
        let r = report(Some("archive/p/d/r000007/schema.patch.json"));
        let mut t = String::new();
        text(&r, &mut t);
        assert!(
            t.starts_with("SCHEMA DRIFT (schema s.v1)\n  column 2 `a<b` is new"),
            "{t}"
        );
        assert!(t.contains("`tallyman schema apply r000007`"), "{t}");
        assert!(t.contains("    {\"op\": \"add\"}"), "{t}");
        let mut h = String::new();
        html(&r, &mut h);
        assert!(h.contains("a&lt;b"), "escaped: {h}");
        assert!(h.contains("<pre id=\"schema-patch\">"), "{h}");
        let mut t = String::new();
        text(&report(None), &mut t);
        assert!(
            t.contains("No patch proposed: schemas/s.v1.json: gone"),
            "{t}"
        );
        assert!(!t.contains("schema apply"), "{t}");
    }
}
