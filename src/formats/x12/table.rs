//! The dispatch from X12 transaction sets to tables (`formats::table::Table`: the runner turns
//! it into a polars DataFrame of string columns) and the X12 tables' columns.
//!
//! Every table starts with three context columns: `interchange_control` (ISA13),
//! `group_control` (GS06) and `set_control` (ST02). The remaining columns per table:
//!
//! | table | one row per | columns after the context |
//! |---|---|---|
//! | `x12_850_header` | 850 set | po_number (BEG03), po_date (BEG05), purpose (BEG01), po_type (BEG02), buyer (N1*BY N102), buyer_id (N104), ship_to (N1*ST N102), ship_to_id (N104), ship_to_address (N301), ship_to_city (N401), ship_to_state (N402), ship_to_postal (N403), currency (CUR02), line_count (PO1 segments) |
//! | `x12_850_lines` | PO1 | po_number, line_number (PO101, else 1-based position), sku, sku_qualifier, upc, quantity (PO102), unit (PO103), unit_price (PO104), description (first PID05 in the loop) |
//! | `x12_940_header` | 940 set | order_number (W0502), po_number (W0503), ship_to, ship_to_id, ship_to_address, ship_to_city, ship_to_state, ship_to_postal, carrier (W6610 SCAC, else W6605), requested_ship_date (G62*10 or G62*02) |
//! | `x12_940_lines` | W01 | order_number, line_number (LX01, else position), sku, sku_qualifier, upc (W0103), quantity (W0101), unit (W0102) |
//! | `x12_945_header` | 945 set | order_number (W0602), ship_date (W0603), shipment_id (W0604, bill of lading), po_number (W0606), ship_to, ship_to_id, carrier (W2702 SCAC, else W2703), tracking (first REF/N9 qualified BM, CN or 2I), units_shipped (W0301), weight (W0302), weight_unit (W0303) |
//! | `x12_945_lines` | W12 | order_number, line_number (LX01, else position), status (W1201), quantity_ordered (W1202), quantity_shipped (W1203), quantity_difference (W1204), unit (W1205), sku, sku_qualifier, upc (W1206), lot (W1209) |
//! | `x12_856_lines` | item (LIN/SN1) | shipment_id (BSN02), ship_date (BSN03, else DTM*011), carrier (TD503, else TD505), tracking (REF*CN, else REF*BM, in the shipment), order_number (PRF01 of the order HL), pack (MAN02 of the pack/tare HL), item_hl (HL01), parent_hl (HL02), sku, sku_qualifier, upc, quantity (SN102), unit (SN103) |
//! | `x12_846_lines` | QTY | report_id (BIA03), report_date (BIA04), location_qualifier, location (N104, else N102, of the latest N1), sku, sku_qualifier, upc, quantity_qualifier (QTY01), quantity (QTY02), unit (QTY03) |
//! | `x12_810_header` | 810 set | invoice_number (BIG02), invoice_date (BIG01), po_number (BIG04), currency (CUR02), total (TDS01 with two implied decimals) |
//! | `x12_810_lines` | IT1 | invoice_number, line_number (IT101, else position), sku, sku_qualifier, upc, quantity (IT102), unit (IT103), unit_price (IT104) |
//! | `x12_997_groups` | AK1 | functional_id (AK101), acked_group_control (AK102), status (AK901), sets_declared (AK902), sets_received (AK903), sets_accepted (AK904), errors (AK905..AK909, space-separated) |
//! | `x12_832_lines` | LIN of an 832 | catalog_id (BCT02), sku, sku_qualifier, upc, description (first PID05 in the loop), unit_price (first CTP03), price_qualifier (CTP02), unit (CTP05-1), currency (CUR02 in the loop, else the set's), vendor (N1*VN/SU/SE/MF: N102, else N104) |
//! | `x12_997_sets` | AK2 | acked_group_control, set_id (AK201), acked_set_control (AK202), status (AK501), errors (AK502..AK506, space-separated), segment_errors (`ID@position:code` of each AK3, `;`-separated) |
//!
//! SKU choice: the first qualifier/ID pair whose qualifier is, in priority order, `VN` (vendor
//! item), `SK` (SKU), `BP` (buyer part), `UP` (UPC), `IN` (buyer item); else the first pair.
//! `upc` is the `UP` pair (or the segment's UPC element) when present. Values are trimmed text;
//! empty elements are `None`. Numbers stay text exactly as sent (no float conversion).

