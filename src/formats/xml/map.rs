//! Shared mapping pieces: the table layouts (the same columns as their X12 counterparts),
//! the dispatch by document kind, dates and item identification.

use super::kind::Kind;
use super::problem::{self as pb, Problem};
use super::tree::Doc;
use super::{cxml, ubl};
use crate::formats::table::{Ctx, Table};

/// The XML tables' layouts are their X12 twins' (one schema validates both).
pub use crate::formats::x12::table::{
    COLUMNS_850_HEADER as ORDER_HEADER, COLUMNS_850_LINES as ORDER_LINES,
    COLUMNS_856_LINES as SHIP_LINES,
};

/// Tables and mapping problems for one document (`payload` from [`super::kind::detect`]).
pub fn map(
    doc: &Doc,
    kind: &Kind,
    payload: usize,
    id: Option<String>,
) -> (Vec<Table>, Vec<Problem>) {
    let mut problems = Vec::new();
    let tables = match kind {
        Kind::Ubl(n) if n == "Order" => {
            let mut t = order_tables();
            ubl::order(doc, payload, id, &mut t, &mut problems);
            t
        }
        Kind::Ubl(n) if n == "DespatchAdvice" => {
            let mut t = vec![Table::new("xml_ship_lines", &SHIP_LINES)];
            ubl::despatch(doc, payload, id, &mut t, &mut problems);
            t
        }
        Kind::Cxml(n) if n == "OrderRequest" => {
            let mut t = order_tables();
            cxml::order(doc, payload, id, &mut t, &mut problems);
            t
        }
        Kind::Cxml(n) if n == "ShipNoticeRequest" => {
            let mut t = vec![Table::new("xml_ship_lines", &SHIP_LINES)];
            cxml::ship_notice(doc, payload, id, &mut t, &mut problems);
            t
        }
        _ => Vec::new(),
    };
    (tables, problems)
}

fn order_tables() -> Vec<Table> {
    vec![
        Table::new("xml_order_header", &ORDER_HEADER),
        Table::new("xml_order_lines", &ORDER_LINES),
    ]
}

/// Context columns: the document identifier, no group, the order or despatch ID.
pub fn ctx<'a>(id: &'a Option<String>, set: &'a Option<String>) -> Ctx<'a> {
    Ctx(id.as_deref(), None, set.as_deref())
}

/// XML dates (`2024-01-31`, or a dateTime `2024-01-31T10:00:00-08:00`) as CCYYMMDD like
/// X12, so one schema date format serves both; anything else stays as sent.
pub fn date(v: Option<String>) -> Option<String> {
    let v = v?;
    let b = v.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    let iso = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10);
    let rest_ok = b.len() == 10 || matches!(b.get(10), Some(b'T' | b'Z' | b'+' | b'-'));
    if iso && rest_ok {
        Some(format!("{}{}{}", &v[0..4], &v[5..7], &v[8..10]))
    } else {
        Some(v)
    }
}

/// A `xml:missing-element` problem for `what` (a child's local name, or `@attr`) under
/// `parent`, located at the empty element when there is one, else at the parent.
pub fn missing(doc: &Doc, parent: usize, what: &str) -> Problem {
    let path = format!("{}/{what}", doc.path(parent));
    let empty = doc.node(parent).and_then(|p| {
        p.children
            .iter()
            .copied()
            .find(|c| doc.node(*c).is_some_and(|n| n.name == what))
    });
    let at = doc.at(empty.unwrap_or(parent));
    Problem::new(
        pb::MISSING_ELEMENT,
        at,
        format!("required {what} is missing or empty"),
    )
    .path(path)
}

/// (sku, sku_qualifier, upc) of an item.
pub type Sku = (Option<String>, Option<String>, Option<String>);

/// The first present identifier in priority order, each with its X12 qualifier.
pub fn pick(candidates: &[(Option<String>, &str)], upc: Option<String>) -> Sku {
    match candidates.iter().find(|(v, _)| v.is_some()) {
        Some((v, q)) => (v.clone(), Some(q.to_string()), upc),
        None => (None, None, upc),
    }
}
