//! A run's invoices (engine/invoices.rs): the 810's lines matched to the channel's orders and
//! what was shipped of them, the `invoice_check` table added to the run's; at the run's end
//! each order billed becomes `invoiced` in the ledger, in the run's closing transaction.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{data, Run};
use crate::engine::invoices::{self, InvoiceCheck, InvoicePolicy, InvoicesError};
use crate::issue::Issue;
use crate::runner::RunError;
use crate::store::orders::{OrderEvent, OrdersRecord};
use crate::store::Ledger;

impl Run<'_> {
    /// Matches the input's invoice lines to the channel's orders and adds `invoice_check` to
    /// `tables`; `Some(why)` rejects the file.
    pub(super) fn check_invoices(
        &mut self,
        ledger: &Ledger,
        policy: &InvoicePolicy,
        tables: &mut BTreeMap<String, DataFrame>,
    ) -> Result<Option<String>, RunError> {
        let p = self.p;
        self.lock_channel(&policy.channel)?;
        let input = tables
            .get("input")
            .ok_or_else(|| data(p, "no input table"))?;
        let lines = match invoices::read_lines(input, self.order_header.as_ref()) {
            Ok(l) => l,
            Err(e @ InvoicesError::MissingColumn(_)) => return Ok(Some(e.to_string())),
            Err(e) => return Err(data(p, e)),
        };
        let mut ids: Vec<&str> = lines.iter().map(|l| l.order_id.as_str()).collect();
        ids.dedup();
        let known = ledger.ordered(&policy.channel, &ids, self.file_id)?;
        let checked = invoices::check(policy, &lines, &known);
        for b in checked.billed.iter().filter(|b| b.status != "matched") {
            let message = format!(
                "invoice {} order {} SKU {}: {} at {} invoiced; {} shipped, price {} ({})",
                b.line.invoice,
                b.line.order_id,
                b.line.sku,
                b.line.quantity,
                b.line.unit_price,
                b.shipped,
                b.ordered_price.map_or("-".to_string(), |d| d.to_string()),
                b.status
            );
            self.issues.push(
                Issue::error(&self.file, &format!("invoice-{}", b.status), message)
                    .at_line(b.line.line)
                    .in_column("sku")
                    .with_value(&b.line.sku)
                    .warning(),
            );
        }
        self.count_statuses("invoice", checked.billed.iter().map(|b| b.status));
        tables.extend(invoices::tables(&checked).map_err(|e| data(p, e))?);
        self.invoices = Some(checked);
        Ok(None)
    }

    /// Each order the invoice bills: `invoiced` (or `unknown_order`) with its lines' statuses.
    pub(super) fn invoice_record(&self, c: &InvoiceCheck) -> OrdersRecord {
        let events = c
            .orders
            .iter()
            // A line whose invoice names no order has no order to tell.
            .filter(|(order_id, _, _)| !order_id.is_empty())
            .map(|(order_id, state, line)| {
                let detail: Vec<String> = c
                    .billed
                    .iter()
                    .filter(|b| &b.line.order_id == order_id)
                    .map(|b| {
                        format!(
                            "{} {} {} at {}",
                            b.line.sku, b.status, b.line.quantity, b.line.unit_price
                        )
                    })
                    .collect();
                OrderEvent {
                    order_id: order_id.clone(),
                    event: state,
                    content_hash: None,
                    version: 0,
                    line: Some(*line),
                    detail: Some(detail.join("; ")),
                    content: None,
                }
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
            shipped: Vec::new(),
        }
    }
}
