//! CSV-injection defence for CSV meant for people: report attachments and the archive's
//! `issues.csv` (OWASP "CSV Injection" guidance). One copy, so the two never drift apart.
//!
//! A spreadsheet treats a cell starting with `=`, `+`, `-`, `@`, tab or carriage return as a
//! formula, so partner-controlled text could run commands on a finance user's machine. Text
//! cells get a leading single quote; numeric columns keep real numbers untouched so that a
//! negative amount stays a number, but a "numeric" cell that is not a number is treated as text.
//! Quoting of separators and quotes is left to the `csv` crate's writer.

use std::borrow::Cow;

/// What a column holds, decided by the report, never by the cell's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Numeric,
}

/// Characters that make a spreadsheet start a formula or hide one.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Returns the cell as it may be written into a CSV meant for spreadsheets.
pub fn safe_cell(value: &str, kind: ColumnKind) -> Cow<'_, str> {
    if kind == ColumnKind::Numeric && is_plain_number(value) {
        return Cow::Borrowed(value);
    }
    match value.chars().next() {
        Some(first) if TRIGGERS.contains(&first) => Cow::Owned(format!("'{value}")),
        _ => Cow::Borrowed(value),
    }
}

/// A decimal number as Tallyman writes them: optional sign, digits, optional fraction.
/// Exponents are refused on purpose: `1E+3` is not how money is written and `-1E1+cmd` tricks
/// would otherwise need care.
pub fn is_plain_number(value: &str) -> bool {
    let body = value
        .strip_prefix('-')
        .or_else(|| value.strip_prefix('+'))
        .unwrap_or(value);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(int) && frac.is_none_or(digits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ColumnKind::{Numeric, Text};

    #[test]
    fn cells_are_neutralised_per_column_kind() {
        let cases: &[(&str, ColumnKind, &str)] = &[
            ("=1+2", Text, "'=1+2"),
            ("+1", Text, "'+1"),
            ("-12.50", Text, "'-12.50"),
            ("@SUM(A1)", Text, "'@SUM(A1)"),
            ("\tx", Text, "'\tx"),
            ("\rx", Text, "'\rx"),
            ("plain", Text, "plain"),
            ("", Text, ""),
            ("a=b", Text, "a=b"),
            ("-12.50", Numeric, "-12.50"),
            ("+3", Numeric, "+3"),
            ("12", Numeric, "12"),
            ("0.5", Numeric, "0.5"),
            ("", Numeric, ""),
            ("-", Numeric, "'-"),
            ("-1.", Numeric, "'-1."),
            ("=HYPERLINK(\"x\")", Numeric, "'=HYPERLINK(\"x\")"),
            ("-1+cmd|' /C calc'!A0", Numeric, "'-1+cmd|' /C calc'!A0"),
            ("1E+3", Numeric, "1E+3"),
        ];
        for (input, kind, want) in cases {
            assert_eq!(
                safe_cell(input, *kind),
                *want,
                "input {input:?} as {kind:?}"
            );
        }
    }
}
