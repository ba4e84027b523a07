//! Reruns: which archived runs to replay (a business date, one file of it, or one run), the
//! replay itself through the same `process` (or, for a dry run, into a scratch copy of the home
//! that is thrown away), and what differs from the replayed run, down to the rows of each output.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{NaiveDate, Utc};
use serde::Serialize;

use super::manifest::{self, Held, Manifest, OutputEntry};
use super::process::{process, RerunOf};
use super::{Outcome, RunError};
use crate::config::{Home, OutputFormat, Pipeline};
use crate::store::files::safe_name;
use crate::store::lock::PipelineLock;
use crate::store::{Ledger, RunFilter, RunRow};

/// Which archived runs a rerun replays.
#[derive(Debug, Clone)]
pub enum Pick {
    /// The latest run of each file of a business date.
    Date(NaiveDate),
    /// The latest run of one file (by its name as received) of a business date.
    File { date: NaiveDate, name: String },
    /// One run, by id.
    Run(String),
}

/// What to rerun, who asks and why.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub pick: Pick,
    pub actor: &'a str,
    pub reason: &'a str,
    /// Replay into a scratch copy of the home: outbox, archive and ledger stay as they are.
    pub dry_run: bool,
}

/// What a rerun changed compared with the run it replays.
#[derive(Debug, Serialize)]
pub struct RerunReport {
    pub outcome: Outcome,
    pub replayed: String,
    /// Nothing was recorded or published: the outcome is what a rerun would do.
    pub dry_run: bool,
    pub differences: Vec<String>,
    /// What was published (or, in a dry run, would be) and what was held, output by output.
    pub publication: Vec<String>,
}

/// How many row changes are listed per output; the totals count them all.
pub const ROWS_SHOWN: usize = 20;

/// Outputs larger than this are compared by bytes only: the row diff holds both files' cells
/// in memory.
pub const ROW_DIFF_MAX_BYTES: u64 = 64 << 20;

/// Replays the archived partner input of the picked runs with the current ERP extract,
/// references and pipeline, and says what differs from those runs.
pub fn rerun(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
    req: &Request<'_>,
    lock: &PipelineLock,
) -> Result<Vec<RerunReport>, RunError> {
    debug_assert_eq!(lock.pipeline(), p.id);
    let mut out = Vec::new();
    for r in picked(ledger, p, &req.pick)? {
        let (Some(dir), Some(file), Some(file_id)) = (&r.archive_path, &r.file, r.file_id) else {
            continue;
        };
        let old_dir = home.root.join(dir);
        let input = old_dir.join("input").join(safe_name(file));
        // Replaying against a damaged manifest would take new control numbers and diff against
        // nothing: the rerun stops here, naming the file.
        let old = manifest::read(&old_dir)?;
        let date = r
            .business_date
            .as_deref()
            .and_then(|d| d.parse::<NaiveDate>().ok())
            .ok_or_else(|| {
                RunError::Rerun(format!("run {} has no business date to rerun", r.run_id))
            })?;
        let by = RerunOf {
            run_id: r.run_id.clone(),
            date,
            actor: req.actor.into(),
            reason: req.reason.into(),
        };
        let (outcome, new_dir, _scratch) = match req.dry_run {
            false => {
                let outcome = process(
                    home,
                    ledger,
                    p,
                    file_id,
                    file,
                    &input,
                    Utc::now(),
                    Some(&by),
                )?;
                let dir = run_dir(home, &outcome);
                (outcome, dir, None)
            }
            true => {
                let scratch = Scratch::new(home, ledger, p)?;
                let outcome = process(
                    &scratch.home,
                    &scratch.ledger,
                    p,
                    file_id,
                    file,
                    &input,
                    Utc::now(),
                    Some(&by),
                )?;
                let dir = run_dir(&scratch.home, &outcome);
                (outcome, dir, Some(scratch))
            }
        };
        let mut differences = diff(&old, outcome.manifest.as_ref(), &r.state, &outcome.state);
        if let Some(new) = &outcome.manifest {
            differences.extend(output_rows(p, &old, &old_dir, new, &new_dir));
        }
        let publication = publication(outcome.manifest.as_ref(), req.dry_run);
        out.push(RerunReport {
            outcome,
            replayed: r.run_id,
            dry_run: req.dry_run,
            differences,
            publication,
        });
    }
    Ok(out)
}

