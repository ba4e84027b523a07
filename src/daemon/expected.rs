//! When a partner's file is due, which due windows are late, and a book so each late window alerts once.
//!
//! Pure: the caller passes arrivals and `now`. A window is one business date on a due day; its
//! deadline is `by` on that date in the pipeline's zone. If `by` falls in a spring-forward gap the
//! deadline is the first instant after the gap (the clock jumped past `by` then); if it falls in a
//! fall-back fold the deadline is the later of the two instants, so no alert fires while the
//! partner's clock can still read a time before `by`.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use serde::Deserialize;

/// How far back `windows` looks at most, whatever `from` says: old gaps are history, not alerts.
const MAX_LOOKBACK_DAYS: i64 = 366;

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

/// A file that arrived: its business date when the pipeline knows it (preferred), or only the
/// instant it arrived. An instant counts for the first window whose deadline is at or after it,
/// so a file that comes after a deadline counts for the next window, not the one it missed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    BusinessDate(NaiveDate),
    At(DateTime<Utc>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    Received,
    Late,
}

/// One due window whose deadline has passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub date: NaiveDate,
    pub deadline: DateTime<Utc>,
    pub state: WindowState,
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

    /// Every window whose deadline lies in (`from`, `now`], oldest first, with its state.
    pub fn windows(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        arrivals: &[Arrival],
    ) -> Vec<Window> {
        let oldest = now.checked_sub_signed(Duration::days(MAX_LOOKBACK_DAYS));
        let from = oldest.map_or(from, |oldest| from.max(oldest));
        let received: BTreeSet<NaiveDate> = arrivals
            .iter()
            .filter_map(|a| match a {
                Arrival::BusinessDate(date) => Some(*date),
                Arrival::At(at) => self
                    .first_window_from(*at, |deadline| deadline >= *at)
                    .map(|(d, _)| d),
            })
            .collect();
        let first = self.local_date(from).pred_opt().unwrap_or(NaiveDate::MIN);
        let last = self.local_date(now);
        first
            .iter_days()
            .take_while(|date| *date <= last)
            .filter_map(|date| Some((date, self.deadline(date)?)))
            .filter(|(_, deadline)| *deadline > from && *deadline <= now)
            .map(|(date, deadline)| Window {
                date,
                deadline,
                state: if received.contains(&date) {
                    WindowState::Received
                } else {
                    WindowState::Late
                },
            })
            .collect()
    }

    /// Only the late windows of `windows`.
    pub fn late(
        &self,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
        arrivals: &[Arrival],
    ) -> Vec<Window> {
        let mut windows = self.windows(from, now, arrivals);
        windows.retain(|w| w.state == WindowState::Late);
        windows
    }

    fn local_date(&self, at: DateTime<Utc>) -> NaiveDate {
        clamp(at).with_timezone(&self.tz).date_naive()
    }

    /// Scans due days from the day before `at`'s local date (a deadline never lies more than a
    /// gap away from its own date) for the first deadline that `accept`s.
    fn first_window_from(
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

/// Identifies one window of one pipeline; `Display` gives a stable text key for the ledger.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WindowKey {
    pub pipeline: String,
    pub date: NaiveDate,
}

impl fmt::Display for WindowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.pipeline, self.date)
    }
}

/// Remembers which late windows already raised an alert, so each raises exactly one.
#[derive(Debug, Clone, Default)]
pub struct AlertBook {
    raised: BTreeSet<WindowKey>,
}

impl AlertBook {
    pub fn new() -> AlertBook {
        AlertBook::default()
    }

    /// Restores the keys recorded before a restart, so a restart does not re-alert.
    pub fn with_raised(keys: impl IntoIterator<Item = WindowKey>) -> AlertBook {
        AlertBook {
            raised: keys.into_iter().collect(),
        }
    }

    /// Records the late windows not alerted yet and returns them: the alerts to send now.
    pub fn raise(&mut self, pipeline: &str, windows: &[Window]) -> Vec<Window> {
        windows
            .iter()
            .filter(|w| w.state == WindowState::Late)
            .filter(|w| {
                self.raised.insert(WindowKey {
                    pipeline: pipeline.to_string(),
                    date: w.date,
                })
            })
            .copied()
            .collect()
    }

    pub fn is_raised(&self, key: &WindowKey) -> bool {
        self.raised.contains(key)
    }

    /// Drops keys older than `date`, once `windows` no longer looks that far back.
    pub fn forget_before(&mut self, date: NaiveDate) {
        self.raised.retain(|k| k.date >= date);
    }

    pub fn raised(&self) -> impl Iterator<Item = &WindowKey> {
        self.raised.iter()
    }
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
