//! The open-item book's lifecycle on small multi-day scenarios written as text.

use super::*;
use std::str::FromStr;

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn id(key: &str, kind: &str) -> Identity {
    Identity {
        key: key.into(),
        kind: kind.into(),
    }
}

/// A run on `date` seeing `breaks` ("key kind amount", `;` between) and `matched` keys.
fn run(date: &str, n: usize, breaks: &str, matched: &[&str]) -> RunView {
    RunView {
        date: d(date),
        run: format!("r{n:06}"),
        observed: breaks
            .split(';')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| {
                let parts: Vec<&str> = b.split_whitespace().collect();
                Observation {
                    identity: id(parts[0], parts[1]),
                    amount: parts.get(2).map(|a| Decimal::from_str(a).expect("amount")),
                    currency: Some("USD".into()),
                    source: format!("file_{date}.csv:{}", n + 1),
                }
            })
            .collect(),
        matched: matched.iter().map(|k| k.to_string()).collect(),
    }
}

fn states(book: &Book) -> Vec<String> {
    book.items
        .values()
        .map(|i| {
            format!(
                "{} {} {}",
                i.identity.key,
                i.identity.kind,
                i.state.as_str()
            )
        })
        .collect()
}

fn action(key: &str, kind: &str, decision: Decision, after: &str) -> Action {
    Action {
        identity: id(key, kind),
        decision,
        actor: "ana".into(),
        note: "on it".into(),
        at: DateTime::parse_from_rfc3339(&format!("{after}T12:00:00Z"))
            .expect("time")
            .with_timezone(&Utc),
        after: d(after),
    }
}

#[test]
fn items_open_carry_close_and_reopen_with_their_history() {
    let policy = Policy::default();
    let mut book = Book::default();
    let c = book.apply_run(
        &run("2026-11-23", 1, "A mismatched 5; B only_in_erp -2", &[]),
        &policy,
    );
    assert_eq!(c.opened.len(), 2);
    let c = book.apply_run(&run("2026-11-24", 2, "A mismatched 7", &[]), &policy);
    assert_eq!(c.still_open, vec![id("A", "mismatched")]);
    assert_eq!(c.closed, vec![id("B", "only_in_erp")]);
    assert_eq!(
        states(&book),
        ["A mismatched open", "B only_in_erp resolved"]
    );
    let a = &book.items[&id("A", "mismatched")];
    assert_eq!(
        (a.first_seen, a.last_seen),
        (d("2026-11-23"), d("2026-11-24"))
    );
    assert_eq!(a.amount, Some(Decimal::from(7)));
    let c = book.apply_run(
        &run("2026-11-25", 3, "A mismatched 7; B only_in_erp -2", &[]),
        &policy,
    );
    assert_eq!(c.reopened, vec![id("B", "only_in_erp")]);
    let b = &book.items[&id("B", "only_in_erp")];
    let timeline: Vec<&str> = b.events.iter().map(|e| e.happened.label()).collect();
    assert_eq!(timeline, ["opened", "resolved", "reopened"]);
    assert_eq!(
        (b.first_seen, b.open_since),
        (d("2026-11-23"), d("2026-11-25"))
    );
}

#[test]
fn acknowledged_items_stay_listed_and_closed_ones_stay_closed_unless_they_change() {
    let policy = Policy::default();
    let mut book = Book::default();
    book.apply_run(
        &run("2026-11-23", 1, "A mismatched 5; B mismatched 1", &[]),
        &policy,
    );
    book.decide(&action(
        "A",
        "mismatched",
        Decision::Acknowledge,
        "2026-11-23",
    ))
    .expect("ack");
    book.decide(&action("B", "mismatched", Decision::WriteOff, "2026-11-23"))
        .expect("write off");
    assert!(!book.items[&id("A", "mismatched")].alerts(&policy, d("2026-11-24")));
    assert_eq!(
        book.items[&id("A", "mismatched")].decision(),
        Some(("ana", "on it"))
    );
    // B seen again with the amount written off: stays closed; with another amount: reopens.
    book.apply_run(
        &run("2026-11-24", 2, "A mismatched 5; B mismatched 1", &[]),
        &policy,
    );
    assert_eq!(
        states(&book),
        ["A mismatched acknowledged", "B mismatched written_off"]
    );
    let c = book.apply_run(
        &run("2026-11-25", 3, "A mismatched 5; B mismatched 3", &[]),
        &policy,
    );
    assert_eq!(c.reopened, vec![id("B", "mismatched")]);
    // A closed item cannot be acknowledged; an unknown one neither.
    book.apply_run(&run("2026-11-26", 4, "B mismatched 3", &[]), &policy);
    assert!(matches!(
        book.decide(&action("A", "mismatched", Decision::Accept, "2026-11-26")),
        Err(ActionError::Closed {
            state: "resolved",
            ..
        })
    ));
    assert!(matches!(
        book.decide(&action("Z", "mismatched", Decision::Accept, "2026-11-26")),
        Err(ActionError::Unknown { .. })
    ));
}

