//! What a 997 says about one received functional group, derived from the envelope problems.

use serde::Serialize;

use super::codes::Carrier;
use super::model::Parsed;

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
    let in_group = |p: &&super::problem::Problem| {
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
    let mut errors: Vec<&'static str> = parsed
        .problems
        .iter()
        .filter(in_group)
        .filter(|p| p.set.is_none() && p.code.carrier == Carrier::Ak905)
        .map(|p| p.code.value)
        .collect();
    errors.dedup();
    let status = if received > 0 && accepted == 0 {
        AckStatus::Rejected
    } else if accepted < received {
        AckStatus::PartiallyAccepted
    } else if !errors.is_empty() || sets.iter().any(|s| s.status != AckStatus::Accepted) {
        AckStatus::AcceptedWithErrors
    } else {
        AckStatus::Accepted
    };
    let declared = g
        .declared_sets
        .as_deref()
        .and_then(|d| d.parse().ok())
        .unwrap_or(received);
    Some(GroupAck {
        functional_id: g.functional_id.clone(),
        control: g.control.clone(),
        version: g.version.clone(),
        sets,
        status,
        declared,
        received,
        accepted,
        errors,
    })
}
