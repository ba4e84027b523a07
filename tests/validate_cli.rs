//! `tallyman validate` on real files: every structure and schema rule reports its line,
//! column and rule, in the stable JSON form.

use std::process::Command;

const SCHEMA: &str = r#"{"fields":[
  {"name":"sku","type":"string","constraints":{"required":true,"pattern":"SKU-\\d+"}},
  {"name":"qty","type":"integer","constraints":{"minimum":0}},
  {"name":"price","type":"number","scale":2},
  {"name":"day","type":"date"},
  {"name":"ok","type":"boolean"}],
  "primaryKey":"sku",
  "foreignKeys":[{"fields":"sku","reference":{"resource":"items","fields":"sku"}}]}"#;

const HEAD: &str = "sku,qty,price,day,ok\n";

/// (name, file body, expected (rule, line, column) list; "" = no column)
type Case = (
    &'static str,
    &'static str,
    &'static [(&'static str, u64, &'static str)],
);
const CASES: &[Case] = &[
    ("clean", "SKU-1,1,1.50,2026-11-25,true\nSKU-2,0,-3,2026-11-26,0\n", &[]),
    ("crlf", "SKU-1,1,1.50,2026-11-25,true\r\nSKU-2,0,2,2026-11-26,false\r\n", &[]),
    ("short row", "SKU-1,1,1.50,2026-11-25,true\nSKU-2,0\n", &[("field-count", 3, "")]),
    ("long row", "SKU-1,1,1.50,2026-11-25,true,extra\n", &[("field-count", 2, "")]),
    ("unclosed quote", "SKU-1,1,1.50,2026-11-25,true\nSKU-2,\"0,1,2026-11-25,true\nSKU-3,1,1,2026-11-25,true\n", &[("unclosed-quote", 3, "2")]),
    ("stray quote", "SKU-1,1,1.5\"0,2026-11-25,true\n", &[("stray-quote", 2, "3")]),
    ("nul byte", "SKU-1,1,1.50,2026-11-25,tr\0ue\n", &[("nul-byte", 2, "5")]),
    ("bad integer", "SKU-1,one,1.50,2026-11-25,true\n", &[("type", 2, "qty")]),
    ("negative qty", "SKU-1,-4,1.50,2026-11-25,true\n", &[("minimum", 2, "qty")]),
    ("too many decimals", "SKU-1,1,1.505,2026-11-25,true\n", &[("scale", 2, "price")]),
    ("bad date", "SKU-1,1,1.50,2026-13-45,true\n", &[("type", 2, "day")]),
    ("bad boolean", "SKU-1,1,1.50,2026-11-25,maybe\n", &[("type", 2, "ok")]),
    ("pattern", "ABC-1,1,1.50,2026-11-25,true\n", &[("pattern", 2, "sku"), ("foreign-key", 2, "sku")]),
    ("missing key", ",1,1.50,2026-11-25,true\n", &[("required", 2, "sku"), ("required", 2, "sku")]),
    // A quoted empty field is the empty string, which the default missingValues [""] names.
    ("quoted empty is missing", "\"\",\"\",1.50,2026-11-25,true\n", &[("required", 2, "sku"), ("required", 2, "sku")]),
    ("duplicate key", "SKU-1,1,1,2026-11-25,true\nSKU-1,2,2,2026-11-25,true\n", &[("primary-key", 2, "sku"), ("primary-key", 3, "sku")]),
    ("unknown sku", "SKU-9,1,1.50,2026-11-25,true\n", &[("foreign-key", 2, "sku")]),
    ("multi-line field keeps line numbers", "SKU-1,1,\"1.50\",2026-11-25,true\nSKU-2,\"\n\",1,2026-11-25,true\nSKU-3,x,1,2026-11-25,true\n", &[("type", 3, "qty"), ("type", 5, "qty")]),
];

/// (name, whole file, expected fatal rule)
const HEADER_CASES: &[(&str, &str, &str)] = &[
    (
        "duplicate header",
        "sku,qty,qty,day,ok\nSKU-1,1,1,2026-11-25,true\n",
        "duplicate-header",
    ),
    (
        "missing column",
        "sku,qty,price,day\nSKU-1,1,1,2026-11-25\n",
        "header",
    ),
    (
        "reordered",
        "qty,sku,price,day,ok\n1,SKU-1,1,2026-11-25,true\n",
        "header",
    ),
    ("empty file", "", "empty-file"),
    ("header only", "sku,qty,price,day,ok\n", "empty-file"),
    (
        "CR-only header only",
        "sku,qty,price,day,ok\r",
        "empty-file",
    ),
];

