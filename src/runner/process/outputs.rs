//! What becomes of each computed output before the run ends: completed when rows were set aside
//! (withheld, or keys carried from the last published copy), held on a rerun when the ERP has
//! these bytes already (or by `on_rerun`), and followed by its control file. Everything that is
//! published is staged and recorded like any output; a held output is archived only.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::PathBuf;

use polars::prelude::*;

use super::Run;
use crate::config::{Complete, OnRerun, Output};
use crate::issue::Issue;
use crate::runner::control::{self, ControlV1};
use crate::runner::manifest::{self, Held, Manifest, OutputEntry};
use crate::runner::RunError;
use crate::store::files::remove_if_present;
use crate::store::publish::{stage_streamed, Staged};
use crate::store::{Ledger, RunFilter};

/// An output table as it will be written, and whether it may be sent.
pub(super) struct Completed<'t> {
    pub table: Cow<'t, DataFrame>,
    /// Why it must not be sent (rows were set aside and the feed must be complete).
    withheld: Option<String>,
    /// What was carried, for people.
    note: Option<String>,
    carried: usize,
}

impl Completed<'_> {
    /// The same verdict for one file of a partitioned output (which never carries: `config`
    /// refuses `carry_last_good` with `partition_by`).
    pub(super) fn part(&self, rows: DataFrame) -> Completed<'static> {
        Completed {
            table: Cow::Owned(rows),
            withheld: self.withheld.clone(),
            note: self.note.clone(),
            carried: 0,
        }
    }
}

/// How many carried keys an issue names before "and N more".
const KEYS_SHOWN: usize = 10;

/// How many earlier runs are looked through for the last published copy of an output.
const RUNS_LOOKED_BACK: u32 = 1000;

