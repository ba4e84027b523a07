//! Orders through the real binary: a home with the shipped order and shipment pipelines,
//! hand-made X12 850s and CSV orders, and what the outbox and the ledger hold afterwards
//! (`tests/orders_cli.rs`, `tests/shipments_cli.rs`).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::home::{both, tallyman, Home};

pub const X12: &str = include_str!("../../pipelines/orders_x12.toml");
pub const CSV: &str = include_str!("../../pipelines/orders_csv.toml");
pub const SHOPIFY: &str = include_str!("../../pipelines/orders_shopify.toml");
pub const SHIPMENTS: &str = include_str!("../../pipelines/shipments_x12.toml");
pub const INVOICES: &str = include_str!("../../pipelines/invoices_x12.toml");
pub const RETURNS: &str = include_str!("../../pipelines/returns_csv.toml");
pub const SCHEMAS: [(&str, &str); 10] = [
    (
        "rma_receipts.v1",
        include_str!("../../schemas/rma_receipts.v1.json"),
    ),
    (
        "erp_refunds.v1",
        include_str!("../../schemas/erp_refunds.v1.json"),
    ),
    (
        "erp_order_status.v1",
        include_str!("../../schemas/erp_order_status.v1.json"),
    ),
    (
        "invoice_lines_810.v1",
        include_str!("../../schemas/invoice_lines_810.v1.json"),
    ),
    (
        "shipment_lines_945.v1",
        include_str!("../../schemas/shipment_lines_945.v1.json"),
    ),
    (
        "shipment_items.v1",
        include_str!("../../schemas/shipment_items.v1.json"),
    ),
    (
        "order_lines_x12.v1",
        include_str!("../../schemas/order_lines_x12.v1.json"),
    ),
    (
        "order_lines_edifact.v1",
        include_str!("../../schemas/order_lines_edifact.v1.json"),
    ),
    (
        "orders_plain.v1",
        include_str!("../../schemas/orders_plain.v1.json"),
    ),
    (
        "shopify_orders.v1",
        include_str!("../../schemas/shopify_orders.v1.json"),
    ),
];

pub const HEADER: &str = "order_id,order_date,currency,ship_to_name,ship_to_address,ship_to_city,ship_to_state,ship_to_postal,ship_to_country,line_number,sku,quantity,unit,unit_price,description\n";

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

/// A home with the demo's item master and the given pipelines (id, TOML), files taken at once.
pub fn home_with(pipelines: &[(&str, String)]) -> Home {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let o = tallyman(&root, &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", both(&o));
    for rel in [
        "pipelines/inventory_3pl.toml",
        "pipelines/settlement_amazon_v2.toml",
        "inbox/inventory_3pl/stock_2026-11-25.csv",
        "inbox/settlement_amazon_v2/settlement_2026-11-25.tsv",
    ] {
        std::fs::remove_file(root.join(rel)).expect("remove the demo's other pipelines");
    }
    for (name, text) in SCHEMAS {
        std::fs::write(root.join(format!("schemas/{name}.json")), text).expect("schema");
    }
    for (id, text) in pipelines {
        let text = text
            .replace("min_age_secs = 1", "min_age_secs = 0")
            .replace("settle_secs = 1", "settle_secs = 0");
        std::fs::write(root.join(format!("pipelines/{id}.toml")), text).expect("pipeline");
        std::fs::create_dir_all(root.join(format!("inbox/{id}"))).expect("drop folder");
    }
    Home { _dir: dir, root }
}

/// The shipped X12 and CSV pipelines of channel acme.
pub fn acme() -> Home {
    home_with(&[("orders_x12", X12.into()), ("orders_csv", CSV.into())])
}

pub fn drop_file(h: &Home, pipeline: &str, name: &str, bytes: &[u8]) {
    let path = h.root.join("inbox").join(pipeline).join(name);
    std::fs::write(&path, bytes).expect("drop");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .expect("open");
    f.set_modified(SystemTime::now() - Duration::from_secs(60))
        .expect("mtime");
}

pub fn run(h: &Home) -> String {
    let o = tallyman(&h.root, &["run", "--max-wait-secs", "5"]);
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    out
}

/// A hand-made X12 850 (00401) with interchange control number `control`: order `po`, ship-to
/// Jo Walker, one PO1 per (sku, quantity, price).
pub fn x850(control: u32, po: &str, lines: &[(&str, &str, &str)]) -> String {
    x850_sets(control, &[(po, lines)])
}

/// An order's lines: (sku, quantity, price).
pub type Lines<'a> = &'a [(&'a str, &'a str, &'a str)];

/// A hand-made X12 850 interchange with one set per (order, lines).
pub fn x850_sets(control: u32, orders: &[(&str, Lines)]) -> String {
    let mut sets = String::new();
    for (n, (po, lines)) in orders.iter().enumerate() {
        let st02 = format!("{:04}", n + 1);
        let mut body = format!("ST*850*{st02}~BEG*00*SA*{po}**20261125~N1*ST*Jo Walker~N3*12 Harbor Road~N4*Portland*ME*04101*US~");
        for (i, (sku, qty, price)) in lines.iter().enumerate() {
            body.push_str(&format!("PO1*{}*{qty}*EA*{price}**VN*{sku}~", i + 1));
        }
        body.push_str(&format!("CTT*{}~", lines.len()));
        let segments = body.matches('~').count() + 1;
        sets.push_str(&format!("{body}SE*{segments}*{st02}~"));
    }
    let n = orders.len();
    format!(
        "ISA*00*          *00*          *ZZ*ACMESHOP       *ZZ*TALLYMAN       *261125*0936*U*00401*{control:09}*0*P*>~GS*PO*ACMESHOP*TALLYMAN*20261125*0936*{control}*X*004010~{sets}GE*{n}*{control}~IEA*1*{control:09}~\n"
    )
}

/// A plain CSV of one order (`description` varies the bytes, never the order's content).
pub fn csv_order(po: &str, lines: &[(&str, &str, &str)], description: &str) -> String {
    let mut s = HEADER.to_string();
    for (i, (sku, qty, price)) in lines.iter().enumerate() {
        s.push_str(&format!(
            "{po},2026-11-25,USD,Jo Walker,12 Harbor Road,Portland,ME,04101,US,{},{sku},{qty},EA,{price},{description}\n",
            i + 1
        ));
    }
    s
}

/// Files in an outbox folder whose name starts with `prefix` (never the dot-named staged ones).
pub fn outbox(h: &Home, dest: &str, prefix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(h.root.join("outbox").join(dest))
        .map(|d| {
            d.map(|e| e.expect("entry").path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with(prefix))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The data rows of every ERP order file, in file order.
pub fn erp_rows(h: &Home) -> Vec<String> {
    outbox(h, "erp_orders", "orders_")
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .expect("read")
                .lines()
                .skip(1)
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).expect("read")
}
