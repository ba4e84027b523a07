//! Pipeline files as written: serde types that refuse unknown keys (sections with a file of
//! their own keep their raw type there). `compile` turns them into validated `Pipeline`s.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::formats::csv::Dialect;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineRaw {
    pub description: Option<String>,
    /// IANA zone for business dates taken from arrival time, e.g. "America/New_York".
    #[serde(default = "utc")]
    pub time_zone: String,
    #[serde(default)]
    pub source: SourceRaw,
    pub input: InputRaw,
    #[serde(default)]
    pub business_date: Option<BusinessDateRaw>,
    #[serde(default)]
    pub references: BTreeMap<String, TableFileRaw>,
    pub erp: Option<ErpRaw>,
    pub reconcile: Option<ReconcileRaw>,
    #[serde(default)]
    pub transforms: Vec<TransformRaw>,
    #[serde(default)]
    pub outputs: Vec<OutputRaw>,
    /// Where a destination's files go besides `outbox/<name>/`: `[destinations.<name>.sftp]`.
    #[serde(default)]
    pub destinations: BTreeMap<String, DestinationRaw>,
    /// The table that holds this pipeline's breaks (a SQL transform's, or `breaks`), read
    /// by the report, its subject and `[report] when`.
    pub breaks: Option<BreaksRaw>,
    /// Breaks kept as open items across business dates (config/open_items.rs).
    pub open_items: Option<super::open_items::OpenItemsRaw>,
    /// Orders taken once per (channel, order id) (config/orders.rs).
    pub orders: Option<super::orders::OrdersRaw>,
    /// Shipments matched to a channel's orders (config/orders.rs).
    pub shipments: Option<super::orders::ShipmentsRaw>,
    /// Invoices (810) matched to a channel's orders (config/orders.rs).
    pub invoices: Option<super::orders::InvoicesRaw>,
    /// RMA receipts matched to the ERP's refunds for a channel's orders (config/returns.rs).
    pub returns: Option<super::returns::ReturnsRaw>,
    /// A settlement's lines settle a channel's orders (config/returns.rs).
    pub settled_orders: Option<super::returns::SettledOrdersRaw>,
    /// Exception report mailed after each run (config/report.rs).
    pub report: Option<super::report::ReportRaw>,
    /// Five-field cron expression in `time_zone` for `tallyman serve`; without one the daemon
    /// processes files as soon as they are complete.
    pub schedule: Option<String>,
    /// When the partner's file is due; a late or missing file raises one alert per window.
    pub expected: Option<super::expected::ExpectedRaw>,
    /// Many-to-one matching (settlement lines per order against the ERP).
    pub group_reconcile: Option<super::settlement::GroupReconcileRaw>,
    /// The general-ledger journal of a settlement input.
    pub journal: Option<super::settlement::JournalRaw>,
    /// The partner file is a catalog (config/catalog.rs).
    pub catalog: Option<super::catalog::CatalogRaw>,
}

