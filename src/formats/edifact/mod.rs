//! UN/EDIFACT: service characters from UNA (or the defaults `:+.? '`), the release character,
//! text decoded by the UNB character set (UNOA..UNOK, UNOW/UNOY; never assumed UTF-8), and
//! UNB/UNZ, UNG/UNE, UNH/UNT counts and references checked. Bytes in, values out: no IO.
//!
//! Problems use the X12 module's [`Problem`] type with codes from [`codes`] (element 0085 of
//! CONTRL); `Problem::set` names the message (index, UNH reference).
//!
//! `map_tables(&parsed)` maps ORDERS, DESADV and INVRPT messages to tables (see [`tables`]).
//!
//! `inspect(bytes)` gives the JSON for `tallyman inspect FILE --json`:
//! ```text
//! {"format": "edifact", "bytes": N, "bom": false, "segments": N, "unread_from": null,
//!  "counts": {"interchanges": 1, "groups": 0, "messages": 1, "problems": 0},
//!  "interchanges": [{"index": 1, "headless": false, "una": true,
//!     "service": {"component": ":", "element": "+", "decimal": ".", "release": "?",
//!                 "reserved": " ", "terminator": "'"},
//!     "syntax_id": "UNOC", "syntax_version": "3", "charset": "Latin1",
//!     "sender": "...", "recipient": "...", "date": "101012", "time": "1104", "control": "...",
//!     "header": {"segment": 1, "offset": 12}, "trailer": {..} | null,
//!     "declared_count": "1" | null, "trailer_control": "..." | null,
//!     "groups": [{"index", "functional_id", "control", "header", "trailer", "declared_count",
//!                 "trailer_control", "messages": [..]}],
//!     "messages": [{"index": 1, "reference": "1", "message_type": "ORDERS", "version": "D",
//!                   "release": "96A", "agency": "UN", "association": "EAN008",
//!                   "header": {..}, "trailer": {..}, "segment_count": 16,
//!                   "declared_segments": "16", "trailer_reference": "1"}]}],
//!  "problems": [{"code": "0085:29", "description": "...", "severity": "error", "interchange": ..,
//!                "group": .., "set": {"index": 1, "control": "UNH reference"}, "at": {..},
//!                "element": "UNT0074", "value": "3", "message": "..."}]}
//! ```

pub mod codes;
pub mod despatch;
pub mod envelope;
pub mod inventory;
pub mod lexer;
pub mod model;
pub mod orders;
pub mod tables;
mod trailers;

use serde::Serialize;

pub use envelope::parse;
pub use lexer::{Charset, Segment, ServiceChars};
pub use model::{Group, Interchange, Message, Parsed};
pub use tables::map_tables;

pub use crate::formats::problem::{to_issues, Problem};
use crate::formats::x12::inspect::InspectedProblem;

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub interchanges: usize,
    pub groups: usize,
    pub messages: usize,
    pub problems: usize,
}

/// The serializable summary of one EDIFACT file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub format: &'static str,
    pub bytes: usize,
    pub bom: bool,
    pub segments: usize,
    pub unread_from: Option<usize>,
    pub counts: Counts,
    pub interchanges: Vec<Interchange>,
    pub problems: Vec<InspectedProblem>,
}

/// Parses and summarizes `bytes`.
pub fn inspect(bytes: &[u8]) -> Inspection {
    let parsed = parse(bytes);
    Inspection {
        format: "edifact",
        bytes: bytes.len(),
        bom: parsed.bom,
        segments: parsed.segments.len(),
        unread_from: parsed.unread_from,
        counts: Counts {
            interchanges: parsed.interchanges.len(),
            groups: parsed.interchanges.iter().map(|i| i.groups.len()).sum(),
            messages: parsed.messages().count(),
            problems: parsed.problems.len(),
        },
        problems: parsed
            .problems
            .iter()
            .map(|p| InspectedProblem {
                description: p.code.description(),
                problem: p.clone(),
            })
            .collect(),
        interchanges: parsed.interchanges,
    }
}
