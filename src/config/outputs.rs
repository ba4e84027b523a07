//! `[[transforms]]` names, `[[outputs]]` (table, destination, name template, format and X12
//! envelope, rerun/control/completeness policies), `[breaks]` and `[destinations.*]`.

use std::collections::BTreeMap;

use super::compile::{placeholder_problems, Errs};
use super::pipeline::{
    BreaksTable, Complete, Control, OnRerun, Output, OutputFormat, X12Document, X12Party,
    OUTPUT_PLACEHOLDERS,
};
use super::raw::{OutputRaw, PipelineRaw};
use super::settlement;
use super::sftp::SftpEndpoint;

/// Names a SQL transform or output may use besides references and transforms.
pub const BUILTIN_TABLES: [&str; 4] = ["input", "erp", "reconciled", "breaks"];

/// Checks the transforms' names and every output, in file order. Returns the tables the
/// pipeline has (for `[breaks]`) and the compiled outputs.
pub(crate) fn compile(raw: &PipelineRaw, errs: &mut Errs) -> (Vec<String>, Vec<Output>) {
    let mut tables: Vec<String> = BUILTIN_TABLES.iter().map(|s| s.to_string()).collect();
    tables.extend(raw.references.keys().cloned());
    tables.extend(settlement::tables(raw));
    if super::open_items::keeps_book(raw) {
        tables.push("open_items".into());
    }
    tables.extend(super::orders::tables(raw));
    if raw.catalog.is_some() {
        tables.extend(["catalog_items".into(), "catalog_changes".into()]);
    }
    for t in &raw.transforms {
        if tables.contains(&t.name) {
            errs.add(
                "transforms.name",
                format!("`{}` is already a table name", t.name),
            );
        }
        tables.push(t.name.clone());
    }
    let mut formats = Vec::new();
    for o in &raw.outputs {
        let format = output_format(o, errs);
        let policies = output_policies(o, &format, errs);
        formats.push((format, policies));
        if !tables.contains(&o.table) {
            errs.add(
                "outputs.table",
                format!(
                    "`{}` is not a table (known: {})",
                    o.table,
                    tables.join(", ")
                ),
            );
        }
        if o.destination.contains("..")
            || o.destination.starts_with('/')
            || o.destination.is_empty()
        {
            errs.add(
                "outputs.destination",
                format!(
                    "`{}` must be a plain folder name under outbox/",
                    o.destination
                ),
            );
        }
        if o.name.contains('/') || o.name.is_empty() {
            errs.add(
                "outputs.name",
                format!("`{}` must be a file name template without `/`", o.name),
            );
        }
        for why in placeholder_problems(&o.name, &OUTPUT_PLACEHOLDERS) {
            errs.add("outputs.name", why);
        }
        if let Some(w) = o
            .when_empty
            .as_deref()
            .filter(|w| !["write", "skip"].contains(w))
        {
            errs.add(
                "outputs.when_empty",
                format!("`{w}`: use \"write\" or \"skip\""),
            );
        }
        partition_problems(o, errs);
    }
    let outputs = raw
        .outputs
        .iter()
        .zip(formats)
        .map(|(o, (format, (on_rerun, control, complete)))| Output {
            key: match o.key.is_empty() {
                true => o.order_by.clone(),
                false => o.key.clone(),
            },
            table: o.table.clone(),
            destination: o.destination.clone(),
            name: o.name.clone(),
            order_by: o.order_by.clone(),
            partition_by: o.partition_by.clone(),
            format,
            on_rerun,
            control,
            complete,
            skip_empty: o.when_empty.as_deref() == Some("skip"),
        })
        .collect();
    (tables, outputs)
}

/// Compiles `[breaks]` against the pipeline's `tables`.
pub(crate) fn breaks(raw: &PipelineRaw, tables: &[String], errs: &mut Errs) -> Option<BreaksTable> {
    raw.breaks.as_ref().map(|b| {
        if !tables.contains(&b.table) {
            errs.add(
                "breaks.table",
                format!(
                    "`{}` is not a table (known: {})",
                    b.table,
                    tables.join(", ")
                ),
            );
        }
        if b.key.is_empty() {
            errs.add("breaks.key", "name at least one key column".into());
        }
        BreaksTable {
            table: b.table.clone(),
            status: b.status.clone(),
            key: b.key.clone(),
            amount: b.amount.clone(),
            currency: b.currency.clone(),
            ok: b.ok.clone().unwrap_or_else(|| vec!["matched".into()]),
        }
    })
}

/// Compiles `[destinations.<name>]`: each must be written to and say where it uploads.
pub(crate) fn destinations(raw: &PipelineRaw, errs: &mut Errs) -> BTreeMap<String, SftpEndpoint> {
    let mut destinations = BTreeMap::new();
    for (name, d) in &raw.destinations {
        let used = raw.outputs.iter().any(|o| &o.destination == name)
            || raw.input.ack_destination.as_ref() == Some(name);
        if !used {
            errs.add(
                &format!("destinations.{name}"),
                "no output and no input.ack_destination writes to this destination".into(),
            );
        }
        match d.sftp.as_ref().map(|s| s.compile()) {
            Some(Ok(ep)) => {
                destinations.insert(name.clone(), ep);
            }
            Some(Err(es)) => {
                for e in es {
                    errs.add(&format!("destinations.{name}.sftp.{}", e.key), e.why);
                }
            }
            None => errs.add(
                &format!("destinations.{name}"),
                "says nothing: give it a [destinations.<name>.sftp] table".into(),
            ),
        }
    }
    destinations
}

