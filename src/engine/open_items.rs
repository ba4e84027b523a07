//! The open-item book of a reconciling pipeline: each break kept as an item with a lifecycle
//! across business dates (open, acknowledged, resolved by data, written off or accepted by a
//! person), carried without alerting within its grace period, aged in buckets. The book is a
//! pure fold of the runs' observations and people's actions in order, so replaying every date
//! from scratch gives the same book as keeping it day by day (reruns rely on it).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc, Weekday};
use rust_decimal::Decimal;

/// What makes two breaks the same item: the pipeline's reconcile key (as text, `col=value`
/// joined) and the kind of break (its status).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identity {
    pub key: String,
    pub kind: String,
}

/// One break as a run saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub identity: Identity,
    /// The break's money or quantity (its difference), exact.
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// Where it was seen: the input file and line, or the file.
    pub source: String,
}

/// One run's view: its breaks, and (for pipelines whose runs see only part of the book, such
/// as settlements) the keys it saw in good order, which alone close items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunView {
    pub date: NaiveDate,
    pub run: String,
    pub observed: Vec<Observation>,
    pub matched: BTreeSet<String>,
}

/// An item's state. Stored as this text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Open,
    Acknowledged,
    Resolved,
    WrittenOff,
    Accepted,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Open,
        State::Acknowledged,
        State::Resolved,
        State::WrittenOff,
        State::Accepted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Acknowledged => "acknowledged",
            State::Resolved => "resolved",
            State::WrittenOff => "written_off",
            State::Accepted => "accepted",
        }
    }

    pub fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Open or acknowledged: still on the list.
    pub fn is_open(self) -> bool {
        matches!(self, State::Open | State::Acknowledged)
    }
}

/// When an item no longer seen is closed by data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closes {
    /// A run that no longer shows it closes it: each run sees the whole book (a stock snapshot
    /// against the ERP's on-hand).
    WhenAbsent,
    /// Only a run that sees its key in good order closes it: runs see part of the book (a
    /// settlement pays some orders; the others still wait).
    WhenMatched,
}

/// How long a kind of break may stay open before it is an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grace {
    Days(u32),
    /// Monday to Friday, counted on the pipeline's business dates.
    BusinessDays(u32),
}

impl Grace {
    /// `3d` or `2bd`.
    pub fn parse(text: &str) -> Option<Grace> {
        let t = text.trim();
        if let Some(n) = t.strip_suffix("bd") {
            return n.trim().parse().ok().map(Grace::BusinessDays);
        }
        t.strip_suffix('d')?.trim().parse().ok().map(Grace::Days)
    }

    /// Whether an item open since `since` is still within grace on `as_of`.
    pub fn covers(self, since: NaiveDate, as_of: NaiveDate) -> bool {
        match self {
            Grace::Days(n) => age_days(since, as_of) <= i64::from(n),
            Grace::BusinessDays(n) => business_days(since, as_of) <= i64::from(n),
        }
    }
}

/// The book's rules for one pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub closes: Closes,
    /// Grace per kind of break; kinds not listed alert at once.
    pub grace: BTreeMap<String, Grace>,
    /// Upper bounds (days, inclusive) of the aging buckets but the last: `[7, 14, 30]` gives
    /// 0-7, 8-14, 15-30, over 30.
    pub buckets: Vec<u32>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            closes: Closes::WhenAbsent,
            grace: BTreeMap::new(),
            buckets: vec![7, 14, 30],
        }
    }
}

impl Policy {
    /// The bucket names, in order.
    pub fn bucket_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut low = 0;
        for &high in &self.buckets {
            names.push(format!("{low}-{high}"));
            low = high + 1;
        }
        names.push(match self.buckets.last() {
            Some(last) => format!("over {last}"),
            None => "all".into(),
        });
        names
    }

    /// The bucket of an item `age` days old.
    pub fn bucket(&self, age: i64) -> usize {
        self.buckets
            .iter()
            .position(|&high| age <= i64::from(high))
            .unwrap_or(self.buckets.len())
    }
}

/// Days from `since` to `as_of` (0 on the day it opened).
pub fn age_days(since: NaiveDate, as_of: NaiveDate) -> i64 {
    (as_of - since).num_days().max(0)
}

/// Business days (Monday to Friday) after `since` up to and including `as_of`.
pub fn business_days(since: NaiveDate, as_of: NaiveDate) -> i64 {
    since
        .iter_days()
        .skip(1)
        .take_while(|d| *d <= as_of)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count() as i64
}

