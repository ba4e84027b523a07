//! Catalog files (item masters): a supplier's or PIM's rows mapped to `catalog_items`, checked
//! by the item rules, compared with the last accepted catalog of the same source
//! (`catalog_changes`), guarded against a bad full file, and the next accepted catalog. Pure:
//! the runner reads the files and the previous version and hands their tables in.

mod diff;
mod guard;
mod layout;
mod rules;
mod table;

#[cfg(test)]
mod tests;

use rust_decimal::Decimal;

use crate::formats::settlement::money::{currency_scale, fits_scale, render};

pub use diff::{apply, diff, Change, ChangeKind, Changes};
pub use guard::{guard, price_moves, Guard, Hold, HoldKind, Verdict};
pub use layout::{map_items, Layout};
pub use rules::{check_digit_ok, check_items, ItemRules};
pub use table::{changes_frame, items_frame, items_from_frame, CHANGE_COLUMNS, ITEM_COLUMNS};

/// Why a catalog could not be read: the table is not one the layout maps (data problems in
/// rows are issues, not errors).
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// polars failed on the table.
    #[error(transparent)]
    Data(#[from] polars::prelude::PolarsError),
    /// A column the layout maps is missing from the file.
    #[error("the {layout} layout needs column `{column}`, which the file lacks")]
    MissingColumn {
        layout: &'static str,
        column: String,
    },
}

/// Whether a catalog file holds every item (`full`: an item it lacks is removed) or only the
/// items that changed (`delta`: an item it lacks is unchanged; removal is `status =
/// discontinued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Full,
    Delta,
}

/// One item of a catalog: the row of `catalog_items`. `line` is where it came from (0 for an
/// item read back from a published version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub sku: String,
    pub description: Option<String>,
    pub gtin: Option<String>,
    pub uom: Option<String>,
    pub price: Option<Decimal>,
    pub currency: Option<String>,
    pub vendor: Option<String>,
    pub status: Option<String>,
    pub line: u64,
}

/// The compared fields of an item, in the order changes are listed.
pub const FIELDS: [&str; 7] = [
    "description",
    "gtin",
    "uom",
    "price",
    "currency",
    "vendor",
    "status",
];

impl Item {
    /// A field's value as text: the price exact at its currency's scale (10.0 USD is 10.00, so
    /// it equals 10.00; one with more places than the currency has is shown as it is, never
    /// rounded: the rules set it aside).
    pub fn field(&self, name: &str) -> Option<String> {
        match name {
            "sku" => Some(self.sku.clone()),
            "description" => self.description.clone(),
            "gtin" => self.gtin.clone(),
            "uom" => self.uom.clone(),
            "price" => self.price.map(|p| {
                let scale = currency_scale(self.currency.as_deref().unwrap_or(""));
                match fits_scale(p, scale) {
                    true => render(p, scale),
                    false => p.normalize().to_string(),
                }
            }),
            "currency" => self.currency.clone(),
            "vendor" => self.vendor.clone(),
            "status" => self.status.clone(),
            _ => None,
        }
    }

    /// Whether a delta row retires the item.
    pub fn is_discontinued(&self) -> bool {
        matches!(
            self.status
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("discontinued" | "archived" | "retired")
        )
    }
}
