//! What a 997 says about one received functional group, and a TA1 about one received
//! interchange, derived from the envelope problems.

use serde::Serialize;

use super::codes::Carrier;
use super::model::{Interchange, Parsed};
use crate::formats::problem::Problem;
use crate::issue::Severity;

/// AK501 / AK901 status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AckStatus {
    /// `A`
    Accepted,
    /// `E`: accepted, but errors were noted.
    AcceptedWithErrors,
    /// `P`: partially accepted, at least one set rejected (AK901 only).
    PartiallyAccepted,
    /// `R`
    Rejected,
}

impl AckStatus {
    pub fn code(self) -> &'static str {
        match self {
            AckStatus::Accepted => "A",
            AckStatus::AcceptedWithErrors => "E",
            AckStatus::PartiallyAccepted => "P",
            AckStatus::Rejected => "R",
        }
    }
}

/// Options for building an acknowledgement.
#[derive(Debug, Clone, Copy)]
pub struct AckOptions {
    /// Write AK2/AK5 loops for accepted sets too (many partners expect one per set).
    pub include_accepted_sets: bool,
}

impl Default for AckOptions {
    fn default() -> Self {
        AckOptions {
            include_accepted_sets: true,
        }
    }
}

/// AK3: one segment in error inside a set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentNote {
    /// AK301 segment id, AK302 position in the set (ST is 1), AK304 code.
    pub segment_id: String,
    pub position: u32,
    pub code: &'static str,
    /// Its AK4s: the elements at fault.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<ElementNote>,
}

/// AK4: one data element in error: AK401 its position in the segment, AK402 its data element
/// reference number, AK403 the error code, AK404 a copy of the bad value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ElementNote {
    pub position: u32,
    pub reference: &'static str,
    pub code: &'static str,
    pub value: String,
}

/// A set the receiver refuses for its content once its envelope passed (an order line with an
/// unknown SKU): AK5 `R` with AK502 `5` (one or more segments in error) and its AK3/AK4s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetRefusal {
    /// GS06 and ST02 of the set.
    pub group_control: String,
    pub set_control: String,
    pub notes: Vec<SegmentNote>,
}

/// AK2..AK5 for one received set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAck {
    /// AK201 (ST01) and AK202 (ST02).
    pub set_id: String,
    pub control: String,
    pub status: AckStatus,
    /// AK502..AK506 (at most five are written).
    pub errors: Vec<&'static str>,
    pub notes: Vec<SegmentNote>,
}

/// AK1..AK9 for one received group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GroupAck {
    /// AK101 (GS01), AK102 (GS06), GS08 (version of the acknowledged group).
    pub functional_id: String,
    pub control: String,
    pub version: String,
    pub sets: Vec<SetAck>,
    pub status: AckStatus,
    /// AK902 (GE01 when readable, else the count), AK903, AK904.
    pub declared: u32,
    pub received: u32,
    pub accepted: u32,
    /// AK905..AK909.
    pub errors: Vec<&'static str>,
}