/// A person's decision about an item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Acknowledge,
    WriteOff,
    Accept,
}

impl Decision {
    pub fn as_str(&self) -> &'static str {
        match self {
            Decision::Acknowledge => "acknowledged",
            Decision::WriteOff => "written_off",
            Decision::Accept => "accepted",
        }
    }

    pub fn parse(text: &str) -> Option<Decision> {
        match text {
            "acknowledged" | "ack" => Some(Decision::Acknowledge),
            "written_off" => Some(Decision::WriteOff),
            "accepted" => Some(Decision::Accept),
            _ => None,
        }
    }
}

/// A person's action on an item, in the book's order: after every run of business dates up
/// to `after` (the latest date the book held when it was taken).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub identity: Identity,
    pub decision: Decision,
    pub actor: String,
    pub note: String,
    pub at: DateTime<Utc>,
    pub after: NaiveDate,
}

/// What happened to an item, for its timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    Opened,
    Seen,
    Resolved,
    Reopened,
    Decided {
        decision: Decision,
        actor: String,
        note: String,
        at: DateTime<Utc>,
    },
}

impl Happened {
    pub fn label(&self) -> &'static str {
        match self {
            Happened::Opened => "opened",
            Happened::Seen => "seen again",
            Happened::Resolved => "resolved",
            Happened::Reopened => "reopened",
            Happened::Decided { decision, .. } => decision.as_str(),
        }
    }
}

/// One step of an item's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub date: NaiveDate,
    /// The run that showed (or closed) it; `None` for a person's action.
    pub run: Option<String>,
    pub happened: Happened,
    pub amount: Option<Decimal>,
    pub source: Option<String>,
}

/// One item of the book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub identity: Identity,
    pub state: State,
    pub first_seen: NaiveDate,
    pub last_seen: NaiveDate,
    /// When it last became open (first seen, or reopened): what grace and aging count from.
    pub open_since: NaiveDate,
    pub amount: Option<Decimal>,
    pub currency: Option<String>,
    /// The amount when a person closed it: seen again with the same amount, it stays closed.
    closed_amount: Option<Option<Decimal>>,
    pub events: Vec<Event>,
}

impl Item {
    /// The latest person's note, if any: who and why.
    pub fn decision(&self) -> Option<(&str, &str)> {
        self.events.iter().rev().find_map(|e| match &e.happened {
            Happened::Decided { actor, note, .. } => Some((actor.as_str(), note.as_str())),
            _ => None,
        })
    }

    /// Open, not acknowledged, and past its grace on `as_of`: an exception to report.
    pub fn alerts(&self, policy: &Policy, as_of: NaiveDate) -> bool {
        self.state == State::Open && !self.within_grace(policy, as_of)
    }

    /// Open and carried without alerting: its kind may lag and its grace has not run out.
    pub fn within_grace(&self, policy: &Policy, as_of: NaiveDate) -> bool {
        self.state.is_open()
            && policy
                .grace
                .get(&self.identity.kind)
                .is_some_and(|g| g.covers(self.open_since, as_of))
    }
}

/// What one run changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunChanges {
    pub opened: Vec<Identity>,
    pub reopened: Vec<Identity>,
    pub still_open: Vec<Identity>,
    pub closed: Vec<Identity>,
}

/// A person's action that cannot apply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    #[error("no open item {key} ({kind})")]
    Unknown { key: String, kind: String },
    #[error("item {key} ({kind}) is {state}: only open or acknowledged items can be {decision}")]
    Closed {
        key: String,
        kind: String,
        state: &'static str,
        decision: &'static str,
    },
}

/// The book: every item ever seen, by identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Book {
    pub items: BTreeMap<Identity, Item>,
}

impl Book {
    /// The book after `runs` and `actions`, each action after the runs of its `after` date and
    /// before later ones (runs in the order given: by business date, then run).
    pub fn replay(runs: &[RunView], actions: &[Action], policy: &Policy) -> Book {
        let mut book = Book::default();
        let mut pending: Vec<&Action> = actions.iter().collect();
        pending.sort_by_key(|a| (a.after, a.at));
        let mut next = pending.into_iter().peekable();
        for run in runs {
            while let Some(a) = next.next_if(|a| a.after < run.date) {
                let _ = book.decide(a);
            }
            book.apply_run(run, policy);
        }
        for a in next {
            let _ = book.decide(a);
        }
        book
    }

