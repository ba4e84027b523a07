//! The tables a run's orders become, every column text: `orders`, `order_lines` (canonical,
//! every order of the file), `erp_orders` (the ERP order import: lines of orders sent),
//! `shipping_orders` (the 940's columns: new orders), `order_rejects` (line, field, reason).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::intake::{Intake, Taken, Verdict};

/// The tables an `[orders]` pipeline has besides its input.
pub const TABLES: [&str; 5] = [
    "orders",
    "order_lines",
    "erp_orders",
    "shipping_orders",
    "order_rejects",
];

/// Builds a text table from named columns of equal length; an empty value is null, so a CSV
/// output writes nothing rather than `""` (which polars writes for an empty string).
fn frame(height: usize, columns: Vec<(&str, Vec<String>)>) -> PolarsResult<DataFrame> {
    let column = |(n, v): (&str, Vec<String>)| {
        let v: Vec<Option<String>> = v
            .into_iter()
            .map(|s| (!s.is_empty()).then_some(s))
            .collect();
        Column::new(n.into(), v)
    };
    DataFrame::new(height, columns.into_iter().map(column).collect())
}

/// One row per (order, line) of the given orders, with the columns `f` gives.
fn per_line<'a>(
    taken: &[&'a Taken],
    names: &[&str],
    f: impl Fn(&'a Taken, &'a super::Line) -> Vec<String>,
) -> PolarsResult<DataFrame> {
    let rows = taken
        .iter()
        .flat_map(|t| t.order.lines.iter().map(move |l| (*t, l)));
    rows_frame(names, rows.map(|(t, l)| f(t, l)))
}

const ORDERS: [&str; 15] = [
    "channel",
    "order_id",
    "order_date",
    "currency",
    "ship_to_name",
    "ship_to_address",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal",
    "ship_to_country",
    "lines",
    "first_line",
    "content_hash",
    "intake",
    "version",
];

const ORDER_LINES: [&str; 9] = [
    "channel",
    "order_id",
    "line",
    "line_number",
    "sku",
    "quantity",
    "unit",
    "unit_price",
    "description",
];

const ERP_ORDERS: [&str; 18] = [
    "channel",
    "order_id",
    "version",
    "change",
    "order_date",
    "currency",
    "ship_to_name",
    "ship_to_address",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal",
    "ship_to_country",
    "line_number",
    "sku",
    "quantity",
    "unit",
    "unit_price",
    "backorder_quantity",
];

const SHIPPING_ORDERS: [&str; 16] = [
    "order_number",
    "po_number",
    "ship_to",
    "ship_to_id",
    "ship_to_address",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal",
    "carrier",
    "requested_ship_date",
    "line_number",
    "sku",
    "sku_qualifier",
    "upc",
    "quantity",
    "unit",
];

const REJECTS: [&str; 8] = [
    "channel",
    "order_id",
    "line",
    "line_number",
    "sku",
    "field",
    "value",
    "reason",
];

/// Every table of [`TABLES`], by name.
pub fn tables(intake: &Intake) -> PolarsResult<BTreeMap<String, DataFrame>> {
    let ch = intake.channel.as_str();
    let all: Vec<&Taken> = intake.taken.iter().collect();
    let sent: Vec<&Taken> = all.iter().copied().filter(|t| t.verdict.sent()).collect();
    let new: Vec<&Taken> = all
        .iter()
        .copied()
        .filter(|t| t.verdict == Verdict::New)
        .collect();
    let mut out = BTreeMap::new();
    out.insert("orders".into(), orders(ch, &all)?);
    out.insert(
        "order_lines".into(),
        per_line(&all, &ORDER_LINES, |t, l| {
            vec![
                ch.into(),
                t.order.id.clone(),
                l.line.to_string(),
                l.line_number.clone(),
                l.sku.clone(),
                l.quantity.clone(),
                l.unit.clone(),
                l.unit_price.clone(),
                l.description.clone(),
            ]
        })?,
    );
    out.insert(
        "erp_orders".into(),
        per_line(&sent, &ERP_ORDERS, |t, l| erp_row(ch, t, l))?,
    );
    out.insert(
        "shipping_orders".into(),
        per_line(&new, &SHIPPING_ORDERS, shipping_row)?,
    );
    out.insert("order_rejects".into(), rejects(ch, intake)?);
    Ok(out)
}

