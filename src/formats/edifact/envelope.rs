//! One pass over EDIFACT bytes: UNA, segments, the envelope tree and every envelope problem
//! (UNB/UNZ, UNG/UNE and UNH/UNT counts and references), as values. Never panics.

use super::codes;
use super::lexer::{is_gap, read_segment, Charset, Segment, ServiceChars};
use super::model::{Group, Interchange, Message, Parsed};
use crate::formats::problem::{Ctl, Pos, Problem};
use crate::formats::x12::codes::Code;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses a whole EDIFACT file.
pub fn parse(bytes: &[u8]) -> Parsed<'_> {
    let bom = bytes.starts_with(BOM);
    let mut pos = if bom { BOM.len() } else { 0 };
    let mut sc = ServiceChars::default();
    let mut una = false;
    let mut b = Builder::default();
    let mut unread_from = None;
    loop {
        while bytes
            .get(pos)
            .is_some_and(|c| is_gap(*c) && *c != sc.terminator)
        {
            pos += 1;
        }
        let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) else {
            break;
        };
        if rest.starts_with(b"UNA") {
            match ServiceChars::from_una(rest) {
                Some(s) if s.usable() => {
                    (sc, una) = (s, true);
                    pos += 9;
                    continue;
                }
                _ => {
                    let at = Pos {
                        segment: (b.segments.len() as u32).saturating_add(1),
                        offset: pos,
                    };
                    b.problem(codes::INVALID_SERVICE_CHARS, at, "UNA service characters are missing, repeated or alphanumeric; the rest of the file was not read".into());
                    unread_from = Some(pos);
                    break;
                }
            }
        }
        if rest.starts_with(b"UNB") && !una {
            // Without a UNA some partners end segments with a newline instead of `'`.
            let line = rest.split(|c| *c == b'\n').next().unwrap_or(rest);
            if !line.contains(&sc.terminator) && line.len() < rest.len() {
                sc.terminator = b'\n';
            }
        }
        let (raw, next) = read_segment(bytes, pos, &sc);
        let seg = Segment {
            raw,
            index: (b.segments.len() as u32).saturating_add(1),
            offset: pos,
            sc,
        };
        pos = next;
        b.segments.push(seg);
        if b.on_segment(&seg, una) {
            // After UNZ the next interchange declares its own service characters (or not).
            (sc, una) = (ServiceChars::default(), false);
        }
    }
    b.eof = true;
    let at = Pos {
        segment: b.segments.len() as u32,
        offset: bytes.len(),
    };
    b.close_all(at, b.segments.len());
    if b.segments.is_empty() && b.problems.is_empty() {
        b.problem(
            codes::MISSING,
            Pos {
                segment: 0,
                offset: 0,
            },
            "the file holds no segments".into(),
        );
    }
    Parsed {
        bytes,
        bom,
        segments: b.segments,
        interchanges: b.interchanges,
        problems: b.problems,
        unread_from,
    }
}

#[derive(Default)]
pub(super) struct Builder<'a> {
    pub(super) segments: Vec<Segment<'a>>,
    pub(super) interchanges: Vec<Interchange>,
    pub(super) problems: Vec<Problem>,
    pub(super) open_ic: bool,
    pub(super) open_group: bool,
    pub(super) open_msg: bool,
    pub(super) stray: Option<(usize, u32)>,
    pub(super) eof: bool,
}

pub(super) fn pos_of(seg: &Segment) -> Pos {
    Pos {
        segment: seg.index,
        offset: seg.offset,
    }
}

impl<'a> Builder<'a> {
    pub(super) fn charset(&self) -> Charset {
        self.interchanges
            .last()
            .map_or(Charset::Latin1, |i| i.charset)
    }

