//! Whether a rule wants a run's report, table-driven.

use super::*;
use crate::config::report::{ReportRaw, SectionError as ConfigError};
use crate::report::model::{Break, Measure, ReconStatus};
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
        open_items: None,
        orders: None,
        catalog: None,
        schema_drift: None,
    }
}

fn compile_report(toml_text: &str) -> Result<ReportRule, Vec<ConfigError>> {
    let raw: ReportRaw = toml::from_str(toml_text).expect("toml");
    raw.compile("report")
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
