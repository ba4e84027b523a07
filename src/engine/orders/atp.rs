//! Available-to-promise at intake: the lines of the orders a run sends are checked, in file
//! order, against the latest published ATP of their location. A line over what is left is a
//! backorder for the difference (the order is still sent: the ERP decides), and each line takes
//! what it can, so the next orders of the same run see less.

use std::collections::HashMap;

use rust_decimal::Decimal;

use super::intake::Intake;

/// Where a channel's ATP comes from: the published output of another pipeline's table
/// (columns `sku`, `location`, `atp`), the rows of one location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AtpSource {
    pub pipeline: String,
    pub table: String,
    pub location: String,
}

/// Sets each sent order's `backorder` (per line: the quantity beyond what is left, zero when
/// covered) and takes the quantities from `atp` (SKU → available). A SKU the ATP does not list
/// has nothing available. A quantity that is not a number takes nothing (it was rejected).
pub fn allocate(intake: &mut Intake, atp: &HashMap<String, Decimal>) {
    let mut left = atp.clone();
    for t in intake.taken.iter_mut().filter(|t| t.verdict.sent()) {
        t.backorder = t
            .order
            .lines
            .iter()
            .map(|l| {
                let wanted = l.quantity.parse::<Decimal>().unwrap_or_default();
                let available = left.entry(l.sku.clone()).or_default();
                let taken = wanted.min(*available).max(Decimal::ZERO);
                *available -= taken;
                Some(wanted - taken)
            })
            .collect();
    }
}
