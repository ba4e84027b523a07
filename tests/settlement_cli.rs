//! Settlement pipelines through the real `tallyman` binary: the demo's Amazon settlement, every
//! shipped pipeline checked, each layout's fixture with its known answer (statuses, journal
//! summing to the deposit), a settlement that does not foot, a later refund, and a report of two
//! payouts (one journal file per settlement, an order split over both, reruns, bad partitions),
//! and three-decimal money kept exact through matching, the journal and a SQL transform.

#[path = "support/home.rs"]
mod home;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use home::tallyman;
use rust_decimal::Decimal;

const LAYOUTS: [&str; 5] = [
    "amazon_v1",
    "amazon_v2",
    "shopify_payments",
    "stripe_itemized",
    "paypal_stl",
];

fn both(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// A demo home (files dropped, nothing run) with every shipped settlement pipeline and schema,
/// and their drop folders.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = tallyman(dir.path(), &["demo", "--no-run"]);
    assert!(o.status.success(), "{}", both(&o));
    for l in LAYOUTS {
        let name = format!("settlement_{l}.toml");
        std::fs::copy(
            repo(&format!("pipelines/{name}")),
            dir.path().join("pipelines").join(&name),
        )
        .expect("copy pipeline");
        std::fs::create_dir_all(dir.path().join(format!("inbox/settlement_{l}"))).expect("inbox");
    }
    for s in ["settlement_lines.v1.json", "erp_orders.v1.json"] {
        std::fs::copy(
            repo(&format!("schemas/{s}")),
            dir.path().join("schemas").join(s),
        )
        .expect("copy schema");
    }
    dir
}

/// Writes `bytes` as if the partner finished it a minute ago (so it settles at once).
fn drop_file(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
    std::fs::write(path, bytes).expect("write");
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open");
    f.set_modified(std::time::SystemTime::now() - std::time::Duration::from_secs(60))
        .expect("mtime");
}

/// The only file of `outbox/<dest>` whose name contains `part`, as CSV rows (header first).
fn output(root: &Path, dest: &str, part: &str) -> Vec<Vec<String>> {
    let dir = root.join("outbox").join(dest);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().contains(part))
        .collect();
    files.sort();
    assert_eq!(files.len(), 1, "{files:?}");
    let mut r = csv::Reader::from_path(&files[0]).expect("csv");
    let mut rows = vec![r
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect()];
    rows.extend(r.records().map(|x| {
        x.expect("record")
            .iter()
            .map(String::from)
            .collect::<Vec<_>>()
    }));
    rows
}

fn column(rows: &[Vec<String>], name: &str) -> Vec<String> {
    let i = rows[0].iter().position(|c| c == name).expect("column");
    rows[1..].iter().map(|r| r[i].clone()).collect()
}

fn d(s: &str) -> Decimal {
    s.parse().expect("decimal")
}

/// (order, status, difference) per row of the matching file.
fn statuses(rows: &[Vec<String>]) -> Vec<(String, String, Decimal)> {
    let (k, s, diff) = (
        column(rows, "order_ref"),
        column(rows, "status"),
        column(rows, "difference"),
    );
    (0..k.len())
        .map(|i| (k[i].clone(), s[i].clone(), d(&diff[i])))
        .collect()
}

fn journal_sum(rows: &[Vec<String>]) -> Decimal {
    column(rows, "amount").iter().map(|a| d(a)).sum()
}

fn want(v: &[(&str, &str, &str)]) -> Vec<(String, String, Decimal)> {
    v.iter()
        .map(|(k, s, x)| (k.to_string(), s.to_string(), d(x)))
        .collect()
}

