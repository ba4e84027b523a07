//! Returns against refunds: the 3PL's RMA receipts (what came back, per order and SKU) matched
//! to the refunds (the ERP's refunds extract, or the refund lines settlements recorded): matched,
//! refunded but not received, received but not refunded, quantities that differ, an order the
//! channel never took. A refund that names no SKU (most settlements) is matched per order, and
//! one with no quantity by presence. Pure: the runner passes in which orders the ledger knows.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use polars::prelude::*;
use rust_decimal::Decimal;

/// Why receipts or refunds could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReturnsError {
    #[error("the {side} needs a column `{column}`")]
    MissingColumn {
        side: &'static str,
        column: &'static str,
    },
    #[error(transparent)]
    Data(#[from] PolarsError),
}

/// Where a returns pipeline's refunds come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundSource {
    /// The ERP's refunds extract, the pipeline's `[erp]` (`erp_refunds.v1`).
    Erp,
    /// The refund lines settlements of the channel recorded (`[settled_orders]`).
    Settlement,
}

/// `[returns]` compiled: the channel whose orders come back, and where refunds come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnPolicy {
    pub channel: String,
    pub refunds: RefundSource,
}

/// The statuses of `return_check`, in the order the report counts them.
pub const STATUSES: [&str; 6] = [
    "matched",
    "refunded_not_received",
    "received_not_refunded",
    "quantity_differs",
    "unknown_order",
    "bad_quantity",
];

/// One RMA receipt line (`rma_receipts.v1`) or one refund line (`erp_refunds.v1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReturnLine {
    /// The file line (receipts) or the extract's line (refunds).
    pub line: u64,
    /// The RMA (receipts) or the refund's id (refunds).
    pub reference: String,
    pub order_id: String,
    pub sku: String,
    pub quantity: String,
    /// Receipts: the condition the item came back in; refunds: the amount paid back.
    pub note: String,
}

/// Reads `df`'s lines: `reference`, `order_id`, `sku`, `quantity` and `note` name the
/// columns; `lines[i]` is row `i`'s file line.
pub fn read_lines(
    df: &DataFrame,
    side: &'static str,
    columns: [&'static str; 5],
    lines: &[u64],
) -> Result<Vec<ReturnLine>, ReturnsError> {
    let text = |name: &'static str, required: bool| -> Result<Vec<String>, ReturnsError> {
        let c = match df.column(name) {
            Ok(c) => c.cast(&DataType::String)?,
            Err(_) if !required => return Ok(vec![String::new(); df.height()]),
            Err(_) => return Err(ReturnsError::MissingColumn { side, column: name }),
        };
        Ok(c.str()?
            .iter()
            .map(|v| v.unwrap_or("").trim().to_string())
            .collect())
    };
    let [reference, order, sku, quantity, note] = columns;
    let (refs, orders, skus, quantities, notes) = (
        text(reference, false)?,
        text(order, true)?,
        text(sku, true)?,
        text(quantity, true)?,
        text(note, false)?,
    );
    Ok((0..df.height())
        .map(|r| ReturnLine {
            line: lines.get(r).copied().unwrap_or(r as u64 + 2),
            reference: refs[r].clone(),
            order_id: orders[r].clone(),
            sku: skus[r].clone(),
            quantity: quantities[r].clone(),
            note: notes[r].clone(),
        })
        .collect())
}

/// The receipts' columns: RMA, order, SKU, quantity received, condition.
pub const RECEIPT_COLUMNS: [&str; 5] = [
    "rma_id",
    "order_id",
    "sku",
    "quantity_received",
    "condition",
];
/// The refunds' columns: refund id, order, SKU, quantity refunded, amount.
pub const REFUND_COLUMNS: [&str; 5] = [
    "refund_id",
    "order_id",
    "sku",
    "quantity_refunded",
    "amount",
];

/// One (order, SKU) of the returns file or the refunds judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Returned {
    pub order_id: String,
    pub sku: String,
    /// The RMAs that brought it back, and the refunds that paid it (joined with `/`).
    pub rmas: Vec<String>,
    pub refunds: Vec<String>,
    pub conditions: Vec<String>,
    pub received: Decimal,
    pub refunded: Decimal,
    /// The amounts refunded, as the extract wrote them.
    pub amounts: Vec<String>,
    pub status: &'static str,
    /// The receipts file's first line of it (0: only refunds name it).
    pub line: u64,
    /// The refunds extract's first line of it (0: no refund).
    pub refund_line: u64,
    /// A refund of it had no quantity (a settlement's): matched by presence.
    pub refund_quantity_unknown: bool,
}