fn validate(dir: &std::path::Path, body: &[u8]) -> serde_json::Value {
    validate_with(dir, body, &[])
}

fn validate_with(dir: &std::path::Path, body: &[u8], flags: &[&str]) -> serde_json::Value {
    let file = dir.join("data.csv");
    std::fs::write(&file, body).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .arg("validate")
        .arg(&file)
        .args(["--schema", dir.join("s.json").to_str().unwrap()])
        .args([
            "--reference",
            &format!(
                "items={}:{}",
                dir.join("items.csv").display(),
                dir.join("items.json").display()
            ),
        ])
        .arg("--json")
        .args(flags)
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stderr)))
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("s.json"), SCHEMA).unwrap();
    std::fs::write(
        dir.path().join("items.json"),
        r#"{"fields":[{"name":"sku"}]}"#,
    )
    .unwrap();
    std::fs::write(dir.path().join("items.csv"), "sku\nSKU-1\nSKU-2\nSKU-3\n").unwrap();
    dir
}

/// Every case in every line ending (a quoted line break too is written with the file's
/// ending), the CR-only ones with and without a BOM: the same issues on the same lines.
#[test]
fn every_rule_reports_line_column_and_rule() {
    let dir = setup();
    let variants = [
        ("\n", ""),
        ("\r\n", "\u{feff}"),
        ("\r", ""),
        ("\r", "\u{feff}"),
    ];
    for ((name, body, expected), (ending, bom)) in CASES
        .iter()
        .flat_map(|c| variants.iter().map(move |v| (c, v)))
    {
        let text = format!("{bom}{HEAD}{body}")
            .replace("\r\n", "\n")
            .replace('\n', ending);
        let name = format!("{name} ({ending:?}, bom {})", !bom.is_empty());
        let v = validate(dir.path(), text.as_bytes());
        let mut got: Vec<(String, u64, String)> = v["issues"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["rule"].as_str().unwrap().to_string(),
                    i["line"].as_u64().unwrap_or(0),
                    i["column"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        got.sort();
        let mut want: Vec<(String, u64, String)> = expected
            .iter()
            .map(|(r, l, c)| (r.to_string(), *l, c.to_string()))
            .collect();
        want.sort();
        assert_eq!(got, want, "case {name}: {v:#}");
        assert_eq!(v["valid"], expected.is_empty(), "case {name}");
    }
}

#[test]
fn invalid_utf8_is_caught_before_polars() {
    let dir = setup();
    let v = validate(
        dir.path(),
        b"sku,qty,price,day,ok\nSKU-1,1,1.50,2026-11-25,true\nSKU-2,1,1.50,2026-11-25,tr\xffue\n",
    );
    let issue = &v["issues"][0];
    assert_eq!(
        (
            issue["rule"].as_str(),
            issue["line"].as_u64(),
            issue["column"].as_str()
        ),
        (Some("encoding"), Some(3), Some("5"))
    );
    assert_eq!(v["rows"], 1);
}

#[test]
fn bad_headers_are_fatal_with_a_clear_rule() {
    let dir = setup();
    for (name, body, rule) in HEADER_CASES {
        let v = validate(dir.path(), body.as_bytes());
        assert_eq!(v["valid"], false, "case {name}");
        assert_eq!(
            v["issues"][0]["rule"].as_str(),
            Some(*rule),
            "case {name}: {v:#}"
        );
    }
}

#[test]
fn values_are_quoted_and_truncated_in_issues() {
    let dir = setup();
    let long = "x".repeat(500);
    let v = validate(
        dir.path(),
        format!("{HEAD}SKU-1,{long},1,2026-11-25,true\n").as_bytes(),
    );
    let value = v["issues"][0]["value"].as_str().unwrap();
    assert_eq!(value.chars().count(), 81);
    assert_eq!(v["issues"][0]["file"], "data.csv");
}

#[test]
fn allow_empty_makes_a_header_only_file_valid() {
    let dir = setup();
    for body in ["", "sku,qty,price,day,ok\n", "sku,qty,price,day,ok\r"] {
        let v = validate_with(dir.path(), body.as_bytes(), &["--allow-empty"]);
        assert_eq!(
            (&v["valid"], &v["rows"]),
            (&true.into(), &0.into()),
            "{body:?}: {v:#}"
        );
    }
    let v = validate_with(dir.path(), b"sku,qty\n", &["--allow-empty"]);
    assert_eq!(
        v["issues"][0]["rule"], "header",
        "a wrong header is still wrong: {v:#}"
    );
}
