//! Compiling raw pipeline files into validated `Pipeline`s, collecting every problem at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;
use rust_decimal::Decimal;
use sha2::{Digest, Sha256};

use super::raw::*;
use super::ConfigError;
use crate::formats::csv::{Dialect, IfEmpty};
use crate::formats::x12::Ta1Policy;
use crate::schema::TableSchema;
use crate::store::DuplicateRule;
use crate::transport::settle::SettlePolicy;

/// The folders of one Tallyman installation (the project folder for the demo).
#[derive(Debug, Clone)]
pub struct Home {
    pub root: PathBuf,
}

impl Home {
    pub fn new(root: impl Into<PathBuf>) -> Home {
        Home { root: root.into() }
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
    pub fn outbox(&self) -> PathBuf {
        self.root.join("outbox")
    }
    pub fn archive(&self) -> PathBuf {
        self.root.join("archive")
    }
    pub fn quarantine(&self) -> PathBuf {
        self.root.join("quarantine")
    }
    pub fn var(&self) -> PathBuf {
        self.root.join("var")
    }
}

#[derive(Debug, Clone)]
pub struct Source {
    pub folder: PathBuf,
    pub pattern: glob::Pattern,
    pub settle: SettlePolicy,
    /// Files come from this SFTP server rather than the local folder.
    pub sftp: Option<crate::transport::sftp::SftpEndpoint>,
    /// When a file is a duplicate of an earlier one (decided by `Ledger::claim`).
    pub duplicates: DuplicateRule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputFormat {
    Csv,
    /// An X12 interchange; `table` names the mapped table validated as the input
    /// (see `formats::x12::table` for the tables and their columns).
    X12 {
        table: String,
    },
    /// An EDIFACT interchange (`formats::edifact` tables: ORDERS, DESADV, INVRPT).
    Edifact {
        table: String,
    },
    /// A UBL or cXML document (`formats::xml` tables, with the columns of their X12 twins).
    Xml {
        table: String,
    },
    /// A marketplace or processor settlement (`formats::settlement` layouts).
    Settlement(super::settlement::SettlementInput),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Any error rejects the whole file into quarantine.
    RejectFile,
    /// Rows with errors are set aside (listed in the issues) and the rest goes on.
    SetRowsAside,
}

#[derive(Debug, Clone)]
pub enum BusinessDateRule {
    FromName { regex: Regex, format: String },
    ArrivalTime,
}

#[derive(Debug, Clone)]
pub struct TableFile {
    pub path: PathBuf,
    pub schema: TableSchema,
    pub dialect: Dialect,
    pub if_empty: IfEmpty,
}

#[derive(Debug, Clone)]
pub struct Erp {
    pub folder: PathBuf,
    pub pattern: String,
    pub schema: TableSchema,
    pub dialect: Dialect,
    pub if_empty: IfEmpty,
    /// How long a partner file waits for this extract, from its arrival (`runner::erp_wait`).
    pub wait: Duration,
}

/// `[erp] wait_secs` when the pipeline says nothing: an extract is usually a nightly job that
/// may run late by hours; a file waiting longer raises the alert (its rejection).
pub const DEFAULT_ERP_WAIT: Duration = Duration::from_secs(6 * 3600);

impl Erp {
    /// The extract's file name for a business date.
    pub fn file_name(&self, date: chrono::NaiveDate) -> String {
        expand(
            &self.pattern,
            &[
                ("date", date.format("%Y-%m-%d").to_string()),
                ("yyyymmdd", date.format("%Y%m%d").to_string()),
            ],
        )
    }
}

#[derive(Debug, Clone)]
pub struct ComparePair {
    pub partner: String,
    pub erp: String,
    pub abs_tolerance: Decimal,
    pub rel_tolerance: Decimal,
}

#[derive(Debug, Clone)]
pub struct Reconcile {
    /// (partner column, ERP column)
    pub keys: Vec<(String, String)>,
    pub compare: Vec<ComparePair>,
    /// Partner columns copied into the reconciled table as `partner_<name>`.
    pub carry_partner: Vec<String>,
    /// ERP columns copied into the reconciled table as `erp_<name>`.
    pub carry_erp: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Transform {
    pub name: String,
    pub sql: String,
}

#[derive(Debug, Clone)]
pub struct Output {
    pub table: String,
    pub destination: String,
    pub name: String,
    pub order_by: Vec<String>,
    pub format: OutputFormat,
    pub on_rerun: OnRerun,
    pub control: Option<Control>,
    pub complete: Option<Complete>,
    /// Columns that identify a row: `key`, else `order_by` (may be empty: the whole row).
    pub key: Vec<String>,
}

/// What a rerun does with an output (`on_rerun`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRerun {
    /// Published only when its bytes differ from what the replayed run wrote.
    Changed,
    Always,
    Never,
}

/// The control file published after an output (`control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `NAME.ctl.json`.
    Json,
    /// `NAME.done`, with the same facts as `key=value` lines.
    Done,
}

/// What an output that must be complete does when rows were set aside (`complete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Complete {
    /// Not published; the run says which and why.
    Withhold,
    /// Keys it lacks are carried from the last published copy of the same output.
    CarryLastGood,
}

