//! The catalog layouts: which column of a file is which field of `catalog_items`. `plain` is an
//! item master with our own column names; `shopify` is Shopify's products export, where the
//! rows after a product's first one (its other variants and images) leave the product's
//! columns blank, and image-only rows have no variant; `x12_832` is the `x12_832_lines` table
//! of an X12 832 price/sales catalog.

use std::collections::BTreeMap;

use polars::prelude::*;
use rust_decimal::Decimal;

use super::{CatalogError, Item};
use crate::frame::text_column;
use crate::issue::Issue;

/// A file layout mapped to `catalog_items`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// Columns `sku`, `description`, `gtin`, `uom`, `price`, `currency`, `vendor`, `status`
    /// (only `sku` must be there).
    #[default]
    Plain,
    /// Shopify's products export (`Handle`, `Title`, `Variant SKU`, `Variant Price`, ...).
    Shopify,
    /// The `x12_832_lines` table of an X12 832 (`sku`, `upc`, `unit_price`, `unit`, ...).
    X12_832,
}

impl Layout {
    pub fn name(self) -> &'static str {
        match self {
            Layout::Plain => "plain",
            Layout::Shopify => "shopify",
            Layout::X12_832 => "x12_832",
        }
    }

    /// The source column of each field (`None`: the layout has no such column).
    fn column(self, field: &str) -> Option<&'static str> {
        match (self, field) {
            (Layout::Plain, f) => super::FIELDS
                .iter()
                .chain(&["sku"])
                .find(|c| **c == f)
                .copied(),
            (Layout::Shopify, "sku") => Some("Variant SKU"),
            (Layout::Shopify, "description") => Some("Title"),
            (Layout::Shopify, "gtin") => Some("Variant Barcode"),
            (Layout::Shopify, "price") => Some("Variant Price"),
            (Layout::Shopify, "vendor") => Some("Vendor"),
            (Layout::Shopify, "status") => Some("Status"),
            (Layout::Shopify, _) => None,
            (Layout::X12_832, "gtin") => Some("upc"),
            (Layout::X12_832, "price") => Some("unit_price"),
            (Layout::X12_832, "uom") => Some("unit"),
            (Layout::X12_832, "status") => None,
            (Layout::X12_832, f) => Layout::Plain.column(f),
        }
    }

    /// The file's column for a field, for issues (the field itself when the layout has none).
    pub fn source_column(self, field: &str) -> String {
        self.column(field).unwrap_or(field).to_string()
    }

    /// Columns carried down from a product's first row to its variants' rows.
    fn carried(self) -> &'static [&'static str] {
        match self {
            Layout::Plain | Layout::X12_832 => &[],
            Layout::Shopify => &["description", "vendor", "status"],
        }
    }
}

/// The items of a catalog file. `lines[i]` is the file line of row `i` (row + 2 when absent:
/// a header and no set-aside rows); `currency` fills a missing currency (a Shopify export has
/// none: the shop's). A price that is not a number is an issue and leaves the price empty.
pub fn map_items(
    layout: Layout,
    df: &DataFrame,
    lines: &[u64],
    file: &str,
    currency: Option<&str>,
) -> Result<(Vec<Item>, Vec<Issue>), CatalogError> {
    let sku_col = layout.source_column("sku");
    let mut cols: BTreeMap<&str, StringChunked> = BTreeMap::new();
    for field in super::FIELDS.iter().chain(&["sku"]) {
        let Some(name) = layout.column(field) else {
            continue;
        };
        match df.column(name) {
            Ok(_) => {
                cols.insert(field, text_column(df, name)?);
            }
            Err(_) if *field == "sku" => {
                return Err(CatalogError::MissingColumn {
                    layout: layout.name(),
                    column: sku_col,
                })
            }
            Err(_) => {}
        }
    }
    let handle = match layout {
        Layout::Shopify => df.column("Handle").ok().map(|_| text_column(df, "Handle")),
        Layout::Plain | Layout::X12_832 => None,
    }
    .transpose()?;
    let text = |field: &str, row: usize| -> Option<String> {
        cols.get(field)
            .and_then(|c| c.get(row))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    let mut items = Vec::new();
    let mut issues = Vec::new();
    let mut carried: BTreeMap<&str, Option<String>> = BTreeMap::new();
    let mut last_handle: Option<String> = None;
    for row in 0..df.height() {
        let line = lines.get(row).copied().unwrap_or(row as u64 + 2);
        if let Some(h) = &handle {
            let this = h.get(row).map(String::from);
            if this != last_handle {
                carried.clear();
                last_handle = this;
            }
        }
        let mut field = |name: &'static str| -> Option<String> {
            let v = text(name, row);
            if !layout.carried().contains(&name) {
                return v;
            }
            match v {
                Some(v) => {
                    carried.insert(name, Some(v.clone()));
                    Some(v)
                }
                None => carried.get(name).cloned().flatten(),
            }
        };
        let (description, vendor, status) =
            (field("description"), field("vendor"), field("status"));
        let Some(sku) = text("sku", row) else {
            // A Shopify image row carries no variant; any other row without a SKU is an error.
            if layout != Layout::Shopify || text("price", row).is_some() {
                issues.push(
                    Issue::error(file, "required", format!("`{sku_col}` is empty"))
                        .at_line(line)
                        .in_column(&sku_col),
                );
            }
            continue;
        };
        let price = match text("price", row) {
            None => None,
            Some(p) => match p.parse::<Decimal>() {
                Ok(d) => Some(d),
                Err(_) => {
                    issues.push(
                        Issue::error(file, "price-number", "the price is not a number")
                            .at_line(line)
                            .in_column(layout.source_column("price"))
                            .with_value(&p),
                    );
                    None
                }
            },
        };
        let uom = match layout {
            // Shopify sells each variant as one unit.
            Layout::Shopify => Some("EA".to_string()),
            Layout::Plain | Layout::X12_832 => text("uom", row),
        };
        items.push(Item {
            sku,
            description,
            gtin: text("gtin", row),
            uom,
            price,
            currency: text("currency", row).or_else(|| currency.map(String::from)),
            vendor,
            status,
            line,
        });
    }
    Ok((items, issues))
}