#[test]
fn the_demo_runs_the_amazon_settlement_with_its_known_answer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let o = tallyman(root, &["demo"]);
    let out = both(&o);
    assert!(
        out.contains("settlement_amazon_v2: settlement_2026-11-25.tsv -> succeeded"),
        "{out}"
    );
    assert!(out.contains("(unmapped-type)"), "{out}");
    let matching = output(root, "finance", "settlement_amazon_v2");
    assert_eq!(
        statuses(&matching),
        want(&[
            ("302-0000001", "paid", "0.00"),
            ("302-0000002", "short_paid", "-5.00"),
            ("302-0000003", "refunded", "-20.00"),
            ("302-0000004", "unknown_order", "1.00"),
            ("", "no_order", "-6.00"),
            ("302-0000005", "awaiting_settlement", "-45.00"),
        ])
    );
    // Every line is settled under exactly one status.
    let settled: Decimal = column(&matching, "settled").iter().map(|a| d(a)).sum();
    assert_eq!(settled, d("966.00"));
    assert_eq!(column(&matching, "first_line")[1], "7");
    let journal = output(root, "gl", "settlement_amazon_v2");
    assert_eq!(
        journal[1..]
            .iter()
            .map(|r| format!("{} {}", r[2], r[4]))
            .collect::<Vec<_>>(),
        [
            "1299 Settlement differences 1.00",
            "2200 Sales tax payable 19.00",
            "4000 Sales 1150.00",
            "4010 Refunds -20.00",
            "4900 Promotions -5.00",
            "6100 Marketplace fees -169.50",
            "6110 Fulfilment fees -9.50",
        ]
    );
    assert_eq!(
        journal_sum(&journal),
        d("966.00"),
        "the journal sums to the deposit"
    );

    // The finance report: money first (the deposit, whether it foots, components, variance
    // per status), then the breaks; its CSV has every break with expected, settled,
    // components and the file and line it came from.
    let run = std::fs::read_dir(root.join("archive/settlement_amazon_v2/2026-11-25"))
        .expect("archive")
        .map(|e| e.expect("entry").path())
        .next()
        .expect("run folder");
    let html = std::fs::read_to_string(run.join("report.html")).expect("report.html");
    assert!(html.contains("data-field=\"deposit\">966.00<"), "{html}");
    assert!(html.contains("data-field=\"foots\">yes<"), "{html}");
    assert!(
        html.contains("data-component=\"marketplace_fee\">-169.50<"),
        "{html}"
    );
    let at = |needle: &str| {
        html.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {html}"))
    };
    assert!(
        at("<h2>Settlement</h2>") < at("302-0000002"),
        "money before breaks"
    );
    let csv = std::fs::read_to_string(run.join("report.csv")).expect("report.csv");
    assert!(
        csv.starts_with("order_ref,components,source_file,source_line,record,status,currency,amount_partner,amount_erp,amount_difference,"),
        "{csv}"
    );
    assert!(
        csv.contains("302-0000002,marketplace_fee=-157.50; principal=1050.00; promotion=-5.00,settlement_2026-11-25.tsv,7,break,short_paid,EUR,887.50,1050.00,-5.00,"),
        "{csv}"
    );
    assert!(
        csv.contains("302-0000005,,,,break,awaiting_settlement,EUR,0.00,45.00,-45.00,"),
        "{csv}"
    );
    assert_eq!(
        csv.matches(",break,").count(),
        5,
        "every break but the paid order"
    );
    // The unmapped type is listed in the report (never dropped silently), with its line.
    assert!(
        csv.contains(",issue,,,,,,settlement_2026-11-25.tsv,12,,Order/ItemPrice/NewThing,unmapped-type,warning,"),
        "{csv}"
    );
    assert!(html.contains("Order/ItemPrice/NewThing"), "{html}");
}

#[test]
fn every_shipped_settlement_pipeline_passes_check() {
    let dir = home();
    let o = tallyman(dir.path(), &["check"]);
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    for l in LAYOUTS {
        assert!(out.contains(&format!("ok  settlement_{l}:")), "{l}: {out}");
    }
}

/// One layout's case: its fixture, the ERP's orders, the statuses and the deposit.
struct Case {
    layout: &'static str,
    fixture: &'static str,
    drop_as: &'static str,
    erp_file: &'static str,
    erp: &'static str,
    /// Text replaced in the shipped pipeline first (e.g. the footing policy).
    edit: Option<(&'static str, &'static str)>,
    statuses: &'static [(&'static str, &'static str, &'static str)],
    deposit: &'static str,
}

const HEADER: &str = "order_id,expected_amount,currency,tax,shipping\n";

