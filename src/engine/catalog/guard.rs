//! The guard against a bad file: a full catalog that would remove more than a share of the
//! last accepted one's items, or whose row count drops sharply from it, is held (not applied)
//! with a reason a person can act on; so is one whose prices move beyond a share (prices in
//! cents instead of units), until a person approves it. Shares are whole basis points,
//! compared in integers, so 5 of 100 items is exactly 5%.

use rust_decimal::Decimal;

use super::{ChangeKind, Changes, Mode};

/// The limits (basis points of the last accepted catalog's items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Removed items above this share hold the file (default 500: 5%).
    pub max_removed_bp: u32,
    /// A row count lower than the last one by more than this share holds the file (default
    /// 2000: 20%).
    pub max_drop_bp: u32,
    /// A price moving by more than this share of its old value holds the file for approval
    /// (`None`: prices may move freely).
    pub max_price_change_bp: Option<u32>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            max_removed_bp: 500,
            max_drop_bp: 2000,
            max_price_change_bp: None,
        }
    }
}

/// Apply the catalog, or hold it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    Hold(Hold),
}

/// Why a catalog is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    /// A full file removing too many items.
    Removals,
    /// A full file with too few rows.
    RowDrop,
    /// Prices moving too far: published once a person approves (`tallyman catalog approve`).
    PriceChange,
}

impl HoldKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HoldKind::Removals => "removals",
            HoldKind::RowDrop => "row_drop",
            HoldKind::PriceChange => "price_change",
        }
    }
}

/// A held catalog: the kind and the sentence for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub kind: HoldKind,
    pub reason: String,
}

fn hold(kind: HoldKind, reason: String) -> Verdict {
    Verdict::Hold(Hold { kind, reason })
}

fn percent(bp: u32) -> String {
    match bp % 100 {
        0 => format!("{}%", bp / 100),
        r => format!("{}.{:02}%", bp / 100, r)
            .trim_end_matches('0')
            .to_string(),
    }
}

/// Decides on a catalog of `rows` items (good rows) with its change set. Removals and the row
/// count hold a full file only, never the first catalog of a source; prices beyond the limit
/// hold any file unless `prices_approved`.
pub fn guard(
    g: &Guard,
    mode: Mode,
    rows: usize,
    changes: &Changes,
    prices_approved: bool,
) -> Verdict {
    let previous = changes.previous as u128;
    if mode == Mode::Delta || previous == 0 {
        return price_verdict(g, changes, prices_approved);
    }
    let over = |n: usize, bp: u32| n as u128 * 10_000 > previous * bp as u128;
    if over(changes.removed, g.max_removed_bp) {
        return hold(HoldKind::Removals, format!(
            "the catalog would remove {} of {} items, more than {}: held, not applied (a truncated file?)",
            changes.removed,
            changes.previous,
            percent(g.max_removed_bp)
        ));
    }
    let drop = changes.previous.saturating_sub(rows);
    if over(drop, g.max_drop_bp) {
        return hold(HoldKind::RowDrop, format!(
            "the catalog has {rows} items, {drop} fewer than the last accepted one ({}), a drop of more than {}: held, not applied",
            changes.previous,
            percent(g.max_drop_bp)
        ));
    }
    price_verdict(g, changes, prices_approved)
}

/// The prices that moved beyond `max_price_change_bp` of their old value (any move from a zero
/// price does): (sku, old, new), by SKU.
pub fn price_moves(g: &Guard, changes: &Changes) -> Vec<(String, String, String)> {
    let Some(bp) = g.max_price_change_bp else {
        return Vec::new();
    };
    changes
        .rows
        .iter()
        .filter(|r| r.kind == ChangeKind::Changed && r.field == Some("price"))
        .filter_map(|r| {
            let (o, n) = (r.old.as_deref()?, r.new.as_deref()?);
            let (old, new) = (o.parse::<Decimal>().ok()?, n.parse::<Decimal>().ok()?);
            let beyond = (new - old).abs() * Decimal::from(10_000) > old.abs() * Decimal::from(bp);
            beyond.then(|| (r.sku.clone(), o.to_string(), n.to_string()))
        })
        .collect()
}

fn price_verdict(g: &Guard, changes: &Changes, approved: bool) -> Verdict {
    let moves = price_moves(g, changes);
    if approved || moves.is_empty() {
        return Verdict::Apply;
    }
    let shown: Vec<String> = moves
        .iter()
        .take(5)
        .map(|(sku, o, n)| format!("{sku} {o} -> {n}"))
        .collect();
    let more = match moves.len() > 5 {
        true => format!(" and {} more", moves.len() - 5),
        false => String::new(),
    };
    hold(
        HoldKind::PriceChange,
        format!(
            "{} price(s) moved by more than {} ({}{more}): held for approval (tallyman catalog approve RUN)",
            moves.len(),
            percent(g.max_price_change_bp.unwrap_or(0)),
            shown.join(", ")
        ),
    )
}
