//! Shipment-side mappings: 945 shipping advices, 856 ship notices (HL tree flattened), 846
//! inventory advices and 997 acknowledgements. Column schemas are documented in `table.rs`.

use std::collections::HashMap;

use super::lexer::Segment;
use super::map_orders::Parties;
use super::table::{el, pick_sku, Ctx, Table};

const LIN_PAIRS: [usize; 15] = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
const W12_PAIRS: [usize; 1] = [7];

pub fn tables_945() -> Vec<Table> {
    vec![
        Table::new(
            "x12_945_header",
            &[
                "order_number",
                "ship_date",
                "shipment_id",
                "po_number",
                "ship_to",
                "ship_to_id",
                "carrier",
                "tracking",
                "units_shipped",
                "weight",
                "weight_unit",
            ],
        ),
        Table::new(
            "x12_945_lines",
            &[
                "order_number",
                "line_number",
                "status",
                "quantity_ordered",
                "quantity_shipped",
                "quantity_difference",
                "unit",
                "sku",
                "sku_qualifier",
                "upc",
                "lot",
            ],
        ),
    ]
}

/// REF/N9 qualifiers carrying a tracking reference: bill of lading, PRO number, tracking number.
fn is_tracking(seg: &Segment) -> bool {
    seg.is(1, b"BM") || seg.is(1, b"CN") || seg.is(1, b"2I")
}

pub fn map_945(ctx: &Ctx, segs: &[Segment], tables: &mut [Table]) {
    let mut h: [Option<String>; 4] = Default::default();
    let (mut carrier, mut tracking, mut w03) = (None, None, [None, None, None]);
    let mut parties = Parties::default();
    let mut lines = Vec::new();
    let mut lx = None;
    for seg in segs {
        let id = seg.id();
        match id {
            b"W06" => h = [el(seg, 2), el(seg, 3), el(seg, 4), el(seg, 6)],
            b"W27" => carrier = el(seg, 2).or_else(|| el(seg, 3)),
            b"REF" | b"N9" if tracking.is_none() && is_tracking(seg) => tracking = el(seg, 2),
            b"W03" => w03 = [el(seg, 1), el(seg, 2), el(seg, 3)],
            b"LX" => lx = el(seg, 1),
            b"W12" => {
                let (mut sku, mut q, upc) = pick_sku(seg, &W12_PAIRS);
                let upc = el(seg, 6).or(upc);
                if sku.is_none() {
                    (sku, q) = (upc.clone(), upc.as_ref().map(|_| "UP".to_string()));
                }
                let line = lx.take().or_else(|| Some((lines.len() + 1).to_string()));
                lines.push([
                    line,
                    el(seg, 1),
                    el(seg, 2),
                    el(seg, 3),
                    el(seg, 4),
                    el(seg, 5),
                    sku,
                    q,
                    upc,
                    el(seg, 9),
                ]);
            }
            _ if lines.is_empty() => {
                parties.feed(seg, id);
            }
            _ => {}
        }
    }
    let st = parties.take("ST");
    let [order, date, shipment, po] = h;
    let [units, weight, weight_unit] = w03;
    if let [header, detail, ..] = tables {
        header.push(
            ctx,
            [
                order.clone(),
                date,
                shipment,
                po,
                st.name,
                st.id,
                carrier,
                tracking,
                units,
                weight,
                weight_unit,
            ],
        );
        for line in lines {
            detail.push(ctx, std::iter::once(order.clone()).chain(line));
        }
    }
}

pub fn tables_856() -> Vec<Table> {
    vec![Table::new(
        "x12_856_lines",
        &[
            "shipment_id",
            "ship_date",
            "carrier",
            "tracking",
            "order_number",
            "pack",
            "item_hl",
            "parent_hl",
            "sku",
            "sku_qualifier",
            "upc",
            "quantity",
            "unit",
        ],
    )]
}

/// One HL node and what its loop carried.
#[derive(Default)]
struct Hl {
    id: Option<String>,
    parent: Option<String>,
    order: Option<String>,
    pack: Option<String>,
    carrier: Option<String>,
    tracking: Option<String>,
    ship_date: Option<String>,
    /// (sku, qualifier, upc) from LIN, then SN1 quantity and unit.
    item: Option<(Option<String>, Option<String>, Option<String>)>,
    qty: Option<(Option<String>, Option<String>)>,
}

