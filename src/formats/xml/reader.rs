//! Safe reading of a document into a [`Doc`] with quick-xml's `NsReader`: DOCTYPEs are
//! recorded and never fetched or expanded, declared entities are refused, and depth, size
//! and element count are bounded.

use quick_xml::escape::{resolve_xml_entity, unescape_with};
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesDecl, BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::Serialize;

use super::decode::{decode, Cursor, EncodingInfo};
use super::doctype::{parse_doctype, Doctype};
use super::problem::{self as pb, Problem, Sink};
use super::tree::{Doc, Node};

/// The deepest nesting honoured whatever `XmlLimits::max_depth` says: quick-xml 0.39 counts
/// namespace scopes in a `u16` and overflows (a panic in debug builds) past 65535 levels.
pub const MAX_SUPPORTED_DEPTH: usize = 10_000;

/// Bounds on what one document may cost. Exceeding one is a problem, never a panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Deepest element nesting (the root is depth 1); at most [`MAX_SUPPORTED_DEPTH`].
    pub max_depth: usize,
    /// Largest document in bytes, checked before anything is decoded.
    pub max_bytes: usize,
    /// Most elements kept in the tree (bounds memory for a file of tiny elements).
    pub max_elements: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 64,
            max_bytes: 64 << 20,
            max_elements: 1_000_000,
        }
    }
}

/// The XML declaration as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declaration {
    pub version: Option<String>,
    pub encoding: Option<String>,
    pub standalone: Option<String>,
}

/// Everything read from the bytes, before any document-kind logic.
#[derive(Debug, Clone)]
pub struct Read {
    pub encoding: Option<EncodingInfo>,
    pub declaration: Option<Declaration>,
    pub doctype: Option<Doctype>,
    pub doc: Doc,
    /// False when reading stopped early (malformed, refused or over a limit): the tree is
    /// then incomplete and must not be mapped.
    pub complete: bool,
    pub problems: Vec<Problem>,
}

/// Reads `bytes` within `limits`.
pub fn read(bytes: &[u8], limits: &XmlLimits) -> Read {
    let mut out = Read {
        encoding: None,
        declaration: None,
        doctype: None,
        doc: Doc::default(),
        complete: false,
        problems: Vec::new(),
    };
    if bytes.len() > limits.max_bytes {
        let msg = format!(
            "document is {} bytes, over the limit of {}",
            bytes.len(),
            limits.max_bytes
        );
        let at = pb::Pos {
            offset: limits.max_bytes,
            line: 0,
            column: 0,
        };
        out.problems.push(Problem::new(pb::TOO_LARGE, at, msg));
        return out;
    }
    let decoded = match decode(bytes) {
        Ok(d) => d,
        Err(e) => {
            let (info, p) = *e;
            out.encoding = Some(info);
            out.problems.push(p);
            return out;
        }
    };
    out.encoding = Some(decoded.info.clone());
    let mut sink = Sink::default();
    let mut w = Walk {
        cur: decoded.cursor(),
        sink: &mut sink,
        doc: &mut out.doc,
        stack: Vec::new(),
        root_closed: false,
        limits,
    };
    out.complete = w.run(&decoded.text, &mut out.declaration, &mut out.doctype);
    out.problems = sink.finish();
    out
}

struct Walk<'a, 't> {
    cur: Cursor<'t>,
    sink: &'a mut Sink,
    doc: &'a mut Doc,
    stack: Vec<usize>,
    root_closed: bool,
    limits: &'a XmlLimits,
}

/// Resolves only the five predefined entities (character references are handled by
/// `unescape_with` itself).
fn predefined(name: &str) -> Option<&'static str> {
    resolve_xml_entity(name)
}

