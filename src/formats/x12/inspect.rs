//! `tallyman inspect FILE --json` for X12: what the file holds and every envelope problem.
//!
//! JSON shape (all keys always present; positions are `{"segment": N, "offset": BYTE}` with
//! 1-based segment index in the file and 0-based byte offset):
//! ```text
//! {
//!   "format": "x12",
//!   "bytes": 1074, "bom": false, "segments": 40,
//!   "unread_from": null,                      // byte offset where reading had to stop
//!   "counts": {"interchanges": 1, "groups": 1, "sets": 1, "problems": 0},
//!   "interchanges": [{
//!     "index": 1, "headless": false,          // headless: segments found without an ISA
//!     "separators": {"element": "*", "component": ">", "repetition": null, "segment": "\n"},
//!     "sender_qualifier": "01", "sender": "...", "receiver_qualifier": "01", "receiver": "...",
//!     "date": "101127", "time": "1719", "version": "00400", "control": "000003438",
//!     "ack_requested": "0", "usage": "P",
//!     "header": {..pos..}, "trailer": {..pos..} | null,
//!     "declared_groups": "1" | null, "trailer_control": "000003438" | null, "ta1_count": 0,
//!     "ta1": [{"control": "000000905", "date": "261204", "time": "1200", "status": "R",
//!              "note": "025"}],                // TA1 segments the interchange carries
//!     "groups": [{
//!       "index": 1, "headless": false, "functional_id": "PO", "sender": "...", "receiver": "...",
//!       "date": "20101127", "time": "1719", "control": "1421", "version": "004010",
//!       "header": .., "trailer": .., "declared_sets": "1", "trailer_control": "1421",
//!       "sets": [{"index": 1, "id": "850", "control": "000000010", "reference": "",
//!                 "header": .., "trailer": .., "segment_count": 35,
//!                 "declared_segments": "35", "trailer_control": "000000010"}]
//!     }]
//!   }],
//!   "problems": [{
//!     "code": "AK502:4",                      // acknowledgement element:code (see codes.rs)
//!     "description": "number of included segments does not match actual count",
//!     "severity": "error" | "warning",
//!     "interchange": {"index": 1, "control": "..."} | null, "group": .. | null, "set": .. | null,
//!     "at": {..pos..}, "element": "SE01" | null, "value": "50" | null, "message": "..."
//!   }]
//! }
//! ```

use serde::Serialize;

use super::envelope::parse;
use super::model::Interchange;
use crate::formats::problem::Problem;

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub interchanges: usize,
    pub groups: usize,
    pub sets: usize,
    pub problems: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct InspectedProblem {
    #[serde(flatten)]
    pub problem: Problem,
    pub description: &'static str,
}

/// The serializable summary of one X12 file.
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
    let groups = parsed.interchanges.iter().map(|i| i.groups.len()).sum();
    Inspection {
        format: "x12",
        bytes: bytes.len(),
        bom: parsed.bom,
        segments: parsed.segment_count as usize,
        unread_from: parsed.unread_from,
        counts: Counts {
            interchanges: parsed.interchanges.len(),
            groups,
            sets: parsed.sets().count(),
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
