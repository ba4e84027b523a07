//! X12 we send: one reply interchange per received interchange, holding a TA1 when the
//! partner asked for one (or the pipeline always wants one) and a 997 acknowledging each of its
//! groups (accepted, accepted with errors or rejected, with the AK codes of its problems), in
//! the version the partner sent; interchange and group control numbers per partner kept in the
//! ledger so they are never reused; and the interchange control numbers each partner has sent
//! in accepted interchanges, so a number sent twice is flagged (TA1 note 025).

use chrono::{DateTime, Utc};

use crate::formats::x12;
use crate::store::{Ledger, StoreError};

/// An output table written as an X12 940 or 846 interchange to `party`, with the partner's
/// next control numbers from the ledger, never reused. A rerun passes the replayed run's
/// document as `previous`: when the rerun's content is the same, the previous envelope
/// (control numbers, date, time) is kept, so the output is byte-identical and a partner that
/// receives it again sees a duplicate interchange, not a second order; changed content gets new
/// numbers. The outer `Result` is the ledger, the inner one the data (a value the document
/// cannot carry).
pub fn outbound_x12(
    ledger: &Ledger,
    df: &polars::prelude::DataFrame,
    order_by: &[String],
    document: crate::config::X12Document,
    party: &crate::config::X12Party,
    previous: Option<&[u8]>,
) -> Result<Result<Vec<u8>, String>, StoreError> {
    use crate::config::X12Document;
    let table = match super::tables::to_table(df, order_by) {
        Ok(t) => t,
        Err(e) => return Ok(Err(e.to_string())),
    };
    let write = |env: &x12::Envelope| match document {
        X12Document::ShippingOrder => x12::write_940(env, &table),
        X12Document::InventoryAdvice => x12::write_846(env, &table),
    };
    if let Some(env) = previous.and_then(|b| previous_envelope(b, party)) {
        if let Ok(again) = write(&env) {
            if Some(again.as_slice()) == previous {
                return Ok(Ok(again));
            }
        }
    }
    let (interchange_control, group_control) = ledger.next_x12_controls(&party.partner_key())?;
    let now = Utc::now();
    let env = x12::Envelope {
        sender_qualifier: party.sender_qualifier.clone(),
        sender: party.sender.clone(),
        receiver_qualifier: party.receiver_qualifier.clone(),
        receiver: party.receiver.clone(),
        app_sender: party.app_sender.clone(),
        app_receiver: party.app_receiver.clone(),
        date: now.format("%Y%m%d").to_string(),
        time: now.format("%H%M").to_string(),
        interchange_control,
        group_control,
        first_set_control: 1,
        usage: party.usage,
        separators: x12::Separators::default(),
    };
    Ok(write(&env).map_err(|e| e.to_string()))
}

/// The envelope a document we wrote earlier carried (its first interchange and group).
fn previous_envelope(bytes: &[u8], party: &crate::config::X12Party) -> Option<x12::Envelope> {
    let parsed = x12::parse(bytes);
    let ic = parsed.interchanges.first()?;
    let group = ic.groups.first()?;
    Some(x12::Envelope {
        sender_qualifier: party.sender_qualifier.clone(),
        sender: party.sender.clone(),
        receiver_qualifier: party.receiver_qualifier.clone(),
        receiver: party.receiver.clone(),
        app_sender: party.app_sender.clone(),
        app_receiver: party.app_receiver.clone(),
        date: group.date.clone(),
        time: group.time.clone(),
        interchange_control: ic.control.trim().parse().ok()?,
        group_control: group.control.trim().parse().ok()?,
        first_set_control: 1,
        usage: party.usage,
        separators: x12::Separators::default(),
    })
}

/// What receiving an X12 file gives: the duplicate-control-number issues (errors), and the
/// replies to send, one file (name, bytes) per interchange that has something to say.
#[derive(Debug, Default)]
pub struct Received {
    pub issues: Vec<crate::issue::Issue>,
    pub replies: Vec<(String, Vec<u8>)>,
}

