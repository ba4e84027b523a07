//! Table-driven tests for `[report]` rule compilation.

use super::*;

fn compile_report(toml_text: &str) -> Result<ReportRule, Vec<SectionError>> {
    let raw: ReportRaw = toml::from_str(toml_text).map_err(|e| vec![err("toml", e.to_string())])?;
    raw.compile("report")
}

#[test]
fn report_rules_compile_or_name_every_bad_key() {
    // (toml, expected error keys; empty = compiles)
    let cases: &[(&str, &[&str])] = &[
        (r#"to = ["a@example.com"]"#, &[]),
        (
            r#"to = ["A <a@example.com>"]
            when = "threshold"
            threshold = { min_abs_difference = "100.00" }"#,
            &[],
        ),
        (
            r#"to = ["not an address", "b@example.com"]
            cc = ["@@"]
            when = "sometimes"
            subject = "{pipeline} {oops}""#,
            &[
                "report.to[0]",
                "report.cc[0]",
                "report.when",
                "report.subject",
            ],
        ),
        (r#"to = []"#, &["report.to"]),
        (
            r#"to = ["a@example.com"]
            when = "threshold""#,
            &["report.threshold"],
        ),
        (
            r#"to = ["a@example.com"]
            when = "threshold"
            threshold = {}"#,
            &["report.threshold"],
        ),
        (
            r#"to = ["a@example.com"]
            threshold = { min_breaks = 1 }"#,
            &["report.threshold"],
        ),
        (
            r#"to = ["a@example.com"]
            subject = "{pipeline""#,
            &["report.subject"],
        ),
        (
            r#"to = ["a@example.com"]
            bcc = ["x@example.com"]"#,
            &["toml"],
        ),
    ];
    for (text, want) in cases {
        let got: Vec<String> = match compile_report(text) {
            Ok(_) => vec![],
            Err(errors) => errors.into_iter().map(|e| e.key).collect(),
        };
        assert_eq!(got, *want, "for {text}");
    }
}
