//! EDIFACT framing: service characters (UNA or defaults), segments with the release character
//! honoured, and decoding element text by the UNB character set.

use serde::ser::{Serialize, SerializeStruct, Serializer};

/// The service characters of an interchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceChars {
    pub component: u8,
    pub element: u8,
    pub decimal: u8,
    pub release: u8,
    /// Repetition separator in syntax version 4 (reserved, a space, before).
    pub reserved: u8,
    pub terminator: u8,
}

impl Default for ServiceChars {
    /// The defaults when there is no UNA: `:+.? '`.
    fn default() -> Self {
        ServiceChars {
            component: b':',
            element: b'+',
            decimal: b'.',
            release: b'?',
            reserved: b' ',
            terminator: b'\'',
        }
    }
}

impl ServiceChars {
    /// Reads a UNA service string advice (`UNA:+.? '`, 9 bytes) at the start of `bytes`.
    pub fn from_una(bytes: &[u8]) -> Option<ServiceChars> {
        match bytes {
            [b'U', b'N', b'A', component, element, decimal, release, reserved, terminator, ..] => {
                Some(ServiceChars {
                    component: *component,
                    element: *element,
                    decimal: *decimal,
                    release: *release,
                    reserved: *reserved,
                    terminator: *terminator,
                })
            }
            _ => None,
        }
    }

    /// The separators must differ from each other and from letters and digits.
    pub fn usable(&self) -> bool {
        let s = [self.component, self.element, self.release, self.terminator];
        let distinct = (0..4).all(|i| (i + 1..4).all(|j| s[i] != s[j]));
        distinct && s.iter().all(|b| !b.is_ascii_alphanumeric() && *b < 0x80)
    }
}

impl Serialize for ServiceChars {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let show = |b: u8| (b as char).to_string();
        let mut st = s.serialize_struct("ServiceChars", 6)?;
        st.serialize_field("component", &show(self.component))?;
        st.serialize_field("element", &show(self.element))?;
        st.serialize_field("decimal", &show(self.decimal))?;
        st.serialize_field("release", &show(self.release))?;
        st.serialize_field("reserved", &show(self.reserved))?;
        st.serialize_field("terminator", &show(self.terminator))?;
        st.end()
    }
}

/// The character repertoire declared in UNB S001/0001, which decides how bytes become text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Charset {
    /// UNOA/UNOB: ISO 646 subsets (ASCII).
    Ascii,
    /// UNOC: ISO 8859-1, decoded byte by byte (not windows-1252).
    Latin1,
    /// UNOD..UNOK: ISO 8859-2, -5, -7, -3, -4, -6, -8, -9 (decoded with encoding_rs).
    Iso8859(u8),
    /// UNOW (UTF-8) and UNOY (ISO 10646-1, sent as UTF-8 in practice).
    Utf8,
    /// Anything else: decoded as ISO 8859-1 (never fails) and reported.
    Unknown,
}

impl Charset {
    pub fn from_syntax_id(id: &str) -> Charset {
        match id {
            "UNOA" | "UNOB" => Charset::Ascii,
            "UNOC" => Charset::Latin1,
            "UNOD" => Charset::Iso8859(2),
            "UNOE" => Charset::Iso8859(5),
            "UNOF" => Charset::Iso8859(7),
            "UNOG" => Charset::Iso8859(3),
            "UNOH" => Charset::Iso8859(4),
            "UNOI" => Charset::Iso8859(6),
            "UNOJ" => Charset::Iso8859(8),
            "UNOK" => Charset::Iso8859(9),
            "UNOW" | "UNOY" => Charset::Utf8,
            _ => Charset::Unknown,
        }
    }

    /// Decodes bytes (already unescaped) to text.
    pub fn decode(self, bytes: &[u8]) -> String {
        let latin1 = |b: &[u8]| b.iter().map(|c| char::from(*c)).collect::<String>();
        match self {
            Charset::Ascii | Charset::Utf8 => String::from_utf8_lossy(bytes).into_owned(),
            Charset::Latin1 | Charset::Unknown => latin1(bytes),
            Charset::Iso8859(n) => {
                let label = format!("iso-8859-{n}");
                match encoding_rs::Encoding::for_label(label.as_bytes()) {
                    Some(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
                    None => latin1(bytes),
                }
            }
        }
    }
}

/// One segment: raw bytes (escapes kept), 1-based index and byte offset.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    pub raw: &'a [u8],
    pub index: u32,
    pub offset: usize,
    pub sc: ServiceChars,
}

/// Splits `raw` on `sep`, skipping separators escaped by `release`.
pub fn split_released(raw: &[u8], sep: u8, release: u8) -> Vec<&[u8]> {
    let mut parts = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < raw.len() {
        let b = raw.get(i).copied().unwrap_or(0);
        if b == release {
            i += 2;
            continue;
        }
        if b == sep {
            parts.push(raw.get(start..i).unwrap_or(&[]));
            start = i + 1;
        }
        i += 1;
    }
    parts.push(raw.get(start.min(raw.len())..).unwrap_or(&[]));
    parts
}

/// Removes release characters (each keeps the byte after it).
pub fn unescape(raw: &[u8], release: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut it = raw.iter();
    while let Some(b) = it.next() {
        if *b == release {
            if let Some(next) = it.next() {
                out.push(*next);
            }
        } else {
            out.push(*b);
        }
    }
    out
}

impl<'a> Segment<'a> {
    /// Data elements, tag first (escapes kept).
    pub fn elements(&self) -> Vec<&'a [u8]> {
        split_released(self.raw, self.sc.element, self.sc.release)
    }

    pub fn tag(&self) -> &'a [u8] {
        self.elements().first().copied().unwrap_or(&[])
    }

    /// Component `m` (1-based) of element `n` (1-based), unescaped and decoded; empty when absent.
    pub fn text(&self, n: usize, m: usize, charset: Charset) -> String {
        let elements = self.elements();
        let Some(element) = elements.get(n) else {
            return String::new();
        };
        let comps = split_released(element, self.sc.component, self.sc.release);
        let raw = comps.get(m - 1).copied().unwrap_or(&[]);
        charset
            .decode(&unescape(raw, self.sc.release))
            .trim()
            .to_string()
    }
}

/// Whitespace allowed between segments.
pub fn is_gap(b: u8) -> bool {
    matches!(b, b'\r' | b'\n' | b' ' | b'\t')
}

/// Reads the segment at `pos`: up to the first unreleased terminator. Returns the segment's raw
/// bytes and the position after the terminator. With a newline terminator a CR before it is
/// dropped.
pub fn read_segment<'a>(bytes: &'a [u8], pos: usize, sc: &ServiceChars) -> (&'a [u8], usize) {
    let mut i = pos;
    while let Some(&b) = bytes.get(i) {
        if b == sc.release {
            i += 2;
            continue;
        }
        if b == sc.terminator {
            break;
        }
        i += 1;
    }
    let end = i.min(bytes.len());
    let mut raw = bytes.get(pos..end).unwrap_or(&[]);
    if sc.terminator == b'\n' {
        while let [head @ .., b'\r'] = raw {
            raw = head;
        }
    }
    (raw, (end + 1).max(pos + 1))
}
