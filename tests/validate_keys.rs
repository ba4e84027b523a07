//! Duplicate detection for compound primary keys and `unique` columns (found through key
//! hashes first, then confirmed exactly): which rows are flagged, with nulls never counted.

use std::collections::HashMap;

use tallyman::formats::csv::{check_structure, Dialect};
use tallyman::schema::table::TableSchema;
use tallyman::schema::validate::validate_csv;

const SCHEMA: &str = r#"{"fields":[
  {"name":"sku","type":"string"},
  {"name":"loc","type":"string"},
  {"name":"lot","type":"integer","constraints":{"unique":true}}],
  "primaryKey":["sku","loc"]}"#;

/// (name, body, expected (rule, line) list sorted by line then rule)
type Case = (&'static str, &'static str, &'static [(&'static str, u64)]);
const CASES: &[Case] = &[
    ("distinct", "A,X,1\nA,Y,2\nB,X,3\n", &[]),
    (
        "same parts, different pairs",
        "A,X,1\nX,A,2\nAX,,3\n,AX,4\n",
        &[("required", 4), ("required", 5)],
    ),
    (
        "compound duplicate",
        "A,X,1\nB,X,2\nA,X,3\n",
        &[("primary-key", 2), ("primary-key", 4)],
    ),
    (
        "null lots are not duplicates",
        "A,X,\nB,X,\nC,X,7\nD,X,7\n",
        &[("unique", 4), ("unique", 5)],
    ),
    (
        "nulls in the key are not duplicates",
        "A,,1\nA,,2\n",
        &[("required", 2), ("required", 3)],
    ),
];

#[test]
fn duplicate_keys_are_flagged_exactly() {
    let schema = TableSchema::from_json("keys", SCHEMA).expect("schema");
    for (name, body, want) in CASES {
        let text = format!("sku,loc,lot\n{body}");
        let s = check_structure("f.csv", text.as_bytes(), &Dialect::default());
        let v = validate_csv("f.csv", &s, &schema, &HashMap::new()).expect("validate");
        let mut got: Vec<(String, u64)> = v
            .issues
            .iter()
            .map(|i| (i.rule.clone(), i.line.unwrap_or(0)))
            .collect();
        got.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        let want: Vec<(String, u64)> = want.iter().map(|(r, l)| (r.to_string(), *l)).collect();
        assert_eq!(got, want, "{name}");
    }
}

#[test]
fn many_distinct_compound_keys_have_no_duplicate() {
    let schema = TableSchema::from_json("keys", SCHEMA).expect("schema");
    let mut text = String::from("sku,loc,lot\n");
    for i in 0..200_000u32 {
        text.push_str(&format!("SKU-{:06},L{},{i}\n", i / 4, i % 4));
    }
    text.push_str("SKU-000007,L3,999999\n");
    let s = check_structure("f.csv", text.as_bytes(), &Dialect::default());
    let v = validate_csv("f.csv", &s, &schema, &HashMap::new()).expect("validate");
    let lines: Vec<(&str, u64)> = v
        .issues
        .iter()
        .map(|i| (i.rule.as_str(), i.line.unwrap_or(0)))
        .collect();
    assert_eq!(lines, [("primary-key", 33), ("primary-key", 200_002)]);
}
