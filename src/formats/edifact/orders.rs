//! EDIFACT ORDERS messages mapped to the same columnar [`Table`] as X12 (context columns:
//! `interchange_control` = UNB 0020, `group_control` = UNG 0048, `set_control` = UNH 0062).
//!
//! | table | one row per | columns after the context |
//! |---|---|---|
//! | `edifact_orders_header` | ORDERS message | order_number (BGM 1004), order_date (DTM+137), delivery_date (DTM+2), buyer (NAD+BY party id, else name), ship_to (NAD+DP or NAD+ST), supplier (NAD+SU), currency (CUX 6345), line_count (LIN segments) |
//! | `edifact_orders_lines` | LIN | order_number, line_number (LIN 1082, else position), sku (LIN C212 7140), sku_type (7143, e.g. EN, IN, SA), quantity (QTY+21, else first QTY), unit (QTY 6411), unit_price (PRI 5118) |
//!
//! Numbers are rewritten with `.` as decimal mark whatever the UNA declares (`8,5` becomes
//! `8.5`), so that downstream decimal parsing is uniform; they are never converted to floats.

use super::lexer::Segment;
use super::model::Parsed;
use super::tables::{ctx_of, number, opt};
use crate::formats::table::Table;

/// Columns of `edifact_orders_header` after the context.
pub const ORDERS_HEADER: [&str; 8] = [
    "order_number",
    "order_date",
    "delivery_date",
    "buyer",
    "ship_to",
    "supplier",
    "currency",
    "line_count",
];

/// Columns of `edifact_orders_lines` after the context.
pub const ORDERS_LINES: [&str; 7] = [
    "order_number",
    "line_number",
    "sku",
    "sku_type",
    "quantity",
    "unit",
    "unit_price",
];

/// Maps every ORDERS message; returns no tables when there is none.
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    let mut header = Table::new("edifact_orders_header", &ORDERS_HEADER);
    let mut lines = Table::new("edifact_orders_lines", &ORDERS_LINES);
    let mut any = false;
    for (ic, m) in parsed
        .messages()
        .filter(|(_, m)| m.message_type == "ORDERS")
    {
        any = true;
        let cs = ic.charset;
        let ctx = ctx_of(ic, m);
        let mut h: [Option<String>; 7] = Default::default();
        let mut rows: Vec<[Option<String>; 6]> = Vec::new();
        for seg in parsed.message_segments(m) {
            let party = |seg: &Segment| opt(seg.text(2, 1, cs)).or_else(|| opt(seg.text(4, 1, cs)));
            match (seg.tag(), seg.text(1, 1, cs).as_str()) {
                (b"BGM", _) => h[0] = opt(seg.text(2, 1, cs)),
                (b"DTM", "137") if rows.is_empty() => h[1] = opt(seg.text(1, 2, cs)),
                (b"DTM", "2") if rows.is_empty() => h[2] = opt(seg.text(1, 2, cs)),
                (b"NAD", "BY") => h[3] = party(seg),
                (b"NAD", "DP" | "ST") if h[4].is_none() => h[4] = party(seg),
                (b"NAD", "SU") => h[5] = party(seg),
                (b"CUX", _) => h[6] = opt(seg.text(1, 2, cs)),
                (b"LIN", _) => {
                    let line =
                        opt(seg.text(1, 1, cs)).or_else(|| Some((rows.len() + 1).to_string()));
                    rows.push([
                        line,
                        opt(seg.text(3, 1, cs)),
                        opt(seg.text(3, 2, cs)),
                        None,
                        None,
                        None,
                    ]);
                }
                (b"QTY", q) => {
                    if let Some(r) = rows.last_mut().filter(|r| r[3].is_none() || q == "21") {
                        r[3] = number(seg, 1, 2, cs);
                        r[4] = opt(seg.text(1, 3, cs));
                    }
                }
                (b"PRI", _) => {
                    if let Some(r) = rows.last_mut().filter(|r| r[5].is_none()) {
                        r[5] = number(seg, 1, 2, cs);
                    }
                }
                _ => {}
            }
        }
        let count = Some(rows.len().to_string());
        let order = h[0].clone();
        header.push(&ctx, h.into_iter().chain([count]));
        for r in rows {
            lines.push(&ctx, std::iter::once(order.clone()).chain(r));
        }
    }
    if any {
        vec![header, lines]
    } else {
        Vec::new()
    }
}