/// Checks an output's rerun, control and completeness keys, collecting problems.
fn output_policies(
    o: &OutputRaw,
    format: &OutputFormat,
    errs: &mut Errs,
) -> (OnRerun, Option<Control>, Option<Complete>) {
    let on_rerun = match o.on_rerun.as_deref().unwrap_or("changed") {
        "changed" => OnRerun::Changed,
        "always" => OnRerun::Always,
        "never" => OnRerun::Never,
        other => {
            errs.add(
                "outputs.on_rerun",
                format!("`{other}` is not one of changed, always, never"),
            );
            OnRerun::Changed
        }
    };
    let control = match o.control.as_deref() {
        None => None,
        Some("json") => Some(Control::Json),
        Some("done") => Some(Control::Done),
        Some(other) => {
            errs.add(
                "outputs.control",
                format!("`{other}` is not one of json, done"),
            );
            None
        }
    };
    let complete = match o.complete.as_deref() {
        None => None,
        Some("withhold") => Some(Complete::Withhold),
        Some("carry_last_good") => Some(Complete::CarryLastGood),
        Some(other) => {
            errs.add(
                "outputs.complete",
                format!("`{other}` is not one of withhold, carry_last_good"),
            );
            None
        }
    };
    if complete == Some(Complete::CarryLastGood) {
        if o.key.is_empty() && o.order_by.is_empty() {
            errs.add(
                "outputs.key",
                format!(
                    "output `{}` carries keys from its last good copy: name its key columns (`key`, or `order_by`)",
                    o.table
                ),
            );
        }
        if *format != OutputFormat::Csv {
            errs.add(
                "outputs.complete",
                "carry_last_good reads the last copy back as CSV: only CSV outputs can carry"
                    .into(),
            );
        }
    }
    (on_rerun, control, complete)
}

/// How an output table is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputFormat {
    Csv,
    X12 {
        document: X12Document,
        party: X12Party,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum X12Document {
    /// 940 warehouse shipping order.
    ShippingOrder,
    /// 846 inventory inquiry/advice.
    InventoryAdvice,
}

/// The validated parties of an X12 output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct X12Party {
    pub sender_qualifier: String,
    pub sender: String,
    pub receiver_qualifier: String,
    pub receiver: String,
    pub app_sender: String,
    pub app_receiver: String,
    pub usage: char,
}

impl X12Party {
    /// The ledger key of the control-number sequence for this partner (shared with the 997s
    /// sent to them): `ISA07:ISA08`.
    pub fn partner_key(&self) -> String {
        format!("{}:{}", self.receiver_qualifier, self.receiver)
    }
}

/// Checks an output's `format` and `[outputs.x12]`, collecting problems under `key`.
fn output_format(o: &OutputRaw, errs: &mut Errs) -> OutputFormat {
    let document = match o.format.as_deref().unwrap_or("csv") {
        "csv" => None,
        "x12_940" => Some(X12Document::ShippingOrder),
        "x12_846" => Some(X12Document::InventoryAdvice),
        other => {
            errs.add(
                "outputs.format",
                format!("`{other}` is not an output format (csv, x12_940, x12_846)"),
            );
            None
        }
    };
    let (Some(document), Some(x)) = (document, &o.x12) else {
        if document.is_some() {
            errs.add(
                "outputs.x12",
                format!(
                    "an {} output needs [outputs.x12] sender and receiver",
                    o.format.as_deref().unwrap_or("")
                ),
            );
        } else if o.x12.is_some() {
            errs.add("outputs.x12", "only X12 outputs have an envelope".into());
        }
        return OutputFormat::Csv;
    };
    let mut ok = true;
    for (key, value, width) in [
        ("outputs.x12.sender_qualifier", &x.sender_qualifier, 2),
        ("outputs.x12.sender", &x.sender, 15),
        ("outputs.x12.receiver_qualifier", &x.receiver_qualifier, 2),
        ("outputs.x12.receiver", &x.receiver, 15),
    ] {
        let plain = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " -_.".contains(c));
        if value.trim().is_empty() || value.chars().count() > width || !plain {
            errs.add(
                key,
                format!("{value:?} must be 1-{width} letters, digits, spaces or -_."),
            );
            ok = false;
        }
    }
    let usage = match x.usage.as_str() {
        "P" => 'P',
        "T" => 'T',
        other => {
            errs.add(
                "outputs.x12.usage",
                format!("{other:?} is not \"P\" or \"T\""),
            );
            ok = false;
            'P'
        }
    };
    if !ok {
        return OutputFormat::Csv;
    }
    OutputFormat::X12 {
        document,
        party: X12Party {
            sender_qualifier: x.sender_qualifier.clone(),
            sender: x.sender.clone(),
            receiver_qualifier: x.receiver_qualifier.clone(),
            receiver: x.receiver.clone(),
            app_sender: x.app_sender.clone().unwrap_or_else(|| x.sender.clone()),
            app_receiver: x.app_receiver.clone().unwrap_or_else(|| x.receiver.clone()),
            usage,
        },
    }
}