fn utc() -> String {
    "UTC".into()
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SourceRaw {
    /// Drop folder, relative to the home folder; default `inbox/<pipeline>`.
    pub folder: Option<String>,
    /// Glob on file names; default `*`.
    pub pattern: Option<String>,
    /// Suffix of the partner's done marker, e.g. ".done": when set, only files with one are
    /// taken (a marker older than its file is ignored).
    pub done_marker: Option<String>,
    /// Default 2 s; 60 s for an SFTP source (a network upload may pause that long).
    pub min_age_secs: Option<u64>,
    pub settle_secs: Option<u64>,
    /// The partner's SFTP server instead of a local folder (`folder` is then unused).
    pub sftp: Option<super::sftp::SftpRaw>,
    /// When a file is a duplicate of an earlier one: "content_per_business_date" (default),
    /// "content" (ever) or "name_and_content".
    pub duplicates: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputRaw {
    #[serde(default = "csv")]
    pub format: String,
    pub schema: String,
    /// For `format = "x12"`: which mapped table is the input, e.g. "x12_850_lines".
    pub table: Option<String>,
    /// For `format = "x12"`: the outbox folder 997 acknowledgements are written to.
    pub ack_destination: Option<String>,
    /// For `format = "x12"`: when a TA1 goes with the 997: "requested" (default: when the
    /// partner's ISA14 is 1), "problems" (also for every interchange with a problem) or
    /// "always".
    pub ta1: Option<String>,
    /// "reject_file" (default) or "set_rows_aside".
    pub on_error: Option<String>,
    #[serde(default)]
    pub dialect: Dialect,
    /// A file with no data row (0 bytes, or a header alone) is an empty table rather than an
    /// `empty-file` error.
    #[serde(default)]
    pub allow_empty: bool,
    /// For CSV: a pattern the file's last line must match (the partner's trailer record), e.g.
    /// `'^TRAILER,(?P<rows>\d+)$'`; with a `rows` group, the data rows must number that.
    pub trailer: Option<String>,
    /// For `format = "settlement"`: the layout, footing policy and component overrides.
    pub settlement: Option<super::settlement::SettlementInputRaw>,
}

fn csv() -> String {
    "csv".into()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusinessDateRaw {
    /// Regex over the file name with a named group `date`.
    pub from_name: String,
    /// chrono format of the captured text; default "%Y-%m-%d".
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableFileRaw {
    /// The file, relative to the home; or
    pub file: Option<String>,
    /// an accepted catalog's source (`[catalog] source`): its last version when the run starts
    /// (a rerun reads the version its run read), recorded in the manifest.
    pub catalog: Option<String>,
    pub schema: String,
    #[serde(default)]
    pub dialect: Dialect,
    /// A file with no data row (0 bytes, or a header alone) is an empty table rather than an
    /// `empty-file` error.
    #[serde(default)]
    pub allow_empty: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErpRaw {
    pub folder: String,
    /// File name with `{date}` (YYYY-MM-DD) or `{yyyymmdd}` for the business date.
    pub pattern: String,
    pub schema: String,
    #[serde(default)]
    pub dialect: Dialect,
    /// A file with no data row (0 bytes, or a header alone) is an empty table rather than an
    /// `empty-file` error.
    #[serde(default)]
    pub allow_empty: bool,
    /// How long a partner file waits for its extract (from its arrival) before it is rejected;
    /// default 21600 (6 h), 0 rejects at once.
    pub wait_secs: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReconcileRaw {
    pub keys: Vec<KeyPairRaw>,
    #[serde(default)]
    pub compare: Vec<CompareRaw>,
    #[serde(default)]
    pub carry: CarryRaw,
}

/// Columns copied into the reconciled table as they are (`partner_<name>`, `erp_<name>`), so
/// that a transform needs no second join of the two sides.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CarryRaw {
    #[serde(default)]
    pub partner: Vec<String>,
    #[serde(default)]
    pub erp: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyPairRaw {
    pub partner: String,
    pub erp: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompareRaw {
    pub partner: String,
    pub erp: String,
    /// Exact decimal text, e.g. "0.01".
    pub abs_tolerance: Option<String>,
    /// Exact decimal text, a fraction of the ERP value, e.g. "0.005" for 0.5%.
    pub rel_tolerance: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransformRaw {
    pub name: String,
    pub sql: String,
}

/// A destination's delivery: the files written to `outbox/<name>/` are also uploaded there.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationRaw {
    pub sftp: Option<super::sftp::SftpSinkRaw>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputRaw {
    /// A table: `input`, `erp`, `reconciled`, `breaks`, a reference or a transform's name.
    pub table: String,
    /// Folder under `outbox/`.
    pub destination: String,
    /// Name template: `{pipeline}`, `{date}`, `{yyyymmdd}`, `{run_id}`, and `{partition}`
    /// with `partition_by`.
    pub name: String,
    #[serde(default)]
    pub order_by: Vec<String>,
    /// A column of the table: one file per distinct value, named with it (`{partition}`),
    /// e.g. `"settlement_id"` for a journal per settlement.
    pub partition_by: Option<String>,
    /// "csv" (the default), "x12_940" (warehouse shipping orders) or "x12_846" (inventory
    /// advice): the table written as an X12 interchange (columns: `formats::x12::outbound`).
    pub format: Option<String>,
    /// The parties of an X12 output's envelope.
    pub x12: Option<X12PartyRaw>,
    /// What a rerun does with this output: "changed" (the default: published only when its
    /// bytes differ from what the replayed run wrote), "always" or "never".
    pub on_rerun: Option<String>,
    /// A control file published after (never before) the output: "json" (`NAME.ctl.json`) or
    /// "done" (a `NAME.done` marker holding the same facts as `key=value` lines).
    pub control: Option<String>,
    /// When rows of the partner file were set aside: "withhold" (not published) or
    /// "carry_last_good" (rows of keys it lacks carried from the last published one); by
    /// default it is sent as it is.
    pub complete: Option<String>,
    /// Columns that identify a row (rerun diffs, `carry_last_good`); default `order_by`.
    #[serde(default)]
    pub key: Vec<String>,
    /// "write" (the default: a table with no rows is still a file, header only) or "skip" (no
    /// file: an order file of duplicates sends the 3PL no empty 940).
    pub when_empty: Option<String>,
}

/// Who an X12 output is from and to (ISA05-08, GS02-03); control numbers come from the ledger.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct X12PartyRaw {
    #[serde(default = "zz")]
    pub sender_qualifier: String,
    pub sender: String,
    #[serde(default = "zz")]
    pub receiver_qualifier: String,
    pub receiver: String,
    /// GS02/GS03; default: the ISA IDs.
    pub app_sender: Option<String>,
    pub app_receiver: Option<String>,
    /// ISA15: "P" (production, the default) or "T" (test).
    #[serde(default = "production")]
    pub usage: String,
}

fn zz() -> String {
    "ZZ".into()
}

fn production() -> String {
    "P".into()
}

/// `[breaks]`: which table lists the pipeline's breaks, and which of its columns say what.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreaksRaw {
    /// Any table the pipeline has: a transform's name, `breaks` or `reconciled`.
    pub table: String,
    /// The column naming the kind of break (e.g. `status`).
    pub status: String,
    /// The columns that identify a break (shown in the report, one CSV column each).
    pub key: Vec<String>,
    /// The money column: ranks the breaks and is what `min_abs_difference` compares.
    pub amount: Option<String>,
    /// The column holding the amount's currency code.
    pub currency: Option<String>,
    /// Status values that are not breaks (default: `matched`).
    pub ok: Option<Vec<String>>,
}
