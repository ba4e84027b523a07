//! One pass over the bytes: segments, the envelope tree, and every envelope problem.

use super::codes::{self, Code};
use super::isa::read_isa;
use super::lexer::{guess_separators, read_segment, skip_gap, text_of, Segment, Separators};
use super::model::{Interchange, Parsed, Run};
use crate::formats::problem::{Ctl, Pos, Problem};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Parses a whole X12 file. Never panics; every envelope fault becomes a [`Problem`].
pub fn parse(bytes: &[u8]) -> Parsed<'_> {
    let bom = bytes.starts_with(BOM);
    let mut pos = if bom { BOM.len() } else { 0 };
    let mut b = Builder::default();
    let mut seps: Option<Separators> = None;
    let mut unread_from = None;
    let gap_seps = Separators::default();
    loop {
        pos = skip_gap(bytes, pos, seps.as_ref().unwrap_or(&gap_seps));
        let Some(rest) = bytes.get(pos..).filter(|r| !r.is_empty()) else {
            break;
        };
        let index = b.count.saturating_add(1);
        if rest.starts_with(b"ISA") {
            match read_isa(bytes, pos) {
                Ok(h) => {
                    let raw = bytes.get(pos..h.next.saturating_sub(1)).unwrap_or(&[]);
                    let seg = Segment {
                        raw,
                        index,
                        offset: pos,
                        seps: h.seps,
                    };
                    seps = Some(h.seps);
                    b.new_run(Run {
                        isa: Some((pos, pos + raw.len())),
                        body: h.next,
                        end: bytes.len(),
                        first_index: index,
                        seps: h.seps,
                    });
                    pos = h.next;
                    b.open_interchange(bytes, &h, seg);
                    continue;
                }
                Err(f) => {
                    b.close_all(
                        Pos {
                            segment: index,
                            offset: pos,
                        },
                        pos,
                        index.saturating_sub(1),
                    );
                    let at = Pos {
                        segment: index,
                        offset: f.offset,
                    };
                    b.problems.push(Problem::new(
                        f.code,
                        at,
                        format!("{}; the rest of the file was not read", f.message),
                    ));
                    unread_from = Some(pos);
                    break;
                }
            }
        }
        let s = match seps {
            Some(s) => s,
            None => match guess_separators(rest) {
                Some(g) => {
                    b.new_run(Run {
                        isa: None,
                        body: pos,
                        end: bytes.len(),
                        first_index: index,
                        seps: g,
                    });
                    g
                }
                None => {
                    let at = Pos {
                        segment: index,
                        offset: pos,
                    };
                    b.close_all(at, pos, index.saturating_sub(1));
                    b.problems.push(Problem::new(
                        codes::TA1_BAD_STRUCTURE,
                        at,
                        "no ISA segment and no X12 segment structure: not an X12 file",
                    ));
                    unread_from = Some(pos);
                    break;
                }
            },
        };
        seps = Some(s);
        let (seg, next) = read_segment(bytes, pos, s, index);
        pos = next.max(pos + 1);
        b.count = index;
        b.on_segment(seg, pos);
    }
    let stop = unread_from.unwrap_or(bytes.len());
    if let Some(run) = b.runs.last_mut() {
        run.end = stop;
    }
    b.eof = true;
    b.close_all(
        Pos {
            segment: b.count,
            offset: stop,
        },
        stop,
        b.count,
    );
    if b.count == 0 && b.problems.is_empty() {
        let at = Pos {
            segment: 0,
            offset: 0,
        };
        b.problems.push(Problem::new(
            codes::TA1_PREMATURE_END,
            at,
            "the file holds no segments",
        ));
    }
    Parsed {
        bytes,
        bom,
        segment_count: b.count,
        runs: b.runs,
        interchanges: b.interchanges,
        problems: b.problems,
        unread_from,
    }
}

#[derive(Default)]
pub(super) struct Builder {
    pub(super) count: u32,
    pub(super) runs: Vec<Run>,
    pub(super) interchanges: Vec<Interchange>,
    pub(super) problems: Vec<Problem>,
    pub(super) open_ic: bool,
    pub(super) open_gs: bool,
    pub(super) open_st: bool,
    /// Index in `problems` of the problem opening the current run of stray segments.
    pub(super) stray: Option<(usize, u32)>,
    /// Set for the final close at end of input (changes only the wording of problems).
    pub(super) eof: bool,
}