    /// Applies one run's view.
    pub fn apply_run(&mut self, run: &RunView, policy: &Policy) -> RunChanges {
        let mut changes = RunChanges::default();
        let mut seen = BTreeSet::new();
        for o in &run.observed {
            seen.insert(o.identity.clone());
            let event = |happened| Event {
                date: run.date,
                run: Some(run.run.clone()),
                happened,
                amount: o.amount,
                source: Some(o.source.clone()),
            };
            let Some(item) = self.items.get_mut(&o.identity) else {
                self.items.insert(
                    o.identity.clone(),
                    Item {
                        identity: o.identity.clone(),
                        state: State::Open,
                        first_seen: run.date,
                        last_seen: run.date,
                        open_since: run.date,
                        amount: o.amount,
                        currency: o.currency.clone(),
                        closed_amount: None,
                        events: vec![event(Happened::Opened)],
                    },
                );
                changes.opened.push(o.identity.clone());
                continue;
            };
            item.last_seen = item.last_seen.max(run.date);
            let reopen = match item.state {
                State::Open | State::Acknowledged => false,
                State::Resolved => true,
                // A person accepted this difference: the same again is not news.
                State::WrittenOff | State::Accepted => item.closed_amount != Some(o.amount),
            };
            if reopen {
                item.state = State::Open;
                item.open_since = run.date;
                item.closed_amount = None;
                item.events.push(event(Happened::Reopened));
                changes.reopened.push(o.identity.clone());
            } else {
                item.events.push(event(Happened::Seen));
                if item.state.is_open() {
                    changes.still_open.push(o.identity.clone());
                }
            }
            item.amount = o.amount;
            item.currency = o.currency.clone();
        }
        for (id, item) in self.items.iter_mut() {
            if !item.state.is_open() || seen.contains(id) {
                continue;
            }
            let closes = match policy.closes {
                Closes::WhenAbsent => true,
                Closes::WhenMatched => run.matched.contains(&id.key),
            };
            if closes {
                item.state = State::Resolved;
                item.events.push(Event {
                    date: run.date,
                    run: Some(run.run.clone()),
                    happened: Happened::Resolved,
                    amount: item.amount,
                    source: None,
                });
                changes.closed.push(id.clone());
            }
        }
        changes
    }

    /// Applies a person's decision to an open or acknowledged item.
    pub fn decide(&mut self, a: &Action) -> Result<(), ActionError> {
        let Some(item) = self.items.get_mut(&a.identity) else {
            return Err(ActionError::Unknown {
                key: a.identity.key.clone(),
                kind: a.identity.kind.clone(),
            });
        };
        if !item.state.is_open() {
            return Err(ActionError::Closed {
                key: a.identity.key.clone(),
                kind: a.identity.kind.clone(),
                state: item.state.as_str(),
                decision: a.decision.as_str(),
            });
        }
        item.state = match a.decision {
            Decision::Acknowledge => State::Acknowledged,
            Decision::WriteOff => State::WrittenOff,
            Decision::Accept => State::Accepted,
        };
        if !item.state.is_open() {
            item.closed_amount = Some(item.amount);
        }
        item.events.push(Event {
            date: a.after,
            run: None,
            happened: Happened::Decided {
                decision: a.decision.clone(),
                actor: a.actor.clone(),
                note: a.note.clone(),
                at: a.at,
            },
            amount: item.amount,
            source: None,
        });
        Ok(())
    }

    /// Open items per aging bucket on `as_of`: (bucket name, count, amount per currency).
    pub fn aging(&self, policy: &Policy, as_of: NaiveDate) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = policy
            .bucket_names()
            .into_iter()
            .map(|name| Bucket {
                name,
                count: 0,
                amounts: BTreeMap::new(),
            })
            .collect();
        for item in self.items.values().filter(|i| i.state.is_open()) {
            let b = policy.bucket(age_days(item.open_since, as_of));
            if let Some(bucket) = out.get_mut(b) {
                bucket.count += 1;
                if let Some(a) = item.amount {
                    *bucket
                        .amounts
                        .entry(item.currency.clone().unwrap_or_default())
                        .or_default() += a;
                }
            }
        }
        out
    }
}

/// Open items of one aging bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    pub name: String,
    pub count: usize,
    /// Sum of the items' amounts per currency (`""`: a quantity or no currency).
    pub amounts: BTreeMap<String, Decimal>,
}

#[cfg(test)]
mod tests;
