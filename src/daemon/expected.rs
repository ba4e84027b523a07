//! Which due windows of a partner's file are late, and a book so each late window alerts once.
//!
//! Pure: the caller passes arrivals and `now`. The due time itself (`Expected`, its deadlines)
//! is compiled with the pipeline (src/config/expected.rs); the late windows are worked out here.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::config::expected::Expected;

/// How far back `windows` looks at most, whatever `from` says: old gaps are history, not alerts.
const MAX_LOOKBACK_DAYS: i64 = 366;

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

impl Expected {
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
