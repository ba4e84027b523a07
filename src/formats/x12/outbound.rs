//! Writing X12 940 warehouse shipping orders and 846 inventory advices from denormalised tables,
//! emitting exactly the segments `map_orders::map_940` / `map_ship::map_846` read back, so
//! that a written file maps to the same tables (see the column table in `table.rs`).
//!
//! Input values are trimmed like the reader trims them; blank means empty. Defaults the reader
//! then reports: 940 `sku_qualifier` `VN`, `unit` `EA`, `line_number` the 1-based position in
//! the order; 846 `sku_qualifier` `VN`, `quantity_qualifier` `33`, `unit` `EA`,
//! `location_qualifier` `WH` when a location is given. A `UP` sku qualifier without a `upc`
//! reads back with `upc` = sku (the reader takes the UPC from the UP pair).

use std::collections::HashMap;

use super::table::COLUMNS_940_HEADER;
use super::writer::{close, open, set_control, Envelope, Out};
use super::X12Error;
use crate::formats::table::Table;

/// N103 for the IDs we write in N104: mutually defined (the partner agreement says which).
const ID_QUALIFIER: &str = "ZZ";

/// Read access to the caller's table: trimmed, blank is `None`, errors name the 1-based row.
struct Input<'a> {
    rows: &'a Table,
    document: &'static str,
}

impl<'a> Input<'a> {
    fn require(&self, columns: &[&'static str]) -> Result<(), X12Error> {
        match columns.iter().find(|c| self.rows.column(c).is_none()) {
            Some(column) => Err(X12Error::MissingColumn {
                document: self.document,
                column,
            }),
            None => Ok(()),
        }
    }

    fn get(&self, row: usize, column: &str) -> Option<&'a str> {
        let v = self
            .rows
            .get(row, column)?
            .trim_matches(|c| c == ' ' || c == '\t' || c == '\u{a0}');
        (!v.is_empty()).then_some(v)
    }

    fn or(&self, row: usize, column: &str, default: &'a str) -> &'a str {
        self.get(row, column).unwrap_or(default)
    }

    fn required(&self, row: usize, column: &'static str) -> Result<&'a str, X12Error> {
        self.get(row, column).ok_or(X12Error::MissingValue {
            document: self.document,
            column,
            row: row + 1,
        })
    }

    /// A required X12 `R` (decimal) value, kept as the exact text.
    fn quantity(&self, row: usize) -> Result<&'a str, X12Error> {
        let value = self.required(row, "quantity")?;
        match decimal(value) {
            Some(_) => Ok(value),
            None => Err(X12Error::NotNumeric {
                document: self.document,
                column: "quantity",
                row: row + 1,
                value: value.to_string(),
            }),
        }
    }

    /// Row indexes grouped by `key` in order of first appearance.
    fn group(
        &self,
        key: impl Fn(usize) -> Result<Option<&'a str>, X12Error>,
    ) -> Result<Groups<'a>, X12Error> {
        let mut groups: Groups<'a> = Vec::new();
        let mut index: HashMap<Option<&'a str>, usize> = HashMap::new();
        for row in 0..self.rows.rows() {
            let k = key(row)?;
            match index.get(&k).and_then(|&i| groups.get_mut(i)) {
                Some((_, rows)) => rows.push(row),
                None => {
                    index.insert(k, groups.len());
                    groups.push((k, vec![row]));
                }
            }
        }
        Ok(groups)
    }

    /// Every row of a group carries the same `columns` as its first row.
    fn consistent(
        &self,
        key: &str,
        rows: &[usize],
        columns: &[&'static str],
    ) -> Result<(), X12Error> {
        let Some((&first, rest)) = rows.split_first() else {
            return Ok(());
        };
        for &row in rest {
            if let Some(column) = columns
                .iter()
                .find(|c| self.get(row, c) != self.get(first, c))
            {
                return Err(X12Error::Inconsistent {
                    document: self.document,
                    column,
                    key: key.to_string(),
                    row: row + 1,
                });
            }
        }
        Ok(())
    }
}

type Groups<'a> = Vec<(Option<&'a str>, Vec<usize>)>;

