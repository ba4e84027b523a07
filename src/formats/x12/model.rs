//! The envelope tree of a parsed X12 file: interchanges, groups, transaction sets.

use serde::Serialize;

use super::lexer::{read_segment, skip_gap, Segment, Separators};
use crate::formats::problem::{Pos, Problem};

/// A whole file, parsed. Segments are not stored: they are re-sliced from the input bytes on
/// demand (zero-copy), so parsing allocates per envelope, never per segment.
#[derive(Debug)]
pub struct Parsed<'a> {
    pub bytes: &'a [u8],
    /// A UTF-8 byte order mark preceded the data.
    pub bom: bool,
    /// Number of segments read (all interchanges).
    pub segment_count: u32,
    /// Stretches of the file read with one set of separators (one per ISA, plus one for
    /// segments found before any ISA).
    pub runs: Vec<Run>,
    pub interchanges: Vec<Interchange>,
    /// Envelope problems in the order found.
    pub problems: Vec<Problem>,
    /// Offset where reading had to stop (unreadable ISA, non-X12 bytes); `None` when the
    /// whole file was read.
    pub unread_from: Option<usize>,
}

/// A stretch of segments sharing separators: an optional ISA (its byte range, since the ISA
/// is framed by counting rather than by its terminator), then segments up to `end`.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub isa: Option<(usize, usize)>,
    pub body: usize,
    pub end: usize,
    /// Index of the run's first segment (the ISA when there is one).
    pub first_index: u32,
    pub seps: Separators,
}

impl<'a> Parsed<'a> {
    /// The segments of one transaction set, ST..SE inclusive (ST up to the segment that ended
    /// it when the SE is missing).
    pub fn set_segments(&self, set: &TxSet) -> Segments<'a> {
        let end = set.span.1.min(self.bytes.len());
        Segments {
            bytes: self.bytes.get(..end).unwrap_or(self.bytes),
            pos: set.span.0,
            seps: set.seps,
            index: set.header.segment,
            isa: None,
        }
    }

    /// Every segment of the file, in order (ISAs included).
    pub fn segments(&self) -> impl Iterator<Item = Segment<'a>> + '_ {
        let bytes = self.bytes;
        self.runs.iter().flat_map(move |r| Segments {
            bytes: bytes.get(..r.end.min(bytes.len())).unwrap_or(bytes),
            pos: r.body,
            seps: r.seps,
            index: r.first_index,
            isa: r.isa,
        })
    }

    /// Every transaction set with its group and interchange, in file order.
    pub fn sets(&self) -> impl Iterator<Item = (&Interchange, &Group, &TxSet)> {
        self.interchanges.iter().flat_map(|i| {
            i.groups
                .iter()
                .flat_map(move |g| g.sets.iter().map(move |s| (i, g, s)))
        })
    }
}

/// Iterator re-slicing segments from a byte range with known separators.
#[derive(Debug, Clone)]
pub struct Segments<'a> {
    bytes: &'a [u8],
    pos: usize,
    seps: Separators,
    /// Index the next segment gets.
    index: u32,
    isa: Option<(usize, usize)>,
}

impl<'a> Iterator for Segments<'a> {
    type Item = Segment<'a>;

    fn next(&mut self) -> Option<Segment<'a>> {
        if let Some((start, end)) = self.isa.take() {
            let seg = Segment {
                raw: self.bytes.get(start..end).unwrap_or(&[]),
                index: self.index,
                offset: start,
                seps: self.seps,
            };
            self.index = self.index.saturating_add(1);
            return Some(seg);
        }
        self.pos = skip_gap(self.bytes, self.pos, &self.seps);
        if self.pos >= self.bytes.len() {
            return None;
        }
        let (seg, next) = read_segment(self.bytes, self.pos, self.seps, self.index);
        self.pos = next.max(self.pos + 1);
        self.index = self.index.saturating_add(1);
        Some(seg)
    }
}

/// One ISA..IEA interchange (or a headless stand-in for segments found without an ISA).
#[derive(Debug, Clone, Serialize)]
pub struct Interchange {
    /// 1-based, in file order.
    pub index: u32,
    /// True for the stand-in created when segments appear without an ISA.
    pub headless: bool,
    pub separators: Separators,
    /// ISA05/ISA06, ISA07/ISA08 (trimmed).
    pub sender_qualifier: String,
    pub sender: String,
    pub receiver_qualifier: String,
    pub receiver: String,
    /// ISA09 (YYMMDD), ISA10 (HHMM), ISA12, ISA13, ISA14 (`1`: the sender asks for a TA1),
    /// ISA15.
    pub date: String,
    pub time: String,
    pub version: String,
    pub control: String,
    pub ack_requested: String,
    pub usage: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    /// IEA01 and IEA02 as written.
    pub declared_groups: Option<String>,
    pub trailer_control: Option<String>,
    /// TA1 segments between ISA and the first GS.
    pub ta1_count: u32,
    /// What those TA1 segments say (an interchange acknowledgement we received or wrote).
    pub ta1: Vec<Ta1Seen>,
    pub groups: Vec<Group>,
}

/// One TA1 segment: the acknowledgement of interchange `control` (TA101) sent on `date`
/// `time` (TA102, TA103): `status` A, E or R (TA104) with note code `note` (TA105).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ta1Seen {
    pub control: String,
    pub date: String,
    pub time: String,
    pub status: String,
    pub note: String,
}

/// One GS..GE functional group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// 1-based within the interchange.
    pub index: u32,
    pub headless: bool,
    /// GS01 (e.g. PO, SH, OW, SW, FA), GS02, GS03, GS04, GS05, GS06, GS08.
    pub functional_id: String,
    pub sender: String,
    pub receiver: String,
    pub date: String,
    pub time: String,
    pub control: String,
    pub version: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    /// GE01 and GE02 as written.
    pub declared_sets: Option<String>,
    pub trailer_control: Option<String>,
    pub sets: Vec<TxSet>,
}

/// One ST..SE transaction set.
#[derive(Debug, Clone, Serialize)]
pub struct TxSet {
    /// 1-based within the group.
    pub index: u32,
    /// ST01 (e.g. 850), ST02, ST03 (implementation reference, 5010).
    pub id: String,
    pub control: String,
    pub reference: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    /// Segments counted, ST..SE inclusive.
    pub segment_count: u32,
    /// SE01 and SE02 as written.
    pub declared_segments: Option<String>,
    pub trailer_control: Option<String>,
    /// Byte range ST..end of the set (after the SE terminator, or where the set was cut off).
    #[serde(skip)]
    pub span: (usize, usize),
    #[serde(skip)]
    pub seps: Separators,
}

/// Control numbers agree: numerically when both are digits (GS06/GE02 and ISA13/IEA02 are
/// numeric), else as exact trimmed text.
pub fn same_control(a: &str, b: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if digits(a) && digits(b) {
        a.trim_start_matches('0') == b.trim_start_matches('0')
    } else {
        a == b
    }
}

/// A count element equals `actual`.
pub fn same_count(declared: &str, actual: usize) -> bool {
    declared.parse::<usize>().ok() == Some(actual)
}
