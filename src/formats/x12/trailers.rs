//! Closing X12 envelopes: SE, GE and IEA checks (counts, control numbers, missing trailers).

use super::codes;
use super::envelope::Builder;
use super::lexer::Segment;
use super::model::{same_control, same_count};
use crate::formats::problem::Pos;

impl Builder {
    /// Closes the open set; `trailer` is its SE, or `None` when something else ended it.
    /// `span_end` is the byte end of the set and `last` the index of its last segment.
    pub(super) fn close_set(
        &mut self,
        trailer: Option<&Segment>,
        at: Pos,
        span_end: usize,
        last: u32,
    ) {
        if !self.open_st {
            return;
        }
        let Some(set) = self
            .interchanges
            .last_mut()
            .and_then(|i| i.groups.last_mut())
            .and_then(|g| g.sets.last_mut())
        else {
            self.open_st = false;
            return;
        };
        set.span.1 = span_end.max(set.span.0);
        set.segment_count = last.saturating_add(1).saturating_sub(set.header.segment);
        let (count, control, header) = (set.segment_count, set.control.clone(), set.header);
        match trailer {
            Some(se) => {
                let (v1, v2) = (se.text(1), se.text(2));
                set.trailer = Some(at);
                set.declared_segments = Some(v1.clone());
                set.trailer_control = Some(v2.clone());
                if !same_count(&v1, count as usize) {
                    let m = format!("SE01 says {} segments, the set has {count}", v1);
                    let p = self.problem(codes::AK5_SEGMENT_COUNT, at, m);
                    *p = p.clone().element("SE01", &v1);
                }
                if v2 != control {
                    let m = format!("SE02 {} does not match ST02 {control}", v2);
                    let p = self.problem(codes::AK5_CONTROL_MISMATCH, at, m);
                    *p = p.clone().element("SE02", &v2);
                }
            }
            None => {
                let m = format!(
                    "ST at segment {} has no SE ({})",
                    header.segment,
                    self.ended_by(at)
                );
                self.problem(codes::AK5_TRAILER_MISSING, header, m);
            }
        }
        self.open_st = false;
    }

    pub(super) fn close_group(&mut self, trailer: Option<&Segment>, at: Pos) {
        if !self.open_gs {
            return;
        }
        let Some(g) = self
            .interchanges
            .last_mut()
            .and_then(|i| i.groups.last_mut())
        else {
            self.open_gs = false;
            return;
        };
        let (n, control, header, headless) =
            (g.sets.len(), g.control.clone(), g.header, g.headless);
        match trailer {
            Some(ge) => {
                let (v1, v2) = (ge.text(1), ge.text(2));
                g.trailer = Some(at);
                g.declared_sets = Some(v1.clone());
                g.trailer_control = Some(v2.clone());
                if !same_count(&v1, n) {
                    let m = format!("GE01 says {} transaction sets, the group has {n}", v1);
                    let p = self.problem(codes::AK9_SET_COUNT, at, m);
                    *p = p.clone().element("GE01", &v1);
                }
                if !headless && !same_control(&v2, &control) {
                    let m = format!("GE02 {} does not match GS06 {control}", v2);
                    let p = self.problem(codes::AK9_CONTROL_MISMATCH, at, m);
                    *p = p.clone().element("GE02", &v2);
                }
            }
            None if !headless => {
                let m = format!(
                    "GS at segment {} has no GE ({})",
                    header.segment,
                    self.ended_by(at)
                );
                self.problem(codes::AK9_TRAILER_MISSING, header, m);
            }
            None => {}
        }
        self.open_gs = false;
    }

    pub(super) fn close_interchange(&mut self, trailer: Option<&Segment>, at: Pos) {
        if !self.open_ic {
            return;
        }
        let Some(ic) = self.interchanges.last_mut() else {
            self.open_ic = false;
            return;
        };
        let (n, control, header, headless) =
            (ic.groups.len(), ic.control.clone(), ic.header, ic.headless);
        match trailer {
            Some(iea) => {
                let (v1, v2) = (iea.text(1), iea.text(2));
                ic.trailer = Some(at);
                ic.declared_groups = Some(v1.clone());
                ic.trailer_control = Some(v2.clone());
                if !same_count(&v1, n) {
                    let m = format!("IEA01 says {} groups, the interchange has {n}", v1);
                    let p = self.problem(codes::TA1_GROUP_COUNT, at, m);
                    *p = p.clone().element("IEA01", &v1);
                }
                if !headless && !same_control(&v2, &control) {
                    let m = format!("IEA02 {} does not match ISA13 {control}", v2);
                    let p = self.problem(codes::TA1_CONTROL_MISMATCH, at, m);
                    *p = p.clone().element("IEA02", &v2);
                }
            }
            None if !headless => {
                let m = format!(
                    "ISA at segment {} has no IEA ({})",
                    header.segment,
                    self.ended_by(at)
                );
                self.problem(codes::TA1_PREMATURE_END, header, m);
            }
            None => {}
        }
        self.open_ic = false;
    }

    /// Closes everything at `at`; the open set ends at byte `span_end` with segment `last`.
    pub(super) fn close_all(&mut self, at: Pos, span_end: usize, last: u32) {
        self.end_stray_run();
        self.close_set(None, at, span_end, last);
        self.close_group(None, at);
        self.close_interchange(None, at);
    }
}