/// The archived runs a pick names, oldest first; an error when there is none.
fn picked(ledger: &Ledger, p: &Pipeline, pick: &Pick) -> Result<Vec<RunRow>, RunError> {
    let none = |what: String| RunError::Rerun(format!("no archived run of {} {what}", p.id));
    match pick {
        Pick::Date(date) => {
            let runs = ledger.latest_runs_for_date(&p.id, &date.to_string())?;
            match runs.is_empty() {
                true => Err(none(format!("for business date {date}"))),
                false => Ok(runs),
            }
        }
        Pick::File { date, name } => {
            let runs = ledger.latest_runs_for_date(&p.id, &date.to_string())?;
            let files: Vec<String> = runs.iter().filter_map(|r| r.file.clone()).collect();
            let mine: Vec<RunRow> = runs
                .into_iter()
                .filter(|r| r.file.as_deref() == Some(name))
                .collect();
            match mine.is_empty() {
                true => Err(none(format!(
                    "for file {name} on business date {date} (its files: {})",
                    if files.is_empty() {
                        "none".into()
                    } else {
                        files.join(", ")
                    }
                ))),
                false => Ok(mine),
            }
        }
        Pick::Run(id) => {
            let found = ledger
                .runs(&RunFilter {
                    pipeline: Some(p.id.clone()),
                    date: None,
                    state: None,
                    limit: Some(u32::MAX),
                })?
                .into_iter()
                .find(|r| &r.run_id == id);
            match found {
                Some(r) if r.state == "running" => Err(RunError::Rerun(format!(
                    "run {id} of {} has not ended",
                    p.id
                ))),
                Some(r) if r.archive_path.is_some() && r.file.is_some() => Ok(vec![r]),
                Some(_) => Err(none(format!("as {id}: it has no archived input"))),
                None => Err(none(format!("as {id}"))),
            }
        }
    }
}

/// A run's archive folder.
fn run_dir(home: &Home, outcome: &Outcome) -> PathBuf {
    home.archive()
        .join(&outcome.pipeline)
        .join(outcome.business_date.as_deref().unwrap_or("undated"))
        .join(&outcome.run_id)
}

/// A throwaway home for a dry run: a copy of the ledger (so run ids, control numbers and the
/// replayed runs' records are as a real rerun would see them), the pipeline's archived runs
/// linked in read-only use, and empty outbox, archive and quarantine for what the replay
/// writes. Partner data in it is private to the user (umask 0077) and removed on drop.
struct Scratch {
    home: Home,
    ledger: Ledger,
}

