//! Shipments against the orders taken (engine/orders.rs): each line of a 945, 856, DESADV or
//! ship notice matched by (order id, SKU) to what the order asked for, counting what earlier
//! shipments of the order brought: complete, short, over, a SKU the order does not have, an
//! order never taken. Pure: the runner passes in what the ledger knows of each order.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use polars::prelude::*;
use rust_decimal::Decimal;

/// Why shipment lines could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ShipmentsError {
    #[error("the {layout} layout needs a column `{column}` in the input")]
    MissingColumn {
        layout: &'static str,
        column: &'static str,
    },
    #[error(transparent)]
    Data(#[from] PolarsError),
}

/// Where a shipment's lines are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShipLayout {
    /// `x12_945_lines`: `quantity_shipped` per W12.
    X12_945,
    /// `x12_856_lines`, `edifact_desadv_lines`, `xml_ship_lines`: `quantity` per item.
    Items,
}

impl ShipLayout {
    /// The layout of a mapped shipment table.
    pub fn of_table(table: &str) -> Option<ShipLayout> {
        match table {
            "x12_945_lines" => Some(ShipLayout::X12_945),
            "x12_856_lines" | "edifact_desadv_lines" | "xml_ship_lines" => Some(ShipLayout::Items),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ShipLayout::X12_945 => "x12_945",
            ShipLayout::Items => "shipment items",
        }
    }

    fn quantity(self) -> &'static str {
        match self {
            ShipLayout::X12_945 => "quantity_shipped",
            ShipLayout::Items => "quantity",
        }
    }
}

/// `[shipments]` compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipPolicy {
    /// The channel whose orders the shipments answer (`[orders] channel` of their pipelines).
    pub channel: String,
    pub layout: ShipLayout,
}

/// One shipment line as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipLine {
    /// The row of the mapped table (1-based).
    pub line: u64,
    pub order_id: String,
    pub sku: String,
    pub quantity: String,
}

/// What the ledger knows of one order: quantities per SKU of the version sent, and what
/// shipments from other files brought.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ordered {
    pub lines: BTreeMap<String, Decimal>,
    pub shipped_before: BTreeMap<String, Decimal>,
    /// The price per SKU of the version sent (for invoices).
    pub prices: BTreeMap<String, Decimal>,
}

/// The shipment lines of `df` under `layout`.
pub fn read_lines(layout: ShipLayout, df: &DataFrame) -> Result<Vec<ShipLine>, ShipmentsError> {
    let text = |name: &'static str| -> Result<Vec<String>, ShipmentsError> {
        let c = df
            .column(name)
            .map_err(|_| ShipmentsError::MissingColumn {
                layout: layout.name(),
                column: name,
            })?
            .cast(&DataType::String)?;
        Ok(c.str()?
            .iter()
            .map(|v| v.unwrap_or("").trim().to_string())
            .collect())
    };
    let (orders, skus, quantities) = (
        text("order_number")?,
        text("sku")?,
        text(layout.quantity())?,
    );
    Ok((0..df.height())
        .map(|r| ShipLine {
            line: r as u64 + 1,
            order_id: orders[r].clone(),
            sku: skus[r].clone(),
            quantity: quantities[r].clone(),
        })
        .collect())
}

/// One (order, SKU) of the shipment, judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub order_id: String,
    pub sku: String,
    /// The first line of the shipment with it (0: a SKU of the order the shipment lacks).
    pub line: u64,
    pub ordered: Option<Decimal>,
    pub shipped_before: Decimal,
    pub shipped: Decimal,
    /// `complete`, `short`, `over`, `wrong_sku`, `unknown_order`, `bad_quantity`, or
    /// `shipped_after_cancellation` (the ERP's order status extract says cancelled).
    pub status: &'static str,
    /// The order's status in the ERP's order status extract (`missing` when the extract
    /// lacks it); `None`: the pipeline has no extract.
    pub erp_status: Option<String>,
}

/// A shipment file checked, and where each order it names stands after it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipCheck {
    pub channel: String,
    pub checked: Vec<Checked>,
    /// Per order the shipment names: `shipped`, `partly_shipped` or `unknown_order`.
    pub orders: Vec<(String, &'static str, u64)>,
    /// Checked against the ERP's order status (engine/order_status.rs): `shipment_check` has
    /// `erp_status`.
    pub erp_checked: bool,
}

