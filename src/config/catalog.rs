//! `[catalog]`: a pipeline whose partner file is a catalog (item master): its layout, whether
//! it is full or a delta, the item rules and the guard against a bad full file, as written
//! (serde, unknown keys refused) and compiled into `engine::catalog` types with every problem
//! collected.

use serde::Deserialize;

use super::compile::Errs;
use super::raw::PipelineRaw;
use crate::engine::catalog::{Guard, ItemRules, Layout, Mode, FIELDS};

/// `[catalog]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogRaw {
    /// Whose catalog this is: versions and changes are kept per source (default: the pipeline's
    /// id). Letters, digits, `-` and `_`.
    pub source: Option<String>,
    /// "plain" (default), "shopify" or "x12_832" (with `input.table = "x12_832_lines"`).
    pub layout: Option<String>,
    /// "full" (default: an item missing from the file is removed) or "delta".
    pub mode: Option<String>,
    /// The currency of rows that name none (a Shopify export: the shop's).
    pub currency: Option<String>,
    /// Units of measure allowed (default: any).
    #[serde(default)]
    pub uom: Vec<String>,
    /// Fields every item must have besides `sku` (default `["description", "price"]`).
    pub required: Option<Vec<String>>,
    /// A full file removing more than this share of the items is held (default "5%").
    pub max_removed: Option<String>,
    /// A full file with this share fewer rows than the last one is held (default "20%").
    pub max_drop: Option<String>,
    /// A file moving any price by more than this share of its old value is held for approval
    /// (`tallyman catalog approve RUN`); default: no limit.
    pub max_price_change: Option<String>,
}

/// A compiled `[catalog]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogSpec {
    pub source: String,
    pub layout: Layout,
    pub mode: Mode,
    pub currency: Option<String>,
    pub rules: ItemRules,
    pub guard: Guard,
}

/// Basis points of a share written "5%" or "2.5%" (at most two decimals, at most 100%).
fn basis_points(text: &str) -> Option<u32> {
    let n = text.trim().strip_suffix('%')?.trim();
    let (whole, frac) = n.split_once('.').unwrap_or((n, ""));
    if whole.is_empty()
        || frac.len() > 2
        || !(whole.chars().chain(frac.chars())).all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let bp = whole.parse::<u32>().ok()? * 100 + format!("{frac:0<2}").parse::<u32>().ok()?;
    (bp <= 10_000).then_some(bp)
}

/// The pipeline's `[catalog]`, if it has one.
pub(crate) fn compile(raw: &PipelineRaw, id: &str, e: &mut Errs) -> Option<CatalogSpec> {
    let s = raw.catalog.as_ref()?;
    let source = s.source.clone().unwrap_or_else(|| id.to_string());
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if source.is_empty() || !source.chars().all(safe) {
        e.add(
            "catalog.source",
            format!("`{source}`: use letters, digits, - and _"),
        );
    }
    let layout = match s.layout.as_deref() {
        None | Some("plain") => Layout::Plain,
        Some("shopify") => Layout::Shopify,
        Some("x12_832") => Layout::X12_832,
        Some(other) => {
            e.add(
                "catalog.layout",
                format!("`{other}`: use \"plain\", \"shopify\" or \"x12_832\""),
            );
            Layout::Plain
        }
    };
    let mode = match s.mode.as_deref() {
        None | Some("full") => Mode::Full,
        Some("delta") => Mode::Delta,
        Some(other) => {
            e.add(
                "catalog.mode",
                format!("`{other}`: use \"full\" or \"delta\""),
            );
            Mode::Full
        }
    };
    let required = s
        .required
        .clone()
        .unwrap_or_else(|| ItemRules::default().required);
    for f in &required {
        if !FIELDS.contains(&f.as_str()) {
            e.add(
                "catalog.required",
                format!(
                    "`{f}` is not a field of catalog_items: {}",
                    FIELDS.join(", ")
                ),
            );
        }
    }
    let mut share = |key: &str, text: &Option<String>, default: u32| match text {
        None => default,
        Some(t) => basis_points(t).unwrap_or_else(|| {
            e.add(
                &format!("catalog.{key}"),
                format!("`{t}`: write a share as \"5%\" (0% to 100%)"),
            );
            default
        }),
    };
    let d = Guard::default();
    let guard = Guard {
        max_removed_bp: share("max_removed", &s.max_removed, d.max_removed_bp),
        max_drop_bp: share("max_drop", &s.max_drop, d.max_drop_bp),
        max_price_change_bp: s
            .max_price_change
            .as_ref()
            .map(|t| share("max_price_change", &Some(t.clone()), 0)),
    };
    Some(CatalogSpec {
        source,
        layout,
        mode,
        currency: s.currency.clone(),
        rules: ItemRules {
            uom: s.uom.clone(),
            required,
        },
        guard,
    })
}

#[cfg(test)]
mod tests {
    use super::basis_points;

    #[test]
    fn shares() {
        for (text, want) in [
            ("5%", Some(500)),
            ("2.5%", Some(250)),
            ("0.05%", Some(5)),
            ("100%", Some(10_000)),
            ("101%", None),
            ("5", None),
            ("0.001%", None),
            ("-1%", None),
        ] {
            assert_eq!(basis_points(text), want, "{text}");
        }
    }
}
