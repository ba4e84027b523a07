//! Breaks that live across days, through the real binary: the demo's inventory pipeline over
//! three business dates (items opened, carried, closed by a later snapshot, reopened), people's
//! acknowledgements and closings with their actors, the report's open-item section, a rerun of
//! the middle day with and without `--cascade` against a from-scratch replay of every day, and
//! a crash between a run's record and the book's save.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "support/home.rs"]
mod home;
#[path = "support/prom.rs"]
mod prom;

use std::path::Path;

use home::{both, demo_home, sql, tallyman, write_aged, Home};

const DROP: &str = "inbox/inventory_3pl";
const ERP: &str = "inbox/erp";

/// The demo's ERP extract (2026-11-25) for another business date.
fn erp_for(root: &Path, date: &str) -> String {
    std::fs::read_to_string(root.join(ERP).join("erp_onhand_2026-11-25.csv"))
        .expect("demo extract")
        .replace("2026-11-25", date)
}

/// A snapshot with the demo's SKUs 1-6 at the given on-hand quantities (SKU-7 never in it).
fn snapshot(date: &str, qty: [u32; 6]) -> String {
    let mut s = "item_id,warehouse,qty_on_hand,qty_damaged,unit,snapshot_ts\n".to_string();
    let units = ["EA", "EA", "PK", "EA", "EA", "EA"];
    for (i, (q, u)) in qty.iter().zip(units).enumerate() {
        s.push_str(&format!(
            "SKU-0000000{},3PL-RENO,{q},0,{u},{date}T23:59:00Z\n",
            i + 1
        ));
    }
    s
}

