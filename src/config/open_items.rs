//! `[open_items]`: how a reconciling pipeline keeps its breaks as open items across business
//! dates (engine/open_items.rs): what closes an item, which kinds of break may lag and for how
//! long, the aging buckets. On by default for every pipeline that has breaks.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::compile::Errs;
use super::raw::PipelineRaw;
use crate::engine::open_items::{Closes, Grace, Policy};

/// `[open_items]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenItemsRaw {
    /// `false` keeps no book for this pipeline (each run's breaks stand alone).
    pub enabled: Option<bool>,
    /// `when_absent` (a run that no longer shows an item closes it: each run sees the whole
    /// book) or `when_matched` (only a run that sees the key in good order closes it). Default:
    /// `when_matched` for `[group_reconcile]` pipelines (a settlement pays some orders), else
    /// `when_absent`.
    pub closes: Option<String>,
    /// Kind of break → grace (`3d`, or `2bd` for business days): such items stay open without
    /// alerting until it runs out (a timing difference, e.g. `awaiting_settlement`).
    #[serde(default)]
    pub grace: BTreeMap<String, String>,
    /// Upper bounds in days of the aging buckets but the last (default `[7, 14, 30]`).
    pub aging: Option<Vec<u32>>,
}

/// Whether the pipeline keeps a book (then `open_items` is a table its SQL and outputs read).
pub(crate) fn keeps_book(raw: &PipelineRaw) -> bool {
    let has_breaks =
        raw.reconcile.is_some() || raw.group_reconcile.is_some() || raw.breaks.is_some();
    has_breaks && raw.open_items.as_ref().and_then(|s| s.enabled) != Some(false)
}

/// The pipeline's open-item policy; `None` when it has no breaks or turns the book off.
pub(crate) fn compile(raw: &PipelineRaw, e: &mut Errs) -> Option<Policy> {
    let has_breaks =
        raw.reconcile.is_some() || raw.group_reconcile.is_some() || raw.breaks.is_some();
    let section = raw.open_items.as_ref();
    if section.is_some() && !has_breaks {
        e.add(
            "open_items",
            "the pipeline has no breaks to keep: add [reconcile], [group_reconcile] or [breaks]"
                .into(),
        );
        return None;
    }
    let default = OpenItemsRaw::default();
    let s = section.unwrap_or(&default);
    if !has_breaks || s.enabled == Some(false) {
        return None;
    }
    let closes = match s.closes.as_deref() {
        None if raw.group_reconcile.is_some() => Closes::WhenMatched,
        None | Some("when_absent") => Closes::WhenAbsent,
        Some("when_matched") => Closes::WhenMatched,
        Some(other) => {
            e.add(
                "open_items.closes",
                format!("`{other}`: use \"when_absent\" or \"when_matched\""),
            );
            Closes::WhenAbsent
        }
    };
    let mut grace = BTreeMap::new();
    for (kind, text) in &s.grace {
        match Grace::parse(text) {
            Some(g) => {
                grace.insert(kind.clone(), g);
            }
            None => e.add(
                &format!("open_items.grace.{kind}"),
                format!("`{text}`: write days as \"3d\" or business days as \"2bd\""),
            ),
        }
    }
    let buckets = s.aging.clone().unwrap_or_else(|| vec![7, 14, 30]);
    if buckets.windows(2).any(|w| w[0] >= w[1]) {
        e.add(
            "open_items.aging",
            format!("{buckets:?}: bucket bounds must increase"),
        );
    }
    Some(Policy {
        closes,
        grace,
        buckets,
    })
}
