//! Writing X12: the interchange/group envelope shared by every outbound document, and a 997
//! acknowledging received groups. Control numbers, dates and parties come from the caller (the
//! ledger and the clock live elsewhere).

use super::ack::{GroupAck, InterchangeAck};
use super::lexer::Separators;
use super::X12Error;

/// The envelope of an outbound interchange.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// ISA05/ISA06 and ISA07/ISA08 (padded on output; IDs at most 15 characters).
    pub sender_qualifier: String,
    pub sender: String,
    pub receiver_qualifier: String,
    pub receiver: String,
    /// GS02/GS03 application codes (often the same as the ISA IDs).
    pub app_sender: String,
    pub app_receiver: String,
    /// `YYYYMMDD` and `HHMM` (ISA09 takes the last six digits of the date).
    pub date: String,
    pub time: String,
    /// ISA13 (at most 9 digits, zero-padded), GS06, and the ST02 of the first set (the next
    /// sets count up from it).
    pub interchange_control: u32,
    pub group_control: u32,
    pub first_set_control: u32,
    /// ISA15: `P` production or `T` test.
    pub usage: char,
    pub separators: Separators,
}

pub(super) struct Out<'a> {
    buf: Vec<u8>,
    seps: &'a Separators,
    /// Segments written so far (ISA included), for SE01.
    pub(super) segments: u32,
}

impl Out<'_> {
    /// Writes one segment; trailing empty elements are dropped (X12 forbids trailing separators).
    pub(super) fn segment(&mut self, elements: &[&str]) -> Result<(), X12Error> {
        let used = elements
            .iter()
            .rposition(|e| !e.is_empty())
            .map_or(0, |i| i + 1);
        let elements = elements.get(..used).unwrap_or(elements);
        for (i, e) in elements.iter().enumerate() {
            if i > 0 {
                self.buf.push(self.seps.element);
                check(e, self.seps)?;
            }
            self.buf.extend_from_slice(e.as_bytes());
        }
        self.end_segment();
        self.segments += 1;
        Ok(())
    }

    /// The terminator, then a LF for readability unless the terminator is already a LF.
    fn end_segment(&mut self) {
        self.buf.push(self.seps.segment);
        if self.seps.segment != b'\n' {
            self.buf.push(b'\n');
        }
    }
}

pub(super) fn check(value: &str, seps: &Separators) -> Result<(), X12Error> {
    let bad = value.bytes().any(|b| {
        b == seps.element
            || b == seps.segment
            || Some(b) == seps.component
            || Some(b) == seps.repetition
            || b < 0x20
    });
    if bad {
        return Err(X12Error::Unwritable {
            element: "element",
            value: value.to_string(),
            why: "it contains a separator or a control character",
        });
    }
    Ok(())
}

fn fixed(element: &'static str, value: &str, width: usize) -> Result<String, X12Error> {
    if value.chars().count() > width {
        return Err(X12Error::Unwritable {
            element,
            value: value.to_string(),
            why: "too long for its fixed-width ISA field",
        });
    }
    Ok(format!("{value:<width$}"))
}

/// Starts an interchange with one group: ISA (`isa12` version; ISA11 carries the repetition
/// separator from 00402 on, else `U`) and GS (`functional_id`, `gs08` version). Finish with
/// [`close`].
pub(super) fn open<'a>(
    env: &'a Envelope,
    functional_id: &str,
    isa12: &str,
    gs08: &str,
) -> Result<Out<'a>, X12Error> {
    let mut out = open_interchange(env, isa12)?;
    out.open_group(env, functional_id, gs08)?;
    Ok(out)
}

/// The ISA alone (TA1 segments may follow before any GS).
fn open_interchange<'a>(env: &'a Envelope, isa12: &str) -> Result<Out<'a>, X12Error> {
    let seps = &env.separators;
    let date = env.date.get(2..).unwrap_or("");
    let (Some(component), true) = (seps.component, date.len() == 6 && env.time.len() == 4) else {
        return Err(X12Error::Unwritable {
            element: "ISA09/ISA10/ISA16",
            value: format!("{} {}", env.date, env.time),
            why: "date must be YYYYMMDD, time HHMM, and a component separator is required",
        });
    };
    let repetition = match seps.repetition {
        Some(r) if isa12 >= "00402" => (r as char).to_string(),
        _ => "U".to_string(),
    };
    let isa13 = format!("{:09}", env.interchange_control);
    let mut out = Out {
        buf: Vec::new(),
        seps,
        segments: 0,
    };
    let isa = [
        "ISA".to_string(),
        "00".into(),
        " ".repeat(10),
        "00".into(),
        " ".repeat(10),
        fixed("ISA05", &env.sender_qualifier, 2)?,
        fixed("ISA06", &env.sender, 15)?,
        fixed("ISA07", &env.receiver_qualifier, 2)?,
        fixed("ISA08", &env.receiver, 15)?,
        date.to_string(),
        env.time.clone(),
        repetition,
        fixed("ISA12", isa12, 5)?,
        fixed("ISA13", &isa13, 9)?,
        "0".into(),
        env.usage.to_string(),
        (component as char).to_string(),
    ];
    // ISA11 is the repetition separator and ISA16 the component separator by definition; every
    // other ISA field must be free of separators.
    for (i, e) in isa.iter().enumerate() {
        if i > 0 {
            out.buf.push(seps.element);
        }
        if i != 11 && i != 16 {
            check(e, seps)?;
        }
        out.buf.extend_from_slice(e.as_bytes());
    }
    out.end_segment();
    Ok(out)
}