impl Run<'_> {
    /// Applies the output's `complete` rule when rows of the partner file were set aside.
    pub(super) fn complete<'t>(
        &mut self,
        ledger: &Ledger,
        o: &Output,
        name: &str,
        df: &'t DataFrame,
    ) -> Result<Completed<'t>, RunError> {
        let aside = self.manifest.rows_set_aside;
        let as_is = Completed {
            table: Cow::Borrowed(df),
            withheld: None,
            note: None,
            carried: 0,
        };
        let Some(rule) = o.complete.filter(|_| aside > 0) else {
            return Ok(as_is);
        };
        let withhold = |run: &mut Self, why: String| {
            run.issues
                .push(Issue::error(name, "output-withheld", why.clone()).warning());
            Ok(Completed {
                withheld: Some(why),
                ..as_is
            })
        };
        if rule == Complete::Withhold {
            let why = format!(
                "output `{}` withheld: {aside} row(s) of {} were set aside and it must be complete (complete = \"withhold\"); the last published copy stands",
                o.table, self.file
            );
            return withhold(self, why);
        }
        let Some((run, path)) = self.last_published(ledger, o)? else {
            let why = format!(
                "output `{}` withheld: {aside} row(s) of {} were set aside and no earlier published copy exists to carry missing keys from",
                o.table, self.file
            );
            return withhold(self, why);
        };
        let previous = match read_like(&path, df) {
            Ok(prev) => prev,
            Err(e) => {
                let why = format!(
                    "output `{}` withheld: {aside} row(s) were set aside and the last published copy (run {run}) cannot be read as this table: {e}",
                    o.table
                );
                return withhold(self, why);
            }
        };
        // A key column the table lacks is the pipeline's mistake: the feed is held, not the
        // partner's file failed.
        let (table, keys) = match carry(df, previous, &o.key) {
            Ok(carried) => carried,
            Err(e) => {
                let why = format!(
                    "output `{}` withheld: {aside} row(s) were set aside and keys could not be carried from run {run}'s copy: {e}",
                    o.table
                );
                return withhold(self, why);
            }
        };
        let shown: Vec<&str> = keys.iter().take(KEYS_SHOWN).map(String::as_str).collect();
        let more = match keys.len().saturating_sub(KEYS_SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        let note = format!(
            "{} key(s) missing from output `{}` ({aside} row(s) of {} were set aside) carried from run {run}'s published copy{}{}{}",
            keys.len(),
            o.table,
            self.file,
            if keys.is_empty() { "" } else { ": " },
            shown.join(", "),
            more
        );
        self.issues
            .push(Issue::error(name, "output-carried", note.clone()).warning());
        Ok(Completed {
            table: Cow::Owned(table),
            withheld: None,
            note: Some(note),
            carried: keys.len(),
        })
    }

    /// Archives a staged output (one file of it when `partition` is its `partition_by`
    /// value), then either keeps it for publication (followed by its control file) or holds
    /// it: withheld, unchanged on a rerun, or never resent.
    pub(super) fn settle_output(
        &mut self,
        ledger: &Ledger,
        o: &Output,
        partition: Option<String>,
        staged: Staged,
        rows: usize,
        completed: Completed<'_>,
    ) -> Result<(), RunError> {
        let mut entry = self.archive_staged(&staged, &o.table, &o.destination, rows)?;
        entry.note = completed.withheld.clone().or(completed.note);
        entry.partition = partition;
        // For a rerun: the copy of this output the ERP has now, and its run.
        let live = match self.manifest.rerun_of.is_some() {
            true => self.live_copy(ledger, o, entry.partition.as_deref())?,
            false => None,
        };
        let same_bytes = live.as_ref().is_some_and(|(_, sha)| *sha == staged.sha256);
        let held = match (&completed.withheld, &live, o.on_rerun) {
            (Some(_), _, _) => Some(Held::Withheld),
            // Nothing was ever published (the replayed run was rejected, say): this is the
            // first send, whatever the rerun policy.
            (None, None, _) => None,
            (None, Some(_), OnRerun::Never) => Some(Held::OnRerunNever),
            (None, Some(_), OnRerun::Changed) if same_bytes => Some(Held::Unchanged),
            (None, Some(_), _) => None,
        };
        let current = live.map(|(run, _)| run);
        if let Some(held) = held {
            tracing::info!(pipeline = %self.p.id, run = %self.run_id, "{} archived, not published ({held:?})", entry.name);
            remove_if_present(&staged.temp)?;
            entry.held = Some(held);
            entry.current = current;
            self.manifest.outputs.push(entry);
            return Ok(());
        }
        entry.supersedes = current;
        let control = o.control.map(|kind| {
            let c = ControlV1 {
                file: entry.name.clone(),
                pipeline: self.p.id.clone(),
                table: o.table.clone(),
                rows,
                size: staged.size,
                sha256: staged.sha256.clone(),
                business_date: self.manifest.business_date.clone(),
                run_id: self.run_id.clone(),
                supersedes: entry.supersedes.clone(),
                carried: completed.carried,
            };
            (control::name(kind, &entry.name), control::render(kind, &c))
        });
        let data_name = entry.name.clone();
        let outbox = staged
            .target
            .parent()
            .map(PathBuf::from)
            .unwrap_or_default();
        // Kept first, so it is published first: the control file says the data is whole.
        self.keep_entry(staged, entry, false)?;
        if let Some((name, bytes)) = control {
            let staged = stage_streamed(&outbox, &name, &self.run_id, |w| w.write_all(&bytes))?;
            let mut entry = self.archive_staged(&staged, &o.table, &o.destination, 1)?;
            entry.control_for = Some(data_name);
            self.keep_entry(staged, entry, false)?;
        }
        Ok(())
    }

    /// For a rerun: the run whose published copy of this output (of its `partition` file) the
    /// ERP has now, and that copy's sha256. It is the latest run of the same partner file that
    /// computed the output (published, or held with the run whose copy stood), not necessarily
    /// the replayed one: `--run` may replay an older run than the one that last sent the file.
    fn live_copy(
        &self,
        ledger: &Ledger,
        o: &Output,
        partition: Option<&str>,
    ) -> Result<Option<(String, String)>, RunError> {
        let Some(replayed) = &self.manifest.rerun_of else {
            return Ok(None);
        };
        // Reruns keep their file's id and business date: its runs are among the date's.
        let runs = ledger.runs(&RunFilter {
            pipeline: Some(self.p.id.clone()),
            date: Some(self.manifest.business_date.clone()),
            state: None,
            limit: Some(u32::MAX),
        })?;
        let Some(file_id) = runs
            .iter()
            .find(|r| &r.run_id == replayed)
            .and_then(|r| r.file_id)
        else {
            return Ok(None);
        };
        for r in runs
            .iter()
            .filter(|r| r.file_id == Some(file_id) && r.run_id != self.run_id)
        {
            let Some((_, m)) = self.manifest_of(ledger, &r.run_id)? else {
                continue;
            };
            let Some(e) = data_entry(&m, o, partition) else {
                continue;
            };
            return match (e.held, &e.current) {
                (None, _) => Ok(Some((r.run_id.clone(), e.sha256.clone()))),
                (Some(_), None) => Ok(None),
                (Some(_), Some(current)) => {
                    let sha = self
                        .manifest_of(ledger, current)?
                        .and_then(|(_, m)| data_entry(&m, o, partition).map(|e| e.sha256.clone()));
                    Ok(sha.map(|sha| (current.clone(), sha)))
                }
            };
        }
        Ok(None)
    }

    /// The archive folder and manifest of an earlier run, when both are there.
    fn manifest_of(
        &self,
        ledger: &Ledger,
        run: &str,
    ) -> Result<Option<(PathBuf, Manifest)>, RunError> {
        let Some(archive) = ledger.run_archive(run)? else {
            return Ok(None);
        };
        let dir = self.home.root.join(archive);
        Ok(manifest::read_if_present(&dir)?.map(|m| (dir, m)))
    }

    /// The latest published copy of this output by an earlier run of the pipeline for this
    /// business date or an earlier one (a rerun of an old date never carries later figures):
    /// its run and archived file.
    fn last_published(
        &self,
        ledger: &Ledger,
        o: &Output,
    ) -> Result<Option<(String, PathBuf)>, RunError> {
        let runs = ledger.runs(&RunFilter {
            pipeline: Some(self.p.id.clone()),
            date: None,
            state: Some("succeeded".into()),
            limit: Some(RUNS_LOOKED_BACK),
        })?;
        let date = self.manifest.business_date.as_str();
        let earlier = |r: &&crate::store::RunRow| {
            r.run_id != self.run_id && r.business_date.as_deref().is_some_and(|d| d <= date)
        };
        for r in runs.iter().filter(earlier) {
            let Some((dir, m)) = self.manifest_of(ledger, &r.run_id)? else {
                continue;
            };
            // Carrying is refused with `partition_by`: the output is one file.
            if let Some(e) = data_entry(&m, o, None).filter(|e| e.held.is_none()) {
                let path = dir.join("output").join(&e.name);
                if path.is_file() {
                    return Ok(Some((r.run_id.clone(), path)));
                }
            }
        }
        Ok(None)
    }
}

