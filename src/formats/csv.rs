//! Strict CSV: structure checks before any data reaches polars, then polars' parser.
//!
//! polars alone pads short rows with nulls, renames duplicate headers and is lenient with quotes;
//! none of that may pass silently. `check_structure` catches wrong field counts, unclosed or stray
//! quotes, invalid UTF-8, NUL bytes and bad headers, each with its line, and hands polars only
//! well-formed records (bad ones are set aside, so the caller's policy decides their fate).

use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;

use polars::prelude::*;
use serde::Deserialize;

use crate::issue::Issue;

/// A CSV dialect in Frictionless terms (the subset partners actually vary).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
pub struct Dialect {
    pub delimiter: String,
    pub header: bool,
    pub quote_char: String,
    pub double_quote: bool,
    /// Any WHATWG encoding label (utf-8, latin1, windows-1252, utf-16le...).
    pub encoding: String,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: ",".into(),
            header: true,
            quote_char: "\"".into(),
            double_quote: true,
            encoding: "utf-8".into(),
        }
    }
}

impl Dialect {
    /// Checks the dialect; returns every problem found.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.delimiter.len() != 1 {
            out.push(format!(
                "delimiter {:?} must be one ASCII character",
                self.delimiter
            ));
        }
        if self.quote_char.len() != 1 {
            out.push(format!(
                "quoteChar {:?} must be one ASCII character",
                self.quote_char
            ));
        }
        if encoding_rs::Encoding::for_label(self.encoding.as_bytes()).is_none() {
            out.push(format!(
                "encoding {:?} is not a known encoding label",
                self.encoding
            ));
        }
        out
    }

    fn delimiter_byte(&self) -> u8 {
        self.delimiter.as_bytes().first().copied().unwrap_or(b',')
    }

    fn quote_byte(&self) -> u8 {
        self.quote_char.as_bytes().first().copied().unwrap_or(b'"')
    }
}

/// What a table with no data row (0 bytes, or a header alone) is: a partner that sends nothing,
/// or an ERP extract cut short, must not pass as "nothing to do" unless the pipeline says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfEmpty {
    /// An `empty-file` problem: the file is rejected (a partner file) or the run fails.
    #[default]
    Refuse,
    /// An empty table (`allow_empty = true`).
    Allow,
}

impl IfEmpty {
    /// From the `allow_empty` key of a pipeline section.
    pub fn from_allow(allow_empty: bool) -> IfEmpty {
        match allow_empty {
            true => IfEmpty::Allow,
            false => IfEmpty::Refuse,
        }
    }
}

/// Where each data row starts in the original file, for issue line numbers.
#[derive(Debug, Clone, PartialEq)]
pub enum RowLines {
    /// Row `i` starts on line `first + i` (no multi-line records, nothing set aside).
    Contiguous { first: u64 },
    /// Row `i` starts on line `lines[i]`.
    Listed(Vec<u64>),
}

impl RowLines {
    pub fn line(&self, row: usize) -> u64 {
        match self {
            RowLines::Contiguous { first } => first + row as u64,
            RowLines::Listed(lines) => lines.get(row).copied().unwrap_or(0),
        }
    }
}

/// The outcome of the structure pass: a header, well-formed data bytes, and the problems.
#[derive(Debug)]
pub struct Structured<'a> {
    pub header: Vec<String>,
    /// UTF-8 data records only (no header, no BOM), ready for polars.
    pub body: Cow<'a, [u8]>,
    pub rows: usize,
    pub row_lines: RowLines,
    /// Problems with single records (those records are not in `body`).
    pub issues: Vec<Issue>,
    /// A problem that makes the whole file unusable (undecodable, bad header).
    pub fatal: Option<Issue>,
    pub delimiter: u8,
    pub quote: u8,
}

impl Structured<'_> {
    /// The file holds no data record, good or set aside: nothing at all, or a header and blank
    /// lines. Whether that is a problem is the caller's policy ([`IfEmpty`]).
    pub fn is_empty(&self) -> bool {
        self.fatal.is_none() && self.rows == 0 && self.issues.is_empty()
    }
}