/// Drops the day's snapshot (and its ERP extract) and runs.
fn day(h: &Home, date: &str, qty: [u32; 6]) {
    write_aged(
        &h.root.join(ERP).join(format!("erp_onhand_{date}.csv")),
        erp_for(&h.root, date),
    );
    write_aged(
        &h.root.join(DROP).join(format!("stock_{date}.csv")),
        snapshot(date, qty),
    );
    let o = tallyman(&h.root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
}

/// Day 1 is the demo's own file: SKU-2 off by 3, SKU-5's row malformed (only in the ERP),
/// SKU-7 only in the ERP. Day 2 fixes SKU-2 and SKU-5; day 3 has SKU-2 off again.
fn three_days(h: &Home) {
    let o = tallyman(&h.root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    day(h, "2026-11-26", [120, 80, 300, 45, 12, 500]);
    day(h, "2026-11-27", [120, 70, 300, 45, 12, 500]);
}

/// The inventory book as `key kind state first_seen last_seen open_since amount`, by key.
fn book(root: &Path) -> String {
    sql(
        root,
        "select item_key, kind, state, first_seen, last_seen, open_since, amount from open_items
         where pipeline = 'inventory_3pl' order by item_key, kind",
    )
}

fn id_of(root: &Path, key: &str, kind: &str) -> String {
    sql(
        root,
        &format!("select id from open_items where item_key = '{key}' and kind = '{kind}'"),
    )
}

fn report_json(root: &Path, date: &str, run: &str) -> serde_json::Value {
    let path = root
        .join("archive/inventory_3pl")
        .join(date)
        .join(run)
        .join("report.json");
    serde_json::from_slice(&std::fs::read(&path).expect("report.json")).expect("json")
}

const SKU2: &str = "item_id=SKU-00000002, warehouse=3PL-RENO";
const SKU5: &str = "item_id=SKU-00000005, warehouse=3PL-RENO";
const SKU7: &str = "item_id=SKU-00000007, warehouse=3PL-RENO";

#[test]
fn items_open_carry_close_and_reopen_over_three_days() {
    let h = demo_home();
    three_days(&h);
    let kept = book(&h.root);
    assert_eq!(
        kept,
        [
            format!("{SKU2}|mismatched|open|2026-11-25|2026-11-27|2026-11-27|-10"),
            format!("{SKU5}|only_in_erp|resolved|2026-11-25|2026-11-25|2026-11-25|-12"),
            format!("{SKU7}|only_in_erp|open|2026-11-25|2026-11-27|2026-11-25|-10"),
        ]
        .join("\n")
    );
    // What each day's report said of the book.
    let note = |date: &str, run: &str| report_json(&h.root, date, run)["open_items"].clone();
    let d1 = note("2026-11-25", "r000001");
    assert_eq!(
        (d1["new"].as_u64(), d1["closed"].as_u64()),
        (Some(3), Some(0))
    );
    let d2 = note("2026-11-26", "r000002");
    assert_eq!(
        (
            d2["new"].as_u64(),
            d2["still_open"].as_u64(),
            d2["closed"].as_u64()
        ),
        (Some(0), Some(1), Some(2))
    );
    let d3 = note("2026-11-27", "r000003");
    assert_eq!(
        (
            d3["reopened"].as_u64(),
            d3["still_open"].as_u64(),
            d3["exceptions"].as_u64()
        ),
        (Some(1), Some(1), Some(2))
    );
    assert_eq!(d3["buckets"][0]["name"], "0-7");
    assert_eq!(d3["buckets"][0]["count"], 2);
    // The mailed report says it in words.
    let html = std::fs::read_to_string(
        h.root
            .join("archive/inventory_3pl/2026-11-26/r000002/report.html"),
    )
    .expect("report.html");
    assert!(
        html.contains("new 0, still open 1, closed today 2"),
        "{html}"
    );
    // `tallyman breaks` lists what is open; `show` tells an item's story with its runs.
    let o = tallyman(&h.root, &["breaks", "--pipeline", "inventory_3pl"]);
    let listed = both(&o);
    assert!(o.status.success(), "{listed}");
    // `breaks` folds the whole book again from the ledger: the book each run saved as it
    // folded it for its report is the same.
    assert_eq!(book(&h.root), kept);
    assert!(
        listed.contains(SKU2) && listed.contains(SKU7) && !listed.contains(SKU5),
        "{listed}"
    );
    let sku2 = id_of(&h.root, SKU2, "mismatched");
    let o = tallyman(&h.root, &["breaks", "show", &sku2]);
    let story = both(&o);
    for (date, run, what) in [
        ("2026-11-25", "r000001", "opened"),
        ("2026-11-26", "r000002", "resolved"),
        ("2026-11-27", "r000003", "reopened"),
    ] {
        assert!(
            story
                .lines()
                .any(|l| l.contains(date) && l.contains(run) && l.contains(what)),
            "{what} on {date}: {story}"
        );
    }
}

#[test]
fn people_acknowledge_and_close_items_with_their_names_and_nothing_is_deleted() {
    let h = demo_home();
    three_days(&h);
    let sku7 = id_of(&h.root, SKU7, "only_in_erp");
    let sku2 = id_of(&h.root, SKU2, "mismatched");
    let as_ana = |args: &[&str]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_tallyman"))
            .args(["--home", h.root.to_str().expect("utf-8")])
            .args(args)
            .env("TALLYMAN_ACTOR", "ana")
            .output()
            .expect("run");
        assert!(o.status.success(), "{}", both(&o));
    };
    as_ana(&["breaks", "ack", &sku7, "--note", "ERP count pending"]);
    as_ana(&[
        "breaks",
        "close",
        &sku2,
        "--as",
        "written_off",
        "--note",
        "shrinkage",
    ]);
    assert_eq!(
        sql(
            &h.root,
            "select i.item_key, a.decision, a.actor, a.note from open_item_actions a
             join open_items i on i.id = a.item_id order by a.id"
        ),
        format!("{SKU7}|acknowledged|ana|ERP count pending\n{SKU2}|written_off|ana|shrinkage")
    );
    // A closed item cannot be closed again; a missing note is refused.
    let o = tallyman(
        &h.root,
        &["breaks", "close", &sku2, "--as", "accepted", "--note", "x"],
    );
    assert!(
        !o.status.success() && both(&o).contains("written_off"),
        "{}",
        both(&o)
    );
    let o = tallyman(&h.root, &["breaks", "ack", &sku7, "--note", " "]);
    assert!(!o.status.success(), "{}", both(&o));
    // The next day: SKU-7 still missing, acknowledged: listed, not an exception; SKU-2 seen
    // with the amount written off stays closed.
    day(&h, "2026-11-28", [120, 70, 300, 45, 12, 500]);
    let d4 = report_json(&h.root, "2026-11-28", "r000004")["open_items"].clone();
    assert_eq!(d4["exceptions"], 0, "{d4}");
    // Nothing to alert on: `when = "problems"` queues no mail for that run (it did the day
    // before, with two exceptions).
    assert_eq!(
        sql(
            &h.root,
            "select run_id from mail_queue where run_id in ('r000003', 'r000004')"
        ),
        "r000003"
    );
    assert_eq!(
        d4["acknowledged"][0]["note"], "ana: ERP count pending",
        "{d4}"
    );
    assert_eq!(
        sql(
            &h.root,
            &format!("select state from open_items where id in ({sku7}, {sku2}) order by id")
        ),
        "written_off\nacknowledged"
    );
    let o = tallyman(&h.root, &["breaks", "--state", "written_off", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(rows[0]["note"], "ana: shrinkage", "{rows}");
    // Nothing deleted: every run's observations are still there.
    assert_eq!(
        sql(
            &h.root,
            "select count(distinct run_id) from open_item_observations"
        ),
        "4"
    );
}

/// The middle day rerun after its ERP extract was corrected (SKU-7 gone): with `--cascade` the
/// later day is redone too, and either way the book equals a from-scratch replay of every day
/// with the corrected extract.
#[test]
fn a_rerun_of_a_middle_day_gives_the_book_of_a_replay_from_scratch() {
    let corrected = |root: &Path| {
        let path = root.join(ERP).join("erp_onhand_2026-11-26.csv");
        let text = std::fs::read_to_string(&path).expect("extract");
        let kept: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with("SKU-00000007"))
            .collect();
        std::fs::write(&path, kept.join("\n") + "\n").expect("write");
    };
    // From scratch: the corrected extract is there before the 26th runs.
    let fresh = demo_home();
    let o = tallyman(&fresh.root, &["run"]);
    assert!(o.status.success(), "{}", both(&o));
    write_aged(
        &fresh.root.join(ERP).join("erp_onhand_2026-11-26.csv"),
        erp_for(&fresh.root, "2026-11-26"),
    );
    corrected(&fresh.root);
    write_aged(
        &fresh.root.join(DROP).join("stock_2026-11-26.csv"),
        snapshot("2026-11-26", [120, 80, 300, 45, 12, 500]),
    );
    assert!(tallyman(&fresh.root, &["run"]).status.success());
    day(&fresh, "2026-11-27", [120, 70, 300, 45, 12, 500]);
    let expected = book(&fresh.root);
    assert!(
        expected.contains(&format!(
            "{SKU7}|only_in_erp|open|2026-11-25|2026-11-27|2026-11-27"
        )),
        "{expected}"
    );

    for cascade in [false, true] {
        let h = demo_home();
        three_days(&h);
        corrected(&h.root);
        let mut args = vec![
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-26",
            "--reason",
            "extract corrected",
        ];
        if cascade {
            args.push("--cascade");
        }
        let o = tallyman(&h.root, &args);
        let out = both(&o);
        assert!(o.status.success(), "{out}");
        assert_eq!(book(&h.root), expected, "cascade {cascade}: {out}");
        let reruns = sql(
            &h.root,
            "select business_date from runs where trigger = 'rerun' order by seq",
        );
        if cascade {
            assert_eq!(reruns, "2026-11-26\n2026-11-27", "{out}");
        } else {
            assert_eq!(reruns, "2026-11-26", "{out}");
            assert!(
                out.contains("later business dates") && out.contains("2026-11-27"),
                "{out}"
            );
        }
    }
}

/// A crash after the run's end is recorded and before the book is saved: the next pass folds
/// the recorded observations and the book is the one an uninterrupted run gives.
#[test]
fn a_crash_before_the_book_is_saved_loses_nothing() {
    let calm = demo_home();
    assert!(tallyman(&calm.root, &["run"]).status.success());
    let h = demo_home();
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_tallyman"))
        .args(["--home", h.root.to_str().expect("utf-8"), "run"])
        .env("TALLYMAN_FAILPOINTS", "open-items")
        .output()
        .expect("run");
    assert!(!o.status.success(), "the failpoint aborts: {}", both(&o));
    assert_eq!(sql(&h.root, "select count(*) from open_items"), "0");
    assert_eq!(
        sql(&h.root, "select count(*) from open_item_observations"),
        "3"
    );
    assert!(tallyman(&h.root, &["run"]).status.success());
    assert_eq!(book(&h.root), book(&calm.root));
}

/// The file an output of the inventory pipeline wrote for `date` (its only one).
fn outbox_file(root: &Path, dest: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<_> = std::fs::read_dir(root.join("outbox").join(dest))
        .expect("outbox")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix))
        })
        .collect();
    found.sort();
    found
        .iter()
        .map(|p| std::fs::read_to_string(p).expect("read"))
        .collect()
}