impl Scratch {
    fn new(home: &Home, ledger: &Ledger, p: &Pipeline) -> Result<Scratch, RunError> {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let root =
            std::env::temp_dir().join(format!("tallyman-dry-run-{}-{nanos}", std::process::id()));
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::Io {
                pipeline: p.id.clone(),
                path,
                source,
            }
        };
        std::fs::create_dir_all(root.join("var")).map_err(io(&root))?;
        let scratch = Home::new(&root);
        // Removed on every early return from here on.
        let guard = RemoveOnDrop(root.clone());
        let copy = root.join("var").join("ledger.sqlite");
        ledger.copy_to(&copy)?;
        let scratch_ledger = Ledger::open(&copy)?;
        let ours = home.archive().join(&p.id);
        for date in read_dirs(&ours) {
            let name = date.file_name().unwrap_or_default().to_owned();
            if name == "_duplicates" {
                continue;
            }
            let into = scratch.archive().join(&p.id).join(&name);
            std::fs::create_dir_all(&into).map_err(io(&into))?;
            for run in read_dirs(&date) {
                let link = into.join(run.file_name().unwrap_or_default());
                std::os::unix::fs::symlink(&run, &link).map_err(io(&link))?;
            }
        }
        // Catalog versions are read by their path under the home: linked file by file, so a
        // version the replay writes lands in the scratch folder, never in the real one.
        for source in read_dirs(&home.root.join("reference").join("catalog")) {
            let into = root
                .join("reference")
                .join("catalog")
                .join(source.file_name().unwrap_or_default());
            std::fs::create_dir_all(&into).map_err(io(&into))?;
            for version in std::fs::read_dir(&source).map_err(io(&source))?.flatten() {
                let link = into.join(version.file_name());
                std::os::unix::fs::symlink(version.path(), &link).map_err(io(&link))?;
            }
        }
        std::mem::forget(guard);
        Ok(Scratch {
            home: scratch,
            ledger: scratch_ledger,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Links are removed, never followed: the real archive stays as it is.
        let _ = std::fs::remove_dir_all(&self.home.root);
    }
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The folders in `dir` (none when it cannot be read).
fn read_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// The data files of a manifest (control files follow their data file).
fn data_outputs(m: &Manifest) -> impl Iterator<Item = &OutputEntry> {
    m.outputs.iter().filter(|e| e.control_for.is_none())
}

/// Differences in state, inputs, outputs (by bytes) and reconciliation counts.
fn diff(old: &Manifest, new: Option<&Manifest>, old_state: &str, new_state: &str) -> Vec<String> {
    let mut out = Vec::new();
    if old_state != new_state {
        out.push(format!("state: {old_state} -> {new_state}"));
    }
    let Some(new) = new else { return out };
    for n in &new.inputs {
        match old
            .inputs
            .iter()
            .find(|o| o.role == n.role && o.name == n.name)
        {
            Some(o) if o.sha256 != n.sha256 => out.push(format!(
                "input {} {}: content changed (sha256 {} -> {})",
                n.role,
                n.name,
                o.sha256.get(..12).unwrap_or(&o.sha256),
                n.sha256.get(..12).unwrap_or(&n.sha256)
            )),
            None => out.push(format!("input {} {}: new", n.role, n.name)),
            _ => {}
        }
    }
    for o in data_outputs(old) {
        if !data_outputs(new).any(|n| n.same_data(&o.table, &o.destination, o.partition.as_deref()))
        {
            out.push(format!("output {}: gone", o.label()));
        }
    }
    for (status, n) in &new.reconciliation {
        let o = old.reconciliation.get(status).copied().unwrap_or(0);
        if o != *n {
            out.push(format!("reconciliation {status}: {o} -> {n}"));
        }
    }
    out
}

/// Each output that differs from the replayed run's, with its rows: which keys were added,
/// removed or changed (old and new values), the first `ROWS_SHOWN` listed and all counted.
fn output_rows(
    p: &Pipeline,
    old: &Manifest,
    old_dir: &Path,
    new: &Manifest,
    new_dir: &Path,
) -> Vec<String> {
    let mut out = Vec::new();
    for n in data_outputs(new) {
        let Some(o) = data_outputs(old)
            .find(|o| o.same_data(&n.table, &n.destination, n.partition.as_deref()))
        else {
            out.push(format!("output {}: new ({} rows)", n.label(), n.rows));
            continue;
        };
        if o.sha256 == n.sha256 {
            continue;
        }
        let head = format!(
            "output {}: differs: {} -> {} rows",
            n.label(),
            o.rows,
            n.rows
        );
        let spec = p
            .outputs
            .iter()
            .find(|s| s.table == n.table && s.destination == n.destination);
        let csv = spec.is_none_or(|s| s.format == OutputFormat::Csv);
        let read = |dir: &Path, e: &OutputEntry| match e.size > ROW_DIFF_MAX_BYTES {
            true => Err(std::io::Error::other(format!(
                "{} is larger than {} MiB",
                e.name,
                ROW_DIFF_MAX_BYTES >> 20
            ))),
            false => std::fs::read(dir.join("output").join(&e.name)),
        };
        match (csv, read(old_dir, o), read(new_dir, n)) {
            (true, Ok(a), Ok(b)) => {
                let key = spec.map(|s| diff_key(p, s)).unwrap_or_default();
                match RowDiff::of(&a, &b, &key) {
                    Ok(d) => {
                        out.push(format!("{head}: {}", d.totals()));
                        out.extend(d.lines(ROWS_SHOWN));
                    }
                    Err(e) => out.push(format!("{head} (rows not compared: {e})")),
                }
            }
            (false, _, _) => out.push(format!("{head} (an X12 document: bytes differ)")),
            (_, Err(e), _) | (_, _, Err(e)) => out.push(format!("{head} (rows not compared: {e})")),
        }
    }
    out
}

/// The columns that identify an output's rows in a diff: its `key` (or `order_by`); for the
/// reconcile tables, the partner's reconcile keys; else none (the whole row).
fn diff_key(p: &Pipeline, o: &crate::config::Output) -> Vec<String> {
    if !o.key.is_empty() {
        return o.key.clone();
    }
    match (&p.reconcile, o.table.as_str()) {
        (Some(r), "breaks" | "reconciled") => r.keys.iter().map(|k| k.0.clone()).collect(),
        _ => Vec::new(),
    }
}

/// What each output of a rerun became: published (superseding which run) or held (and why).
fn publication(new: Option<&Manifest>, dry_run: bool) -> Vec<String> {
    let Some(new) = new else { return Vec::new() };
    let (sent, kept) = match dry_run {
        true => ("would publish", "would not publish"),
        false => ("published", "not published"),
    };
    new.outputs
        .iter()
        .map(|e| {
            let what = match &e.control_for {
                Some(data) => format!("control file {} (for {data})", e.name),
                None => format!("output {} {}", e.label(), e.name),
            };
            let why = match e.held {
                None => match &e.supersedes {
                    Some(run) => format!("{sent}, superseding {run}'s"),
                    None => sent.to_string(),
                },
                Some(Held::Unchanged) => format!(
                    "{kept}: unchanged since {}'s",
                    e.current.as_deref().unwrap_or("the replayed run")
                ),
                Some(Held::OnRerunNever) => format!("{kept}: on_rerun = \"never\""),
                Some(Held::Withheld) => format!(
                    "{kept}: withheld ({})",
                    e.note.as_deref().unwrap_or("rows were set aside")
                ),
            };
            format!("{what}: {why}")
        })
        .collect()
}

/// Rows of two CSV outputs compared by key.
#[derive(Debug, Default, PartialEq)]
struct RowDiff {
    old_rows: usize,
    new_rows: usize,
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    /// Columns only one side has.
    columns: Option<String>,
}

type Row = Vec<String>;

impl RowDiff {
    fn of(old: &[u8], new: &[u8], key: &[String]) -> Result<RowDiff, csv::Error> {
        let (old_head, old_rows) = read_csv(old)?;
        let (new_head, new_rows) = read_csv(new)?;
        let mut d = RowDiff {
            old_rows: old_rows.len(),
            new_rows: new_rows.len(),
            ..RowDiff::default()
        };
        if old_head != new_head {
            d.columns = Some(format!(
                "columns {} -> {}",
                old_head.join(","),
                new_head.join(",")
            ));
        }
        // A key both sides have, else the whole row (a change is then a removal and an addition).
        let key_at = |head: &[String]| -> Option<Vec<usize>> {
            key.iter()
                .map(|k| head.iter().position(|h| h == k))
                .collect()
        };
        let (old_key, new_key) = match (key_at(&old_head), key_at(&new_head)) {
            (Some(a), Some(b)) if !key.is_empty() => (a, b),
            _ => ((0..old_head.len()).collect(), (0..new_head.len()).collect()),
        };
        let shown_key = |head: &[String], at: &[usize], row: &Row| -> String {
            at.iter()
                .map(|&i| format!("{}={}", head[i], row.get(i).map_or("", String::as_str)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let old_index = keyed(&old_rows, &old_key);
        let mut matched = vec![false; old_rows.len()];
        for (k, row) in keyed_list(&new_rows, &new_key) {
            let Some(&i) = old_index.get(&k) else {
                d.added.push(format!(
                    "added {}{}",
                    shown_key(&new_head, &new_key, row),
                    values(&new_head, &new_key, row)
                ));
                continue;
            };
            matched[i] = true;
            let before = &old_rows[i];
            let changes: Vec<String> = new_head
                .iter()
                .enumerate()
                .filter(|(c, _)| !new_key.contains(c))
                .filter_map(|(c, name)| {
                    let was = old_head.iter().position(|h| h == name)?;
                    let (a, b) = (before.get(was)?, row.get(c)?);
                    (a != b).then(|| format!("{name} {} -> {}", shown(a), shown(b)))
                })
                .collect();
            if !changes.is_empty() {
                d.changed.push(format!(
                    "changed {}: {}",
                    shown_key(&new_head, &new_key, row),
                    changes.join(", ")
                ));
            }
        }
        for (_, row) in old_rows.iter().enumerate().filter(|(i, _)| !matched[*i]) {
            d.removed.push(format!(
                "removed {}{}",
                shown_key(&old_head, &old_key, row),
                values(&old_head, &old_key, row)
            ));
        }
        Ok(d)
    }

    fn totals(&self) -> String {
        format!(
            "{} added, {} removed, {} changed",
            self.added.len(),
            self.removed.len(),
            self.changed.len()
        )
    }

    /// At most `cap` lines of row changes (changed, then removed, then added), and how many more.
    fn lines(&self, cap: usize) -> Vec<String> {
        let all = self
            .columns
            .iter()
            .chain(&self.changed)
            .chain(&self.removed)
            .chain(&self.added);
        let total = self.columns.iter().count()
            + self.changed.len()
            + self.removed.len()
            + self.added.len();
        let mut out: Vec<String> = all.take(cap).map(|l| format!("  {l}")).collect();
        if total > cap {
            out.push(format!("  ... and {} more row change(s)", total - cap));
        }
        out
    }
}

/// A CSV output's header and records.
fn read_csv(bytes: &[u8]) -> Result<(Row, Vec<Row>), csv::Error> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let head: Row = r.headers()?.iter().map(str::to_string).collect();
    let rows = r
        .records()
        .map(|rec| rec.map(|rec| rec.iter().map(str::to_string).collect()))
        .collect::<Result<_, _>>()?;
    Ok((head, rows))
}

/// Each row's key, with its occurrence number among rows of the same key (so repeated keys pair
/// in order rather than collapse).
fn keyed_list<'r>(rows: &'r [Row], at: &[usize]) -> Vec<((Row, usize), &'r Row)> {
    let mut seen: HashMap<Row, usize> = HashMap::new();
    rows.iter()
        .map(|row| {
            let k: Row = at
                .iter()
                .map(|&i| row.get(i).cloned().unwrap_or_default())
                .collect();
            let n = seen.entry(k.clone()).or_default();
            *n += 1;
            ((k, *n), row)
        })
        .collect()
}

fn keyed(rows: &[Row], at: &[usize]) -> HashMap<(Row, usize), usize> {
    keyed_list(rows, at)
        .into_iter()
        .enumerate()
        .map(|(i, (k, _))| (k, i))
        .collect()
}

/// The non-key values of an added or removed row, e.g. ` (atp=5)`.
fn values(head: &[String], key: &[usize], row: &Row) -> String {
    let rest: Vec<String> = head
        .iter()
        .enumerate()
        .filter(|(i, _)| !key.contains(i))
        .map(|(i, h)| format!("{h}={}", shown(row.get(i).map_or("", String::as_str))))
        .collect();
    match rest.is_empty() {
        true => String::new(),
        false => format!(" ({})", rest.join(", ")),
    }
}

/// A cell as shown in a diff: empty cells say so.
fn shown(v: &str) -> &str {
    if v.is_empty() {
        "(empty)"
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(old: &str, new: &str, key: &[&str], expect: &[&str]) {
        let key: Vec<String> = key.iter().map(|k| k.to_string()).collect();
        let d = RowDiff::of(old.as_bytes(), new.as_bytes(), &key).expect("diff");
        let mut got = vec![d.totals()];
        got.extend(d.lines(3));
        assert_eq!(got, expect);
    }

    #[test]
    fn rows_are_compared_by_key() {
        check(
            "sku,loc,atp\nA,R,1\nB,R,2\nC,R,3\n",
            "sku,loc,atp\nA,R,1\nB,R,5\nD,R,4\n",
            &["sku", "loc"],
            &[
                "1 added, 1 removed, 1 changed",
                "  changed sku=B, loc=R: atp 2 -> 5",
                "  removed sku=C, loc=R (atp=3)",
                "  added sku=D, loc=R (atp=4)",
            ],
        );
    }

    #[test]
    fn without_a_key_a_change_is_a_removal_and_an_addition_and_the_list_is_capped() {
        check(
            "a,b\n1,2\n3,4\n",
            "a,b\n1,9\n3,8\n",
            &[],
            &[
                "2 added, 2 removed, 0 changed",
                "  removed a=1, b=2",
                "  removed a=3, b=4",
                "  added a=1, b=9",
                "  ... and 1 more row change(s)",
            ],
        );
    }

    #[test]
    fn repeated_keys_pair_in_order_and_empty_cells_say_so() {
        check(
            "k,v\nA,1\nA,\n",
            "k,v\nA,1\nA,2\n",
            &["k"],
            &[
                "0 added, 0 removed, 1 changed",
                "  changed k=A: v (empty) -> 2",
            ],
        );
    }
}
