//! Orders taken once: the canonical `orders` and `order_lines` of any order format (X12 850,
//! EDIFACT ORDERS, UBL/cXML, CSV layouts), each order judged against what the ledger already
//! took under the same (channel, order id): new, duplicate, amendment, or rejected for its
//! lines. Pure: the runner reads the ledger and passes what it knows in (`Known`), and records
//! what comes out in the run's closing transaction.

mod atp;
mod intake;
mod read;
mod tables;

#[cfg(test)]
mod tests;

pub use atp::{allocate, AtpSource};
pub use intake::{content_hash, intake, Fault, Intake, Known, Reject, Taken, Verdict};
pub use read::{read_orders, read_orders_at, Read};
pub use tables::{tables, TABLES};

/// Why orders could not be read from a table.
#[derive(Debug, thiserror::Error)]
pub enum OrdersError {
    /// The input lacks a column the layout reads.
    #[error("the {layout} layout needs a column `{column}` in the input")]
    MissingColumn {
        layout: &'static str,
        column: &'static str,
    },
    #[error(transparent)]
    Data(#[from] polars::prelude::PolarsError),
}

/// Where an order's fields are in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `x12_850_lines`, with `x12_850_header` for the order's date, currency and ship-to.
    X12_850,
    /// `edifact_orders_lines`, with `edifact_orders_header`.
    EdifactOrders,
    /// `xml_order_lines` (UBL Order, cXML OrderRequest), with `xml_order_header`.
    XmlOrder,
    /// The Shopify orders export: one row per line item, the order's fields on its first row.
    ShopifyCsv,
    /// A plain CSV: one row per line, every column named as in `order_lines` and `orders`.
    PlainCsv,
}

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::X12_850,
        Layout::EdifactOrders,
        Layout::XmlOrder,
        Layout::ShopifyCsv,
        Layout::PlainCsv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Layout::X12_850 => "x12_850",
            Layout::EdifactOrders => "edifact_orders",
            Layout::XmlOrder => "xml_order",
            Layout::ShopifyCsv => "shopify_csv",
            Layout::PlainCsv => "plain_csv",
        }
    }

    /// The mapped table a document layout's input must be (CSV layouts: none).
    pub fn lines_table(self) -> Option<&'static str> {
        match self {
            Layout::X12_850 => Some("x12_850_lines"),
            Layout::EdifactOrders => Some("edifact_orders_lines"),
            Layout::XmlOrder => Some("xml_order_lines"),
            Layout::ShopifyCsv | Layout::PlainCsv => None,
        }
    }

    /// The mapped table holding a document's order-level fields.
    pub fn header_table(self) -> Option<&'static str> {
        match self {
            Layout::X12_850 => Some("x12_850_header"),
            Layout::EdifactOrders => Some("edifact_orders_header"),
            Layout::XmlOrder => Some("xml_order_header"),
            Layout::ShopifyCsv | Layout::PlainCsv => None,
        }
    }

    /// The document layout whose input is the mapped table `table`.
    pub fn of_table(table: &str) -> Option<Layout> {
        Layout::ALL
            .into_iter()
            .find(|l| l.lines_table() == Some(table))
    }
}

/// What an amendment (the same order id with other content) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amendments {
    /// Flagged for a person; nothing is sent.
    Flag,
    /// Sent to the ERP as a change (the previous version stays in the ledger).
    Accept,
}

/// The item master order lines are checked against: a reference table and its SKU column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemMaster {
    pub table: String,
    pub column: String,
}

/// `[orders]` compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The partner or sales channel: an order is (channel, order id) whatever file brings it.
    pub channel: String,
    pub layout: Layout,
    pub items: Option<ItemMaster>,
    pub amendments: Amendments,
    /// `[orders.atp]`: where the latest published available-to-promise comes from.
    pub atp: Option<AtpSource>,
    /// `[orders] stuck`: how long an order may stay in a state (seconds from the step that
    /// put it there) before it is an exception; states not named are never stuck.
    pub stuck: std::collections::BTreeMap<String, u64>,
}

/// The states `[orders] stuck` may name: those an order leaves by a later file.
pub const STUCK_STATES: [&str; 5] = [
    "received",
    "released",
    "partly_shipped",
    "shipped",
    "invoiced",
];

/// A stuck allowance as written, `"2d"` or `"36h"`, in seconds.
pub fn allowance_secs(text: &str) -> Option<u64> {
    let t = text.trim();
    let (n, unit) = t.split_at(t.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    match unit {
        "d" => n.checked_mul(86_400),
        "h" => n.checked_mul(3_600),
        _ => None,
    }
}

/// One order as read, before it is judged: text as the partner sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Order {
    pub id: String,
    pub date: String,
    pub currency: String,
    pub ship_to: ShipTo,
    pub lines: Vec<Line>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShipTo {
    pub name: String,
    pub address: String,
    pub city: String,
    pub state: String,
    pub postal: String,
    pub country: String,
}

/// One order line as read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line {
    /// CSV: the file's line; a document: the row of its mapped lines table (1-based).
    pub line: u64,
    /// The partner's line number (PO101, LIN 1082), else the position in the order.
    pub line_number: String,
    pub sku: String,
    pub quantity: String,
    pub unit: String,
    pub unit_price: String,
    pub description: String,
}

impl Order {
    /// The line the order starts at.
    pub fn first_line(&self) -> u64 {
        self.lines.first().map_or(0, |l| l.line)
    }
}
