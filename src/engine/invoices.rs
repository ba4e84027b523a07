//! Invoices against the orders taken (engine/orders.rs) and what was shipped of them
//! (engine/shipments.rs): each line of an X12 810 matched by (order, SKU) to the order's price
//! and to the quantity shipped: matched, over-invoiced (more than shipped), part invoiced,
//! another price, a SKU the order does not have, an order never taken. Pure.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::shipments::Ordered;
use crate::formats::table::Table;

/// Why invoice lines could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InvoicesError {
    #[error("the x12_810 layout needs a column `{0}` in the input")]
    MissingColumn(&'static str),
    #[error(transparent)]
    Data(#[from] PolarsError),
}

/// `[invoices]` compiled: the channel whose orders the invoices bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoicePolicy {
    pub channel: String,
}

/// One invoice line as read: its order from the invoice's header (BIG04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceLine {
    /// The row of the mapped table (1-based).
    pub line: u64,
    pub invoice: String,
    pub order_id: String,
    pub sku: String,
    pub quantity: String,
    pub unit_price: String,
}

/// The lines of `df` (`x12_810_lines`), each with the order its invoice names in `header`
/// (`x12_810_header`); a line whose invoice names none has no order id.
pub fn read_lines(
    df: &DataFrame,
    header: Option<&Table>,
) -> Result<Vec<InvoiceLine>, InvoicesError> {
    let text = |name: &'static str| -> Result<Vec<String>, InvoicesError> {
        let c = df
            .column(name)
            .map_err(|_| InvoicesError::MissingColumn(name))?
            .cast(&DataType::String)?;
        Ok(c.str()?
            .iter()
            .map(|v| v.unwrap_or("").trim().to_string())
            .collect())
    };
    let (invoices, skus, quantities, prices) = (
        text("invoice_number")?,
        text("sku")?,
        text("quantity")?,
        text("unit_price")?,
    );
    let mut po: HashMap<String, String> = HashMap::new();
    if let Some(h) = header {
        for r in 0..h.rows() {
            if let (Some(i), Some(p)) = (h.get(r, "invoice_number"), h.get(r, "po_number")) {
                po.entry(i.trim().to_string())
                    .or_insert_with(|| p.trim().to_string());
            }
        }
    }
    Ok((0..df.height())
        .map(|r| InvoiceLine {
            line: r as u64 + 1,
            order_id: po.get(&invoices[r]).cloned().unwrap_or_default(),
            invoice: invoices[r].clone(),
            sku: skus[r].clone(),
            quantity: quantities[r].clone(),
            unit_price: prices[r].clone(),
        })
        .collect())
}

/// One invoice line judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Billed {
    pub line: InvoiceLine,
    pub ordered: Option<Decimal>,
    pub shipped: Decimal,
    pub ordered_price: Option<Decimal>,
    /// `matched`, `over_invoiced`, `part_invoiced`, `price_mismatch`, `wrong_sku`,
    /// `unknown_order`, `bad_number`.
    pub status: &'static str,
}

/// An invoice file checked: its lines, and the orders it bills (order id, first line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceCheck {
    pub channel: String,
    pub billed: Vec<Billed>,
    pub orders: Vec<(String, &'static str, u64)>,
}

fn number(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok().map(|d| d.normalize())
}

/// Matches each line to its order: the price against the version sent, the quantity against
/// what shipments brought (the order's quantity when none was recorded).
pub fn check(
    policy: &InvoicePolicy,
    lines: &[InvoiceLine],
    known: &HashMap<String, Ordered>,
) -> InvoiceCheck {
    let mut out = InvoiceCheck {
        channel: policy.channel.clone(),
        ..InvoiceCheck::default()
    };
    for l in lines {
        let o = known.get(&l.order_id);
        let ordered = o.and_then(|o| o.lines.get(&l.sku)).copied();
        let price = o.and_then(|o| o.prices.get(&l.sku)).copied();
        let shipped = o
            .and_then(|o| o.shipped_before.get(&l.sku))
            .copied()
            .or(ordered)
            .unwrap_or(Decimal::ZERO);
        let status = match (o, ordered, number(&l.quantity), number(&l.unit_price)) {
            (None, _, _, _) => "unknown_order",
            (_, None, _, _) => "wrong_sku",
            (_, _, None, _) | (_, _, _, None) => "bad_number",
            (_, _, Some(q), _) if q > shipped => "over_invoiced",
            (_, _, _, Some(p)) if Some(p) != price => "price_mismatch",
            (_, _, Some(q), _) if q < shipped => "part_invoiced",
            _ => "matched",
        };
        let state = if o.is_some() {
            "invoiced"
        } else {
            "unknown_order"
        };
        if !out.orders.iter().any(|(id, _, _)| id == &l.order_id) {
            out.orders.push((l.order_id.clone(), state, l.line));
        }
        out.billed.push(Billed {
            line: l.clone(),
            ordered,
            shipped,
            ordered_price: price,
            status,
        });
    }
    out
}

