//! Cron schedules (`schedule = "..."`) in a pipeline's time zone: the next fire time, and the one missed fire to catch up after downtime.
//!
//! croner parses and matches the expression. Its own time-zone search is not used: croner 3.0.1
//! works on the local wall clock and, inside a DST fold, can return a fire time *earlier* than the
//! start instant (e.g. "30 1 * * *" searched from 01:10 EST on 2026-11-01 answers 01:30 EDT, which
//! is before the start), so an "every next fire" loop would repeat. Instead croner is given the
//! naive wall clock dressed as UTC (no DST, so it only matches fields), and this module maps each
//! matching wall-clock time to instants itself, with these rules (croner's intent, made monotone):
//!
//! - a wall-clock time that exists once fires once;
//! - a time in a spring-forward gap (02:30 on 2026-03-08 in New York): a fixed-time job (one hour,
//!   one minute) fires once at the first instant after the gap (03:00 local); an interval job
//!   ("*/15 * * * *", "30 1-3 * * *") skips it, since its other ticks keep running;
//! - a time in a fall-back fold (01:30 on 2026-11-01 in New York): a fixed-time job fires once, at
//!   the first occurrence (EDT); an interval job fires at both, so "*/30" stays every 30 minutes.

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds};
use croner::{Cron, JobType};

/// Larger than any fold or gap in the tz database in use (at most two hours), so a search that
/// looks this far around the wall-clock time of an instant sees every fire near it.
const MARGIN_HOURS: i64 = 3;
/// Bounds one search; a pattern that fires every minute needs about 2 * 3 * 60 candidates.
const MAX_CANDIDATES: usize = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cron expression {expr:?}: {reason}")]
    Cron { expr: String, reason: String },
    #[error("unknown time zone {0:?} (use an IANA name such as \"America/New_York\")")]
    TimeZone(String),
    #[error("cron expression {expr:?} never fires")]
    NeverFires { expr: String },
}

/// A validated schedule: five-field cron (minute hour day-of-month month day-of-week) in a zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    expr: String,
    tz: Tz,
    cron: Cron,
    fixed_time: bool,
}

impl Schedule {
    /// Parses a five-field expression (seconds are not accepted: a batch daemon has no use for
    /// them and they would multiply the search work) and an IANA time zone name.
    pub fn parse(expr: &str, tz: &str) -> Result<Schedule, ScheduleError> {
        let tz: Tz = tz
            .parse()
            .map_err(|_| ScheduleError::TimeZone(tz.to_string()))?;
        let parser = CronParser::builder().seconds(Seconds::Disallowed).build();
        let cron = parser.parse(expr).map_err(|e| ScheduleError::Cron {
            expr: expr.to_string(),
            reason: e.to_string(),
        })?;
        let fixed_time = cron.determine_job_type() == JobType::FixedTime;
        let schedule = Schedule {
            expr: expr.to_string(),
            tz,
            cron,
            fixed_time,
        };
        // "0 0 30 2 *" parses but never matches; refuse it here rather than search in vain later.
        let probe = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
        if probe.and_then(|p| schedule.next_after(p)).is_none() {
            return Err(ScheduleError::NeverFires {
                expr: expr.to_string(),
            });
        }
        Ok(schedule)
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The first fire instant strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let margin = Duration::hours(MARGIN_HOURS);
        let mut cursor = self.wall(after).checked_sub_signed(margin)?;
        let mut best: Option<DateTime<Utc>> = None;
        for _ in 0..MAX_CANDIDATES {
            // croner gives up at its year limits; what was found so far stands.
            let Ok(found) = self.cron.find_next_occurrence(&cursor.and_utc(), false) else {
                break;
            };
            let naive = found.naive_utc();
            // Past this point no wall-clock time can map to an instant before `best`.
            if best.is_some_and(|b| naive > self.wall(b) + margin) {
                break;
            }
            for fire in self.fires_at(naive).into_iter().flatten() {
                if fire > after && best.is_none_or(|b| fire < b) {
                    best = Some(fire);
                }
            }
            cursor = naive;
        }
        best
    }

    /// The last fire instant at or before `at`, looking no further back than `floor` (exclusive).
    pub fn last_between(&self, floor: DateTime<Utc>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let margin = Duration::hours(MARGIN_HOURS);
        let stop = self
            .wall(floor)
            .checked_sub_signed(margin)
            .unwrap_or(NaiveDateTime::MIN);
        let mut cursor = self.wall(at).checked_add_signed(margin)?;
        let mut best: Option<DateTime<Utc>> = None;
        for _ in 0..MAX_CANDIDATES {
            // croner gives up at its year limits; what was found so far stands.
            let Ok(found) = self.cron.find_previous_occurrence(&cursor.and_utc(), false) else {
                break;
            };
            let naive = found.naive_utc();
            if naive < stop || best.is_some_and(|b| naive < self.wall(b) - margin) {
                break;
            }
            for fire in self.fires_at(naive).into_iter().flatten() {
                if fire <= at && fire > floor && best.is_none_or(|b| fire > b) {
                    best = Some(fire);
                }
            }
            cursor = naive;
        }
        best
    }

    /// The fire the daemon owes at start-up or on a tick: the most recent fire in
    /// (`last_run`, `now`], so that after downtime a missed window runs once, not once per
    /// missed tick. A pipeline that never ran (`None`) owes nothing and waits for its next
    /// fire; record the returned instant (or the run's start) as the new `last_run`.
    pub fn due_since(
        &self,
        last_run: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        let last_run = last_run?;
        if last_run >= now {
            return None;
        }
        self.last_between(last_run, now)
    }

    fn wall(&self, at: DateTime<Utc>) -> NaiveDateTime {
        clamp(at).with_timezone(&self.tz).naive_local()
    }

    /// The instants (none, one or two) at which a matching wall-clock time fires.
    fn fires_at(&self, naive: NaiveDateTime) -> [Option<DateTime<Utc>>; 2] {
        match self.tz.from_local_datetime(&naive) {
            LocalResult::Single(t) => [Some(t.to_utc()), None],
            LocalResult::Ambiguous(first, _) if self.fixed_time => [Some(first.to_utc()), None],
            LocalResult::Ambiguous(first, second) => [Some(first.to_utc()), Some(second.to_utc())],
            LocalResult::None if self.fixed_time => [self.end_of_gap(naive), None],
            LocalResult::None => [None, None],
        }
    }

    /// The first instant after the gap that swallowed `naive` (03:00 local for 02:30 in New York).
    fn end_of_gap(&self, naive: NaiveDateTime) -> Option<DateTime<Utc>> {
        (1..=MARGIN_HOURS * 60)
            .map(|m| naive + Duration::minutes(m))
            .find_map(|n| self.tz.from_local_datetime(&n).earliest())
            .map(|t| t.to_utc())
    }
}

/// Compiles a pipeline's `schedule` (in its `time_zone`) into the shared problem list.
pub(crate) fn compile_section(
    expr: Option<&str>,
    tz: &str,
    errs: &mut super::compile::Errs,
) -> Option<Schedule> {
    expr.and_then(|expr| {
        Schedule::parse(expr, tz)
            .map_err(|e| errs.add("schedule", e.to_string()))
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