/// Builds the acknowledgement of group `group` (1-based) of interchange `interchange`
/// (1-based) from the envelope problems. `None` when there is no such group.
pub fn acknowledge(
    parsed: &Parsed,
    interchange: u32,
    group: u32,
    opts: AckOptions,
) -> Option<GroupAck> {
    let ic = parsed
        .interchanges
        .iter()
        .find(|i| i.index == interchange)?;
    let g = ic.groups.iter().find(|g| g.index == group)?;
    let in_group = |p: &&Problem| {
        p.interchange.as_ref().map(|c| c.index) == Some(interchange)
            && p.group.as_ref().map(|c| c.index) == Some(group)
    };
    let mut sets = Vec::new();
    let (mut received, mut accepted) = (0u32, 0u32);
    for s in &g.sets {
        received += 1;
        let mine: Vec<_> = parsed
            .problems
            .iter()
            .filter(in_group)
            .filter(|p| p.set.as_ref().map(|c| c.index) == Some(s.index))
            .collect();
        let mut errors: Vec<&'static str> = mine
            .iter()
            .filter(|p| p.code.carrier == Carrier::Ak502)
            .map(|p| p.code.value)
            .collect();
        errors.dedup();
        let notes: Vec<SegmentNote> = mine
            .iter()
            .filter(|p| p.code.carrier == Carrier::Ak304)
            .map(|p| SegmentNote {
                segment_id: parsed
                    .set_segments(s)
                    .find(|seg| seg.index == p.at.segment)
                    .map(|seg| super::lexer::text_of(seg.id()))
                    .unwrap_or_default(),
                position: p.at.segment.saturating_sub(s.header.segment) + 1,
                code: p.code.value,
                elements: Vec::new(),
            })
            .collect();
        let status = if !errors.is_empty() {
            AckStatus::Rejected
        } else if !notes.is_empty() {
            AckStatus::AcceptedWithErrors
        } else {
            AckStatus::Accepted
        };
        if status != AckStatus::Rejected {
            accepted += 1;
        }
        if opts.include_accepted_sets || status != AckStatus::Accepted {
            sets.push(SetAck {
                set_id: s.id.clone(),
                control: s.control.clone(),
                status,
                errors,
                notes,
            });
        }
    }
    let group_level = || {
        parsed
            .problems
            .iter()
            .filter(in_group)
            .filter(|p| p.set.is_none() && p.code.carrier == Carrier::Ak905)
    };
    let mut errors: Vec<&'static str> = group_level().map(|p| p.code.value).collect();
    errors.dedup();
    // A group whose own envelope is broken (its GE count or control number wrong, its GE
    // missing) cannot be trusted to hold what the sender meant: none of its sets is accepted.
    if group_level().any(|p| p.severity == Severity::Error) {
        let mut ack = GroupAck {
            functional_id: g.functional_id.clone(),
            control: g.control.clone(),
            version: g.version.clone(),
            sets,
            status: AckStatus::Rejected,
            declared: declared_sets(g, received),
            received,
            accepted,
            errors,
        };
        ack.reject();
        return Some(ack);
    }
    let status = if received > 0 && accepted == 0 {
        AckStatus::Rejected
    } else if accepted < received {
        AckStatus::PartiallyAccepted
    } else if !errors.is_empty() || sets.iter().any(|s| s.status != AckStatus::Accepted) {
        AckStatus::AcceptedWithErrors
    } else {
        AckStatus::Accepted
    };
    Some(GroupAck {
        functional_id: g.functional_id.clone(),
        control: g.control.clone(),
        version: g.version.clone(),
        sets,
        status,
        declared: declared_sets(g, received),
        received,
        accepted,
        errors,
    })
}

/// AK902: GE01 when readable, else the sets counted.
fn declared_sets(g: &super::model::Group, received: u32) -> u32 {
    g.declared_sets
        .as_deref()
        .and_then(|d| d.parse().ok())
        .unwrap_or(received)
}

impl GroupAck {
    /// Refuses the sets of this group that `refusals` name (AK5 `R`, AK502 `5`, their notes)
    /// and counts the group again: `P` when some sets are still accepted, `R` when none is.
    pub fn refuse(&mut self, refusals: &[SetRefusal]) {
        for r in refusals.iter().filter(|r| r.group_control == self.control) {
            let Some(s) = self.sets.iter_mut().find(|s| s.control == r.set_control) else {
                continue;
            };
            if s.status != AckStatus::Rejected {
                self.accepted = self.accepted.saturating_sub(1);
            }
            s.status = AckStatus::Rejected;
            if !s.errors.contains(&"5") {
                s.errors.push("5");
            }
            s.notes.extend(r.notes.iter().cloned());
        }
        self.status = if self.received > 0 && self.accepted == 0 {
            AckStatus::Rejected
        } else if self.accepted < self.received {
            AckStatus::PartiallyAccepted
        } else {
            self.status
        };
    }

