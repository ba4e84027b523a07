//! Data problems as values: one `Issue` per problem found in a partner file.
//!
//! Data problems are never errors (invariant 5): parsers, validators and reconcilers return
//! `Vec<Issue>` alongside their results, and the pipeline decides what an issue does.

use serde::{Deserialize, Serialize};

/// How bad a problem is. `Error` rows are rejected (or the file, by policy); `Warning` rows pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// The longest offending value kept in an issue; longer ones are cut with an ellipsis so that a
/// megabyte-long garbage field cannot blow up a report or the ledger.
pub const MAX_VALUE_CHARS: usize = 80;

/// One problem in one file, located as precisely as the format allows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The file's name as received (never a full local path).
    pub file: String,
    /// 1-based physical line where the record starts; `None` for file-level problems.
    pub line: Option<u64>,
    /// The column (field) name, or a 1-based position as text when the header is unusable.
    pub column: Option<String>,
    /// The offending value, truncated to `MAX_VALUE_CHARS`.
    pub value: Option<String>,
    /// Machine-readable rule name, e.g. `type`, `required`, `field-count`, `foreign-key`.
    pub rule: String,
    pub severity: Severity,
    /// One human sentence saying what is wrong.
    pub message: String,
}

impl Issue {
    pub fn error(file: &str, rule: &str, message: impl Into<String>) -> Issue {
        Issue {
            file: file.to_string(),
            line: None,
            column: None,
            value: None,
            rule: rule.to_string(),
            severity: Severity::Error,
            message: message.into(),
        }
    }

    pub fn at_line(mut self, line: u64) -> Issue {
        self.line = Some(line);
        self
    }

    pub fn in_column(mut self, column: impl Into<String>) -> Issue {
        self.column = Some(column.into());
        self
    }

    pub fn with_value(mut self, value: &str) -> Issue {
        self.value = Some(truncate_value(value));
        self
    }

    pub fn warning(mut self) -> Issue {
        self.severity = Severity::Warning;
        self
    }
}

impl std::fmt::Display for Issue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(column) = &self.column {
            write!(f, " [{column}]")?;
        }
        write!(
            f,
            " {} ({}): {}",
            self.severity.as_str(),
            self.rule,
            self.message
        )?;
        if let Some(value) = &self.value {
            write!(f, " (value {value:?})")?;
        }
        Ok(())
    }
}

/// Cuts a value to `MAX_VALUE_CHARS` characters on a char boundary.
pub fn truncate_value(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_on_a_char_boundary() {
        let long = "é".repeat(200);
        let cut = truncate_value(&long);
        assert_eq!(cut.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_value("short"), "short");
    }
}
