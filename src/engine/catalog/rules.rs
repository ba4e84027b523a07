//! The item rules: GTIN/UPC/EAN check digits, the unit of measure in a list, the price not
//! negative and within its currency's scale, required fields, one row per SKU. Each broken rule
//! is an issue naming the file, line, column and rule; the rows with errors are set aside.

use std::collections::BTreeMap;

use super::{Item, Layout};
use crate::formats::settlement::money::{currency_scale, fits_scale};
use crate::issue::Issue;

/// What the pipeline asks of every item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemRules {
    /// Units of measure allowed (empty: any).
    pub uom: Vec<String>,
    /// Fields that must have a value (besides `sku`, always required).
    pub required: Vec<String>,
}

impl Default for ItemRules {
    fn default() -> Self {
        ItemRules {
            uom: Vec::new(),
            required: vec!["description".into(), "price".into()],
        }
    }
}

/// Whether `code` is a GTIN-8, UPC-A (GTIN-12), EAN-13 or GTIN-14 whose last digit is the GS1
/// check digit of the others (weights 3 and 1 from the right).
pub fn check_digit_ok(code: &str) -> bool {
    let digits: Vec<u32> = code.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != code.len() || ![8, 12, 13, 14].contains(&digits.len()) {
        return false;
    }
    let (body, check) = digits.split_at(digits.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| if i % 2 == 0 { d * 3 } else { *d })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

/// Splits `items` into the good ones and the issues of the others (every broken rule of a row
/// is listed, not only its first). A SKU repeated is an error on each later row.
pub fn check_items(
    items: Vec<Item>,
    rules: &ItemRules,
    layout: Layout,
    file: &str,
) -> (Vec<Item>, Vec<Issue>) {
    let mut good = Vec::with_capacity(items.len());
    let mut issues = Vec::new();
    let mut first_line: BTreeMap<String, u64> = BTreeMap::new();
    for item in items {
        let before = issues.len();
        let at = |rule: &str, field: &str, message: String| {
            Issue::error(file, rule, message)
                .at_line(item.line)
                .in_column(layout.source_column(field))
        };
        for field in &rules.required {
            if item.field(field).is_none() {
                issues.push(at("required", field, format!("{field} is required")));
            }
        }
        if let Some(g) = &item.gtin {
            if !check_digit_ok(g) {
                issues.push(
                    at(
                        "gtin-check-digit",
                        "gtin",
                        "not a GTIN/UPC/EAN with a valid check digit".into(),
                    )
                    .with_value(g),
                );
            }
        }
        if let Some(u) = &item.uom {
            if !rules.uom.is_empty() && !rules.uom.iter().any(|a| a.eq_ignore_ascii_case(u)) {
                let allowed = rules.uom.join(", ");
                issues.push(
                    at(
                        "uom",
                        "uom",
                        format!("unit of measure not one of {allowed}"),
                    )
                    .with_value(u),
                );
            }
        }
        if let Some(p) = item.price {
            let text = p.to_string();
            if p.is_sign_negative() && !p.is_zero() {
                issues.push(
                    at("price-negative", "price", "the price is negative".into()).with_value(&text),
                );
            }
            let currency = item.currency.as_deref().unwrap_or("");
            let scale = currency_scale(currency);
            if !fits_scale(p, scale) {
                issues.push(
                    at(
                        "price-scale",
                        "price",
                        format!("more than {scale} decimal places for {currency}"),
                    )
                    .with_value(&text),
                );
            }
        }
        if let Some(first) = first_line.get(&item.sku) {
            issues.push(
                at(
                    "duplicate-sku",
                    "sku",
                    format!("SKU already on line {first}"),
                )
                .with_value(&item.sku),
            );
        }
        first_line.entry(item.sku.clone()).or_insert(item.line);
        if issues.len() == before {
            good.push(item);
        }
    }
    (good, issues)
}
