//! Which document this is, from the root element's local name and namespace URI (never the
//! prefix), and its identifier.

use super::tree::Doc;

/// UBL 2.x document namespaces are this prefix, the document name, and `-2`.
pub const UBL_NS_PREFIX: &str = "urn:oasis:names:specification:ubl:schema:xsd:";

/// The document kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A UBL document, by name (`Order`, `DespatchAdvice`, `Invoice`, ...).
    Ubl(String),
    /// A cXML payload, by the name of the element under `Request`, `Message` or `Response`
    /// (`OrderRequest`, `ShipNoticeRequest`, `PunchOutOrderMessage`, ...).
    Cxml(String),
    Unknown,
}

impl Kind {
    /// `ubl:Order`, `cxml:OrderRequest`; `None` when unknown.
    pub fn label(&self) -> Option<String> {
        match self {
            Kind::Ubl(n) => Some(format!("ubl:{n}")),
            Kind::Cxml(n) => Some(format!("cxml:{n}")),
            Kind::Unknown => None,
        }
    }

    /// Whether [`super::map_tables`] maps this kind.
    pub fn is_mapped(&self) -> bool {
        matches!(
            (self, self.name()),
            (Kind::Ubl(_), Some("Order" | "DespatchAdvice"))
                | (Kind::Cxml(_), Some("OrderRequest" | "ShipNoticeRequest"))
        )
    }

    fn name(&self) -> Option<&str> {
        match self {
            Kind::Ubl(n) | Kind::Cxml(n) => Some(n),
            Kind::Unknown => None,
        }
    }
}

/// The kind of `doc` and the element holding the document proper (the root for UBL, the
/// payload element for cXML).
pub fn detect(doc: &Doc) -> (Kind, Option<usize>) {
    let Some(root) = doc.root().and_then(|r| doc.node(r).map(|n| (r, n))) else {
        return (Kind::Unknown, None);
    };
    let (r, node) = root;
    if let Some(ns) = node.ns.as_deref() {
        let expected = format!("{UBL_NS_PREFIX}{}-2", node.name);
        if ns == expected {
            return (Kind::Ubl(node.name.clone()), Some(r));
        }
        return (Kind::Unknown, None);
    }
    if node.name == "cXML" {
        let payload = ["Request", "Message", "Response"].iter().find_map(|w| {
            let holder = doc.child(r, w)?;
            let kids = doc.node(holder)?.children.iter();
            // A Response starts with its Status; the payload is the element after it.
            kids.copied()
                .find(|c| doc.node(*c).is_some_and(|n| n.name != "Status"))
        });
        if let Some((p, n)) = payload.and_then(|p| doc.node(p).map(|n| (p, n))) {
            return (Kind::Cxml(n.name.clone()), Some(p));
        }
    }
    (Kind::Unknown, None)
}

/// cXML `payloadID`; UBL `cbc:UUID`, else `cbc:ID`.
pub fn document_id(doc: &Doc, kind: &Kind) -> Option<String> {
    let root = doc.root()?;
    match kind {
        Kind::Cxml(_) => doc.attr(root, "payloadID"),
        Kind::Ubl(_) => doc
            .text_at(root, &["cbc:UUID"])
            .or_else(|| doc.text_at(root, &["cbc:ID"])),
        Kind::Unknown => None,
    }
}
