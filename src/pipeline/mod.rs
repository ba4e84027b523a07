//! The pure part of a pipeline run: validated tables in, output tables out. No IO: the runner
//! reads and archives the files, feeds the tables here, and records what comes back.
//!
//! The steps, in order:
//! 1. [`judge`] the validated partner file (taken with its good rows, or rejected and why);
//!    [`context_rows`] for the ERP extract and references; [`prune`] drops the columns nothing
//!    later reads ([`Needs`]: worked out once from the transforms' parsed SQL).
//! 2. [`Flow::start`] derives the settlement tables (`grouped`, `grouped_summary`, `journal`);
//!    [`Flow::tables`] lets the runner read them (the report's money) before
//! 3. [`Flow::reconcile`] reconciles `input` against `erp`; [`Flow::transform`] runs the SQL
//!    transforms and keeps the tables outputs and the report read ([`Computed`]);
//! 4. [`outputs`] pairs each configured output with its table; [`partition`] splits the table
//!    of an output written per value of a column (`partition_by`).
//!
//! [`run`] does 2 and 3 at once (for tests and tools).

pub mod catalog;
pub mod partition;
mod prune;
mod settlement;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::config::{Output, Pipeline};
use crate::engine::reconcile::{reconcile, KnownUnique, STATUSES};
use crate::engine::transform::{run_transforms, TransformError};

use crate::engine::needs::Needs;
pub use prune::{is_used, prune};
pub use settlement::{derive, needed_columns};
pub use validate::{context_rows, judge, Judged, Verdict};

/// Why the pure steps could not finish.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The data could not be handled (polars failed on it).
    #[error(transparent)]
    Data(#[from] PolarsError),
    /// A transform's SQL failed: the pipeline's configuration.
    #[error(transparent)]
    Transform(#[from] TransformError),
    /// An output names a table no step produced: the pipeline's configuration.
    #[error("output table `{0}` was not produced")]
    NotProduced(String),
    /// An ERP extract or reference table has a fatal problem.
    #[error("{what} is unusable: {problem}")]
    Unusable { what: String, problem: String },
}

impl PipelineError {
    /// Whether the pipeline's own configuration failed (held until a fix, not retried).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            PipelineError::Transform(_) | PipelineError::NotProduced(_)
        )
    }
}

/// What the pure steps produced.
#[derive(Debug, Default)]
pub struct Computed {
    /// The tables outputs and the report read (the others are let go as soon as they can be).
    pub tables: BTreeMap<String, DataFrame>,
    /// Rows per status: of reconcile, or groups per status of `[group_reconcile]`.
    pub counts: BTreeMap<String, u64>,
    /// The `reconciled` table, kept for the report when the pipeline has one.
    pub reconciled: Option<DataFrame>,
    /// The pipeline's `[breaks]` table, for the report.
    pub breaks: Option<DataFrame>,
}

/// The tables of a run between validation and the outputs.
pub struct Flow<'p> {
    p: &'p Pipeline,
    needs: &'p Needs,
    tables: BTreeMap<String, DataFrame>,
    counts: BTreeMap<String, u64>,
}