/// The book is a table for SQL and outputs: each day's file holds the book as it stood before
/// that day's run, aged on that day; a rerun of a middle day writes what its first run wrote
/// (the later day is not its past).
#[test]
fn the_open_book_is_a_table_for_sql_and_outputs() {
    let h = demo_home();
    let path = h.root.join("pipelines/inventory_3pl.toml");
    let mut toml = std::fs::read_to_string(&path).expect("pipeline");
    toml.push_str(
        r#"
[[transforms]]
name = "open_book"
sql = """
SELECT item_key, kind, state, open_since, age_days, bucket, amount, currency
FROM open_items WHERE state IN ('open', 'acknowledged') ORDER BY item_key, kind
"""

[[outputs]]
table = "open_book"
destination = "finance"
name = "open_book_{date}_{run_id}.csv"
"#,
    );
    std::fs::write(&path, toml).expect("write pipeline");
    three_days(&h);
    let day = |d: &str| outbox_file(&h.root, "finance", &format!("open_book_{d}"));
    let header = "item_key,kind,state,open_since,age_days,bucket,amount,currency\n";
    assert_eq!(day("2026-11-25"), [header.to_string()]);
    let second = day("2026-11-26");
    assert_eq!(
        second,
        [format!(
            "{header}\"{SKU2}\",mismatched,open,2026-11-25,1,0-7,-3,\n\
             \"{SKU5}\",only_in_erp,open,2026-11-25,1,0-7,-12,\n\
             \"{SKU7}\",only_in_erp,open,2026-11-25,1,0-7,-10,\n"
        )]
    );
    assert_eq!(
        day("2026-11-27"),
        [format!(
            "{header}\"{SKU7}\",only_in_erp,open,2026-11-25,2,0-7,-10,\n"
        )]
    );
    let o = tallyman(
        &h.root,
        &[
            "rerun",
            "inventory_3pl",
            "--date",
            "2026-11-26",
            "--reason",
            "same",
        ],
    );
    let out = both(&o);
    assert!(o.status.success(), "{out}");
    // Its bytes equal the first run's: held as unchanged (`on_rerun = "changed"`).
    assert_eq!(day("2026-11-26"), second);
    assert!(
        out.lines()
            .any(|l| l.contains("open_book_2026-11-26") && l.contains("unchanged")),
        "{out}"
    );
}

