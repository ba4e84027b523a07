//! Exact money for settlements: amounts parsed as decimals (dot or EU comma), currency scales
//! (JPY 0, most 2, some 3), minor units, and rendering at the currency's scale. Never a float.

use rust_decimal::Decimal;

/// Decimal places of a currency (ISO 4217 minor units); 2 unless listed.
pub fn currency_scale(currency: &str) -> u32 {
    match currency {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX"
        | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// An amount as a file writes it: `-1.00`, `1234.5`, or with `eu` the marketplace's format
/// (`95,00`, `1.234,56`). With `eu`, a lone comma is the decimal mark; when both marks appear
/// the last one is. Without `eu` a comma is a thousands separator. `None`: not a number.
pub fn parse_amount(text: &str, eu: bool) -> Option<Decimal> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    let (comma, dot) = (t.rfind(','), t.rfind('.'));
    let normal: String = match (comma, dot) {
        (Some(c), Some(d)) if c > d => t.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => t.replace(',', ""),
        (Some(_), None) if eu => t.replace(',', "."),
        (Some(_), None) => t.replace(',', ""),
        _ => t.to_string(),
    };
    let ok = normal
        .trim_start_matches(['-', '+'])
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.')
        && normal.bytes().any(|b| b.is_ascii_digit());
    if !ok {
        return None;
    }
    normal.parse::<Decimal>().ok()
}

/// `amount` fits the currency's scale (extra zero places are fine: `27.990` is 27.99).
pub fn fits_scale(amount: Decimal, scale: u32) -> bool {
    amount.normalize().scale() <= scale
}

/// An integer count of minor units as an amount (`12345` cents → 123.45).
pub fn from_minor(minor: i64, scale: u32) -> Decimal {
    Decimal::new(minor, scale)
}

/// Text at exactly `scale` places (`26.99`, `1500`, `1.250`).
pub fn render(amount: Decimal, scale: u32) -> String {
    let mut d = amount;
    d.rescale(scale);
    d.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        s.parse().unwrap()
    }

    #[test]
    fn amounts_parse_exactly_in_both_formats() {
        let cases: [(&str, bool, Option<&str>); 12] = [
            ("27.99", false, Some("27.99")),
            ("-1.00", false, Some("-1.00")),
            ("95,00", true, Some("95.00")),
            ("-95,50", true, Some("-95.50")),
            ("1.234,56", true, Some("1234.56")),
            ("1,234.56", true, Some("1234.56")),
            ("1,234.56", false, Some("1234.56")),
            ("1500", false, Some("1500")),
            ("", false, None),
            ("abc", false, None),
            ("-", false, None),
            ("1e5", false, None),
        ];
        for (text, eu, want) in cases {
            assert_eq!(parse_amount(text, eu), want.map(d), "{text} eu={eu}");
        }
    }

    #[test]
    fn scales_follow_the_currency() {
        assert_eq!(currency_scale("JPY"), 0);
        assert_eq!(currency_scale("EUR"), 2);
        assert_eq!(currency_scale("KWD"), 3);
        assert_eq!(render(d("1500"), 0), "1500");
        assert_eq!(render(d("26.99"), 2), "26.99");
        assert_eq!(render(d("95"), 2), "95.00");
        assert_eq!(render(d("1.25"), 3), "1.250");
        assert_eq!(from_minor(12345, 2), d("123.45"));
        assert_eq!(from_minor(-500, 0), d("-500"));
        assert!(fits_scale(d("27.990"), 2));
        assert!(!fits_scale(d("0.001"), 2));
        assert!(!fits_scale(d("1.5"), 0));
    }
}