impl<'p> Flow<'p> {
    /// Takes the validated tables (`input`, `erp`, references and settlement tables by name)
    /// and derives the settlement tables from them.
    pub fn start(
        p: &'p Pipeline,
        needs: &'p Needs,
        mut tables: BTreeMap<String, DataFrame>,
    ) -> Result<Flow<'p>, PipelineError> {
        let counts = derive(p, &mut tables)?
            .into_iter()
            .map(|(status, n)| (status, n as u64))
            .collect();
        Ok(Flow {
            p,
            needs,
            tables,
            counts,
        })
    }

    /// The tables so far.
    pub fn tables(&self) -> &BTreeMap<String, DataFrame> {
        &self.tables
    }

    /// Groups per status of `[group_reconcile]` (empty without one).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// `[reconcile]`: `input` against `erp` into `reconciled` and `breaks` (counted per
    /// status). Returns the `reconciled` table when the pipeline has a report: the report
    /// reads it even when a transform fails afterwards.
    pub fn reconcile(&mut self) -> Result<Option<DataFrame>, PipelineError> {
        reconcile_sides(self.p, self.needs, &mut self.tables, &mut self.counts)?;
        // The report's breaks come from it, and the open-item book from the report's breaks:
        // kept when either is wanted (a pipeline with neither lets it go before transforms).
        Ok(
            match self.p.report.is_some() || self.p.open_items.is_some() {
                true => self.tables.get("reconciled").cloned(),
                false => None,
            },
        )
    }

    /// Runs the SQL transforms (after [`Flow::reconcile`]) and keeps what outputs and the
    /// report read; `reconciled` is what `reconcile` returned.
    pub fn transform(self, reconciled: Option<DataFrame>) -> Result<Computed, PipelineError> {
        let Flow {
            p,
            needs,
            mut tables,
            counts,
        } = self;
        // Large tables nobody reads are let go before the transforms run (peak memory).
        tables.retain(|name, _| is_used(p, needs, name, true));
        let started = std::time::Instant::now();
        let produced = run_transforms(&tables, &p.transforms)?;
        tables.extend(produced);
        let breaks = p
            .breaks
            .as_ref()
            .and_then(|b| tables.get(&b.table).cloned());
        tables.retain(|name, _| is_used(p, needs, name, false));
        tracing::info!(pipeline = %p.id, "transformed in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        Ok(Computed {
            tables,
            counts,
            reconciled,
            breaks,
        })
    }
}

/// `[reconcile]`: `input` against `erp` into `reconciled` and `breaks`, counted per status. A
/// side nothing reads afterwards is handed over, so its columns go as they are gathered; one
/// still needed is shared (a clone shares the buffers).
fn reconcile_sides(
    p: &Pipeline,
    needs: &Needs,
    tables: &mut BTreeMap<String, DataFrame>,
    counts: &mut BTreeMap<String, u64>,
) -> Result<(), PipelineError> {
    let mut hand_over = |name: &str| match is_used(p, needs, name, true) {
        true => tables.get(name).cloned(),
        false => tables.remove(name),
    };
    let (Some(spec), Some(erp), Some(good)) = (&p.reconcile, hand_over("erp"), hand_over("input"))
    else {
        return Ok(());
    };
    let started = std::time::Instant::now();
    let unique = KnownUnique {
        partner: same_set(&p.schema.primary_key, spec.keys.iter().map(|k| &k.0)),
        erp: p
            .erp
            .as_ref()
            .is_some_and(|e| same_set(&e.schema.primary_key, spec.keys.iter().map(|k| &k.1))),
    };
    let r = reconcile(good, erp, spec, unique)?;
    for s in STATUSES {
        counts.insert(s.to_string(), r.count(s));
    }
    tracing::info!(pipeline = %p.id, "reconciled in {:.2}s ({}): {:?}", started.elapsed().as_secs_f64(), crate::usage::memory(), counts);
    tables.insert("breaks".into(), r.breaks()?);
    tracing::debug!(pipeline = %p.id, "breaks at {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
    tables.insert("reconciled".into(), r.table);
    Ok(())
}

/// Keys proven unique by a schema's primary key (rows breaking it are never in the good rows).
fn same_set<'a>(primary_key: &[String], keys: impl Iterator<Item = &'a String>) -> bool {
    let keys: std::collections::BTreeSet<&String> = keys.collect();
    !primary_key.is_empty() && keys == primary_key.iter().collect()
}

/// Each configured output with the table it writes, in the pipeline's order; an output whose
/// table was not produced is an error when its turn comes (the outputs before it go on).
pub fn outputs<'a>(
    p: &'a Pipeline,
    tables: &'a BTreeMap<String, DataFrame>,
) -> impl Iterator<Item = Result<(&'a Output, &'a DataFrame), PipelineError>> + 'a {
    p.outputs.iter().map(|o| match tables.get(&o.table) {
        Some(df) => Ok((o, df)),
        None => Err(PipelineError::NotProduced(o.table.clone())),
    })
}

/// Steps 2 and 3 at once: the validated tables in, the computed tables out.
pub fn run(p: &Pipeline, tables: BTreeMap<String, DataFrame>) -> Result<Computed, PipelineError> {
    let mut flow = Flow::start(p, &p.needs, tables)?;
    let reconciled = flow.reconcile()?;
    flow.transform(reconciled)
}
