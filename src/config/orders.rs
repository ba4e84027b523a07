//! `[orders]`: a pipeline that takes orders (engine/orders.rs): the channel that, with the
//! order id, identifies an order across files and formats; the layout of its input; the item
//! master lines are checked against; what an amendment does. `[shipments]`: a pipeline whose
//! shipments (945, 856, DESADV, ship notices) answer a channel's orders (engine/shipments.rs).
//! `[invoices]`: a pipeline whose 810s bill a channel's orders (engine/invoices.rs).

use serde::Deserialize;

use super::compile::Errs;
use super::raw::PipelineRaw;
use crate::engine::invoices::InvoicePolicy;
use crate::engine::orders::{Amendments, AtpSource, ItemMaster, Layout, Policy};
use crate::engine::shipments::{ShipLayout, ShipPolicy};

/// `[orders]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersRaw {
    /// The partner or sales channel; pipelines naming the same channel share its orders.
    pub channel: String,
    /// `x12_850`, `edifact_orders`, `xml_order` (default: from `input.table`), or for a CSV
    /// input `shopify_csv` or `plain_csv` (required).
    pub layout: Option<String>,
    /// The reference table that is the item master (`[references.<name>]`); without it any
    /// SKU is taken.
    pub items: Option<String>,
    /// The item master's SKU column (default `sku`).
    pub items_column: Option<String>,
    /// `flag` (default: a person decides, nothing is sent) or `accept` (sent as a change).
    pub amendments: Option<String>,
    /// Lines checked against the latest published available-to-promise of a location.
    pub atp: Option<AtpRaw>,
    /// How long an order of the channel may stay in a state before it is an exception in
    /// this pipeline's reports and `tallyman orders --stuck`: state → `"2d"` or `"36h"`
    /// (received, released, partly_shipped, shipped, invoiced).
    #[serde(default)]
    pub stuck: std::collections::BTreeMap<String, String>,
}

/// `[orders.atp]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtpRaw {
    /// The pipeline that publishes the ATP (e.g. `inventory_3pl`).
    pub pipeline: String,
    /// Its table whose published output is the ATP (columns `sku`, `location`, `atp`;
    /// default `atp`).
    pub table: Option<String>,
    /// The location the channel's orders ship from.
    pub location: String,
}

/// The pipeline's order policy (`None` without `[orders]`), every problem collected.
pub(crate) fn compile(raw: &PipelineRaw, e: &mut Errs) -> Option<Policy> {
    let s = raw.orders.as_ref()?;
    let table = raw.input.table.as_deref();
    let layout = match (s.layout.as_deref(), raw.input.format.as_str()) {
        (None, "csv") => {
            e.add(
                "orders.layout",
                "a CSV input needs a layout: \"shopify_csv\" or \"plain_csv\"".into(),
            );
            None
        }
        (None, _) => {
            let found = table.and_then(Layout::of_table);
            if found.is_none() {
                e.add(
                    "orders.layout",
                    format!(
                        "input.table `{}` holds no order lines (x12_850_lines, edifact_orders_lines or xml_order_lines)",
                        table.unwrap_or("")
                    ),
                );
            }
            found
        }
        (Some(name), format) => {
            let found = Layout::ALL.into_iter().find(|l| l.name() == name);
            match found {
                None => e.add(
                    "orders.layout",
                    format!(
                        "`{name}` is not a layout (one of {})",
                        Layout::ALL.map(|l| l.name()).join(", ")
                    ),
                ),
                Some(l) if l.lines_table().is_none() && format != "csv" => e.add(
                    "orders.layout",
                    format!("`{name}` is a CSV layout; the input is {format}"),
                ),
                Some(l) if l.lines_table().is_some() && l.lines_table() != table => e.add(
                    "orders.layout",
                    format!(
                        "`{name}` reads input.table `{}`",
                        l.lines_table().unwrap_or("")
                    ),
                ),
                Some(_) => {}
            }
            found
        }
    };
    if s.channel.trim().is_empty() || s.channel.contains(['/', '\\']) {
        e.add(
            "orders.channel",
            format!("`{}` must be a non-empty name without `/`", s.channel),
        );
    }
    let items = match &s.items {
        Some(t) if !raw.references.contains_key(t) => {
            e.add(
                "orders.items",
                format!("`{t}` is not a reference table of this pipeline ([references.{t}])"),
            );
            None
        }
        Some(t) => Some(ItemMaster {
            table: t.clone(),
            column: s.items_column.clone().unwrap_or_else(|| "sku".into()),
        }),
        None => None,
    };
    let amendments = match s.amendments.as_deref() {
        None | Some("flag") => Amendments::Flag,
        Some("accept") => Amendments::Accept,
        Some(other) => {
            e.add(
                "orders.amendments",
                format!("`{other}`: use \"flag\" or \"accept\""),
            );
            Amendments::Flag
        }
    };
    let atp = s.atp.as_ref().and_then(|a| {
        let mut ok = true;
        for (key, value) in [("pipeline", &a.pipeline), ("location", &a.location)] {
            if value.trim().is_empty() {
                e.add(&format!("orders.atp.{key}"), "must not be empty".into());
                ok = false;
            }
        }
        ok.then(|| AtpSource {
            pipeline: a.pipeline.clone(),
            table: a.table.clone().unwrap_or_else(|| "atp".into()),
            location: a.location.clone(),
        })
    });
    let mut stuck = std::collections::BTreeMap::new();
    for (state, text) in &s.stuck {
        if !crate::engine::orders::STUCK_STATES.contains(&state.as_str()) {
            e.add(
                &format!("orders.stuck.{state}"),
                format!(
                    "`{state}` is not a state an order leaves (one of {})",
                    crate::engine::orders::STUCK_STATES.join(", ")
                ),
            );
            continue;
        }
        match crate::engine::orders::allowance_secs(text) {
            Some(secs) => {
                stuck.insert(state.clone(), secs);
            }
            None => e.add(
                &format!("orders.stuck.{state}"),
                format!("`{text}`: write whole days or hours, \"2d\" or \"36h\""),
            ),
        }
    }
    Some(Policy {
        channel: s.channel.clone(),
        layout: layout?,
        items,
        amendments,
        atp,
        stuck,
    })
}