    pub(super) fn problem(&mut self, code: Code, at: Pos, message: String) -> &mut Problem {
        let mut p = Problem::new(code, at, message);
        if let Some(ic) = self.interchanges.last().filter(|_| self.open_ic) {
            p.interchange = Some(Ctl {
                index: ic.index,
                control: ic.control.clone(),
            });
            let group = ic.groups.last().filter(|_| self.open_group);
            if let Some(g) = group {
                p.group = Some(Ctl {
                    index: g.index,
                    control: g.control.clone(),
                });
            }
            let msgs = group.map_or(&ic.messages, |g| &g.messages);
            if let Some(m) = msgs.last().filter(|_| self.open_msg) {
                p.set = Some(Ctl {
                    index: m.index,
                    control: m.reference.clone(),
                });
            }
        }
        self.problems.push(p);
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    pub(super) fn end_stray_run(&mut self) {
        if let Some((i, n)) = self.stray.take() {
            if let (Some(p), true) = (self.problems.get_mut(i), n > 1) {
                p.message
                    .push_str(&format!(" ({n} consecutive stray segments from here)"));
            }
        }
    }

    pub(super) fn stray(&mut self, seg: &Segment, where_: &str) {
        match &mut self.stray {
            Some((_, n)) => *n += 1,
            None => {
                let tag = String::from_utf8_lossy(seg.tag()).trim().to_string();
                self.problem(
                    codes::OUTSIDE_MESSAGE,
                    pos_of(seg),
                    format!("segment {tag} {where_}"),
                );
                self.stray = Some((self.problems.len() - 1, 1));
            }
        }
    }

    /// Handles one segment; returns true when it closed an interchange (UNZ).
    pub(super) fn on_segment(&mut self, seg: &Segment, una: bool) -> bool {
        let at = pos_of(seg);
        let idx = self.segments.len() - 1;
        match seg.tag() {
            b"UNB" => {
                self.close_all(at, idx);
                self.open_interchange(seg, una, false);
            }
            b"UNG" => {
                self.close_message(None, at, idx);
                self.close_group(None, at);
                if !self.open_ic {
                    self.headless(seg);
                }
                let mixed = self
                    .interchanges
                    .last()
                    .is_some_and(|i| !i.messages.is_empty());
                if mixed {
                    self.problem(
                        codes::GROUPS_AND_MESSAGES_MIXED,
                        at,
                        "UNG after messages outside groups".into(),
                    );
                }
                self.open_group(seg);
            }
            b"UNH" => {
                self.end_stray_run();
                self.close_message(None, at, idx);
                if !self.open_ic {
                    self.headless(seg);
                }
                let mixed = !self.open_group
                    && self
                        .interchanges
                        .last()
                        .is_some_and(|i| !i.groups.is_empty());
                if mixed {
                    self.problem(
                        codes::GROUPS_AND_MESSAGES_MIXED,
                        at,
                        "UNH outside a group in an interchange with groups".into(),
                    );
                }
                self.open_message(seg, idx);
            }
            b"UNT" if self.open_msg => self.close_message(Some(seg), at, idx + 1),
            b"UNE" if self.open_group => {
                self.end_stray_run();
                self.close_message(None, at, idx);
                self.close_group(Some(seg), at);
            }
            b"UNZ" if self.open_ic => {
                self.end_stray_run();
                self.close_message(None, at, idx);
                self.close_group(None, at);
                self.close_interchange(Some(seg), at);
                return true;
            }
            _ if self.open_msg => {}
            _ if self.open_ic => self.stray(seg, "outside a message"),
            _ => self.stray(seg, "outside any interchange"),
        }
        false
    }

    pub(super) fn new_interchange(&self, seg: &Segment, una: bool, headless: bool) -> Interchange {
        let cs = Charset::Latin1;
        let t = |n, m| {
            if headless {
                String::new()
            } else {
                seg.text(n, m, cs)
            }
        };
        let syntax_id = t(1, 1);
        Interchange {
            index: (self.interchanges.len() as u32).saturating_add(1),
            headless,
            una,
            service: seg.sc,
            charset: if headless {
                Charset::Latin1
            } else {
                Charset::from_syntax_id(&syntax_id)
            },
            syntax_id,
            syntax_version: t(1, 2),
            sender: t(2, 1),
            recipient: t(3, 1),
            date: t(4, 1),
            time: t(4, 2),
            control: t(5, 1),
            header: pos_of(seg),
            trailer: None,
            declared_count: None,
            trailer_control: None,
            groups: Vec::new(),
            messages: Vec::new(),
        }
    }

    pub(super) fn open_interchange(&mut self, seg: &Segment, una: bool, headless: bool) {
        let ic = self.new_interchange(seg, una, headless);
        let unknown = ic.charset == Charset::Unknown;
        let id = ic.syntax_id.clone();
        self.interchanges.push(ic);
        self.open_ic = true;
        if unknown {
            let m = format!("UNB syntax identifier {id:?} is not a known UNOx character set; text is decoded as ISO 8859-1");
            let p = self.problem(codes::SYNTAX_NOT_SUPPORTED, pos_of(seg), m);
            *p = p.clone().element("UNB0001", &id).warning();
        }
    }

    pub(super) fn headless(&mut self, seg: &Segment) {
        let tag = String::from_utf8_lossy(seg.tag()).to_string();
        self.problem(
            codes::OUTSIDE_MESSAGE,
            pos_of(seg),
            format!("{tag} without an interchange (no UNB)"),
        );
        self.open_interchange(seg, false, true);
    }

    pub(super) fn open_group(&mut self, seg: &Segment) {
        let cs = self.charset();
        let Some(ic) = self.interchanges.last_mut() else {
            return;
        };
        ic.groups.push(Group {
            index: (ic.groups.len() as u32).saturating_add(1),
            functional_id: seg.text(1, 1, cs),
            control: seg.text(5, 1, cs),
            header: pos_of(seg),
            trailer: None,
            declared_count: None,
            trailer_control: None,
            messages: Vec::new(),
        });
        self.open_group = true;
    }

    pub(super) fn open_message(&mut self, seg: &Segment, idx: usize) {
        let cs = self.charset();
        let open_group = self.open_group;
        let Some(ic) = self.interchanges.last_mut() else {
            return;
        };
        let msgs = match ic.groups.last_mut().filter(|_| open_group) {
            Some(g) => &mut g.messages,
            None => &mut ic.messages,
        };
        msgs.push(Message {
            index: (msgs.len() as u32).saturating_add(1),
            reference: seg.text(1, 1, cs),
            message_type: seg.text(2, 1, cs),
            version: seg.text(2, 2, cs),
            release: seg.text(2, 3, cs),
            agency: seg.text(2, 4, cs),
            association: seg.text(2, 5, cs),
            header: pos_of(seg),
            trailer: None,
            segment_count: 1,
            declared_segments: None,
            trailer_reference: None,
            first: idx,
            end: idx + 1,
        });
        self.open_msg = true;
    }

    pub(super) fn ended(&self, at: Pos) -> String {
        if self.eof {
            "the file ends first".into()
        } else {
            format!("ended by segment {}", at.segment)
        }
    }
}
