//! Schema drift of a CSV partner file: when its header does not match the pipeline's schema,
//! the changes go into the report and the JSON Patch of the schema file that would accept the
//! file is archived with the run as `schema.patch.json` (`tallyman schema apply RUN`).

use super::Run;
use crate::config::InputFormat;
use crate::report::model::DriftNote;
use crate::runner::{rel, RunError};
use crate::schema::drift;
use crate::schema::validate::Validated;
use crate::store::files::{sha256_hex, write_atomic};

/// The proposed patch's name in the run's archive folder.
pub const PATCH_FILE: &str = "schema.patch.json";

impl Run<'_> {
    /// Notes the drift of a CSV file whose header the schema refused, archiving the proposed
    /// patch; returns the changes in one phrase for the rejection reason. Documents' mapped
    /// tables and settlement layouts are ours, not the partner's header: no drift there.
    pub(super) fn note_drift(&mut self, v: &Validated) -> Result<Option<String>, RunError> {
        let p = self.p;
        if !matches!(p.format, InputFormat::Csv)
            || v.header.is_empty()
            || !v.fatal.iter().any(|i| i.rule == "header")
        {
            return Ok(None);
        }
        let fields: Vec<String> = p.schema.fields.iter().map(|f| f.name.clone()).collect();
        let d = drift::compare(&fields, &v.header);
        if d.is_empty() {
            return Ok(None);
        }
        let changes: Vec<String> = d.changes.iter().map(drift::Change::describe).collect();
        let mut note = DriftNote {
            schema: p.schema.name.clone(),
            changes: changes.clone(),
            patch_file: None,
            patch: None,
            schema_sha256: None,
            no_patch: None,
        };
        let path = self
            .home
            .root
            .join("schemas")
            .join(format!("{}.json", p.schema.name));
        // The schema file may have been edited since the pipeline was loaded: the patch is made
        // against the bytes read here, and their hash is what `schema apply` checks.
        let proposed = std::fs::read(&path)
            .map_err(|e| format!("{}: {e}", rel(self.home, &path)))
            .and_then(|bytes| {
                let doc = serde_json::from_slice(&bytes)
                    .map_err(|e| format!("{}: {e}", rel(self.home, &path)))?;
                let patch = drift::patch(&d, &doc).map_err(|e| e.to_string())?;
                Ok((sha256_hex(&bytes), drift::render_patch(&patch)))
            });
        match proposed {
            Ok((sha, text)) => {
                let written = write_atomic(&self.dir, PATCH_FILE, text.as_bytes())?;
                note.patch_file = Some(rel(self.home, &written));
                note.patch = Some(text);
                note.schema_sha256 = Some(sha);
            }
            Err(why) => note.no_patch = Some(why),
        }
        let shown = match &note.patch_file {
            Some(f) => format!(
                "schema drift: {}; proposed schema patch {f} (tallyman schema apply {})",
                changes.join("; "),
                self.run_id
            ),
            None => format!("schema drift: {}", changes.join("; ")),
        };
        self.drift_note = Some(note);
        Ok(Some(shown))
    }
}
