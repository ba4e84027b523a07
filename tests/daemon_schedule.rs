//! Table tests for cron schedules: DST days in New York, catch-up after downtime, bad input.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::America::New_York;
use tallyman::config::schedule::{Schedule, ScheduleError};

const NY: &str = "America/New_York";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("bad test instant {s}: {e}"))
        .to_utc()
}

fn schedule(expr: &str, tz: &str) -> Schedule {
    Schedule::parse(expr, tz).unwrap_or_else(|e| panic!("{expr} in {tz}: {e}"))
}

/// Every fire in [from, to), by repeated next_after; panics if the sequence ever goes backwards.
fn fires(s: &Schedule, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut cursor = from - Duration::seconds(1);
    while let Some(next) = s.next_after(cursor) {
        assert!(next > cursor, "{}: {next} not after {cursor}", s.expr());
        if next >= to {
            break;
        }
        out.push(next);
        cursor = next;
    }
    out
}

/// Fires whose New York calendar date is `day`.
fn fires_on_local_day(s: &Schedule, day: NaiveDate) -> Vec<String> {
    let start = New_York
        .from_local_datetime(&day.and_hms_opt(0, 0, 0).expect("midnight"))
        .earliest()
        .expect("midnight exists in New York")
        .to_utc();
    fires(s, start - Duration::hours(1), start + Duration::hours(26))
        .into_iter()
        .filter(|t| t.with_timezone(&New_York).date_naive() == day)
        .map(|t| t.with_timezone(&New_York).to_rfc3339())
        .collect()
}

#[test]
fn fixed_time_jobs_fire_once_on_each_local_day_including_dst_days() {
    // (expression, local day, the fires expected on that day)
    let cases: &[(&str, &str, &[&str])] = &[
        ("30 2 * * *", "2026-03-07", &["2026-03-07T02:30:00-05:00"]),
        // 02:30 does not exist on the spring-forward day: run once, at 03:00 EDT.
        ("30 2 * * *", "2026-03-08", &["2026-03-08T03:00:00-04:00"]),
        ("30 2 * * *", "2026-03-09", &["2026-03-09T02:30:00-04:00"]),
        // 01:30 happens twice on the fall-back day: run once, at the first (EDT).
        ("30 1 * * *", "2026-11-01", &["2026-11-01T01:30:00-04:00"]),
        ("30 1 * * *", "2026-11-02", &["2026-11-02T01:30:00-05:00"]),
        ("30 2 * * *", "2026-11-01", &["2026-11-01T02:30:00-05:00"]),
        ("0 6 * * 1-5", "2026-03-08", &[]), // a Sunday
        ("0 6 * * 1-5", "2026-03-09", &["2026-03-09T06:00:00-04:00"]),
    ];
    for (expr, day, want) in cases {
        let day: NaiveDate = day.parse().expect("valid day");
        let got = fires_on_local_day(&schedule(expr, NY), day);
        assert_eq!(got, *want, "{expr} on {day}");
    }
}

#[test]
fn interval_jobs_keep_their_real_spacing_across_dst_changes() {
    // Across both transitions an interval job ticks at a steady real-time interval: the
    // spring-forward gap has no ticks to run and the fall-back fold runs both passes.
    let cases = [
        ("*/30 * * * *", 30, "2026-03-08T04:00:00Z", 96),
        ("*/30 * * * *", 30, "2026-11-01T03:00:00Z", 96),
        ("0 * * * *", 60, "2026-03-08T04:00:00Z", 48),
        ("0 * * * *", 60, "2026-11-01T03:00:00Z", 48),
    ];
    for (expr, minutes, from, hours) in cases {
        let s = schedule(expr, NY);
        let from = utc(from);
        let got = fires(&s, from, from + Duration::hours(hours));
        assert_eq!(got.len() as i64, hours * 60 / minutes, "{expr} from {from}");
        for pair in got.windows(2) {
            assert_eq!(
                pair[1] - pair[0],
                Duration::minutes(minutes),
                "{expr}: {pair:?}"
            );
        }
    }
}

