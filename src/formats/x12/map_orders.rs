//! Order-side mappings: 850 purchase orders, 940 warehouse shipping orders, 810 invoices.
//! Column schemas are documented in `table.rs`.

use super::lexer::Segment;
use super::table::{
    el, owned, pick_sku, Ctx, Table, Val, COLUMNS_850_HEADER, COLUMNS_850_LINES, COLUMNS_940_HEADER,
};

const PO1_PAIRS: [usize; 10] = [6, 8, 10, 12, 14, 16, 18, 20, 22, 24];
const W01_PAIRS: [usize; 3] = [4, 6, 15];

/// The N1, N3 and N4 segments of one loop, kept as slices until a value is actually used
/// (most loops, e.g. bill-to or ship-from, never are: mapping stays allocation-light).
#[derive(Default, Clone, Copy)]
pub struct Loop<'a> {
    n1: Option<Segment<'a>>,
    n3: Option<Segment<'a>>,
    n4: Option<Segment<'a>>,
}

impl<'a> Loop<'a> {
    fn get(s: &Option<Segment<'a>>, n: usize) -> Val<'a> {
        s.as_ref().and_then(|s| el(s, n))
    }
    /// N101.
    pub fn qualifier(&self) -> Val<'a> {
        Self::get(&self.n1, 1)
    }
    /// N102.
    pub fn name(&self) -> Val<'a> {
        Self::get(&self.n1, 2)
    }
    /// N104.
    pub fn id(&self) -> Val<'a> {
        Self::get(&self.n1, 4)
    }
    /// N301.
    pub fn address(&self) -> Val<'a> {
        Self::get(&self.n3, 1)
    }
    /// N401, N402, N403.
    pub fn city(&self) -> Val<'a> {
        Self::get(&self.n4, 1)
    }
    pub fn state(&self) -> Val<'a> {
        Self::get(&self.n4, 2)
    }
    pub fn postal(&self) -> Val<'a> {
        Self::get(&self.n4, 3)
    }
}

/// Tracks N1/N3/N4 loops in order.
#[derive(Default)]
pub struct Parties<'a> {
    pub all: Vec<Loop<'a>>,
}

impl<'a> Parties<'a> {
    /// Feeds a segment; returns true when it was part of an N1 loop.
    pub fn feed(&mut self, seg: &Segment<'a>, id: &[u8]) -> bool {
        match (id, self.all.last_mut()) {
            (b"N1", _) => self.all.push(Loop {
                n1: Some(*seg),
                ..Loop::default()
            }),
            (b"N3", Some(l)) if l.n3.is_none() => l.n3 = Some(*seg),
            (b"N4", Some(l)) => l.n4 = Some(*seg),
            _ => return false,
        }
        true
    }

    /// The first party with `qualifier` (N101).
    pub fn take(&self, qualifier: &str) -> Loop<'a> {
        self.all
            .iter()
            .find(|l| {
                l.n1.as_ref()
                    .is_some_and(|s| super::lexer::trim(s.element(1)) == qualifier.as_bytes())
            })
            .copied()
            .unwrap_or_default()
    }

    /// The most recent party (for 846 locations).
    pub fn last(&self) -> Loop<'a> {
        self.all.last().copied().unwrap_or_default()
    }
}

pub fn tables_850() -> Vec<Table> {
    vec![
        Table::new("x12_850_header", &COLUMNS_850_HEADER),
        Table::new("x12_850_lines", &COLUMNS_850_LINES),
    ]
}

pub fn map_850<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let (mut po, mut date, mut purpose, mut kind, mut currency) = (None, None, None, None, None);
    let mut parties = Parties::default();
    let mut lines: Vec<[Val<'a>; 8]> = Vec::new();
    let mut in_detail = false;
    for seg in segs {
        let id = seg.id();
        match id {
            b"BEG" => {
                purpose = el(seg, 1);
                kind = el(seg, 2);
                po = el(seg, 3);
                date = el(seg, 5);
            }
            b"CUR" if !in_detail => currency = el(seg, 2),
            b"PO1" => {
                in_detail = true;
                let (sku, q, upc) = pick_sku(seg, &PO1_PAIRS);
                let line = el(seg, 1).or_else(|| owned((lines.len() + 1).to_string()));
                lines.push([line, sku, q, upc, el(seg, 2), el(seg, 3), el(seg, 4), None]);
            }
            b"PID" => {
                if let Some(desc) = lines.last_mut().and_then(|l| l.get_mut(7)) {
                    if desc.is_none() {
                        *desc = el(seg, 5);
                    }
                }
            }
            _ if !in_detail => {
                parties.feed(seg, id);
            }
            _ => {}
        }
    }
    let (by, st) = (parties.take("BY"), parties.take("ST"));
    let count = owned(lines.len().to_string());
    if let [header, detail, ..] = tables {
        header.push(
            ctx,
            [
                po.clone(),
                date,
                purpose,
                kind,
                by.name(),
                by.id(),
                st.name(),
                st.id(),
                st.address(),
                st.city(),
                st.state(),
                st.postal(),
                currency,
                count,
            ],
        );
        for line in lines {
            detail.push(ctx, std::iter::once(po.clone()).chain(line));
        }
    }
}

