//! A shipment against the ERP's open-orders extract (`erp_order_status.v1`, a `[shipments]`
//! pipeline's `[erp]`): a shipment of an order the ERP cancelled is
//! `shipped_after_cancellation`, and the orders shipped that the ERP does not hold open are
//! named for the report. Pure.

use std::collections::HashMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::shipments::{ShipCheck, ShipmentsError};

/// The order ids and statuses of the ERP's order status extract (`erp_order_status.v1`:
/// `order_id`, `status`), the last row of an order winning.
pub fn read_erp_status(df: &DataFrame) -> Result<HashMap<String, String>, ShipmentsError> {
    let text = |name: &'static str| -> Result<Vec<String>, ShipmentsError> {
        let c = df
            .column(name)
            .map_err(|_| ShipmentsError::MissingColumn {
                layout: "ERP order status",
                column: name,
            })?
            .cast(&DataType::String)?;
        Ok(c.str()?
            .iter()
            .map(|v| v.unwrap_or("").trim().to_string())
            .collect())
    };
    let (ids, statuses) = (text("order_id")?, text("status")?);
    Ok(ids
        .into_iter()
        .zip(statuses.into_iter().map(|s| s.to_ascii_lowercase()))
        .collect())
}

/// Each shipped (order, SKU) against the ERP's order status: a shipment for an order the ERP
/// cancelled is `shipped_after_cancellation`; every row gets the ERP's status. Returns the
/// orders shipped now that the ERP does not hold open (closed, cancelled or missing), with
/// their status and first line, for the report.
pub fn apply_erp_status(
    c: &mut ShipCheck,
    erp: &HashMap<String, String>,
) -> Vec<(String, String, u64)> {
    c.erp_checked = true;
    let mut not_open: Vec<(String, String, u64)> = Vec::new();
    for r in &mut c.checked {
        let status = erp
            .get(&r.order_id)
            .cloned()
            .unwrap_or_else(|| "missing".to_string());
        if status == "cancelled" && r.shipped > Decimal::ZERO {
            r.status = "shipped_after_cancellation";
        }
        if status != "open"
            && r.shipped > Decimal::ZERO
            && !not_open.iter().any(|(o, _, _)| o == &r.order_id)
        {
            not_open.push((r.order_id.clone(), status.clone(), r.line));
        }
        r.erp_status = Some(status);
    }
    not_open
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::str::FromStr;

    use super::*;
    use crate::engine::shipments::{check, tables, Ordered, ShipLayout, ShipLine, ShipPolicy};

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

    fn ordered(sku: &str, q: &str) -> Ordered {
        Ordered {
            lines: BTreeMap::from([(sku.to_string(), d(q))]),
            shipped_before: BTreeMap::new(),
            prices: BTreeMap::new(),
        }
    }

    #[test]
    fn cancelled_closed_and_missing_orders_against_what_shipped() {
        let p = ShipPolicy {
            channel: "acme".into(),
            layout: ShipLayout::X12_945,
        };
        let known = HashMap::from([
            ("A".to_string(), ordered("S1", "1")),
            ("B".to_string(), ordered("S1", "2")),
            ("C".to_string(), ordered("S1", "1")),
        ]);
        let lines = [
            line(1, "A", "S1", "1"),
            line(2, "B", "S1", "2"),
            line(3, "C", "S1", "2"),
            line(4, "Z", "S1", "1"),
        ];
        let mut c = check(&p, &lines, &known);
        let erp = HashMap::from([
            ("A".to_string(), "open".to_string()),
            ("B".to_string(), "cancelled".to_string()),
            ("C".to_string(), "closed".to_string()),
        ]);
        let not_open = apply_erp_status(&mut c, &erp);
        let got: Vec<(&str, &str)> = c
            .checked
            .iter()
            .map(|r| (r.status, r.erp_status.as_deref().unwrap_or("")))
            .collect();
        assert_eq!(
            got,
            [
                ("complete", "open"),
                ("shipped_after_cancellation", "cancelled"),
                ("over", "closed"),
                ("unknown_order", "missing"),
            ]
        );
        assert_eq!(
            not_open,
            [
                ("B".to_string(), "cancelled".to_string(), 2),
                ("C".to_string(), "closed".to_string(), 3),
                ("Z".to_string(), "missing".to_string(), 4),
            ]
        );
        assert!(tables(&c).unwrap()["shipment_check"]
            .column("erp_status")
            .is_ok());
    }
}
