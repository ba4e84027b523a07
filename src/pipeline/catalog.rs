//! The catalog step of the pure pipeline: the partner file's good rows mapped by the layout,
//! checked by the item rules, compared with the last accepted catalog of the same source and
//! judged by the guard; the tables `catalog_items` and `catalog_changes` for SQL and outputs,
//! and the catalog to publish when it is applied.

use polars::prelude::*;

use super::PipelineError;
use crate::config::catalog::CatalogSpec;
use crate::engine::catalog::{
    apply, changes_frame, check_items, diff, guard, items_frame, map_items, Changes, Item, Verdict,
};
use crate::issue::{Issue, Severity};

/// What the catalog step made of a file.
#[derive(Debug)]
pub struct Catalogued {
    /// Broken item rules (rows set aside), in file order.
    pub issues: Vec<Issue>,
    /// Rows set aside by the item rules.
    pub set_aside: usize,
    pub changes: Changes,
    /// Applied, or held and why (then nothing is published).
    pub verdict: Verdict,
    /// `catalog_items` (the file's good items) and `catalog_changes`.
    pub items: DataFrame,
    pub changes_table: DataFrame,
    /// The catalog accepted after this file (the next version when applied).
    pub next: Vec<Item>,
}

/// The file lines of the good rows: data lines from 2 on, skipping the lines of rows the
/// validation set aside (`issues`' error lines). Exact when no record spans lines.
pub fn good_lines(rows: usize, issues: &[Issue]) -> Vec<u64> {
    let bad: std::collections::BTreeSet<u64> = issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .filter_map(|i| i.line)
        .collect();
    (2u64..).filter(|l| !bad.contains(l)).take(rows).collect()
}

/// Runs the catalog step on the good rows of `file`; `previous` is the last accepted catalog
/// of the source (empty for its first); `prices_approved`: a person approved this file's price
/// changes (`tallyman catalog approve`).
pub fn catalog(
    spec: &CatalogSpec,
    good: &DataFrame,
    lines: &[u64],
    previous: &[Item],
    file: &str,
    prices_approved: bool,
) -> Result<Catalogued, PipelineError> {
    let (items, mut issues) = map_items(spec.layout, good, lines, file, spec.currency.as_deref())
        .map_err(|e| PipelineError::Unusable {
        what: format!("catalog file {file}"),
        problem: e.to_string(),
    })?;
    let skus: Vec<String> = items.iter().map(|i| i.sku.clone()).collect();
    let (mut items, rule_issues) = check_items(items, &spec.rules, spec.layout, file);
    issues.extend(rule_issues);
    issues.sort_by_key(|i| i.line);
    let set_aside = issues
        .iter()
        .filter_map(|i| i.line)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    // An item whose row was set aside keeps its last accepted values: a bad row is not a
    // removal (nor, in a full file, a reason to hold it).
    let kept: std::collections::BTreeSet<&str> = items.iter().map(|i| i.sku.as_str()).collect();
    let bad: std::collections::BTreeSet<&str> = skus
        .iter()
        .map(String::as_str)
        .filter(|s| !kept.contains(s))
        .collect();
    let carried: Vec<Item> = previous
        .iter()
        .filter(|p| bad.contains(p.sku.as_str()))
        .cloned()
        .collect();
    items.extend(carried);
    let changes = diff(previous, &items, spec.mode);
    let verdict = guard(
        &spec.guard,
        spec.mode,
        items.len(),
        &changes,
        prices_approved,
    );
    let next = apply(previous, &items, spec.mode);
    Ok(Catalogued {
        issues,
        set_aside,
        items: items_frame(&items)?,
        changes_table: changes_frame(&changes.rows)?,
        changes,
        verdict,
        next,
    })
}