pub fn tables_940() -> Vec<Table> {
    vec![
        Table::new("x12_940_header", &COLUMNS_940_HEADER),
        Table::new(
            "x12_940_lines",
            &[
                "order_number",
                "line_number",
                "sku",
                "sku_qualifier",
                "upc",
                "quantity",
                "unit",
            ],
        ),
    ]
}

pub fn map_940<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let (mut order, mut po, mut carrier, mut ship_date) = (None, None, None, None);
    let mut parties = Parties::default();
    let mut lines: Vec<[Val<'a>; 6]> = Vec::new();
    let mut lx: Val<'a> = None;
    for seg in segs {
        let id = seg.id();
        match id {
            b"W05" => {
                order = el(seg, 2);
                po = el(seg, 3);
            }
            b"W66" => carrier = el(seg, 10).or_else(|| el(seg, 5)),
            b"G62" if (seg.is(1, b"10") || seg.is(1, b"02")) && ship_date.is_none() => {
                ship_date = el(seg, 2)
            }
            b"LX" => lx = el(seg, 1),
            b"W01" => {
                let (mut sku, mut q, mut upc) = pick_sku(seg, &W01_PAIRS);
                upc = el(seg, 3).or(upc);
                if sku.is_none() {
                    (sku, q) = (upc.clone(), upc.as_ref().and(owned("UP")));
                }
                let line = lx.take().or_else(|| owned((lines.len() + 1).to_string()));
                lines.push([line, sku, q, upc, el(seg, 1), el(seg, 2)]);
            }
            _ if lines.is_empty() => {
                parties.feed(seg, id);
            }
            _ => {}
        }
    }
    let st = parties.take("ST");
    if let [header, detail, ..] = tables {
        header.push(
            ctx,
            [
                order.clone(),
                po,
                st.name(),
                st.id(),
                st.address(),
                st.city(),
                st.state(),
                st.postal(),
                carrier,
                ship_date,
            ],
        );
        for line in lines {
            detail.push(ctx, std::iter::once(order.clone()).chain(line));
        }
    }
}

pub fn tables_810() -> Vec<Table> {
    vec![
        Table::new(
            "x12_810_header",
            &[
                "invoice_number",
                "invoice_date",
                "po_number",
                "currency",
                "total",
            ],
        ),
        Table::new(
            "x12_810_lines",
            &[
                "invoice_number",
                "line_number",
                "sku",
                "sku_qualifier",
                "upc",
                "quantity",
                "unit",
                "unit_price",
            ],
        ),
    ]
}

pub fn map_810<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let (mut inv, mut date, mut po, mut currency, mut total) = (None, None, None, None, None);
    let mut lines: Vec<[Val<'a>; 7]> = Vec::new();
    for seg in segs {
        match seg.id() {
            b"BIG" => {
                date = el(seg, 1);
                inv = el(seg, 2);
                po = el(seg, 4);
            }
            b"CUR" if lines.is_empty() => currency = el(seg, 2),
            b"TDS" => total = el(seg, 1).map(|t| implied_decimals(&t, 2).into()),
            b"IT1" => {
                let (sku, q, upc) = pick_sku(seg, &PO1_PAIRS);
                let line = el(seg, 1).or_else(|| owned((lines.len() + 1).to_string()));
                lines.push([line, sku, q, upc, el(seg, 2), el(seg, 3), el(seg, 4)]);
            }
            _ => {}
        }
    }
    if let [header, detail, ..] = tables {
        header.push(ctx, [inv.clone(), date, po, currency, total]);
        for line in lines {
            detail.push(ctx, std::iter::once(inv.clone()).chain(line));
        }
    }
}

/// `N2`-style numbers carry implied decimals: `12345` with 2 is `123.45`. Text that is not an
/// integer (already has a point, or is garbage) is returned unchanged.
pub fn implied_decimals(text: &str, places: usize) -> String {
    let (sign, digits) = match text.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", text),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return text.to_string();
    }
    let padded = format!("{digits:0>width$}", width = places + 1);
    let (int, frac) = padded.split_at(padded.len() - places);
    format!("{sign}{int}.{frac}")
}
