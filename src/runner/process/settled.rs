//! A settlement's orders (`[settled_orders]`): each order of the channel its lines name gets a
//! `settled` step at its first paid line, and its refund lines a `refunded` step (kept as JSON,
//! for returns pipelines with `refunds = "settlement"`), recorded with the run's end.

use std::collections::{BTreeMap, HashMap};

use polars::prelude::*;

use super::{data, Run};
use crate::config::returns::SettledOrders;
use crate::runner::RunError;
use crate::store::orders::{OrderEvent, OrderState};
use crate::store::Ledger;

/// What a settlement says of one order.
#[derive(Default)]
struct Paid {
    /// The first line that is not a refund, and its settlement.
    first: Option<(u64, String)>,
    /// The refund lines, as the ledger keeps them.
    refunds: Vec<serde_json::Value>,
    /// Their first line, and a sentence per line.
    refund_line: u64,
    said: Vec<String>,
}

impl Run<'_> {
    /// Adds the settlement's order steps to the run's record (`settled`).
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
        let (refs, at, settlement, component) = (
            text("order_ref")?,
            text("source_line")?,
            text("settlement_id")?,
            text("component")?,
        );
        let (sku, quantity, amount, currency) = (
            text("sku")?,
            text("quantity")?,
            text("amount")?,
            text("currency")?,
        );
        self.lock_channel(&s.channel)?;
        // The order id as `[group_reconcile]` reads it (Shopify's `#1001` is order 1001).
        let strip: &[String] = p
            .group_reconcile
            .as_ref()
            .map_or(&[], |g| g.strip_prefixes.as_slice());
        let mut order: Vec<&str> = Vec::new();
        let mut paid: HashMap<&str, Paid> = HashMap::new();
        for (i, id) in refs.iter().enumerate() {
            let mut id = id.as_str();
            for prefix in strip {
                id = id.strip_prefix(prefix.as_str()).unwrap_or(id);
            }
            if id.is_empty() {
                continue;
            }
            let o = paid.entry(id).or_insert_with(|| {
                order.push(id);
                Paid::default()
            });
            let line: u64 = at[i].parse().unwrap_or(0);
            if component[i] == "refund" {
                o.refunds.push(serde_json::json!({
                    "settlement": settlement[i], "line": at[i], "sku": sku[i],
                    "quantity": quantity[i], "amount": amount[i], "currency": currency[i],
                }));
                if o.refund_line == 0 {
                    o.refund_line = line;
                }
                let what = match sku[i].is_empty() {
                    true => String::new(),
                    false => format!(" {} x{}", sku[i], quantity[i]),
                };
                o.said
                    .push(format!("refund {} {}{what}", amount[i], currency[i]));
            } else if o.first.is_none() {
                o.first = Some((line, settlement[i].clone()));
            }
        }
        let known = ledger.order_states(&s.channel, &order)?;
        let mut events = Vec::new();
        let (mut settled, mut refunded) = (0u64, 0u64);
        // An order never taken (rejected) is not the channel's to settle.
        let taken = |id: &&str| known.get(*id).is_some_and(|s| *s != OrderState::Rejected);
        for id in order.into_iter().filter(taken) {
            let o = &paid[id];
            let event = |event, line: u64, detail: String, content| OrderEvent {
                order_id: id.to_string(),
                event,
                content_hash: None,
                version: 0,
                line: (line > 0).then_some(line),
                detail: Some(detail),
                content,
            };
            if let Some((line, settlement)) = &o.first {
                settled += 1;
                events.push(event(
                    "settled",
                    *line,
                    format!("settlement {settlement}"),
                    None,
                ));
            }
            if !o.refunds.is_empty() {
                refunded += 1;
                let content = serde_json::json!({ "lines": o.refunds }).to_string();
                events.push(event(
                    "refunded",
                    o.refund_line,
                    o.said.join("; "),
                    Some(content),
                ));
            }
        }
        let counts = &mut self.manifest.reconciliation;
        counts.insert("orders_settled".into(), settled);
        counts.insert("orders_refunded".into(), refunded);
        self.settled = Some(self.channel_record(&s.channel, events));
        Ok(())
    }
}
