//! `tallyman inspect FILE --json` for XML: what the document is and every problem.
//!
//! JSON shape (all keys always present; offsets are 0-based bytes of the file as received,
//! lines and columns 1-based, columns in characters):
//! ```text
//! {
//!   "format": "xml",
//!   "bytes": 4865,
//!   "encoding": {"used": "UTF-8", "declared": "UTF-8" | null, "bom": false} | null,
//!   "declaration": {"version": "1.0", "encoding": "UTF-8" | null, "standalone": null} | null,
//!   "doctype": {"name": "cXML", "public_id": null,
//!               "system_id": "http://xml.cXML.org/schemas/cXML/1.2.050/cXML.dtd",
//!               "internal_subset": false, "declares_entities": false,
//!               "expanded": false} | null,        // never fetched, never expanded
//!   "root": {"name": "cXML", "namespace": null} | null,
//!   "kind": "cxml:OrderRequest" | "ubl:Order" | ... | null,
//!   "mapped": true,                              // map_tables yields tables for this kind
//!   "complete": true,                            // read to the end without stopping
//!   "document_id": "1625586002.193314.7293@dev" | null,
//!   "counts": {"elements": 57, "lines": 2, "problems": 0},
//!   "tables": [{"name": "xml_order_header", "rows": 1}, {"name": "xml_order_lines", "rows": 2}],
//!   "problems": [{"code": "xml:malformed", "severity": "error", "offset": 120, "line": 4,
//!                 "column": 7, "path": "/cXML/Header" | null, "value": null, "message": "..."}]
//! }
//! ```
//! `lines` counts the document's line items: UBL root children named `...Line` (`OrderLine`,
//! `DespatchLine`, `InvoiceLine`, ...), cXML `ItemOut`, `ItemIn`, `ShipNoticeItem` and
//! `ProductActivityDetails` in the payload.

use serde::Serialize;

use super::decode::EncodingInfo;
use super::doctype::Doctype;
use super::kind::Kind;
use super::problem::Problem;
use super::reader::Declaration;
use super::{map_tables, parse, Parsed};

#[derive(Debug, Clone, Serialize)]
pub struct Root {
    pub name: String,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Counts {
    pub elements: usize,
    pub lines: usize,
    pub problems: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    pub name: String,
    pub rows: usize,
}

/// The serializable summary of one XML document.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub format: &'static str,
    pub bytes: usize,
    pub encoding: Option<EncodingInfo>,
    pub declaration: Option<Declaration>,
    pub doctype: Option<Doctype>,
    pub root: Option<Root>,
    pub kind: Option<String>,
    pub mapped: bool,
    pub complete: bool,
    pub document_id: Option<String>,
    pub counts: Counts,
    pub tables: Vec<TableCount>,
    pub problems: Vec<Problem>,
}

/// Line items of the document (see the module doc).
pub fn line_count(parsed: &Parsed) -> usize {
    let doc = &parsed.doc;
    let Some(root) = doc.root() else {
        return 0;
    };
    match &parsed.kind {
        Kind::Ubl(_) => doc
            .node(root)
            .map(|n| {
                n.children
                    .iter()
                    .filter(|c| doc.node(**c).is_some_and(|c| c.name.ends_with("Line")))
                    .count()
            })
            .unwrap_or(0),
        Kind::Cxml(_) => [
            "ItemOut",
            "ItemIn",
            "ShipNoticeItem",
            "ProductActivityDetails",
        ]
        .iter()
        .map(|n| doc.descendants(root, n).len())
        .sum(),
        Kind::Unknown => 0,
    }
}

/// Parses and summarizes `bytes`.
pub fn inspect(bytes: &[u8]) -> Inspection {
    let parsed = parse(bytes);
    let tables = map_tables(&parsed)
        .iter()
        .map(|t| TableCount {
            name: t.name.clone(),
            rows: t.rows(),
        })
        .collect();
    let root = parsed.doc.node(0).map(|n| Root {
        name: n.name.clone(),
        namespace: n.ns.clone(),
    });
    Inspection {
        format: "xml",
        bytes: bytes.len(),
        counts: Counts {
            elements: parsed.doc.nodes.len(),
            lines: line_count(&parsed),
            problems: parsed.problems.len(),
        },
        kind: parsed.kind.label(),
        mapped: parsed.complete && parsed.kind.is_mapped(),
        complete: parsed.complete,
        tables,
        root,
        encoding: parsed.encoding,
        declaration: parsed.declaration,
        doctype: parsed.doctype,
        document_id: parsed.document_id,
        problems: parsed.problems,
    }
}
