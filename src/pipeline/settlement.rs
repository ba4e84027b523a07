//! The settlement steps of the pure pipeline: the tables derived from validated settlement
//! lines (`grouped` and `grouped_summary` by `[group_reconcile]`, `journal` by `[journal]`),
//! and the columns of each side they read (so that pruning keeps them).

use std::collections::BTreeMap;

use polars::prelude::*;

use crate::config::{InputFormat, Pipeline};
use crate::engine::group_reconcile::{group_reconcile, STATUSES};
use crate::engine::journal::journal;

/// The columns of `table` (`input` or `erp`) the settlement steps read, so that they are kept
/// after validation.
pub fn needed_columns(p: &Pipeline, table: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if let Some(g) = &p.group_reconcile {
        match table {
            "input" => out.extend(g.partner_columns().into_iter().cloned()),
            _ => out.extend(g.erp_columns().into_iter().cloned()),
        }
    }
    // The journal and the report's money read these of the lines.
    if matches!(p.format, InputFormat::Settlement(_)) && table == "input" {
        out.extend(["settlement_id", "currency", "component", "amount"].map(String::from));
        // `[settled_orders]`: each order's first line, and what its refund lines refund.
        if p.settled_orders.is_some() {
            out.extend(["order_ref", "source_line", "sku", "quantity"].map(String::from));
        }
    }
    out
}

/// Adds `grouped`, `grouped_summary` and `journal` to `tables` as the pipeline asks; the
/// count of groups per status (for the manifest).
pub fn derive(
    p: &Pipeline,
    tables: &mut BTreeMap<String, DataFrame>,
) -> PolarsResult<BTreeMap<String, usize>> {
    let mut counts = BTreeMap::new();
    let started = std::time::Instant::now();
    if let (Some(spec), Some(input), Some(erp)) =
        (&p.group_reconcile, tables.get("input"), tables.get("erp"))
    {
        let g = group_reconcile(input, erp, spec)?;
        tracing::debug!(pipeline = %p.id, groups = g.table.height(), "grouped and matched in {:.2}s ({})", started.elapsed().as_secs_f64(), crate::usage::memory());
        let status = g.table.column("status")?.str()?.clone();
        for s in STATUSES {
            counts.insert(
                s.to_string(),
                status.iter().filter(|v| *v == Some(s)).count(),
            );
        }
        tables.insert("grouped".into(), g.table);
        tables.insert("grouped_summary".into(), g.summary);
    }
    if let (Some(accounts), InputFormat::Settlement(s)) = (&p.journal, &p.format) {
        let (lines, summary) = match s.table.as_str() {
            "settlement_lines" => ("input", "settlement_summary"),
            _ => ("settlement_lines", "input"),
        };
        if let (Some(l), Some(sm)) = (tables.get(lines), tables.get(summary)) {
            let j = journal(l, sm, accounts)?;
            tables.insert("journal".into(), j);
            tracing::debug!(pipeline = %p.id, "journal at {:.2}s", started.elapsed().as_secs_f64());
        }
    }
    Ok(counts)
}