impl Output {
    pub fn file_name(&self, pipeline: &str, date: chrono::NaiveDate, run_id: &str) -> String {
        expand(
            &self.name,
            &[
                ("pipeline", pipeline.to_string()),
                ("date", date.format("%Y-%m-%d").to_string()),
                ("yyyymmdd", date.format("%Y%m%d").to_string()),
                ("run_id", run_id.to_string()),
            ],
        )
    }
}

/// `[breaks]`: the table the report reads its breaks from, and its columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreaksTable {
    pub table: String,
    pub status: String,
    pub key: Vec<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    /// Status values of rows that are not breaks.
    pub ok: Vec<String>,
}

impl BreaksTable {
    /// Every column the table must have.
    pub fn columns(&self) -> impl Iterator<Item = &String> {
        std::iter::once(&self.status)
            .chain(&self.key)
            .chain(&self.amount)
            .chain(&self.currency)
    }
}

/// A validated pipeline, ready to run.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub id: String,
    pub description: String,
    pub time_zone: Tz,
    pub source: Source,
    pub format: InputFormat,
    /// Where 997s for received X12 groups go (`outbox/<this>/`).
    pub ack_destination: Option<String>,
    /// When a TA1 goes with them (`input.ta1`).
    pub ta1: Ta1Policy,
    pub schema: TableSchema,
    pub on_error: OnError,
    pub dialect: Dialect,
    /// `[input] allow_empty`: whether a partner file with no data row is an empty table.
    pub if_empty: IfEmpty,
    /// `[input] trailer`: the pattern of the last line that proves a CSV file complete.
    pub trailer: Option<regex::bytes::Regex>,
    pub business_date: BusinessDateRule,
    pub references: BTreeMap<String, TableFile>,
    pub erp: Option<Erp>,
    pub reconcile: Option<Reconcile>,
    pub transforms: Vec<Transform>,
    pub outputs: Vec<Output>,
    /// Destinations (outbox folder names) that are also uploaded to an SFTP server.
    pub destinations: BTreeMap<String, crate::transport::sftp::SftpEndpoint>,
    /// sha256 of the pipeline file's text, recorded in every run manifest.
    pub config_sha256: String,
    /// The table the report reads its breaks from (`[breaks]`); `None`: the reconcile breaks.
    pub breaks: Option<BreaksTable>,
    /// Who gets the run's exception report, and when (`[report]`); `None`: archived, not mailed.
    pub report: Option<crate::report::ReportRule>,
    /// When `tallyman serve` runs the pipeline; `None`: whenever files are ready.
    pub schedule: Option<crate::daemon::schedule::Schedule>,
    /// When the partner's file is due (late-file alerts in `tallyman serve`).
    pub expected: Option<crate::daemon::expected::Expected>,
    /// `[group_reconcile]`: many-to-one matching, giving the `grouped` table.
    pub group_reconcile: Option<crate::engine::group_reconcile::GroupSpec>,
    /// `[journal]`: the `journal` table of a settlement input.
    pub journal: Option<crate::engine::journal::Accounts>,
}

/// The tables an X12 input can be mapped to (`formats::x12::table`).
pub const X12_TABLES: [&str; 12] = [
    "x12_850_header",
    "x12_850_lines",
    "x12_940_header",
    "x12_940_lines",
    "x12_945_header",
    "x12_945_lines",
    "x12_856_lines",
    "x12_846_lines",
    "x12_810_header",
    "x12_810_lines",
    "x12_997_groups",
    "x12_997_sets",
];

