//! Compiling one raw pipeline file into a validated `Pipeline`: one function per section (in
//! the section's file), each adding its problems to one shared list, so every problem of the
//! file is reported at once, in file order.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::pipeline::{Home, Pipeline};
use super::raw::PipelineRaw;
use super::ConfigError;
use crate::engine::spec::Transform;
use crate::formats::csv::IfEmpty;
use crate::schema::TableSchema;

pub use super::input::{EDIFACT_TABLES, X12_TABLES, XML_TABLES};
pub use super::outputs::BUILTIN_TABLES;
// Their paths before the compiled types moved to pipeline.rs.
pub use super::pipeline::{business_date, BreaksTable, Erp, ERP_PLACEHOLDERS, OUTPUT_PLACEHOLDERS};

/// Compiles one pipeline. `shown` names the file in errors; `text` is hashed for manifests.
pub fn compile(
    id: &str,
    shown: &str,
    raw: PipelineRaw,
    schemas: &BTreeMap<String, TableSchema>,
    home: &Home,
    text: &str,
) -> Result<Pipeline, Vec<ConfigError>> {
    let mut errs = Errs {
        file: shown.to_string(),
        list: Vec::new(),
    };
    let e = &mut errs;
    let time_zone = time_zone(&raw, e);
    let source = super::source::compile(id, &raw.source, home, e);
    let tables = super::tables::compile(&raw, schemas, home, e);
    let input = super::input::compile(&raw, e);
    let business_date = super::input::business_date(&raw, e);
    let reconcile = super::reconcile::compile(&raw, &tables.schema, &tables.erp, e);
    let (names, outputs) = super::outputs::compile(&raw, e);
    let breaks = super::outputs::breaks(&raw, &names, e);
    let report = super::report::compile_section(raw.report.as_ref(), e);
    let schedule = super::schedule::compile_section(raw.schedule.as_deref(), &raw.time_zone, e);
    let expected = super::expected::compile_section(raw.expected.as_ref(), e);
    let destinations = super::outputs::destinations(&raw, e);
    let trailer = super::input::trailer(&raw, e);
    let (group_reconcile, journal) = super::settlement::compile_sections(&raw, &input.format, e);
    let open_items = super::open_items::compile(&raw, e);
    let orders = super::orders::compile(&raw, e);
    let shipments = super::orders::compile_shipments(&raw, e);
    let invoices = super::orders::compile_invoices(&raw, e);
    if shipments.is_some() {
        super::orders::check_ship_erp(tables.erp.as_ref(), e);
    }
    let returns = super::returns::compile(&raw, e);
    let settled_orders = super::returns::compile_settled(&raw, e);
    if let Some(m) = orders.as_ref().and_then(|o| o.items.as_ref()) {
        super::orders::check_items(m, &tables.references, e);
    }
    let catalog = super::catalog::compile(&raw, id, e);
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    let schema = tables
        .schema
        .expect("errors were returned above when the schema is missing");
    let needs = crate::engine::needs::Needs::of_sql(raw.transforms.iter().map(|t| t.sql.as_str()));
    Ok(Pipeline {
        id: id.to_string(),
        description: raw.description.unwrap_or_default(),
        time_zone,
        source,
        format: input.format,
        ack_destination: raw.input.ack_destination.clone(),
        ta1: input.ta1,
        schema,
        on_error: input.on_error,
        dialect: raw.input.dialect,
        if_empty: IfEmpty::from_allow(raw.input.allow_empty),
        trailer,
        business_date,
        references: tables.references,
        erp: tables.erp,
        reconcile,
        transforms: raw
            .transforms
            .into_iter()
            .map(|t| Transform {
                name: t.name,
                sql: t.sql,
            })
            .collect(),
        needs,
        outputs,
        destinations,
        schedule,
        expected,
        config_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        breaks,
        report,
        group_reconcile,
        journal,
        open_items,
        orders,
        shipments,
        invoices,
        returns,
        settled_orders,
        catalog,
    })
}

/// The pipeline's IANA `time_zone` (UTC when it is not one, with a problem).
fn time_zone(raw: &PipelineRaw, errs: &mut Errs) -> Tz {
    raw.time_zone.parse().unwrap_or_else(|_| {
        errs.add(
            "time_zone",
            format!("`{}` is not an IANA time zone", raw.time_zone),
        );
        Tz::UTC
    })
}

pub(crate) struct Errs {
    file: String,
    list: Vec<ConfigError>,
}

impl Errs {
    pub(crate) fn add(&mut self, key: &str, why: String) {
        self.list.push(ConfigError {
            file: self.file.clone(),
            key: key.to_string(),
            why,
        });
    }
}

pub(crate) fn schema_of(
    e: &mut Errs,
    home: &Home,
    schemas: &BTreeMap<String, TableSchema>,
    key: &str,
    name: &str,
) -> Option<TableSchema> {
    let found = schemas.get(name).cloned();
    if found.is_none() {
        let why = if home.path(&format!("schemas/{name}.json")).is_file() {
            format!("schema `{name}` is invalid (its problems in schemas/{name}.json are listed with the schemas)")
        } else {
            format!("schema `{name}` is not in schemas/ (looked for schemas/{name}.json)")
        };
        e.add(key, why);
    }
    found
}

/// Why `template` would not expand into the intended name: each `{name}` that is not one of
/// `known`, and a `{` with no `}` (either would be written into the file name as is).
pub(crate) fn placeholder_problems(template: &str, known: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push(format!("`{template}` has a `{{` with no `}}`"));
            break;
        };
        let name = &after[..close];
        if !known.contains(&name) {
            out.push(format!(
                "`{{{name}}}` in `{template}` is not a placeholder (known: {})",
                known
                    .iter()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    out
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn unknown_and_unclosed_placeholders_are_named() {
        assert!(
            placeholder_problems("atp_{yyyymmdd}_{run_id}.csv", &OUTPUT_PLACEHOLDERS).is_empty()
        );
        let found = placeholder_problems("atp_{yyyymmddd}.csv", &OUTPUT_PLACEHOLDERS);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("`{yyyymmddd}`"), "{found:?}");
        assert_eq!(
            placeholder_problems("atp_{date.csv", &OUTPUT_PLACEHOLDERS).len(),
            1
        );
        assert_eq!(
            placeholder_problems("erp_{run_id}.csv", &ERP_PLACEHOLDERS).len(),
            1
        );
    }
}
