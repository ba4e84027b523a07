//! Settlement sections of a pipeline: `[input.settlement]` (layout, footing policy, component
//! overrides), `[group_reconcile]` (many-to-one matching) and `[journal]` (accounts), as
//! written (serde, unknown keys refused) and compiled with every problem collected.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::compile::Errs;
use super::pipeline::InputFormat;
use super::raw::PipelineRaw;
use crate::engine::group_reconcile::{GroupSpec, Part};
use crate::engine::journal::Accounts;
use crate::formats::settlement::{check_overrides, Layout, COMPONENTS, LAYOUTS, TABLES};

/// `[input.settlement]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementInputRaw {
    /// One of `formats::settlement::LAYOUTS`.
    pub layout: String,
    /// A settlement that does not foot: "reject" (default: the file is quarantined with the
    /// reason) or "warn" (listed as a warning; the journal posts the difference).
    pub unfooted: Option<String>,
    /// Type key (`Line::mapping_keys`) → component; wins over the layout's defaults.
    #[serde(default)]
    pub components: BTreeMap<String, String>,
}

/// What a settlement does when it does not foot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfooted {
    Reject,
    Warn,
}

/// A compiled `[input.settlement]`, with `[input] table`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettlementInput {
    pub layout: Layout,
    /// `settlement_lines` or `settlement_summary`: the table validated as the input.
    pub table: String,
    pub unfooted: Unfooted,
    pub components: BTreeMap<String, String>,
}

/// `[group_reconcile]`: the partner side grouped per key and currency, against one ERP row.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupReconcileRaw {
    pub partner_key: String,
    #[serde(default)]
    pub strip_prefixes: Vec<String>,
    pub erp_key: String,
    pub partner_amount: String,
    pub erp_amount: String,
    #[serde(default = "currency")]
    pub partner_currency: String,
    #[serde(default = "currency")]
    pub erp_currency: String,
    /// The partner column classing rows (e.g. `component`); without it every row is a sale.
    pub class: Option<String>,
    pub sales: Option<Vec<String>>,
    pub refunds: Option<Vec<String>>,
    pub fees: Option<Vec<String>>,
    /// Currency → largest |difference| still paid, exact decimal text (default "0").
    #[serde(default)]
    pub tolerances: BTreeMap<String, String>,
    /// A partner column whose smallest value per group is kept (e.g. `source_line`).
    pub first_line: Option<String>,
    /// The ERP column with each order's tax (part of its expected amount), compared on its own
    /// with the partner classes in `tax` (default `DEFAULT_TAX`).
    pub erp_tax: Option<String>,
    pub tax: Option<Vec<String>>,
    /// The ERP column with each order's shipping, compared with the classes in `shipping`
    /// (default `DEFAULT_SHIPPING`).
    pub erp_shipping: Option<String>,
    pub shipping: Option<Vec<String>>,
}

fn currency() -> String {
    "currency".into()
}

/// `[journal]`: accounts per component for the general-ledger journal of a settlement.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalRaw {
    #[serde(default)]
    pub accounts: BTreeMap<String, String>,
    pub difference_account: Option<String>,
    pub bank_account: Option<String>,
}

/// The settlement vocabulary's default classes for `[group_reconcile]`.
pub const DEFAULT_SALES: [&str; 6] = [
    "principal",
    "tax",
    "shipping",
    "shipping_tax",
    "gift_wrap",
    "promotion",
];
pub const DEFAULT_REFUNDS: [&str; 2] = ["refund", "chargeback"];
pub const DEFAULT_FEES: [&str; 3] = ["marketplace_fee", "fulfilment_fee", "other_fee"];
/// The classes compared with the ERP's tax (`erp_tax`) and shipping (`erp_shipping`).
pub const DEFAULT_TAX: [&str; 2] = ["tax", "shipping_tax"];
pub const DEFAULT_SHIPPING: [&str; 1] = ["shipping"];

/// `[input] format = "settlement"`: `table` and `[input.settlement]` compiled; problems as
/// (key, why).
pub fn compile_input(
    table: Option<&str>,
    raw: Option<&SettlementInputRaw>,
    problems: &mut Vec<(String, String)>,
) -> Option<SettlementInput> {
    let mut bad = |k: &str, why: String| problems.push((k.to_string(), why));
    let Some(raw) = raw else {
        bad(
            "input.settlement",
            format!(
                "a settlement input needs [input.settlement] layout (one of {})",
                LAYOUTS.join(", ")
            ),
        );
        return None;
    };
    let table = match table {
        Some(t) if TABLES.contains(&t) => t.to_string(),
        None => "settlement_lines".to_string(),
        Some(t) => {
            bad(
                "input.table",
                format!(
                    "`{t}` is not a settlement table (one of {})",
                    TABLES.join(", ")
                ),
            );
            return None;
        }
    };
    let layout = Layout::from_name(&raw.layout);
    if layout.is_none() {
        bad(
            "input.settlement.layout",
            format!(
                "`{}` is not a layout (one of {})",
                raw.layout,
                LAYOUTS.join(", ")
            ),
        );
    }
    let unfooted = match raw.unfooted.as_deref() {
        None | Some("reject") => Unfooted::Reject,
        Some("warn") => Unfooted::Warn,
        Some(o) => {
            bad(
                "input.settlement.unfooted",
                format!("`{o}` is neither \"reject\" nor \"warn\""),
            );
            Unfooted::Reject
        }
    };
    for why in check_overrides(&raw.components) {
        bad("input.settlement.components", why);
    }
    Some(SettlementInput {
        layout: layout?,
        table,
        unfooted,
        components: raw.components.clone(),
    })
}