use std::borrow::Cow;

use super::lexer::{trim, Fields, Segment};
use super::model::{Group, Interchange, Parsed, TxSet};
use super::{map_catalog, map_orders, map_ship};
pub use crate::formats::column::Column;
pub use crate::formats::table::{Ctx, Table};

/// Columns of `x12_850_header` after the context; also XML's `xml_order_header`.
pub const COLUMNS_850_HEADER: [&str; 14] = [
    "po_number",
    "po_date",
    "purpose",
    "po_type",
    "buyer",
    "buyer_id",
    "ship_to",
    "ship_to_id",
    "ship_to_address",
    "ship_to_city",
    "ship_to_state",
    "ship_to_postal",
    "currency",
    "line_count",
];

/// Columns of `x12_850_lines` after the context; also XML's `xml_order_lines`.
pub const COLUMNS_850_LINES: [&str; 9] = [
    "po_number",
    "line_number",
    "sku",
    "sku_qualifier",
    "upc",
    "quantity",
    "unit",
    "unit_price",
    "description",
];

/// `x12_940_header` after the context columns (`order_number` first); the 940 writer repeats
/// them on every line row of an order.
pub const COLUMNS_940_HEADER: [&str; 10] = [
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
];

/// Columns of `x12_856_lines` after the context; also `xml_ship_lines` and
/// `edifact_desadv_lines`.
pub const COLUMNS_856_LINES: [&str; 13] = [
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
];

/// Columns of `x12_846_lines` after the context; also `edifact_invrpt_lines`.
pub const COLUMNS_846_LINES: [&str; 10] = [
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
];