/// Runs every structure check over `bytes`. `file` names the file in issues.
///
/// One pass, keeping nothing per record in the common case: when no record is set aside or
/// skipped and none spans lines, the body handed to polars is a slice of the input and line
/// numbers are arithmetic. Only once a record is removed does it collect the kept spans.
pub fn check_structure<'a>(file: &str, bytes: &'a [u8], dialect: &Dialect) -> Structured<'a> {
    let delimiter = dialect.delimiter_byte();
    let quote = dialect.quote_byte();
    let mut out = Structured {
        header: Vec::new(),
        body: Cow::Borrowed(&[]),
        rows: 0,
        row_lines: RowLines::Contiguous { first: 1 },
        issues: Vec::new(),
        fatal: None,
        delimiter,
        quote,
    };
    let text: Cow<'a, [u8]> = match decode(bytes, &dialect.encoding) {
        Ok(t) => cr_endings_to_lf(t),
        Err(message) => {
            out.fatal = Some(Issue::error(file, "encoding", message));
            return out;
        }
    };
    let scanner = Scanner::new(&text, delimiter, quote, dialect.double_quote);
    let mut pos = 0;
    let mut line: u64 = 1;
    if text.is_empty() {
        // No header to check and no data: `is_empty`, the caller's policy decides.
        return out;
    }
    if dialect.header {
        let head = scanner.record(pos);
        if let Some(problem) = head.problem {
            out.fatal = Some(problem.into_issue(file, 1).in_column("header"));
            return out;
        }
        let header = split_fields(&text[head.start..head.end], delimiter, quote);
        if let Err(issue) = check_header_names(file, &header) {
            out.fatal = Some(issue);
            return out;
        }
        out.header = header;
        line += 1 + head.newlines_inside;
        pos = head.next;
    }
    let body_start = pos;
    let first_data_line = line;
    let mut expected = out.header.len();
    // Set once line numbers stop being arithmetic / once a record is left out of the body.
    let mut lines: Option<Vec<u64>> = None;
    let mut spans: Option<Vec<(usize, usize)>> = None;
    if scanner.no_quotes && scanner.clean && expected > 0 {
        if let Some(rows) = count_plain_records(&text[pos..], delimiter, expected) {
            out.rows = rows;
            pos = text.len();
        }
    }
    while pos < text.len() {
        let r = scanner.record(pos);
        let this_line = line;
        line += 1 + r.newlines_inside;
        pos = r.next;
        let blank = r.problem.is_none() && text[r.start..r.end].iter().all(|&b| b == b'\r');
        let problem = if blank {
            None
        } else {
            if expected == 0 {
                expected = r.fields;
            }
            r.problem.or_else(|| {
                (r.fields != expected).then(|| Problem {
                    rule: "field-count",
                    column: None,
                    message: format!("expected {expected} fields, found {}", r.fields),
                })
            })
        };
        if blank || problem.is_some() {
            if let Some(p) = problem {
                out.issues.push(p.into_issue(file, this_line));
            }
            if spans.is_none() {
                // The records before this one, if any: an empty span would put a blank line
                // (a phantom row of nulls) at the top of the body and shift every row after it.
                spans = Some(match r.start > body_start {
                    true => vec![(body_start, r.start)],
                    false => Vec::new(),
                });
            }
            continue;
        }
        let row = out.rows;
        out.rows += 1;
        if lines.is_none() && (this_line != first_data_line + row as u64 || r.newlines_inside > 0) {
            lines = Some((0..row as u64).map(|i| first_data_line + i).collect());
        }
        if let Some(l) = lines.as_mut() {
            l.push(this_line);
        }
        if let Some(s) = spans.as_mut() {
            match s.last_mut() {
                Some(last) if last.1 == r.start => last.1 = r.next,
                _ => s.push((r.start, r.next)),
            }
        }
    }
    out.row_lines = match lines {
        Some(l) => RowLines::Listed(l),
        None => RowLines::Contiguous {
            first: first_data_line,
        },
    };
    out.body = match spans {
        None => slice_cow(text, body_start),
        Some(spans) => {
            let mut body = Vec::with_capacity(spans.iter().map(|(a, b)| b - a + 1).sum());
            for (a, b) in spans {
                body.extend_from_slice(&text[a..b]);
                if !body.ends_with(b"\n") {
                    body.push(b'\n');
                }
            }
            Cow::Owned(body)
        }
    };
    if out.header.is_empty() && !dialect.header {
        out.header = (1..=expected).map(|i| format!("field{i}")).collect();
    }
    out
}

