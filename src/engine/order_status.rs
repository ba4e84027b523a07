//! A shipment against the ERP's open-orders extract (a `[shipments]` pipeline's `[erp]`, per
//! order `erp_order_status.v1` or per line `erp_open_order_lines.v1`): a shipment of an order
//! or line the ERP cancelled is `shipped_after_cancellation`, per line a SKU the ERP's order
//! lacks or more than its open quantity is said, and the orders shipped that the ERP does not
//! hold open are named for the report. Pure.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::shipments::{ShipCheck, ShipmentsError};

/// The ERP's order status extract read: each order's status and, when the extract is kept per
/// line (`erp_open_order_lines.v1`: `sku` and `open_quantity` besides `order_id` and
/// `status`), each line's status and what the ERP still has open of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ErpStatus {
    /// Per order: its status; for a per-line extract, `open` when a line is open,
    /// `cancelled` when every line is, `closed` otherwise (a row with no SKU says it outright).
    pub orders: HashMap<String, String>,
    /// Per (order, SKU) of a per-line extract: the line's status and its open quantity (none
    /// when the cell is empty).
    pub lines: HashMap<(String, String), (String, Option<Decimal>)>,
}

/// Reads the ERP's order status extract (`erp_order_status.v1` per order, or
/// `erp_open_order_lines.v1` per line); the last row of an order or line wins.
pub fn read_erp_status(df: &DataFrame) -> Result<ErpStatus, ShipmentsError> {
    let text = |name: &'static str| -> Result<Option<Vec<String>>, ShipmentsError> {
        let Ok(c) = df.column(name) else {
            return Ok(None);
        };
        let c = c.cast(&DataType::String)?;
        Ok(Some(
            c.str()?
                .iter()
                .map(|v| v.unwrap_or("").trim().to_string())
                .collect(),
        ))
    };
    let required = |name: &'static str| {
        text(name)?.ok_or(ShipmentsError::MissingColumn {
            layout: "ERP order status",
            column: name,
        })
    };
    let (ids, statuses) = (required("order_id")?, required("status")?);
    let skus = text("sku")?;
    let open = text("open_quantity")?;
    let mut erp = ErpStatus::default();
    let mut said: HashMap<String, String> = HashMap::new();
    for (i, (id, status)) in ids.into_iter().zip(statuses).enumerate() {
        let status = status.to_ascii_lowercase();
        let sku = skus.as_ref().map_or("", |s| s[i].as_str());
        if sku.is_empty() {
            said.insert(id, status);
            continue;
        }
        let quantity = open
            .as_ref()
            .and_then(|q| Decimal::from_str(q[i].as_str()).ok());
        erp.lines
            .insert((id.clone(), sku.to_string()), (status.clone(), quantity));
        let order = erp.orders.entry(id).or_insert_with(|| status.clone());
        *order = match (order.as_str(), status.as_str()) {
            ("open", _) | (_, "open") => "open".to_string(),
            ("cancelled", "cancelled") => "cancelled".to_string(),
            _ => "closed".to_string(),
        };
    }
    // A row with no SKU is the order's own status: it outranks what its lines suggest.
    erp.orders.extend(said);
    Ok(erp)
}

/// Each shipped (order, SKU) against the ERP's order status: a shipment for an order (or,
/// per line, a line) the ERP cancelled is `shipped_after_cancellation`; with a per-line
/// extract, a line the ERP does not have on the order is `not_in_erp_order` and more than
/// its open quantity is `over_erp_open` (when the order's own check found nothing worse);
/// every row gets the ERP's status (its line's when there is one). Returns the orders shipped
/// now that the ERP does not hold open (closed, cancelled or missing), with their status and
/// first line, for the report.
pub fn apply_erp_status(c: &mut ShipCheck, erp: &ErpStatus) -> Vec<(String, String, u64)> {
    c.erp_checked = true;
    let per_line: HashSet<&str> = erp.lines.keys().map(|(o, _)| o.as_str()).collect();
    let mut not_open: Vec<(String, String, u64)> = Vec::new();
    for r in &mut c.checked {
        let status = erp
            .orders
            .get(&r.order_id)
            .cloned()
            .unwrap_or_else(|| "missing".to_string());
        let shipped = r.shipped > Decimal::ZERO;
        let line = erp.lines.get(&(r.order_id.clone(), r.sku.clone()));
        let agreed = matches!(r.status, "complete" | "short");
        match line {
            Some((s, _)) if s == "cancelled" && shipped => r.status = "shipped_after_cancellation",
            Some((_, Some(open))) if agreed && r.shipped > *open => r.status = "over_erp_open",
            None if agreed && shipped && per_line.contains(r.order_id.as_str()) => {
                r.status = "not_in_erp_order"
            }
            _ if status == "cancelled" && shipped => r.status = "shipped_after_cancellation",
            _ => {}
        }
        if status != "open" && shipped && !not_open.iter().any(|(o, _, _)| o == &r.order_id) {
            not_open.push((r.order_id.clone(), status.clone(), r.line));
        }
        r.erp_status = Some(line.map_or(status, |(s, _)| s.clone()));
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
        let erp = ErpStatus {
            orders: HashMap::from([
                ("A".to_string(), "open".to_string()),
                ("B".to_string(), "cancelled".to_string()),
                ("C".to_string(), "closed".to_string()),
            ]),
            lines: HashMap::new(),
        };
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

    #[test]
    fn a_per_line_extract_checks_each_line_and_gives_the_order_its_status() {
        let df = df!(
            "order_id" => ["A", "A", "A", "B", "B", "C"],
            "sku" => ["S1", "S2", "S3", "S1", "S2", ""],
            "status" => ["open", "open", "cancelled", "cancelled", "closed", "open"],
            "open_quantity" => ["1", "", "2", "0", "0", ""],
        )
        .unwrap();
        let erp = read_erp_status(&df).unwrap();
        assert_eq!(erp.orders["A"], "open");
        assert_eq!(erp.orders["B"], "closed");
        assert_eq!(erp.orders["C"], "open");
        assert_eq!(
            erp.lines[&("A".into(), "S1".into())],
            ("open".into(), Some(d("1")))
        );
        assert_eq!(erp.lines[&("A".into(), "S2".into())], ("open".into(), None));

        let p = ShipPolicy {
            channel: "acme".into(),
            layout: ShipLayout::X12_945,
        };
        let mut a = ordered("S1", "3");
        for sku in ["S2", "S3", "S4"] {
            a.lines.insert(sku.into(), d("3"));
        }
        let known = HashMap::from([("A".to_string(), a), ("C".to_string(), ordered("S1", "1"))]);
        let lines = [
            line(1, "A", "S1", "2"),
            line(2, "A", "S2", "3"),
            line(3, "A", "S3", "1"),
            line(4, "A", "S4", "1"),
            line(5, "C", "S1", "1"),
        ];
        let mut c = check(&p, &lines, &known);
        let not_open = apply_erp_status(&mut c, &erp);
        let got: Vec<(&str, &str, &str)> = c
            .checked
            .iter()
            .map(|r| {
                (
                    r.sku.as_str(),
                    r.status,
                    r.erp_status.as_deref().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("S1", "over_erp_open", "open"),
                ("S2", "complete", "open"),
                ("S3", "shipped_after_cancellation", "cancelled"),
                ("S4", "not_in_erp_order", "open"),
                ("S1", "complete", "open"),
            ]
        );
        assert!(not_open.is_empty(), "{not_open:?}");
    }
}
