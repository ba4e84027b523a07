//! The envelope tree of a parsed EDIFACT file: interchanges, optional groups, messages.

use serde::Serialize;

use super::lexer::{Charset, Segment, ServiceChars};
use crate::formats::problem::{Pos, Problem};

/// A whole file, parsed. EDIFACT files are small; segments are kept (they borrow the input).
#[derive(Debug)]
pub struct Parsed<'a> {
    pub bytes: &'a [u8],
    pub bom: bool,
    pub segments: Vec<Segment<'a>>,
    pub interchanges: Vec<Interchange>,
    pub problems: Vec<Problem>,
    /// Offset where reading had to stop (unusable UNA); `None` when the whole file was read.
    pub unread_from: Option<usize>,
}

impl<'a> Parsed<'a> {
    /// The segments of one message, UNH..UNT inclusive.
    pub fn message_segments(&self, m: &Message) -> &[Segment<'a>] {
        self.segments.get(m.first..m.end).unwrap_or(&[])
    }

    /// Every message with its interchange, in file order (grouped ones included).
    pub fn messages(&self) -> impl Iterator<Item = (&Interchange, &Message)> {
        self.interchanges.iter().flat_map(|i| {
            i.messages
                .iter()
                .chain(i.groups.iter().flat_map(|g| g.messages.iter()))
                .map(move |m| (i, m))
        })
    }
}

/// One UNB..UNZ interchange (or a headless stand-in for messages found without a UNB).
#[derive(Debug, Clone, Serialize)]
pub struct Interchange {
    pub index: u32,
    pub headless: bool,
    /// True when a UNA declared the service characters.
    pub una: bool,
    pub service: ServiceChars,
    /// UNB S001: syntax identifier (e.g. UNOC) and version; the charset decided from it.
    pub syntax_id: String,
    pub syntax_version: String,
    pub charset: Charset,
    /// UNB S002/S003 first components, S004 date and time, 0020 control reference.
    pub sender: String,
    pub recipient: String,
    pub date: String,
    pub time: String,
    pub control: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    /// UNZ 0036 and 0020 as written.
    pub declared_count: Option<String>,
    pub trailer_control: Option<String>,
    pub groups: Vec<Group>,
    /// Messages directly in the interchange (not in a UNG group).
    pub messages: Vec<Message>,
}

/// One UNG..UNE functional group.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub index: u32,
    /// UNG 0038 and 0048.
    pub functional_id: String,
    pub control: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    pub declared_count: Option<String>,
    pub trailer_control: Option<String>,
    pub messages: Vec<Message>,
}

/// One UNH..UNT message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// 1-based within its interchange or group.
    pub index: u32,
    /// UNH 0062 message reference; S009 type, version, release, agency, association code.
    pub reference: String,
    pub message_type: String,
    pub version: String,
    pub release: String,
    pub agency: String,
    pub association: String,
    pub header: Pos,
    pub trailer: Option<Pos>,
    /// Segments counted, UNH..UNT inclusive.
    pub segment_count: u32,
    /// UNT 0074 and 0062 as written.
    pub declared_segments: Option<String>,
    pub trailer_reference: Option<String>,
    #[serde(skip)]
    pub first: usize,
    #[serde(skip)]
    pub end: usize,
}
