//! Table tests for expected-file windows: config compile, deadlines on DST days, weekends, one alert per window.

use chrono::{DateTime, NaiveDate, Utc};
use tallyman::config::expected::{Expected, ExpectedError, ExpectedRaw};
use tallyman::daemon::expected::{AlertBook, Arrival, Window, WindowKey, WindowState};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad test instant {s}: {e}"))
        .to_utc()
}

fn date(s: &str) -> NaiveDate {
    s.parse()
        .unwrap_or_else(|e| panic!("bad test date {s}: {e}"))
}

fn compile(toml_text: &str) -> Result<Expected, Vec<ExpectedError>> {
    let raw: ExpectedRaw = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"));
    raw.compile()
}

fn expected(by: &str, days: &str) -> Expected {
    let text = format!("by = \"{by}\"\ntime_zone = \"America/New_York\"\ndays = {days}\n");
    compile(&text).unwrap_or_else(|e| panic!("{text}: {e:?}"))
}

fn dates(windows: &[Window]) -> Vec<String> {
    windows.iter().map(|w| w.date.to_string()).collect()
}

#[test]
fn compile_collects_every_error_with_its_key() {
    // (toml, keys of the expected errors; empty = valid)
    let cases: &[(&str, &[&str])] = &[
        ("by = \"06:00\"\ntime_zone = \"America/New_York\"", &[]),
        (
            "by = \"06:00\"\ntime_zone = \"UTC\"\ndays = [\"Mon\", \"wednesday\"]",
            &[],
        ),
        (
            "by = \"6 am\"\ntime_zone = \"America/New_York\"",
            &["expected.by"],
        ),
        (
            "by = \"25:00\"\ntime_zone = \"Mars/Olympus\"",
            &["expected.by", "expected.time_zone"],
        ),
        (
            "by = \"x\"\ntime_zone = \"Nowhere\"\ndays = \"fortnightly\"",
            &["expected.by", "expected.time_zone", "expected.days"],
        ),
        (
            "by = \"06:00\"\ntime_zone = \"UTC\"\ndays = [\"mon\", \"funday\", \"sat\", \"x\"]",
            &["expected.days[1]", "expected.days[3]"],
        ),
        (
            "by = \"06:00\"\ntime_zone = \"UTC\"\ndays = []",
            &["expected.days"],
        ),
    ];
    for (text, want) in cases {
        let keys: Vec<String> = match compile(text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .iter()
                .map(|e| match e {
                    ExpectedError::By { key, .. }
                    | ExpectedError::TimeZone { key, .. }
                    | ExpectedError::Days { key, .. }
                    | ExpectedError::NoDays { key } => key.clone(),
                })
                .collect(),
        };
        assert_eq!(keys, *want, "{text}");
    }
}

#[test]
fn unknown_fields_are_refused() {
    let text = "by = \"06:00\"\ntime_zone = \"UTC\"\ngrace = \"1h\"";
    let err = toml::from_str::<ExpectedRaw>(text).expect_err("unknown field accepted");
    assert!(err.to_string().contains("grace"), "{err}");
}

