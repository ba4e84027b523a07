//! A run's returns (engine/returns.rs): the RMA receipts of the input matched to the ERP's
//! refunds extract, the `return_check` table added to the run's; each order that came back
//! becomes `returned` in the ledger with the run's end. And a settlement's orders
//! (`[settled_orders]`): each order of the channel its lines name gets a `settled` step.

use std::collections::{BTreeMap, HashSet};

use polars::prelude::*;

use super::{data, Run};
use crate::config::returns::SettledOrders;
use crate::engine::returns::{self, ReturnCheck, ReturnPolicy, ReturnsError};
use crate::issue::{Issue, Severity};
use crate::runner::RunError;
use crate::store::orders::{OrderEvent, OrdersRecord};
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
        let (Some(input), Some(erp)) = (tables.get("input"), tables.get("erp")) else {
            return Err(data(
                p,
                "returns need the input and the ERP's refunds extract",
            ));
        };
        // The receipts' file lines: a row set aside by validation leaves its line out.
        let own: Vec<Issue> = self
            .issues
            .iter()
            .filter(|i| i.file == self.file && i.severity == Severity::Error)
            .cloned()
            .collect();
        let lines = crate::pipeline::catalog::good_lines(input.height(), &own);
        let read = returns::read_lines(input, "receipts", returns::RECEIPT_COLUMNS, &lines)
            .and_then(|receipts| {
                returns::read_lines(erp, "refunds extract", returns::REFUND_COLUMNS, &[])
                    .map(|refunds| (receipts, refunds))
            });
        let (receipts, refunds) = match read {
            Ok(r) => r,
            Err(e @ ReturnsError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        let mut ids: Vec<&str> = receipts
            .iter()
            .chain(&refunds)
            .map(|l| l.order_id.as_str())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let states = ledger.order_states(&policy.channel, &ids)?;
        let known: HashSet<String> = states.into_keys().collect();
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
            let mut issue = Issue::error(&self.file, &format!("return-{}", r.status), message)
                .in_column("sku")
                .with_value(&r.sku)
                .warning();
            if r.line > 0 {
                issue = issue.at_line(r.line);
            }
            self.issues.push(issue);
        }
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for r in &checked.checked {
            *counts.entry(format!("return_{}", r.status)).or_default() += 1;
        }
        self.manifest.reconciliation.extend(counts);
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

    /// A settlement's orders of the channel: a `settled` step for each order its lines name
    /// that the channel took, at the order's first line of the file.
    pub(super) fn settle_orders(
        &mut self,
        ledger: &Ledger,
        s: &SettledOrders,
        tables: &BTreeMap<String, DataFrame>,
    ) -> Result<(), RunError> {
        let p = self.p;
        let Some(lines) = tables
            .get("settlement_lines")
            .or_else(|| tables.get("input"))
        else {
            return Ok(());
        };
        let text = |name: &str| -> Result<Vec<String>, RunError> {
            let c = lines
                .column(name)
                .and_then(|c| c.cast(&DataType::String))
                .map_err(|e| data(p, e))?;
            let c = c.str().map_err(|e| data(p, e))?;
            Ok(c.iter()
                .map(|v| v.unwrap_or("").trim().to_string())
                .collect())
        };
        let (refs, at, settlement) = (
            text("order_ref")?,
            text("source_line")?,
            text("settlement_id")?,
        );
        self.lock_channel(&s.channel)?;
        let mut first: Vec<(String, u64, String)> = Vec::new();
        let mut seen = HashSet::new();
        for (i, id) in refs.iter().enumerate() {
            if !id.is_empty() && seen.insert(id.as_str()) {
                let line = at[i].parse().unwrap_or(0);
                first.push((id.clone(), line, settlement[i].clone()));
            }
        }
        let ids: Vec<&str> = first.iter().map(|(id, _, _)| id.as_str()).collect();
        let known = ledger.order_states(&s.channel, &ids)?;
        let events: Vec<OrderEvent> = first
            .iter()
            .filter(|(id, _, _)| known.contains_key(id))
            .map(|(id, line, settlement)| OrderEvent {
                order_id: id.clone(),
                event: "settled",
                content_hash: None,
                version: 0,
                line: (*line > 0).then_some(*line),
                detail: Some(format!("settlement {settlement}")),
                content: None,
            })
            .collect();
        self.manifest
            .reconciliation
            .insert("orders_settled".into(), events.len() as u64);
        self.settled = Some(self.channel_record(&s.channel, events));
        Ok(())
    }

    /// The record of `events` of `channel` by this run.
    fn channel_record(&self, channel: &str, events: Vec<OrderEvent>) -> OrdersRecord {
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
