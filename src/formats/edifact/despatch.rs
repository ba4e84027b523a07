//! EDIFACT DESADV (despatch advice) messages flattened to one row per LIN, with the columns
//! and order of X12's `x12_856_lines` so that both feed the same reconciliation.
//!
//! | table | one row per | columns after the context |
//! |---|---|---|
//! | `edifact_desadv_lines` | LIN | shipment_id (BGM 1004), ship_date (DTM+11, else DTM+137, before the first CPS), carrier (TDT C040 3127, else 3128), tracking (RFF+CN, else RFF+BM, else GIN+BN), order_number (RFF+ON), pack (the first GIN+BJ or GIN+AW SSCC, else PCI+33E marks), item_hl (CPS 7164 of the LIN's package), parent_hl (CPS 7166), sku, sku_qualifier (LIN C212 7140/7143, else the first PIA C212), upc (the 7140 whose 7143 is EN, UP or SRV), quantity (QTY+12 despatch quantity, else the first QTY), unit (QTY 6411) |
//!
//! References (order number, tracking, pack) are taken from the nearest scope: the LIN itself,
//! then its CPS package and that package's parents (CPS 7166 chain), then the message header.

use std::collections::HashMap;

use super::lexer::{Charset, Segment};
use super::model::Parsed;
use super::tables::{number, one_table_per_type, opt, Item};
use crate::formats::table::{Ctx, Table};
use crate::formats::x12::table::COLUMNS_856_LINES;

/// The references one scope (header, CPS package or LIN) carried.
#[derive(Debug, Default)]
struct Scope {
    order: Option<String>,
    pack: Option<String>,
    /// The pack came from a GIN (an SSCC), not from a PCI shipping mark.
    pack_is_sscc: bool,
    /// Rank (lower wins: CN, BM, GIN+BN) and value.
    tracking: Option<(u8, String)>,
}

impl Scope {
    fn feed(&mut self, seg: &Segment, cs: Charset) {
        let (tag, q) = (seg.tag(), seg.text(1, 1, cs));
        let mut track = |rank: u8, value: Option<String>| {
            if let Some(v) = value.filter(|_| self.tracking.as_ref().is_none_or(|t| rank < t.0)) {
                self.tracking = Some((rank, v));
            }
        };
        match (tag, q.as_str()) {
            (b"RFF", "ON") if self.order.is_none() => self.order = opt(seg.text(1, 2, cs)),
            (b"RFF", "CN") => track(0, opt(seg.text(1, 2, cs))),
            (b"RFF", "BM") => track(1, opt(seg.text(1, 2, cs))),
            (b"GIN", "BN") => track(2, opt(seg.text(2, 1, cs))),
            // The first SSCC in GIN wins, and replaces a PCI shipping mark read earlier.
            (b"GIN", "BJ" | "AW") if !self.pack_is_sscc => {
                if let Some(sscc) = opt(seg.text(2, 1, cs)) {
                    self.pack = Some(sscc);
                    self.pack_is_sscc = true;
                }
            }
            (b"PCI", "33E") if self.pack.is_none() => self.pack = opt(seg.text(2, 1, cs)),
            _ => {}
        }
    }
}

/// One CPS package.
struct Package {
    id: Option<String>,
    parent: Option<String>,
    scope: Scope,
}

/// One LIN with its package (index into the packages) and quantity.
struct Line {
    package: Option<usize>,
    item: Item,
    scope: Scope,
    qty: Option<(bool, Option<String>, Option<String>)>,
}

/// Maps every DESADV message; returns no table when there is none.
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    one_table_per_type(
        parsed,
        "edifact_desadv_lines",
        &COLUMNS_856_LINES,
        "DESADV",
        map_message,
    )
}

fn map_message(table: &mut Table, ctx: &Ctx, segs: &[Segment], cs: Charset) {
    let (mut shipment, mut carrier) = (None, None);
    let (mut dtm11, mut dtm137) = (None, None);
    let mut header = Scope::default();
    let mut packages: Vec<Package> = Vec::new();
    let mut lines: Vec<Line> = Vec::new();
    // True from a LIN until the next CPS: segments then belong to that line.
    let mut in_line = false;
    for seg in segs {
        match (seg.tag(), seg.text(1, 1, cs).as_str()) {
            (b"BGM", _) => shipment = shipment.or_else(|| opt(seg.text(2, 1, cs))),
            (b"DTM", "11") if packages.is_empty() => dtm11 = opt(seg.text(1, 2, cs)),
            (b"DTM", "137") if packages.is_empty() => dtm137 = opt(seg.text(1, 2, cs)),
            (b"TDT", _) if carrier.is_none() => {
                carrier = opt(seg.text(5, 1, cs)).or_else(|| opt(seg.text(5, 4, cs)))
            }
            (b"CPS", _) => {
                in_line = false;
                packages.push(Package {
                    id: opt(seg.text(1, 1, cs)),
                    parent: opt(seg.text(2, 1, cs)),
                    scope: Scope::default(),
                });
            }
            (b"LIN", _) => {
                in_line = true;
                lines.push(Line {
                    package: packages.len().checked_sub(1),
                    item: Item::from_lin(seg, cs),
                    scope: Scope::default(),
                    qty: None,
                });
            }
            (b"PIA", _) if in_line => {
                if let Some(l) = lines.last_mut() {
                    l.item.add_pia(seg, cs);
                }
            }
            (b"QTY", q) if in_line => {
                let despatch = q == "12";
                if let Some(l) = lines
                    .last_mut()
                    .filter(|l| l.qty.as_ref().is_none_or(|(d, _, _)| despatch && !d))
                {
                    l.qty = Some((despatch, number(seg, 1, 2, cs), opt(seg.text(1, 3, cs))));
                }
            }
            _ => {
                let scope = match (in_line, lines.last_mut(), packages.last_mut()) {
                    (true, Some(l), _) => &mut l.scope,
                    (false, _, Some(p)) => &mut p.scope,
                    _ => &mut header,
                };
                scope.feed(seg, cs);
            }
        }
    }
    let by_id: HashMap<&str, usize> = packages
        .iter()
        .enumerate()
        .filter_map(|(i, p)| Some((p.id.as_deref()?, i)))
        .collect();
    for line in lines {
        // The package chain from the line's package up; bounded, as a cyclic 7166 must not
        // loop forever.
        let mut chain: Vec<&Package> = Vec::new();
        let mut cur = line.package.and_then(|i| packages.get(i));
        while let Some(p) = cur.filter(|_| chain.len() <= packages.len()) {
            chain.push(p);
            cur = p
                .parent
                .as_deref()
                .and_then(|id| by_id.get(id))
                .and_then(|i| packages.get(*i));
        }
        let scopes = || {
            std::iter::once(&line.scope)
                .chain(chain.iter().map(|p| &p.scope))
                .chain(std::iter::once(&header))
        };
        let tracking = scopes().find_map(|s| s.tracking.as_ref().map(|t| t.1.clone()));
        let order = scopes().find_map(|s| s.order.clone());
        let pack = scopes().find_map(|s| s.pack.clone());
        let own = chain.first();
        let [sku, qualifier, upc] = line.item.columns();
        let (_, qty, unit) = line.qty.unwrap_or_default();
        table.push(
            ctx,
            [
                shipment.clone(),
                dtm11.clone().or_else(|| dtm137.clone()),
                carrier.clone(),
                tracking,
                order,
                pack,
                own.and_then(|p| p.id.clone()),
                own.and_then(|p| p.parent.clone()),
                sku,
                qualifier,
                upc,
                qty,
                unit,
            ],
        );
    }
}
