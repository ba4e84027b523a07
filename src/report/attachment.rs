//! The CSV attachment: every break and every issue, formula-looking cells neutralised (pure).

use super::model::RunReport;
use super::render::{opt, RenderError};
use crate::formats::csv_safe::{safe_cell, ColumnKind};

/// One CSV with every break and every issue: key columns first, then the record kind, then
/// one (partner, erp, difference) triple per measure name, then the issue's location.
pub(super) fn csv_attachment(r: &RunReport) -> Result<Vec<u8>, RenderError> {
    let mut key_names: Vec<&str> = Vec::new();
    let mut measure_names: Vec<&str> = Vec::new();
    for b in &r.breaks {
        for (k, _) in &b.keys {
            if !key_names.contains(&k.as_str()) {
                key_names.push(k);
            }
        }
        for m in &b.measures {
            if !measure_names.contains(&m.name.as_str()) {
                measure_names.push(&m.name);
            }
        }
    }
    let mut fixed: Vec<(String, ColumnKind)> = ["record", "status", "currency"]
        .iter()
        .map(|n| (n.to_string(), ColumnKind::Text))
        .collect();
    for m in &measure_names {
        for side in ["partner", "erp", "difference"] {
            fixed.push((format!("{m}_{side}"), ColumnKind::Numeric));
        }
    }
    for (name, kind) in [
        ("file", ColumnKind::Text),
        ("line", ColumnKind::Numeric),
        ("column", ColumnKind::Text),
        ("value", ColumnKind::Text),
        ("rule", ColumnKind::Text),
        ("severity", ColumnKind::Text),
        ("message", ColumnKind::Text),
    ] {
        fixed.push((name.to_string(), kind));
    }
    // A key column named like a fixed column (e.g. `line`, `currency`) gets a `key_` prefix so
    // every header is unique and spreadsheet lookups by name stay unambiguous.
    let mut header: Vec<(String, ColumnKind)> = key_names
        .iter()
        .map(|k| {
            let clash = fixed.iter().any(|(n, _)| n == k) || k.starts_with("key_");
            (
                if clash {
                    format!("key_{k}")
                } else {
                    k.to_string()
                },
                ColumnKind::Text,
            )
        })
        .collect();
    header.extend(fixed);
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(
        header
            .iter()
            .map(|(n, _)| safe_cell(n, ColumnKind::Text).into_owned()),
    )?;
    let kinds: Vec<ColumnKind> = header.iter().map(|(_, k)| *k).collect();
    let write = |w: &mut csv::Writer<Vec<u8>>, row: Vec<String>| -> Result<(), csv::Error> {
        w.write_record(
            row.iter()
                .zip(&kinds)
                .map(|(v, k)| safe_cell(v, *k).into_owned()),
        )
    };
    for b in r.ranked_breaks() {
        let mut row: Vec<String> = key_names
            .iter()
            .map(|k| {
                b.keys
                    .iter()
                    .find(|(n, _)| n == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            })
            .collect();
        row.extend([
            "break".to_string(),
            b.status_text().to_string(),
            opt(&b.currency),
        ]);
        for name in &measure_names {
            match b.measures.iter().find(|m| m.name == *name) {
                Some(m) => row.extend([
                    opt(&m.partner),
                    opt(&m.erp),
                    m.effective_difference().to_string(),
                ]),
                None => row.extend([String::new(), String::new(), String::new()]),
            }
        }
        row.extend(std::iter::repeat_n(String::new(), 7));
        write(&mut w, row)?;
    }
    for i in &r.issues {
        let mut row: Vec<String> = key_names.iter().map(|_| String::new()).collect();
        row.extend(["issue".to_string(), String::new(), String::new()]);
        row.extend(std::iter::repeat_n(String::new(), measure_names.len() * 3));
        row.extend([
            i.file.clone(),
            opt(&i.line),
            opt(&i.column),
            opt(&i.value),
            i.rule.clone(),
            i.severity.as_str().to_string(),
            i.message.clone(),
        ]);
        write(&mut w, row)?;
    }
    w.into_inner()
        .map_err(|e| RenderError::CsvFlush(e.error().to_string()))
}

/// The attachment cut to at most `max_bytes` at a record boundary (quoted multi-line cells stay
/// whole): the bytes, records kept, records in all. The full CSV is archived with the run; a
/// mail relay refuses (5xx) a message over its size limit, which would lose the whole mail.
pub(super) fn cap(csv: &[u8], max_bytes: usize) -> Result<(Vec<u8>, usize, usize), RenderError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv);
    if csv.len() <= max_bytes {
        let total = reader.byte_records().count();
        return Ok((csv.to_vec(), total, total));
    }
    let header = reader.byte_headers()?.clone();
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_byte_record(&header)?;
    let (mut kept, mut total) = (0, 0);
    let mut full = false;
    for record in reader.byte_records() {
        let record = record?;
        total += 1;
        if full {
            continue;
        }
        // A record never takes more than its fields, the quotes doubled, and separators.
        let worst: usize = record.iter().map(|f| 2 * f.len() + 3).sum::<usize>() + 2;
        out.flush()
            .map_err(|e| RenderError::CsvFlush(e.to_string()))?;
        if out.get_ref().len() + worst > max_bytes {
            full = true;
            continue;
        }
        out.write_byte_record(&record)?;
        kept += 1;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| RenderError::CsvFlush(e.to_string()))?;
    Ok((bytes, kept, total))
}
