//! A pipeline's `[report]` section: who gets the run's exception report, and when. Raw serde
//! type, then `compile()`; pure, every problem collected at once. Whether a given run's report
//! is wanted is `report`'s business (`ReportRule::wants` in src/report/config.rs).

use lettre::message::Mailbox;
use rust_decimal::Decimal;
use serde::Deserialize;

/// One problem in a report or mail section, naming the key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct SectionError {
    pub key: String,
    pub why: String,
}

pub(crate) fn err(key: impl Into<String>, why: impl Into<String>) -> SectionError {
    SectionError {
        key: key.into(),
        why: why.into(),
    }
}

/// A pipeline's `[report]` section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRaw {
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    /// `always`, `problems` (anything in the report) or `threshold`.
    #[serde(default = "default_when")]
    pub when: String,
    pub threshold: Option<ThresholdRaw>,
    /// Subject template with `{pipeline}`, `{date}` and `{summary}`.
    pub subject: Option<String>,
    /// Issue rules whose warnings the report leaves out (e.g. `x12-envelope:TA105:006` for a
    /// partner that always sends an unpadded ISA); errors are never left out.
    #[serde(default)]
    pub mute: Vec<String>,
}

fn default_when() -> String {
    "problems".to_string()
}

/// Limits for `when = "threshold"`; the report is sent when any one is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRaw {
    pub min_breaks: Option<u64>,
    pub min_issues: Option<u64>,
    /// Absolute money: send when any break's magnitude reaches this (e.g. "100.00").
    pub min_abs_difference: Option<Decimal>,
}

/// When a report is mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendWhen {
    Always,
    Problems,
    Threshold(Threshold),
}

/// Compiled threshold: at least one limit is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    pub min_breaks: Option<u64>,
    pub min_issues: Option<u64>,
    pub min_abs_difference: Option<Decimal>,
}

pub const DEFAULT_SUBJECT: &str = "[tallyman] {pipeline} {date}: {summary}";
const PLACEHOLDERS: [&str; 3] = ["pipeline", "date", "summary"];

/// A pipeline's compiled report rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRule {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub when: SendWhen,
    pub subject: String,
    /// Rules whose warnings are left out of the report (they stay in the ledger and issues.csv).
    pub mute: Vec<String>,
}

impl ReportRaw {
    /// Validates addresses, `when`, threshold and subject template; `prefix` names the section
    /// (e.g. `report`) in error keys.
    pub fn compile(&self, prefix: &str) -> Result<ReportRule, Vec<SectionError>> {
        let mut errors = Vec::new();
        let to = mailboxes(&self.to, &format!("{prefix}.to"), &mut errors);
        let cc = mailboxes(&self.cc, &format!("{prefix}.cc"), &mut errors);
        if self.to.is_empty() {
            errors.push(err(
                format!("{prefix}.to"),
                "at least one recipient is required",
            ));
        }
        let when = match (self.when.as_str(), &self.threshold) {
            ("always", None) => Some(SendWhen::Always),
            ("problems", None) => Some(SendWhen::Problems),
            ("threshold", Some(t)) => {
                if t.min_breaks.is_none()
                    && t.min_issues.is_none()
                    && t.min_abs_difference.is_none()
                {
                    errors.push(err(
                        format!("{prefix}.threshold"),
                        "set at least one of min_breaks, min_issues, min_abs_difference",
                    ));
                }
                // A zero limit would mean "always" in disguise; say so instead.
                for (name, zero) in [
                    ("min_breaks", t.min_breaks == Some(0)),
                    ("min_issues", t.min_issues == Some(0)),
                    (
                        "min_abs_difference",
                        t.min_abs_difference.is_some_and(|d| d <= Decimal::ZERO),
                    ),
                ] {
                    if zero {
                        errors.push(err(
                            format!("{prefix}.threshold.{name}"),
                            "must be above zero (use when = \"always\")",
                        ));
                    }
                }
                Some(SendWhen::Threshold(Threshold {
                    min_breaks: t.min_breaks,
                    min_issues: t.min_issues,
                    min_abs_difference: t.min_abs_difference,
                }))
            }
            ("threshold", None) => {
                errors.push(err(
                    format!("{prefix}.threshold"),
                    "required when when = \"threshold\"",
                ));
                None
            }
            ("always" | "problems", Some(_)) => {
                errors.push(err(
                    format!("{prefix}.threshold"),
                    "only allowed when when = \"threshold\"",
                ));
                None
            }
            (other, _) => {
                errors.push(err(
                    format!("{prefix}.when"),
                    format!("{other:?} is not one of always, problems, threshold"),
                ));
                None
            }
        };
        let subject = self
            .subject
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBJECT.to_string());
        if let Err(why) = check_template(&subject) {
            errors.push(err(format!("{prefix}.subject"), why));
        }
        for (i, rule) in self.mute.iter().enumerate() {
            if rule.trim().is_empty() {
                errors.push(err(
                    format!("{prefix}.mute[{i}]"),
                    "an empty rule mutes nothing",
                ));
            }
        }
        match when {
            Some(when) if errors.is_empty() => Ok(ReportRule {
                to,
                cc,
                when,
                subject,
                mute: self.mute.clone(),
            }),
            _ => Err(errors),
        }
    }
}

fn mailboxes(raw: &[String], key: &str, errors: &mut Vec<SectionError>) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        match text.parse::<Mailbox>() {
            Ok(mb) => out.push(mb),
            Err(e) => errors.push(err(
                format!("{key}[{i}]"),
                format!("{text:?} is not an address: {e}"),
            )),
        }
    }
    out
}

/// Checks that every `{...}` in a subject template is a known placeholder.
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unclosed '{'")?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; use {{pipeline}}, {{date}}, {{summary}}"
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

/// Compiles a pipeline's `[report]` into the shared problem list.
pub(crate) fn compile_section(
    raw: Option<&ReportRaw>,
    errs: &mut super::compile::Errs,
) -> Option<ReportRule> {
    raw.and_then(|r| match r.compile("report") {
        Ok(rule) => Some(rule),
        Err(es) => {
            for e in es {
                errs.add(&e.key, e.why);
            }
            None
        }
    })
}

#[cfg(test)]
mod tests;
