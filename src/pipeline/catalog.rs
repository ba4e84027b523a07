//! The catalog step of the pure pipeline: the partner file's good rows mapped by the layout,
//! checked by the item rules, compared with the last accepted catalog of the same source and
//! judged by the guard; the tables `catalog_items` and `catalog_changes` for SQL and outputs,
//! and the catalog to publish when it is applied.

use std::collections::BTreeSet;

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
    let bad: BTreeSet<u64> = issues
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
    let (good_items, rule_issues) = check_items(items.clone(), &spec.rules, spec.layout, file);
    issues.extend(rule_issues);
    issues.sort_by_key(|i| i.line);
    // A row with any issue is set aside, whichever step found it (a price that is not a
    // number is found while mapping).
    let bad_lines: BTreeSet<u64> = issues.iter().filter_map(|i| i.line).collect();
    let set_aside = bad_lines.len();
    let mut good_items: Vec<Item> = good_items
        .into_iter()
        .filter(|i| !bad_lines.contains(&i.line))
        .collect();
    // An item whose row was set aside keeps its last accepted values: a bad row is not a
    // removal (nor, in a full file, a reason to hold it).
    let kept: BTreeSet<&str> = good_items.iter().map(|i| i.sku.as_str()).collect();
    let bad: BTreeSet<&str> = items
        .iter()
        .filter(|i| bad_lines.contains(&i.line))
        .map(|i| i.sku.as_str())
        .filter(|s| !kept.contains(s))
        .collect();
    let carried: Vec<Item> = previous
        .iter()
        .filter(|p| bad.contains(p.sku.as_str()))
        .cloned()
        .collect();
    good_items.extend(carried);
    let items = good_items;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{Guard, ItemRules, Layout, Mode};

    fn spec() -> CatalogSpec {
        CatalogSpec {
            source: "s".into(),
            layout: Layout::Plain,
            mode: Mode::Full,
            currency: Some("USD".into()),
            rules: ItemRules {
                uom: Vec::new(),
                required: Vec::new(),
            },
            guard: Guard::default(),
        }
    }

    #[test]
    fn a_bad_row_is_set_aside_and_its_item_keeps_its_last_values() {
        let previous = vec![Item {
            sku: "B".into(),
            description: Some("Cup".into()),
            gtin: None,
            uom: None,
            price: Some("3".parse().unwrap()),
            currency: Some("USD".into()),
            vendor: None,
            status: None,
            line: 0,
        }];
        // B's price is not a number (found while mapping, even with no field required).
        let good = df!("sku" => ["A", "B"], "description" => ["Mug", "Cup"], "price" => ["1", "x"])
            .unwrap();
        let issues = vec![Issue::error("f.csv", "type", "bad").at_line(3)];
        let lines = good_lines(2, &issues);
        assert_eq!(lines, [2, 4]);
        let c = catalog(&spec(), &good, &lines, &previous, "f.csv", false).unwrap();
        let got: Vec<_> = c.issues.iter().map(|i| (i.line, i.rule.as_str())).collect();
        assert_eq!(got, [(Some(4), "price-number")]);
        assert_eq!(c.set_aside, 1);
        assert_eq!(
            (c.changes.new, c.changes.unchanged, c.changes.removed),
            (1, 1, 0)
        );
        assert_eq!(c.verdict, Verdict::Apply);
        let next: Vec<_> = c
            .next
            .iter()
            .map(|i| (i.sku.as_str(), i.field("price")))
            .collect();
        assert_eq!(
            next,
            [("A", Some("1.00".into())), ("B", Some("3.00".into()))]
        );
    }
}