/// `/metrics` counts the book's open items and their money by state and age bucket, aged today
/// in the pipeline's zone.
#[test]
fn metrics_expose_open_items_and_money_by_state_and_bucket() {
    let h = demo_home();
    three_days(&h);
    let sku7 = id_of(&h.root, SKU7, "only_in_erp");
    assert!(
        tallyman(&h.root, &["breaks", "ack", &sku7, "--note", "counting"])
            .status
            .success()
    );
    let d = daemon::serve(&h.root);
    d.passes_after("inventory_3pl", 0.0);
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::New_York)
        .date_naive();
    let bucket = |since: &str| {
        let age = (today - since.parse::<chrono::NaiveDate>().expect("date")).num_days();
        match age {
            ..=7 => "0-7",
            8..=14 => "8-14",
            15..=30 => "15-30",
            _ => "over 30",
        }
    };
    let samples = d.samples();
    let find = |name: &str, state: &str| -> Vec<(String, f64)> {
        samples
            .iter()
            .filter(|s| {
                s.name == name
                    && s.labels.get("pipeline").map(String::as_str) == Some("inventory_3pl")
                    && s.labels.get("state").map(String::as_str) == Some(state)
            })
            .map(|s| (s.labels["bucket"].clone(), s.value))
            .collect()
    };
    // SKU-2 reopened on the 27th (-10), SKU-7 open since the 25th and acknowledged (-10).
    assert_eq!(
        find("tallyman_open_items", "open"),
        [(bucket("2026-11-27").to_string(), 1.0)]
    );
    assert_eq!(
        find("tallyman_open_items", "acknowledged"),
        [(bucket("2026-11-25").to_string(), 1.0)]
    );
    assert_eq!(
        find("tallyman_open_items_amount", "open"),
        [(bucket("2026-11-27").to_string(), -10.0)]
    );
    assert!(find("tallyman_open_items", "resolved").is_empty());
    let (status, log) = d.stop();
    assert!(status.success(), "{log}");
}

/// After `tallyman demo`, `tallyman breaks` lists the demo's breaks as open items: the
/// inventory variances and the settlement's unpaid, short-paid and unknown orders.
#[test]
fn the_demo_leaves_its_breaks_as_open_items() {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = tallyman(dir.path(), &["demo"]);
    assert!(o.status.success(), "{}", both(&o));
    assert!(both(&o).contains("tallyman breaks"), "{}", both(&o));
    let o = tallyman(dir.path(), &["breaks", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let listed: Vec<String> = rows
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["pipeline"].as_str().unwrap_or(""),
                r["kind"].as_str().unwrap_or(""),
                r["state"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            "inventory_3pl mismatched open",
            "inventory_3pl only_in_erp open",
            "inventory_3pl only_in_erp open",
            "settlement_amazon_v2 no_order open",
            "settlement_amazon_v2 short_paid open",
            "settlement_amazon_v2 refunded open",
            "settlement_amazon_v2 unknown_order open",
            "settlement_amazon_v2 awaiting_settlement open",
        ]
    );
}