/// `[group_reconcile]` compiled; problems as (key, why).
pub fn compile_group(raw: &GroupReconcileRaw, problems: &mut Vec<(String, String)>) -> GroupSpec {
    let list = |v: &Option<Vec<String>>, d: &[&str]| {
        v.clone()
            .unwrap_or_else(|| d.iter().map(|s| s.to_string()).collect())
    };
    let mut tolerances = BTreeMap::new();
    for (c, t) in &raw.tolerances {
        match t.parse::<Decimal>() {
            Ok(d) if d >= Decimal::ZERO => {
                tolerances.insert(c.clone(), d);
            }
            _ => problems.push((
                format!("group_reconcile.tolerances.{c}"),
                format!("`{t}` is not an exact non-negative decimal"),
            )),
        }
    }
    let mut parts = Vec::new();
    let named = [
        ("tax", &raw.erp_tax, &raw.tax, &DEFAULT_TAX[..]),
        (
            "shipping",
            &raw.erp_shipping,
            &raw.shipping,
            &DEFAULT_SHIPPING[..],
        ),
    ];
    for (name, column, classes, default) in named {
        match column {
            Some(c) => parts.push(Part {
                name: name.to_string(),
                erp_column: c.clone(),
                classes: list(classes, default),
            }),
            None if classes.is_some() => problems.push((
                format!("group_reconcile.{name}"),
                format!("the classes of {name} are compared with the ERP's: name its column in erp_{name}"),
            )),
            None => {}
        }
    }
    GroupSpec {
        partner_key: raw.partner_key.clone(),
        strip_prefixes: raw.strip_prefixes.clone(),
        erp_key: raw.erp_key.clone(),
        partner_amount: raw.partner_amount.clone(),
        erp_amount: raw.erp_amount.clone(),
        partner_currency: raw.partner_currency.clone(),
        erp_currency: raw.erp_currency.clone(),
        class_column: raw.class.clone(),
        sales: list(&raw.sales, &DEFAULT_SALES),
        refunds: list(&raw.refunds, &DEFAULT_REFUNDS),
        fees: list(&raw.fees, &DEFAULT_FEES),
        tolerances,
        first_line: raw.first_line.clone(),
        parts,
    }
}

/// `[journal]` compiled; problems as (key, why).
pub fn compile_journal(raw: &JournalRaw, problems: &mut Vec<(String, String)>) -> Accounts {
    for c in raw
        .accounts
        .keys()
        .filter(|c| !COMPONENTS.contains(&c.as_str()))
    {
        problems.push((
            "journal.accounts".into(),
            format!("`{c}` is no component (one of {})", COMPONENTS.join(", ")),
        ));
    }
    Accounts {
        by_component: raw.accounts.clone(),
        difference: raw.difference_account.clone(),
        bank: raw.bank_account.clone(),
    }
}

/// The tables the settlement sections add to a pipeline (for outputs, `[breaks]` and SQL).
pub fn tables(raw: &PipelineRaw) -> Vec<String> {
    let mut out = Vec::new();
    if raw.input.format == "settlement" {
        out.extend(TABLES.iter().map(|t| t.to_string()));
    }
    if raw.group_reconcile.is_some() {
        out.extend(["grouped".to_string(), "grouped_summary".to_string()]);
    }
    if raw.journal.is_some() {
        out.push("journal".into());
    }
    out
}

/// Compiles `[group_reconcile]` and `[journal]`, and checks `[input.settlement]` belongs to a
/// settlement input (`format` is the input's, compiled).
pub(crate) fn compile_sections(
    raw: &PipelineRaw,
    format: &InputFormat,
    errs: &mut Errs,
) -> (Option<GroupSpec>, Option<Accounts>) {
    let mut problems = Vec::new();
    let group = raw
        .group_reconcile
        .as_ref()
        .map(|g| compile_group(g, &mut problems));
    if group.is_some() && raw.erp.is_none() {
        problems.push(("group_reconcile".into(), "needs an [erp] extract".into()));
    }
    let journal = raw
        .journal
        .as_ref()
        .map(|j| compile_journal(j, &mut problems));
    let settlement = matches!(format, InputFormat::Settlement(_));
    if journal.is_some() && !settlement {
        problems.push(("journal".into(), "needs a settlement input".into()));
    }
    if raw.input.settlement.is_some() && raw.input.format != "settlement" {
        problems.push((
            "input.settlement".into(),
            "only `format = \"settlement\"` reads a settlement layout".into(),
        ));
    }
    for (k, why) in problems {
        errs.add(&k, why);
    }
    (group, journal)
}
