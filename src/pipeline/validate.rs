//! The verdict on validated tables: whether the partner file is taken (its good rows, what was
//! set aside) or rejected (and why), and the good rows of the ERP extract and references,
//! whose problems are our side's (warnings, or a failed run when unusable).

use polars::prelude::*;

use super::prune::prune;
use super::PipelineError;
use crate::config::{OnError, Pipeline};
use crate::engine::needs::Needs;
use crate::issue::{Issue, Severity};
use crate::schema::validate::Validated;

/// What validation decided about the partner file.
#[derive(Debug)]
pub struct Judged {
    /// The file's problems: fatal ones first, then the others in file order, then a trailer's
    /// `control-total` mismatch.
    pub issues: Vec<Issue>,
    /// The data rows the file holds (records the structure pass set aside included).
    pub rows: usize,
    pub verdict: Verdict,
}

/// Taken or rejected.
#[derive(Debug)]
pub enum Verdict {
    /// Quarantined for its data, with the reason.
    Reject(String),
    /// Taken: the good rows (pruned to what is read later) and how many rows were set aside.
    Accept { good: DataFrame, set_aside: usize },
}

/// Judges the validated partner file by the pipeline's rules: a trailer's row count must match
/// (`control_total`), a fatal problem rejects it, and so does any error under
/// `on_error = "reject_file"`; otherwise its rows with errors are set aside. `v` is consumed so
/// that only the good rows are held afterwards.
pub fn judge(
    p: &Pipeline,
    needs: &Needs,
    file: &str,
    mut v: Validated,
    control_total: Option<u64>,
) -> Result<Judged, PipelineError> {
    let structure_aside = v
        .issues
        .iter()
        .filter(|i| i.line.is_some() && i.severity == Severity::Error && is_structure(&i.rule))
        .count();
    let rows = v.rows() + structure_aside;
    let fatal = v
        .fatal
        .first()
        .map(|f| format!("{} ({})", f.message, f.rule));
    let errors = v
        .issues
        .iter()
        .filter(|i| i.severity == Severity::Error)
        .count();
    let mut issues = std::mem::take(&mut v.fatal);
    issues.append(&mut v.issues);
    let reject = |issues, why| {
        Ok(Judged {
            issues,
            rows,
            verdict: Verdict::Reject(why),
        })
    };
    if let Some(want) = control_total.filter(|&n| n != rows as u64) {
        let message = format!("the trailer says {want} data rows; the file holds {rows}");
        issues.push(Issue {
            file: file.to_string(),
            line: None,
            column: None,
            value: None,
            rule: "control-total".into(),
            severity: Severity::Error,
            message: message.clone(),
        });
        return reject(issues, format!("{message} (control-total)"));
    }
    if let Some(why) = fatal {
        return reject(issues, why);
    }
    if errors > 0 && p.on_error == OnError::RejectFile {
        let why = format!("{errors} error(s) in the file; the pipeline rejects files with errors");
        return reject(issues, why);
    }
    let good = v.good_rows()?;
    let set_aside = v.bad_rows.len() + structure_aside;
    // Only the good rows are held from here, so that the later steps' clean-up frees them.
    drop(v);
    let good = prune(p, needs, "input", good)?;
    Ok(Judged {
        issues,
        rows,
        verdict: Verdict::Accept { good, set_aside },
    })
}

/// An ERP extract or reference table (`what` names it in the error), validated: its problems
/// as warnings (they are ours, not the partner's) and its good rows. A fatal problem makes it
/// unusable, which fails the run.
pub fn context_rows(what: &str, v: Validated) -> Result<(Vec<Issue>, DataFrame), PipelineError> {
    if let Some(f) = v.fatal.first() {
        return Err(PipelineError::Unusable {
            what: what.to_string(),
            problem: f.to_string(),
        });
    }
    let good = v.good_rows()?;
    let warnings = v.issues.into_iter().map(Issue::warning).collect();
    Ok((warnings, good))
}

/// Structure problems: their records never reach the parsed table, so they count as rows set
/// aside on top of the table's bad rows.
fn is_structure(rule: &str) -> bool {
    matches!(
        rule,
        "field-count" | "stray-quote" | "unclosed-quote" | "encoding" | "nul-byte"
    )
}