/// Writes one set: ST, the body, SE with the segment count.
fn set(
    out: &mut Out,
    id: &str,
    control: &str,
    body: impl FnOnce(&mut Out) -> Result<(), X12Error>,
) -> Result<(), X12Error> {
    let start = out.segments;
    out.segment(&["ST", id, control])?;
    body(out)?;
    let count = (out.segments - start + 1).to_string();
    out.segment(&["SE", &count, control])
}

/// 940: one transaction set per distinct order_number (rows in input order, grouped by first
/// appearance); GS01 "OW".
pub fn write_940(env: &Envelope, rows: &Table) -> Result<Vec<u8>, X12Error> {
    let input = Input {
        rows,
        document: "940",
    };
    input.require(&["order_number", "sku", "quantity"])?;
    // Validate every row first, so the first bad row is the one reported.
    for row in 0..rows.rows() {
        input.required(row, "order_number")?;
        input.required(row, "sku")?;
        input.quantity(row)?;
    }
    let orders = input.group(|row| input.required(row, "order_number").map(Some))?;
    for (order, lines) in &orders {
        input.consistent(order.unwrap_or(""), lines, &COLUMNS_940_HEADER)?;
    }
    let mut out = open(env, "OW", "00401", "004010")?;
    let mut sets = 0;
    for (order, lines) in &orders {
        // Every group has a key and a first row (the key is required above).
        let (Some(order), Some(&first)) = (order, lines.first()) else {
            continue;
        };
        set(&mut out, "940", &set_control(env, sets), |out| {
            order_940(out, &input, order, first, lines)
        })?;
        sets += 1;
    }
    close(out, env, sets)
}

fn order_940(
    out: &mut Out,
    input: &Input,
    order: &str,
    first: usize,
    lines: &[usize],
) -> Result<(), X12Error> {
    let h = |c: &str| input.get(first, c).unwrap_or("");
    out.segment(&["W05", "N", order, h("po_number")])?;
    let (name, id) = (h("ship_to"), h("ship_to_id"));
    let (address, city, state, postal) = (
        h("ship_to_address"),
        h("ship_to_city"),
        h("ship_to_state"),
        h("ship_to_postal"),
    );
    if [name, id, address, city, state, postal]
        .iter()
        .any(|v| !v.is_empty())
    {
        let qualifier = if id.is_empty() { "" } else { ID_QUALIFIER };
        out.segment(&["N1", "ST", name, qualifier, id])?;
        if !address.is_empty() {
            out.segment(&["N3", address])?;
        }
        if [city, state, postal].iter().any(|v| !v.is_empty()) {
            out.segment(&["N4", city, state, postal])?;
        }
    }
    if let Some(date) = input.get(first, "requested_ship_date") {
        out.segment(&["G62", "10", date])?;
    }
    if let Some(carrier) = input.get(first, "carrier") {
        // W6605 (routing, free text) rather than W6610 (SCAC, 2-4 characters): any carrier
        // text fits; "DF" = payment defined by buyer and seller.
        out.segment(&["W66", "DF", "", "", "", carrier])?;
    }
    let mut total = Vec::with_capacity(lines.len());
    for (pos, &row) in lines.iter().enumerate() {
        let position = (pos + 1).to_string();
        let quantity = input.quantity(row)?;
        total.push(quantity);
        out.segment(&["LX", input.or(row, "line_number", &position)])?;
        out.segment(&[
            "W01",
            quantity,
            input.or(row, "unit", "EA"),
            input.or(row, "upc", ""),
            input.or(row, "sku_qualifier", "VN"),
            input.required(row, "sku")?,
        ])?;
    }
    out.segment(&["W76", &sum(&total).unwrap_or_default()])
}

/// 846: one transaction set per distinct report_id (a missing report_id column or empty
/// value: one set); GS01 "IB".
pub fn write_846(env: &Envelope, rows: &Table) -> Result<Vec<u8>, X12Error> {
    let input = Input {
        rows,
        document: "846",
    };
    input.require(&["sku", "quantity"])?;
    for row in 0..rows.rows() {
        input.required(row, "sku")?;
        input.quantity(row)?;
    }
    let reports = input.group(|row| Ok(input.get(row, "report_id")))?;
    for (report, rows) in &reports {
        input.consistent(report.unwrap_or(""), rows, &["report_date"])?;
    }
    let mut out = open(env, "IB", "00401", "004010")?;
    for (n, (report, rows)) in reports.iter().enumerate() {
        set(&mut out, "846", &set_control(env, n), |out| {
            report_846(out, &input, report.unwrap_or(""), rows)
        })?;
    }
    close(out, env, reports.len())
}

