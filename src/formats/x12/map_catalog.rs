//! Catalog mapping: X12 832 price/sales catalogs, one row per LIN item (`x12_832_lines`; columns
//! documented in `table.rs`). A set's CUR may come after its items (it does in real files), so a
//! set's rows are kept until its end and take the set's currency when their loop names none.

use super::lexer::{text_cow, Segment};
use super::table::{el, pick_sku, Ctx, Table, Val};

const LIN_PAIRS: [usize; 15] = [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];

/// Columns of `x12_832_lines` after the context.
pub const COLUMNS_832_LINES: [&str; 10] = [
    "catalog_id",
    "sku",
    "sku_qualifier",
    "upc",
    "description",
    "unit_price",
    "price_qualifier",
    "unit",
    "currency",
    "vendor",
];

pub fn tables_832() -> Vec<Table> {
    vec![Table::new("x12_832_lines", &COLUMNS_832_LINES)]
}

/// One LIN loop being read: the item and the first PID, CTP and CUR in it.
#[derive(Default)]
struct Item<'a> {
    sku: Val<'a>,
    qualifier: Val<'a>,
    upc: Val<'a>,
    description: Val<'a>,
    price: Val<'a>,
    price_qualifier: Val<'a>,
    unit: Val<'a>,
    currency: Val<'a>,
}

pub fn map_832<'a>(ctx: &Ctx, segs: &[Segment<'a>], tables: &mut [Table]) {
    let Some(table) = tables.first_mut() else {
        return;
    };
    let (mut catalog, mut vendor, mut set_currency): (Val, Val, Val) = (None, None, None);
    let mut items: Vec<Item> = Vec::new();
    for seg in segs {
        let current = items.last_mut();
        match (seg.id(), current) {
            (b"BCT", _) => catalog = el(seg, 2),
            // The supplier: vendor, supplier, selling party or manufacturer.
            (b"N1", _)
                if vendor.is_none() && matches!(seg.element(1), b"VN" | b"SU" | b"SE" | b"MF") =>
            {
                vendor = el(seg, 2).or_else(|| el(seg, 4));
            }
            (b"LIN", _) => {
                let (sku, qualifier, upc) = pick_sku(seg, &LIN_PAIRS);
                items.push(Item {
                    sku,
                    qualifier,
                    upc,
                    ..Item::default()
                });
            }
            (b"PID", Some(i)) if i.description.is_none() => i.description = el(seg, 5),
            (b"CTP", Some(i)) if i.price.is_none() => {
                i.price = el(seg, 3);
                i.price_qualifier = el(seg, 2);
                i.unit = el(seg, 5).map(|_| text_cow(seg.component(5, 1)));
            }
            (b"CUR", Some(i)) if i.currency.is_none() => {
                i.currency = el(seg, 2);
                set_currency = set_currency.or_else(|| el(seg, 2));
            }
            (b"CUR", None) => set_currency = el(seg, 2),
            _ => {}
        }
    }
    for i in items {
        table.push(
            ctx,
            [
                catalog.clone(),
                i.sku,
                i.qualifier,
                i.upc,
                i.description,
                i.price,
                i.price_qualifier,
                i.unit,
                i.currency.or_else(|| set_currency.clone()),
                vendor.clone(),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::formats::x12::{parse, table::map_table};

    #[test]
    fn an_832_maps_one_row_per_item_with_the_sets_currency() {
        let edi = "ISA*00*          *00*          *ZZ*SUPPLIER       *ZZ*RETAILER       *261124*1200*U*00401*000000001*0*P*>~\
GS*SC*SUPPLIER*RETAILER*20261124*1200*1*X*004010~ST*832*0001~BCT*PC*CAT-7~N1*VN*Acme Supply~\
LIN*1*VN*A-1*UP*036000291452~PID*F****Mug~PID*F****ignored~CTP**CAT*4.50**EA~\
LIN*2*SK*B-2~PID*F****Cup~CTP**RES*3~CUR*SE*USD~CTT*2~SE*13*0001~GE*1*1~IEA*1*000000001~";
        let parsed = parse(edi.as_bytes());
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        let t = map_table(&parsed, "x12_832_lines").expect("table");
        let rows: Vec<Vec<Option<String>>> = (0..2)
            .map(|r| {
                t.columns[3..]
                    .iter()
                    .map(|c| c.get(r).map(String::from))
                    .collect()
            })
            .collect();
        let s = |v: &str| Some(v.to_string());
        assert_eq!(
            rows,
            [
                vec![
                    s("CAT-7"),
                    s("A-1"),
                    s("VN"),
                    s("036000291452"),
                    s("Mug"),
                    s("4.50"),
                    s("CAT"),
                    s("EA"),
                    s("USD"),
                    s("Acme Supply")
                ],
                vec![
                    s("CAT-7"),
                    s("B-2"),
                    s("SK"),
                    None,
                    s("Cup"),
                    s("3"),
                    s("RES"),
                    None,
                    s("USD"),
                    s("Acme Supply")
                ],
            ]
        );
    }
}
