//! `expected = { by, time_zone, days }`: when a partner's file is due. Raw serde type, the
//! validated `Expected` and its deadlines (pure computations on the type). Which windows are
//! late, and the alert book, are the daemon's (src/daemon/expected.rs).
//!
//! A window is one business date on a due day; its deadline is `by` on that date in the
//! pipeline's zone. If `by` falls in a spring-forward gap the deadline is the first instant
//! after the gap (the clock jumped past `by` then); if it falls in a fall-back fold the deadline
//! is the later of the two instants, so no alert fires while the partner's clock can still read
//! a time before `by`.

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// As written in a pipeline file, e.g. `expected = { by = "06:00", time_zone = "America/New_York", days = "weekdays" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedRaw {
    pub by: String,
    pub time_zone: String,
    #[serde(default)]
    pub days: DaysRaw,
}

/// `"daily"`, `"weekdays"`, `"weekends"`, or a list such as `["mon", "wed"]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DaysRaw {
    Named(String),
    List(Vec<String>),
}

impl Default for DaysRaw {
    fn default() -> Self {
        DaysRaw::Named("daily".to_string())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpectedError {
    #[error("{key}: {value:?} is not a time of day written HH:MM")]
    By { key: String, value: String },
    #[error("{key}: unknown time zone {value:?} (use an IANA name such as \"America/New_York\")")]
    TimeZone { key: String, value: String },
    #[error(
        "{key}: {value:?} is not \"daily\", \"weekdays\", \"weekends\" or a day such as \"mon\""
    )]
    Days { key: String, value: String },
    #[error("{key}: the list of days is empty")]
    NoDays { key: String },
}

/// A validated due time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    by: NaiveTime,
    tz: Tz,
    /// Indexed by `Weekday::num_days_from_monday`.
    days: [bool; 7],
}

impl ExpectedRaw {
    /// Validates every field, reporting all problems at once.
    pub fn compile(&self) -> Result<Expected, Vec<ExpectedError>> {
        let mut errors = Vec::new();
        let by = NaiveTime::parse_from_str(self.by.trim(), "%H:%M")
            .map_err(|_| {
                errors.push(ExpectedError::By {
                    key: "expected.by".into(),
                    value: self.by.clone(),
                })
            })
            .ok();
        let tz = self
            .time_zone
            .parse::<Tz>()
            .map_err(|_| {
                errors.push(ExpectedError::TimeZone {
                    key: "expected.time_zone".into(),
                    value: self.time_zone.clone(),
                })
            })
            .ok();
        let days = compile_days(&self.days, &mut errors);
        match (by, tz, days) {
            (Some(by), Some(tz), Some(days)) if errors.is_empty() => Ok(Expected { by, tz, days }),
            _ => Err(errors),
        }
    }
}

fn compile_days(raw: &DaysRaw, errors: &mut Vec<ExpectedError>) -> Option<[bool; 7]> {
    let key = "expected.days";
    let mut days = [false; 7];
    match raw {
        DaysRaw::Named(name) => match name.trim().to_ascii_lowercase().as_str() {
            "daily" => days = [true; 7],
            "weekdays" => days = [true, true, true, true, true, false, false],
            "weekends" => days = [false, false, false, false, false, true, true],
            other => match other.parse::<Weekday>() {
                Ok(day) => days[day.num_days_from_monday() as usize] = true,
                Err(_) => errors.push(ExpectedError::Days {
                    key: key.into(),
                    value: name.clone(),
                }),
            },
        },
        DaysRaw::List(list) => {
            if list.is_empty() {
                errors.push(ExpectedError::NoDays { key: key.into() });
            }
            for (i, name) in list.iter().enumerate() {
                // chrono accepts "mon" and "monday" in any case.
                match name.trim().parse::<Weekday>() {
                    Ok(day) => days[day.num_days_from_monday() as usize] = true,
                    Err(_) => errors.push(ExpectedError::Days {
                        key: format!("{key}[{i}]"),
                        value: name.clone(),
                    }),
                }
            }
        }
    }
    days.contains(&true).then_some(days)
}

impl Expected {
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    pub fn is_due_on(&self, date: NaiveDate) -> bool {
        self.days
            .get(date.weekday().num_days_from_monday() as usize)
            .copied()
            .unwrap_or(false)
    }

    /// The deadline of the window for `date`, or `None` when nothing is due that day.
    pub fn deadline(&self, date: NaiveDate) -> Option<DateTime<Utc>> {
        if !self.is_due_on(date) {
            return None;
        }
        let local = date.and_time(self.by);
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.to_utc()),
            LocalResult::Ambiguous(_, later) => Some(later.to_utc()),
            LocalResult::None => (1..=180)
                .map(|m| local + Duration::minutes(m))
                .find_map(|n| self.tz.from_local_datetime(&n).earliest())
                .map(|t| t.to_utc()),
        }
    }

    /// The first window whose deadline is after `after`.
    pub fn next_deadline(&self, after: DateTime<Utc>) -> Option<(NaiveDate, DateTime<Utc>)> {
        self.first_window_from(after, |deadline| deadline > after)
    }

    pub(crate) fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        clamp(at).with_timezone(&self.tz).date_naive()
    }

    /// Scans due days from the day before `at`'s local date (a deadline never lies more than a
    /// gap away from its own date) for the first deadline that `accept`s.
    pub(crate) fn first_window_from(
        &self,
        at: DateTime<Utc>,
        accept: impl Fn(DateTime<Utc>) -> bool,
    ) -> Option<(NaiveDate, DateTime<Utc>)> {
        let first = self.local_date(at).pred_opt().unwrap_or(NaiveDate::MIN);
        first
            .iter_days()
            .take(10)
            .filter_map(|date| Some((date, self.deadline(date)?)))
            .find(|(_, deadline)| accept(*deadline))
    }
}

/// Compiles a pipeline's `expected` into the shared problem list (each problem's key is the
/// part of its message before the first `: `).
pub(crate) fn compile_section(
    raw: Option<&ExpectedRaw>,
    errs: &mut super::compile::Errs,
) -> Option<Expected> {
    raw.and_then(|x| {
        x.compile()
            .map_err(|es| {
                for e in es {
                    let text = e.to_string();
                    let (key, why) = text.split_once(": ").unwrap_or(("expected", &text));
                    errs.add(key, why.to_string());
                }
            })
            .ok()
    })
}

/// chrono panics when an instant within a day of its range ends is shown in a local zone.
fn clamp(at: DateTime<Utc>) -> DateTime<Utc> {
    let two_days = Duration::days(2);
    let lo = DateTime::<Utc>::MIN_UTC.checked_add_signed(two_days);
    let hi = DateTime::<Utc>::MAX_UTC.checked_sub_signed(two_days);
    match (lo, hi) {
        (Some(lo), Some(hi)) => at.clamp(lo, hi),
        _ => at,
    }
}
