//! EDIFACT messages mapped to the same columnar [`Table`] as X12, and the helpers the message
//! mappers share. Context columns: `interchange_control` = UNB 0020, `group_control` = UNG
//! 0048, `set_control` = UNH 0062.
//!
//! | table | one row per | columns after the context |
//! |---|---|---|
//! | `edifact_orders_header` | ORDERS message | see `orders.rs` |
//! | `edifact_orders_lines` | ORDERS LIN | see `orders.rs` |
//! | `edifact_desadv_lines` | DESADV LIN | the columns of `x12_856_lines`; see `despatch.rs` |
//! | `edifact_invrpt_lines` | INVRPT QTY | the columns of `x12_846_lines`; see `inventory.rs` |
//!
//! Only tables of message types present in the file are returned, in the order above. Messages
//! with envelope problems are mapped too: the caller decides from `Parsed::problems`. Dates are
//! the DTM C507 2380 value as sent (its format 2379 is not applied, as for ORDERS); numbers
//! are rewritten with `.` as decimal mark whatever the UNA declares, never converted to floats.

use super::lexer::{Charset, Segment};
use super::model::{Interchange, Message, Parsed};
use super::{despatch, inventory, orders};
use crate::formats::table::{Ctx, Table};

/// Maps every ORDERS, DESADV and INVRPT message to tables.
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    let mut out = orders::map_tables(parsed);
    out.extend(despatch::map_tables(parsed));
    out.extend(inventory::map_tables(parsed));
    out
}

/// One table of every message of `message_type`, each mapped by `map`; no table when there is
/// no such message.
pub(super) fn one_table_per_type(
    parsed: &Parsed,
    name: &str,
    columns: &[&str],
    message_type: &str,
    map: fn(&mut Table, &Ctx, &[Segment], Charset),
) -> Vec<Table> {
    let mut table = Table::new(name, columns);
    let mut any = false;
    for (ic, m) in parsed
        .messages()
        .filter(|(_, m)| m.message_type == message_type)
    {
        any = true;
        map(
            &mut table,
            &ctx_of(ic, m),
            parsed.message_segments(m),
            ic.charset,
        );
    }
    if any {
        vec![table]
    } else {
        Vec::new()
    }
}

/// `None` for empty text.
pub(super) fn opt(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Component `m` of element `n` as a number with the decimal mark normalized to `.`.
pub(super) fn number(seg: &Segment, n: usize, m: usize, cs: Charset) -> Option<String> {
    let text = seg.text(n, m, cs);
    let mark = seg.sc.decimal as char;
    opt(if mark != '.' {
        text.replace(mark, ".")
    } else {
        text
    })
}

/// The context columns of one message.
pub(super) fn ctx_of<'a>(ic: &'a Interchange, m: &'a Message) -> Ctx<'a> {
    let o = |v: &'a str| (!v.is_empty()).then_some(v);
    let group = ic
        .groups
        .iter()
        .find(|g| g.messages.iter().any(|x| x.header == m.header))
        .map(|g| g.control.as_str());
    Ctx(o(&ic.control), group.and_then(o), o(&m.reference))
}

/// Item number type codes (7143) that are GTINs: EAN, UPC, and GTIN (SRV, from D01B).
const GTIN_TYPES: [&str; 3] = ["EN", "UP", "SRV"];

/// An item's identification from LIN C212 (sku and type) and PIA fallbacks.
#[derive(Debug, Clone, Default)]
pub(super) struct Item {
    pub sku: Option<String>,
    pub qualifier: Option<String>,
    pub upc: Option<String>,
}

impl Item {
    /// From a LIN segment: C212 7140 and 7143 (element 3).
    pub fn from_lin(seg: &Segment, cs: Charset) -> Item {
        let mut item = Item::default();
        item.offer(opt(seg.text(3, 1, cs)), opt(seg.text(3, 2, cs)));
        item
    }

    /// A PIA segment after the LIN: its C212 pairs (elements 2..6) fill what the LIN lacked.
    pub fn add_pia(&mut self, seg: &Segment, cs: Charset) {
        for n in 2..=6 {
            self.offer(opt(seg.text(n, 1, cs)), opt(seg.text(n, 2, cs)));
        }
    }

    fn offer(&mut self, id: Option<String>, qualifier: Option<String>) {
        let Some(id) = id else { return };
        let gtin = qualifier
            .as_deref()
            .is_some_and(|q| GTIN_TYPES.contains(&q));
        if gtin && self.upc.is_none() {
            self.upc = Some(id.clone());
        }
        if self.sku.is_none() {
            self.sku = Some(id);
            self.qualifier = qualifier;
        }
    }

    pub fn columns(self) -> [Option<String>; 3] {
        [self.sku, self.qualifier, self.upc]
    }
}