impl Walk<'_, '_> {
    /// Records a problem located at decoded offset `off`, with the open element's path.
    /// Once the sink is full nothing is computed: a path costs a scan of siblings, and a
    /// hostile file can hold millions of bad references.
    fn emit(
        &mut self,
        code: &'static str,
        off: usize,
        msg: impl Into<String>,
        value: Option<&str>,
    ) {
        if self.sink.is_full() {
            self.sink.skip();
            return;
        }
        let mut p = Problem::new(code, self.cur.pos(off), msg);
        if let Some(top) = self.stack.last() {
            p = p.path(self.doc.path(*top));
        }
        if let Some(v) = value {
            p = p.value(v);
        }
        self.sink.push(p);
    }

    fn report(&mut self, code: &'static str, off: usize, msg: impl Into<String>) {
        self.emit(code, off, msg, None);
    }

    /// Returns whether the whole document was read.
    fn run(
        &mut self,
        text: &str,
        decl: &mut Option<Declaration>,
        doctype: &mut Option<Doctype>,
    ) -> bool {
        let mut reader = NsReader::from_str(text);
        loop {
            let off = reader.buffer_position() as usize;
            let (ns, event) = match reader.read_resolved_event() {
                Ok((ResolveResult::Unknown(prefix), _)) => {
                    let prefix = String::from_utf8_lossy(&prefix).into_owned();
                    let msg = format!("namespace prefix {prefix:?} is not declared");
                    self.report(pb::MALFORMED, off, msg);
                    return false;
                }
                Ok((ns, ev)) => (ns_string(&ns), ev),
                Err(e) => {
                    let at = reader.error_position() as usize;
                    self.report(pb::MALFORMED, at, e.to_string());
                    return false;
                }
            };
            let ok = match event {
                Event::Decl(d) => {
                    *decl = Some(declaration(&d));
                    true
                }
                Event::DocType(t) => {
                    let raw = String::from_utf8_lossy(&t).into_owned();
                    self.doctype(off, &raw, doctype)
                }
                Event::Start(s) => self.start(off, &s, ns, false),
                Event::Empty(s) => self.start(off, &s, ns, true),
                Event::End(_) => {
                    self.stack.pop();
                    self.root_closed = self.stack.is_empty();
                    true
                }
                Event::Text(t) => self.text(off, &String::from_utf8_lossy(&t), false),
                Event::CData(t) => self.text(off, &String::from_utf8_lossy(&t), true),
                Event::GeneralRef(r) => {
                    let name = String::from_utf8_lossy(&r).into_owned();
                    match r.resolve_char_ref() {
                        Ok(Some(c)) => self.text(off, c.encode_utf8(&mut [0; 4]), true),
                        Ok(None) => match predefined(&name) {
                            Some(v) => self.text(off, v, true),
                            None => self.undeclared(off, &name),
                        },
                        Err(e) => {
                            let v = format!("&{name};");
                            self.emit(pb::MALFORMED, off, e.to_string(), Some(&v));
                            false
                        }
                    }
                }
                Event::Comment(_) | Event::PI(_) => true,
                Event::Eof => return self.eof(text.len()),
            };
            if !ok {
                return false;
            }
        }
    }

    fn doctype(&mut self, off: usize, raw: &str, doctype: &mut Option<Doctype>) -> bool {
        if doctype.is_some() || !self.doc.nodes.is_empty() {
            self.report(pb::MALFORMED, off, "DOCTYPE not allowed here");
            return false;
        }
        let dt = parse_doctype(raw);
        let refused = dt.declares_entities;
        *doctype = Some(dt);
        if refused {
            let msg = "DOCTYPE internal subset declares entities; refused (never expanded)";
            self.emit(pb::ENTITY_DECLARED, off, msg, Some(raw.trim()));
            return false;
        }
        true
    }

    fn undeclared(&mut self, off: usize, name: &str) -> bool {
        let msg = format!("reference to undeclared entity &{name}; (not expanded)");
        self.emit(pb::ENTITY_UNDECLARED, off, msg, Some(&format!("&{name};")));
        true
    }

