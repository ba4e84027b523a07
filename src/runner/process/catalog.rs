//! A catalog run's edge: the last accepted catalog of the source read back from its version
//! file, the pure catalog step (`pipeline::catalog`), and the next version written under
//! `reference/catalog/<source>/` (recorded in the ledger with the run's end).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{data, failed, Run};
use crate::config::catalog::CatalogSpec;
use crate::config::Home;
use crate::engine::catalog::{items_frame, items_from_frame, Item, Verdict};
use crate::pipeline::catalog::{catalog, good_lines};
use crate::report::model::{CatalogChangeLine, CatalogNote, CATALOG_CHANGES_LISTED};
use crate::runner::tables::write_csv;
use crate::runner::{rel, RunError};
use crate::store::catalog::{CatalogEnd, CatalogHold, CatalogVersion};
use crate::store::files::write_atomic_streamed;
use crate::store::Ledger;

/// Where a source's versions are kept, under the home.
pub fn versions_dir(home: &Home, source: &str) -> std::path::PathBuf {
    home.root.join("reference").join("catalog").join(source)
}

/// The version a run compares with: the source's last one; for a rerun of a run that published
/// a version, the one before it (what that run was compared with), so the rerun computes the
/// same change set. A rerun of a run whose version later ones followed must not publish over
/// them: why not, instead.
fn compared_with(
    ledger: &Ledger,
    source: &str,
    rerun_of: Option<&str>,
) -> Result<Result<Option<CatalogVersion>, String>, RunError> {
    let latest = ledger.latest_catalog(source)?;
    let Some(replayed) = rerun_of
        .map(|r| ledger.catalog_version_of_run(r))
        .transpose()?
        .flatten()
    else {
        return Ok(Ok(latest));
    };
    if let Some(l) = latest.filter(|l| l.version > replayed.version) {
        return Ok(Err(format!(
            "run {} published version {} of {source}, and version {} followed it: a rerun would publish an older catalog over it (drop the file again instead)",
            replayed.run_id, replayed.version, l.version
        )));
    }
    Ok(Ok(ledger.catalog_version_before(source, replayed.version)?))
}

/// A version's items, read back from its file (none: the source's first catalog).
fn items_of(home: &Home, version: Option<&CatalogVersion>) -> Result<Vec<Item>, String> {
    let Some(v) = version else {
        return Ok(Vec::new());
    };
    let path = home.root.join(&v.path);
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.clone()))
        .and_then(|r| r.finish())
        .map_err(|e| format!("catalog version {} ({}): {e}", v.version, path.display()))?;
    items_from_frame(&df).map_err(|e| e.to_string())
}

/// Whether a catalog run's end goes into the ledger with a run that ended `state`: a version
/// only with a succeeded run, a hold only with a rejected one.
pub(super) fn recorded(end: &CatalogEnd, state: &str) -> bool {
    matches!(
        (end, state),
        (CatalogEnd::Published(_), "succeeded") | (CatalogEnd::Held(_), "rejected")
    )
}

