//! Closing EDIFACT envelopes: UNT, UNE and UNZ checks (counts, references, missing trailers).

use super::codes;
use super::envelope::Builder;
use super::lexer::Segment;
use crate::formats::problem::Pos;
use crate::formats::x12::model::same_count;

impl Builder<'_> {
    /// Closes the open message; `end` is the exclusive end index in `segments`.
    pub(super) fn close_message(&mut self, trailer: Option<&Segment>, at: Pos, end: usize) {
        if !self.open_msg {
            return;
        }
        let cs = self.charset();
        let open_group = self.open_group;
        let Some(m) = self.interchanges.last_mut().and_then(|ic| {
            match ic.groups.last_mut().filter(|_| open_group) {
                Some(g) => g.messages.last_mut(),
                None => ic.messages.last_mut(),
            }
        }) else {
            self.open_msg = false;
            return;
        };
        m.end = end.max(m.first + 1);
        m.segment_count = (m.end - m.first) as u32;
        let (count, reference, header) = (m.segment_count, m.reference.clone(), m.header);
        match trailer {
            Some(unt) => {
                let (v1, v2) = (unt.text(1, 1, cs), unt.text(2, 1, cs));
                m.trailer = Some(at);
                m.declared_segments = Some(v1.clone());
                m.trailer_reference = Some(v2.clone());
                if !same_count(&v1, count as usize) {
                    let p = self.problem(
                        codes::COUNT_MISMATCH,
                        at,
                        format!("UNT 0074 says {v1} segments, the message has {count}"),
                    );
                    *p = p.clone().element("UNT0074", &v1);
                }
                if v2 != reference {
                    let p = self.problem(
                        codes::REFERENCES_DO_NOT_MATCH,
                        at,
                        format!("UNT 0062 {v2:?} does not match UNH 0062 {reference:?}"),
                    );
                    *p = p.clone().element("UNT0062", &v2);
                }
            }
            None => {
                let m = format!(
                    "UNH at segment {} has no UNT ({})",
                    header.segment,
                    self.ended(at)
                );
                let p = self.problem(codes::MISSING, header, m);
                p.element = Some("UNT".into());
            }
        }
        self.open_msg = false;
    }

    pub(super) fn close_group(&mut self, trailer: Option<&Segment>, at: Pos) {
        if !self.open_group {
            return;
        }
        let cs = self.charset();
        let Some(g) = self
            .interchanges
            .last_mut()
            .and_then(|ic| ic.groups.last_mut())
        else {
            self.open_group = false;
            return;
        };
        let (n, control, header) = (g.messages.len(), g.control.clone(), g.header);
        match trailer {
            Some(une) => {
                let (v1, v2) = (une.text(1, 1, cs), une.text(2, 1, cs));
                g.trailer = Some(at);
                g.declared_count = Some(v1.clone());
                g.trailer_control = Some(v2.clone());
                if !same_count(&v1, n) {
                    let p = self.problem(
                        codes::COUNT_MISMATCH,
                        at,
                        format!("UNE 0060 says {v1} messages, the group has {n}"),
                    );
                    *p = p.clone().element("UNE0060", &v1);
                }
                if v2 != control {
                    let p = self.problem(
                        codes::REFERENCES_DO_NOT_MATCH,
                        at,
                        format!("UNE 0048 {v2:?} does not match UNG 0048 {control:?}"),
                    );
                    *p = p.clone().element("UNE0048", &v2);
                }
            }
            None => {
                let m = format!(
                    "UNG at segment {} has no UNE ({})",
                    header.segment,
                    self.ended(at)
                );
                self.problem(codes::MISSING, header, m).element = Some("UNE".into());
            }
        }
        self.open_group = false;
    }

    pub(super) fn close_interchange(&mut self, trailer: Option<&Segment>, at: Pos) {
        if !self.open_ic {
            return;
        }
        let cs = self.charset();
        let Some(ic) = self.interchanges.last_mut() else {
            self.open_ic = false;
            return;
        };
        // UNZ counts groups when there are groups, else messages.
        let n = if ic.groups.is_empty() {
            ic.messages.len()
        } else {
            ic.groups.len()
        };
        let (control, header, headless) = (ic.control.clone(), ic.header, ic.headless);
        match trailer {
            Some(unz) => {
                let (v1, v2) = (unz.text(1, 1, cs), unz.text(2, 1, cs));
                ic.trailer = Some(at);
                ic.declared_count = Some(v1.clone());
                ic.trailer_control = Some(v2.clone());
                if !same_count(&v1, n) {
                    let p = self.problem(
                        codes::COUNT_MISMATCH,
                        at,
                        format!("UNZ 0036 says {v1}, the interchange has {n}"),
                    );
                    *p = p.clone().element("UNZ0036", &v1);
                }
                if !headless && v2 != control {
                    let p = self.problem(
                        codes::REFERENCES_DO_NOT_MATCH,
                        at,
                        format!("UNZ 0020 {v2:?} does not match UNB 0020 {control:?}"),
                    );
                    *p = p.clone().element("UNZ0020", &v2);
                }
                if n == 0 {
                    self.problem(
                        codes::LOWER_LEVEL_EMPTY,
                        at,
                        "the interchange holds no messages".into(),
                    );
                }
            }
            None if !headless => {
                let m = format!(
                    "UNB at segment {} has no UNZ ({})",
                    header.segment,
                    self.ended(at)
                );
                self.problem(codes::MISSING, header, m).element = Some("UNZ".into());
            }
            None => {}
        }
        self.open_ic = false;
    }

    pub(super) fn close_all(&mut self, at: Pos, end: usize) {
        self.end_stray_run();
        self.close_message(None, at, end);
        self.close_group(None, at);
        self.close_interchange(None, at);
    }
}
