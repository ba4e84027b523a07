//! cXML `OrderRequest` to `xml_order_header` / `xml_order_lines`, and `ShipNoticeRequest` to
//! `xml_ship_lines`.

use super::map::{ctx, date, missing, pick, Sku};
use super::problem::Problem;
use super::tree::Doc;
use crate::formats::table::Table;

/// `ItemID/SupplierPartID` (`VN`), else `ItemID/BuyerPartID` (`BP`); cXML carries no GTIN here.
fn item_sku(doc: &Doc, holder: usize) -> Sku {
    let id = |w: &str| doc.text_at(holder, &["ItemID", w]);
    pick(
        &[(id("SupplierPartID"), "VN"), (id("BuyerPartID"), "BP")],
        None,
    )
}

/// The header element and its required ID attribute, with missing-element problems.
fn header(
    doc: &Doc,
    payload: usize,
    name: &str,
    attr: &str,
    problems: &mut Vec<Problem>,
) -> (Option<usize>, Option<String>) {
    let Some(h) = doc.child(payload, name) else {
        problems.push(missing(doc, payload, name));
        return (None, None);
    };
    let id = doc.attr(h, attr);
    if id.is_none() {
        problems.push(missing(doc, h, &format!("@{attr}")));
    }
    (Some(h), id)
}

pub fn order(
    doc: &Doc,
    payload: usize,
    doc_id: Option<String>,
    tables: &mut [Table],
    problems: &mut Vec<Problem>,
) {
    let (h, po) = header(doc, payload, "OrderRequestHeader", "orderID", problems);
    let c = ctx(&doc_id, &po);
    let t = |i: Option<usize>, p: &[&str]| i.and_then(|i| doc.text_at(i, p));
    let a = |i: Option<usize>, n: &str| i.and_then(|i| doc.attr(i, n));
    let ship = h.and_then(|h| doc.find(h, &["ShipTo", "Address"]));
    let bill = h.and_then(|h| doc.find(h, &["BillTo", "Address"]));
    let postal = ship.and_then(|s| doc.child(s, "PostalAddress"));
    let lines: Vec<usize> = doc.children(payload, "ItemOut").collect();
    let row = [
        po.clone(),
        date(a(h, "orderDate")),
        a(h, "type"),
        a(h, "orderType"),
        t(bill, &["Name"]),
        a(bill, "addressID"),
        t(ship, &["Name"]),
        a(ship, "addressID"),
        t(postal, &["Street"]),
        t(postal, &["City"]),
        t(postal, &["State"]),
        t(postal, &["PostalCode"]),
        h.and_then(|h| doc.find(h, &["Total", "Money"]))
            .and_then(|m| doc.attr(m, "currency")),
        Some(lines.len().to_string()),
    ];
    if let Some(head) = tables.get_mut(0) {
        head.push(&c, row);
    }
    let Some(out) = tables.get_mut(1) else {
        return;
    };
    for (k, item) in lines.into_iter().enumerate() {
        let (sku, qual, upc) = item_sku(doc, item);
        let detail = doc.child(item, "ItemDetail");
        let description = detail.and_then(|d| doc.child(d, "Description"));
        out.push(
            &c,
            [
                po.clone(),
                doc.attr(item, "lineNumber")
                    .or_else(|| Some((k + 1).to_string())),
                sku,
                qual,
                upc,
                doc.attr(item, "quantity"),
                t(detail, &["UnitOfMeasure"]),
                t(detail, &["UnitPrice", "Money"]),
                description.and_then(|d| doc.text(d).or_else(|| doc.text_at(d, &["ShortName"]))),
            ],
        );
    }
}

pub fn ship_notice(
    doc: &Doc,
    payload: usize,
    doc_id: Option<String>,
    tables: &mut [Table],
    problems: &mut Vec<Problem>,
) {
    let (h, shipment_id) = header(doc, payload, "ShipNoticeHeader", "shipmentID", problems);
    let c = ctx(&doc_id, &shipment_id);
    let ship_date = h.and_then(|h| {
        doc.attr(h, "shipmentDate")
            .or_else(|| doc.attr(h, "noticeDate"))
    });
    let control = doc.child(payload, "ShipControl");
    // The SCAC is what X12's TD503 carries; any other carrier identifier is second best.
    let carrier = control.and_then(|s| {
        let ids: Vec<usize> = doc.children(s, "CarrierIdentifier").collect();
        let scac = ids.iter().find(|i| {
            doc.attr(**i, "domain")
                .is_some_and(|d| d.eq_ignore_ascii_case("SCAC"))
        });
        scac.or(ids.first()).and_then(|i| doc.text(*i))
    });
    let tracking = control.and_then(|s| doc.text_at(s, &["ShipmentIdentifier"]));
    let Some(out) = tables.get_mut(0) else {
        return;
    };
    let head = [shipment_id.clone(), date(ship_date), carrier, tracking];
    let portions: Vec<usize> = doc.children(payload, "ShipNoticePortion").collect();
    if portions.is_empty() {
        out.push(&c, head.iter().cloned());
    }
    for portion in portions {
        let order = doc
            .child(portion, "OrderReference")
            .and_then(|o| doc.attr(o, "orderID"));
        let items: Vec<usize> = doc.children(portion, "ShipNoticeItem").collect();
        if items.is_empty() {
            // An order shipped complete without item detail still is a shipment of that order.
            out.push(&c, head.iter().cloned().chain([order.clone()]));
        }
        for item in items {
            let (sku, qual, upc) = item_sku(doc, item);
            let rest = [
                order.clone(),
                None,
                doc.attr(item, "lineNumber"),
                None,
                sku,
                qual,
                upc,
                doc.attr(item, "quantity"),
                doc.text_at(item, &["UnitOfMeasure"]),
            ];
            out.push(&c, head.iter().cloned().chain(rest));
        }
    }
}
