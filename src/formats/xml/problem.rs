//! XML problems as values (code, byte offset, line, column, element path) and their `Issue`s.

use serde::Serialize;

use crate::issue::{Issue, Severity};

/// Not well-formed: syntax error, mismatched or unclosed tag, text outside the root, truncation.
pub const MALFORMED: &str = "xml:malformed";
/// The bytes do not decode in the encoding found (BOM or declaration), or it is unsupported.
pub const ENCODING: &str = "xml:encoding";
/// The DOCTYPE's internal subset declares entities (billion laughs, external entities): refused.
pub const ENTITY_DECLARED: &str = "xml:entity-declared";
/// A reference to an entity that is neither predefined nor a character reference.
pub const ENTITY_UNDECLARED: &str = "xml:entity-undeclared";
/// Elements nested deeper than `XmlLimits::max_depth`.
pub const TOO_DEEP: &str = "xml:too-deep";
/// More bytes or elements than `XmlLimits` allow.
pub const TOO_LARGE: &str = "xml:too-large";
/// Well-formed, but not a document kind this module knows (root element and namespace).
pub const UNKNOWN_DOCUMENT: &str = "xml:unknown-document";
/// A known document kind that is not mapped to tables (warning).
pub const UNSUPPORTED_DOCUMENT: &str = "xml:unsupported-document";
/// A required element or attribute (the document's ID) is absent or empty.
pub const MISSING_ELEMENT: &str = "xml:missing-element";
/// More problems than `MAX_PROBLEMS` were found; the rest are not listed.
pub const TOO_MANY_PROBLEMS: &str = "xml:too-many-problems";

/// At most this many problems are kept per file, so that a file with millions of bad
/// references cannot turn into millions of values.
pub const MAX_PROBLEMS: usize = 200;

/// A position in the file: `offset` is the 0-based byte offset in the bytes as received (BOM
/// included); `line` and `column` are 1-based, the column counted in characters. Both are 0
/// for `xml:too-large` on the byte size (the bytes are not decoded at all, and `offset` is
/// the limit); a UTF-16 decoding failure points at the start of the text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pos {
    pub offset: usize,
    pub line: u64,
    pub column: u64,
}

/// One problem in an XML document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// One of the `xml:*` constants of this module.
    pub code: &'static str,
    pub severity: Severity,
    #[serde(flatten)]
    pub at: Pos,
    /// Element path such as `/cXML/Request/OrderRequest/ItemOut[2]/ItemID`; attributes as `/@name`.
    pub path: Option<String>,
    pub value: Option<String>,
    pub message: String,
}

impl Problem {
    pub fn new(code: &'static str, at: Pos, message: impl Into<String>) -> Problem {
        Problem {
            code,
            severity: Severity::Error,
            at,
            path: None,
            value: None,
            message: message.into(),
        }
    }

    pub fn path(mut self, path: impl Into<String>) -> Problem {
        self.path = Some(path.into());
        self
    }

    pub fn value(mut self, value: impl Into<String>) -> Problem {
        self.value = Some(crate::issue::truncate_value(&value.into()));
        self
    }

    pub fn warning(mut self) -> Problem {
        self.severity = Severity::Warning;
        self
    }

    /// The `Issue` the rest of Tallyman reports: line = line, column = element path,
    /// rule = code.
    pub fn to_issue(&self, file: &str) -> Issue {
        let mut issue = Issue::error(
            file,
            self.code,
            format!(
                "{} (byte {}, line {}, column {})",
                self.message, self.at.offset, self.at.line, self.at.column
            ),
        );
        // Line 0: the bytes were never decoded, a file-level problem.
        if self.at.line > 0 {
            issue = issue.at_line(self.at.line);
        }
        if let Some(path) = &self.path {
            issue = issue.in_column(path.clone());
        }
        if let Some(value) = &self.value {
            issue = issue.with_value(value);
        }
        if self.severity == Severity::Warning {
            issue = issue.warning();
        }
        issue
    }
}

/// All problems as issues for `file`.
pub fn to_issues(file: &str, problems: &[Problem]) -> Vec<Issue> {
    problems.iter().map(|p| p.to_issue(file)).collect()
}

/// Collects problems up to `MAX_PROBLEMS`, then one `xml:too-many-problems` warning.
#[derive(Debug, Default)]
pub struct Sink {
    pub problems: Vec<Problem>,
    dropped: usize,
}

impl Sink {
    pub fn push(&mut self, p: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.dropped += 1;
        }
    }

    pub fn is_full(&self) -> bool {
        self.problems.len() >= MAX_PROBLEMS
    }

    /// Counts a problem that was not even built because the sink is full.
    pub fn skip(&mut self) {
        self.dropped += 1;
    }

    pub fn finish(mut self) -> Vec<Problem> {
        if self.dropped > 0 {
            let at = self.problems.last().map(|p| p.at).unwrap_or_default();
            self.problems.push(
                Problem::new(
                    TOO_MANY_PROBLEMS,
                    at,
                    format!("{} more problems not listed", self.dropped),
                )
                .warning(),
            );
        }
        self.problems
    }
}
