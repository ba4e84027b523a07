//! A pipeline run on no rows, for `tallyman check`: every table the SQL can name is built empty
//! with its schema's columns and types (validated exactly as a file would be), reconciled, and
//! every transform runs on them, so a column typo or a type error in the SQL shows up in
//! `check` instead of quarantining a partner's file at run time. Outputs' tables and `order_by`
//! columns, and `[breaks]`' columns, are checked against what the transforms produce.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::tables::load_table;
use crate::config::{ConfigError, Pipeline};
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
    let mut sides = vec![("input".to_string(), &p.schema)];
    sides.extend(p.erp.iter().map(|e| ("erp".to_string(), &e.schema)));
    sides.extend(p.references.iter().map(|(n, t)| (n.clone(), &t.schema)));
    for (name, schema) in sides {
        match empty_table(schema) {
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
    }
    out
}

/// The table a file with this schema and no rows validates to: the schema's columns, typed.
fn empty_table(schema: &TableSchema) -> Result<DataFrame, String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(schema.fields.iter().map(|f| f.name.as_str()))
        .map_err(|e| e.to_string())?;
    let header = w.into_inner().map_err(|e| e.to_string())?;
    let v = load_table(
        &schema.name,
        &header,
        schema,
        &Dialect::default(),
        &HashMap::new(),
    )
    .map_err(|e| e.to_string())?;
    if let Some(f) = v.fatal.first() {
        return Err(format!("schema `{}` gives no table: {f}", schema.name));
    }
    v.good_rows().map_err(|e| e.to_string())
}
