//! A run's returns (engine/returns.rs): the RMA receipts of the input matched to the ERP's
//! refunds extract or the refunds settlements recorded, the `return_check` table added to the
//! run's; each order that came back becomes `returned` in the ledger with the run's end.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;

use super::{data, Run};
use crate::engine::returns::{
    self, RefundSource, ReturnCheck, ReturnLine, ReturnPolicy, ReturnsError,
};
use crate::runner::RunError;
use crate::store::orders::{OrderEvent, OrderState, OrdersRecord};
use crate::store::Ledger;

impl Run<'_> {
    /// Matches the input's receipts to the ERP's refunds and adds `return_check` to `tables`;
    /// `Some(why)` rejects the file.
    pub(super) fn check_returns(
        &mut self,
        ledger: &Ledger,
        policy: &ReturnPolicy,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        self.lock_channel(&policy.channel)?;
        let input = tables
            .get("input")
            .ok_or_else(|| data(p, "no input table"))?;
        let lines = self.good_row_lines(input.height());
        let read = returns::read_lines(input, "receipts", returns::RECEIPT_COLUMNS, &lines)
            .and_then(|receipts| match (policy.refunds, tables.get("erp")) {
                (RefundSource::Erp, Some(erp)) => {
                    returns::read_lines(erp, "refunds extract", returns::REFUND_COLUMNS, &[])
                        .map(|refunds| (receipts, refunds))
                }
                _ => Ok((receipts, Vec::new())),
            });
        let (receipts, mut refunds) = match read {
            Ok(r) => r,
            Err(e @ ReturnsError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        if policy.refunds == RefundSource::Settlement {
            let mut ids: Vec<&str> = receipts.iter().map(|l| l.order_id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            for (order_id, json) in ledger.settlement_refunds(&policy.channel, &ids)? {
                refunds.extend(settlement_refund_lines(&order_id, &json));
            }
        }
        let mut ids: Vec<&str> = receipts
            .iter()
            .chain(&refunds)
            .map(|l| l.order_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // An order never taken (rejected) never shipped: it cannot come back.
        let known: HashSet<String> = ledger
            .order_states(&policy.channel, &ids)?
            .into_iter()
            .filter(|(_, s)| *s != OrderState::Rejected)
            .map(|(id, _)| id)
            .collect();
        let checked = returns::check(policy, &receipts, &refunds, &known);
        for r in checked.checked.iter().filter(|r| r.status != "matched") {
            let message = format!(
                "order {} SKU {}: {} received (RMA {}), {} refunded ({}): {}",
                r.order_id,
                r.sku,
                r.received,
                if r.rmas.is_empty() {
                    "-".into()
                } else {
                    r.rmas.join("/")
                },
                r.refunded,
                if r.refunds.is_empty() {
                    "-".into()
                } else {
                    r.refunds.join("/")
                },
                r.status
            );
            self.sku_warning(&format!("return-{}", r.status), message, &r.sku, r.line);
        }
        self.count_statuses("return", checked.checked.iter().map(|r| r.status));
        tables.extend(returns::tables(&checked).map_err(|e| data(p, e))?);
        self.returns = Some(checked);
        Ok(None)
    }

    /// Each order that came back: `returned`, with what came back and what was refunded.
    pub(super) fn return_record(&self, c: &ReturnCheck) -> OrdersRecord {
        let events = c
            .returned
            .iter()
            .map(|(order_id, line)| {
                let detail: Vec<String> = c
                    .checked
                    .iter()
                    .filter(|r| &r.order_id == order_id)
                    .map(|r| {
                        format!(
                            "{} {} received {} (RMA {} {}), refunded {}",
                            r.sku,
                            r.status,
                            r.received,
                            r.rmas.join("/"),
                            r.conditions.join("/"),
                            r.refunded
                        )
                    })
                    .collect();
                OrderEvent {
                    order_id: order_id.clone(),
                    event: "returned",
                    content_hash: None,
                    version: 0,
                    line: Some(*line),
                    detail: Some(detail.join("; ")),
                    content: None,
                }
            })
            .collect();
        self.channel_record(&c.channel, events)
    }

    /// The record of `events` of `channel` by this run.
    pub(super) fn channel_record(&self, channel: &str, events: Vec<OrderEvent>) -> OrdersRecord {
        OrdersRecord {
            channel: channel.to_string(),
            pipeline: self.p.id.clone(),
            run_id: self.run_id.clone(),
            file_id: self.file_id,
            file_name: self.file.clone(),
            at: crate::runner::now_text(chrono::Utc::now()),
            events,
            shipped: Vec::new(),
        }
    }
}

/// The refund lines of one `refunded` event (store/orders.rs `settlement_refunds`): the
/// settlement as the reference, its line, SKU and quantity as the settlement had them (often
/// none), the amount and currency as the note.
fn settlement_refund_lines(order_id: &str, json: &str) -> Vec<ReturnLine> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    let text = |x: &serde_json::Value, k: &str| x[k].as_str().unwrap_or("").to_string();
    v["lines"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| ReturnLine {
            line: text(l, "line").parse().unwrap_or(0),
            reference: text(l, "settlement"),
            order_id: order_id.to_string(),
            sku: text(l, "sku"),
            quantity: text(l, "quantity"),
            note: format!("{} {}", text(l, "amount"), text(l, "currency")),
        })
        .collect()
}
