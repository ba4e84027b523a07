//! X12 we send: 997 functional acknowledgements for received interchanges: one 997 interchange per
//! received interchange, acknowledging each of its groups (accepted, accepted with errors or
//! rejected, with the AK codes of its problems), with interchange and group control numbers
//! per partner kept in the ledger so they are never reused; and the interchange control numbers
//! each partner has sent, so a number sent twice is flagged (TA1 note 025).

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::formats::x12;
use crate::store::{Ledger, StoreError};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS x12_control_numbers (
    partner TEXT PRIMARY KEY,
    last_interchange INTEGER NOT NULL,
    last_group INTEGER NOT NULL
)";

/// The next (interchange, group) control numbers for a partner, taken in one transaction.
fn next_controls(ledger: &Ledger, partner: &str) -> Result<(u32, u32), StoreError> {
    let conn = ledger.connection();
    let err = |source| StoreError::Ledger {
        path: conn.path().map(Into::into).unwrap_or_default(),
        source,
    };
    conn.execute(SCHEMA, []).map_err(err)?;
    let tx = conn.unchecked_transaction().map_err(err)?;
    tx.execute(
        "INSERT INTO x12_control_numbers (partner, last_interchange, last_group) VALUES (?1, 1, 1)
         ON CONFLICT (partner) DO UPDATE SET last_interchange = (last_interchange % 999999999) + 1,
                                             last_group = (last_group % 999999999) + 1",
        params![partner],
    )
    .map_err(err)?;
    let (i, g): (i64, i64) = tx
        .query_row(
            "SELECT last_interchange, last_group FROM x12_control_numbers WHERE partner = ?1",
            params![partner],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(err)?;
    tx.commit().map_err(err)?;
    Ok((i as u32, g as u32))
}

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
    let (interchange_control, group_control) = next_controls(ledger, &party.partner_key())?;
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

/// One 997 file (name and bytes) per received interchange that has groups.
pub fn acknowledgements(
    ledger: &Ledger,
    parsed: &x12::Parsed,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    for ic in parsed.interchanges.iter().filter(|i| !i.headless) {
        let acks: Vec<x12::ack::GroupAck> = ic
            .groups
            .iter()
            .filter_map(|g| x12::acknowledge(parsed, ic.index, g.index, x12::AckOptions::default()))
            .collect();
        if acks.is_empty() {
            continue;
        }
        let partner = format!("{}:{}", ic.sender_qualifier, ic.sender);
        let (interchange_control, group_control) = next_controls(ledger, &partner)?;
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
        match x12::write_997(&env, &acks) {
            Ok(b) => out.push((
                format!(
                    "997_{}_{}_{interchange_control:09}.x12",
                    sanitize(&ic.sender),
                    ic.control
                ),
                b,
            )),
            Err(e) => {
                tracing::warn!(partner = %partner, "no 997 written for interchange {}: {e}", ic.control)
            }
        }
    }
    Ok(out)
}

const SEEN: &str = "CREATE TABLE IF NOT EXISTS x12_interchanges_received (
    sender TEXT NOT NULL,
    control TEXT NOT NULL,
    file TEXT NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (sender, control)
)";

/// Duplicate interchange control numbers in `bytes` (within the file, or already received from
/// the same sender in an earlier file) as error issues; the file's other interchanges are
/// remembered. Call once per received file, not for reruns (they would meet themselves).
pub fn duplicate_interchanges(
    ledger: &Ledger,
    file: &str,
    bytes: &[u8],
    parsed: &x12::Parsed,
    run_id: &str,
) -> Result<Vec<crate::issue::Issue>, StoreError> {
    let conn = ledger.connection();
    let err = |source| StoreError::Ledger {
        path: conn.path().map(Into::into).unwrap_or_default(),
        source,
    };
    conn.execute(SEEN, []).map_err(err)?;
    // Control numbers are compared as numbers: `000000905` and `905` are the same interchange.
    let norm = |c: &str| c.trim().trim_start_matches('0').to_string();
    let lookup_error = std::cell::RefCell::new(None);
    let problems = x12::duplicate_interchanges(parsed, |sender, control| {
        conn.query_row(
            "SELECT count(*) FROM x12_interchanges_received WHERE sender = ?1 AND control = ?2",
            params![sender, norm(control)],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .unwrap_or_else(|e| {
            *lookup_error.borrow_mut() = Some(e);
            false
        })
    });
    if let Some(e) = lookup_error.into_inner() {
        return Err(err(e));
    }
    let mut problems = problems;
    // Say which earlier file and run carried the number, for the partner conversation.
    for p in problems
        .iter_mut()
        .filter(|p| p.message.ends_with("in an earlier file"))
    {
        let Some(ic) = p
            .interchange
            .as_ref()
            .and_then(|c| parsed.interchanges.iter().find(|i| i.index == c.index))
        else {
            continue;
        };
        let earlier: Option<(String, String)> = conn
            .query_row(
                "SELECT file, run_id FROM x12_interchanges_received WHERE sender = ?1 AND control = ?2",
                params![format!("{}:{}", ic.sender_qualifier, ic.sender), norm(&ic.control)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok();
        if let Some((file, run)) = earlier {
            p.message.push_str(&format!(" ({file}, run {run})"));
        }
    }
    for ic in parsed.interchanges.iter().filter(|i| !i.headless) {
        conn.execute(
            "INSERT OR IGNORE INTO x12_interchanges_received (sender, control, file, run_id)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                format!("{}:{}", ic.sender_qualifier, ic.sender),
                norm(&ic.control),
                file,
                run_id
            ],
        )
        .map_err(err)?;
    }
    Ok(x12::to_issues(file, bytes, &problems))
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}