/// The tables `[orders]`, `[shipments]` or `[invoices]` adds (for outputs and transforms).
pub fn tables(raw: &PipelineRaw) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if raw.orders.is_some() {
        out.extend(crate::engine::orders::TABLES.iter().map(|t| t.to_string()));
    }
    if raw.shipments.is_some() {
        out.extend(
            crate::engine::shipments::TABLES
                .iter()
                .map(|t| t.to_string()),
        );
    }
    if raw.returns.is_some() {
        out.extend(crate::engine::returns::TABLES.iter().map(|t| t.to_string()));
    }
    if raw.invoices.is_some() {
        out.extend(
            crate::engine::invoices::TABLES
                .iter()
                .map(|t| t.to_string()),
        );
    }
    out
}

/// The item master's SKU column must be a field of its reference table's schema.
pub(crate) fn check_items(
    m: &ItemMaster,
    references: &std::collections::BTreeMap<String, super::pipeline::TableFile>,
    e: &mut Errs,
) {
    let Some(t) = references.get(&m.table) else {
        return;
    };
    if !t.schema.fields.iter().any(|f| f.name == m.column) {
        e.add(
            "orders.items_column",
            format!(
                "`{}` is not a field of the schema of `{}`",
                m.column, m.table
            ),
        );
    }
}

/// `[shipments]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentsRaw {
    /// The channel whose orders these shipments answer (an `[orders] channel`).
    pub channel: String,
}

/// The pipeline's shipment policy (`None` without `[shipments]`).
pub(crate) fn compile_shipments(raw: &PipelineRaw, e: &mut Errs) -> Option<ShipPolicy> {
    let s = raw.shipments.as_ref()?;
    if raw.orders.is_some() {
        e.add(
            "shipments",
            "a pipeline takes orders or checks shipments, not both".into(),
        );
    }
    let table = raw.input.table.as_deref().unwrap_or("");
    let layout = ShipLayout::of_table(table);
    if layout.is_none() {
        e.add(
            "shipments",
            format!("input.table `{table}` holds no shipment lines (x12_945_lines, x12_856_lines, edifact_desadv_lines or xml_ship_lines)"),
        );
    }
    if s.channel.trim().is_empty() || s.channel.contains(['/', '\\']) {
        e.add(
            "shipments.channel",
            format!("`{}` must be a non-empty name without `/`", s.channel),
        );
    }
    Some(ShipPolicy {
        channel: s.channel.clone(),
        layout: layout?,
    })
}

/// A shipments pipeline's `[erp]` is the ERP's order status extract: it needs `order_id`
/// and `status` (open, cancelled, closed).
pub(crate) fn check_ship_erp(erp: Option<&super::pipeline::Erp>, e: &mut Errs) {
    let Some(erp) = erp else { return };
    for column in ["order_id", "status"] {
        if !erp.schema.fields.iter().any(|f| f.name == column) {
            e.add(
                "erp.schema",
                format!("a [shipments] pipeline's ERP extract is its order status (erp_order_status.v1, or erp_open_order_lines.v1 per line): its schema needs a field `{column}`"),
            );
        }
    }
}

/// `[invoices]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicesRaw {
    /// The channel whose orders these invoices bill (an `[orders] channel`).
    pub channel: String,
}

/// The pipeline's invoice policy (`None` without `[invoices]`).
pub(crate) fn compile_invoices(raw: &PipelineRaw, e: &mut Errs) -> Option<InvoicePolicy> {
    let s = raw.invoices.as_ref()?;
    if raw.orders.is_some() || raw.shipments.is_some() {
        e.add(
            "invoices",
            "a pipeline takes orders, checks shipments or checks invoices, one of them".into(),
        );
    }
    let table = raw.input.table.as_deref().unwrap_or("");
    if raw.input.format != "x12" || table != "x12_810_lines" {
        e.add(
            "invoices",
            format!("the input must be format \"x12\", table \"x12_810_lines\" (not `{table}`)"),
        );
    }
    if s.channel.trim().is_empty() || s.channel.contains(['/', '\\']) {
        e.add(
            "invoices.channel",
            format!("`{}` must be a non-empty name without `/`", s.channel),
        );
    }
    Some(InvoicePolicy {
        channel: s.channel.clone(),
    })
}
