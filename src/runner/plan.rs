//! A pipeline run on no rows, for `tallyman check`: every table the SQL can name is built empty
//! with its schema's columns and types (validated exactly as a file would be), reconciled, and
//! every transform runs on them, so a column typo or a type error in the SQL shows up in
//! `check` instead of quarantining a partner's file at run time. Outputs' tables, `order_by`,
//! `key` and `partition_by` columns, and `[breaks]`' columns, are checked against what the
//! transforms produce.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::tables::load_table;
use crate::config::{ConfigError, InputFormat, Pipeline};
use crate::engine::reconcile::{reconcile, KnownUnique};
use crate::engine::transform::run_transforms;
use crate::formats::csv::Dialect;
use crate::schema::TableSchema;

/// Every problem found planning `p`; `file` names the pipeline file in them.
pub fn plan(p: &Pipeline, file: &str) -> Vec<ConfigError> {
    let problem = |key: &str, why: String| ConfigError {
        file: file.to_string(),
        key: key.to_string(),
        why,
    };
    let mut tables: BTreeMap<String, DataFrame> = BTreeMap::new();
    // A document input is its whole mapped table (the SQL may name a column the schema does
    // not list, as a run keeps them all); a CSV input is the schema's columns.
    let input_columns = match &p.format {
        InputFormat::Csv => None,
        InputFormat::X12 { table }
        | InputFormat::Edifact { table }
        | InputFormat::Xml { table } => document_columns(table),
        InputFormat::Settlement(s) => Some(super::settlement::plan_columns(s)),
    };
    let mut sides = vec![("input".to_string(), &p.schema, input_columns)];
    sides.extend(p.erp.iter().map(|e| ("erp".to_string(), &e.schema, None)));
    sides.extend(
        p.references
            .iter()
            .map(|(n, t)| (n.clone(), &t.schema, None)),
    );
    for (name, schema, columns) in sides {
        match empty_table(schema, columns) {
            Ok(df) => {
                tables.insert(name, df);
            }
            Err(why) => return vec![problem(&name, why)],
        }
    }
    if let (Some(spec), Some(input), Some(erp)) =
        (&p.reconcile, tables.get("input"), tables.get("erp"))
    {
        match reconcile(input.clone(), erp.clone(), spec, KnownUnique::default()) {
            Ok(r) => {
                match r.breaks() {
                    Ok(b) => tables.insert("breaks".into(), b),
                    Err(e) => return vec![problem("reconcile", e.to_string())],
                };
                tables.insert("reconciled".into(), r.table);
            }
            Err(e) => return vec![problem("reconcile", e.to_string())],
        }
    }
    if let Err(why) = super::settlement::plan_tables(p, &mut tables) {
        return vec![problem("group_reconcile", why)];
    }
    // `[orders]`: the order tables of a file with no orders, with all their columns.
    if p.orders.is_some() {
        let none = crate::engine::orders::Intake::default();
        match crate::engine::orders::tables(&none) {
            Ok(t) => tables.extend(t),
            Err(e) => return vec![problem("orders", e.to_string())],
        }
    }
    if p.shipments.is_some() {
        let none = crate::engine::shipments::ShipCheck {
            erp_checked: p.erp.is_some(),
            ..Default::default()
        };
        match crate::engine::shipments::tables(&none) {
            Ok(t) => tables.extend(t),
            Err(e) => return vec![problem("shipments", e.to_string())],
        }
    }
    if p.invoices.is_some() {
        let none = crate::engine::invoices::InvoiceCheck::default();
        match crate::engine::invoices::tables(&none) {
            Ok(t) => tables.extend(t),
            Err(e) => return vec![problem("invoices", e.to_string())],
        }
    }
    if p.returns.is_some() {
        let none = crate::engine::returns::ReturnCheck::default();
        match crate::engine::returns::tables(&none) {
            Ok(t) => tables.extend(t),
            Err(e) => return vec![problem("returns", e.to_string())],
        }
    }
    if p.catalog.is_some() {
        // A catalog run adds its tables before the transforms (runner/process/catalog.rs).
        use crate::engine::catalog::{changes_frame, items_frame};
        match (items_frame(&[]), changes_frame(&[])) {
            (Ok(items), Ok(changes)) => {
                tables.insert("catalog_items".into(), items);
                tables.insert("catalog_changes".into(), changes);
            }
            (Err(e), _) | (_, Err(e)) => return vec![problem("catalog", e.to_string())],
        }
    }
    match run_transforms(&tables, &p.transforms) {
        Ok(produced) => tables.extend(produced),
        // Later transforms may read the one that failed: the first failure is the one to fix.
        Err(e) => {
            return vec![problem(
                &format!("transforms.{}", e.transform),
                format!(
                    "the SQL does not run on the schemas' columns: {}",
                    e.message
                ),
            )]
        }
    }
    let mut out = Vec::new();
    let columns_of = |df: &DataFrame| {
        df.get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(b) = &p.breaks {
        match tables.get(&b.table) {
            None => out.push(problem(
                "breaks.table",
                format!("`{}` is not produced by this pipeline", b.table),
            )),
            Some(df) => {
                for c in b.columns().filter(|c| df.column(c).is_err()) {
                    out.push(problem(
                        "breaks",
                        format!(
                            "`{c}` is not a column of `{}` (its columns: {})",
                            b.table,
                            columns_of(df)
                        ),
                    ));
                }
            }
        }
    }
    for o in &p.outputs {
        let Some(df) = tables.get(&o.table) else {
            out.push(problem(
                "outputs.table",
                format!(
                    "`{}` is not produced by this pipeline (`reconciled` and `breaks` need [reconcile], `erp` needs [erp])",
                    o.table
                ),
            ));
            continue;
        };
        for c in o.order_by.iter().filter(|c| df.column(c).is_err()) {
            out.push(problem(
                "outputs.order_by",
                format!(
                    "`{c}` is not a column of `{}` (its columns: {})",
                    o.table,
                    columns_of(df)
                ),
            ));
        }
        if let Some(c) = o.partition_by.as_ref().filter(|c| df.column(c).is_err()) {
            out.push(problem(
                "outputs.partition_by",
                format!(
                    "`{c}` is not a column of `{}` (its columns: {}): it names one file per value",
                    o.table,
                    columns_of(df)
                ),
            ));
        }
        // `key` defaults to `order_by` (checked above): only its own columns are looked at.
        let own_key = o.key.iter().filter(|c| !o.order_by.contains(c));
        for c in own_key.filter(|c| df.column(c).is_err()) {
            out.push(problem(
                "outputs.key",
                format!(
                    "`{c}` is not a column of `{}` (its columns: {})",
                    o.table,
                    columns_of(df)
                ),
            ));
        }
    }
    out
}

/// The columns of a mapped X12, EDIFACT or XML table, context columns first.
fn document_columns(table: &str) -> Option<Vec<String>> {
    use crate::formats::{edifact::orders, x12::table as x12};
    // EDIFACT and XML tables share their X12 twins' columns, except EDIFACT ORDERS.
    let twin = match table {
        "xml_order_header" => "x12_850_header",
        "xml_order_lines" => "x12_850_lines",
        "xml_ship_lines" | "edifact_desadv_lines" => "x12_856_lines",
        "edifact_invrpt_lines" => "x12_846_lines",
        "edifact_orders_header" | "edifact_orders_lines" => {
            let own: &[&str] = if table.ends_with("header") {
                &orders::ORDERS_HEADER
            } else {
                &orders::ORDERS_LINES
            };
            let context = ["interchange_control", "group_control", "set_control"];
            return Some(context.iter().chain(own).map(|c| c.to_string()).collect());
        }
        other => other,
    };
    x12::columns(twin)
}

/// The table a file with this schema and no rows validates to, typed as the schema says: the
/// header is `columns` when given (a mapped document table; schema fields it lacks follow),
/// else the schema's fields.
fn empty_table(schema: &TableSchema, columns: Option<Vec<String>>) -> Result<DataFrame, String> {
    let mut header = columns.unwrap_or_default();
    for f in &schema.fields {
        if !header.contains(&f.name) {
            header.push(f.name.clone());
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&header).map_err(|e| e.to_string())?;
    let header = w.into_inner().map_err(|e| e.to_string())?;
    let v = load_table(
        &schema.name,
        &header,
        schema,
        &Dialect::default(),
        crate::formats::csv::IfEmpty::Allow,
        &HashMap::new(),
    )
    .map_err(|e| e.to_string())?;
    if let Some(f) = v.fatal.first() {
        return Err(format!("schema `{}` gives no table: {f}", schema.name));
    }
    v.good_rows().map_err(|e| e.to_string())
}