impl<'a> Ctx<'a> {
    pub fn of(i: &'a Interchange, g: &'a Group, s: &'a TxSet) -> Ctx<'a> {
        let o = |v: &'a str| (!v.is_empty()).then_some(v);
        Ctx(o(&i.control), o(&g.control), o(&s.control))
    }
}

/// A set id and the constructor of its (empty) tables.
type SetTables = (&'static str, fn() -> Vec<Table>);

/// The supported transaction sets, in output order.
const SETS: [SetTables; 8] = [
    ("850", map_orders::tables_850),
    ("940", map_orders::tables_940),
    ("945", map_ship::tables_945),
    ("856", map_ship::tables_856),
    ("846", map_ship::tables_846),
    ("810", map_orders::tables_810),
    ("997", map_ship::tables_997),
    ("832", map_catalog::tables_832),
];

/// Maps every supported transaction set (850, 940, 945, 856, 846, 810, 997, 832) to tables. Only
/// tables with at least one set are returned, in that order. Sets with envelope problems are
/// mapped too: the caller decides from `Parsed::problems` what to reject.
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    let mut out = Vec::new();
    for (id, tables) in SETS {
        out.extend(map_sets(parsed, id, tables()));
    }
    out
}

/// The table `name` alone (as [`map_tables`] would return it), mapping only the sets that
/// produce it; `None` when no set does.
pub fn map_table(parsed: &Parsed, name: &str) -> Option<Table> {
    let (id, tables) = SETS
        .into_iter()
        .map(|(id, tables)| (id, tables()))
        .find(|(_, tables)| tables.iter().any(|t| t.name == name))?;
    map_sets(parsed, id, tables)
        .into_iter()
        .find(|t| t.name == name)
}

/// The columns of the table `name` (context columns first), as [`map_table`] gives them;
/// `None` when no transaction set maps to such a table.
pub fn columns(name: &str) -> Option<Vec<String>> {
    SETS.into_iter()
        .flat_map(|(_, tables)| tables())
        .find(|t| t.name == name)
        .map(|t| t.columns.iter().map(|c| c.name.to_string()).collect())
}

/// Every set with id `id` mapped into `tables`; nothing when there is no such set.
fn map_sets(parsed: &Parsed, id: &str, mut tables: Vec<Table>) -> Vec<Table> {
    let (mut sets, mut segments) = (0usize, 0usize);
    for (_, _, s) in parsed.sets().filter(|(_, _, s)| s.id == id) {
        sets += 1;
        segments += s.segment_count as usize;
    }
    if sets == 0 {
        return Vec::new();
    }
    // Headers get one row per set; detail tables about one row per four segments; values
    // average well under 16 bytes.
    for (n, t) in tables.iter_mut().enumerate() {
        let rows = if n == 0 && t.name.ends_with("_header") {
            sets
        } else {
            segments / 4
        };
        t.columns.iter_mut().for_each(|c| c.reserve(rows, rows * 8));
    }
    // One buffer of segment slices reused across sets.
    let mut segs: Vec<Segment> = Vec::new();
    for (i, g, s) in parsed.sets().filter(|(_, _, s)| s.id == id) {
        let ctx = Ctx::of(i, g, s);
        segs.clear();
        segs.extend(parsed.set_segments(s));
        match id {
            "850" => map_orders::map_850(&ctx, &segs, &mut tables),
            "940" => map_orders::map_940(&ctx, &segs, &mut tables),
            "810" => map_orders::map_810(&ctx, &segs, &mut tables),
            "945" => map_ship::map_945(&ctx, &segs, &mut tables),
            "856" => map_ship::map_856(&ctx, &segs, &mut tables),
            "846" => map_ship::map_846(&ctx, &segs, &mut tables),
            "997" => map_ship::map_997(&ctx, &segs, &mut tables),
            "832" => map_catalog::map_832(&ctx, &segs, &mut tables),
            _ => {}
        }
    }
    tables
}

/// A cell value borrowed from the input when it is valid UTF-8 (owned when repaired or built).
pub type Val<'a> = Option<Cow<'a, str>>;

/// (sku, qualifier, upc) of an item segment.
pub type Sku<'a> = (Val<'a>, Val<'a>, Val<'a>);

/// Trimmed element text, `None` when blank.
pub fn el<'a>(seg: &Segment<'a>, n: usize) -> Val<'a> {
    seg.val(n)
}

/// A value built by the mapper (a position, a count, a fixed qualifier).
pub fn owned<'a>(s: impl Into<Cow<'a, str>>) -> Val<'a> {
    Some(s.into())
}

/// The SKU from qualifier/ID pairs starting at the given element numbers: (sku, qualifier, upc).
pub fn pick_sku<'a>(seg: &Segment<'a>, pairs: &[usize]) -> Sku<'a> {
    let f = Fields::of(seg);
    // One pass over the pairs (this runs for every line item): the best is the lowest rank,
    // the first pair in element order among equals; `upc` the first present `UP` pair.
    let (mut upc, mut best) = (None, None::<(u8, usize)>);
    for &q in pairs {
        let qualifier = trim(f.get(q));
        if qualifier.is_empty() || trim(f.get(q + 1)).is_empty() {
            continue;
        }
        let rank = match qualifier {
            b"VN" => 0,
            b"SK" => 1,
            b"BP" => 2,
            b"UP" => 3,
            b"IN" => 4,
            _ => 5,
        };
        if rank == 3 && upc.is_none() {
            upc = Some(q);
        }
        if best.is_none_or(|(r, _)| rank < r) {
            best = Some((rank, q));
        }
    }
    let upc = upc.and_then(|q| f.val(q + 1));
    match best {
        Some((_, q)) => (f.val(q + 1), f.val(q), upc),
        None => (None, None, upc),
    }
}