/// The record pass over a body with no quote, no NUL and valid UTF-8, where records are lines:
/// one stretch of lines per core at once. `Some(rows)` when every line holds `expected` fields;
/// `None` when a line is blank or holds another count (the one-by-one pass then reports it,
/// with its line number).
fn count_plain_records(body: &[u8], delimiter: u8, expected: usize) -> Option<usize> {
    let count = |stretch: &[u8]| -> Option<usize> {
        let mut rows = 0;
        let mut start = 0;
        while start < stretch.len() {
            let end = memchr::memchr(b'\n', &stretch[start..]).map_or(stretch.len(), |i| start + i);
            let line = &stretch[start..end];
            if line.iter().all(|&b| b == b'\r')
                || 1 + memchr::memchr_iter(delimiter, line).count() != expected
            {
                return None;
            }
            rows += 1;
            start = end + 1;
        }
        Some(rows)
    };
    on_each_stretch(body, count)
        .into_iter()
        .try_fold(0, |rows, part| Some(rows + part?))
}

/// `f` of each stretch of `text`, one stretch per core at once, in order. Stretches end just
/// after a line break (a whole line and a whole UTF-8 character each); a panic in `f` is
/// propagated.
fn on_each_stretch<T: Send>(text: &[u8], f: impl Fn(&[u8]) -> T + Sync) -> Vec<T> {
    let parts = crate::parallel::cores();
    let mut cuts = vec![0];
    for t in 1..parts {
        let from = (text.len() * t / parts).max(cuts.last().copied().unwrap_or(0));
        let cut = memchr::memchr(b'\n', &text[from..]).map_or(text.len(), |i| from + i + 1);
        cuts.push(cut);
    }
    cuts.push(text.len());
    crate::parallel::on_each_core(parts, |t| f(&text[cuts[t]..cuts[t + 1]]))
}

fn slice_cow(text: Cow<'_, [u8]>, start: usize) -> Cow<'_, [u8]> {
    match text {
        Cow::Borrowed(b) => Cow::Borrowed(&b[start..]),
        Cow::Owned(mut v) => {
            v.drain(..start);
            Cow::Owned(v)
        }
    }
}

/// Old Mac files end lines with a CR alone: with no LF anywhere, each CR ends a line, so they
/// become LFs (a line break inside a quoted value too: it was one). A file holding a LF is left
/// as it is; memchr stops at the first LF, so ordinary files pay nothing for this.
fn cr_endings_to_lf(text: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    if memchr::memchr(b'\n', &text).is_some() || memchr::memchr(b'\r', &text).is_none() {
        return text;
    }
    let mut owned = text.into_owned();
    for b in owned.iter_mut().filter(|b| **b == b'\r') {
        *b = b'\n';
    }
    Cow::Owned(owned)
}

/// Strips a BOM and turns the declared encoding into UTF-8; invalid UTF-8 stays (the record
/// pass reports it with its line).
fn decode<'a>(bytes: &'a [u8], label: &str) -> Result<Cow<'a, [u8]>, String> {
    let encoding = encoding_rs::Encoding::for_label(label.as_bytes())
        .ok_or_else(|| format!("unknown encoding {label:?}"))?;
    if encoding == encoding_rs::UTF_8 {
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        return Ok(Cow::Borrowed(body));
    }
    let (text, _, had_errors) = encoding.decode(bytes);
    if had_errors {
        return Err(format!("the bytes are not valid {}", encoding.name()));
    }
    Ok(Cow::Owned(text.into_owned().into_bytes()))
}

#[derive(Debug, Clone)]
struct Problem {
    rule: &'static str,
    column: Option<usize>,
    message: String,
}

