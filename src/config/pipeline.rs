//! The compiled pipeline: `Pipeline` and the types of its sections that have no file of their
//! own, with the pure computations on them (file names from templates, business dates).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use regex::Regex;

use super::expected::Expected;
use super::report::ReportRule;
use super::schedule::Schedule;
use super::settlement::SettlementInput;
use super::sftp::SftpEndpoint;
use super::source::Source;
use crate::engine::spec::{Reconcile, Transform};
use crate::formats::csv::{Dialect, IfEmpty};
use crate::formats::x12::Ta1Policy;
use crate::schema::TableSchema;

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
    Settlement(SettlementInput),
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
    /// The file; for a catalog reference, the folder of the source's versions.
    pub path: PathBuf,
    /// The catalog source whose accepted version is the table (`runner/process/catalog.rs`
    /// picks the version at the run's start).
    pub catalog: Option<String>,
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
pub struct Output {
    pub table: String,
    pub destination: String,
    pub name: String,
    pub order_by: Vec<String>,
    /// One file per distinct value of this column (`partition_by`), the value in the name's
    /// `{partition}`; `None`: one file.
    pub partition_by: Option<String>,
    pub format: OutputFormat,
    pub on_rerun: OnRerun,
    pub control: Option<Control>,
    pub complete: Option<Complete>,
    /// Columns that identify a row: `key`, else `order_by` (may be empty: the whole row).
    pub key: Vec<String>,
    /// `when_empty = "skip"`: a table with no rows writes no file.
    pub skip_empty: bool,
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

impl Output {
    /// The file's name; `partition` is the file-name form of its `partition_by` value
    /// (`pipeline::partition`), which only a partitioned output's template names.
    pub fn file_name(
        &self,
        pipeline: &str,
        date: chrono::NaiveDate,
        run_id: &str,
        partition: Option<&str>,
    ) -> String {
        expand(
            &self.name,
            &[
                ("pipeline", pipeline.to_string()),
                ("date", date.format("%Y-%m-%d").to_string()),
                ("yyyymmdd", date.format("%Y%m%d").to_string()),
                ("run_id", run_id.to_string()),
                ("partition", partition.unwrap_or_default().to_string()),
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
    /// What the transforms' SQL reads (from its tokens, once, here): the runner drops the rest.
    pub needs: crate::engine::needs::Needs,
    pub outputs: Vec<Output>,
    /// Destinations (outbox folder names) that are also uploaded to an SFTP server.
    pub destinations: BTreeMap<String, SftpEndpoint>,
    /// sha256 of the pipeline file's text, recorded in every run manifest.
    pub config_sha256: String,
    /// The table the report reads its breaks from (`[breaks]`); `None`: the reconcile breaks.
    pub breaks: Option<BreaksTable>,
    /// Who gets the run's exception report, and when (`[report]`); `None`: archived, not mailed.
    pub report: Option<ReportRule>,
    /// When `tallyman serve` runs the pipeline; `None`: whenever files are ready.
    pub schedule: Option<Schedule>,
    /// When the partner's file is due (late-file alerts in `tallyman serve`).
    pub expected: Option<Expected>,
    /// `[group_reconcile]`: many-to-one matching, giving the `grouped` table.
    pub group_reconcile: Option<crate::engine::group_reconcile::GroupSpec>,
    /// `[journal]`: the `journal` table of a settlement input.
    pub journal: Option<crate::engine::journal::Accounts>,
    /// `[open_items]`: the pipeline's breaks kept as open items; `None`: no book.
    pub open_items: Option<crate::engine::open_items::Policy>,
    /// `[orders]`: the input's orders taken once per (channel, order id); `None`: no orders.
    pub orders: Option<crate::engine::orders::Policy>,
    /// `[shipments]`: the input's shipment lines matched to a channel's orders.
    pub shipments: Option<crate::engine::shipments::ShipPolicy>,
    /// `[invoices]`: the input's 810 lines matched to a channel's orders.
    pub invoices: Option<crate::engine::invoices::InvoicePolicy>,
    /// `[returns]`: the input's RMA receipts matched to the ERP's refunds extract.
    pub returns: Option<crate::engine::returns::ReturnPolicy>,
    /// `[settled_orders]`: the channel whose orders a settlement's lines settle.
    pub settled_orders: Option<super::returns::SettledOrders>,
    /// `[catalog]`: the partner file is a catalog, compared with the last accepted one.
    pub catalog: Option<super::catalog::CatalogSpec>,
}

/// Placeholders an output file name may hold (`Output::file_name`).
pub const OUTPUT_PLACEHOLDERS: [&str; 5] = ["pipeline", "date", "yyyymmdd", "run_id", "partition"];
/// Placeholders an ERP extract's file name may hold (`Erp::file_name`).
pub const ERP_PLACEHOLDERS: [&str; 2] = ["date", "yyyymmdd"];

pub(crate) fn expand(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (k, v) in vars {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    out
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
