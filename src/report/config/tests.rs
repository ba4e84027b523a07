//! Table-driven tests for report rules and mail settings compilation.

use super::*;
use crate::report::model::{Break, Measure, ReconStatus, RunReport};
use chrono::NaiveDate;

fn report(breaks: usize, issues: usize, diff: &str) -> RunReport {
    let b = Break {
        keys: vec![("id".into(), "1".into())],
        status: ReconStatus::Mismatched,
        kind: None,
        currency: None,
        measures: vec![Measure {
            name: "amount".into(),
            partner: None,
            erp: None,
            difference: diff.parse().ok(),
        }],
    };
    RunReport {
        pipeline: "p".into(),
        business_date: NaiveDate::from_ymd_opt(2026, 1, 2).unwrap_or_default(),
        run_id: "r".into(),
        time_zone: "UTC".into(),
        reconciliation: None,
        breaks: vec![b; breaks],
        issues: (0..issues)
            .map(|_| crate::issue::Issue::error("f", "type", "bad"))
            .collect(),
        duplicates: vec![],
        corrections: vec![],
        quarantined: vec![],
        rerun: None,
        acknowledgements: vec![],
        held: vec![],
        settlement: None,
    }
}

fn compile_report(toml_text: &str) -> Result<ReportRule, Vec<ConfigError>> {
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

#[test]
fn when_decides_from_the_report() {
    let rule =
        |when: &str| compile_report(&format!("to = [\"a@example.com\"]\n{when}")).expect("rule");
    let always = rule(r#"when = "always""#);
    let problems = rule(r#"when = "problems""#);
    let money =
        rule("when = \"threshold\"\nthreshold = { min_abs_difference = \"100\", min_issues = 3 }");
    // (rule, breaks, issues, break difference, expected)
    let cases = [
        (&always, 0, 0, "0", true),
        (&problems, 0, 0, "0", false),
        (&problems, 0, 1, "0", true),
        (&money, 2, 0, "-99.99", false),
        (&money, 1, 0, "-100.00", true),
        (&money, 0, 3, "0", true),
        (&money, 0, 2, "0", false),
    ];
    for (rule, breaks, issues, diff, want) in cases {
        assert_eq!(
            rule.wants(&report(breaks, issues, diff)),
            want,
            "{:?} {breaks} {issues} {diff}",
            rule.when
        );
    }
}

#[test]
fn mail_settings_compile_or_name_every_bad_key() {
    // (extra toml, expected error keys, expected smtp tls mode when it compiles)
    let cases: &[(&str, &[&str], Option<TlsMode>)] = &[
        ("", &[], None),
        (
            "smtp_host = \"mail.example.com\"",
            &[],
            Some(TlsMode::StartTls { required: true }),
        ),
        (
            "smtp_host = \"h\"\ntls_required = false",
            &[],
            Some(TlsMode::StartTls { required: false }),
        ),
        (
            "smtp_host = \"h\"\ntls = \"implicit\"",
            &[],
            Some(TlsMode::Implicit),
        ),
        (
            "smtp_host = \"h\"\ntls = \"none\"",
            &[],
            Some(TlsMode::None),
        ),
        (
            "smtp_host = \"h\"\ntls = \"none\"\ntls_required = true",
            &["mail.tls_required"],
            None,
        ),
        (
            "smtp_host = \"h\"\ntls = \"implicit\"\ntls_required = false",
            &["mail.tls_required"],
            None,
        ),
        ("smtp_host = \"h\"\ntls = \"ssl\"", &["mail.tls"], None),
        (
            "smtp_host = \"h\"\nusername_env = \"U\"",
            &["mail.username_env"],
            None,
        ),
        ("port = 25", &["mail.smtp_host"], None),
        (
            "smtp_host = \"smtp.example.com\"\ntls = \"none\"\nusername_env = \"U\"\npassword_env = \"P\"",
            &["mail.tls"],
            None,
        ),
        (
            "smtp_host = \"127.0.0.1\"\ntls = \"none\"\nusername_env = \"U\"\npassword_env = \"P\"",
            &[],
            Some(TlsMode::None),
        ),
        (
            "smtp_host = \"h\"\ntimeout_secs = 0",
            &["mail.timeout_secs"],
            None,
        ),
    ];
    for (extra, want, tls) in cases {
        let raw: MailRaw =
            toml::from_str(&format!("from = \"t@example.com\"\n{extra}")).expect("toml");
        match raw.compile() {
            Ok(s) => {
                assert!(want.is_empty(), "{extra} compiled but expected {want:?}");
                assert_eq!(s.smtp.as_ref().map(|x| x.tls), *tls, "{extra}");
                assert_eq!(s.spool_dir, PathBuf::from("outbox/mail"));
            }
            Err(errors) => {
                let got: Vec<String> = errors.into_iter().map(|e| e.key).collect();
                assert_eq!(got, *want, "{extra}");
            }
        }
    }
    let bad_from: MailRaw = toml::from_str("from = \"nope\"").expect("toml");
    assert_eq!(
        bad_from.compile().err().map(|e| e[0].key.clone()),
        Some("mail.from".to_string())
    );
    assert!(
        toml::from_str::<MailRaw>("from = \"a@b.c\"\npassword = \"hunter2\"").is_err(),
        "secrets are not config keys"
    );
}