impl Problem {
    fn into_issue(self, file: &str, line: u64) -> Issue {
        let issue = Issue::error(file, self.rule, self.message).at_line(line);
        match self.column {
            Some(c) => issue.in_column(c.to_string()),
            None => issue,
        }
    }
}

/// One physical record: its span without the line ending, where the next one starts, how many
/// line breaks it holds inside quotes, its field count and its first problem.
struct Rec {
    start: usize,
    end: usize,
    next: usize,
    newlines_inside: u64,
    fields: usize,
    problem: Option<Problem>,
}

/// Finds records with the RFC 4180 quoting rules, strictly: a quote may only open a field, must
/// close it, and may only be doubled inside it. A validator over the same rules the csv crate
/// and polars parse with; it is what lets us report the line of a stray quote instead of
/// silently merging records. Whole-buffer checks (no quote, no NUL, valid UTF-8) let the common
/// case count delimiters with memchr alone.
struct Scanner<'t> {
    text: &'t [u8],
    delim: u8,
    quote: u8,
    double_quote: bool,
    no_quotes: bool,
    clean: bool,
}

impl<'t> Scanner<'t> {
    fn new(text: &'t [u8], delim: u8, quote: u8, double_quote: bool) -> Scanner<'t> {
        let flags = on_each_stretch(text, |s| {
            (
                memchr::memchr(quote, s).is_none(),
                memchr::memchr(0, s).is_none() && std::str::from_utf8(s).is_ok(),
            )
        });
        let no_quotes = flags.iter().all(|f| f.0);
        let clean = flags.iter().all(|f| f.1);
        Scanner {
            text,
            delim,
            quote,
            double_quote,
            no_quotes,
            clean,
        }
    }

    fn record(&self, start: usize) -> Rec {
        let text = self.text;
        let (end, next, newlines_inside, fields, problem) = if self.no_quotes {
            let end = memchr::memchr(b'\n', &text[start..]).map_or(text.len(), |i| start + i);
            let fields = 1 + memchr::memchr_iter(self.delim, &text[start..end]).count();
            (end, (end + 1).min(text.len()), 0, fields, None)
        } else {
            scan_quoted(text, start, self.delim, self.quote, self.double_quote)
        };
        let span = &text[start..end];
        let problem = if self.clean {
            problem
        } else {
            problem
                .or_else(|| utf8_problem(span, self.delim))
                .or_else(|| {
                    memchr::memchr(0, span).map(|i| Problem {
                        rule: "nul-byte",
                        column: Some(field_at(span, i, self.delim)),
                        message: "the record holds a NUL byte".into(),
                    })
                })
        };
        let end = if end > start && text[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Rec {
            start,
            end,
            next,
            newlines_inside,
            fields,
            problem,
        }
    }
}

type Scan = (usize, usize, u64, usize, Option<Problem>);

fn scan_quoted(text: &[u8], start: usize, delim: u8, quote: u8, double_quote: bool) -> Scan {
    #[derive(PartialEq)]
    enum S {
        FieldStart,
        Unquoted,
        Quoted,
        AfterQuote,
    }
    let mut state = S::FieldStart;
    let mut fields = 1;
    let mut newlines = 0;
    let mut problem: Option<Problem> = None;
    let mut i = start;
    while i < text.len() {
        let b = text[i];
        match state {
            S::FieldStart | S::Unquoted if b == b'\n' => {
                return (i, i + 1, newlines, fields, problem)
            }
            S::AfterQuote if b == b'\n' => return (i, i + 1, newlines, fields, problem),
            S::FieldStart if b == quote => state = S::Quoted,
            S::FieldStart | S::Unquoted | S::AfterQuote if b == delim => {
                fields += 1;
                state = S::FieldStart;
            }
            S::FieldStart => state = S::Unquoted,
            S::Unquoted if b == quote => {
                problem.get_or_insert(Problem {
                    rule: "stray-quote",
                    column: Some(fields),
                    message: "a quote inside an unquoted field".into(),
                });
            }
            S::Unquoted => {}
            S::Quoted if b == quote => state = S::AfterQuote,
            S::Quoted => {
                if b == b'\n' {
                    newlines += 1;
                }
            }
            S::AfterQuote if b == quote && double_quote => state = S::Quoted,
            S::AfterQuote if b == b'\r' => {}
            S::AfterQuote => {
                problem.get_or_insert(Problem {
                    rule: "stray-quote",
                    column: Some(fields),
                    message: "characters after a closing quote".into(),
                });
                state = S::Unquoted;
            }
        }
        i += 1;
    }
    if state == S::Quoted {
        problem = Some(Problem {
            rule: "unclosed-quote",
            column: Some(fields),
            message: "a quoted field is never closed (it runs to the end of the file)".into(),
        });
    }
    (text.len(), text.len(), newlines, fields, problem)
}

fn utf8_problem(span: &[u8], delim: u8) -> Option<Problem> {
    std::str::from_utf8(span).err().map(|e| Problem {
        rule: "encoding",
        column: Some(field_at(span, e.valid_up_to(), delim)),
        message: format!(
            "invalid UTF-8 at byte {} of the record",
            e.valid_up_to() + 1
        ),
    })
}

/// 1-based field number holding byte `at` (by delimiter count; good enough for a message).
fn field_at(span: &[u8], at: usize, delim: u8) -> usize {
    1 + memchr::memchr_iter(delim, &span[..at.min(span.len())]).count()
}

/// Splits one header record into names, unquoting with the csv crate.
fn split_fields(record: &[u8], delim: u8, quote: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(delim)
        .quote(quote)
        .from_reader(record);
    let mut names = Vec::new();
    if let Some(Ok(r)) = reader.byte_records().next() {
        names = r
            .iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect();
    }
    names
}

#[allow(clippy::result_large_err)]
fn check_header_names(file: &str, header: &[String]) -> Result<(), Issue> {
    let mut seen = std::collections::HashSet::new();
    for (i, name) in header.iter().enumerate() {
        if name.trim().is_empty() {
            return Err(
                Issue::error(file, "header", format!("header field {} is blank", i + 1))
                    .at_line(1)
                    .in_column((i + 1).to_string()),
            );
        }
        if !seen.insert(name.as_str()) {
            return Err(Issue::error(
                file,
                "duplicate-header",
                format!("header `{name}` appears twice"),
            )
            .at_line(1)
            .in_column(name.clone())
            .with_value(name));
        }
    }
    Ok(())
}

/// Parses well-formed records with polars. `dtypes` gives each header column's read type
/// (String or Int64); a value that does not parse becomes null, and the caller compares with a
/// string read of that column to report it.
pub fn read_frame(
    s: &Structured<'_>,
    dtypes: &[DataType],
    null_values: &[String],
) -> PolarsResult<DataFrame> {
    let mut schema = Schema::default();
    for (name, dtype) in s.header.iter().zip(dtypes) {
        schema.with_column(name.as_str().into(), dtype.clone());
    }
    read_with_schema(s, schema, None, null_values)
}

/// Reads only `columns` as strings (to find the raw text of values a typed read refused).
pub fn read_strings(
    s: &Structured<'_>,
    columns: &[String],
    null_values: &[String],
) -> PolarsResult<DataFrame> {
    let mut schema = Schema::default();
    for name in &s.header {
        schema.with_column(name.as_str().into(), DataType::String);
    }
    let picked: Arc<[PlSmallStr]> = columns
        .iter()
        .map(|c| PlSmallStr::from(c.as_str()))
        .collect();
    read_with_schema(s, schema, Some(picked), null_values)
}

fn read_with_schema(
    s: &Structured<'_>,
    schema: Schema,
    columns: Option<Arc<[PlSmallStr]>>,
    null_values: &[String],
) -> PolarsResult<DataFrame> {
    if s.rows == 0 {
        let cols: Vec<Column> = schema
            .iter()
            .filter(|(n, _)| columns.as_ref().is_none_or(|c| c.contains(*n)))
            .map(|(n, d)| Column::full_null(n.clone(), 0, d))
            .collect();
        return DataFrame::new(0, cols);
    }
    let nulls: Vec<PlSmallStr> = null_values
        .iter()
        .map(|v| PlSmallStr::from(v.as_str()))
        .collect();
    let parse = CsvParseOptions::default()
        .with_separator(s.delimiter)
        .with_quote_char(Some(s.quote))
        .with_null_values(Some(NullValues::AllColumns(nulls)))
        .with_missing_is_null(true);
    let mut options = CsvReadOptions::default()
        .with_has_header(false)
        .with_schema(Some(Arc::new(schema)))
        .with_ignore_errors(true)
        .with_parse_options(parse);
    if let Some(cols) = columns {
        options = options.with_columns(Some(cols));
    }
    options
        .into_reader_with_file_handle(Cursor::new(&*s.body))
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Structured<'_> {
        check_structure("f.csv", text.as_bytes(), &Dialect::default())
    }

    /// (input, expected (rule, line, column) of each record problem)
    type Case = (&'static str, &'static [(&'static str, u64, &'static str)]);
    const CASES: &[Case] = &[
        ("a,b\n1,2\n3,4\n", &[]),
        ("a,b\r\n1,2\r\n3,4\r\n", &[]),
        ("\u{feff}a,b\n1,2\n", &[]),
        ("a,b\n1,2\n3\n5,6\n", &[("field-count", 3, "")]),
        ("a,b\n1,2,3\n", &[("field-count", 2, "")]),
        ("a,b\n1,x\"y\n", &[("stray-quote", 2, "2")]),
        ("a,b\n\"1\"x,2\n", &[("stray-quote", 2, "1")]),
        ("a,b\n1,2\n3,\"open\n4,5\n", &[("unclosed-quote", 3, "2")]),
        ("a,b\n1,\"multi\nline\"\n3,4\n", &[]),
        ("a,b\n1,2\n3,\0\n", &[("nul-byte", 3, "2")]),
    ];

    #[test]
    fn structure_problems_carry_rule_line_and_column() {
        for (input, expected) in CASES {
            let s = check(input);
            assert!(s.fatal.is_none(), "{input:?}: {:?}", s.fatal);
            let got: Vec<(String, u64, String)> = s
                .issues
                .iter()
                .map(|i| {
                    (
                        i.rule.clone(),
                        i.line.unwrap(),
                        i.column.clone().unwrap_or_default(),
                    )
                })
                .collect();
            let want: Vec<(String, u64, String)> = expected
                .iter()
                .map(|(r, l, c)| (r.to_string(), *l, c.to_string()))
                .collect();
            assert_eq!(got, want, "input {input:?}");
        }
    }

    /// Large quote-free files are checked a stretch per core: every row is counted once, and a
    /// bad line anywhere (here deep in a later stretch, with CRLF endings and no final line
    /// break) is still reported with its own line number.
    #[test]
    fn large_plain_files_count_every_row_and_place_every_problem() {
        let n = 100_000;
        let rows: Vec<String> = (0..n).map(|i| format!("SKU-{i},{}", i % 7)).collect();
        for (ending, last_break) in [("\n", true), ("\r\n", false)] {
            let mut text = format!("sku,qty{ending}{}", rows.join(ending));
            if last_break {
                text.push_str(ending);
            }
            let s = check(&text);
            assert!(s.issues.is_empty(), "{:?}", s.issues.first());
            assert_eq!(s.rows, n);
            assert_eq!(s.row_lines, RowLines::Contiguous { first: 2 });
            assert_eq!(s.body.len(), text.len() - format!("sku,qty{ending}").len());

            let mut bad = rows.clone();
            bad[70_000] = "SKU-short".into();
            bad[90_000] = String::new();
            let text = format!("sku,qty{ending}{}{ending}", bad.join(ending));
            let s = check(&text);
            let got: Vec<(&str, Option<u64>)> =
                s.issues.iter().map(|i| (i.rule.as_str(), i.line)).collect();
            assert_eq!(got, [("field-count", Some(70_002))]);
            assert_eq!(
                s.rows,
                n - 2,
                "the short row and the blank line are left out"
            );
        }
    }

    #[test]
    fn invalid_utf8_is_reported_with_its_line() {
        let s = check_structure("f.csv", b"a,b\n1,2\n3,\xff\xfe\n", &Dialect::default());
        assert_eq!(s.issues.len(), 1);
        assert_eq!(
            (s.issues[0].rule.as_str(), s.issues[0].line),
            ("encoding", Some(3))
        );
        assert_eq!(s.rows, 1);
    }

    #[test]
    fn latin1_is_decoded_when_declared() {
        let dialect = Dialect {
            encoding: "latin1".into(),
            ..Dialect::default()
        };
        let s = check_structure("f.csv", b"name\ncaf\xe9\n", &dialect);
        assert!(s.issues.is_empty() && s.fatal.is_none());
        assert_eq!(&*s.body, "café\n".as_bytes());
    }

    #[test]
    fn duplicate_and_blank_headers_are_fatal() {
        assert_eq!(
            check("a,b,a\n1,2,3\n").fatal.unwrap().rule,
            "duplicate-header"
        );
        assert_eq!(check("a,,c\n1,2,3\n").fatal.unwrap().rule, "header");
    }

    /// (file, holds no data record): emptiness is a fact here; `runner::tables` applies the
    /// pipeline's `allow_empty` to it.
    const EMPTY_CASES: &[(&str, bool)] = &[
        ("", true),
        ("\u{feff}", true),
        ("a,b", true),
        ("a,b\n", true),
        ("a,b\r\n\r\n", true),
        ("a,b\r", true),
        ("a,b\r\r", true),
        ("a,b\n1\n", false),
        ("a,b\n1,2", false),
        ("a,b\r1,2\r", false),
        ("a,,c\n", false),
    ];

    #[test]
    fn a_header_alone_or_nothing_is_empty() {
        for (input, empty) in EMPTY_CASES {
            assert_eq!(check(input).is_empty(), *empty, "{input:?}");
        }
        let no_header = Dialect {
            header: false,
            ..Dialect::default()
        };
        for (input, empty) in [("", true), ("\n\n", true), ("a,b\n", false)] {
            let s = check_structure("f.csv", input.as_bytes(), &no_header);
            assert_eq!(s.is_empty(), empty, "{input:?} without header");
        }
    }

    /// (lines after the header `a,b`, expected problems (rule, line), expected rows (field
    /// `a`, line)).
    type LineCase = (
        &'static [&'static str],
        &'static [(&'static str, u64)],
        &'static [(&'static str, u64)],
    );
    const LINE_CASES: &[LineCase] = &[
        (&["1,x", "2,y"], &[], &[("1", 2), ("2", 3)]),
        (
            &["1", "2,x", "3,y"],
            &[("field-count", 2)],
            &[("2", 3), ("3", 4)],
        ),
        (
            &["1,x,z", "2,x", "3,y"],
            &[("field-count", 2)],
            &[("2", 3), ("3", 4)],
        ),
        (&["1,x\"y", "2,x"], &[("stray-quote", 2)], &[("2", 3)]),
        (&["\"1\"x,y", "2,x"], &[("stray-quote", 2)], &[("2", 3)]),
        (&["1,x\0", "2,y"], &[("nul-byte", 2)], &[("2", 3)]),
        (&["", "2,x", "3,y"], &[], &[("2", 3), ("3", 4)]),
        (
            &["1", "2", "3,y"],
            &[("field-count", 2), ("field-count", 3)],
            &[("3", 4)],
        ),
        (
            &["1,x", "2", "3,y"],
            &[("field-count", 3)],
            &[("1", 2), ("3", 4)],
        ),
        (
            &["1,x", "2,y", "3"],
            &[("field-count", 4)],
            &[("1", 2), ("2", 3)],
        ),
        (&["1", "2"], &[("field-count", 2), ("field-count", 3)], &[]),
        (
            &["1,\"multi", "line\"", "bad", "4,z"],
            &[("field-count", 4)],
            &[("1", 2), ("4", 5)],
        ),
        (
            &["bad", "1,\"multi", "line\"", "4,z"],
            &[("field-count", 2)],
            &[("1", 3), ("4", 5)],
        ),
    ];

    /// A record left out anywhere (the first data row above all: it once put a blank line at
    /// the top of the body, a phantom row that shifted every line by one) keeps each row's line
    /// and the row count right, and polars reads exactly the kept rows: with LF, CRLF and CR-only
    /// endings, with and without a BOM, with and without a final line break.
    #[test]
    fn left_out_records_never_shift_lines_or_add_rows() {
        for (lines, problems, rows) in LINE_CASES {
            for ending in ["\n", "\r\n", "\r"] {
                for bom in ["", "\u{feff}"] {
                    for last in ["", ending] {
                        let text = format!("{bom}a,b{ending}{}{last}", lines.join(ending));
                        let s = check(&text);
                        assert!(s.fatal.is_none(), "{text:?}: {:?}", s.fatal);
                        let got: Vec<(&str, u64)> = s
                            .issues
                            .iter()
                            .map(|i| (i.rule.as_str(), i.line.unwrap_or(0)))
                            .collect();
                        assert_eq!(got, *problems, "problems of {text:?}");
                        let lines: Vec<u64> = (0..s.rows).map(|r| s.row_lines.line(r)).collect();
                        let want: Vec<u64> = rows.iter().map(|r| r.1).collect();
                        assert_eq!(lines, want, "lines of {text:?}");
                        let df =
                            read_frame(&s, &[DataType::String, DataType::String], &[]).unwrap();
                        let a: Vec<Option<&str>> =
                            df.column("a").unwrap().str().unwrap().iter().collect();
                        let want: Vec<Option<&str>> = rows.iter().map(|r| Some(r.0)).collect();
                        assert_eq!(a, want, "rows polars read from {text:?}");
                    }
                }
            }
        }
    }

    /// Only a file with no LF at all is read as CR-only: a lone CR in a LF file is not a line
    /// break (here it joins two records into one of three fields).
    #[test]
    fn a_lone_cr_ends_a_line_only_in_a_file_without_lf() {
        let s = check("a,b\r1,x\r2,y");
        assert_eq!((s.rows, s.issues.len()), (2, 0));
        let s = check("a,b\n1,x\r2,y\n3,z\n");
        let got: Vec<(&str, Option<u64>)> =
            s.issues.iter().map(|i| (i.rule.as_str(), i.line)).collect();
        assert_eq!(got, [("field-count", Some(2))]);
        assert_eq!(s.row_lines.line(0), 3);
        // A quoted line break in a CR-only file was a line break: it reads as one.
        let s = check("a,b\r1,\"x\ry\"\r2,z\r");
        assert_eq!(s.row_lines, RowLines::Listed(vec![2, 4]));
        let df = read_frame(&s, &[DataType::String, DataType::String], &[]).unwrap();
        assert_eq!(df.column("b").unwrap().str().unwrap().get(0), Some("x\ny"));
    }

    #[test]
    fn set_aside_rows_keep_their_original_line_numbers() {
        let s = check("a,b\n1,2\nbad\n3,\"x\ny\"\n5,6\n");
        assert_eq!(s.rows, 3);
        assert_eq!(s.row_lines, RowLines::Listed(vec![2, 4, 6]));
        let df = read_frame(&s, &[DataType::Int64, DataType::String], &[String::new()]).unwrap();
        assert_eq!(df.height(), 3);
        assert_eq!(df.column("b").unwrap().str().unwrap().get(1), Some("x\ny"));
    }

    #[test]
    fn typed_read_turns_bad_integers_into_nulls() {
        let s = check("a,b\n1,x\nz,2\n");
        let df = read_frame(&s, &[DataType::Int64, DataType::String], &[String::new()]).unwrap();
        assert_eq!(df.column("a").unwrap().null_count(), 1);
        let raw = read_strings(&s, &["a".into()], &[String::new()]).unwrap();
        assert_eq!(raw.column("a").unwrap().str().unwrap().get(1), Some("z"));
    }
}
