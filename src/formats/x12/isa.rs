//! Reading an ISA header: separators by counting element separators (unpadded and NBSP-padded
//! ISAs), a fixed-offset fallback that pinpoints one wrong separator, and ISA field checks.

use memchr::memchr;

use super::codes::{self, Code};
use super::lexer::{is_gap, trim, Separators};

/// The longest ISA we accept when counting separators (106 standard; NBSP padding adds up to
/// one byte per padded character).
const MAX_ISA_LEN: usize = 256;
/// Separator positions of a standard fixed-width ISA, relative to the `I` of `ISA`.
const FIXED_SEPS: [usize; 16] = [
    3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103,
];

/// A readable ISA.
#[derive(Debug, Clone)]
pub struct IsaHeader {
    pub seps: Separators,
    /// ISA01..ISA16 as absolute byte ranges (ISA16 empty when missing).
    pub fields: [(usize, usize); 16],
    /// Position after the terminator.
    pub next: usize,
    /// Framing faults that did not stop reading (code, absolute offset, message).
    pub notes: Vec<(Code, usize, String)>,
}

/// Why an ISA could not be read at all (the rest of the file is then unreadable).
#[derive(Debug, Clone)]
pub struct IsaFault {
    pub code: Code,
    pub offset: usize,
    pub message: String,
}

fn fault(code: Code, offset: usize, message: impl Into<String>) -> IsaFault {
    IsaFault {
        code,
        offset,
        message: message.into(),
    }
}

/// Reads the ISA starting at `p` (`bytes[p..]` starts with `ISA`).
pub fn read_isa(bytes: &[u8], p: usize) -> Result<IsaHeader, IsaFault> {
    let element = *bytes
        .get(p + 3)
        .ok_or_else(|| fault(codes::TA1_PREMATURE_END, p, "file ends inside the ISA"))?;
    if element.is_ascii_alphanumeric() || element >= 0x80 || element == b' ' {
        return Err(fault(
            codes::TA1_BAD_ELEMENT_SEPARATOR,
            p + 3,
            format!("byte {element:#04x} after ISA cannot be an element separator"),
        ));
    }
    let mut notes = Vec::new();
    let seps16 = counted(bytes, p, element)
        .or_else(|| fixed(bytes, p, element, &mut notes))
        .ok_or_else(|| {
            let end = (p + MAX_ISA_LEN).min(bytes.len());
            if end == bytes.len() && bytes.len() < p + 106 {
                fault(codes::TA1_PREMATURE_END, p, "file ends inside the ISA")
            } else {
                fault(
                    codes::TA1_BAD_STRUCTURE,
                    p,
                    "ISA does not have 16 well-formed elements",
                )
            }
        })?;
    let mut fields = [(0, 0); 16];
    let mut start = p + 4;
    for (i, sep) in seps16.iter().enumerate().skip(1) {
        fields[i - 1] = (start, *sep);
        start = sep + 1;
    }
    let q = start;
    let (component, segment, after) = terminator(bytes, q)?;
    fields[15] = match component {
        Some(_) => (q, q + 1),
        None => (q, q),
    };
    check_distinct(element, component, segment, q)?;
    let version = text(bytes, fields[11]);
    let isa11 = slice(bytes, fields[10]);
    let repetition = match (version.parse::<u32>(), isa11) {
        (Ok(v), [r]) if v >= 402 && !r.is_ascii_alphanumeric() && *r != b' ' => Some(*r),
        _ => None,
    };
    Ok(IsaHeader {
        seps: Separators {
            element,
            component,
            repetition,
            segment,
        },
        fields,
        next: after,
        notes,
    })
}

/// Positions of the 16 element separators, found by counting; `None` when the result is not
/// shaped like an ISA (ISA14/ISA15 must be one character, ISA11 one byte).
fn counted(bytes: &[u8], p: usize, element: u8) -> Option<[usize; 16]> {
    let window = bytes.get(p..(p + MAX_ISA_LEN).min(bytes.len()))?;
    let mut seps = [0usize; 16];
    let mut n = 0;
    for (i, b) in window.iter().enumerate() {
        if *b == element {
            seps[n] = p + i;
            n += 1;
            if n == 16 {
                break;
            }
        }
    }
    if n < 16 {
        return None;
    }
    let field = |k: usize| trim(bytes.get(seps[k - 1] + 1..seps[k]).unwrap_or(&[]));
    let shaped = field(11).len() == 1 && field(14).len() == 1 && field(15).len() == 1;
    shaped.then_some(seps)
}

/// The standard fixed layout, accepted when at most two separators are wrong (each is noted).
fn fixed(
    bytes: &[u8],
    p: usize,
    element: u8,
    notes: &mut Vec<(Code, usize, String)>,
) -> Option<[usize; 16]> {
    bytes.get(p + 105)?;
    let wrong: Vec<usize> = FIXED_SEPS
        .iter()
        .map(|o| p + o)
        .filter(|at| bytes.get(*at) != Some(&element))
        .collect();
    if wrong.len() > 2 {
        return None;
    }
    for at in wrong {
        let found = bytes.get(at).copied().unwrap_or(0);
        notes.push((
            codes::TA1_BAD_ELEMENT_SEPARATOR,
            at,
            format!(
                "ISA element separator expected at byte {at} ({:?}), found {:?}",
                element as char, found as char
            ),
        ));
    }
    Some(FIXED_SEPS.map(|o| p + o))
}