    fn start(&mut self, off: usize, s: &BytesStart, ns: Option<String>, empty: bool) -> bool {
        if self.root_closed {
            self.report(pb::MALFORMED, off, "a second root element");
            return false;
        }
        let max_depth = self.limits.max_depth.min(MAX_SUPPORTED_DEPTH);
        if self.stack.len() >= max_depth {
            let msg = format!("elements nested deeper than {max_depth}");
            self.report(pb::TOO_DEEP, off, msg);
            return false;
        }
        if self.doc.nodes.len() >= self.limits.max_elements {
            let msg = format!("more than {} elements", self.limits.max_elements);
            self.report(pb::TOO_LARGE, off, msg);
            return false;
        }
        let name = String::from_utf8_lossy(s.local_name().as_ref()).into_owned();
        let mut attrs = Vec::new();
        for a in s.attributes() {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    // Attribute error positions count from just after the `<`.
                    let at = match e {
                        AttrError::ExpectedEq(p)
                        | AttrError::ExpectedValue(p)
                        | AttrError::UnquotedValue(p)
                        | AttrError::ExpectedQuote(p, _)
                        | AttrError::Duplicated(p, _) => off + 1 + p,
                    };
                    self.report(pb::MALFORMED, at, e.to_string());
                    return false;
                }
            };
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            let local = key.rsplit(':').next().unwrap_or_default().to_string();
            let raw = String::from_utf8_lossy(&a.value).into_owned();
            let value = match unescape_with(&raw, predefined) {
                Ok(v) => v.into_owned(),
                Err(e) => {
                    let msg = format!("attribute {key}: {e} (not expanded)");
                    self.emit(pb::ENTITY_UNDECLARED, off, msg, Some(&raw));
                    raw
                }
            };
            attrs.push((local, value));
        }
        let i = self.doc.nodes.len();
        let parent = self.stack.last().copied();
        self.doc.nodes.push(Node {
            name,
            ns,
            attrs,
            text: String::new(),
            children: Vec::new(),
            parent,
            at: self.cur.pos(off),
        });
        if let Some(p) = parent.and_then(|p| self.doc.nodes.get_mut(p)) {
            p.children.push(i);
        }
        if empty {
            self.root_closed = self.stack.is_empty();
        } else {
            self.stack.push(i);
        }
        true
    }

    fn text(&mut self, off: usize, t: &str, always: bool) -> bool {
        match self.stack.last().and_then(|i| self.doc.nodes.get_mut(*i)) {
            Some(node) => {
                node.text.push_str(t);
                true
            }
            None if !always && t.trim().is_empty() => true,
            None => {
                let skip = t.len() - t.trim_start().len();
                let where_ = if self.root_closed { "after" } else { "before" };
                let msg = format!("text {where_} the root element");
                self.emit(pb::MALFORMED, off + skip, msg, Some(t.trim()));
                false
            }
        }
    }

    fn eof(&mut self, end: usize) -> bool {
        if let Some(open) = self.stack.last().copied() {
            let (name, line) = match self.doc.node(open) {
                Some(n) => (n.name.clone(), n.at.line),
                None => (String::new(), 0),
            };
            let msg =
                format!("unexpected end of document: <{name}> opened on line {line} is not closed");
            self.report(pb::MALFORMED, end, msg);
            return false;
        }
        if self.doc.nodes.is_empty() {
            self.report(pb::MALFORMED, end, "no root element");
            return false;
        }
        true
    }
}

fn ns_string(ns: &ResolveResult) -> Option<String> {
    match ns {
        ResolveResult::Bound(n) => Some(String::from_utf8_lossy(n.as_ref()).into_owned()),
        _ => None,
    }
}

fn declaration(d: &BytesDecl) -> Declaration {
    let s = |v: &[u8]| String::from_utf8_lossy(v).into_owned();
    Declaration {
        version: d.version().ok().map(|v| s(&v)),
        encoding: d.encoding().and_then(|r| r.ok()).map(|v| s(&v)),
        standalone: d.standalone().and_then(|r| r.ok()).map(|v| s(&v)),
    }
}
