//! A run's shipments (engine/shipments.rs): the input's shipment lines matched to the orders
//! the channel took, their tables added to the run's; at the run's end, each order's new state
//! and what the file shipped become the ledger's order events in the run's closing
//! transaction.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{data, Run};
use crate::engine::order_status;
use crate::engine::shipments::{self, ShipCheck, ShipPolicy, ShipmentsError};
use crate::issue::Issue;
use crate::runner::RunError;
use crate::store::orders::{OrderEvent, OrdersRecord, ShippedLine};
use crate::store::Ledger;

impl Run<'_> {
    /// Matches the input's shipment lines to the channel's orders and adds `shipment_check`
    /// and `shipment_confirmations` to `tables`; `Some(why)` rejects the file.
    pub(super) fn check_shipments(
        &mut self,
        ledger: &Ledger,
        policy: &ShipPolicy,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        self.lock_channel(&policy.channel)?;
        let input = tables
            .get("input")
            .ok_or_else(|| data(p, "no input table"))?;
        let lines = match shipments::read_lines(policy.layout, input) {
            Ok(l) => l,
            Err(e @ ShipmentsError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        let mut ids: Vec<&str> = lines.iter().map(|l| l.order_id.as_str()).collect();
        ids.dedup();
        let known = ledger.ordered(&policy.channel, &ids, self.file_id)?;
        let mut checked = shipments::check(policy, &lines, &known);
        // With the ERP's order status extract as its [erp]: cancelled and not-open orders.
        if let (Some(_), Some(erp)) = (&p.erp, tables.get("erp")) {
            let status = match order_status::read_erp_status(erp) {
                Ok(s) => s,
                Err(e @ ShipmentsError::MissingColumn { .. }) => return Ok(Some(e.to_string())),
                Err(e) => return Err(data(p, e)),
            };
            for (order_id, status, line) in order_status::apply_erp_status(&mut checked, &status) {
                let mut issue = Issue::error(
                    &self.file,
                    "shipment-not-open-in-erp",
                    format!("order {order_id} shipped but the ERP has it {status}"),
                )
                .in_column("order_number")
                .with_value(&order_id)
                .warning();
                if line > 0 {
                    issue = issue.at_line(line);
                }
                self.issues.push(issue);
            }
        }
        for c in checked.checked.iter().filter(|c| c.status != "complete") {
            let ordered = c.ordered.map_or("nothing".to_string(), |d| d.to_string());
            let message = format!(
                "order {} SKU {}: {} shipped now, {} before, {ordered} ordered ({})",
                c.order_id, c.sku, c.shipped, c.shipped_before, c.status
            );
            let mut issue = Issue::error(&self.file, &format!("shipment-{}", c.status), message)
                .in_column("sku")
                .with_value(&c.sku)
                .warning();
            if c.line > 0 {
                issue = issue.at_line(c.line);
            }
            self.issues.push(issue);
        }
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for c in &checked.checked {
            *counts.entry(format!("shipment_{}", c.status)).or_default() += 1;
        }
        self.manifest.reconciliation.extend(counts);
        tables.extend(shipments::tables(&checked).map_err(|e| data(p, e))?);
        self.shipments = Some(checked);
        Ok(None)
    }

    pub(super) fn shipment_record(&self, c: &ShipCheck) -> OrdersRecord {
        let mut events = Vec::new();
        for (order_id, state, line) in &c.orders {
            let detail: Vec<String> = c
                .checked
                .iter()
                .filter(|x| &x.order_id == order_id)
                .map(|x| {
                    let ordered = x.ordered.map_or("-".into(), |d| d.to_string());
                    format!(
                        "{} {} {}+{} of {ordered}",
                        x.sku, x.status, x.shipped_before, x.shipped
                    )
                })
                .collect();
            events.push(OrderEvent {
                order_id: order_id.clone(),
                event: state,
                content_hash: None,
                version: 0,
                line: Some(*line),
                detail: Some(detail.join("; ")),
                content: None,
            });
        }
        let shipped = c
            .checked
            .iter()
            .filter(|x| x.ordered.is_some() && x.shipped > rust_decimal::Decimal::ZERO)
            .map(|x| ShippedLine {
                order_id: x.order_id.clone(),
                sku: x.sku.clone(),
                quantity: x.shipped.to_string(),
                line: x.line,
            })
            .collect();
        OrdersRecord {
            channel: c.channel.clone(),
            pipeline: self.p.id.clone(),
            run_id: self.run_id.clone(),
            file_id: self.file_id,
            file_name: self.file.clone(),
            at: crate::runner::now_text(chrono::Utc::now()),
            events,
            shipped,
        }
    }
}