/// A returns file checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReturnCheck {
    pub channel: String,
    /// In the receipts' order, then refunds with no receipt in the extract's order.
    pub checked: Vec<Returned>,
    /// Orders the channel took that came back (a receipt with a quantity), with the first
    /// receipt line: they become `returned`.
    pub returned: Vec<(String, u64)>,
}

fn number(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok().map(|d| d.normalize())
}

/// Matches receipts and refunds per (order, SKU), quantities summed on each side. `known`:
/// the order ids the channel took (others are `unknown_order`).
pub fn check(
    policy: &ReturnPolicy,
    receipts: &[ReturnLine],
    refunds: &[ReturnLine],
    known: &HashSet<String>,
) -> ReturnCheck {
    let mut order: Vec<(String, String)> = Vec::new();
    let mut by_key: BTreeMap<(String, String), Returned> = BTreeMap::new();
    let mut bad: HashSet<(String, String)> = HashSet::new();
    // Orders with a refund that names no SKU are matched as a whole.
    let whole: HashSet<&str> = refunds
        .iter()
        .filter(|l| l.sku.is_empty())
        .map(|l| l.order_id.as_str())
        .collect();
    for (is_receipt, l) in receipts
        .iter()
        .map(|l| (true, l))
        .chain(refunds.iter().map(|l| (false, l)))
    {
        let sku = match whole.contains(l.order_id.as_str()) {
            true => String::new(),
            false => l.sku.clone(),
        };
        let key = (l.order_id.clone(), sku);
        let r = by_key.entry(key.clone()).or_insert_with(|| {
            order.push(key.clone());
            Returned {
                order_id: l.order_id.clone(),
                sku: key.1.clone(),
                rmas: Vec::new(),
                refunds: Vec::new(),
                conditions: Vec::new(),
                received: Decimal::ZERO,
                refunded: Decimal::ZERO,
                amounts: Vec::new(),
                status: "matched",
                line: 0,
                refund_line: 0,
                refund_quantity_unknown: false,
            }
        });
        if key.1.is_empty() && !l.sku.is_empty() && !r.sku.split('/').any(|s| s == l.sku) {
            r.sku = match r.sku.is_empty() {
                true => l.sku.clone(),
                false => format!("{}/{}", r.sku, l.sku),
            };
        }
        let unknown = !is_receipt && l.quantity.is_empty();
        r.refund_quantity_unknown |= unknown;
        let q = number(&l.quantity);
        if !unknown && q.is_none_or(|q| q <= Decimal::ZERO) {
            bad.insert(key);
        }
        let q = q.unwrap_or_default();
        let push = |v: &mut Vec<String>, s: &str| {
            if !s.is_empty() && !v.iter().any(|x| x == s) {
                v.push(s.to_string());
            }
        };
        if is_receipt {
            r.received += q;
            push(&mut r.rmas, &l.reference);
            push(&mut r.conditions, &l.note);
            if r.line == 0 {
                r.line = l.line;
            }
        } else {
            r.refunded += q;
            push(&mut r.refunds, &l.reference);
            if !l.note.is_empty() {
                r.amounts.push(l.note.clone());
            }
            if r.refund_line == 0 {
                r.refund_line = l.line;
            }
        }
    }
    let mut out = ReturnCheck {
        channel: policy.channel.clone(),
        ..ReturnCheck::default()
    };
    for key in order {
        let mut r = by_key.remove(&key).expect("every key was entered");
        r.status = if !known.contains(&r.order_id) {
            "unknown_order"
        } else if bad.contains(&key) {
            "bad_quantity"
        } else if r.line == 0 {
            "refunded_not_received"
        } else if r.refund_line == 0 {
            "received_not_refunded"
        } else if r.received != r.refunded && !r.refund_quantity_unknown {
            "quantity_differs"
        } else {
            "matched"
        };
        if r.line > 0
            && known.contains(&r.order_id)
            && !out.returned.iter().any(|(id, _)| id == &r.order_id)
        {
            out.returned.push((r.order_id.clone(), r.line));
        }
        out.checked.push(r);
    }
    out
}

/// The tables a `[returns]` pipeline has besides its input.
pub const TABLES: [&str; 1] = ["return_check"];