#[test]
fn each_layout_has_its_known_answer_and_its_journal_sums_to_the_deposit() {
    let cases = [
        Case {
            // The real excerpt does not foot (its summary is the whole settlement's): with
            // `unfooted = "warn"` it is processed and the journal posts the difference.
            layout: "amazon_v1",
            fixture: "mws-rs_settlement_flatfile_v1_excerpt.tsv",
            drop_as: "settlement_2015-12-18.tsv",
            erp_file: "erp_orders_amazon_v1_2015-12-18.csv",
            erp: "112-8095165-5463447,27.99,USD,,\n",
            edit: Some(("unfooted = \"reject\"", "unfooted = \"warn\"")),
            statuses: &[("112-8095165-5463447", "paid", "0.00")],
            deposit: "16630.13",
        },
        Case {
            layout: "shopify_payments",
            fixture: "shopify_payments.csv",
            drop_as: "payout_transactions_2026-11-30.csv",
            erp_file: "erp_orders_shopify_2026-11-30.csv",
            erp: "1001,100.00,USD,,\n1002,50.00,USD,,\n",
            edit: None,
            statuses: &[
                ("1001", "refunded", "-20.00"),
                ("1002", "paid", "0.00"),
                ("", "no_order", "-1.00"),
            ],
            deposit: "124.05",
        },
        Case {
            layout: "stripe_itemized",
            fixture: "stripe_itemized.csv",
            drop_as: "payout_reconciliation_2026-11-30.csv",
            erp_file: "erp_orders_stripe_2026-11-30.csv",
            erp: "JP-1,5000,JPY,,\nJP-2,3000,JPY,,\nJP-3,700,JPY,,\n",
            edit: None,
            statuses: &[
                ("JP-1", "refunded", "-1000"),
                ("JP-2", "paid", "0"),
                ("JP-3", "awaiting_settlement", "-700"),
            ],
            deposit: "6720",
        },
        Case {
            layout: "paypal_stl",
            fixture: "paypal_stl.csv",
            drop_as: "STL-20261130.01.008.CSV",
            erp_file: "erp_orders_paypal_2026-11-30.csv",
            erp: "INV-1,100.00,USD,,\nINV-2,50.00,EUR,,\n",
            edit: None,
            statuses: &[
                ("INV-1", "refunded", "-20.00"),
                ("INV-2", "currency_mismatch", "0.00"),
                ("", "no_order", "1.00"),
            ],
            deposit: "126.05",
        },
    ];
    for c in cases {
        let dir = home();
        let root = dir.path();
        let pipeline = format!("settlement_{}", c.layout);
        if let Some((from, to)) = c.edit {
            let path = root.join(format!("pipelines/{pipeline}.toml"));
            let text = std::fs::read_to_string(&path).expect("pipeline");
            assert!(text.contains(from));
            std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
        }
        drop_file(
            &root.join("inbox/erp").join(c.erp_file),
            format!("{HEADER}{}", c.erp).as_bytes(),
        );
        drop_file(
            &root.join("inbox").join(&pipeline).join(c.drop_as),
            &std::fs::read(repo(&format!("tests/fixtures/settlement/{}", c.fixture)))
                .expect("fixture"),
        );
        let o = tallyman(root, &["run", &pipeline]);
        let out = both(&o);
        assert!(out.contains("-> succeeded"), "{}: {out}", c.layout);
        let matching = output(root, "finance", &pipeline);
        assert_eq!(statuses(&matching), want(c.statuses), "{}", c.layout);
        let journal = output(root, "gl", &pipeline);
        assert_eq!(
            journal_sum(&journal),
            d(c.deposit),
            "{}: {journal:?}",
            c.layout
        );
    }
}

fn ledger_states(root: &Path) -> BTreeMap<String, String> {
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).expect("ledger");
    let mut st = conn
        .prepare("SELECT name, state FROM files")
        .expect("query");
    let rows = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .expect("rows");
    rows.map(|r| r.expect("row")).collect()
}

#[test]
fn a_settlement_that_does_not_foot_is_quarantined_with_its_totals() {
    let dir = home();
    let root = dir.path();
    let name = "settlement_2026-11-25.tsv";
    drop_file(
        &root.join("inbox/settlement_amazon_v2").join(name),
        &std::fs::read(repo("tests/fixtures/settlement/amazon_v2_unfooted.tsv")).expect("fixture"),
    );
    let o = tallyman(root, &["run", "settlement_amazon_v2"]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "settlement 12345678 does not foot in EUR: reported 970.00, lines sum to 966.00, difference 4.00"
        ),
        "{out}"
    );
    assert_eq!(
        ledger_states(root).get(name).map(String::as_str),
        Some("quarantined")
    );
    assert!(
        !root.join("outbox/gl").exists()
            || std::fs::read_dir(root.join("outbox/gl"))
                .expect("gl")
                .next()
                .is_none()
    );
}