/// ISA16 and the segment terminator after the 16th separator at `q`; the position after.
fn terminator(bytes: &[u8], q: usize) -> Result<(Option<u8>, u8, usize), IsaFault> {
    let c1 = *bytes
        .get(q)
        .ok_or_else(|| fault(codes::TA1_PREMATURE_END, q, "file ends before ISA16"))?;
    let Some(&c2) = bytes.get(q + 1) else {
        return Ok((None, c1, q + 1));
    };
    if c1 == b'\r' || c1 == b'\n' || c2.is_ascii_alphanumeric() {
        return Ok((None, c1, q + 1));
    }
    if is_gap(c2) {
        // `>` + LF (LF terminates) or `~` + LF (ISA16 missing, `~` terminates): the segment
        // after the ISA ends with `c1` only in the second case.
        let mut s = q + 1;
        while bytes.get(s).is_some_and(|b| is_gap(*b)) {
            s += 1;
        }
        let rest = bytes.get(s..).unwrap_or(&[]);
        let line = &rest[..memchr(c2, rest).unwrap_or(rest.len())];
        let last = line.iter().rev().find(|b| !is_gap(**b));
        if last == Some(&c1) {
            return Ok((None, c1, q + 1));
        }
    }
    Ok((Some(c1), c2, q + 2))
}

fn check_distinct(
    element: u8,
    component: Option<u8>,
    segment: u8,
    q: usize,
) -> Result<(), IsaFault> {
    if segment == element || segment.is_ascii_alphanumeric() || segment >= 0x80 || segment == b' ' {
        return Err(fault(
            codes::TA1_BAD_TERMINATOR,
            q,
            format!("segment terminator {:?} is not usable", segment as char),
        ));
    }
    if let Some(c) = component {
        if c == element || c == segment || c.is_ascii_alphanumeric() || c >= 0x80 || is_gap(c) {
            return Err(fault(
                codes::TA1_BAD_COMPONENT_SEPARATOR,
                q,
                format!(
                    "ISA16 {:?} is not usable (element {:?}, terminator {:?})",
                    c as char, element as char, segment as char
                ),
            ));
        }
    }
    Ok(())
}

fn slice(bytes: &[u8], (a, b): (usize, usize)) -> &[u8] {
    bytes.get(a..b).unwrap_or(&[])
}

fn text(bytes: &[u8], range: (usize, usize)) -> String {
    super::lexer::text_of(slice(bytes, range))
}

/// One ISA field check: element number, TA105 code, exact width, digits only, allowed values,
/// and whether the field is space-padded text (a width mismatch is then only a warning).
struct Rule {
    n: usize,
    code: Code,
    width: usize,
    digits: bool,
    allowed: &'static [&'static str],
    padded: bool,
}

const fn rule(n: usize, code: Code, width: usize, digits: bool, padded: bool) -> Rule {
    Rule {
        n,
        code,
        width,
        digits,
        allowed: &[],
        padded,
    }
}

const RULES: [Rule; 15] = [
    rule(1, codes::TA1_BAD_AUTH_QUALIFIER, 2, true, false),
    rule(2, codes::TA1_BAD_AUTH, 10, false, true),
    rule(3, codes::TA1_BAD_SECURITY_QUALIFIER, 2, true, false),
    rule(4, codes::TA1_BAD_SECURITY, 10, false, true),
    rule(5, codes::TA1_BAD_SENDER_QUALIFIER, 2, false, false),
    rule(6, codes::TA1_BAD_SENDER, 15, false, true),
    rule(7, codes::TA1_BAD_RECEIVER_QUALIFIER, 2, false, false),
    rule(8, codes::TA1_BAD_RECEIVER, 15, false, true),
    rule(9, codes::TA1_BAD_DATE, 6, true, false),
    rule(10, codes::TA1_BAD_TIME, 4, true, false),
    rule(11, codes::TA1_BAD_STANDARDS_ID, 1, false, false),
    rule(12, codes::TA1_BAD_VERSION, 5, true, false),
    rule(13, codes::TA1_BAD_CONTROL_NUMBER, 9, true, false),
    Rule {
        allowed: &["0", "1"],
        ..rule(14, codes::TA1_BAD_ACK_REQUESTED, 1, false, false)
    },
    Rule {
        allowed: &["P", "T", "I"],
        ..rule(15, codes::TA1_BAD_TEST_INDICATOR, 1, false, false)
    },
];

/// A failed ISA field check.
#[derive(Debug, Clone)]
pub struct FieldFault {
    pub code: Code,
    /// `ISA01`..`ISA15`.
    pub element: String,
    pub offset: usize,
    pub value: String,
    pub message: String,
    pub warning: bool,
}

/// Value checks of ISA01..ISA15.
pub fn check_fields(bytes: &[u8], h: &IsaHeader) -> Vec<FieldFault> {
    let mut out = Vec::new();
    for r in &RULES {
        let range = h.fields[r.n - 1];
        let raw = slice(bytes, range);
        let shown = String::from_utf8_lossy(raw).to_string();
        let chars = shown.chars().count();
        let why = if raw.iter().any(|b| *b < 0x20 || *b == 0x7F) {
            Some(("holds a control character", false))
        } else if r.padded && chars != r.width {
            Some((
                "is not padded to its fixed width of {width} characters",
                true,
            ))
        } else if !r.padded && raw.len() != r.width {
            Some(("is not exactly {width} characters wide", false))
        } else if r.digits && !raw.iter().all(u8::is_ascii_digit) {
            Some(("is not numeric", false))
        } else if !r.allowed.is_empty() && !r.allowed.contains(&shown.as_str()) {
            Some(("is not an allowed value", false))
        } else {
            None
        };
        if let Some((why, warning)) = why {
            let element = format!("ISA{:02}", r.n);
            let message = format!("{element} {}", why.replace("{width}", &r.width.to_string()));
            out.push(FieldFault {
                code: r.code,
                element,
                offset: range.0,
                value: shown,
                message,
                warning,
            });
        }
    }
    out
}