impl Out<'_> {
    fn open_group(
        &mut self,
        env: &Envelope,
        functional_id: &str,
        gs08: &str,
    ) -> Result<(), X12Error> {
        self.segment(&[
            "GS",
            functional_id,
            &env.app_sender,
            &env.app_receiver,
            &env.date,
            &env.time,
            &env.group_control.to_string(),
            "X",
            gs08,
        ])
    }
}

/// GE and IEA for an interchange opened with [`open`] holding `sets` transaction sets.
pub(super) fn close(mut out: Out, env: &Envelope, sets: usize) -> Result<Vec<u8>, X12Error> {
    let isa13 = format!("{:09}", env.interchange_control);
    out.segment(&["GE", &sets.to_string(), &env.group_control.to_string()])?;
    out.segment(&["IEA", "1", &isa13])?;
    Ok(out.buf)
}

/// ST02/SE02 of the `n`th (0-based) set: counting up from the envelope's first set control.
pub(super) fn set_control(env: &Envelope, n: usize) -> String {
    format!("{:04}", env.first_set_control as u64 + n as u64)
}

/// Writes one interchange with one FA group holding one 997 per acknowledged group, as
/// 00501/005010. Segments end with the terminator and a LF (readers skip the LF).
pub fn write_997(env: &Envelope, acks: &[GroupAck]) -> Result<Vec<u8>, X12Error> {
    write_reply(env, "00501", "005010", None, acks)
}

/// Our reply to one received interchange: the ISA in version `isa12`, the TA1 when given,
/// then (when there are acknowledged groups) one FA group in version `gs08` holding one 997
/// per group, and the IEA. AK103 (the acknowledged group's version) exists from 005010 on, so
/// it is written only then: a 4010 translator would refuse the element.
pub fn write_reply(
    env: &Envelope,
    isa12: &str,
    gs08: &str,
    ta1: Option<&InterchangeAck>,
    acks: &[GroupAck],
) -> Result<Vec<u8>, X12Error> {
    let mut out = open_interchange(env, isa12)?;
    if let Some(t) = ta1 {
        out.segment(&["TA1", &t.control, &t.date, &t.time, t.status.code(), t.note])?;
    }
    if acks.is_empty() {
        let isa13 = format!("{:09}", env.interchange_control);
        out.segment(&["IEA", "0", &isa13])?;
        return Ok(out.buf);
    }
    out.open_group(env, "FA", gs08)?;
    let ak103 = gs08 >= "005010";
    for (n, ack) in acks.iter().enumerate() {
        let st02 = set_control(env, n);
        let start = out.segments;
        out.segment(&["ST", "997", &st02])?;
        let version = if ak103 { ack.version.as_str() } else { "" };
        out.segment(&["AK1", &ack.functional_id, &ack.control, version])?;
        for set in &ack.sets {
            out.segment(&["AK2", &set.set_id, &set.control])?;
            for note in &set.notes {
                out.segment(&[
                    "AK3",
                    &note.segment_id,
                    &note.position.to_string(),
                    "",
                    note.code,
                ])?;
                for el in &note.elements {
                    out.segment(&[
                        "AK4",
                        &el.position.to_string(),
                        el.reference,
                        el.code,
                        &el.value,
                    ])?;
                }
            }
            let mut ak5 = vec!["AK5", set.status.code()];
            ak5.extend(set.errors.iter().take(5));
            out.segment(&ak5)?;
        }
        let counts = [
            ack.declared.to_string(),
            ack.received.to_string(),
            ack.accepted.to_string(),
        ];
        let mut ak9 = vec!["AK9", ack.status.code(), &counts[0], &counts[1], &counts[2]];
        ak9.extend(ack.errors.iter().take(5));
        out.segment(&ak9)?;
        let count = (out.segments - start + 1).to_string();
        out.segment(&["SE", &count, &st02])?;
    }
    close(out, env, acks.len())
}
