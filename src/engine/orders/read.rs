//! Orders out of the validated input table (and a document's header table): rows grouped by
//! order id (and, for documents, by set) in the order they first appear, every value kept as
//! the partner's text. The same order twice in one file stays two copies, for `intake` to
//! judge the second a duplicate.

use std::collections::HashMap;

use polars::prelude::*;

use super::{Layout, Line, Order, OrdersError};
use crate::formats::table::Table;

/// The orders of a file, and the lines that name no order (rejected by `intake`).
#[derive(Debug, Default)]
pub struct Read {
    pub orders: Vec<Order>,
    pub orphans: Vec<Line>,
}

/// Where each field is, by layout: line fields in the input, order fields in the input (CSV)
/// or in the document's header table.
struct Names {
    id: &'static str,
    line_number: Option<&'static str>,
    sku: &'static str,
    quantity: &'static str,
    unit: Option<&'static str>,
    price: &'static str,
    description: Option<&'static str>,
    /// Order-level fields: order id, date, currency, name, address, city, state, postal,
    /// country (`None`: the layout has no such field).
    head: [Option<&'static str>; 9],
}

fn names(layout: Layout) -> Names {
    match layout {
        Layout::X12_850 | Layout::XmlOrder => Names {
            id: "po_number",
            line_number: Some("line_number"),
            sku: "sku",
            quantity: "quantity",
            unit: Some("unit"),
            price: "unit_price",
            description: Some("description"),
            head: [
                Some("po_number"),
                Some("po_date"),
                Some("currency"),
                Some("ship_to"),
                Some("ship_to_address"),
                Some("ship_to_city"),
                Some("ship_to_state"),
                Some("ship_to_postal"),
                None,
            ],
        },
        Layout::EdifactOrders => Names {
            id: "order_number",
            line_number: Some("line_number"),
            sku: "sku",
            quantity: "quantity",
            unit: Some("unit"),
            price: "unit_price",
            description: None,
            head: [
                Some("order_number"),
                Some("order_date"),
                Some("currency"),
                Some("ship_to"),
                None,
                None,
                None,
                None,
                None,
            ],
        },
        Layout::ShopifyCsv => Names {
            id: "Name",
            line_number: None,
            sku: "Lineitem sku",
            quantity: "Lineitem quantity",
            unit: None,
            price: "Lineitem price",
            description: Some("Lineitem name"),
            head: [
                Some("Name"),
                Some("Created at"),
                Some("Currency"),
                Some("Shipping Name"),
                Some("Shipping Address1"),
                Some("Shipping City"),
                Some("Shipping Province"),
                Some("Shipping Zip"),
                Some("Shipping Country"),
            ],
        },
        Layout::PlainCsv => Names {
            id: "order_id",
            line_number: Some("line_number"),
            sku: "sku",
            quantity: "quantity",
            unit: Some("unit"),
            price: "unit_price",
            description: Some("description"),
            head: [
                Some("order_id"),
                Some("order_date"),
                Some("currency"),
                Some("ship_to_name"),
                Some("ship_to_address"),
                Some("ship_to_city"),
                Some("ship_to_state"),
                Some("ship_to_postal"),
                Some("ship_to_country"),
            ],
        },
    }
}

/// A column of the input as trimmed text per row (a missing optional column is all empty).
fn text(df: &DataFrame, name: &str) -> Result<Vec<String>, PolarsError> {
    let c = df.column(name)?.cast(&DataType::String)?;
    Ok(c.str()?
        .iter()
        .map(|v| v.unwrap_or("").trim().to_string())
        .collect())
}

fn required(
    df: &DataFrame,
    layout: Layout,
    name: &'static str,
) -> Result<Vec<String>, OrdersError> {
    if df.column(name).is_err() {
        return Err(OrdersError::MissingColumn {
            layout: layout.name(),
            column: name,
        });
    }
    Ok(text(df, name)?)
}

fn optional(df: &DataFrame, name: Option<&str>) -> Result<Vec<String>, OrdersError> {
    match name.filter(|n| df.column(n).is_ok()) {
        Some(n) => Ok(text(df, n)?),
        None => Ok(vec![String::new(); df.height()]),
    }
}

/// Reads the orders of `lines` (the validated input) under `layout`; `header` is a document's
/// header table (its rows by order id). A Shopify order number loses its leading `#`, so that
/// `#1001` and `1001` are one order.
pub fn read_orders(
    layout: Layout,
    lines: &DataFrame,
    header: Option<&Table>,
) -> Result<Read, OrdersError> {
    read_orders_at(layout, lines, header, &[])
}

/// `read_orders` with each CSV row's file line: `file_lines[row]` (validation may have set
/// rows aside, so row + 2 is not the line; a row past its end is taken as row + 2).
pub fn read_orders_at(
    layout: Layout,
    lines: &DataFrame,
    header: Option<&Table>,
    file_lines: &[u64],
) -> Result<Read, OrdersError> {
    let n = names(layout);
    let ids = required(lines, layout, n.id)?;
    let skus = required(lines, layout, n.sku)?;
    let quantities = required(lines, layout, n.quantity)?;
    let prices = required(lines, layout, n.price)?;
    let numbers = optional(lines, n.line_number)?;
    let units = optional(lines, n.unit)?;
    let descriptions = optional(lines, n.description)?;
    // Order fields of CSV layouts are on the lines (the first non-empty value wins).
    let csv = layout.lines_table().is_none();
    let mut head: Vec<Vec<String>> = Vec::new();
    for name in n.head.iter().skip(1) {
        head.push(match csv {
            true => optional(lines, *name)?,
            false => Vec::new(),
        });
    }
    // Which document of the file a row is in: a document's set (interchange, group, set
    // control); the same order id in two sets is the order sent twice, not one order.
    let docs: Vec<String> = match csv {
        true => vec![String::new(); lines.height()],
        false => {
            let parts = [
                optional(lines, Some("interchange_control"))?,
                optional(lines, Some("group_control"))?,
                optional(lines, Some("set_control"))?,
            ];
            (0..lines.height())
                .map(|r| {
                    parts
                        .iter()
                        .map(|p| p[r].as_str())
                        .collect::<Vec<_>>()
                        .join("/")
                })
                .collect()
        }
    };
    let mut read = Read::default();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for row in 0..lines.height() {
        // CSV: the header is line 1; a document: the mapped table's row.
        let at = match csv {
            true => file_lines.get(row).copied().unwrap_or(row as u64 + 2),
            false => row as u64 + 1,
        };
        let id = match layout {
            Layout::ShopifyCsv => ids[row].trim_start_matches('#').to_string(),
            _ => ids[row].clone(),
        };
        let mut line = Line {
            line: at,
            line_number: numbers[row].clone(),
            sku: skus[row].clone(),
            quantity: quantities[row].clone(),
            unit: units[row].clone(),
            unit_price: prices[row].clone(),
            description: descriptions[row].clone(),
        };
        if id.is_empty() {
            read.orphans.push(line);
            continue;
        }
        let key = (id.clone(), docs[row].clone());
        // A CSV line number the order has already: the order again (a partner's retry
        // appended to the file), judged as another copy of it.
        let repeated = index.get(&key).is_some_and(|&i| {
            !line.line_number.is_empty()
                && read.orders[i]
                    .lines
                    .iter()
                    .any(|l| l.line_number == line.line_number)
        });
        if repeated || !index.contains_key(&key) {
            read.orders.push(Order {
                id: id.clone(),
                ..Order::default()
            });
            index.insert(key.clone(), read.orders.len() - 1);
        }
        let i = index[&key];
        let order = &mut read.orders[i];
        if line.line_number.is_empty() {
            line.line_number = (order.lines.len() + 1).to_string();
        }
        if csv {
            let fields = order_fields(order);
            for (f, col) in fields.into_iter().zip(&head) {
                if f.is_empty() {
                    f.clone_from(&col[row]);
                }
            }
        }
        order.lines.push(line);
    }
    if let (Some(h), false) = (header, csv) {
        fill_from_header(&mut read.orders, h, &n);
    }
    for o in &mut read.orders {
        o.date = iso_date(&o.date);
    }
    Ok(read)
}

/// An order date as `YYYY-MM-DD` when it is one in a form the formats use (X12 and XML
/// `CCYYMMDD`, EDIFACT 203 `CCYYMMDDHHMM`, CSV `2026-11-25`, Shopify `2026-11-25 10:00:00
/// -0500`): the ERP gets one form whatever the partner sent. Anything else stays as sent.
fn iso_date(text: &str) -> String {
    let b = text.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if (b.len() == 8 || b.len() == 12) && digits(0..b.len()) {
        return format!("{}-{}-{}", &text[0..4], &text[4..6], &text[6..8]);
    }
    if digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
    {
        return text[..10].to_string();
    }
    text.to_string()
}

/// The order-level fields in the order of `Names::head` (after the id).
fn order_fields(o: &mut Order) -> [&mut String; 8] {
    [
        &mut o.date,
        &mut o.currency,
        &mut o.ship_to.name,
        &mut o.ship_to.address,
        &mut o.ship_to.city,
        &mut o.ship_to.state,
        &mut o.ship_to.postal,
        &mut o.ship_to.country,
    ]
}

/// A document's order fields from its header table's row of the same order id.
fn fill_from_header(orders: &mut [Order], h: &Table, n: &Names) {
    let Some(id_column) = n.head[0] else {
        return;
    };
    let mut rows: HashMap<&str, usize> = HashMap::new();
    for r in 0..h.rows() {
        if let Some(id) = h.get(r, id_column) {
            rows.entry(id.trim()).or_insert(r);
        }
    }
    for o in orders {
        let Some(&r) = rows.get(o.id.as_str()) else {
            continue;
        };
        let values: Vec<String> = n.head[1..]
            .iter()
            .map(|c| c.and_then(|c| h.get(r, c)).unwrap_or("").trim().to_string())
            .collect();
        for (f, v) in order_fields(o).into_iter().zip(values) {
            *f = v;
        }
    }
}