/// The tables an EDIFACT input can be mapped to (`formats::edifact`).
pub const EDIFACT_TABLES: [&str; 4] = [
    "edifact_orders_header",
    "edifact_orders_lines",
    "edifact_desadv_lines",
    "edifact_invrpt_lines",
];

/// The tables an XML input can be mapped to (`formats::xml`).
pub const XML_TABLES: [&str; 3] = ["xml_order_header", "xml_order_lines", "xml_ship_lines"];

/// Names a SQL transform or output may use besides references and transforms.
pub const BUILTIN_TABLES: [&str; 4] = ["input", "erp", "reconciled", "breaks"];

struct Errs {
    file: String,
    list: Vec<ConfigError>,
}

impl Errs {
    fn add(&mut self, key: &str, why: String) {
        self.list.push(ConfigError {
            file: self.file.clone(),
            key: key.to_string(),
            why,
        });
    }
}

fn schema_of(
    e: &mut Errs,
    home: &Home,
    schemas: &BTreeMap<String, TableSchema>,
    key: &str,
    name: &str,
) -> Option<TableSchema> {
    let found = schemas.get(name).cloned();
    if found.is_none() {
        let why = if home.path(&format!("schemas/{name}.json")).is_file() {
            format!("schema `{name}` is invalid (its problems in schemas/{name}.json are listed with the schemas)")
        } else {
            format!("schema `{name}` is not in schemas/ (looked for schemas/{name}.json)")
        };
        e.add(key, why);
    }
    found
}

/// Placeholders an output file name may hold (`Output::file_name`).
pub const OUTPUT_PLACEHOLDERS: [&str; 4] = ["pipeline", "date", "yyyymmdd", "run_id"];
/// Placeholders an ERP extract's file name may hold (`Erp::file_name`).
pub const ERP_PLACEHOLDERS: [&str; 2] = ["date", "yyyymmdd"];