#[test]
fn a_refund_of_an_order_settled_in_an_earlier_file_is_refunded() {
    let dir = home();
    let root = dir.path();
    let o = tallyman(root, &["run", "settlement_amazon_v2"]);
    assert!(o.status.success(), "{}", both(&o));
    // The next settlement holds only a refund of 302-0000001, paid in the first one.
    let text = "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\ttransaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\tamount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\torder-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased\n\
        22222222\t16.11.2026\t30.11.2026\t02.12.2026\t-16,50\tEUR\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n\
        22222222\t\t\t\t\t\tRefund\t302-0000001\t\t\t\tAmazon.de\tItemPrice\tPrincipal\t-19,00\t\t\t\t\t\t\tSKU-1\t1\n\
        22222222\t\t\t\t\t\tRefund\t302-0000001\t\t\t\tAmazon.de\tItemFees\tCommission\t2,50\t\t\t\t\t\t\tSKU-1\t\n";
    drop_file(
        &root.join("inbox/settlement_amazon_v2/settlement_2026-11-26.tsv"),
        text.as_bytes(),
    );
    drop_file(
        &root.join("inbox/erp/erp_orders_amazon_2026-11-26.csv"),
        format!("{HEADER}302-0000001,119.00,EUR,19.00,0.00\n").as_bytes(),
    );
    std::fs::remove_dir_all(root.join("outbox/finance")).expect("clear finance");
    std::fs::remove_dir_all(root.join("outbox/gl")).expect("clear gl");
    let o = tallyman(root, &["run", "settlement_amazon_v2"]);
    assert!(o.status.success(), "{}", both(&o));
    let matching = output(root, "finance", "2026-11-26");
    assert_eq!(
        statuses(&matching),
        want(&[("302-0000001", "refunded", "-19.00")])
    );
    assert_eq!(journal_sum(&output(root, "gl", "2026-11-26")), d("-16.50"));
}

