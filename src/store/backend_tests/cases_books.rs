//! Cases of the books a run's end keeps (open items, orders) and of the console's questions,
//! on both backends: recorded with the run's end, read back in the order recorded, folded.

use std::str::FromStr;

use super::*;
use crate::engine::open_items::{Book, Decision, Identity, Observation, Policy, RunView};
use crate::store::open_items::ItemFilter;
use crate::store::orders::{OrderEvent, OrderState, OrdersRecord, ShippedLine};

/// A claimed file of `pipeline` and a run of it on `date`.
fn file_run(ledger: &mut Ledger, pipeline: &str, name: &str, date: &str) -> (i64, String) {
    let Claim::New { file_id, .. } = ledger
        .claim(
            pipeline,
            &landing(name, name, Some(date)),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    let run = ledger
        .start_run(
            pipeline,
            Some(date),
            Some(file_id),
            "2026-11-25T10:00:00.000Z",
            "file",
            None,
            None,
            None,
        )
        .expect("run");
    (file_id, run)
}

fn end(
    ledger: &Ledger,
    run: &str,
    issues: &[crate::issue::Issue],
    open: Option<(&str, &RunView)>,
    orders: Option<&OrdersRecord>,
) {
    ledger
        .finish_run(
            run,
            "2026-11-25T10:01:00.000Z",
            "succeeded",
            Some(3),
            None,
            issues,
            None,
            None,
            None,
            false,
            &[],
            None,
            open,
            orders,
            None,
        )
        .expect("finish");
}

fn observation(key: &str, amount: &str) -> Observation {
    Observation {
        identity: Identity {
            key: key.into(),
            kind: "missing".into(),
        },
        amount: Some(rust_decimal::Decimal::from_str(amount).expect("amount")),
        currency: Some("EUR".into()),
        source: format!("a.csv line {key}"),
    }
}

pub(super) fn open_items(ledger: &mut Ledger) {
    let (_, run) = file_run(ledger, "p", "a.csv", "2026-11-25");
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    // Keys in an order no sort would give: the book reads them as observed.
    let observed = vec![
        observation("k9", "1.50"),
        observation("k1", "-2"),
        observation("k5", "0.10"),
    ];
    let view = RunView {
        date,
        run: run.clone(),
        observed: observed.clone(),
        matched: ["k7".to_string()].into_iter().collect(),
    };
    let issues = [
        crate::issue::Issue::error("a.csv", "zeta", "first"),
        crate::issue::Issue::error("a.csv", "alpha", "second"),
    ];
    // Twice: a run's end redone records its observations once.
    end(ledger, &run, &issues, Some(("p", &view)), None);
    end(ledger, &run, &issues, Some(("p", &view)), None);
    let rules: Vec<String> = ledger
        .run_issues(&run, 10)
        .expect("issues")
        .into_iter()
        .map(|i| i.rule)
        .collect();
    assert_eq!(rules, ["zeta", "alpha"], "issues in the order recorded");

    let inputs = ledger.book_inputs("p").expect("inputs");
    let (views, actions) = ledger.open_item_history("p", None).expect("history");
    assert_eq!(views.len(), 1);
    assert_eq!(
        views[0].observed, observed,
        "observations in the order seen"
    );
    assert_eq!(views[0].matched.len(), 1);
    assert!(actions.is_empty());
    assert!(
        ledger.open_items_behind("p").expect("behind"),
        "never saved"
    );
    let book = Book::replay(&views, &actions, &Policy::default());
    ledger
        .save_open_items("p", &book, "2026-11-25T10:02:00.000Z", inputs)
        .expect("save");
    // Saved twice: ids stay.
    ledger
        .save_open_items("p", &book, "2026-11-25T10:02:00.000Z", inputs)
        .expect("save again");
    assert!(!ledger.open_items_behind("p").expect("behind"));
    let items = ledger.open_items(&ItemFilter::default()).expect("items");
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(
        items
            .iter()
            .map(|i| i.amount.as_deref())
            .collect::<Vec<_>>(),
        [Some("-2"), Some("0.10"), Some("1.50")],
        "by id: the book's order (by identity)"
    );
    let filtered = ledger
        .open_items(&ItemFilter {
            pipeline: Some("p".into()),
            state: Some(items[0].state.clone()),
            open_before: Some(date.succ_opt().expect("next day")),
        })
        .expect("filtered");
    assert_eq!(filtered.len(), 3);
    assert!(ledger
        .open_items(&ItemFilter {
            pipeline: Some("other".into()),
            ..ItemFilter::default()
        })
        .expect("none")
        .is_empty());
    let ids = ledger.open_item_ids("p").expect("ids");
    let k1 = ids[&observed[1].identity];
    assert_eq!(
        ledger.open_item(k1).expect("item").expect("there").key,
        "k1"
    );
    ledger
        .record_open_item_action(
            k1,
            &Decision::WriteOff,
            "ana",
            "small",
            chrono::Utc::now(),
            date,
        )
        .expect("action");
    let (_, actions) = ledger.open_item_history("p", None).expect("history");
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].actor, "ana");
    assert!(
        ledger.open_items_behind("p").expect("behind"),
        "an action came"
    );
    let mut keys = ledger.open_item_keys("p").expect("keys");
    keys.sort();
    assert_eq!(keys, ["k1", "k5", "k9"]);
    assert_eq!(ledger.latest_book_date("p").expect("latest"), Some(date));
    assert_eq!(ledger.latest_book_date("q").expect("none"), None);
    assert!(ledger
        .later_business_dates("p", date.pred_opt().expect("day before"))
        .expect("later")
        .contains(&date));
    // Leaving out the file the run came from, nothing counts.
    let (views, _) = ledger
        .open_item_history(
            "p",
            Some(
                ledger.runs(&RunFilter::default()).expect("runs")[0]
                    .file_id
                    .expect("file"),
            ),
        )
        .expect("history");
    assert!(views.is_empty());
}

