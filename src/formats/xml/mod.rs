//! Partner XML documents (UBL 2.x and cXML) read safely with quick-xml and mapped to the same
//! tables as their X12 counterparts. Bytes in, values out: no IO, and nothing is ever fetched.
//!
//! Typical use:
//! ```
//! use tallyman::formats::xml;
//! let bytes = br#"<cXML payloadID="p1"><Request><OrderRequest>
//!   <OrderRequestHeader orderID="PO1" orderDate="2024-01-31T10:00:00-08:00"/>
//! </OrderRequest></Request></cXML>"#;
//! let parsed = xml::parse(bytes);
//! assert!(parsed.problems.is_empty());
//! let tables = xml::map_tables(&parsed);
//! assert_eq!(tables[0].name, "xml_order_header");
//! assert_eq!(tables[0].get(0, "po_date"), Some("20240131"));
//! let issues = xml::to_issues("po.xml", &parsed.problems);
//! assert!(issues.is_empty());
//! ```
//!
//! Safety: a DOCTYPE is recorded (its public/system id shows in `inspect`) and never fetched
//! or expanded; an internal subset declaring entities (billion laughs, `SYSTEM "file:..."`) is
//! refused (`xml:entity-declared`); references to other than the five predefined entities and
//! character references are `xml:entity-undeclared` problems and are not expanded. Depth,
//! size and element count are bounded by [`XmlLimits`]. Malformed input is a problem with the
//! byte offset of the file as received plus line and column; nothing panics on any input.
//! Encoding: BOM first (UTF-8, UTF-16LE/BE), else the declaration's `encoding` (UTF-8 or any
//! single-byte encoding such as ISO-8859-1), else UTF-8.
//!
//! Document kinds come from the root element's local name and namespace URI (prefixes are
//! irrelevant): UBL `Order` / `DespatchAdvice` (`urn:oasis:names:specification:ubl:schema:
//! xsd:<Name>-2`) and cXML `OrderRequest` / `ShipNoticeRequest` (under `/cXML/Request`) are
//! mapped. Other UBL documents and cXML payloads are recognised by name (e.g. `ubl:Invoice`,
//! `cxml:PunchOutOrderMessage`) and give an `xml:unsupported-document` warning and no tables;
//! anything else is an `xml:unknown-document` error.
//!
//! Tables have the same columns, in the same order, as `x12_850_header`, `x12_850_lines` and
//! `x12_856_lines` (see `x12::table`), so one schema validates both. Context columns:
//! `interchange_control` = document id (cXML `payloadID`; UBL `cbc:UUID`, else `cbc:ID`),
//! `group_control` = None, `set_control` = the order or shipment id.
//!
//! | table | one row per | from UBL | from cXML |
//! |---|---|---|---|
//! | `xml_order_header` | document | po_number `cbc:ID`, po_date `cbc:IssueDate`, purpose None, po_type `cbc:OrderTypeCode`, buyer `BuyerCustomerParty/Party/PartyName/Name`, buyer_id its `PartyIdentification/ID` else `EndpointID`, ship_to `Delivery/DeliveryLocation/Name` else `Delivery/DeliveryParty/PartyName/Name`, ship_to_id `DeliveryLocation/ID` else its address `ID` else `DeliveryParty/PartyIdentification/ID`, address from `DeliveryLocation/Address` else `Delivery/DeliveryAddress` (`StreetName` else `AddressLine/Line`, `CityName`, `CountrySubentity` else `CountrySubentityCode`, `PostalZone`), currency `DocumentCurrencyCode`, line_count `OrderLine`s | po_number `OrderRequestHeader@orderID`, po_date `@orderDate`, purpose `@type`, po_type `@orderType`, buyer `BillTo/Address/Name`, buyer_id `BillTo/Address@addressID`, ship_to `ShipTo/Address/Name`, ship_to_id `ShipTo/Address@addressID`, `PostalAddress` `Street` (first), `City`, `State`, `PostalCode`, currency `Total/Money@currency`, line_count `ItemOut`s |
//! | `xml_order_lines` | `OrderLine` / `ItemOut` | line_number `LineItem/ID` (else position), sku (below), quantity `LineItem/Quantity`, unit its `@unitCode`, unit_price `Price/PriceAmount`, description `Item/Name` else `Item/Description` | line_number `@lineNumber` (else position), sku (below), quantity `@quantity`, unit `ItemDetail/UnitOfMeasure`, unit_price `ItemDetail/UnitPrice/Money`, description `ItemDetail/Description` (else its `ShortName`) |
//! | `xml_ship_lines` | `DespatchLine` / `ShipNoticeItem` | shipment_id `cbc:ID`, ship_date first `Shipment//ActualDespatchDate` else `IssueDate`, carrier first `Shipment//CarrierParty` name else ID, tracking first `Shipment//TrackingID` else `Shipment/ID`, order_number `DespatchLine/OrderLineReference/OrderReference/ID` else `OrderReference/ID`, pack None, item_hl `DespatchLine/ID` (else position), parent_hl None, sku, quantity `DeliveredQuantity`, unit its `@unitCode` | shipment_id `ShipNoticeHeader@shipmentID`, ship_date `@shipmentDate` else `@noticeDate`, carrier `ShipControl/CarrierIdentifier` (`domain="SCAC"` first), tracking `ShipControl/ShipmentIdentifier`, order_number `ShipNoticePortion/OrderReference@orderID`, item_hl `@lineNumber`, sku, quantity `@quantity`, unit `UnitOfMeasure` |
//!
//! SKU: UBL `Item/SellersItemIdentification/ID` (`VN`), else `BuyersItemIdentification/ID`
//! (`BP`), else `StandardItemIdentification/ID` (`UP` when 12 digits, else `EN`); `upc` is the
//! standard ID when its `schemeID` is `GTIN` (or `0160`). cXML `ItemID/SupplierPartID` (`VN`),
//! else `ItemID/BuyerPartID` (`BP`); no upc. A shipment with no lines (or a cXML portion
//! with no `ShipNoticeItem`) still gives one row, with empty item columns.
//!
//! Values are trimmed text, empty is `None`, numbers stay text exactly as sent. Dates: X12
//! dates are CCYYMMDD, so XML dates and dateTimes (`2024-01-31`, `2024-01-31T10:00:00-08:00`)
//! are normalised to `20240131` (the time and zone are dropped); other date text stays as
//! sent. A missing order/shipment id is an `xml:missing-element` error with its path.