pub(super) fn pos_of(seg: &Segment) -> Pos {
    Pos {
        segment: seg.index,
        offset: seg.offset,
    }
}

impl Builder {
    pub(super) fn new_run(&mut self, run: Run) {
        if let Some(last) = self.runs.last_mut() {
            last.end = run.isa.map_or(run.body, |(start, _)| start);
        }
        self.runs.push(run);
    }

    pub(super) fn problem(&mut self, code: Code, at: Pos, message: String) -> &mut Problem {
        let mut p = Problem::new(code, at, message);
        if let Some(ic) = self.interchanges.last().filter(|_| self.open_ic) {
            p.interchange = Some(Ctl {
                index: ic.index,
                control: ic.control.clone(),
            });
            if let Some(g) = ic.groups.last().filter(|_| self.open_gs) {
                p.group = Some(Ctl {
                    index: g.index,
                    control: g.control.clone(),
                });
                if let Some(s) = g.sets.last().filter(|_| self.open_st) {
                    p.set = Some(Ctl {
                        index: s.index,
                        control: s.control.clone(),
                    });
                }
            }
        }
        self.problems.push(p);
        let last = self.problems.len() - 1;
        &mut self.problems[last]
    }

    pub(super) fn ended_by(&self, at: Pos) -> String {
        if self.eof {
            "the file ends first".to_string()
        } else {
            format!("ended by segment {}", at.segment)
        }
    }

    pub(super) fn end_stray_run(&mut self) {
        if let Some((i, n)) = self.stray.take() {
            if let (Some(p), true) = (self.problems.get_mut(i), n > 1) {
                p.message
                    .push_str(&format!(" ({n} consecutive stray segments from here)"));
            }
        }
    }

    pub(super) fn stray(&mut self, seg: &Segment, code: Code, where_: &str) {
        match &mut self.stray {
            Some((_, n)) => *n += 1,
            None => {
                let id = text_of(seg.id());
                self.problem(code, pos_of(seg), format!("segment {id} {where_}"));
                self.stray = Some((self.problems.len() - 1, 1));
            }
        }
    }

    /// Handles one segment; `next` is the position after its terminator.
    pub(super) fn on_segment(&mut self, seg: Segment, next: usize) {
        let at = pos_of(&seg);
        match seg.id() {
            b"TA1" if self.open_ic && !self.open_gs => {
                self.end_stray_run();
                if let Some(ic) = self.interchanges.last_mut() {
                    ic.ta1_count += 1;
                    ic.ta1.push(super::model::Ta1Seen {
                        control: seg.text(1),
                        date: seg.text(2),
                        time: seg.text(3),
                        status: seg.text(4),
                        note: seg.text(5),
                    });
                }
            }
            b"GS" => {
                self.end_stray_run();
                self.close_set(None, at, seg.offset, seg.index.saturating_sub(1));
                self.close_group(None, at);
                if !self.open_ic {
                    self.headless_interchange(&seg);
                }
                self.open_group(&seg, false);
            }
            b"ST" => {
                self.end_stray_run();
                self.close_set(None, at, seg.offset, seg.index.saturating_sub(1));
                if !self.open_gs {
                    if !self.open_ic {
                        self.headless_interchange(&seg);
                    }
                    self.problem(
                        codes::TA1_BAD_CONTENT,
                        at,
                        "ST outside a functional group (no GS)".into(),
                    );
                    self.open_group(&seg, true);
                }
                self.open_set(&seg);
            }
            b"SE" if self.open_st => self.close_set(Some(&seg), at, next, seg.index),
            b"GE" if self.open_gs => {
                self.end_stray_run();
                self.close_set(None, at, seg.offset, seg.index.saturating_sub(1));
                self.close_group(Some(&seg), at);
            }
            b"IEA" if self.open_ic => {
                self.end_stray_run();
                self.close_set(None, at, seg.offset, seg.index.saturating_sub(1));
                self.close_group(None, at);
                self.close_interchange(Some(&seg), at);
            }
            _ if self.open_st => {}
            b"SE" => self.stray(&seg, codes::AK3_UNEXPECTED_SEGMENT, "without a matching ST"),
            _ if self.open_gs => {
                self.stray(&seg, codes::TA1_BAD_CONTENT, "between transaction sets")
            }
            _ if self.open_ic => {
                self.stray(&seg, codes::TA1_BAD_CONTENT, "outside a functional group")
            }
            _ => self.stray(&seg, codes::TA1_BAD_STRUCTURE, "outside any interchange"),
        }
    }
}
