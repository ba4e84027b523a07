//! The guard against a bad full file: a full catalog that would remove more than a share of the
//! last accepted one's items, or whose row count drops sharply from it, is held (not applied)
//! with a reason a person can act on. Shares are whole basis points, compared in integers, so
//! 5 of 100 items is exactly 5%.

use super::{Changes, Mode};

/// The limits (basis points of the last accepted catalog's items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Guard {
    /// Removed items above this share hold the file (default 500: 5%).
    pub max_removed_bp: u32,
    /// A row count lower than the last one by more than this share holds the file (default
    /// 2000: 20%).
    pub max_drop_bp: u32,
}

impl Default for Guard {
    fn default() -> Self {
        Guard {
            max_removed_bp: 500,
            max_drop_bp: 2000,
        }
    }
}

/// Apply the catalog, or hold it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Apply,
    Hold(String),
}

fn percent(bp: u32) -> String {
    match bp % 100 {
        0 => format!("{}%", bp / 100),
        r => format!("{}.{:02}%", bp / 100, r)
            .trim_end_matches('0')
            .to_string(),
    }
}

/// Decides on a catalog of `rows` items (good rows) with its change set. A delta file, and the
/// first catalog of a source, are never held by it.
pub fn guard(g: &Guard, mode: Mode, rows: usize, changes: &Changes) -> Verdict {
    let previous = changes.previous as u128;
    if mode == Mode::Delta || previous == 0 {
        return Verdict::Apply;
    }
    let over = |n: usize, bp: u32| n as u128 * 10_000 > previous * bp as u128;
    if over(changes.removed, g.max_removed_bp) {
        return Verdict::Hold(format!(
            "the catalog would remove {} of {} items, more than {}: held, not applied (a truncated file?)",
            changes.removed,
            changes.previous,
            percent(g.max_removed_bp)
        ));
    }
    let drop = changes.previous.saturating_sub(rows);
    if over(drop, g.max_drop_bp) {
        return Verdict::Hold(format!(
            "the catalog has {rows} items, {drop} fewer than the last accepted one ({}), a drop of more than {}: held, not applied",
            changes.previous,
            percent(g.max_drop_bp)
        ));
    }
    Verdict::Apply
}