#[test]
fn deadlines_follow_due_days_and_dst() {
    // (by, days, business date, deadline or none)
    let cases: &[(&str, &str, &str, Option<&str>)] = &[
        (
            "06:00",
            "\"daily\"",
            "2026-03-07",
            Some("2026-03-07T11:00:00Z"),
        ),
        (
            "06:00",
            "\"daily\"",
            "2026-03-08",
            Some("2026-03-08T10:00:00Z"),
        ),
        ("06:00", "\"weekdays\"", "2026-03-08", None), // Sunday
        (
            "06:00",
            "\"weekdays\"",
            "2026-03-09",
            Some("2026-03-09T10:00:00Z"),
        ),
        ("06:00", "\"weekends\"", "2026-03-09", None),
        (
            "06:00",
            "[\"sun\"]",
            "2026-03-08",
            Some("2026-03-08T10:00:00Z"),
        ),
        // 02:30 does not exist on 2026-03-08: the deadline is when the clock jumps, 03:00 EDT.
        (
            "02:30",
            "\"daily\"",
            "2026-03-08",
            Some("2026-03-08T07:00:00Z"),
        ),
        // 01:30 happens twice on 2026-11-01: the deadline is the later one, 01:30 EST.
        (
            "01:30",
            "\"daily\"",
            "2026-11-01",
            Some("2026-11-01T06:30:00Z"),
        ),
        (
            "06:00",
            "\"daily\"",
            "2026-11-01",
            Some("2026-11-01T11:00:00Z"),
        ),
    ];
    for (by, days, day, want) in cases {
        let got = expected(by, days).deadline(date(day));
        assert_eq!(got, want.map(utc), "{by} {days} on {day}");
    }
}

#[test]
fn late_windows_by_business_date() {
    let weekdays = expected("06:00", "\"weekdays\"");
    let daily = expected("06:00", "\"daily\"");
    let from = utc("2026-03-05T12:00:00Z"); // Thursday after its deadline
                                            // (schedule, arrivals as business dates, now, late dates)
    let cases: &[(&Expected, &[&str], &str, &[&str])] = &[
        // Friday arrived; weekend has no windows; Monday 06:00 EDT has not passed yet.
        (&weekdays, &["2026-03-06"], "2026-03-09T09:59:00Z", &[]),
        (
            &weekdays,
            &["2026-03-06"],
            "2026-03-09T10:00:00Z",
            &["2026-03-09"],
        ),
        (
            &weekdays,
            &[],
            "2026-03-09T10:00:00Z",
            &["2026-03-06", "2026-03-09"],
        ),
        (
            &daily,
            &["2026-03-06"],
            "2026-03-09T10:00:00Z",
            &["2026-03-07", "2026-03-08", "2026-03-09"],
        ),
        // A file for Monday that arrived late still clears Monday.
        (
            &weekdays,
            &["2026-03-06", "2026-03-09"],
            "2026-03-09T15:00:00Z",
            &[],
        ),
    ];
    for (expected, arrivals, now, want) in cases {
        let arrivals: Vec<Arrival> = arrivals
            .iter()
            .map(|d| Arrival::BusinessDate(date(d)))
            .collect();
        let late = expected.late(from, utc(now), &arrivals);
        assert_eq!(dates(&late), *want, "arrivals {arrivals:?}, now {now}");
        assert!(late.iter().all(|w| w.state == WindowState::Late));
    }
}

#[test]
fn arrival_instants_count_for_the_next_deadline_at_or_after_them() {
    let daily = expected("06:00", "\"daily\"");
    let from = utc("2026-03-06T12:00:00Z");
    let now = utc("2026-03-09T12:00:00Z");
    // (arrival instants, received dates) over Sat 03-07 .. Mon 03-09 (deadlines 11Z, 10Z, 10Z)
    let cases: &[(&[&str], &[&str])] = &[
        (&["2026-03-07T10:59:00Z"], &["2026-03-07"]),
        (&["2026-03-07T11:00:00Z"], &["2026-03-07"]),
        (&["2026-03-07T11:00:01Z"], &["2026-03-08"]), // late for Saturday: counts for Sunday
        (
            &["2026-03-07T23:00:00Z", "2026-03-09T09:00:00Z"],
            &["2026-03-08", "2026-03-09"],
        ),
    ];
    for (instants, want) in cases {
        let arrivals: Vec<Arrival> = instants.iter().map(|t| Arrival::At(utc(t))).collect();
        let windows = daily.windows(from, now, &arrivals);
        assert_eq!(dates(&windows), ["2026-03-07", "2026-03-08", "2026-03-09"]);
        let received: Vec<String> = windows
            .iter()
            .filter(|w| w.state == WindowState::Received)
            .map(|w| w.date.to_string())
            .collect();
        assert_eq!(received, *want, "{instants:?}");
    }
}