#[test]
fn next_after_from_inside_the_fold_never_goes_back_in_time() {
    // (expression, after, expected next)
    let cases = [
        // 01:10 EST is the second pass; the EDT 01:30 already happened, so tomorrow is next.
        ("30 1 * * *", "2026-11-01T06:10:00Z", "2026-11-02T06:30:00Z"),
        ("30 1 * * *", "2026-11-01T05:29:00Z", "2026-11-01T05:30:00Z"),
        ("30 1 * * *", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"),
        (
            "*/30 * * * *",
            "2026-11-01T06:10:00Z",
            "2026-11-01T06:30:00Z",
        ),
        (
            "*/30 * * * *",
            "2026-11-01T05:45:00Z",
            "2026-11-01T06:00:00Z",
        ),
        ("30 2 * * *", "2026-03-08T06:59:00Z", "2026-03-08T07:00:00Z"),
        ("30 2 * * *", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"),
        ("0 0 29 2 *", "2026-01-01T00:00:00Z", "2028-02-29T05:00:00Z"),
    ];
    for (expr, after, want) in cases {
        let got = schedule(expr, NY).next_after(utc(after));
        assert_eq!(got, Some(utc(want)), "{expr} after {after}");
    }
}

#[test]
fn due_since_owes_only_the_most_recent_missed_fire() {
    // (expression, last run, now, owed)
    let cases: &[(&str, Option<&str>, &str, Option<&str>)] = &[
        ("0 6 * * *", None, "2026-03-10T12:00:00Z", None),
        (
            "0 6 * * *",
            Some("2026-03-09T10:00:00Z"),
            "2026-03-10T09:59:00Z",
            None,
        ),
        (
            "0 6 * * *",
            Some("2026-03-09T10:00:00Z"),
            "2026-03-10T10:00:00Z",
            Some("2026-03-10T10:00:00Z"),
        ),
        // Down for three days: one catch-up run for the latest window, not three.
        (
            "0 6 * * *",
            Some("2026-03-06T11:00:00Z"),
            "2026-03-09T12:00:00Z",
            Some("2026-03-09T10:00:00Z"),
        ),
        (
            "0 6 * * 1-5",
            Some("2026-03-06T11:00:00Z"),
            "2026-03-08T12:00:00Z",
            None,
        ),
        (
            "*/15 * * * *",
            Some("2026-01-01T00:00:00Z"),
            "2026-02-01T00:07:00Z",
            Some("2026-02-01T00:00:00Z"),
        ),
        // Fall-back day: the EDT 01:30 ran; at 01:45 EST nothing more is owed.
        (
            "30 1 * * *",
            Some("2026-11-01T05:30:00Z"),
            "2026-11-01T06:45:00Z",
            None,
        ),
        (
            "30 1 * * *",
            Some("2026-10-31T05:30:00Z"),
            "2026-11-01T06:45:00Z",
            Some("2026-11-01T05:30:00Z"),
        ),
        (
            "30 2 * * *",
            Some("2026-03-07T07:30:00Z"),
            "2026-03-08T08:00:00Z",
            Some("2026-03-08T07:00:00Z"),
        ),
        // A last run in the future (clock stepped back) owes nothing.
        (
            "0 6 * * *",
            Some("2026-03-11T10:00:00Z"),
            "2026-03-10T12:00:00Z",
            None,
        ),
    ];
    for (expr, last, now, want) in cases {
        let got = schedule(expr, NY).due_since(last.map(utc), utc(now));
        assert_eq!(got, want.map(utc), "{expr}, last {last:?}, now {now}");
    }
}

#[test]
fn other_zones_use_their_own_rules() {
    let cases = [
        (
            "30 1 * * *",
            "Europe/London",
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
        ),
        (
            "0 9 * * *",
            "Asia/Kolkata",
            "2026-06-01T00:00:00Z",
            "2026-06-01T03:30:00Z",
        ),
        (
            "0 0 * * *",
            "UTC",
            "2026-06-01T00:00:00Z",
            "2026-06-02T00:00:00Z",
        ),
    ];
    for (expr, tz, after, want) in cases {
        assert_eq!(
            schedule(expr, tz).next_after(utc(after)),
            Some(utc(want)),
            "{expr} {tz}"
        );
    }
}

#[test]
fn bad_expressions_and_zones_are_refused_with_a_reason() {
    let cases = [
        ("61 * * * *", NY, "Cron"),
        ("not a cron", NY, "Cron"),
        ("0 0 6 * * *", NY, "Cron"), // a seconds field
        ("", NY, "Cron"),
        ("0 6 * * *", "America/Nowhere", "TimeZone"),
        ("0 0 30 2 *", NY, "NeverFires"),
    ];
    for (expr, tz, want) in cases {
        match Schedule::parse(expr, tz) {
            Ok(_) => panic!("{expr:?} in {tz} was accepted"),
            Err(e) => {
                let kind = match &e {
                    ScheduleError::Cron { .. } => "Cron",
                    ScheduleError::TimeZone(_) => "TimeZone",
                    ScheduleError::NeverFires { .. } => "NeverFires",
                };
                assert_eq!(kind, want, "{expr:?} in {tz}: wrong error {e:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn accessors_report_what_was_parsed() {
    let s = schedule("0 6 * * mon-fri", NY);
    assert_eq!(s.expr(), "0 6 * * mon-fri");
    assert_eq!(s.time_zone(), New_York);
}

#[test]
fn extreme_instants_do_not_panic() {
    let s = schedule("0 6 * * *", NY);
    assert_eq!(s.next_after(DateTime::<Utc>::MAX_UTC), None);
    assert_eq!(
        s.due_since(Some(DateTime::<Utc>::MIN_UTC), DateTime::<Utc>::MIN_UTC),
        None
    );
    let now = utc("2026-03-10T12:00:00Z");
    assert_eq!(
        s.due_since(Some(DateTime::<Utc>::MIN_UTC), now),
        Some(utc("2026-03-10T10:00:00Z"))
    );
}
