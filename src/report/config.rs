//! What the report does with its configuration: whether a run's report is wanted under the
//! pipeline's `[report]` rule. The sections themselves are compiled by `config` (config/report.rs,
//! config/mail.rs).

use crate::config::report::{ReportRule, SendWhen};

use super::model::RunReport;

impl ReportRule {
    /// Whether this run's report should be mailed under the rule.
    pub fn wants(&self, report: &RunReport) -> bool {
        match &self.when {
            SendWhen::Always => true,
            SendWhen::Problems => report.has_problems(),
            SendWhen::Threshold(t) => {
                t.min_breaks
                    .is_some_and(|n| report.breaks.len() as u64 >= n)
                    || t.min_issues
                        .is_some_and(|n| report.issues.len() as u64 >= n)
                    || t.min_abs_difference
                        .is_some_and(|m| report.breaks.iter().any(|b| b.magnitude() >= m))
            }
        }
    }
}

#[cfg(test)]
mod tests;