/// Receives one partner file (not for reruns: they would meet their own control numbers).
///
/// Interchange control numbers the sender used in an accepted interchange before (or earlier
/// in this file) are errors (TA1 note 025). The file is refused when any envelope problem is an
/// error (`process` quarantines it on the same count), and then every group of every
/// interchange in it is acknowledged `R`: nothing of it was taken. Each interchange is
/// remembered with that verdict, so only accepted ones make a number "already received". The
/// replies use the version of the interchange they answer, and carry a TA1 when `ta1` says so.
///
/// `refusals` are sets refused for their content (by interchange control number): their AK5
/// says `R` with the segments and elements at fault (an order line with an unknown SKU).
#[allow(clippy::too_many_arguments)]
pub fn receive(
    ledger: &Ledger,
    file: &str,
    bytes: &[u8],
    parsed: &x12::Parsed,
    run_id: &str,
    ta1: x12::Ta1Policy,
    now: DateTime<Utc>,
    refusals: &[(String, x12::SetRefusal)],
) -> Result<Received, StoreError> {
    let lookup_error = std::cell::RefCell::new(None);
    let mut duplicates = x12::duplicate_interchanges(parsed, |sender, control| {
        ledger
            .accepted_interchange(sender, control, run_id)
            .unwrap_or_else(|e| {
                *lookup_error.borrow_mut() = Some(e);
                None
            })
            .is_some()
    });
    if let Some(e) = lookup_error.into_inner() {
        return Err(e);
    }
    // Say which earlier file and run carried the number, for the partner conversation (a
    // number repeated within this file names no other file).
    let key = |i: &x12::Interchange| {
        (
            format!("{}:{}", i.sender_qualifier, i.sender),
            i.control.trim_start_matches('0').to_string(),
        )
    };
    for p in duplicates.iter_mut() {
        let Some(ic) = p
            .interchange
            .as_ref()
            .and_then(|c| parsed.interchanges.iter().find(|i| i.index == c.index))
        else {
            continue;
        };
        let repeated_in_file = parsed
            .interchanges
            .iter()
            .any(|i| !i.headless && i.index < ic.index && key(i) == key(ic));
        if repeated_in_file {
            continue;
        }
        let sender = key(ic).0;
        if let Some(e) = ledger.accepted_interchange(&sender, &ic.control, run_id)? {
            p.message
                .push_str(&format!(" ({}, run {})", e.file, e.run_id));
        }
    }
    let rejected = parsed
        .problems
        .iter()
        .chain(&duplicates)
        .any(|p| p.severity == crate::issue::Severity::Error);
    let mut replies = Vec::new();
    for ic in parsed.interchanges.iter().filter(|i| !i.headless) {
        let partner = format!("{}:{}", ic.sender_qualifier, ic.sender);
        ledger.remember_interchange(&partner, &ic.control, file, run_id, !rejected)?;
        let refused: Vec<x12::SetRefusal> = refusals
            .iter()
            .filter(|(control, _)| control == &ic.control)
            .map(|(_, r)| r.clone())
            .collect();
        let answer = Answer {
            rejected,
            ta1,
            refused: &refused,
        };
        if let Some(reply) = reply(ledger, parsed, &duplicates, ic, answer, now)? {
            replies.push(reply);
        }
    }
    Ok(Received {
        issues: x12::to_issues(file, bytes, &duplicates),
        replies,
    })
}

/// The reply to one interchange (TA1 and/or 997), named for the partner and the number it
/// answers; `None` when there is nothing to say (no group and no TA1 wanted).
/// What the reply to one interchange says besides its envelope's problems.
struct Answer<'a> {
    /// The file was refused: every group and set `R`.
    rejected: bool,
    ta1: x12::Ta1Policy,
    /// Sets refused for their content.
    refused: &'a [x12::SetRefusal],
}

fn reply(
    ledger: &Ledger,
    parsed: &x12::Parsed,
    duplicates: &[x12::Problem],
    ic: &x12::Interchange,
    answer: Answer,
    now: DateTime<Utc>,
) -> Result<Option<(String, Vec<u8>)>, StoreError> {
    let Answer {
        rejected,
        ta1,
        refused,
    } = answer;
    let acks: Vec<x12::ack::GroupAck> = ic
        .groups
        .iter()
        .filter_map(|g| x12::acknowledge(parsed, ic.index, g.index, x12::AckOptions::default()))
        .map(|mut a| {
            a.refuse(refused);
            if rejected {
                a.reject();
            }
            a
        })
        .collect();
    let interchange =
        x12::acknowledge_interchange(ic, parsed.problems.iter().chain(duplicates), rejected);
    let ta1 = x12::wants_ta1(ta1, ic, &interchange).then_some(&interchange);
    if acks.is_empty() && ta1.is_none() {
        return Ok(None);
    }
    let partner = format!("{}:{}", ic.sender_qualifier, ic.sender);
    let (interchange_control, group_control) = ledger.next_x12_controls(&partner)?;
    // We answer as the receiver of what they sent.
    let env = x12::Envelope {
        sender_qualifier: ic.receiver_qualifier.clone(),
        sender: ic.receiver.clone(),
        receiver_qualifier: ic.sender_qualifier.clone(),
        receiver: ic.sender.clone(),
        app_sender: ic.receiver.clone(),
        app_receiver: ic.sender.clone(),
        date: now.format("%Y%m%d").to_string(),
        time: now.format("%H%M").to_string(),
        interchange_control,
        group_control,
        first_set_control: 1,
        usage: ic.usage.chars().next().filter(|c| *c == 'T').unwrap_or('P'),
        separators: x12::Separators::default(),
    };
    let (isa12, gs08) = x12::reply_versions(ic);
    match x12::write_reply(&env, &isa12, &gs08, ta1, &acks) {
        Ok(b) => {
            let kind = if acks.is_empty() { "TA1" } else { "997" };
            let name = format!(
                "{kind}_{}_{}_{interchange_control:09}.x12",
                sanitize(&ic.sender),
                sanitize(&ic.control)
            );
            Ok(Some((name, b)))
        }
        Err(e) => {
            tracing::warn!(partner = %partner, "no acknowledgement written for interchange {}: {e}", ic.control);
            Ok(None)
        }
    }
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
