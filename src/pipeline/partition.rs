//! An output written as one file per distinct value of a column (`partition_by`): the table
//! split by that column in the order of its values, each value checked and made safe to stand
//! in a file name (`{partition}`). The values come from partner data, so a value that would
//! name a file outside the output's folder is refused, never cleaned into something else.

use std::collections::HashMap;

use polars::prelude::*;

/// The longest value, in bytes, that names a file: the name's other parts and the staging
/// prefix (`.tallyman-<run>-`) must still fit in 255 bytes.
pub const MAX_VALUE_BYTES: usize = 100;

/// One file's share of a partitioned output.
#[derive(Debug)]
pub struct Part {
    /// The column's value as text (recorded in the manifest).
    pub value: String,
    /// `value` as it stands in the file name.
    pub name: String,
    /// The table's rows with this value, in their order.
    pub rows: DataFrame,
}

/// Why a table could not be split.
#[derive(Debug, thiserror::Error)]
pub enum PartitionError {
    /// The column is missing or cannot be read as text: the pipeline's configuration.
    #[error(transparent)]
    Data(#[from] PolarsError),
    /// A value (or a missing one) cannot name a file: the partner's data.
    #[error("{0}")]
    Refused(String),
}

/// The distinct values of `column` in `df`, sorted, each with its file-name form; refused when
/// any value is missing, cannot name a file, or names the same file as another value.
/// `table` names the output in the reason.
pub fn names(
    df: &DataFrame,
    table: &str,
    column: &str,
) -> Result<Vec<(String, String)>, PartitionError> {
    Ok(groups(df, table, column)?
        .into_iter()
        .map(|(value, name, _)| (value, name))
        .collect())
}

/// `df` split by `column` into one [`Part`] per distinct value, sorted by value; refused as
/// [`names`] says.
pub fn split(df: &DataFrame, table: &str, column: &str) -> Result<Vec<Part>, PartitionError> {
    let mut parts = Vec::new();
    for (value, name, rows) in groups(df, table, column)? {
        let idx = IdxCa::from_vec("rows".into(), rows);
        parts.push(Part {
            value,
            name,
            rows: df.take(&idx)?,
        });
    }
    Ok(parts)
}

/// Each distinct value with its file-name form and its row numbers, sorted by value.
type Group = (String, String, Vec<IdxSize>);

fn groups(df: &DataFrame, table: &str, column: &str) -> Result<Vec<Group>, PartitionError> {
    let text = df.column(column)?.cast(&DataType::String)?;
    let mut rows: HashMap<&str, Vec<IdxSize>> = HashMap::new();
    let mut missing = 0usize;
    for (i, v) in text.str()?.iter().enumerate() {
        match v {
            Some(v) => rows.entry(v).or_default().push(i as IdxSize),
            None => missing += 1,
        }
    }
    if missing > 0 {
        return Err(PartitionError::Refused(format!(
            "output `{table}` writes one file per `{column}`, and {missing} of its row(s) have none"
        )));
    }
    let mut groups: Vec<Group> = Vec::with_capacity(rows.len());
    let mut problems = Vec::new();
    for (value, at) in rows {
        match file_part(value) {
            Ok(name) => groups.push((value.to_string(), name, at)),
            Err(why) => problems.push(format!("`{}` {why}", shown(value))),
        }
    }
    problems.sort();
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    // Two values cleaned to the same name would overwrite each other's file.
    let mut taken: HashMap<&str, &str> = HashMap::new();
    for (value, name, _) in &groups {
        if let Some(other) = taken.insert(name, value) {
            problems.push(format!(
                "`{}` and `{}` would both name the file part `{name}`",
                shown(other),
                shown(value)
            ));
        }
    }
    match problems.is_empty() {
        true => Ok(groups),
        false => Err(PartitionError::Refused(format!(
            "output `{table}` writes one file per `{column}`, and its value(s) cannot name a file: {}",
            problems.join("; ")
        ))),
    }
}

/// A value as it stands in a file name: ASCII letters, digits, `-`, `_`, `.` and `+` kept,
/// anything else (spaces, slashes, other punctuation, non-ASCII) written `_`, and a leading `.`
/// too (no hidden files). Slashes are ordinary in real ids (PayPal's settlement id holds a
/// date as `2026/11/30`), so they are written `_`; but a value read as a path that climbs
/// (a `.` or `..` step, e.g. `../x`) or holds NUL is refused: it is either an attack or a
/// mistake, and no cleaned name would say which file it was. Also refused: empty, or longer
/// than [`MAX_VALUE_BYTES`].
pub fn file_part(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("is empty".into());
    }
    let climbs = value
        .split(['/', '\\'])
        .any(|step| step == "." || step == "..");
    if climbs || value.contains('\0') {
        return Err("would name a file outside the output's folder".into());
    }
    if value.len() > MAX_VALUE_BYTES {
        return Err(format!("is longer than {MAX_VALUE_BYTES} bytes"));
    }
    Ok(value
        .chars()
        .enumerate()
        .map(|(i, c)| match c {
            '.' if i == 0 => '_',
            c if c.is_ascii_alphanumeric() || "-_.+".contains(c) => c,
            _ => '_',
        })
        .collect())
}