/// Checks `partition_by` against the name template and the completeness rule: each file of a
/// partitioned output must get its own name, and only a partitioned output has a value to put
/// in `{partition}`.
fn partition_problems(o: &OutputRaw, errs: &mut Errs) {
    let named = o.name.contains("{partition}");
    match &o.partition_by {
        Some(column) if column.trim().is_empty() => {
            errs.add("outputs.partition_by", "name a column of the table".into())
        }
        Some(column) if !named => errs.add(
            "outputs.name",
            format!(
                "output `{}` writes one file per `{column}`: its name `{}` must hold `{{partition}}`",
                o.table, o.name
            ),
        ),
        Some(_) => {}
        None if named => errs.add(
            "outputs.name",
            format!(
                "`{{partition}}` in `{}` needs `partition_by` (the column whose values name the files)",
                o.name
            ),
        ),
        None => {}
    }
    // Carrying reads one last published copy back; a partitioned output has one per value.
    if o.partition_by.is_some() && o.complete.as_deref() == Some("carry_last_good") {
        errs.add(
            "outputs.complete",
            "carry_last_good cannot be used with partition_by (\"withhold\" can)".into(),
        );
    }
}

/// Checks an output's rerun, control and completeness keys, collecting problems.
fn output_policies(
    o: &OutputRaw,
    format: &OutputFormat,
    errs: &mut Errs,
) -> (OnRerun, Option<Control>, Option<Complete>) {
    let on_rerun = match o.on_rerun.as_deref().unwrap_or("changed") {
        "changed" => OnRerun::Changed,
        "always" => OnRerun::Always,
        "never" => OnRerun::Never,
        other => {
            errs.add(
                "outputs.on_rerun",
                format!("`{other}` is not one of changed, always, never"),
            );
            OnRerun::Changed
        }
    };
    let control = match o.control.as_deref() {
        None => None,
        Some("json") => Some(Control::Json),
        Some("done") => Some(Control::Done),
        Some(other) => {
            errs.add(
                "outputs.control",
                format!("`{other}` is not one of json, done"),
            );
            None
        }
    };
    let complete = match o.complete.as_deref() {
        None => None,
        Some("withhold") => Some(Complete::Withhold),
        Some("carry_last_good") => Some(Complete::CarryLastGood),
        Some(other) => {
            errs.add(
                "outputs.complete",
                format!("`{other}` is not one of withhold, carry_last_good"),
            );
            None
        }
    };
    if complete == Some(Complete::CarryLastGood) {
        if o.key.is_empty() && o.order_by.is_empty() {
            errs.add(
                "outputs.key",
                format!(
                    "output `{}` carries keys from its last good copy: name its key columns (`key`, or `order_by`)",
                    o.table
                ),
            );
        }
        if *format != OutputFormat::Csv {
            errs.add(
                "outputs.complete",
                "carry_last_good reads the last copy back as CSV: only CSV outputs can carry"
                    .into(),
            );
        }
    }
    (on_rerun, control, complete)
}

/// Checks an output's `format` and `[outputs.x12]`, collecting problems under `key`.
fn output_format(o: &OutputRaw, errs: &mut Errs) -> OutputFormat {
    let document = match o.format.as_deref().unwrap_or("csv") {
        "csv" => None,
        "x12_940" => Some(X12Document::ShippingOrder),
        "x12_846" => Some(X12Document::InventoryAdvice),
        other => {
            errs.add(
                "outputs.format",
                format!("`{other}` is not an output format (csv, x12_940, x12_846)"),
            );
            None
        }
    };
    let (Some(document), Some(x)) = (document, &o.x12) else {
        if document.is_some() {
            errs.add(
                "outputs.x12",
                format!(
                    "an {} output needs [outputs.x12] sender and receiver",
                    o.format.as_deref().unwrap_or("")
                ),
            );
        } else if o.x12.is_some() {
            errs.add("outputs.x12", "only X12 outputs have an envelope".into());
        }
        return OutputFormat::Csv;
    };
    let mut ok = true;
    for (key, value, width) in [
        ("outputs.x12.sender_qualifier", &x.sender_qualifier, 2),
        ("outputs.x12.sender", &x.sender, 15),
        ("outputs.x12.receiver_qualifier", &x.receiver_qualifier, 2),
        ("outputs.x12.receiver", &x.receiver, 15),
    ] {
        let plain = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c));
        if value.trim().is_empty() || value.chars().count() > width || !plain {
            errs.add(
                key,
                format!("{value:?} must be 1-{width} letters, digits, spaces or -_."),
            );
            ok = false;
        }
    }
    let usage = match x.usage.as_str() {
        "P" => 'P',
        "T" => 'T',
        other => {
            errs.add(
                "outputs.x12.usage",
                format!("{other:?} is not \"P\" or \"T\""),
            );
            ok = false;
            'P'
        }
    };
    if !ok {
        return OutputFormat::Csv;
    }
    OutputFormat::X12 {
        document,
        party: X12Party {
            sender_qualifier: x.sender_qualifier.clone(),
            sender: x.sender.clone(),
            receiver_qualifier: x.receiver_qualifier.clone(),
            receiver: x.receiver.clone(),
            app_sender: x.app_sender.clone().unwrap_or_else(|| x.sender.clone()),
            app_receiver: x.app_receiver.clone().unwrap_or_else(|| x.receiver.clone()),
            usage,
        },
    }
}