mod cxml;
pub mod decode;
pub mod doctype;
pub mod inspect;
pub mod kind;
mod map;
pub mod problem;
pub mod reader;
pub mod tree;
mod ubl;

pub use decode::EncodingInfo;
pub use doctype::Doctype;
pub use inspect::{inspect, Inspection};
pub use kind::Kind;
pub use map::{ORDER_HEADER, ORDER_LINES, SHIP_LINES};
pub use problem::{to_issues, Pos, Problem};
pub use reader::{Declaration, XmlLimits};
pub use tree::{Doc, Node};

use crate::formats::table::Table;

/// A read document: what was found, the element tree, and every problem (reading, kind and
/// mapping problems together).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub bytes: usize,
    pub encoding: Option<EncodingInfo>,
    pub declaration: Option<Declaration>,
    pub doctype: Option<Doctype>,
    pub kind: Kind,
    pub document_id: Option<String>,
    /// The whole document was read (no malformation, refusal or limit hit).
    pub complete: bool,
    pub doc: Doc,
    payload: Option<usize>,
    pub problems: Vec<Problem>,
}

/// Reads `bytes` with the default [`XmlLimits`].
pub fn parse(bytes: &[u8]) -> Parsed {
    parse_with(bytes, &XmlLimits::default())
}

/// Reads `bytes` within `limits`, detects the kind and checks what mapping needs.
pub fn parse_with(bytes: &[u8], limits: &XmlLimits) -> Parsed {
    let read = reader::read(bytes, limits);
    let (kind, payload) = kind::detect(&read.doc);
    let document_id = kind::document_id(&read.doc, &kind);
    let mut parsed = Parsed {
        bytes: bytes.len(),
        encoding: read.encoding,
        declaration: read.declaration,
        doctype: read.doctype,
        kind,
        document_id,
        complete: read.complete,
        doc: read.doc,
        payload,
        problems: read.problems,
    };
    if parsed.complete {
        let at = parsed
            .doc
            .root()
            .map(|r| parsed.doc.at(r))
            .unwrap_or_default();
        let root = parsed.doc.root().map(|r| parsed.doc.path(r));
        match (&parsed.kind, parsed.payload) {
            (k, Some(p)) if k.is_mapped() => {
                let id = parsed.document_id.clone();
                let (_, problems) = map::map(&parsed.doc, k, p, id);
                parsed.problems.extend(problems);
            }
            (Kind::Unknown, _) | (_, None) => {
                let ns = parsed
                    .doc
                    .node(0)
                    .and_then(|n| n.ns.clone())
                    .unwrap_or_default();
                let msg = format!("not a UBL or cXML document (root namespace {ns:?})");
                let p = problem::Problem::new(problem::UNKNOWN_DOCUMENT, at, msg);
                parsed.problems.push(with_path(p, root));
            }
            (k, Some(_)) => {
                let label = k.label().unwrap_or_default();
                let msg = format!("{label} is recognised but not mapped to tables");
                let p = problem::Problem::new(problem::UNSUPPORTED_DOCUMENT, at, msg).value(label);
                parsed.problems.push(with_path(p.warning(), root));
            }
        }
    }
    parsed
}

fn with_path(p: Problem, path: Option<String>) -> Problem {
    match path {
        Some(path) => p.path(path),
        None => p,
    }
}

/// The tables of a mapped kind; none for other kinds or an incompletely read document (its
/// tree is cut short, so rows would be silently missing). Mapping problems are already in
/// [`Parsed::problems`].
pub fn map_tables(parsed: &Parsed) -> Vec<Table> {
    match parsed.payload {
        Some(p) if parsed.complete && parsed.kind.is_mapped() => {
            map::map(&parsed.doc, &parsed.kind, p, parsed.document_id.clone()).0
        }
        _ => Vec::new(),
    }
}
