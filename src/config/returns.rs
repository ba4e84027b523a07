//! `[returns]`: a pipeline whose input is the 3PL's RMA receipts, matched to the ERP's refunds
//! extract (its `[erp]`) or to the refund lines settlements recorded, for a channel's orders
//! (engine/returns.rs). `[settled_orders]`: a
//! settlement pipeline whose lines settle a channel's orders (their state becomes `settled`).

use serde::Deserialize;

use super::compile::Errs;
use super::raw::PipelineRaw;
use crate::engine::returns::{RefundSource, ReturnPolicy};

/// `[returns]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnsRaw {
    /// The channel whose orders come back (an `[orders] channel`).
    pub channel: String,
    /// Where refunds come from: `erp` (default: the pipeline's `[erp]`, `erp_refunds.v1`) or
    /// `settlement` (the refund lines settlement pipelines with `[settled_orders]` recorded).
    pub refunds: Option<String>,
}

/// `[settled_orders]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettledOrdersRaw {
    /// The channel whose orders the settlement's `order_ref`s are (an `[orders] channel`).
    pub channel: String,
}

/// `[settled_orders]` compiled: the channel whose orders a settlement settles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettledOrders {
    pub channel: String,
}

fn channel(key: &str, channel: &str, e: &mut Errs) {
    if channel.trim().is_empty() || channel.contains(['/', '\\']) {
        e.add(
            key,
            format!("`{channel}` must be a non-empty name without `/`"),
        );
    }
}

/// The pipeline's returns policy (`None` without `[returns]`).
pub(crate) fn compile(raw: &PipelineRaw, e: &mut Errs) -> Option<ReturnPolicy> {
    let s = raw.returns.as_ref()?;
    if raw.orders.is_some() || raw.shipments.is_some() || raw.invoices.is_some() {
        e.add(
            "returns",
            "a pipeline takes orders, checks shipments, invoices or returns, one of them".into(),
        );
    }
    if raw.input.format != "csv" {
        e.add(
            "returns",
            format!(
                "the input must be the RMA receipts CSV (format \"csv\", schema rma_receipts.v1), not `{}`",
                raw.input.format
            ),
        );
    }
    let refunds = match s.refunds.as_deref() {
        None | Some("erp") => RefundSource::Erp,
        Some("settlement") => RefundSource::Settlement,
        Some(other) => {
            e.add(
                "returns.refunds",
                format!("`{other}`: use \"erp\" or \"settlement\""),
            );
            RefundSource::Erp
        }
    };
    match (refunds, raw.erp.is_some()) {
        (RefundSource::Erp, false) => e.add(
            "returns",
            "needs the ERP's refunds extract as its [erp] (schema erp_refunds.v1), or refunds = \"settlement\"".into(),
        ),
        (RefundSource::Settlement, true) => e.add(
            "returns.refunds",
            "\"settlement\" reads the refunds settlements recorded in the ledger: the [erp] extract would not be read (remove it, or refunds = \"erp\")".into(),
        ),
        _ => {}
    }
    channel("returns.channel", &s.channel, e);
    Some(ReturnPolicy {
        channel: s.channel.clone(),
        refunds,
    })
}

/// The pipeline's settled orders (`None` without `[settled_orders]`).
pub(crate) fn compile_settled(raw: &PipelineRaw, e: &mut Errs) -> Option<SettledOrders> {
    let s = raw.settled_orders.as_ref()?;
    if raw.input.format != "settlement" {
        e.add(
            "settled_orders",
            format!(
                "only a settlement input (format \"settlement\") settles orders, not `{}`",
                raw.input.format
            ),
        );
    }
    channel("settled_orders.channel", &s.channel, e);
    Some(SettledOrders {
        channel: s.channel.clone(),
    })
}
