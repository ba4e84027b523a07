//! Mapping rules on small inline documents: namespaces by URI not prefix, identifier
//! fallbacks, cXML ship notice items, dates, and missing anchors.

use tallyman::formats::x12::Table;
use tallyman::formats::xml::{self, problem as pb};

const CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";
const CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";

fn map(doc: &str) -> (xml::Parsed, Vec<Table>) {
    let p = xml::parse(doc.as_bytes());
    let t = xml::map_tables(&p);
    (p, t)
}

#[test]
fn namespaces_are_matched_by_uri_not_prefix() {
    let doc = format!(
        r#"<o:Order xmlns:o="urn:oasis:names:specification:ubl:schema:xsd:Order-2" xmlns:b="{CBC}" xmlns:a="{CAC}" xmlns:z="urn:other">
  <z:ID>WRONG</z:ID><b:ID>PO-7</b:ID><b:IssueDate>2024-01-31</b:IssueDate>
  <a:OrderLine><a:LineItem><b:ID>1</b:ID><b:Quantity unitCode="EA">3</b:Quantity>
    <a:Item><a:StandardItemIdentification><b:ID schemeID="GTIN">012345678905</b:ID></a:StandardItemIdentification></a:Item>
  </a:LineItem></a:OrderLine>
</o:Order>"#
    );
    let (p, t) = map(&doc);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    assert_eq!(p.kind.label().as_deref(), Some("ubl:Order"));
    assert_eq!(t[0].get(0, "po_number"), Some("PO-7"));
    assert_eq!(t[0].get(0, "po_date"), Some("20240131"));
    // Only a GTIN: it is the SKU (UP, 12 digits) and the UPC.
    assert_eq!(t[1].get(0, "sku"), Some("012345678905"));
    assert_eq!(t[1].get(0, "sku_qualifier"), Some("UP"));
    assert_eq!(t[1].get(0, "upc"), Some("012345678905"));
    assert_eq!(t[1].get(0, "unit"), Some("EA"));

    // The same names in another namespace are not UBL.
    let (p, t) = map(r#"<Order xmlns="urn:example:orders"><ID>1</ID></Order>"#);
    assert_eq!(
        p.problems.iter().map(|p| p.code).collect::<Vec<_>>(),
        [pb::UNKNOWN_DOCUMENT]
    );
    assert_eq!(p.problems[0].path.as_deref(), Some("/Order"));
    assert!(t.is_empty() && p.kind.label().is_none());
    // And a cXML root must not be in a namespace.
    let (p, _) = map(r#"<cXML xmlns="urn:x"><Request><OrderRequest/></Request></cXML>"#);
    assert_eq!(p.problems[0].code, pb::UNKNOWN_DOCUMENT);
}

#[test]
fn ubl_identifier_fallbacks_and_missing_line_item() {
    let doc = format!(
        r#"<Order xmlns="urn:oasis:names:specification:ubl:schema:xsd:Order-2" xmlns:cbc="{CBC}" xmlns:cac="{CAC}">
<cbc:ID>9</cbc:ID>
<cac:BuyerCustomerParty><cac:Party><cbc:EndpointID>GLN-1</cbc:EndpointID></cac:Party></cac:BuyerCustomerParty>
<cac:Delivery><cac:DeliveryAddress><cac:AddressLine><cbc:Line>1 Main St</cbc:Line></cac:AddressLine><cbc:CountrySubentityCode>OH</cbc:CountrySubentityCode></cac:DeliveryAddress></cac:Delivery>
<cac:OrderLine><cac:LineItem><cbc:Quantity>1.500</cbc:Quantity><cac:Item><cbc:Description>Thing</cbc:Description>
 <cac:BuyersItemIdentification><cbc:ID>B-1</cbc:ID></cac:BuyersItemIdentification>
 <cac:StandardItemIdentification><cbc:ID schemeID="GTIN">4006381333931</cbc:ID></cac:StandardItemIdentification></cac:Item></cac:LineItem></cac:OrderLine>
<cac:OrderLine><cbc:Note>no line item</cbc:Note></cac:OrderLine>
</Order>"#
    );
    let (p, t) = map(&doc);
    assert_eq!(t[0].get(0, "buyer_id"), Some("GLN-1"));
    assert_eq!(t[0].get(0, "ship_to_address"), Some("1 Main St"));
    assert_eq!(t[0].get(0, "ship_to_state"), Some("OH"));
    assert_eq!(t[0].get(0, "line_count"), Some("2"));
    assert_eq!(t[1].rows(), 1);
    assert_eq!(
        t[1].get(0, "line_number"),
        Some("1"),
        "position when LineItem/ID is absent"
    );
    assert_eq!(
        (t[1].get(0, "sku"), t[1].get(0, "sku_qualifier")),
        (Some("B-1"), Some("BP"))
    );
    assert_eq!(t[1].get(0, "upc"), Some("4006381333931"));
    assert_eq!(
        t[1].get(0, "quantity"),
        Some("1.500"),
        "numbers stay text as sent"
    );
    assert_eq!(t[1].get(0, "description"), Some("Thing"));
    let got: Vec<_> = p
        .problems
        .iter()
        .map(|p| (p.code, p.path.clone(), p.at.line))
        .collect();
    assert_eq!(
        got,
        [(
            pb::MISSING_ELEMENT,
            Some("/Order/OrderLine[2]/LineItem".to_string()),
            8
        )]
    );
}

#[test]
fn cxml_ship_notice_items_and_missing_header() {
    let doc = r#"<cXML payloadID="pl-1"><Request><ShipNoticeRequest>
<ShipNoticeHeader shipmentID="SH-1" noticeDate="2024-02-03T10:00:00+01:00"/>
<ShipControl><CarrierIdentifier domain="companyName">Acme Freight</CarrierIdentifier><ShipmentIdentifier>TRK9</ShipmentIdentifier></ShipControl>
<ShipNoticePortion><OrderReference orderID="PO-1"/>
 <ShipNoticeItem lineNumber="1" quantity="4"><ItemID><SupplierPartID> SP-1 </SupplierPartID></ItemID><UnitOfMeasure>EA</UnitOfMeasure></ShipNoticeItem>
 <ShipNoticeItem lineNumber="2" quantity="1"><ItemID><SupplierPartID></SupplierPartID><BuyerPartID>BP-2</BuyerPartID></ItemID></ShipNoticeItem>
</ShipNoticePortion>
<ShipNoticePortion><OrderReference orderID="PO-2"/></ShipNoticePortion>
</ShipNoticeRequest></Request></cXML>"#;
    let (p, t) = map(doc);
    assert!(p.problems.is_empty(), "{:?}", p.problems);
    let s = &t[0];
    assert_eq!(s.rows(), 3);
    assert_eq!(
        s.get(0, "ship_date"),
        Some("20240203"),
        "noticeDate when no shipmentDate"
    );
    assert_eq!(
        s.get(0, "carrier"),
        Some("Acme Freight"),
        "first identifier when no SCAC"
    );
    assert_eq!(s.get(0, "tracking"), Some("TRK9"));
    assert_eq!(
        (s.get(0, "sku"), s.get(0, "quantity"), s.get(0, "unit")),
        (Some("SP-1"), Some("4"), Some("EA"))
    );
    assert_eq!(
        (
            s.get(1, "sku"),
            s.get(1, "sku_qualifier"),
            s.get(1, "item_hl")
        ),
        (Some("BP-2"), Some("BP"), Some("2"))
    );
    assert_eq!(
        (s.get(2, "order_number"), s.get(2, "sku")),
        (Some("PO-2"), None)
    );
    assert_eq!(s.get(2, "interchange_control"), Some("pl-1"));
    assert_eq!(s.get(2, "set_control"), Some("SH-1"));

    let (p, t) = map(r#"<cXML payloadID="x"><Request><ShipNoticeRequest/></Request></cXML>"#);
    assert_eq!(p.problems[0].code, pb::MISSING_ELEMENT);
    assert_eq!(
        p.problems[0].path.as_deref(),
        Some("/cXML/Request/ShipNoticeRequest/ShipNoticeHeader")
    );
    assert_eq!(t[0].rows(), 1);
    assert_eq!(t[0].get(0, "shipment_id"), None);
}

#[test]
fn dates_are_normalised_only_when_iso() {
    for (sent, want) in [
        ("2024-01-31", "20240131"),
        ("2024-01-31T23:59:59-08:00", "20240131"),
        ("2024-01-31Z", "20240131"),
        ("31.01.2024", "31.01.2024"),
        ("2024-1-31", "2024-1-31"),
        ("20240131", "20240131"),
    ] {
        let doc = format!(
            r#"<cXML payloadID="x"><Request><OrderRequest><OrderRequestHeader orderID="1" orderDate="{sent}"/></OrderRequest></Request></cXML>"#
        );
        let (_, t) = map(&doc);
        assert_eq!(t[0].get(0, "po_date"), Some(want), "{sent}");
    }
}