/// Why `template` would not expand into the intended name: each `{name}` that is not one of
/// `known`, and a `{` with no `}` (either would be written into the file name as is).
fn placeholder_problems(template: &str, known: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push(format!("`{template}` has a `{{` with no `}}`"));
            break;
        };
        let name = &after[..close];
        if !known.contains(&name) {
            out.push(format!(
                "`{{{name}}}` in `{template}` is not a placeholder (known: {})",
                known
                    .iter()
                    .map(|k| format!("{{{k}}}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        rest = &after[close + 1..];
    }
    out
}

fn expand(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
}

/// Compiles one pipeline. `shown` names the file in errors; `text` is hashed for manifests.
pub fn compile(
    id: &str,
    shown: &str,
    raw: PipelineRaw,
    schemas: &BTreeMap<String, TableSchema>,
    home: &Home,
    text: &str,
) -> Result<Pipeline, Vec<ConfigError>> {
    let mut errs = Errs {
        file: shown.to_string(),
        list: Vec::new(),
    };
    let time_zone: Tz = raw.time_zone.parse().unwrap_or_else(|_| {
        errs.add(
            "time_zone",
            format!("`{}` is not an IANA time zone", raw.time_zone),
        );
        Tz::UTC
    });
    let folder = raw
        .source
        .folder
        .clone()
        .unwrap_or_else(|| format!("inbox/{id}"));
    let folder_path = home.path(&folder);
    let sftp = raw.source.sftp.as_ref().and_then(|s| match s.compile() {
        Ok(ep) => Some(ep),
        Err(es) => {
            for e in es {
                errs.add(&format!("source.sftp.{}", e.key), e.why);
            }
            None
        }
    });
    if raw.source.sftp.is_none() && !folder_path.is_dir() {
        errs.add("source.folder", format!("folder `{folder}` does not exist"));
    }
    let pattern = raw.source.pattern.as_deref().unwrap_or("*");
    let pattern = glob::Pattern::new(pattern).unwrap_or_else(|e| {
        errs.add(
            "source.pattern",
            format!("`{pattern}` is not a valid glob: {e}"),
        );
        glob::Pattern::new("*").expect("literal glob")
    });
    // SFTP sources wait for a network upload's quiet time by default (see
    // `SettlePolicy::sftp_default`); local drops keep the short defaults.
    let defaults = if raw.source.sftp.is_some() {
        SettlePolicy::sftp_default()
    } else {
        SettlePolicy::default()
    };
    let settle = SettlePolicy {
        min_age: raw
            .source
            .min_age_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.min_age),
        settle: raw
            .source
            .settle_secs
            .map(Duration::from_secs)
            .unwrap_or(defaults.settle),
        done_marker: raw.source.done_marker.clone(),
    };
    let duplicates = match raw.source.duplicates.as_deref() {
        None => DuplicateRule::default(),
        Some(text) => DuplicateRule::parse(text).unwrap_or_else(|| {
            errs.add(
                "source.duplicates",
                format!(
                    "`{text}` is not one of content_per_business_date, content, name_and_content"
                ),
            );
            DuplicateRule::default()
        }),
    };
    let schema = schema_of(&mut errs, home, schemas, "input.schema", &raw.input.schema);
    let mut references = BTreeMap::new();
    let mut reference_problems = Vec::new();
    for (name, r) in &raw.references {
        let s = schema_of(
            &mut errs,
            home,
            schemas,
            &format!("references.{name}.schema"),
            &r.schema,
        );
        if !home.path(&r.file).is_file() {
            reference_problems.push((
                format!("references.{name}.file"),
                format!("file `{}` does not exist", r.file),
            ));
        }
        if let Some(s) = s {
            references.insert(
                name.clone(),
                TableFile {
                    path: home.path(&r.file),
                    schema: s,
                    dialect: r.dialect.clone(),
                    if_empty: IfEmpty::from_allow(r.allow_empty),
                },
            );
        }
    }
    let erp = raw.erp.as_ref().and_then(|e| {
        let s = schema_of(&mut errs, home, schemas, "erp.schema", &e.schema);
        if !home.path(&e.folder).is_dir() {
            reference_problems.push((
                "erp.folder".into(),
                format!("folder `{}` does not exist", e.folder),
            ));
        }
        s.map(|schema| Erp {
            folder: home.path(&e.folder),
            pattern: e.pattern.clone(),
            schema,
            dialect: e.dialect.clone(),
            if_empty: IfEmpty::from_allow(e.allow_empty),
            wait: e.wait_secs.map_or(DEFAULT_ERP_WAIT, Duration::from_secs),
        })
    });
    if let Some(e) = &raw.erp {
        for why in placeholder_problems(&e.pattern, &ERP_PLACEHOLDERS) {
            reference_problems.push(("erp.pattern".into(), why));
        }
    }
    for (k, why) in reference_problems {
        errs.add(&k, why);
    }
    for (key, d) in std::iter::once(("input.dialect".to_string(), &raw.input.dialect))
        .chain(
            raw.references
                .iter()
                .map(|(n, r)| (format!("references.{n}.dialect"), &r.dialect)),
        )
        .chain(
            raw.erp
                .iter()
                .map(|e| ("erp.dialect".to_string(), &e.dialect)),
        )
    {
        for p in d.problems() {
            errs.add(&key, p);
        }
    }
    let format = match (raw.input.format.as_str(), &raw.input.table) {
        ("csv", None) => InputFormat::Csv,
        ("csv", Some(_)) => {
            errs.add(
                "input.table",
                "only X12, EDIFACT and XML inputs name a table".into(),
            );
            InputFormat::Csv
        }
        (kind @ ("x12" | "edifact" | "xml"), table) => {
            let known: &[&str] = match kind {
                "x12" => &X12_TABLES,
                "edifact" => &EDIFACT_TABLES,
                _ => &XML_TABLES,
            };
            match table {
                Some(t) if known.contains(&t.as_str()) => {
                    let table = t.clone();
                    match kind {
                        "x12" => InputFormat::X12 { table },
                        "edifact" => InputFormat::Edifact { table },
                        _ => InputFormat::Xml { table },
                    }
                }
                other => {
                    let what = other
                        .as_ref()
                        .map_or(format!("an {kind} input needs `table`"), |t| {
                            format!("`{t}` is not an {kind} table")
                        });
                    errs.add(
                        "input.table",
                        format!("{what} (one of {})", known.join(", ")),
                    );
                    InputFormat::Csv
                }
            }
        }
        ("settlement", table) => {
            let mut problems = Vec::new();
            let s = super::settlement::compile_input(
                table.as_deref(),
                raw.input.settlement.as_ref(),
                &mut problems,
            );
            for (k, why) in problems {
                errs.add(&k, why);
            }
            s.map_or(InputFormat::Csv, InputFormat::Settlement)
        }
        (other, _) => {
            errs.add(
                "input.format",
                format!(
                    "`{other}` is not a format (supported: csv, x12, edifact, xml, settlement)"
                ),
            );
            InputFormat::Csv
        }
    };
    if let Some(d) = &raw.input.ack_destination {
        if raw.input.format != "x12" {
            errs.add(
                "input.ack_destination",
                "only X12 inputs are acknowledged with a 997".into(),
            );
        }
        if d.contains("..") || d.contains('/') || d.is_empty() {
            errs.add(
                "input.ack_destination",
                format!("`{d}` must be a plain folder name under outbox/"),
            );
        }
    }
    let ta1 = match raw.input.ta1.as_deref() {
        None | Some("requested") => Ta1Policy::Requested,
        Some("problems") => Ta1Policy::Problems,
        Some("always") => Ta1Policy::Always,
        Some(other) => {
            errs.add(
                "input.ta1",
                format!("`{other}` is not one of requested, problems, always"),
            );
            Ta1Policy::Requested
        }
    };
    if raw.input.ta1.is_some() && raw.input.format != "x12" {
        errs.add(
            "input.ta1",
            "only X12 inputs are acknowledged with a TA1".into(),
        );
    }
    let on_error = match raw.input.on_error.as_deref().unwrap_or("reject_file") {
        "reject_file" => OnError::RejectFile,
        "set_rows_aside" => OnError::SetRowsAside,
        other => {
            errs.add(
                "input.on_error",
                format!("`{other}` is not one of reject_file, set_rows_aside"),
            );
            OnError::RejectFile
        }
    };
    let business_date = match &raw.business_date {
        None => BusinessDateRule::ArrivalTime,
        Some(b) => match Regex::new(&b.from_name) {
            Ok(re) if re.capture_names().any(|n| n == Some("date")) => BusinessDateRule::FromName {
                regex: re,
                format: b.format.clone().unwrap_or_else(|| "%Y-%m-%d".into()),
            },
            Ok(_) => {
                errs.add(
                    "business_date.from_name",
                    "the pattern needs a named group `(?P<date>...)`".into(),
                );
                BusinessDateRule::ArrivalTime
            }
            Err(e) => {
                errs.add("business_date.from_name", format!("invalid regex: {e}"));
                BusinessDateRule::ArrivalTime
            }
        },
    };
    let reconcile = raw.reconcile.as_ref().map(|r| {
        if erp.is_none() && raw.erp.is_none() {
            errs.add("reconcile", "reconcile needs an [erp] extract".into());
        }
        if r.keys.is_empty() {
            errs.add("reconcile.keys", "at least one key pair is needed".into());
        }
        for k in &r.keys {
            if let Some(s) = &schema {
                if s.field(&k.partner).is_none() {
                    errs.add(
                        "reconcile.keys",
                        format!(
                            "partner column `{}` is not in schema `{}`",
                            k.partner, s.name
                        ),
                    );
                }
            }
            if let Some(e) = &erp {
                if e.schema.field(&k.erp).is_none() {
                    errs.add(
                        "reconcile.keys",
                        format!(
                            "ERP column `{}` is not in schema `{}`",
                            k.erp, e.schema.name
                        ),
                    );
                }
            }
        }
        let mut compare = Vec::new();
        for c in &r.compare {
            let mut tol = |key: &str, v: &Option<String>| -> Decimal {
                match v.as_deref().map(str::parse::<Decimal>) {
                    None => Decimal::ZERO,
                    Some(Ok(d)) if d >= Decimal::ZERO => d,
                    _ => {
                        errs.add(
                            key,
                            format!(
                                "`{}` is not a non-negative decimal",
                                v.as_deref().unwrap_or_default()
                            ),
                        );
                        Decimal::ZERO
                    }
                }
            };
            let abs_tolerance = tol("reconcile.compare.abs_tolerance", &c.abs_tolerance);
            let rel_tolerance = tol("reconcile.compare.rel_tolerance", &c.rel_tolerance);
            compare.push(ComparePair {
                partner: c.partner.clone(),
                erp: c.erp.clone(),
                abs_tolerance,
                rel_tolerance,
            });
        }
        for c in &r.carry.partner {
            let clash = compare.iter().any(|p| &p.partner == c);
            match &schema {
                Some(s) if s.field(c).is_none() => errs.add(
                    "reconcile.carry.partner",
                    format!("partner column `{c}` is not in schema `{}`", s.name),
                ),
                _ if clash => errs.add(
                    "reconcile.carry.partner",
                    format!("`{c}` is compared already (its `partner_{c}` column exists)"),
                ),
                _ => {}
            }
        }
        for c in &r.carry.erp {
            let clash = compare.iter().any(|p| &p.erp == c);
            match &erp {
                Some(e) if e.schema.field(c).is_none() => errs.add(
                    "reconcile.carry.erp",
                    format!("ERP column `{c}` is not in schema `{}`", e.schema.name),
                ),
                _ if clash => errs.add(
                    "reconcile.carry.erp",
                    format!("`{c}` is compared already (its `erp_{c}` column exists)"),
                ),
                _ => {}
            }
        }
        Reconcile {
            keys: r
                .keys
                .iter()
                .map(|k| (k.partner.clone(), k.erp.clone()))
                .collect(),
            compare,
            carry_partner: r.carry.partner.clone(),
            carry_erp: r.carry.erp.clone(),
        }
    });
    let mut tables: Vec<String> = BUILTIN_TABLES.iter().map(|s| s.to_string()).collect();
    tables.extend(raw.references.keys().cloned());
    tables.extend(super::settlement::tables(&raw));
    for t in &raw.transforms {
        if tables.contains(&t.name) {
            errs.add(
                "transforms.name",
                format!("`{}` is already a table name", t.name),
            );
        }
        tables.push(t.name.clone());
    }
    let mut formats = Vec::new();
    for o in &raw.outputs {
        let format = output_format(o, &mut errs);
        let policies = output_policies(o, &format, &mut errs);
        formats.push((format, policies));
        if !tables.contains(&o.table) {
            errs.add(
                "outputs.table",
                format!(
                    "`{}` is not a table (known: {})",
                    o.table,
                    tables.join(", ")
                ),
            );
        }
        if o.destination.contains("..")
            || o.destination.starts_with('/')
            || o.destination.is_empty()
        {
            errs.add(
                "outputs.destination",
                format!(
                    "`{}` must be a plain folder name under outbox/",
                    o.destination
                ),
            );
        }
        if o.name.contains('/') || o.name.is_empty() {
            errs.add(
                "outputs.name",
                format!("`{}` must be a file name template without `/`", o.name),
            );
        }
        for why in placeholder_problems(&o.name, &OUTPUT_PLACEHOLDERS) {
            errs.add("outputs.name", why);
        }
    }
    let breaks = raw.breaks.as_ref().map(|b| {
        if !tables.contains(&b.table) {
            errs.add(
                "breaks.table",
                format!(
                    "`{}` is not a table (known: {})",
                    b.table,
                    tables.join(", ")
                ),
            );
        }
        if b.key.is_empty() {
            errs.add("breaks.key", "name at least one key column".into());
        }
        BreaksTable {
            table: b.table.clone(),
            status: b.status.clone(),
            key: b.key.clone(),
            amount: b.amount.clone(),
            currency: b.currency.clone(),
            ok: b.ok.clone().unwrap_or_else(|| vec!["matched".into()]),
        }
    });
    let report = raw.report.as_ref().and_then(|r| match r.compile("report") {
        Ok(rule) => Some(rule),
        Err(es) => {
            for e in es {
                errs.add(&e.key, e.why);
            }
            None
        }
    });
    let schedule = raw.schedule.as_deref().and_then(|expr| {
        crate::daemon::schedule::Schedule::parse(expr, &raw.time_zone)
            .map_err(|e| errs.add("schedule", e.to_string()))
            .ok()
    });
    let expected = raw.expected.as_ref().and_then(|x| {
        x.compile()
            .map_err(|es| {
                for e in es {
                    let text = e.to_string();
                    let (key, why) = text.split_once(": ").unwrap_or(("expected", &text));
                    errs.add(key, why.to_string());
                }
            })
            .ok()
    });
    let mut destinations = BTreeMap::new();
    for (name, d) in &raw.destinations {
        let used = raw.outputs.iter().any(|o| &o.destination == name)
            || raw.input.ack_destination.as_ref() == Some(name);
        if !used {
            errs.add(
                &format!("destinations.{name}"),
                "no output and no input.ack_destination writes to this destination".into(),
            );
        }
        match d.sftp.as_ref().map(|s| s.compile()) {
            Some(Ok(ep)) => {
                destinations.insert(name.clone(), ep);
            }
            Some(Err(es)) => {
                for e in es {
                    errs.add(&format!("destinations.{name}.sftp.{}", e.key), e.why);
                }
            }
            None => errs.add(
                &format!("destinations.{name}"),
                "says nothing: give it a [destinations.<name>.sftp] table".into(),
            ),
        }
    }
    let trailer = match &raw.input.trailer {
        None => None,
        Some(_) if raw.input.format != "csv" => {
            errs.add(
                "input.trailer",
                "a trailer is for CSV input (X12, EDIFACT and XML carry their own control totals)"
                    .into(),
            );
            None
        }
        Some(t) => match regex::bytes::Regex::new(t) {
            Ok(re) => Some(re),
            Err(e) => {
                errs.add("input.trailer", format!("invalid regex: {e}"));
                None
            }
        },
    };
    // Settlement sections (config/settlement.rs).
    let (group_reconcile, journal) = {
        let mut problems = Vec::new();
        let group = raw
            .group_reconcile
            .as_ref()
            .map(|g| super::settlement::compile_group(g, &mut problems));
        if group.is_some() && raw.erp.is_none() {
            problems.push(("group_reconcile".into(), "needs an [erp] extract".into()));
        }
        let journal = raw
            .journal
            .as_ref()
            .map(|j| super::settlement::compile_journal(j, &mut problems));
        let settlement = matches!(format, InputFormat::Settlement(_));
        if journal.is_some() && !settlement {
            problems.push(("journal".into(), "needs a settlement input".into()));
        }
        if raw.input.settlement.is_some() && raw.input.format != "settlement" {
            problems.push((
                "input.settlement".into(),
                "only `format = \"settlement\"` reads a settlement layout".into(),
            ));
        }
        for (k, why) in problems {
            errs.add(&k, why);
        }
        (group, journal)
    };
    if !errs.list.is_empty() {
        return Err(errs.list);
    }
    let schema = schema.expect("errors were returned above when the schema is missing");
    Ok(Pipeline {
        id: id.to_string(),
        description: raw.description.unwrap_or_default(),
        time_zone,
        source: Source {
            folder: folder_path,
            pattern,
            settle,
            sftp,
            duplicates,
        },
        format,
        ack_destination: raw.input.ack_destination.clone(),
        ta1,
        schema,
        on_error,
        dialect: raw.input.dialect,
        if_empty: IfEmpty::from_allow(raw.input.allow_empty),
        trailer,
        business_date,
        references,
        erp,
        reconcile,
        transforms: raw
            .transforms
            .into_iter()
            .map(|t| Transform {
                name: t.name,
                sql: t.sql,
            })
            .collect(),
        outputs: raw
            .outputs
            .into_iter()
            .zip(formats)
            .map(|(o, (format, (on_rerun, control, complete)))| Output {
                key: match o.key.is_empty() {
                    true => o.order_by.clone(),
                    false => o.key,
                },
                table: o.table,
                destination: o.destination,
                name: o.name,
                order_by: o.order_by,
                format,
                on_rerun,
                control,
                complete,
            })
            .collect(),
        destinations,
        schedule,
        expected,
        config_sha256: hex::encode(Sha256::digest(text.as_bytes())),
        breaks,
        report,
        group_reconcile,
        journal,
    })
}

/// The business date a file belongs to: from its name when the pipeline says so, else the
/// arrival instant's date in the pipeline's time zone.
pub fn business_date(
    rule: &BusinessDateRule,
    tz: Tz,
    name: &str,
    arrived: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::NaiveDate, String> {
    match rule {
        BusinessDateRule::ArrivalTime => Ok(arrived.with_timezone(&tz).date_naive()),
        BusinessDateRule::FromName { regex, format } => {
            let caps = regex
                .captures(name)
                .and_then(|c| c.name("date"))
                .ok_or_else(|| {
                    format!(
                        "the file name does not match the business date pattern {}",
                        regex.as_str()
                    )
                })?;
            chrono::NaiveDate::parse_from_str(caps.as_str(), format)
                .map_err(|e| format!("`{}` is not a date in format {format}: {e}", caps.as_str()))
        }
    }
}

/// Is this path's folder under the given root (for refusing `..` in configured paths)?
pub fn is_inside(root: &Path, path: &Path) -> bool {
    path.starts_with(root)
}

#[cfg(test)]
mod placeholder_tests {
    use super::*;

    #[test]
    fn unknown_and_unclosed_placeholders_are_named() {
        assert!(
            placeholder_problems("atp_{yyyymmdd}_{run_id}.csv", &OUTPUT_PLACEHOLDERS).is_empty()
        );
        let found = placeholder_problems("atp_{yyyymmddd}.csv", &OUTPUT_PLACEHOLDERS);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("`{yyyymmddd}`"), "{found:?}");
        assert_eq!(
            placeholder_problems("atp_{date.csv", &OUTPUT_PLACEHOLDERS).len(),
            1
        );
        assert_eq!(
            placeholder_problems("erp_{run_id}.csv", &ERP_PLACEHOLDERS).len(),
            1
        );
    }
}
