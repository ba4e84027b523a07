//! ANSI X12: reading interchanges (separators per ISA), envelope checks as values, mapping to
//! tables, writing 997 acknowledgements and 940/846 from tables, and the `inspect` view. Bytes in, values out: no IO.
//!
//! Typical use:
//! ```
//! use tallyman::formats::x12;
//! let bytes = b"ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       *240101*1200*U*00401*000000001*0*P*>~GS*PO*S*R*20240101*1200*1*X*004010~ST*850*0001~BEG*00*SA*PO1**20240101~SE*3*0001~GE*1*1~IEA*1*000000001~";
//! let parsed = x12::parse(bytes);
//! assert!(parsed.problems.is_empty());
//! let tables = x12::map_tables(&parsed);
//! assert_eq!(tables[0].name, "x12_850_header");
//! ```

pub mod ack;
pub mod codes;
pub mod envelope;
mod headers;
pub mod inspect;
pub mod isa;
pub mod lexer;
mod map_catalog;
mod map_orders;
mod map_ship;
pub mod model;
pub mod outbound;
pub mod table;
mod trailers;
pub mod writer;

pub use crate::formats::problem::{to_issues, Ctl, Pos, Problem};
pub use ack::{
    acknowledge, acknowledge_interchange, reply_versions, wants_ta1, AckOptions, ElementNote,
    InterchangeAck, SegmentNote, SetRefusal, Ta1Policy,
};
pub use codes::{Carrier, Code};
pub use envelope::parse;
pub use inspect::{inspect, Inspection};
pub use lexer::{Segment, Separators};
pub use model::{Group, Interchange, Parsed, Ta1Seen, TxSet};
pub use outbound::{write_846, write_940};
pub use table::{map_table, map_tables, Column, Table};
pub use writer::{write_997, write_reply, Envelope};

/// Operational failures of this module (data problems are [`Problem`] values instead).
#[derive(Debug, thiserror::Error)]
pub enum X12Error {
    /// A value the caller asked us to write would break the framing.
    #[error("cannot write {element} value {value:?}: {why}")]
    Unwritable {
        element: &'static str,
        value: String,
        why: &'static str,
    },
    /// A table handed to an outbound writer lacks a column the document needs.
    #[error("cannot write {document}: the table has no {column} column")]
    MissingColumn {
        document: &'static str,
        column: &'static str,
    },
    /// A required value is empty (`row` is 1-based).
    #[error("cannot write {document}: row {row} has no {column}")]
    MissingValue {
        document: &'static str,
        column: &'static str,
        row: usize,
    },
    /// A header value differs between rows of the same document (`key` names it).
    #[error(
        "cannot write {document} {key}: row {row} has a different {column} than its first row"
    )]
    Inconsistent {
        document: &'static str,
        column: &'static str,
        key: String,
        row: usize,
    },
    /// A quantity is not an X12 decimal number (`-`, digits, one optional point, at most 15
    /// digits).
    #[error("cannot write {document}: row {row} {column} {value:?} is not a decimal number")]
    NotNumeric {
        document: &'static str,
        column: &'static str,
        row: usize,
        value: String,
    },
}

/// Duplicate interchange control numbers (TA105 `025`): within this file, and against what the
/// caller has already seen. `seen(sender, control)` is the ledger's answer for the sender key
/// `ISA05:ISA06` (trimmed) and the ISA13 control number; the ledger itself lives elsewhere.
pub fn duplicate_interchanges(parsed: &Parsed, seen: impl Fn(&str, &str) -> bool) -> Vec<Problem> {
    let mut in_file: Vec<(String, String)> = Vec::new();
    let mut out = Vec::new();
    for ic in parsed.interchanges.iter().filter(|i| !i.headless) {
        let sender = format!("{}:{}", ic.sender_qualifier, ic.sender);
        let key = (
            sender.clone(),
            ic.control.trim_start_matches('0').to_string(),
        );
        let where_ = if in_file.contains(&key) {
            Some("earlier in this file")
        } else if seen(&sender, &ic.control) {
            Some("in an earlier file")
        } else {
            None
        };
        if let Some(where_) = where_ {
            let mut p = Problem::new(
                codes::TA1_DUPLICATE,
                ic.header,
                format!(
                    "interchange control number {} from {sender} was already received {where_}",
                    ic.control
                ),
            )
            .element("ISA13", &ic.control);
            p.interchange = Some(Ctl {
                index: ic.index,
                control: ic.control.clone(),
            });
            out.push(p);
        }
        in_file.push(key);
    }
    out
}