/// A manifest's entry for an output's data file (not its control file), of one `partition`
/// value for a partitioned output.
fn data_entry<'m>(m: &'m Manifest, o: &Output, partition: Option<&str>) -> Option<&'m OutputEntry> {
    m.outputs
        .iter()
        .find(|e| e.same_data(&o.table, &o.destination, partition))
}

/// Reads a CSV output written earlier back with the columns and types of `like`.
fn read_like(path: &std::path::Path, like: &DataFrame) -> PolarsResult<DataFrame> {
    let text = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?
        .finish()?;
    let mut columns = Vec::with_capacity(like.width());
    for c in like.columns() {
        columns.push(text.column(c.name())?.cast(c.dtype())?);
    }
    DataFrame::new(text.height(), columns)
}

/// `df` with the rows of `previous` whose key it lacks appended; and those keys, as text.
fn carry(
    df: &DataFrame,
    previous: DataFrame,
    key: &[String],
) -> PolarsResult<(DataFrame, Vec<String>)> {
    let have: HashSet<Vec<Option<String>>> = key_rows(df, key)?.into_iter().collect();
    let theirs = key_rows(&previous, key)?;
    let missing: Vec<bool> = theirs.iter().map(|k| !have.contains(k)).collect();
    let mask = BooleanChunked::from_slice("carried".into(), &missing);
    let carried = previous.filter(&mask)?;
    let keys = theirs
        .iter()
        .zip(&missing)
        .filter(|(_, m)| **m)
        .map(|(k, _)| {
            k.iter()
                .map(|v| v.as_deref().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect();
    let mut out = df.clone();
    out.vstack_mut(&carried)?;
    Ok((out, keys))
}

/// Each row's key columns as text.
fn key_rows(df: &DataFrame, key: &[String]) -> PolarsResult<Vec<Vec<Option<String>>>> {
    let mut columns = Vec::with_capacity(key.len());
    for k in key {
        columns.push(df.column(k)?.cast(&DataType::String)?);
    }
    let mut rows = vec![Vec::with_capacity(key.len()); df.height()];
    for c in &columns {
        for (row, v) in rows.iter_mut().zip(c.str()?.iter()) {
            row.push(v.map(str::to_string));
        }
    }
    Ok(rows)
}

/// What the run's outputs say for its `runs` line when it has no other message: withheld
/// outputs and carried keys.
pub(super) fn notes(manifest: Option<&Manifest>) -> Option<String> {
    let mut notes: Vec<&str> = manifest?
        .outputs
        .iter()
        .filter(|e| e.held.is_none_or(|h| h == Held::Withheld))
        .filter_map(|e| e.note.as_deref())
        .collect();
    // The files of a partitioned output follow each other and share the output's note.
    notes.dedup();
    (!notes.is_empty()).then(|| notes.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partitioned_output_withheld_is_noted_once() {
        let entry = |partition: &str, note: &str| OutputEntry {
            table: "journal".into(),
            destination: "gl".into(),
            partition: Some(partition.into()),
            name: format!("journal_{partition}.csv"),
            rows: 1,
            size: 1,
            sha256: String::new(),
            held: Some(Held::Withheld),
            supersedes: None,
            current: None,
            control_for: None,
            note: Some(note.into()),
        };
        let m = Manifest {
            outputs: vec![
                entry("S1", "output `journal` withheld"),
                entry("S2", "output `journal` withheld"),
                entry("S1", "output `other` withheld"),
            ],
            ..Manifest::default()
        };
        assert_eq!(
            notes(Some(&m)).as_deref(),
            Some("output `journal` withheld; output `other` withheld")
        );
    }

    #[test]
    fn carrying_appends_only_the_keys_the_new_table_lacks() {
        let new = df!("sku" => ["A", "C"], "atp" => [1i64, 3]).expect("df");
        let old = df!("sku" => ["A", "B", "C", "D"], "atp" => [9i64, 2, 9, 4]).expect("df");
        let (out, keys) = carry(&new, old, &["sku".into()]).expect("carry");
        assert_eq!(keys, vec!["B", "D"]);
        let atp: Vec<Option<i64>> = out
            .column("atp")
            .expect("atp")
            .i64()
            .expect("i64")
            .iter()
            .collect();
        assert_eq!(atp, vec![Some(1), Some(3), Some(2), Some(4)]);
    }
}
