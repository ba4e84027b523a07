//! Opening X12 envelopes: ISA (with its field checks), GS and ST headers into the tree.

use super::codes;
use super::envelope::{pos_of, Builder};
use super::isa::{check_fields, IsaHeader};
use super::lexer::{text_of, Segment};
use super::model::{Group, Interchange, TxSet};
use crate::formats::problem::Pos;

impl Builder {
    pub(super) fn open_interchange(&mut self, bytes: &[u8], h: &IsaHeader, seg: Segment) {
        let at = pos_of(&seg);
        self.count = seg.index;
        self.close_all(at, seg.offset, seg.index.saturating_sub(1));
        let f = |n: usize| {
            text_of(
                bytes
                    .get(h.fields[n - 1].0..h.fields[n - 1].1)
                    .unwrap_or(&[]),
            )
        };
        self.interchanges.push(Interchange {
            index: (self.interchanges.len() as u32).saturating_add(1),
            headless: false,
            separators: h.seps,
            sender_qualifier: f(5),
            sender: f(6),
            receiver_qualifier: f(7),
            receiver: f(8),
            date: f(9),
            time: f(10),
            version: f(12),
            control: f(13),
            ack_requested: f(14),
            usage: f(15),
            header: at,
            trailer: None,
            declared_groups: None,
            trailer_control: None,
            ta1_count: 0,
            ta1: Vec::new(),
            groups: Vec::new(),
        });
        self.open_ic = true;
        for (code, offset, message) in &h.notes {
            self.problem(
                *code,
                Pos {
                    segment: at.segment,
                    offset: *offset,
                },
                message.clone(),
            );
        }
        for f in check_fields(bytes, h) {
            let at = Pos {
                segment: at.segment,
                offset: f.offset,
            };
            let p = self.problem(f.code, at, f.message);
            *p = p.clone().element(&f.element, &f.value);
            if f.warning {
                *p = p.clone().warning();
            }
        }
    }

    pub(super) fn headless_interchange(&mut self, seg: &Segment) {
        let at = pos_of(seg);
        self.problem(
            codes::TA1_BAD_STRUCTURE,
            at,
            format!("{} without an interchange (no ISA)", text_of(seg.id())),
        );
        self.interchanges.push(Interchange {
            index: (self.interchanges.len() as u32).saturating_add(1),
            headless: true,
            separators: seg.seps,
            sender_qualifier: String::new(),
            sender: String::new(),
            receiver_qualifier: String::new(),
            receiver: String::new(),
            date: String::new(),
            time: String::new(),
            version: String::new(),
            control: String::new(),
            ack_requested: String::new(),
            usage: String::new(),
            header: at,
            trailer: None,
            declared_groups: None,
            trailer_control: None,
            ta1_count: 0,
            ta1: Vec::new(),
            groups: Vec::new(),
        });
        self.open_ic = true;
    }

    pub(super) fn open_group(&mut self, seg: &Segment, headless: bool) {
        let Some(ic) = self.interchanges.last_mut() else {
            return;
        };
        let t = |n| if headless { String::new() } else { seg.text(n) };
        ic.groups.push(Group {
            index: (ic.groups.len() as u32).saturating_add(1),
            headless,
            functional_id: t(1),
            sender: t(2),
            receiver: t(3),
            date: t(4),
            time: t(5),
            control: t(6),
            version: t(8),
            header: pos_of(seg),
            trailer: None,
            declared_sets: None,
            trailer_control: None,
            sets: Vec::new(),
        });
        self.open_gs = true;
    }

    pub(super) fn open_set(&mut self, seg: &Segment) {
        let Some(g) = self
            .interchanges
            .last_mut()
            .and_then(|i| i.groups.last_mut())
        else {
            return;
        };
        let control = seg.text(2);
        let empty = control.is_empty();
        g.sets.push(TxSet {
            index: (g.sets.len() as u32).saturating_add(1),
            id: seg.text(1),
            control,
            reference: seg.text(3),
            header: pos_of(seg),
            trailer: None,
            segment_count: 1,
            declared_segments: None,
            trailer_control: None,
            span: (seg.offset, seg.offset),
            seps: seg.seps,
        });
        self.open_st = true;
        if empty {
            let p = self.problem(
                codes::AK5_BAD_CONTROL_NUMBER,
                pos_of(seg),
                "ST02 is empty".into(),
            );
            *p = p.clone().element("ST02", "");
        }
    }
}