fn event(id: &str, event: &'static str, hash: &str, version: u32) -> OrderEvent {
    OrderEvent {
        order_id: id.into(),
        event,
        content_hash: Some(hash.into()),
        version,
        line: Some(2),
        detail: None,
        content: Some(r#"{"lines":[{"sku":"S1","quantity":"3","unit_price":"2.50"}]}"#.into()),
    }
}

pub(super) fn orders(ledger: &mut Ledger) {
    let (file_id, run) = file_run(ledger, "orders", "o.csv", "2026-11-25");
    let record = OrdersRecord {
        channel: "acme".into(),
        pipeline: "orders".into(),
        run_id: run.clone(),
        file_id,
        file_name: "o.csv".into(),
        at: "2026-11-25T10:00:00+00:00".into(),
        events: vec![
            event("PO-1", "new", "h1", 1),
            event("PO-2", "new", "h2", 1),
            event("PO-1", "released", "h1", 1),
        ],
        shipped: Vec::new(),
    };
    end(ledger, &run, &[], None, Some(&record));
    // Redone: recorded once.
    end(ledger, &run, &[], None, Some(&record));
    let all = ledger.orders(None).expect("orders");
    assert_eq!(all.len(), 2);
    let released = ledger.orders(Some(OrderState::Released)).expect("released");
    assert_eq!(
        released
            .iter()
            .map(|o| o.order_id.as_str())
            .collect::<Vec<_>>(),
        ["PO-1"]
    );
    assert_eq!(
        ledger.order_timeline("PO-1", None).expect("timeline").len(),
        2
    );
    assert_eq!(
        ledger
            .order_timeline("PO-1", Some("other"))
            .expect("none")
            .len(),
        0
    );
    let known = ledger
        .known_orders("acme", &["PO-1", "PO-3"], file_id + 100)
        .expect("known");
    assert_eq!(known["PO-1"].accepted.as_deref(), Some("h1"));
    assert_eq!(known["PO-3"].accepted, None);
    let own = ledger
        .known_orders("acme", &["PO-1"], file_id)
        .expect("known");
    assert_eq!(own["PO-1"].accepted, None, "a rerun does not meet itself");
    let states = ledger
        .order_states("acme", &["PO-1", "PO-2", "PO-9"])
        .expect("states");
    assert_eq!(states.len(), 2);
    assert_eq!(states["PO-2"], OrderState::Received);

    // A shipment of PO-1, from another file.
    let (ship_file, ship_run) = file_run(ledger, "ship", "s.csv", "2026-11-26");
    let shipment = OrdersRecord {
        channel: "acme".into(),
        pipeline: "ship".into(),
        run_id: ship_run.clone(),
        file_id: ship_file,
        file_name: "s.csv".into(),
        at: "2026-11-26T10:00:00+00:00".into(),
        events: vec![OrderEvent {
            content: None,
            ..event("PO-1", "partly_shipped", "h1", 1)
        }],
        shipped: vec![ShippedLine {
            order_id: "PO-1".into(),
            sku: "S1".into(),
            quantity: "2".into(),
            line: 2,
        }],
    };
    end(ledger, &ship_run, &[], None, Some(&shipment));
    let ordered = ledger
        .ordered("acme", &["PO-1", "PO-9"], ship_file + 100)
        .expect("ordered");
    let po1 = &ordered["PO-1"];
    assert_eq!(po1.lines["S1"].to_string(), "3");
    assert_eq!(po1.shipped_before["S1"].to_string(), "2");
    assert!(!ordered.contains_key("PO-9"));
    assert!(ledger
        .ordered("acme", &["PO-1"], ship_file)
        .expect("ordered")["PO-1"]
        .shipped_before
        .is_empty());
    let allowances = [("received".to_string(), 3600u64)].into_iter().collect();
    let stuck = ledger
        .stuck_orders(
            "acme",
            &allowances,
            chrono::DateTime::parse_from_rfc3339("2026-11-25T12:00:01+00:00")
                .expect("now")
                .to_utc(),
        )
        .expect("stuck");
    assert_eq!(
        stuck
            .iter()
            .map(|s| (s.order_id.as_str(), s.hours))
            .collect::<Vec<_>>(),
        [("PO-2", 2)]
    );
    assert!(ledger
        .settlement_refunds("acme", &["PO-1"])
        .expect("refunds")
        .is_empty());
}

pub(super) fn console(ledger: &mut Ledger) {
    use crate::store::console::NewAction;
    let (_, run) = file_run(ledger, "p", "found_me.csv", "2026-11-25");
    end(ledger, &run, &[], None, None);
    assert!(ledger
        .pause_pipeline("p", "ana", Some("outage"), "t1")
        .expect("pause"));
    assert!(!ledger
        .pause_pipeline("p", "bob", None, "t2")
        .expect("again"));
    assert_eq!(ledger.paused_pipelines().expect("paused")[0].actor, "ana");
    assert!(ledger.resume_pipeline("p").expect("resume"));
    assert!(!ledger.resume_pipeline("p").expect("not paused"));
    let action = |target| NewAction {
        at: "t3",
        actor: "ana",
        action: "rerun",
        pipeline: Some("p"),
        target: Some(target),
        reason: None,
    };
    let first = ledger.record_console_action(&action("a")).expect("record");
    let second = ledger.record_console_action(&action("b")).expect("record");
    assert!(second > first);
    ledger
        .console_action_outcome(first, "done")
        .expect("outcome");
    let actions = ledger.console_actions(10).expect("actions");
    assert_eq!(
        actions.iter().map(|a| a.id).collect::<Vec<_>>(),
        [second, first]
    );
    assert_eq!(actions[1].outcome.as_deref(), Some("done"));
    assert_eq!(ledger.console_actions(1).expect("one").len(), 1);
    assert_eq!(
        ledger
            .run_by_id(&run)
            .expect("run")
            .expect("there")
            .file
            .as_deref(),
        Some("found_me.csv")
    );
    assert!(ledger.run_by_id("nope").expect("none").is_none());
    assert_eq!(ledger.rerun_of(&run).expect("rerun of"), None);
    assert_eq!(ledger.runs_with_prefix(&run[..3]).expect("prefix").len(), 1);
    assert!(ledger.runs_with_prefix("%").expect("literal").is_empty());
    let found = ledger.find_files("found_").expect("found");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].run_id.as_deref(), Some(run.as_str()));
    assert!(ledger.find_files("found%").expect("literal").is_empty());
    assert!(ledger
        .undelivered_by_pipeline()
        .expect("undelivered")
        .is_empty());
}