#[test]
fn each_late_window_raises_exactly_one_alert() {
    let weekdays = expected("06:00", "\"weekdays\"");
    let from = utc("2026-03-05T12:00:00Z");
    let mut book = AlertBook::new();
    // Checks every 30 minutes over Friday to Tuesday: each missing weekday alerts once, at the
    // first check after its deadline; weekends never alert.
    let mut alerts: Vec<(String, String)> = Vec::new();
    let mut now = from;
    while now <= utc("2026-03-10T20:00:00Z") {
        let late = weekdays.late(from, now, &[Arrival::BusinessDate(date("2026-03-09"))]);
        for w in book.raise("acme_945", &late) {
            alerts.push((w.date.to_string(), now.to_rfc3339()));
        }
        now += chrono::Duration::minutes(30);
    }
    assert_eq!(
        alerts,
        [
            (
                "2026-03-06".to_string(),
                "2026-03-06T11:00:00+00:00".to_string()
            ),
            (
                "2026-03-10".to_string(),
                "2026-03-10T10:00:00+00:00".to_string()
            ),
        ]
    );
    // Another pipeline's window of the same date is a different key.
    let late = weekdays.late(from, utc("2026-03-06T12:00:00Z"), &[]);
    assert_eq!(dates(&book.raise("other", &late)), ["2026-03-06"]);
    // A restored book does not re-alert; forgetting old keys does.
    let keys: Vec<WindowKey> = book.raised().cloned().collect();
    let mut restored = AlertBook::with_raised(keys);
    assert!(restored.raise("acme_945", &late).is_empty());
    assert!(restored.is_raised(&WindowKey {
        pipeline: "acme_945".into(),
        date: date("2026-03-06")
    }));
    restored.forget_before(date("2026-03-07"));
    assert_eq!(dates(&restored.raise("acme_945", &late)), ["2026-03-06"]);
    assert_eq!(
        WindowKey {
            pipeline: "acme_945".into(),
            date: date("2026-03-06")
        }
        .to_string(),
        "acme_945/2026-03-06"
    );
}

#[test]
fn received_windows_never_raise() {
    let daily = expected("06:00", "\"daily\"");
    let arrivals = [Arrival::BusinessDate(date("2026-03-07"))];
    let windows = daily.windows(
        utc("2026-03-06T12:00:00Z"),
        utc("2026-03-08T12:00:00Z"),
        &arrivals,
    );
    assert_eq!(windows.len(), 2);
    let mut book = AlertBook::new();
    assert_eq!(dates(&book.raise("p", &windows)), ["2026-03-08"]);
    assert_eq!(book.raised().count(), 1);
}

#[test]
fn next_deadline_skips_days_that_are_not_due() {
    let weekdays = expected("06:00", "\"weekdays\"");
    let cases = [
        ("2026-03-06T10:59:00Z", "2026-03-06", "2026-03-06T11:00:00Z"),
        ("2026-03-06T11:00:00Z", "2026-03-09", "2026-03-09T10:00:00Z"),
    ];
    for (after, day, deadline) in cases {
        assert_eq!(
            weekdays.next_deadline(utc(after)),
            Some((date(day), utc(deadline))),
            "after {after}"
        );
    }
}

#[test]
fn lookback_is_bounded_and_extremes_do_not_panic() {
    let daily = expected("06:00", "\"daily\"");
    let now = utc("2026-03-10T12:00:00Z");
    let late = daily.late(DateTime::<Utc>::MIN_UTC, now, &[]);
    assert_eq!(late.len(), 366, "one year of daily windows at most");
    assert_eq!(late.last().map(|w| w.date), Some(date("2026-03-10")));
    assert!(daily.late(now, DateTime::<Utc>::MIN_UTC, &[]).is_empty());
    assert_eq!(daily.next_deadline(DateTime::<Utc>::MAX_UTC), None);
}