#[test]
fn a_lagging_kind_is_carried_within_grace_then_alerts() {
    let mut policy = Policy {
        closes: Closes::WhenMatched,
        ..Policy::default()
    };
    policy
        .grace
        .insert("awaiting_settlement".into(), Grace::BusinessDays(2));
    let mut book = Book::default();
    // Friday: two orders await settlement, one is short paid.
    book.apply_run(
        &run(
            "2026-11-20",
            1,
            "O1 awaiting_settlement 10; O2 awaiting_settlement 20; O3 short_paid -1",
            &[],
        ),
        &policy,
    );
    let o1 = id("O1", "awaiting_settlement");
    assert!(book.items[&o1].within_grace(&policy, d("2026-11-23")));
    assert!(
        !book.items[&o1].alerts(&policy, d("2026-11-24")),
        "Tuesday: 2 business days"
    );
    assert!(
        book.items[&o1].alerts(&policy, d("2026-11-25")),
        "Wednesday: 3"
    );
    assert!(book.items[&id("O3", "short_paid")].alerts(&policy, d("2026-11-20")));
    // Monday's settlement pays O1; O2 is not in it (a partial view): only O1 closes.
    let c = book.apply_run(&run("2026-11-23", 2, "", &["O1"]), &policy);
    assert_eq!(c.closed, vec![o1]);
    assert_eq!(
        states(&book),
        [
            "O1 awaiting_settlement resolved",
            "O2 awaiting_settlement open",
            "O3 short_paid open"
        ]
    );
}

#[test]
fn grace_and_buckets_parse_and_count() {
    assert_eq!(Grace::parse("3d"), Some(Grace::Days(3)));
    assert_eq!(Grace::parse("2bd"), Some(Grace::BusinessDays(2)));
    assert_eq!(Grace::parse("2 weeks"), None);
    // Friday to Monday: one business day.
    assert_eq!(business_days(d("2026-11-20"), d("2026-11-23")), 1);
    let policy = Policy::default();
    assert_eq!(policy.bucket_names(), ["0-7", "8-14", "15-30", "over 30"]);
    for (age, bucket) in [
        (0, 0),
        (7, 0),
        (8, 1),
        (14, 1),
        (15, 2),
        (30, 2),
        (31, 3),
        (400, 3),
    ] {
        assert_eq!(policy.bucket(age), bucket, "{age}");
    }
}

#[test]
fn aging_totals_open_items_per_bucket_and_currency() {
    let policy = Policy::default();
    let mut book = Book::default();
    book.apply_run(
        &run("2026-11-01", 1, "A mismatched 5.10; B mismatched 1.05", &[]),
        &policy,
    );
    book.apply_run(
        &run("2026-11-20", 2, "A mismatched 5.10; C mismatched 2", &[]),
        &policy,
    );
    let aging = book.aging(&policy, d("2026-11-25"));
    let shown: Vec<(String, usize, String)> = aging
        .iter()
        .map(|b| (b.name.clone(), b.count, format!("{:?}", b.amounts)))
        .collect();
    assert_eq!(
        shown,
        [
            ("0-7".to_string(), 1, "{\"USD\": 2}".to_string()),
            ("8-14".to_string(), 0, "{}".to_string()),
            ("15-30".to_string(), 1, "{\"USD\": 5.10}".to_string()),
            ("over 30".to_string(), 0, "{}".to_string()),
        ]
    );
}

/// Kept day by day, or replayed from scratch with the actions in their places: the same book.
/// A rerun replacing a middle day's view and replaying gives what a fresh replay gives.
#[test]
fn replay_equals_the_book_kept_day_by_day() {
    let policy = Policy::default();
    let runs = vec![
        run("2026-11-23", 1, "A mismatched 5; B only_in_erp -2", &[]),
        run("2026-11-24", 2, "A mismatched 5", &[]),
        run("2026-11-25", 3, "A mismatched 6; C mismatched 1", &[]),
    ];
    let actions = vec![action(
        "A",
        "mismatched",
        Decision::Acknowledge,
        "2026-11-24",
    )];
    let mut kept = Book::default();
    kept.apply_run(&runs[0], &policy);
    kept.apply_run(&runs[1], &policy);
    kept.decide(&actions[0]).expect("ack");
    kept.apply_run(&runs[2], &policy);
    assert_eq!(Book::replay(&runs, &actions, &policy), kept);
    // A rerun of the 24th now shows B too.
    let mut rerun = runs.clone();
    rerun[1] = run("2026-11-24", 4, "A mismatched 5; B only_in_erp -2", &[]);
    let replayed = Book::replay(&rerun, &actions, &policy);
    assert_eq!(
        states(&replayed),
        [
            "A mismatched acknowledged",
            "B only_in_erp resolved",
            "C mismatched open"
        ]
    );
    let b = &replayed.items[&id("B", "only_in_erp")];
    assert_eq!(b.last_seen, d("2026-11-24"));
}
