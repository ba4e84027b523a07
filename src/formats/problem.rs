//! Envelope problems as values (X12 and EDIFACT alike): what is wrong, where, and the
//! acknowledgement code it maps to.

use serde::Serialize;

use crate::formats::x12::codes::Code;
use crate::issue::{Issue, Severity};

/// A position in the file: 1-based segment index (all interchanges counted) and byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pos {
    pub segment: u32,
    pub offset: usize,
}

/// Names one envelope: its 1-based index (interchange in file, group in interchange, set in
/// group) and its control number as written in the header.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ctl {
    pub index: u32,
    pub control: String,
}

/// One envelope problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub code: Code,
    pub severity: Severity,
    pub interchange: Option<Ctl>,
    pub group: Option<Ctl>,
    pub set: Option<Ctl>,
    /// Where the problem shows (the offending segment, or the header of an unclosed envelope).
    pub at: Pos,
    /// The element at fault, e.g. `SE01`, when there is one.
    pub element: Option<String>,
    /// The offending value as found.
    pub value: Option<String>,
    pub message: String,
}

impl Problem {
    /// An error-level problem with no envelope context yet.
    pub fn new(code: Code, at: Pos, message: impl Into<String>) -> Problem {
        Problem {
            code,
            severity: Severity::Error,
            interchange: None,
            group: None,
            set: None,
            at,
            element: None,
            value: None,
            message: message.into(),
        }
    }

    pub fn element(mut self, element: &str, value: &str) -> Problem {
        self.element = Some(element.to_string());
        self.value = Some(value.to_string());
        self
    }

    pub fn warning(mut self) -> Problem {
        self.severity = Severity::Warning;
        self
    }

    /// The `Issue` the rest of Tallyman reports. `line_starts` comes from [`line_starts`]; the
    /// issue's line is the physical line holding the segment.
    pub fn to_issue(&self, file: &str, line_starts: &[usize]) -> Issue {
        let line = line_starts.partition_point(|start| *start <= self.at.offset) as u64;
        let mut issue = Issue::error(
            file,
            &format!("x12-envelope:{}", self.code.label()),
            format!(
                "{} (segment {}, byte {}{}): {}",
                self.message,
                self.at.segment,
                self.at.offset,
                self.context(),
                self.code.description()
            ),
        )
        .at_line(line.max(1));
        if let Some(element) = &self.element {
            issue = issue.in_column(element.clone());
        }
        if let Some(value) = &self.value {
            issue = issue.with_value(value);
        }
        if self.severity == Severity::Warning {
            issue = issue.warning();
        }
        issue
    }

    fn context(&self) -> String {
        let mut out = String::new();
        if let Some(i) = &self.interchange {
            out.push_str(&format!(", interchange {} ISA13 {}", i.index, i.control));
        }
        if let Some(g) = &self.group {
            out.push_str(&format!(", group {} GS06 {}", g.index, g.control));
        }
        if let Some(s) = &self.set {
            out.push_str(&format!(", set {} ST02 {}", s.index, s.control));
        }
        out
    }
}

/// Byte offsets where each physical line starts (for mapping offsets to line numbers). Line
/// breaks are LF, CRLF or a lone CR.
pub fn line_starts(bytes: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    for i in memchr::memchr2_iter(b'\n', b'\r', bytes) {
        let lone_cr = bytes.get(i) == Some(&b'\r') && bytes.get(i + 1) != Some(&b'\n');
        if bytes.get(i) == Some(&b'\n') || lone_cr {
            starts.push(i + 1);
        }
    }
    starts
}

/// All problems as issues for `file`.
pub fn to_issues(file: &str, bytes: &[u8], problems: &[Problem]) -> Vec<Issue> {
    let starts = line_starts(bytes);
    problems.iter().map(|p| p.to_issue(file, &starts)).collect()
}