impl Run<'_> {
    /// The file of the catalog version reference `name` reads: the source's last version, or
    /// for a rerun the version its run read (from that run's manifest); noted in the manifest.
    pub(super) fn catalog_reference(
        &mut self,
        ledger: &Ledger,
        name: &str,
        source: &str,
    ) -> Result<std::path::PathBuf, RunError> {
        let p = self.p;
        let pinned = match &self.manifest.rerun_of {
            Some(run) => match ledger.run_archive(run)? {
                Some(dir) => crate::runner::manifest::read_if_present(&self.home.root.join(dir))?
                    .and_then(|m| m.catalog_versions.get(source).copied()),
                None => None,
            },
            None => None,
        };
        let version = match pinned {
            Some(n) => ledger.catalog_version(source, n)?,
            None => ledger.latest_catalog(source)?,
        };
        let Some(v) = version else {
            return Err(data(
                p,
                format!(
                    "reference `{name}`: catalog `{source}` has no accepted version{}",
                    match pinned {
                        Some(n) => format!(" {n}"),
                        None => " yet".into(),
                    }
                ),
            ));
        };
        self.manifest
            .catalog_versions
            .insert(source.to_string(), v.version);
        Ok(self.home.root.join(&v.path))
    }

    /// The catalog step on the partner file's good rows (`from`: where this file's issues
    /// start in `self.issues`). Adds `catalog_items` and `catalog_changes` to `tables` and
    /// writes the next version; returns why the catalog is held instead, if it is.
    pub(super) fn catalog(
        &mut self,
        ledger: &Ledger,
        spec: &CatalogSpec,
        good: &DataFrame,
        from: usize,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        let rerun_of = self.manifest.rerun_of.clone();
        let last = match compared_with(ledger, &spec.source, rerun_of.as_deref())? {
            Ok(v) => v,
            Err(why) => return Ok(Some(why)),
        };
        let before = items_of(self.home, last.as_ref()).map_err(|e| data(p, e))?;
        let lines = good_lines(good.height(), &self.issues[from..]);
        let approved = ledger.catalog_prices_approved(self.file_id)?;
        let c =
            catalog(spec, good, &lines, &before, &self.file, approved).map_err(|e| failed(p, e))?;
        let errors = c.issues.len();
        self.issues.extend(c.issues);
        // `on_error = "reject_file"` holds for the item rules as for the schema's.
        if errors > 0 && p.on_error == crate::config::OnError::RejectFile {
            return Ok(Some(format!(
                "{errors} item rule error(s) in the catalog; the pipeline rejects files with errors"
            )));
        }
        self.manifest.rows_set_aside += c.set_aside;
        let counts = [
            ("catalog_new", c.changes.new),
            ("catalog_changed", c.changes.changed),
            ("catalog_removed", c.changes.removed),
            ("catalog_unchanged", c.changes.unchanged),
        ];
        for (k, n) in counts {
            self.manifest.reconciliation.insert(k.into(), n as u64);
        }
        let mut note = CatalogNote {
            source: spec.source.clone(),
            summary: c.changes.summary(),
            previous_version: last.as_ref().map(|v| v.version),
            version: None,
            held: None,
            changes: c
                .changes
                .rows
                .iter()
                .take(CATALOG_CHANGES_LISTED)
                .map(|r| CatalogChangeLine {
                    sku: r.sku.clone(),
                    change: r.kind.as_str().into(),
                    field: r.field.map(String::from),
                    old_value: r.old.clone(),
                    new_value: r.new.clone(),
                })
                .collect(),
            more_changes: c.changes.rows.len().saturating_sub(CATALOG_CHANGES_LISTED),
        };
        tracing::info!(pipeline = %p.id, source = %spec.source, "catalog: {}", note.summary);
        if let Verdict::Hold(h) = c.verdict {
            note.held = Some(h.reason.clone());
            self.catalog_note = Some(note);
            self.catalog_end = Some(CatalogEnd::Held(CatalogHold {
                run_id: self.run_id.clone(),
                pipeline: p.id.clone(),
                file_id: self.file_id,
                kind: h.kind.as_str().into(),
                reason: h.reason.clone(),
            }));
            return Ok(Some(h.reason));
        }
        // Versions only grow: a rerun's catalog is the next one, whatever it was compared with.
        let version = ledger
            .latest_catalog(&spec.source)?
            .map_or(1, |v| v.version + 1);
        let dir = versions_dir(self.home, &spec.source);
        let next = items_frame(&c.next).map_err(|e| data(p, e))?;
        // Written before the run's end is recorded; only the ledger's row makes it the
        // accepted version (a run that fails after this leaves a file the next one rewrites).
        let written = write_atomic_streamed(&dir, &CatalogVersion::file_name(version), |w| {
            write_csv(&next, &["sku".to_string()], w).map_err(std::io::Error::other)
        })?;
        note.version = Some(version);
        self.catalog_note = Some(note);
        self.catalog_end = Some(CatalogEnd::Published(CatalogVersion {
            source: spec.source.clone(),
            version,
            run_id: self.run_id.clone(),
            path: rel(self.home, &written.path),
            items: c.next.len() as i64,
            sha256: written.sha256,
        }));
        tables.insert("catalog_items".into(), c.items);
        tables.insert("catalog_changes".into(), c.changes_table);
        Ok(None)
    }
}
