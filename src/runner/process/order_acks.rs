//! The 997 of an X12 850 file of an `[orders]` pipeline refuses the sets whose order lines are
//! refused (engine/orders.rs), with an AK3 per bad PO1 and an AK4 per bad field, so the
//! partner's acknowledgement never accepts an order that was not taken.

use polars::prelude::*;

use crate::engine::orders::{self, Policy};
use crate::formats::x12::{ElementNote, SegmentNote, SetRefusal};

/// The sets of an X12 850 file refused for their order lines (unknown SKU, quantity, price),
/// each bad line's PO1 an AK3 and each bad field an AK4, by interchange control number: so
/// the 997 never accepts an order that is not taken. Empty for other pipelines.
pub(super) fn order_refusals(
    policy: &Policy,
    parsed: &crate::formats::x12::Parsed,
    lines: &crate::formats::table::Table,
    refs: &super::Refs,
) -> Result<Vec<(String, SetRefusal)>, String> {
    if policy.layout != orders::Layout::X12_850 {
        return Ok(Vec::new());
    }
    let df = DataFrame::new(
        lines.rows(),
        lines
            .columns
            .iter()
            .map(|c| Column::new(c.name.as_str().into(), c.to_vec()))
            .collect(),
    )
    .map_err(|e| e.to_string())?;
    let items = match &policy.items {
        Some(m) => Some(super::orders::item_set(
            refs.get(&m.table),
            &m.table,
            &m.column,
        )?),
        None => None,
    };
    let read = orders::read_orders(policy.layout, &df, None).map_err(|e| e.to_string())?;
    let intake = orders::intake(policy, read, &Default::default(), items.as_ref());
    let ctx = |row: usize| {
        ["interchange_control", "group_control", "set_control"]
            .map(|c| lines.get(row, c).unwrap_or("").to_string())
    };
    let mut out: Vec<(String, SetRefusal)> = Vec::new();
    for r in intake.rejects.iter().filter(|r| r.line > 0) {
        let row = r.line as usize - 1;
        let [ic, gc, sc] = ctx(row);
        // The row is the set's k-th PO1 (the mapper writes one row per PO1, in order).
        let k = (0..row)
            .filter(|&i| ctx(i) == [ic.clone(), gc.clone(), sc.clone()])
            .count();
        let Some(position) = nth_segment(parsed, [&ic, &gc, &sc], b"PO1", k) else {
            continue;
        };
        let element = element_note(r);
        let i = match out
            .iter()
            .position(|(c, s)| c == &ic && s.group_control == gc && s.set_control == sc)
        {
            Some(i) => i,
            None => {
                out.push((
                    ic.clone(),
                    SetRefusal {
                        group_control: gc.clone(),
                        set_control: sc.clone(),
                        notes: Vec::new(),
                    },
                ));
                out.len() - 1
            }
        };
        let notes = &mut out[i].1.notes;
        match notes.iter_mut().find(|n| n.position == position) {
            Some(n) => n.elements.extend(element),
            None => notes.push(SegmentNote {
                segment_id: "PO1".into(),
                position,
                // AK304 8: segment has data element errors.
                code: "8",
                elements: element.into_iter().collect(),
            }),
        }
    }
    Ok(out)
}

/// The position in its set (ST is 1) of the `k`-th (0-based) segment `id` of the set named by
/// its interchange, group and set control numbers.
fn nth_segment(
    parsed: &crate::formats::x12::Parsed,
    [ic, gc, sc]: [&str; 3],
    id: &[u8],
    k: usize,
) -> Option<u32> {
    let set = parsed
        .interchanges
        .iter()
        .filter(|i| i.control == ic)
        .flat_map(|i| &i.groups)
        .filter(|g| g.control == gc)
        .flat_map(|g| &g.sets)
        .find(|s| s.control == sc)?;
    let seg = parsed.set_segments(set).filter(|s| s.id() == id).nth(k)?;
    Some(seg.index.saturating_sub(set.header.segment) + 1)
}

/// The AK4 of a bad field of a PO1: PO102 quantity (element 330), PO104 unit price (212),
/// PO107 the product id (234; the first qualifier pair, where the 850s we read put the SKU).
/// AK403: 1 missing, 6 not a number, 7 a value refused (unknown SKU, quantity not positive,
/// price negative). Its copy of the value keeps letters, digits and `.-_ ` only (it is written
/// inside our own separators).
fn element_note(r: &orders::Reject) -> Option<ElementNote> {
    let (position, reference) = match r.field {
        "quantity" => (2, "330"),
        "unit_price" => (4, "212"),
        "sku" => (7, "234"),
        _ => return None,
    };
    let code = match r.fault {
        orders::Fault::Missing => "1",
        orders::Fault::NotANumber => "6",
        _ => "7",
    };
    let value: String = r
        .value
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || ".-_ ".contains(*c))
        .take(99)
        .collect();
    Some(ElementNote {
        position,
        reference,
        code,
        value,
    })
}
