//! Turns the received bytes into text (BOM, then the XML declaration's encoding) and maps
//! offsets in that text back to byte offsets, lines and columns of the file as received.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_16BE, UTF_16LE, UTF_8};
use serde::Serialize;

use super::problem::{Pos, Problem, ENCODING};

/// What was found about the encoding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncodingInfo {
    /// The encoding the text was decoded with (encoding_rs name: `UTF-8`, `UTF-16LE`,
    /// `windows-1252` for an `ISO-8859-1` label, ...).
    pub used: &'static str,
    /// The label in the XML declaration, as written.
    pub declared: Option<String>,
    pub bom: bool,
}

/// How one unit of decoded text maps back to input bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Width {
    Utf8,
    Utf16,
    SingleByte,
}

/// The decoded text and what is needed to locate offsets in the original bytes.
#[derive(Debug)]
pub struct Decoded<'a> {
    pub text: Cow<'a, str>,
    pub info: EncodingInfo,
    width: Width,
    bom_len: usize,
}

/// Decodes `bytes`. Undecodable input is a problem at the first bad byte, not lossy text:
/// replacement characters would shift every offset after them.
pub fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Box<(EncodingInfo, Problem)>> {
    let (bom_enc, bom_len) = match Encoding::for_bom(bytes) {
        Some((enc, len)) => (Some(enc), len),
        None if bytes.starts_with(b"<\0?\0") => (Some(UTF_16LE), 0),
        None if bytes.starts_with(b"\0<\0?") => (Some(UTF_16BE), 0),
        None => (None, 0),
    };
    let body = bytes.get(bom_len..).unwrap_or_default();
    let mut info = EncodingInfo {
        used: UTF_8.name(),
        declared: None,
        bom: bom_len > 0,
    };
    let at = |offset: usize| Pos {
        offset,
        line: 1,
        column: 1,
    };
    if let Some(enc) = bom_enc.filter(|e| *e == UTF_16LE || *e == UTF_16BE) {
        info.used = enc.name();
        let Some(text) = enc.decode_without_bom_handling_and_without_replacement(body) else {
            let p = Problem::new(ENCODING, at(bom_len), format!("not valid {}", enc.name()));
            return Err(Box::new((info, p)));
        };
        info.declared = declared_label(text.as_bytes());
        return Ok(Decoded {
            text,
            info,
            width: Width::Utf16,
            bom_len,
        });
    }
    info.declared = declared_label(body);
    let enc = match (info.declared.clone(), bom_enc) {
        (_, Some(enc)) => enc,
        (None, None) => UTF_8,
        (Some(label), None) => match Encoding::for_label(label.as_bytes()) {
            Some(enc) if enc == UTF_8 || enc.is_single_byte() => enc,
            Some(enc) if enc == UTF_16LE || enc == UTF_16BE => {
                let msg = format!("declares {label} but has no byte-order mark");
                let p = Problem::new(ENCODING, at(0), msg).value(label.clone());
                return Err(Box::new((info, p)));
            }
            _ => {
                let msg = format!("unsupported encoding {label:?}");
                let p = Problem::new(ENCODING, at(0), msg).value(label.clone());
                return Err(Box::new((info, p)));
            }
        },
    };
    info.used = enc.name();
    if enc == UTF_8 {
        return match std::str::from_utf8(body) {
            Ok(text) => Ok(Decoded {
                text: Cow::Borrowed(text),
                info,
                width: Width::Utf8,
                bom_len,
            }),
            Err(e) => {
                let good = body.get(..e.valid_up_to()).unwrap_or_default();
                let good = std::str::from_utf8(good).unwrap_or_default();
                let mut cur = Cursor {
                    text: good,
                    width: Width::Utf8,
                    bom_len,
                    at: 0,
                    pos: Pos {
                        offset: bom_len,
                        line: 1,
                        column: 1,
                    },
                    after_cr: false,
                };
                let pos = cur.pos(good.len());
                let bad = bytes.get(pos.offset).copied().unwrap_or(0);
                let p =
                    Problem::new(ENCODING, pos, "not valid UTF-8").value(format!("0x{bad:02X}"));
                Err(Box::new((info, p)))
            }
        };
    }
    let (text, _) = enc.decode_without_bom_handling(body);
    Ok(Decoded {
        text,
        info,
        width: Width::SingleByte,
        bom_len,
    })
}

/// The `encoding="..."` label of a leading `<?xml ...?>` (ASCII-compatible text only).
fn declared_label(head: &[u8]) -> Option<String> {
    let head = head.get(..head.len().min(512))?;
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(head.get(..end)?).ok()?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].to_string())
}

impl Decoded<'_> {
    /// A cursor for locating offsets of this text, cheapest when asked in increasing order.
    pub fn cursor(&self) -> Cursor<'_> {
        Cursor {
            text: &self.text,
            width: self.width,
            bom_len: self.bom_len,
            at: 0,
            pos: Pos {
                offset: self.bom_len,
                line: 1,
                column: 1,
            },
            after_cr: false,
        }
    }
}

/// Walks the decoded text forward, counting input bytes, lines (LF, CRLF or lone CR) and
/// character columns; asking for an earlier offset restarts from the beginning.
#[derive(Debug, Clone)]
pub struct Cursor<'t> {
    text: &'t str,
    width: Width,
    bom_len: usize,
    at: usize,
    pos: Pos,
    after_cr: bool,
}

impl Cursor<'_> {
    /// The position of decoded offset `off` (clamped to the text, floored to a char boundary).
    pub fn pos(&mut self, off: usize) -> Pos {
        let mut off = off.min(self.text.len());
        while !self.text.is_char_boundary(off) {
            off -= 1;
        }
        if off < self.at {
            self.at = 0;
            self.after_cr = false;
            self.pos = Pos {
                offset: self.bom_len,
                line: 1,
                column: 1,
            };
        }
        for c in self.text.get(self.at..off).unwrap_or_default().chars() {
            self.pos.offset += match self.width {
                Width::Utf8 => c.len_utf8(),
                Width::Utf16 => 2 * c.len_utf16(),
                Width::SingleByte => 1,
            };
            match c {
                '\n' if self.after_cr => {}
                '\n' | '\r' => {
                    self.pos.line += 1;
                    self.pos.column = 1;
                }
                _ => self.pos.column += 1,
            }
            self.after_cr = c == '\r';
        }
        self.at = off;
        self.pos
    }
}
