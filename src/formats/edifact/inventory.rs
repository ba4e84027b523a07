//! EDIFACT INVRPT (inventory report) messages: one row per QTY, with the columns and order of
//! X12's `x12_846_lines`.
//!
//! | table | one row per | columns after the context |
//! |---|---|---|
//! | `edifact_invrpt_lines` | QTY | report_id (BGM 1004), report_date (DTM+137, before the first LIN), location_qualifier, location (LOC 3227 and C517 3225, or NAD 3035 and party id, else name, of the latest LOC or NAD), sku, sku_qualifier, upc (of the latest LIN, as in `edifact_desadv_lines`), quantity_qualifier (QTY 6063, e.g. 145 actual stock), quantity (QTY 6060), unit (QTY 6411) |

use super::lexer::{Charset, Segment};
use super::model::Parsed;
use super::tables::{number, one_table_per_type, opt, Item};
use crate::formats::table::{Ctx, Table};
use crate::formats::x12::table::COLUMNS_846_LINES;

/// Maps every INVRPT message; returns no table when there is none.
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    one_table_per_type(
        parsed,
        "edifact_invrpt_lines",
        &COLUMNS_846_LINES,
        "INVRPT",
        map_message,
    )
}

fn map_message(table: &mut Table, ctx: &Ctx, segs: &[Segment], cs: Charset) {
    let (mut report, mut date) = (None, None);
    let mut location: (Option<String>, Option<String>) = (None, None);
    let mut item: Option<Item> = None;
    for seg in segs {
        match (seg.tag(), seg.text(1, 1, cs).as_str()) {
            (b"BGM", _) => report = report.or_else(|| opt(seg.text(2, 1, cs))),
            (b"DTM", "137") if item.is_none() => date = opt(seg.text(1, 2, cs)),
            (b"LOC", q) => location = (opt(q.to_string()), opt(seg.text(2, 1, cs))),
            (b"NAD", q) => {
                let party = opt(seg.text(2, 1, cs)).or_else(|| opt(seg.text(4, 1, cs)));
                location = (opt(q.to_string()), party);
            }
            (b"LIN", _) => item = Some(Item::from_lin(seg, cs)),
            (b"PIA", _) => {
                if let Some(i) = item.as_mut() {
                    i.add_pia(seg, cs);
                }
            }
            (b"QTY", q) => {
                let [sku, qualifier, upc] = item.clone().unwrap_or_default().columns();
                table.push(
                    ctx,
                    [
                        report.clone(),
                        date.clone(),
                        location.0.clone(),
                        location.1.clone(),
                        sku,
                        qualifier,
                        upc,
                        opt(q.to_string()),
                        number(seg, 1, 2, cs),
                        opt(seg.text(1, 3, cs)),
                    ],
                );
            }
            _ => {}
        }
    }
}
