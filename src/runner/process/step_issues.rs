//! What the order steps (intake, shipments, invoices, returns) share: the file line of each
//! row of a CSV input, a warning per (order, SKU) that is not as it should be, at its file
//! line, and the count of each status in the manifest's reconciliation counts.

use std::collections::BTreeMap;

use super::Run;
use crate::issue::{Issue, Severity};

impl Run<'_> {
    /// The file line of each of the input's `rows` good rows: the rows validation set aside
    /// (this file's errors) leave their lines out.
    pub(super) fn good_row_lines(&self, rows: usize) -> Vec<u64> {
        let own: Vec<Issue> = self
            .issues
            .iter()
            .filter(|i| i.file == self.file && i.severity == Severity::Error)
            .cloned()
            .collect();
        crate::pipeline::catalog::good_lines(rows, &own)
    }

    /// A warning `rule` on SKU `sku`, at file line `line` when the step knows it (0: it does
    /// not, as for an order seen only in the ledger).
    pub(super) fn sku_warning(&mut self, rule: &str, message: String, sku: &str, line: u64) {
        let mut issue = Issue::error(&self.file, rule, message)
            .in_column("sku")
            .with_value(sku)
            .warning();
        if line > 0 {
            issue = issue.at_line(line);
        }
        self.issues.push(issue);
    }

    /// `<prefix>_<status>` counted over the step's rows, into the manifest.
    pub(super) fn count_statuses<'s>(
        &mut self,
        prefix: &str,
        statuses: impl IntoIterator<Item = &'s str>,
    ) {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for status in statuses {
            *counts.entry(format!("{prefix}_{status}")).or_default() += 1;
        }
        self.manifest.reconciliation.extend(counts);
    }
}
