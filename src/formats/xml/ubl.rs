//! UBL 2.x `Order` to `xml_order_header` / `xml_order_lines`, and `DespatchAdvice` to
//! `xml_ship_lines`.

use super::map::{ctx, date, missing, pick, Sku};
use super::problem::{Problem, MAX_PROBLEMS};
use super::tree::Doc;
use crate::formats::table::Table;

/// Item identification: seller's (`VN`), else buyer's (`BP`), else standard (`UP` for a
/// 12-digit GTIN, else `EN`); `upc` is the standard ID when its scheme is GTIN.
fn item_sku(doc: &Doc, item: Option<usize>) -> Sku {
    let Some(item) = item else {
        return (None, None, None);
    };
    let id = |w: &str| doc.text_at(item, &[w, "cbc:ID"]);
    let std_node = doc.find(item, &["cac:StandardItemIdentification", "cbc:ID"]);
    let std = std_node.and_then(|n| doc.text(n));
    let gtin = std_node
        .and_then(|n| doc.attr(n, "schemeID"))
        .is_some_and(|s| s.eq_ignore_ascii_case("GTIN") || s == "0160");
    let std_qual = match &std {
        Some(v) if v.len() == 12 => "UP",
        _ => "EN",
    };
    let upc = std.clone().filter(|_| gtin);
    pick(
        &[
            (id("cac:SellersItemIdentification"), "VN"),
            (id("cac:BuyersItemIdentification"), "BP"),
            (std, std_qual),
        ],
        upc,
    )
}

/// The order's ID, or a missing-element problem.
fn required_id(doc: &Doc, root: usize, problems: &mut Vec<Problem>) -> Option<String> {
    let id = doc.text_at(root, &["cbc:ID"]);
    if id.is_none() {
        problems.push(missing(doc, root, "ID"));
    }
    id
}

pub fn order(
    doc: &Doc,
    root: usize,
    doc_id: Option<String>,
    tables: &mut [Table],
    problems: &mut Vec<Problem>,
) {
    let po = required_id(doc, root, problems);
    let c = ctx(&doc_id, &po);
    let t = |i: Option<usize>, p: &[&str]| i.and_then(|i| doc.text_at(i, p));
    let party = doc.find(root, &["cac:BuyerCustomerParty", "cac:Party"]);
    let delivery = doc.child(root, "cac:Delivery");
    let location = delivery.and_then(|d| doc.child(d, "cac:DeliveryLocation"));
    let delivery_party = delivery.and_then(|d| doc.child(d, "cac:DeliveryParty"));
    let address = location
        .and_then(|l| doc.child(l, "cac:Address"))
        .or_else(|| delivery.and_then(|d| doc.child(d, "cac:DeliveryAddress")));
    let lines: Vec<usize> = doc.children(root, "cac:OrderLine").collect();
    let header = [
        po.clone(),
        date(doc.text_at(root, &["cbc:IssueDate"])),
        None,
        doc.text_at(root, &["cbc:OrderTypeCode"]),
        t(party, &["cac:PartyName", "cbc:Name"]),
        t(party, &["cac:PartyIdentification", "cbc:ID"]).or_else(|| t(party, &["cbc:EndpointID"])),
        t(location, &["cbc:Name"]).or_else(|| t(delivery_party, &["cac:PartyName", "cbc:Name"])),
        t(location, &["cbc:ID"])
            .or_else(|| t(address, &["cbc:ID"]))
            .or_else(|| t(delivery_party, &["cac:PartyIdentification", "cbc:ID"])),
        t(address, &["cbc:StreetName"]).or_else(|| t(address, &["cac:AddressLine", "cbc:Line"])),
        t(address, &["cbc:CityName"]),
        t(address, &["cbc:CountrySubentity"]).or_else(|| t(address, &["cbc:CountrySubentityCode"])),
        t(address, &["cbc:PostalZone"]),
        doc.text_at(root, &["cbc:DocumentCurrencyCode"]),
        Some(lines.len().to_string()),
    ];
    if let Some(h) = tables.get_mut(0) {
        h.push(&c, header);
    }
    let Some(out) = tables.get_mut(1) else {
        return;
    };
    for (k, line) in lines.into_iter().enumerate() {
        let Some(li) = doc.child(line, "cac:LineItem") else {
            // Bounded like reading problems: each path scans the line's siblings.
            if problems.len() < MAX_PROBLEMS {
                problems.push(missing(doc, line, "LineItem"));
            }
            continue;
        };
        let item = doc.child(li, "cac:Item");
        let (sku, qual, upc) = item_sku(doc, item);
        let qty = doc.child(li, "cbc:Quantity");
        out.push(
            &c,
            [
                po.clone(),
                doc.text_at(li, &["cbc:ID"])
                    .or_else(|| Some((k + 1).to_string())),
                sku,
                qual,
                upc,
                qty.and_then(|q| doc.text(q)),
                qty.and_then(|q| doc.attr(q, "unitCode")),
                doc.text_at(li, &["cac:Price", "cbc:PriceAmount"]),
                t(item, &["cbc:Name"]).or_else(|| t(item, &["cbc:Description"])),
            ],
        );
    }
}

pub fn despatch(
    doc: &Doc,
    root: usize,
    doc_id: Option<String>,
    tables: &mut [Table],
    problems: &mut Vec<Problem>,
) {
    let shipment_id = required_id(doc, root, problems);
    let c = ctx(&doc_id, &shipment_id);
    let shipment = doc.child(root, "cac:Shipment");
    let first_text = |name: &str| {
        let s = shipment?;
        doc.descendants(s, name)
            .into_iter()
            .find_map(|n| doc.text(n))
    };
    let ship_date =
        first_text("cbc:ActualDespatchDate").or_else(|| doc.text_at(root, &["cbc:IssueDate"]));
    let carrier = shipment.and_then(|s| {
        doc.descendants(s, "cac:CarrierParty")
            .into_iter()
            .find_map(|p| {
                doc.text_at(p, &["cac:PartyName", "cbc:Name"])
                    .or_else(|| doc.text_at(p, &["cac:PartyIdentification", "cbc:ID"]))
            })
    });
    let tracking =
        first_text("cbc:TrackingID").or_else(|| shipment.and_then(|s| doc.text_at(s, &["cbc:ID"])));
    let order_ref = doc.text_at(root, &["cac:OrderReference", "cbc:ID"]);
    let Some(out) = tables.get_mut(0) else {
        return;
    };
    let head = [shipment_id.clone(), date(ship_date), carrier, tracking];
    let lines: Vec<usize> = doc.children(root, "cac:DespatchLine").collect();
    if lines.is_empty() {
        // Keep the shipment visible even when it lists no lines.
        out.push(&c, head.iter().cloned().chain([order_ref.clone()]));
    }
    for (k, line) in lines.into_iter().enumerate() {
        let (sku, qual, upc) = item_sku(doc, doc.child(line, "cac:Item"));
        let qty = doc.child(line, "cbc:DeliveredQuantity");
        let order = doc
            .text_at(
                line,
                &["cac:OrderLineReference", "cac:OrderReference", "cbc:ID"],
            )
            .or_else(|| order_ref.clone());
        let rest = [
            order,
            None,
            doc.text_at(line, &["cbc:ID"])
                .or_else(|| Some((k + 1).to_string())),
            None,
            sku,
            qual,
            upc,
            qty.and_then(|q| doc.text(q)),
            qty.and_then(|q| doc.attr(q, "unitCode")),
        ];
        out.push(&c, head.iter().cloned().chain(rest));
    }
}