#[test]
fn check_lists_every_problem_of_the_settlement_sections() {
    let dir = home();
    let root = dir.path();
    let path = root.join("pipelines/settlement_amazon_v2.toml");
    let text = std::fs::read_to_string(&path)
        .expect("pipeline")
        .replacen("layout = \"amazon_v2\"", "layout = \"amazon_v3\"", 1)
        .replacen("unfooted = \"reject\"", "unfooted = \"ignore\"", 1)
        .replacen(
            "components = {}",
            "components = { \"ItemPrice/Foo\" = \"fees\" }",
            1,
        )
        .replacen("EUR = \"0.00\"", "EUR = \"-1\"", 1)
        .replacen("principal = \"4000 Sales\"", "princpal = \"4000 Sales\"", 1);
    std::fs::write(&path, text).expect("write");
    // [journal] on a CSV pipeline needs a settlement input.
    let inv = root.join("pipelines/inventory_3pl.toml");
    let mut text = std::fs::read_to_string(&inv).expect("inventory");
    text.push_str("\n[journal]\naccounts = { principal = \"4000 Sales\" }\n");
    std::fs::write(&inv, text).expect("write");
    let o = tallyman(root, &["check"]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    for want in [
        "settlement_amazon_v2.toml: input.settlement.layout: `amazon_v3` is not a layout (one of amazon_v1, amazon_v2, shopify_payments, stripe_itemized, paypal_stl)",
        "settlement_amazon_v2.toml: input.settlement.unfooted: `ignore` is neither \"reject\" nor \"warn\"",
        "settlement_amazon_v2.toml: input.settlement.components: `ItemPrice/Foo` maps to `fees`, which is no component",
        "settlement_amazon_v2.toml: group_reconcile.tolerances.EUR: `-1` is not an exact non-negative decimal",
        "settlement_amazon_v2.toml: journal.accounts: `princpal` is no component",
        "inventory_3pl.toml: journal: needs a settlement input",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn tax_and_shipping_named_in_the_pipeline_are_compared_on_their_own() {
    let dir = home();
    let root = dir.path();
    let pipeline = root.join("pipelines/settlement_amazon_v2.toml");
    let text = std::fs::read_to_string(&pipeline).expect("pipeline");
    let text = text.replace(
        "[group_reconcile]\n",
        "[group_reconcile]\nerp_tax = \"tax\"\nerp_shipping = \"shipping\"\n",
    );
    std::fs::write(&pipeline, text).expect("pipeline");
    // 302-0000001 is paid in full (119.00), but the ERP invoiced 18.00 of it as tax where the
    // settlement pays 19.00: the total matches, the tax does not.
    let erp = root.join("inbox/erp/erp_orders_amazon_2026-11-25.csv");
    let orders = std::fs::read_to_string(&erp).expect("erp");
    let orders = orders.replace(
        "302-0000001,119.00,EUR,19.00,",
        "302-0000001,119.00,EUR,18.00,",
    );
    drop_file(&erp, orders.as_bytes());
    let o = tallyman(root, &["run", "settlement_amazon_v2"]);
    assert!(o.status.success(), "{}", both(&o));
    let matching = output(root, "finance", "settlement_amazon_v2");
    assert_eq!(
        statuses(&matching)[..2],
        want(&[
            ("302-0000001", "over_paid", "0.00"),
            ("302-0000002", "short_paid", "-5.00"),
        ])
    );
    assert_eq!(column(&matching, "expected_tax")[0], "18.00");
    assert_eq!(column(&matching, "settled_tax")[0], "19.00");
    assert_eq!(column(&matching, "tax_difference")[0], "1.00");
    assert_eq!(column(&matching, "shipping_difference")[0], "0.00");
}

/// A Stripe itemized report holding two payouts: po_1 (the layout fixture's, and 600 of JP-4:
/// deposit 7320) and po_2 (one charge of JP-3, and the other 400 of JP-4: deposit 1075). JP-4
/// is an order split over the two settlements.
fn two_payouts() -> String {
    let one = std::fs::read_to_string(repo("tests/fixtures/settlement/stripe_itemized.csv"))
        .expect("fixture")
        .replacen(
            ",-6720,0,-6720,payout,po_1,",
            ",-7320,0,-7320,payout,po_1,",
            1,
        );
    format!(
        "{one}txn_a,2026-11-29 10:00:00,2026-11-29 19:00:00,2026-11-30 00:00:00,2026-11-30 09:00:00,jpy,600,0,600,charge,ch_a,Order JP-4 (part 1),600,jpy,po_1,2026-11-30 00:00:00,JP-4\n\
         txn_5,2026-11-30 01:00:00,2026-11-30 10:00:00,2026-12-01 00:00:00,2026-12-01 09:00:00,jpy,700,25,675,charge,ch_5,Order JP-3,700,jpy,po_2,2026-12-01 00:00:00,JP-3\n\
         txn_b,2026-11-30 02:00:00,2026-11-30 11:00:00,2026-12-01 00:00:00,2026-12-01 09:00:00,jpy,400,0,400,charge,ch_b,Order JP-4 (part 2),400,jpy,po_2,2026-12-01 00:00:00,JP-4\n\
         txn_6,2026-12-01 00:00:00,2026-12-01 09:00:00,2026-12-01 00:00:00,2026-12-01 09:00:00,jpy,-1075,0,-1075,payout,po_2,STRIPE PAYOUT,,,po_2,2026-12-01 00:00:00,\n"
    )
}

const STRIPE_ERP: &str = "JP-1,5000,JPY,,\nJP-2,3000,JPY,,\nJP-3,700,JPY,,\nJP-4,1000,JPY,,\n";

/// The files of `outbox/<dest>`, sorted by name.
fn files(root: &Path, dest: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("outbox").join(dest))
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
}

/// The manifests of a pipeline's runs, by run id.
fn manifests(root: &Path, pipeline: &str) -> BTreeMap<String, serde_json::Value> {
    let mut out = BTreeMap::new();
    let dates = std::fs::read_dir(root.join("archive").join(pipeline)).expect("archive");
    for date in dates.map(|e| e.expect("entry").path()) {
        for run in std::fs::read_dir(&date)
            .expect("date")
            .map(|e| e.expect("run").path())
        {
            let text = std::fs::read(run.join("manifest.json")).expect("manifest");
            let m: serde_json::Value = serde_json::from_slice(&text).expect("json");
            out.insert(m["run_id"].as_str().expect("run_id").to_string(), m);
        }
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn a_report_of_two_payouts_gives_one_journal_file_per_settlement_each_summing_to_its_deposit() {
    let dir = home();
    let root = dir.path();
    let pipeline = "settlement_stripe_itemized";
    drop_file(
        &root.join("inbox/erp/erp_orders_stripe_2026-11-30.csv"),
        format!("{HEADER}{STRIPE_ERP}").as_bytes(),
    );
    drop_file(
        &root.join(format!(
            "inbox/{pipeline}/payout_reconciliation_2026-11-30.csv"
        )),
        two_payouts().as_bytes(),
    );
    let o = tallyman(root, &["run", pipeline]);
    let out = both(&o);
    assert!(out.contains("-> succeeded"), "{out}");
    let gl = files(root, "gl");
    let names: Vec<String> = gl
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "journal_settlement_stripe_itemized_po_1_2026-11-30_r000001.csv",
            "journal_settlement_stripe_itemized_po_2_2026-11-30_r000001.csv",
        ]
    );
    for (path, (id, deposit)) in gl.iter().zip([("po_1", "7320"), ("po_2", "1075")]) {
        let rows = output(root, "gl", &format!("_{id}_"));
        assert!(
            column(&rows, "settlement_id").iter().all(|s| s == id),
            "{path:?}"
        );
        assert_eq!(journal_sum(&rows), d(deposit), "{id}: {rows:?}");
    }
    // The matching is still one file, over both payouts: JP-4 is paid by its two parts.
    let matching = output(root, "finance", pipeline);
    assert_eq!(
        statuses(&matching),
        want(&[
            ("JP-1", "refunded", "-1000"),
            ("JP-2", "paid", "0"),
            ("JP-4", "paid", "0"),
            ("JP-3", "paid", "0"),
        ])
    );
    let jp4 = column(&matching, "order_ref")
        .iter()
        .position(|k| k == "JP-4")
        .expect("JP-4");
    assert_eq!(column(&matching, "settled")[jp4], "1000");
    assert_eq!(column(&matching, "lines")[jp4], "2");

    // Each file is in the manifest with its value, size and sha256, and was recorded and
    // published with the run (the ledger's outbound rows).
    let m = &manifests(root, pipeline)["r000001"];
    let journal: Vec<&serde_json::Value> = m["outputs"]
        .as_array()
        .expect("outputs")
        .iter()
        .filter(|e| e["table"] == "journal")
        .collect();
    assert_eq!(journal.len(), 2, "{m}");
    for (e, path) in journal.iter().zip(&gl) {
        let bytes = std::fs::read(path).expect("journal");
        assert_eq!(
            e["name"],
            path.file_name().expect("name").to_string_lossy().as_ref()
        );
        assert_eq!(e["size"], bytes.len() as u64);
        assert_eq!(e["sha256"], sha256_hex(&bytes));
    }
    assert_eq!(journal[0]["partition"], "po_1");
    assert_eq!(journal[1]["partition"], "po_2");
    let conn = rusqlite::Connection::open(root.join("var/ledger.sqlite")).expect("ledger");
    let published: i64 = conn
        .query_row(
            "SELECT count(*) FROM outbound WHERE destination = 'gl' AND published_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("outbound");
    assert_eq!(published, 2);

    // A rerun computes the same two files, byte for byte: archived, not published again.
    let o = tallyman(
        root,
        &[
            "rerun",
            pipeline,
            "--date",
            "2026-11-30",
            "--reason",
            "journal per settlement",
        ],
    );
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("output journal (gl) for po_1 journal_settlement_stripe_itemized_po_1_2026-11-30_r000002.csv: not published: unchanged since r000001's"),
        "{out}"
    );
    assert!(out.contains("output journal (gl) for po_2"), "{out}");
    assert_eq!(files(root, "gl"), gl, "nothing new in the outbox");
    let all = manifests(root, pipeline);
    let sha = |run: &str| -> Vec<(String, String)> {
        all[run]["outputs"]
            .as_array()
            .expect("outputs")
            .iter()
            .filter(|e| e["table"] == "journal")
            .map(|e| (e["partition"].to_string(), e["sha256"].to_string()))
            .collect()
    };
    assert_eq!(sha("r000002"), sha("r000001"));

    // Refunds post to a new account: only po_1 has one, so only its file changes. The rerun
    // publishes po_1's file (superseding r000001's) and holds po_2's, file by file.
    let path = root.join(format!("pipelines/{pipeline}.toml"));
    let text = std::fs::read_to_string(&path).expect("pipeline").replacen(
        "refund = \"4010 Refunds\"",
        "refund = \"4011 Refunds (processor)\"",
        1,
    );
    std::fs::write(&path, text).expect("write");
    let o = tallyman(
        root,
        &[
            "rerun",
            pipeline,
            "--date",
            "2026-11-30",
            "--reason",
            "refund account",
        ],
    );
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    for want in [
        "output journal (gl) for po_1: differs: 3 -> 3 rows: 1 added, 1 removed, 0 changed",
        "output journal (gl) for po_1 journal_settlement_stripe_itemized_po_1_2026-11-30_r000003.csv: published, superseding r000001's",
        "output journal (gl) for po_2 journal_settlement_stripe_itemized_po_2_2026-11-30_r000003.csv: not published: unchanged since r000001's",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
    assert!(!out.contains("for po_2: differs"), "{out}");
    let gl = files(root, "gl");
    assert_eq!(gl.len(), 3, "{gl:?}");
    let rows = output(root, "gl", "_po_1_2026-11-30_r000003");
    assert!(column(&rows, "account").contains(&"4011 Refunds (processor)".to_string()));
    assert_eq!(journal_sum(&rows), d("7320"));
}

#[test]
fn a_settlement_id_that_would_name_a_file_outside_the_folder_rejects_the_file() {
    let dir = home();
    let root = dir.path();
    let pipeline = "settlement_stripe_itemized";
    drop_file(
        &root.join("inbox/erp/erp_orders_stripe_2026-11-30.csv"),
        format!("{HEADER}{STRIPE_ERP}").as_bytes(),
    );
    let name = "payout_reconciliation_2026-11-30.csv";
    drop_file(
        &root.join(format!("inbox/{pipeline}/{name}")),
        two_payouts().replace("po_2", "../../po_2").as_bytes(),
    );
    let o = tallyman(root, &["run", pipeline]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("`../../po_2` would name a file outside the output's folder"),
        "{out}"
    );
    assert_eq!(
        ledger_states(root).get(name).map(String::as_str),
        Some("quarantined")
    );
    // Nothing of the set was published, not even the good payout's journal.
    for dest in ["gl", "finance"] {
        let d = root.join("outbox").join(dest);
        assert!(!d.exists() || files(root, dest).is_empty(), "{dest}");
    }
}

#[test]
fn check_names_a_partition_column_the_table_lacks_and_a_name_without_its_placeholder() {
    let dir = home();
    let root = dir.path();
    let path = root.join("pipelines/settlement_stripe_itemized.toml");
    let text = std::fs::read_to_string(&path).expect("pipeline").replacen(
        "partition_by = \"settlement_id\"",
        "partition_by = \"settlement\"",
        1,
    );
    std::fs::write(&path, text).expect("write");
    let o = tallyman(root, &["check"]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let want = "settlement_stripe_itemized.toml: outputs.partition_by: `settlement` is not a column of `journal` (its columns: settlement_id, currency, account, components, amount): it names one file per value";
    assert!(out.contains(want), "{want}\n{out}");
    // Compiling comes before planning: a name that cannot tell the files apart, and
    // `{partition}` with nothing to fill it.
    let path = root.join("pipelines/settlement_paypal_stl.toml");
    let text = std::fs::read_to_string(&path).expect("pipeline").replacen(
        "journal_{pipeline}_{partition}_{date}_{run_id}.csv",
        "journal_{pipeline}_{date}.csv",
        1,
    );
    std::fs::write(&path, text).expect("write");
    let path = root.join("pipelines/settlement_shopify_payments.toml");
    let text = std::fs::read_to_string(&path).expect("pipeline").replacen(
        "partition_by = \"settlement_id\"\n",
        "",
        1,
    );
    std::fs::write(&path, text).expect("write");
    let o = tallyman(root, &["check"]);
    let out = both(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    for want in [
        "settlement_paypal_stl.toml: outputs.name: output `journal` writes one file per `settlement_id`: its name `journal_{pipeline}_{date}.csv` must hold `{partition}`",
        "settlement_shopify_payments.toml: outputs.name: `{partition}` in `journal_{pipeline}_{partition}_{date}_{run_id}.csv` needs `partition_by` (the column whose values name the files)",
    ] {
        assert!(out.contains(want), "{want}\n{out}");
    }
}

#[test]
fn three_decimal_money_stays_exact_through_matching_the_journal_and_a_sql_transform() {
    let dir = home();
    let root = dir.path();
    let pipeline = "settlement_stripe_itemized";
    // Kuwaiti dinars have three decimals; 0.100 + 0.200 is 0.300 exactly (a float says
    // 0.30000000000000004), and 12.345 − 0.370 is 11.975.
    let path = root.join(format!("pipelines/{pipeline}.toml"));
    let mut text = std::fs::read_to_string(&path).expect("pipeline");
    text = text.replacen(
        "tolerances = { USD = \"0.00\", JPY = \"0\" }",
        "tolerances = { USD = \"0.00\", JPY = \"0\", KWD = \"0.000\" }",
        1,
    );
    text.push_str(
        "\n[[transforms]]\nname = \"deposits\"\nsql = \"SELECT settlement_id, currency, SUM(amount) AS deposit, COUNT(*) AS accounts FROM journal GROUP BY settlement_id, currency\"\n\n\
         [[outputs]]\ntable = \"deposits\"\ndestination = \"finance\"\nname = \"deposits_{date}_{run_id}.csv\"\norder_by = [\"settlement_id\"]\n",
    );
    std::fs::write(&path, text).expect("write");
    drop_file(
        &root.join("inbox/erp/erp_orders_stripe_2026-11-30.csv"),
        format!("{HEADER}K-1,12.345,KWD,,\nK-2,0.100,KWD,,\nK-3,0.200,KWD,,\n").as_bytes(),
    );
    let head = "balance_transaction_id,created_utc,created,available_on_utc,available_on,currency,gross,fee,net,reporting_category,source_id,description,customer_facing_amount,customer_facing_currency,automatic_payout_id,automatic_payout_effective_at,payment_metadata[order_id]\n";
    let rows = [
        "t1,2026-11-28 08:00:00,2026-11-28 11:00:00,2026-11-29 00:00:00,2026-11-29 03:00:00,kwd,12.345,0.370,11.975,charge,ch_1,Order K-1,12.345,kwd,po_k,2026-11-30 00:00:00,K-1",
        "t2,2026-11-28 09:00:00,2026-11-28 12:00:00,2026-11-29 00:00:00,2026-11-29 03:00:00,kwd,0.100,0.000,0.100,charge,ch_2,Order K-2,0.100,kwd,po_k,2026-11-30 00:00:00,K-2",
        "t3,2026-11-28 10:00:00,2026-11-28 13:00:00,2026-11-29 00:00:00,2026-11-29 03:00:00,kwd,0.200,0.000,0.200,charge,ch_3,Order K-3,0.200,kwd,po_k,2026-11-30 00:00:00,K-3",
        "t4,2026-11-30 00:00:00,2026-11-30 03:00:00,2026-11-30 00:00:00,2026-11-30 03:00:00,kwd,-12.275,0.000,-12.275,payout,po_k,STRIPE PAYOUT,,,po_k,2026-11-30 00:00:00,",
    ];
    drop_file(
        &root.join(format!(
            "inbox/{pipeline}/payout_reconciliation_2026-11-30.csv"
        )),
        format!("{head}{}\n", rows.join("\n")).as_bytes(),
    );
    let o = tallyman(root, &["run", pipeline]);
    let out = both(&o);
    assert!(out.contains("-> succeeded"), "{out}");
    let matching = output(root, "finance", "settlement_matching");
    assert_eq!(
        statuses(&matching),
        want(&[
            ("K-1", "paid", "0.000"),
            ("K-2", "paid", "0.000"),
            ("K-3", "paid", "0.000")
        ])
    );
    // Settled is every line of the order: the sale less its fee.
    assert_eq!(column(&matching, "settled"), ["11.975", "0.100", "0.200"]);
    let journal = output(root, "gl", "_po_k_");
    assert_eq!(journal_sum(&journal), d("12.275"));
    assert!(
        column(&journal, "amount")
            .iter()
            .all(|a| a.split('.').nth(1).map(str::len) == Some(3)),
        "{journal:?}"
    );
    let deposits = output(root, "finance", "deposits_");
    assert_eq!(column(&deposits, "deposit"), ["12.275"], "{deposits:?}");
}