/// `return_check`: one row per (order, SKU) received or refunded, with both sides.
pub fn tables(c: &ReturnCheck) -> PolarsResult<BTreeMap<String, DataFrame>> {
    let rows = &c.checked;
    // An empty value is missing (an empty cell, not `""`).
    let text = |f: &dyn Fn(&Returned) -> String| -> Vec<Option<String>> {
        rows.iter()
            .map(|r| Some(f(r)).filter(|v| !v.is_empty()))
            .collect()
    };
    let line = |n: u64| (n > 0).then(|| n.to_string());
    let cols = vec![
        Column::new("channel".into(), text(&|_| c.channel.clone())),
        Column::new("order_id".into(), text(&|r| r.order_id.clone())),
        Column::new("sku".into(), text(&|r| r.sku.clone())),
        Column::new("rma_id".into(), text(&|r| r.rmas.join("/"))),
        Column::new("condition".into(), text(&|r| r.conditions.join("/"))),
        Column::new(
            "quantity_received".into(),
            text(&|r| r.received.to_string()),
        ),
        Column::new("refund_id".into(), text(&|r| r.refunds.join("/"))),
        Column::new(
            "quantity_refunded".into(),
            text(&|r| r.refunded.to_string()),
        ),
        Column::new("amount_refunded".into(), text(&|r| r.amounts.join("/"))),
        Column::new("status".into(), text(&|r| r.status.to_string())),
        Column::new(
            "line".into(),
            rows.iter().map(|r| line(r.line)).collect::<Vec<_>>(),
        ),
        Column::new(
            "refund_line".into(),
            rows.iter().map(|r| line(r.refund_line)).collect::<Vec<_>>(),
        ),
    ];
    let df = DataFrame::new(rows.len(), cols)?;
    Ok(BTreeMap::from([("return_check".to_string(), df)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(line: u64, reference: &str, order: &str, sku: &str, q: &str) -> ReturnLine {
        ReturnLine {
            line,
            reference: reference.into(),
            order_id: order.into(),
            sku: sku.into(),
            quantity: q.into(),
            note: String::new(),
        }
    }

    #[test]
    fn receipts_against_refunds_per_order_and_sku() {
        let p = ReturnPolicy {
            channel: "acme".into(),
            refunds: RefundSource::Erp,
        };
        let known: HashSet<String> = ["A", "B", "C"].map(String::from).into();
        let receipts = [
            l(2, "R1", "A", "S1", "1"),
            l(3, "R1", "A", "S1", "1"),
            l(4, "R2", "B", "S1", "2"),
            l(5, "R3", "C", "S1", "3"),
            l(6, "R4", "Z", "S1", "1"),
            l(7, "R5", "A", "S3", "x"),
        ];
        let refunds = [
            l(2, "F1", "A", "S1", "2"),
            l(3, "F2", "C", "S1", "1"),
            l(4, "F3", "A", "S2", "1"),
            l(5, "F4", "A", "S3", "1"),
        ];
        let c = check(&p, &receipts, &refunds, &known);
        let got: Vec<(&str, &str, &str)> = c
            .checked
            .iter()
            .map(|r| (r.order_id.as_str(), r.sku.as_str(), r.status))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "S1", "matched"),
                ("B", "S1", "received_not_refunded"),
                ("C", "S1", "quantity_differs"),
                ("Z", "S1", "unknown_order"),
                ("A", "S3", "bad_quantity"),
                ("A", "S2", "refunded_not_received"),
            ]
        );
        assert_eq!(c.checked[0].received, Decimal::from(2));
        assert_eq!(c.checked[0].rmas, ["R1"]);
        assert_eq!(
            c.returned,
            [
                ("A".to_string(), 2),
                ("B".to_string(), 4),
                ("C".to_string(), 5)
            ]
        );
        let t = tables(&c).unwrap();
        assert_eq!(t["return_check"].height(), 6);
    }

    #[test]
    fn a_refund_with_no_sku_or_quantity_is_matched_per_order_by_presence() {
        let p = ReturnPolicy {
            channel: "acme".into(),
            refunds: RefundSource::Settlement,
        };
        let known: HashSet<String> = ["A", "B", "C"].map(String::from).into();
        let receipts = [
            l(2, "R1", "A", "S1", "1"),
            l(3, "R1", "A", "S2", "2"),
            l(4, "R2", "B", "S1", "1"),
        ];
        let refunds = [
            l(7, "SET-1", "A", "", ""),
            l(8, "SET-1", "C", "", ""),
            l(9, "SET-1", "B", "S1", "3"),
        ];
        let c = check(&p, &receipts, &refunds, &known);
        let got: Vec<(&str, &str, &str)> = c
            .checked
            .iter()
            .map(|r| (r.order_id.as_str(), r.sku.as_str(), r.status))
            .collect();
        assert_eq!(
            got,
            [
                ("A", "S1/S2", "matched"),
                ("B", "S1", "quantity_differs"),
                ("C", "", "refunded_not_received"),
            ]
        );
        assert_eq!(c.checked[0].received, Decimal::from(3));
    }
}
