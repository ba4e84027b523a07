//! `catalog_items` and `catalog_changes` as tables for SQL and outputs, and a published version
//! read back. Prices are exact decimal text at the currency's scale (`10.5` USD is `10.50`), never floats.

use polars::prelude::*;

use super::{map_items, CatalogError, Change, Item, Layout};

/// The columns of `catalog_items`, in order.
pub const ITEM_COLUMNS: [&str; 8] = [
    "sku",
    "description",
    "gtin",
    "uom",
    "price",
    "currency",
    "vendor",
    "status",
];

/// The columns of `catalog_changes`, in order.
pub const CHANGE_COLUMNS: [&str; 5] = ["sku", "change", "field", "old_value", "new_value"];

/// The items as `catalog_items`.
pub fn items_frame(items: &[Item]) -> PolarsResult<DataFrame> {
    let columns = ITEM_COLUMNS
        .iter()
        .map(|c| {
            let values: Vec<Option<String>> = items.iter().map(|i| i.field(c)).collect();
            Column::new((*c).into(), values)
        })
        .collect();
    DataFrame::new(items.len(), columns)
}

/// The change set as `catalog_changes`.
pub fn changes_frame(rows: &[Change]) -> PolarsResult<DataFrame> {
    let text = |f: &dyn Fn(&Change) -> Option<String>| -> Vec<Option<String>> {
        rows.iter().map(f).collect()
    };
    DataFrame::new(
        rows.len(),
        vec![
            Column::new("sku".into(), text(&|r| Some(r.sku.clone()))),
            Column::new("change".into(), text(&|r| Some(r.kind.as_str().into()))),
            Column::new("field".into(), text(&|r| r.field.map(String::from))),
            Column::new("old_value".into(), text(&|r| r.old.clone())),
            Column::new("new_value".into(), text(&|r| r.new.clone())),
        ],
    )
}

/// A published version (a `catalog_items` table) read back as items.
pub fn items_from_frame(df: &DataFrame) -> Result<Vec<Item>, CatalogError> {
    let (items, _) = map_items(Layout::Plain, df, &[], "", None)?;
    Ok(items)
}
