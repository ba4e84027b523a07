//! The shipments pipeline the tests share: 3PL shipping advices (X12 945) reconciled against
//! the ERP's open orders, with its two schemas, and a writer of 945 interchanges.
#![allow(dead_code)]

pub const SHIPMENT_SCHEMA: &str = r#"{"fields": [
    {"name": "order_number", "type": "string", "constraints": {"required": true, "pattern": "SO-[0-9]+"}},
    {"name": "line_number", "type": "integer"},
    {"name": "status", "type": "string", "constraints": {"enum": ["CC", "CP", "CS", "CX"]}},
    {"name": "quantity_ordered", "type": "integer", "constraints": {"minimum": 0}},
    {"name": "quantity_shipped", "type": "integer", "constraints": {"required": true, "minimum": 0}},
    {"name": "sku", "type": "string", "constraints": {"required": true}}],
   "fieldsMatch": "superset"}"#;

pub const OPEN_ORDERS_SCHEMA: &str = r#"{"fields": [
    {"name": "order_number", "type": "string", "constraints": {"required": true}},
    {"name": "sku", "type": "string", "constraints": {"required": true}},
    {"name": "qty_open", "type": "integer", "constraints": {"required": true}}],
   "primaryKey": ["order_number", "sku"]}"#;

pub const PIPELINE_945: &str = r#"description = "3PL shipping advices (945) against ERP open orders"
time_zone = "America/Chicago"
[source]
min_age_secs = 0
settle_secs = 0
[input]
format = "x12"
table = "x12_945_lines"
schema = "shipment_lines.v1"
ack_destination = "to_acme3pl"
[business_date]
from_name = '(?P<date>\d{4}-\d{2}-\d{2})'
format = "%Y-%m-%d"
[erp]
folder = "inbox/erp"
pattern = "erp_open_orders_{date}.csv"
schema = "erp_open_orders.v1"
[reconcile]
keys = [{ partner = "order_number", erp = "order_number" }, { partner = "sku", erp = "sku" }]
compare = [{ partner = "quantity_shipped", erp = "qty_open", abs_tolerance = "0" }]
[[outputs]]
table = "breaks"
destination = "erp"
name = "shipment_breaks_{date}_{run_id}.csv"
"#;

/// An order's shipped lines: (order number, [(sku, ordered, shipped)]).
pub type Order<'a> = (&'a str, &'a [(&'a str, u32, u32)]);

/// A 945 interchange (control number `control`, sent on `yymmdd`) with one set per order:
/// (order, [(sku, ordered, shipped)]).
pub fn x945(control: u32, yymmdd: &str, orders: &[Order]) -> String {
    let mut s = format!(
        "ISA*00*          *00*          *ZZ*ACME3PL        *ZZ*TALLYMAN       *{yymmdd}*2200*U*00401*{control:09}*0*P*>~\nGS*SW*ACME3PL*TALLYMAN*20{yymmdd}*2200*{control}*X*004010~\n"
    );
    for (n, (order, lines)) in orders.iter().enumerate() {
        let st = format!("{:04}", n + 1);
        let mut set = vec![
            format!("ST*945*{st}"),
            format!("W06*N*{order}*20{yymmdd}*BOL-{control}{n}**PO-{order}"),
            "N1*ST*ACME STORES*92*STORE-17".to_string(),
            "W27*M*UPSN".to_string(),
        ];
        for (i, (sku, ordered, shipped)) in lines.iter().enumerate() {
            let status = if shipped < ordered { "CP" } else { "CC" };
            set.push(format!("LX*{}", i + 1));
            set.push(format!(
                "W12*{status}*{ordered}*{shipped}*{}*EA**VN*{sku}",
                ordered.saturating_sub(*shipped)
            ));
        }
        set.push("W03*1*1*LB".to_string());
        set.push(format!("SE*{}*{st}", set.len() + 1));
        for seg in set {
            s.push_str(&seg);
            s.push_str("~\n");
        }
    }
    s.push_str(&format!(
        "GE*{}*{control}~\nIEA*1*{control:09}~\n",
        orders.len()
    ));
    s
}