/// Matches the lines, in file order, to the orders; SKUs of an order the shipment does not
/// carry (and no earlier one completed) are `short` with nothing shipped.
pub fn check(
    policy: &ShipPolicy,
    lines: &[ShipLine],
    known: &HashMap<String, Ordered>,
) -> ShipCheck {
    let mut sums: BTreeMap<(String, String), (u64, Option<Decimal>)> = BTreeMap::new();
    let mut first: Vec<(String, u64)> = Vec::new();
    for l in lines {
        if !first.iter().any(|(o, _)| o == &l.order_id) {
            first.push((l.order_id.clone(), l.line));
        }
        let q = Decimal::from_str(&l.quantity).ok().map(|d| d.normalize());
        let e = sums
            .entry((l.order_id.clone(), l.sku.clone()))
            .or_insert((l.line, Some(Decimal::ZERO)));
        e.1 = match (e.1, q) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
    let mut out = ShipCheck {
        channel: policy.channel.clone(),
        ..ShipCheck::default()
    };
    for (order_id, line) in first {
        let ordered = known.get(&order_id);
        let mut skus: Vec<String> = sums
            .keys()
            .filter(|(o, _)| o == &order_id)
            .map(|(_, s)| s.clone())
            .collect();
        if let Some(o) = ordered {
            let lacking = o
                .lines
                .keys()
                .filter(|s| !skus.contains(s))
                .cloned()
                .collect::<Vec<_>>();
            skus.extend(lacking);
        }
        let mut all_complete = true;
        for sku in skus {
            let (at, shipped) = sums
                .get(&(order_id.clone(), sku.clone()))
                .copied()
                .unwrap_or((0, Some(Decimal::ZERO)));
            let want = ordered.and_then(|o| o.lines.get(&sku)).copied();
            let before = ordered
                .and_then(|o| o.shipped_before.get(&sku))
                .copied()
                .unwrap_or(Decimal::ZERO);
            let status = match (ordered, want, shipped) {
                (_, _, None) => "bad_quantity",
                (None, _, _) => "unknown_order",
                (Some(_), None, _) => "wrong_sku",
                (Some(_), Some(w), Some(s)) if before + s == w => "complete",
                (Some(_), Some(w), Some(s)) if before + s < w => "short",
                _ => "over",
            };
            all_complete &= matches!(status, "complete" | "over");
            out.checked.push(Checked {
                order_id: order_id.clone(),
                sku,
                line: at,
                ordered: want,
                shipped_before: before,
                shipped: shipped.unwrap_or(Decimal::ZERO),
                status,
                erp_status: None,
            });
        }
        let state = match (ordered, all_complete) {
            (None, _) => "unknown_order",
            (Some(_), true) => "shipped",
            (Some(_), false) => "partly_shipped",
        };
        out.orders.push((order_id, state, line));
    }
    out
}

/// One column's value of a checked row (empty: `None`).
type Cell<'a> = dyn Fn(&Checked) -> Option<String> + 'a;

/// `shipment_check` (one row per order and SKU: ordered, shipped before, shipped now, status)
/// and `shipment_confirmations` (the ERP's shipment confirmation: what this file shipped of
/// orders taken, per order and SKU).
pub fn tables(c: &ShipCheck) -> PolarsResult<BTreeMap<String, DataFrame>> {
    let text = |f: &Cell, rows: &[&Checked]| -> Vec<Option<String>> {
        rows.iter().map(|r| f(r)).collect()
    };
    let frame = |rows: &[&Checked], cols: &[(&str, &Cell)]| {
        DataFrame::new(
            rows.len(),
            cols.iter()
                .map(|(n, f)| Column::new((*n).into(), text(f, rows)))
                .collect(),
        )
    };
    let ch = c.channel.clone();
    let channel = move |_: &Checked| Some(ch.clone());
    let order = |r: &Checked| Some(r.order_id.clone());
    let sku = |r: &Checked| Some(r.sku.clone());
    let ordered = |r: &Checked| r.ordered.map(|d| d.to_string());
    let before = |r: &Checked| Some(r.shipped_before.to_string());
    let shipped = |r: &Checked| Some(r.shipped.to_string());
    let total = |r: &Checked| Some((r.shipped_before + r.shipped).to_string());
    let status = |r: &Checked| Some(r.status.to_string());
    let line = |r: &Checked| (r.line > 0).then(|| r.line.to_string());
    let erp_status = |r: &Checked| r.erp_status.clone();
    let with_erp = c.erp_checked;
    let all: Vec<&Checked> = c.checked.iter().collect();
    let confirmed: Vec<&Checked> = c
        .checked
        .iter()
        .filter(|r| r.ordered.is_some() && r.shipped > Decimal::ZERO)
        .collect();
    let mut out = BTreeMap::new();
    let mut check_columns: Vec<(&str, &Cell)> = vec![
        ("channel", &channel),
        ("order_id", &order),
        ("sku", &sku),
        ("ordered", &ordered),
        ("shipped_before", &before),
        ("shipped", &shipped),
        ("shipped_total", &total),
        ("status", &status),
        ("line", &line),
    ];
    // With the ERP's order status extract: what it says of each order.
    if with_erp {
        check_columns.push(("erp_status", &erp_status));
    }
    out.insert("shipment_check".to_string(), frame(&all, &check_columns)?);
    out.insert(
        "shipment_confirmations".to_string(),
        frame(
            &confirmed,
            &[
                ("channel", &channel),
                ("order_id", &order),
                ("sku", &sku),
                ("shipped", &shipped),
                ("shipped_total", &total),
                ("ordered", &ordered),
                ("status", &status),
            ],
        )?,
    );
    Ok(out)
}

/// The tables a `[shipments]` pipeline has besides its input.
pub const TABLES: [&str; 2] = ["shipment_check", "shipment_confirmations"];

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(n: u64, order: &str, sku: &str, q: &str) -> ShipLine {
        ShipLine {
            line: n,
            order_id: order.into(),
            sku: sku.into(),
            quantity: q.into(),
        }
    }

    #[test]
    fn short_over_wrong_sku_unknown_and_earlier_shipments() {
        let p = ShipPolicy {
            channel: "acme".into(),
            layout: ShipLayout::X12_945,
        };
        let known = HashMap::from([
            (
                "A".to_string(),
                Ordered {
                    lines: BTreeMap::from([("S1".into(), d("2")), ("S2".into(), d("1"))]),
                    shipped_before: BTreeMap::new(),
                    prices: BTreeMap::new(),
                },
            ),
            (
                "B".to_string(),
                Ordered {
                    lines: BTreeMap::from([("S1".into(), d("5"))]),
                    shipped_before: BTreeMap::from([("S1".into(), d("3"))]),
                    prices: BTreeMap::new(),
                },
            ),
            (
                "C".to_string(),
                Ordered {
                    lines: BTreeMap::from([("S1".into(), d("1"))]),
                    shipped_before: BTreeMap::new(),
                    prices: BTreeMap::new(),
                },
            ),
        ]);
        let lines = [
            line(1, "A", "S1", "1"),
            line(2, "A", "S9", "1"),
            line(3, "B", "S1", "2"),
            line(4, "C", "S1", "1.0"),
            line(5, "C", "S1", "1"),
            line(6, "Z", "S1", "1"),
        ];
        let c = check(&p, &lines, &known);
        let got: Vec<(&str, &str, &str, u64)> = c
            .checked
            .iter()
            .map(|r| (r.order_id.as_str(), r.sku.as_str(), r.status, r.line))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "S1", "short", 1),
                ("A", "S9", "wrong_sku", 2),
                ("A", "S2", "short", 0),
                ("B", "S1", "complete", 3),
                ("C", "S1", "over", 4),
                ("Z", "S1", "unknown_order", 6),
            ]
        );
        assert_eq!(
            c.orders,
            [
                ("A".to_string(), "partly_shipped", 1),
                ("B".to_string(), "shipped", 3),
                ("C".to_string(), "shipped", 4),
                ("Z".to_string(), "unknown_order", 6),
            ]
        );
        let t = tables(&c).unwrap();
        assert_eq!(t["shipment_check"].height(), 6);
        assert!(t["shipment_check"].column("erp_status").is_err());
        // The ERP's order status: engine/order_status.rs.

        // Confirmed to the ERP: what shipped of orders taken, on their SKUs.
        assert_eq!(t["shipment_confirmations"].height(), 3);
    }
}
