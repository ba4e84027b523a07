//! Shipment-side mappings: 945 shipping advices, 856 ship notices (HL tree flattened), 846
//! inventory advices and 997 acknowledgements. Column schemas are documented in `table.rs`.

use std::collections::HashMap;

use super::lexer::{text_cow, trim, Segment};
use super::map_orders::Parties;
use super::table::{
    el, owned, pick_sku, Ctx, Sku, Table, Val, COLUMNS_846_LINES, COLUMNS_856_LINES,
};

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

pub fn map_945<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let mut h: [Val<'a>; 4] = Default::default();
    let (mut carrier, mut tracking, mut w03) = (None, None, [None, None, None]);
    let mut parties = Parties::default();
    let mut lines: Vec<[Val<'a>; 10]> = Vec::new();
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
                    (sku, q) = (upc.clone(), upc.as_ref().and(owned("UP")));
                }
                let line = lx.take().or_else(|| owned((lines.len() + 1).to_string()));
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
                st.name(),
                st.id(),
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
    vec![Table::new("x12_856_lines", &COLUMNS_856_LINES)]
}

/// One HL node and what its loop carried, as trimmed non-blank slices of the input (turned
/// into text only for the rows that use them).
#[derive(Default)]
struct Hl<'a> {
    id: Option<&'a [u8]>,
    parent: Option<&'a [u8]>,
    order: Option<&'a [u8]>,
    pack: Option<&'a [u8]>,
    carrier: Option<&'a [u8]>,
    tracking: Option<&'a [u8]>,
    ship_date: Option<&'a [u8]>,
}

/// What an item HL carries into its row: (sku, qualifier, upc) from LIN, SN1 quantity and unit.
type Payload<'a> = (Option<Sku<'a>>, Option<(Val<'a>, Val<'a>)>);

/// Element `n`, trimmed, `None` when blank (the slice form of [`el`]).
fn slice<'a>(seg: &Segment<'a>, n: usize) -> Option<&'a [u8]> {
    let t = trim(seg.element(n));
    (!t.is_empty()).then_some(t)
}

pub fn map_856<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let (mut shipment_id, mut bsn_date) = (None, None);
    let mut nodes: Vec<Hl<'a>> = Vec::new();
    let mut payloads: Vec<Payload<'a>> = Vec::new();
    for seg in segs {
        let node = nodes.last_mut();
        match (seg.id(), node) {
            (b"BSN", _) => {
                shipment_id = el(seg, 2);
                bsn_date = el(seg, 3);
            }
            (b"HL", _) => {
                nodes.push(Hl {
                    id: slice(seg, 1),
                    parent: slice(seg, 2),
                    ..Hl::default()
                });
                payloads.push((None, None));
            }
            (b"PRF", Some(n)) => n.order = n.order.or_else(|| slice(seg, 1)),
            (b"MAN", Some(n)) => n.pack = n.pack.or_else(|| slice(seg, 2)),
            (b"TD5", Some(n)) => {
                n.carrier = n
                    .carrier
                    .or_else(|| slice(seg, 3).or_else(|| slice(seg, 5)))
            }
            // CN (PRO number) wins over BM (bill of lading) as the tracking reference.
            (b"REF", Some(n))
                if (seg.is(1, b"CN") || seg.is(1, b"BM"))
                    && (n.tracking.is_none() || seg.is(1, b"CN")) =>
            {
                n.tracking = slice(seg, 2)
            }
            (b"DTM", Some(n)) if seg.is(1, b"011") => n.ship_date = slice(seg, 2),
            (b"LIN", Some(_)) => {
                if let Some(p) = payloads.last_mut() {
                    p.0 = Some(pick_sku(seg, &LIN_PAIRS));
                }
            }
            (b"SN1", Some(_)) => {
                if let Some(p) = payloads.last_mut() {
                    p.1 = Some((el(seg, 2), el(seg, 3)));
                }
            }
            _ => {}
        }
    }
    // Small trees are searched directly; a map only pays off for large ones. The last node
    // with an id wins, as HL01 should be unique anyway.
    let by_id: HashMap<&[u8], usize> = if nodes.len() > 16 {
        nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| Some((n.id?, i)))
            .collect()
    } else {
        HashMap::new()
    };
    let find = |id: &[u8]| match by_id.is_empty() {
        true => nodes.iter().rposition(|n| n.id == Some(id)),
        false => by_id.get(id).copied(),
    };
    let Some(table) = tables.first_mut() else {
        return;
    };
    for (node, payload) in nodes.iter().zip(payloads) {
        if payload.0.is_none() && payload.1.is_none() {
            continue;
        }
        // The first value found walking up the parent chain; bounded, since a cyclic HL02
        // must not loop forever.
        let up = |f: fn(&Hl<'a>) -> Option<&'a [u8]>| {
            let mut cur = Some(node);
            for _ in 0..=nodes.len() {
                let n = cur?;
                if let Some(v) = f(n) {
                    return Some(text_cow(v));
                }
                cur = n.parent.and_then(find).and_then(|i| nodes.get(i));
            }
            None
        };
        let (sku, q, upc) = payload.0.unwrap_or_default();
        let (qty, unit) = payload.1.unwrap_or_default();
        table.push(
            ctx,
            [
                shipment_id.clone(),
                bsn_date.clone().or_else(|| up(|n| n.ship_date)),
                up(|n| n.carrier),
                up(|n| n.tracking),
                up(|n| n.order),
                up(|n| n.pack),
                node.id.map(text_cow),
                node.parent.map(text_cow),
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
    vec![Table::new("x12_846_lines", &COLUMNS_846_LINES)]
}

pub fn map_846<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
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
                        loc.qualifier(),
                        loc.id().or_else(|| loc.name()),
                        sku,
                        q,
                        upc,
                        el(seg, 1),
                        el(seg, 2),
                        el(seg, 3).map(|_| text_cow(seg.component(3, 1))),
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

fn joined<'a>(seg: &Segment<'a>, from: usize, to: usize, sep: &str) -> Val<'a> {
    let codes: Vec<_> = (from..=to).filter_map(|n| seg.val(n)).collect();
    (!codes.is_empty()).then(|| codes.join(sep).into())
}

pub fn map_997<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let [groups, sets, ..] = tables else { return };
    let (mut fid, mut gctl) = (None, None);
    let mut set: Option<(Val<'a>, Val<'a>)> = None;
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
                let segment_errors = (!ak3.is_empty()).then(|| ak3.join(";").into());
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
