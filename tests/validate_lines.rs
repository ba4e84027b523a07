//! Line numbers, row counts and empty files through `runner::tables::load_table` (the structure
//! pass, then schema validation): a bad first data row, blank lines, every line ending (LF,
//! CRLF, CR alone) with and without a BOM, and the `allow_empty` rule.

use std::collections::HashMap;

use tallyman::formats::csv::{Dialect, IfEmpty};
use tallyman::runner::tables::load_table;
use tallyman::schema::TableSchema;

const SCHEMA: &str = r#"{"fields":[
  {"name":"sku","type":"string","constraints":{"required":true}},
  {"name":"qty","type":"integer"},
  {"name":"day","type":"date"}]}"#;

fn schema() -> TableSchema {
    TableSchema::from_json("s", SCHEMA).expect("schema")
}

/// (name, lines after the header `sku,qty,day`, expected (rule, line, column; "" = none), rows
/// read past the structure pass)
type Case = (
    &'static str,
    &'static [&'static str],
    &'static [(&'static str, u64, &'static str)],
    usize,
);
const CASES: &[Case] = &[
    ("clean", &["A,1,2026-01-01", "B,2,2026-01-02"], &[], 2),
    (
        "first row wrong type",
        &["A,x,2026-01-01", "B,2,2026-01-02", "C,y,2026-01-03"],
        &[("type", 2, "qty"), ("type", 4, "qty")],
        3,
    ),
    (
        "first row bad date",
        &["A,1,2026-13-01", "B,2,2026-01-02"],
        &[("type", 2, "day")],
        2,
    ),
    (
        "first row missing key",
        &[",1,2026-01-01", "B,x,2026-01-02"],
        &[("required", 2, "sku"), ("type", 3, "qty")],
        2,
    ),
    (
        "first row short",
        &["A,1", "B,x,2026-01-02", "C,3,2026-01-03"],
        &[("field-count", 2, ""), ("type", 3, "qty")],
        2,
    ),
    (
        "first row long",
        &["A,1,2026-01-01,extra", "B,2,2026-01-02", "C,z,2026-01-03"],
        &[("field-count", 2, ""), ("type", 4, "qty")],
        2,
    ),
    (
        "first row stray quote",
        &["A,\"1\"x,2026-01-01", "B,x,2026-01-02"],
        &[("stray-quote", 2, "2"), ("type", 3, "qty")],
        1,
    ),
    (
        "first line blank",
        &["", "B,x,2026-01-02", "C,3,2026-01-03"],
        &[("type", 3, "qty")],
        2,
    ),
    (
        "two bad rows first",
        &["A,1", "B", "C,x,2026-01-03", "D,4,2026-01-04"],
        &[
            ("field-count", 2, ""),
            ("field-count", 3, ""),
            ("type", 4, "qty"),
        ],
        2,
    ),
    (
        "quoted line break after a bad first row",
        &[
            "A",
            "B,\"2\",\"2026-01-02\"",
            "\"C\nD\",x,2026-01-03",
            "E,5,2026-01-05",
        ],
        &[("field-count", 2, ""), ("type", 4, "qty")],
        3,
    ),
];

fn load(text: &[u8], if_empty: IfEmpty) -> tallyman::schema::validate::Validated {
    load_table(
        "f.csv",
        text,
        &schema(),
        &Dialect::default(),
        if_empty,
        &HashMap::new(),
    )
    .expect("load")
}

#[test]
fn every_line_ending_and_a_bom_keep_lines_and_counts_right() {
    for (name, lines, expected, rows) in CASES {
        for ending in ["\n", "\r\n", "\r"] {
            for bom in ["", "\u{feff}"] {
                // A line break inside a quoted value is written with the file's own ending.
                let body: Vec<String> = lines.iter().map(|l| l.replace('\n', ending)).collect();
                let text = format!("{bom}sku,qty,day{ending}{}{ending}", body.join(ending));
                let v = load(text.as_bytes(), IfEmpty::Refuse);
                let what = format!("{name} ({ending:?}, bom {})", !bom.is_empty());
                assert!(v.fatal.is_empty(), "{what}: {:?}", v.fatal);
                let mut got: Vec<(String, u64, String)> = v
                    .issues
                    .iter()
                    .map(|i| {
                        (
                            i.rule.clone(),
                            i.line.unwrap_or(0),
                            i.column.clone().unwrap_or_default(),
                        )
                    })
                    .collect();
                got.sort();
                let mut want: Vec<(String, u64, String)> = expected
                    .iter()
                    .map(|(r, l, c)| (r.to_string(), *l, c.to_string()))
                    .collect();
                want.sort();
                assert_eq!(got, want, "{what}");
                assert_eq!(v.rows(), *rows, "{what}: rows");
            }
        }
    }
}

/// (name, file, `allow_empty`, expected fatal rule or "" for none)
const EMPTY_CASES: &[(&str, &str, bool, &str)] = &[
    ("0 bytes", "", false, "empty-file"),
    ("a BOM alone", "\u{feff}", false, "empty-file"),
    ("header only", "sku,qty,day\n", false, "empty-file"),
    (
        "header without a line break",
        "sku,qty,day",
        false,
        "empty-file",
    ),
    (
        "header and blank lines",
        "sku,qty,day\r\n\r\n\r\n",
        false,
        "empty-file",
    ),
    ("CR-only header", "sku,qty,day\r", false, "empty-file"),
    ("0 bytes allowed", "", true, ""),
    ("header only allowed", "sku,qty,day\n", true, ""),
    ("CR-only header allowed", "sku,qty,day\r\r", true, ""),
    // Allowing empty files does not excuse a wrong header.
    ("wrong header allowed", "sku,qty\n", true, "header"),
    // A file whose only rows are bad is not empty: its rows are reported.
    ("only bad rows", "sku,qty,day\nA,1\n", false, ""),
];

#[test]
fn an_empty_file_is_refused_unless_allowed() {
    for (name, text, allow, rule) in EMPTY_CASES {
        let v = load(text.as_bytes(), IfEmpty::from_allow(*allow));
        let got: Vec<&str> = v.fatal.iter().map(|i| i.rule.as_str()).collect();
        let want: Vec<&str> = Some(*rule).filter(|r| !r.is_empty()).into_iter().collect();
        assert_eq!(got, want, "{name}: {:?}", v.fatal);
        if let Some(f) = v.fatal.first().filter(|f| f.rule == "empty-file") {
            assert_eq!(f.file, "f.csv", "{name}");
            assert!(f.message.contains("allow_empty"), "{name}: {}", f.message);
        }
        if v.fatal.is_empty() {
            assert_eq!(v.rows(), 0, "{name}");
        }
        if *allow && v.fatal.is_empty() {
            // An allowed empty file is a table with the schema's columns, so SQL can name them.
            let names: Vec<&str> = v
                .frame
                .get_column_names()
                .iter()
                .map(|n| n.as_str())
                .collect();
            assert_eq!(names, ["sku", "qty", "day"], "{name}");
        }
    }
}

#[test]
fn a_file_without_header_and_without_rows_is_empty_too() {
    let dialect = Dialect {
        header: false,
        ..Dialect::default()
    };
    for (text, allow, fatal) in [("", false, true), ("\n\n", false, true), ("", true, false)] {
        let v = load_table(
            "f.csv",
            text.as_bytes(),
            &schema(),
            &dialect,
            IfEmpty::from_allow(allow),
            &HashMap::new(),
        )
        .expect("load");
        assert_eq!(
            !v.fatal.is_empty(),
            fatal,
            "{text:?} allow {allow}: {:?}",
            v.fatal
        );
    }
}