/// The tables an `[invoices]` pipeline has besides its input.
pub const TABLES: [&str; 1] = ["invoice_check"];

/// `invoice_check`: one row per invoice line with what it was matched against.
pub fn tables(c: &InvoiceCheck) -> PolarsResult<BTreeMap<String, DataFrame>> {
    let d = |v: Option<Decimal>| v.map(|d| d.to_string());
    let cols: Vec<(&str, Vec<Option<String>>)> = vec![
        (
            "channel",
            c.billed.iter().map(|_| Some(c.channel.clone())).collect(),
        ),
        (
            "invoice",
            c.billed
                .iter()
                .map(|b| Some(b.line.invoice.clone()))
                .collect(),
        ),
        (
            "order_id",
            c.billed
                .iter()
                .map(|b| Some(b.line.order_id.clone()))
                .collect(),
        ),
        (
            "sku",
            c.billed.iter().map(|b| Some(b.line.sku.clone())).collect(),
        ),
        ("ordered", c.billed.iter().map(|b| d(b.ordered)).collect()),
        (
            "shipped",
            c.billed
                .iter()
                .map(|b| Some(b.shipped.to_string()))
                .collect(),
        ),
        (
            "invoiced",
            c.billed
                .iter()
                .map(|b| Some(b.line.quantity.clone()))
                .collect(),
        ),
        (
            "ordered_price",
            c.billed.iter().map(|b| d(b.ordered_price)).collect(),
        ),
        (
            "invoiced_price",
            c.billed
                .iter()
                .map(|b| Some(b.line.unit_price.clone()))
                .collect(),
        ),
        (
            "status",
            c.billed
                .iter()
                .map(|b| Some(b.status.to_string()))
                .collect(),
        ),
        (
            "line",
            c.billed
                .iter()
                .map(|b| Some(b.line.line.to_string()))
                .collect(),
        ),
    ];
    let df = DataFrame::new(
        c.billed.len(),
        cols.into_iter()
            .map(|(n, v)| Column::new(n.into(), v))
            .collect(),
    )?;
    Ok(BTreeMap::from([("invoice_check".to_string(), df)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn line(n: u64, order: &str, sku: &str, q: &str, p: &str) -> InvoiceLine {
        InvoiceLine {
            line: n,
            invoice: "INV-1".into(),
            order_id: order.into(),
            sku: sku.into(),
            quantity: q.into(),
            unit_price: p.into(),
        }
    }

    #[test]
    fn each_line_against_the_price_sent_and_the_quantity_shipped() {
        let known = HashMap::from([(
            "A".to_string(),
            Ordered {
                lines: BTreeMap::from([("S1".into(), d("2")), ("S2".into(), d("3"))]),
                shipped_before: BTreeMap::from([("S1".into(), d("2")), ("S2".into(), d("1"))]),
                prices: BTreeMap::from([("S1".into(), d("9.5")), ("S2".into(), d("1"))]),
            },
        )]);
        let p = InvoicePolicy {
            channel: "acme".into(),
        };
        let lines = [
            line(1, "A", "S1", "2", "9.50"),
            line(2, "A", "S2", "2", "1"),
            line(3, "A", "S2", "1", "1.10"),
            line(4, "A", "S9", "1", "1"),
            line(5, "Z", "S1", "1", "1"),
            line(6, "A", "S1", "x", "1"),
        ];
        let c = check(&p, &lines, &known);
        let got: Vec<&str> = c.billed.iter().map(|b| b.status).collect();
        assert_eq!(
            got,
            [
                "matched",
                "over_invoiced",
                "price_mismatch",
                "wrong_sku",
                "unknown_order",
                "bad_number"
            ]
        );
        assert_eq!(
            c.orders,
            [
                ("A".to_string(), "invoiced", 1),
                ("Z".to_string(), "unknown_order", 5)
            ]
        );
        assert_eq!(tables(&c).unwrap()["invoice_check"].height(), 6);
    }
}