/// `orders`: one row per order of the file.
fn orders(ch: &str, all: &[&Taken]) -> PolarsResult<DataFrame> {
    let rows = all.iter().map(|t| {
        let (o, s) = (&t.order, &t.order.ship_to);
        vec![
            ch.to_string(),
            o.id.clone(),
            o.date.clone(),
            o.currency.clone(),
            s.name.clone(),
            s.address.clone(),
            s.city.clone(),
            s.state.clone(),
            s.postal.clone(),
            s.country.clone(),
            o.lines.len().to_string(),
            o.first_line().to_string(),
            t.hash.clone(),
            t.verdict.as_str().to_string(),
            t.version.to_string(),
        ]
    });
    rows_frame(&ORDERS, rows)
}

/// A line of the ERP's order import: a new order's, or an accepted amendment's (`change`).
fn erp_row(ch: &str, t: &Taken, l: &super::Line) -> Vec<String> {
    let (o, s) = (&t.order, &t.order.ship_to);
    let change = match t.verdict {
        Verdict::Amended => "change",
        _ => "new",
    };
    vec![
        ch.into(),
        o.id.clone(),
        t.version.to_string(),
        change.into(),
        o.date.clone(),
        o.currency.clone(),
        s.name.clone(),
        s.address.clone(),
        s.city.clone(),
        s.state.clone(),
        s.postal.clone(),
        s.country.clone(),
        l.line_number.clone(),
        l.sku.clone(),
        l.quantity.clone(),
        l.unit.clone(),
        l.unit_price.clone(),
        // Empty when the pipeline checks no ATP; else what ATP did not cover (0 when covered).
        t.order
            .lines
            .iter()
            .position(|x| std::ptr::eq(x, l))
            .and_then(|i| t.backorder.get(i).copied().flatten())
            .map(|d| d.normalize().to_string())
            .unwrap_or_default(),
    ]
}

/// A line of the 940 (`formats::x12::outbound` columns): the order id is our order number and
/// the customer's PO; no ship-to id, carrier or date is known at intake.
fn shipping_row(t: &Taken, l: &super::Line) -> Vec<String> {
    let (o, s) = (&t.order, &t.order.ship_to);
    vec![
        o.id.clone(),
        o.id.clone(),
        s.name.clone(),
        String::new(),
        s.address.clone(),
        s.city.clone(),
        s.state.clone(),
        s.postal.clone(),
        String::new(),
        String::new(),
        l.line_number.clone(),
        l.sku.clone(),
        "VN".into(),
        String::new(),
        l.quantity.clone(),
        l.unit.clone(),
    ]
}

/// `order_rejects`: one row per bad field.
fn rejects(ch: &str, intake: &Intake) -> PolarsResult<DataFrame> {
    let rows = intake.rejects.iter().map(|r| {
        vec![
            ch.to_string(),
            r.order_id.clone(),
            r.line.to_string(),
            r.line_number.clone(),
            r.sku.clone(),
            r.field.to_string(),
            r.value.clone(),
            r.reason.clone(),
        ]
    });
    rows_frame(&REJECTS, rows)
}

/// A text table from rows in the order of `names`.
fn rows_frame(names: &[&str], rows: impl Iterator<Item = Vec<String>>) -> PolarsResult<DataFrame> {
    let mut cols: Vec<Vec<String>> = vec![Vec::new(); names.len()];
    for row in rows {
        for (c, v) in cols.iter_mut().zip(row) {
            c.push(v);
        }
    }
    let height = cols.first().map_or(0, Vec::len);
    frame(height, names.iter().copied().zip(cols).collect())
}
