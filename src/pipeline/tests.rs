//! The pure pipeline driven with frames in and tables out: each case is a pipeline, its
//! validated input tables, and the output tables expected (as CSV text, sorted by the output's
//! `order_by`).

use std::collections::BTreeMap;

use polars::prelude::*;

use super::{outputs, run};
use crate::config::Pipeline;

const PARTNER_SCHEMA: &str = r#"{"name": "partner", "fields": [
    {"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}]}"#;
const ERP_SCHEMA: &str = r#"{"name": "erp", "fields": [
    {"name": "item", "type": "string"}, {"name": "on_hand", "type": "integer"}]}"#;

/// A compiled pipeline from `body` (everything after `[source]` and `[input]`), with the
/// schemas `partner` and `erp` above, and `transforms` and `outputs` (table, file name) added.
pub(crate) fn pipeline(
    body: &str,
    transforms: &[(&str, &str)],
    outputs: &[(&str, &str)],
) -> Pipeline {
    let dir = tempfile::tempdir().expect("temp home");
    std::fs::create_dir_all(dir.path().join("inbox/t")).expect("drop folder");
    std::fs::create_dir_all(dir.path().join("inbox/erp")).expect("erp folder");
    let mut text = format!("[source]\n[input]\nformat = \"csv\"\nschema = \"partner\"\n{body}\n");
    for (name, sql) in transforms {
        text.push_str(&format!(
            "[[transforms]]\nname = \"{name}\"\nsql = '''{sql}'''\n"
        ));
    }
    for (table, name) in outputs {
        text.push_str(&format!(
            "[[outputs]]\ntable = \"{table}\"\ndestination = \"erp\"\nname = \"{name}\"\n"
        ));
    }
    let raw = toml::from_str(&text).expect("pipeline TOML");
    let schemas: BTreeMap<String, crate::schema::TableSchema> =
        [("partner", PARTNER_SCHEMA), ("erp", ERP_SCHEMA)]
            .iter()
            .map(|(name, json)| {
                let s = crate::schema::TableSchema::from_json(name, json).expect("schema");
                (name.to_string(), s)
            })
            .collect();
    let home = crate::config::Home::new(dir.path());
    crate::config::compile::compile("t", "t.toml", raw, &schemas, &home, &text)
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A table as CSV text (header first), rows sorted so the comparison does not depend on order.
fn csv_text(df: &DataFrame) -> String {
    let mut df = df.clone();
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .include_header(true)
        .finish(&mut df)
        .expect("csv");
    let text = String::from_utf8(bytes).expect("utf-8");
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.sort();
    std::iter::once(header)
        .chain(lines)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs the case and compares each output table with the expected CSV.
fn check(p: &Pipeline, input: BTreeMap<String, DataFrame>, expected: &[(&str, &str)]) {
    let computed = run(p, input).expect("the pipeline runs");
    let got: Vec<(String, String)> = outputs(p, &computed.tables)
        .map(|o| o.map(|(o, df)| (o.table.clone(), csv_text(df))))
        .collect::<Result<_, _>>()
        .expect("every output table produced");
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(t, csv)| (t.to_string(), csv.trim().to_string()))
        .collect();
    assert_eq!(got, want);
}

fn tables(list: Vec<(&str, DataFrame)>) -> BTreeMap<String, DataFrame> {
    list.into_iter()
        .map(|(n, df)| (n.to_string(), df))
        .collect()
}

#[test]
fn reconcile_then_sql_gives_the_breaks_and_a_feed() {
    let p = pipeline(
        r#"
[erp]
folder = "inbox/erp"
pattern = "erp_{date}.csv"
schema = "erp"
[reconcile]
keys = [{ partner = "sku", erp = "item" }]
compare = [{ partner = "qty", erp = "on_hand", abs_tolerance = "0" }]
"#,
        &[(
            "feed",
            "SELECT i.sku, i.qty - COALESCE(e.on_hand, 0) AS delta FROM input i LEFT JOIN erp e ON i.sku = e.item",
        )],
        &[("feed", "feed.csv")],
    );
    let input = df!("sku" => ["A", "B", "C"], "qty" => [5i64, 3, 1]).unwrap();
    let erp = df!("item" => ["A", "B", "D"], "on_hand" => [5i64, 4, 2]).unwrap();
    let computed = run(
        &p,
        tables(vec![("input", input.clone()), ("erp", erp.clone())]),
    )
    .expect("the pipeline runs");
    let counts: Vec<(&str, u64)> = computed
        .counts
        .iter()
        .map(|(s, n)| (s.as_str(), *n))
        .collect();
    assert_eq!(
        counts,
        [
            ("duplicate_key", 0),
            ("matched", 1),
            ("mismatched", 1),
            ("only_in_erp", 1),
            ("only_in_partner", 1)
        ]
    );
    // `breaks` is always kept for the report.
    assert_eq!(computed.tables["breaks"].height(), 3);
    check(
        &p,
        tables(vec![("input", input), ("erp", erp)]),
        &[("feed", "sku,delta\nA,0\nB,-1\nC,1")],
    );
}

#[test]
fn columns_named_with_any_character_reach_the_sql_that_reads_them() {
    let p = pipeline(
        "",
        &[(
            "fees",
            r#"SELECT "sku#", "Fee (USD)" * 2 AS fee FROM input WHERE "Fee (USD)" > 0"#,
        )],
        &[("fees", "fees.csv")],
    );
    let input = df!(
        "sku#" => ["A1", "B2"],
        "Fee (USD)" => [1.5f64, 0.0],
        "memo" => ["x", "y"],
    )
    .unwrap();
    let pruned = super::prune(&p, &p.needs, "input", input).unwrap();
    check(
        &p,
        tables(vec![("input", pruned)]),
        &[("fees", "sku#,fee\nA1,3.0")],
    );
}

#[test]
fn an_output_whose_table_is_not_produced_is_a_configuration_error() {
    let mut p = pipeline("", &[], &[("input", "x.csv")]);
    // `check` refuses such a pipeline; a run meets it only if the two disagree.
    p.outputs[0].table = "nowhere".into();
    let input = df!("sku" => ["A"], "qty" => [1i64]).unwrap();
    let computed = run(&p, tables(vec![("input", input)])).unwrap();
    let e = outputs(&p, &computed.tables).next().unwrap().unwrap_err();
    assert!(e.is_config(), "{e}");
    assert_eq!(e.to_string(), "output table `nowhere` was not produced");
}