    /// The group was not taken at all (its file was rejected): every set and the group are
    /// `R`, none accepted. The codes found stay, so the partner still learns what was wrong.
    pub fn reject(&mut self) {
        for s in &mut self.sets {
            s.status = AckStatus::Rejected;
        }
        self.accepted = 0;
        self.status = AckStatus::Rejected;
    }
}

/// When a TA1 is written for a received interchange (`input.ta1` of a pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ta1Policy {
    /// When the sender asks for one (ISA14 = `1`), whatever the outcome.
    #[default]
    Requested,
    /// As `Requested`, and for every interchange that has a problem at interchange level or
    /// was rejected, asked for or not.
    Problems,
    /// For every interchange.
    Always,
}

/// TA101..TA105 for one received interchange.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterchangeAck {
    /// ISA13, ISA09 and ISA10 of the acknowledged interchange.
    pub control: String,
    pub date: String,
    pub time: String,
    /// TA104: `A`, `E` (accepted, an interchange-level warning noted) or `R`.
    pub status: AckStatus,
    /// TA105: `000` (no error) or the code of the first interchange-level problem.
    pub note: &'static str,
}

/// TA105 when the interchange was rejected for what its groups or sets hold rather than for
/// its own envelope: "invalid interchange content".
const NOTE_CONTENT: &str = "024";
/// TA105 "no error".
const NOTE_NONE: &str = "000";

/// The TA1 for `ic`. `problems` are every envelope problem of the file (the parse's and the
/// duplicate check's); `rejected` says whether the interchange was refused (its file was not
/// processed). A refused interchange is `R` with its first interchange-level code, or `024`
/// when only its groups or sets were at fault.
pub fn acknowledge_interchange<'a>(
    ic: &Interchange,
    problems: impl IntoIterator<Item = &'a Problem>,
    rejected: bool,
) -> InterchangeAck {
    let mine: Vec<&Problem> = problems
        .into_iter()
        .filter(|p| p.interchange.as_ref().map(|c| c.index) == Some(ic.index))
        .collect();
    let first = |severity: Severity| {
        mine.iter()
            .find(|p| p.code.carrier == Carrier::Ta105 && p.severity == severity)
            .map(|p| p.code.value)
    };
    let (status, note) = if rejected {
        let note = first(Severity::Error)
            .or_else(|| first(Severity::Warning))
            .unwrap_or(NOTE_CONTENT);
        (AckStatus::Rejected, note)
    } else if let Some(note) = first(Severity::Warning).or_else(|| first(Severity::Error)) {
        (AckStatus::AcceptedWithErrors, note)
    } else {
        (AckStatus::Accepted, NOTE_NONE)
    };
    InterchangeAck {
        control: ic.control.clone(),
        date: ic.date.clone(),
        time: ic.time.clone(),
        status,
        note,
    }
}

/// Whether `ic` gets a TA1 under `policy`, given what its acknowledgement says.
pub fn wants_ta1(policy: Ta1Policy, ic: &Interchange, ack: &InterchangeAck) -> bool {
    let asked = ic.ack_requested.trim() == "1";
    match policy {
        Ta1Policy::Requested => asked,
        Ta1Policy::Problems => asked || ack.status != AckStatus::Accepted,
        Ta1Policy::Always => true,
    }
}

/// ISA12 and GS08 of our reply to `ic`: the versions it was sent in, so a partner on 4010
/// reads a 4010 997. GS08 is the standard part (six digits) of the first group's GS08, else
/// ISA12 with a release digit; ISA12 is the interchange's when it is five digits. Anything
/// unreadable falls back to 00501 / 005010.
pub fn reply_versions(ic: &Interchange) -> (String, String) {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let isa12 = Some(ic.version.trim())
        .filter(|v| digits(v, 5))
        .unwrap_or("00501")
        .to_string();
    let gs08 = ic
        .groups
        .iter()
        .find_map(|g| g.version.get(..6).filter(|v| digits(v, 6)))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{isa12}0"));
    (isa12, gs08)
}