fn report_846(out: &mut Out, input: &Input, report: &str, rows: &[usize]) -> Result<(), X12Error> {
    let date = rows
        .first()
        .and_then(|&r| input.get(r, "report_date"))
        .unwrap_or("");
    // "DD": distributor inventory report.
    out.segment(&["BIA", "00", "DD", report, date])?;
    // The reader takes each QTY's location from the latest N1 and its item from the latest LIN,
    // so both are written only when they change.
    let mut location: Option<(&str, &str)> = None;
    let mut item: Option<(&str, &str, &str)> = None;
    for &row in rows {
        let loc = input.get(row, "location");
        let qualifier = input.get(row, "location_qualifier").or(loc.map(|_| "WH"));
        let here = qualifier.map(|q| (q, loc.unwrap_or("")));
        match (here, location) {
            (None, Some(_)) => {
                // An N1 cannot be undone: once a report has a location, every later row needs one.
                return Err(X12Error::MissingValue {
                    document: "846",
                    column: "location",
                    row: row + 1,
                });
            }
            (Some((q, l)), _) if here != location => {
                let id_qualifier = if l.is_empty() { "" } else { ID_QUALIFIER };
                out.segment(&["N1", q, "", id_qualifier, l])?;
                location = here;
            }
            _ => {}
        }
        let this = (
            input.required(row, "sku")?,
            input.or(row, "sku_qualifier", "VN"),
            input.or(row, "upc", ""),
        );
        if item != Some(this) {
            lin(out, this)?;
            item = Some(this);
        }
        out.segment(&[
            "QTY",
            input.or(row, "quantity_qualifier", "33"),
            input.quantity(row)?,
            input.or(row, "unit", "EA"),
        ])?;
    }
    Ok(())
}

/// LIN with the sku pair and, when different, a UP pair for the UPC. The reader picks the sku
/// by qualifier priority VN, SK, BP, UP: any other sku qualifier would lose to the UP pair.
fn lin(out: &mut Out, (sku, qualifier, upc): (&str, &str, &str)) -> Result<(), X12Error> {
    if upc.is_empty() || (qualifier == "UP" && upc == sku) {
        return out.segment(&["LIN", "", qualifier, sku]);
    }
    if !["VN", "SK", "BP"].contains(&qualifier) {
        return Err(X12Error::Unwritable {
            element: "LIN02",
            value: qualifier.to_string(),
            why: "with a separate upc, the sku qualifier must be VN, SK or BP to read back",
        });
    }
    out.segment(&["LIN", "", qualifier, sku, "UP", upc])
}

/// An X12 `R` value as (unscaled integer, decimal places): optional `-`, digits with at most
/// one point, 1 to 15 digits.
fn decimal(text: &str) -> Option<(i128, u32)> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = format!("{int}{frac}");
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i128 = digits.parse().ok()?;
    Some((if negative { -value } else { value }, frac.len() as u32))
}

/// The exact sum of decimal texts (for W7601), at the largest scale among them.
fn sum(values: &[&str]) -> Option<String> {
    let parsed: Vec<(i128, u32)> = values.iter().map(|v| decimal(v)).collect::<Option<_>>()?;
    let scale = parsed.iter().map(|p| p.1).max().unwrap_or(0);
    let mut total: i128 = 0;
    for (value, places) in parsed {
        total = total.checked_add(value.checked_mul(10i128.checked_pow(scale - places)?)?)?;
    }
    let digits = format!(
        "{:0>width$}",
        total.unsigned_abs(),
        width = scale as usize + 1
    );
    let (int, frac) = digits.split_at(digits.len() - scale as usize);
    let sign = if total < 0 { "-" } else { "" };
    Some(match frac.is_empty() {
        true => format!("{sign}{int}"),
        false => format!("{sign}{int}.{frac}"),
    })
}