pub fn map_856(ctx: &Ctx, segs: &[Segment], tables: &mut [Table]) {
    let (mut shipment_id, mut bsn_date) = (None, None);
    let mut nodes: Vec<Hl> = Vec::new();
    for seg in segs {
        let node = nodes.last_mut();
        match (seg.id(), node) {
            (b"BSN", _) => {
                shipment_id = el(seg, 2);
                bsn_date = el(seg, 3);
            }
            (b"HL", _) => nodes.push(Hl {
                id: el(seg, 1),
                parent: el(seg, 2),
                ..Hl::default()
            }),
            (b"PRF", Some(n)) => n.order = n.order.take().or_else(|| el(seg, 1)),
            (b"MAN", Some(n)) => n.pack = n.pack.take().or_else(|| el(seg, 2)),
            (b"TD5", Some(n)) => {
                n.carrier = n
                    .carrier
                    .take()
                    .or_else(|| el(seg, 3).or_else(|| el(seg, 5)))
            }
            // CN (PRO number) wins over BM (bill of lading) as the tracking reference.
            (b"REF", Some(n))
                if (seg.is(1, b"CN") || seg.is(1, b"BM"))
                    && (n.tracking.is_none() || seg.is(1, b"CN")) =>
            {
                n.tracking = el(seg, 2)
            }
            (b"DTM", Some(n)) if seg.is(1, b"011") => n.ship_date = el(seg, 2),
            (b"LIN", Some(n)) => n.item = Some(pick_sku(seg, &LIN_PAIRS)),
            (b"SN1", Some(n)) => n.qty = Some((el(seg, 2), el(seg, 3))),
            _ => {}
        }
    }
    let by_id: HashMap<&str, usize> = nodes
        .iter()
        .enumerate()
        .filter_map(|(i, n)| Some((n.id.as_deref()?, i)))
        .collect();
    let Some(table) = tables.first_mut() else {
        return;
    };
    for node in nodes.iter().filter(|n| n.item.is_some() || n.qty.is_some()) {
        // Walk up the parent chain (bounded: a cyclic HL02 must not loop forever).
        // The first value found walking up the parent chain; bounded, since a cyclic HL02
        // must not loop forever.
        let up = |f: fn(&Hl) -> Option<String>| {
            let mut cur = Some(node);
            for _ in 0..=nodes.len() {
                let n = cur?;
                if let Some(v) = f(n) {
                    return Some(v);
                }
                cur = n
                    .parent
                    .as_deref()
                    .and_then(|p| by_id.get(p))
                    .and_then(|i| nodes.get(*i));
            }
            None
        };
        let (sku, q, upc) = node.item.clone().unwrap_or_default();
        let (qty, unit) = node.qty.clone().unwrap_or_default();
        table.push(
            ctx,
            [
                shipment_id.clone(),
                bsn_date.clone().or_else(|| up(|n| n.ship_date.clone())),
                up(|n| n.carrier.clone()),
                up(|n| n.tracking.clone()),
                up(|n| n.order.clone()),
                up(|n| n.pack.clone()),
                node.id.clone(),
                node.parent.clone(),
                sku,
                q,
                upc,
                qty,
                unit,
            ],
        );
    }
}

pub fn tables_846() -> Vec<Table> {
    vec![Table::new(
        "x12_846_lines",
        &[
            "report_id",
            "report_date",
            "location_qualifier",
            "location",
            "sku",
            "sku_qualifier",
            "upc",
            "quantity_qualifier",
            "quantity",
            "unit",
        ],
    )]
}

pub fn map_846(ctx: &Ctx, segs: &[Segment], tables: &mut [Table]) {
    let (mut report, mut date) = (None, None);
    let mut parties = Parties::default();
    let mut item = (None, None, None);
    let Some(table) = tables.first_mut() else {
        return;
    };
    for seg in segs {
        let id = seg.id();
        match id {
            b"BIA" => {
                report = el(seg, 3);
                date = el(seg, 4);
            }
            b"LIN" => item = pick_sku(seg, &LIN_PAIRS),
            b"QTY" => {
                let loc = parties.last();
                let (sku, q, upc) = item.clone();
                table.push(
                    ctx,
                    [
                        report.clone(),
                        date.clone(),
                        loc.qualifier,
                        loc.id.or(loc.name),
                        sku,
                        q,
                        upc,
                        el(seg, 1),
                        el(seg, 2),
                        seg.opt(3)
                            .map(|_| seg.component(3, 1))
                            .map(super::lexer::text_of),
                    ],
                );
            }
            _ => {
                parties.feed(seg, id);
            }
        }
    }
}

pub fn tables_997() -> Vec<Table> {
    vec![
        Table::new(
            "x12_997_groups",
            &[
                "functional_id",
                "acked_group_control",
                "status",
                "sets_declared",
                "sets_received",
                "sets_accepted",
                "errors",
            ],
        ),
        Table::new(
            "x12_997_sets",
            &[
                "acked_group_control",
                "set_id",
                "acked_set_control",
                "status",
                "errors",
                "segment_errors",
            ],
        ),
    ]
}

fn joined(seg: &Segment, from: usize, to: usize, sep: &str) -> Option<String> {
    let codes: Vec<String> = (from..=to).filter_map(|n| seg.opt(n)).collect();
    (!codes.is_empty()).then(|| codes.join(sep))
}

pub fn map_997(ctx: &Ctx, segs: &[Segment], tables: &mut [Table]) {
    let [groups, sets, ..] = tables else { return };
    let (mut fid, mut gctl) = (None, None);
    let mut set: Option<(Option<String>, Option<String>)> = None;
    let mut ak3: Vec<String> = Vec::new();
    for seg in segs {
        match seg.id() {
            b"AK1" => (fid, gctl) = (el(seg, 1), el(seg, 2)),
            b"AK2" => {
                set = Some((el(seg, 1), el(seg, 2)));
                ak3.clear();
            }
            b"AK3" => ak3.push(format!("{}@{}:{}", seg.text(1), seg.text(2), seg.text(4))),
            b"AK5" => {
                let (sid, sctl) = set.take().unwrap_or_default();
                let segment_errors = (!ak3.is_empty()).then(|| ak3.join(";"));
                sets.push(
                    ctx,
                    [
                        gctl.clone(),
                        sid,
                        sctl,
                        el(seg, 1),
                        joined(seg, 2, 6, " "),
                        segment_errors,
                    ],
                );
                ak3.clear();
            }
            b"AK9" => groups.push(
                ctx,
                [
                    fid.clone(),
                    gctl.clone(),
                    el(seg, 1),
                    el(seg, 2),
                    el(seg, 3),
                    el(seg, 4),
                    joined(seg, 5, 9, " "),
                ],
            ),
            _ => {}
        }
    }
}