/// A value for a message: control characters escaped, long ones cut.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(60).collect();
    let more = if cut.len() < value.len() { "…" } else { "" };
    format!("{}{more}", cut.escape_debug())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_kept_cleaned_or_refused() {
        assert_eq!(file_part("12345678").unwrap(), "12345678");
        assert_eq!(file_part("po_1.A-b+c").unwrap(), "po_1.A-b+c");
        assert_eq!(file_part("Q4 2026: EU").unwrap(), "Q4_2026__EU");
        assert_eq!(file_part("é*?<>|\"").unwrap(), "_______");
        assert_eq!(file_part(".hidden").unwrap(), "_hidden");
        assert_eq!(
            file_part("ACCT123-2026/11/30 00:00:00 -0800").unwrap(),
            "ACCT123-2026_11_30_00_00_00_-0800"
        );
        assert_eq!(file_part("a\\b..c").unwrap(), "a_b..c");
        for bad in ["", ".", "..", "../x", "a/../b", "a\\..", "./a", "a\0b"] {
            assert!(file_part(bad).is_err(), "{bad:?}");
        }
        assert!(file_part(&"9".repeat(MAX_VALUE_BYTES)).is_ok());
        assert!(file_part(&"9".repeat(MAX_VALUE_BYTES + 1)).is_err());
    }

    #[test]
    fn a_table_splits_into_one_part_per_value_sorted_with_its_rows_in_order() {
        let df = df!(
            "settlement_id" => ["S2", "S1", "S2", "S1"],
            "amount" => [1i64, 2, 3, 4]
        )
        .unwrap();
        let parts = split(&df, "journal", "settlement_id").unwrap();
        let got: Vec<(String, Vec<Option<i64>>)> = parts
            .iter()
            .map(|p| {
                let amounts = p.rows.column("amount").unwrap().i64().unwrap();
                (p.name.clone(), amounts.iter().collect())
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("S1".to_string(), vec![Some(2), Some(4)]),
                ("S2".to_string(), vec![Some(1), Some(3)]),
            ]
        );
        // Every row lands in exactly one part.
        let total: usize = parts.iter().map(|p| p.rows.height()).sum();
        assert_eq!(total, df.height());
    }

    #[test]
    fn integers_split_by_their_text_and_an_empty_table_has_no_part() {
        let df = df!("n" => [7i64, 7, 10]).unwrap();
        let names: Vec<String> = split(&df, "t", "n")
            .unwrap()
            .into_iter()
            .map(|p| p.value)
            .collect();
        assert_eq!(names, vec!["10", "7"]);
        assert!(split(&df.head(Some(0)), "t", "n").unwrap().is_empty());
    }

    #[test]
    fn escaping_colliding_and_missing_values_are_refused_naming_them() {
        let df = df!("s" => ["../../etc", "ok"]).unwrap();
        let e = names(&df, "journal", "s").unwrap_err().to_string();
        assert!(
            e.contains("`../../etc` would name a file outside the output's folder"),
            "{e}"
        );
        let df = df!("s" => ["A B", "A_B"]).unwrap();
        let e = names(&df, "journal", "s").unwrap_err().to_string();
        assert!(
            e.contains("`A B` and `A_B` would both name the file part `A_B`"),
            "{e}"
        );
        let df = df!("s" => [Some("S1"), None]).unwrap();
        let e = names(&df, "journal", "s").unwrap_err().to_string();
        assert!(e.contains("1 of its row(s) have none"), "{e}");
        let df = df!("s" => ["S1"]).unwrap();
        assert!(matches!(
            names(&df, "journal", "nope"),
            Err(PartitionError::Data(_))
        ));
    }
}
