//! The ledger's side of open items (engine/open_items.rs): each run's observations (recorded in
//! the run's closing transaction), people's actions, and the book they fold into, kept in
//! `open_items` with stable ids. Observations and actions are never deleted: the book can
//! always be folded again from them (a rerun, a crash before the book was saved).

use std::collections::BTreeMap;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;

use super::db::{self, DbError, Exec};
use super::{Ledger, RunState, StoreError};
use crate::db_args;
use crate::engine::open_items::{Action, Book, Decision, Identity, Observation, RunView, State};

/// One item of the saved book, as `tallyman breaks` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ItemRow {
    pub id: i64,
    pub pipeline: String,
    pub key: String,
    pub kind: String,
    pub state: String,
    pub first_seen: String,
    pub last_seen: String,
    pub open_since: String,
    pub amount: Option<String>,
    pub currency: Option<String>,
    /// The latest person's decision: "who: note".
    pub note: Option<String>,
}

/// Which items `open_items` lists.
#[derive(Debug, Clone, Default)]
pub struct ItemFilter {
    pub pipeline: Option<String>,
    pub state: Option<String>,
    /// Only items open since before this date.
    pub open_before: Option<NaiveDate>,
}

fn date_of(text: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| StoreError::Unexpected {
        path: Default::default(),
        what: "a business date",
        value: text.to_string(),
    })
}

fn amount(text: Option<String>) -> Option<Decimal> {
    text.and_then(|t| Decimal::from_str(&t).ok())
}

/// Records a run's view, inside the run's closing transaction (`Ledger::finish_run`).
pub(super) fn record(tx: &mut db::Tx<'_>, pipeline: &str, view: &RunView) -> Result<(), DbError> {
    // A run redone after an interruption is recorded once.
    tx.execute(
        "DELETE FROM open_item_observations WHERE run_id = ?1",
        db_args![view.run],
    )?;
    tx.execute(
        "DELETE FROM open_item_matched WHERE run_id = ?1",
        db_args![view.run],
    )?;
    // `seq` keeps the order the run observed them in (what the book folds in).
    for (seq, o) in view.observed.iter().enumerate() {
        tx.execute(
            "INSERT INTO open_item_observations
                 (run_id, pipeline, item_key, kind, amount, currency, source, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            db_args![
                view.run,
                pipeline,
                o.identity.key,
                o.identity.kind,
                o.amount.map(|a| a.to_string()),
                o.currency,
                o.source,
                seq as i64
            ],
        )?;
    }
    for key in &view.matched {
        tx.execute(
            "INSERT INTO open_item_matched (run_id, item_key) VALUES (?1, ?2)",
            db_args![view.run, key],
        )?;
    }
    Ok(())
}

impl Ledger {
    /// What the book of `pipeline` folds: the views of the runs that count (the latest
    /// succeeded run of each file, by business date then run), leaving out every run of
    /// `without_file` (the file a run in hand replaces), and people's actions.
    pub fn open_item_history(
        &self,
        pipeline: &str,
        without_file: Option<i64>,
    ) -> Result<(Vec<RunView>, Vec<Action>), StoreError> {
        let what = "read the open-item history";
        let listed: Vec<(String, String)> = self.rows(
            what,
            "SELECT r.run_id, r.business_date FROM runs r
             WHERE r.pipeline = ?1 AND r.state = ?2 AND r.business_date IS NOT NULL
               AND r.file_id IS DISTINCT FROM ?3
               AND NOT EXISTS (SELECT 1 FROM runs l WHERE l.pipeline = r.pipeline
                   AND l.file_id = r.file_id AND l.state = ?2 AND l.seq > r.seq)
             ORDER BY r.business_date, r.seq",
            db_args![pipeline, RunState::Succeeded, without_file],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut views = Vec::with_capacity(listed.len());
        for (run, day) in listed {
            let observed = self.rows(
                what,
                "SELECT item_key, kind, amount, currency, source FROM open_item_observations
                 WHERE run_id = ?1 ORDER BY seq",
                db_args![run],
                |r| {
                    Ok(Observation {
                        identity: Identity {
                            key: r.get(0)?,
                            kind: r.get(1)?,
                        },
                        amount: amount(r.get(2)?),
                        currency: r.get(3)?,
                        source: r.get(4)?,
                    })
                },
            )?;
            let keys = self.rows(
                what,
                "SELECT item_key FROM open_item_matched WHERE run_id = ?1",
                db_args![run],
                |r| r.get::<String>(0),
            )?;
            views.push(RunView {
                date: date_of(&day)?,
                run,
                observed,
                matched: keys.into_iter().collect(),
            });
        }
        Ok((views, self.open_item_actions(pipeline)?))
    }

    fn open_item_actions(&self, pipeline: &str) -> Result<Vec<Action>, StoreError> {
        type ActionRow = (String, String, String, String, String, String, String);
        let rows: Vec<ActionRow> = self.rows(
            "read open-item actions",
            "SELECT i.item_key, i.kind, a.decision, a.actor, a.note, a.at, a.after_date
             FROM open_item_actions a JOIN open_items i ON i.id = a.item_id
             WHERE i.pipeline = ?1 ORDER BY a.id",
            db_args![pipeline],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )?;
        rows.into_iter()
            .map(|(key, kind, decision, actor, note, at, after)| {
                let unexpected = |what: &'static str, value: &str| StoreError::Unexpected {
                    path: Default::default(),
                    what,
                    value: value.to_string(),
                };
                Ok(Action {
                    identity: Identity { key, kind },
                    decision: Decision::parse(&decision)
                        .ok_or_else(|| unexpected("an open-item decision", &decision))?,
                    actor,
                    note,
                    at: DateTime::parse_from_rfc3339(&at)
                        .map_err(|_| unexpected("an action time", &at))?
                        .with_timezone(&Utc),
                    after: date_of(&after)?,
                })
            })
            .collect()
    }

    /// Keys of `pipeline`'s items open now: what a run's matched keys are cut down to.
    pub fn open_item_keys(&self, pipeline: &str) -> Result<Vec<String>, StoreError> {
        self.rows(
            "read open-item keys",
            "SELECT DISTINCT item_key FROM open_items
             WHERE pipeline = ?1 AND state IN ('open', 'acknowledged')",
            db_args![pipeline],
            |r| r.get(0),
        )
    }

    /// Saves the book of `pipeline` in `open_items`: new items get the next id, known ones keep
    /// theirs. Items the book no longer holds (their only run was replaced) stay, resolved.
    pub fn save_open_items(
        &self,
        pipeline: &str,
        book: &Book,
        now: &str,
        inputs: (i64, i64),
    ) -> Result<(), StoreError> {
        let what = "save the open items";
        let mut conn = self.db();
        let mut tx = conn.write().map_err(self.q(what))?;
        for item in book.items.values() {
            tx.execute(
                "INSERT INTO open_items (pipeline, item_key, kind, state, first_seen, last_seen,
                     open_since, amount, currency, note, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (pipeline, item_key, kind) DO UPDATE SET
                     state = excluded.state, first_seen = excluded.first_seen,
                     last_seen = excluded.last_seen, open_since = excluded.open_since,
                     amount = excluded.amount, currency = excluded.currency,
                     note = excluded.note, updated_at = excluded.updated_at
                 WHERE open_items.state IS DISTINCT FROM excluded.state
                     OR open_items.last_seen IS DISTINCT FROM excluded.last_seen
                     OR open_items.amount IS DISTINCT FROM excluded.amount
                     OR open_items.note IS DISTINCT FROM excluded.note
                     OR open_items.first_seen IS DISTINCT FROM excluded.first_seen
                     OR open_items.open_since IS DISTINCT FROM excluded.open_since",
                db_args![
                    pipeline,
                    item.identity.key,
                    item.identity.kind,
                    item.state.as_str(),
                    item.first_seen.to_string(),
                    item.last_seen.to_string(),
                    item.open_since.to_string(),
                    item.amount.map(|a| a.to_string()),
                    item.currency,
                    item.decision().map(|(who, note)| format!("{who}: {note}")),
                    now
                ],
            )
            .map_err(self.q(what))?;
        }
        let listed = tx
            .query(
                "SELECT item_key, kind FROM open_items
                 WHERE pipeline = ?1 AND state IN ('open', 'acknowledged')",
                db_args![pipeline],
            )
            .map_err(self.q(what))?;
        for row in listed {
            let id = Identity {
                key: row.get(0).map_err(self.q(what))?,
                kind: row.get(1).map_err(self.q(what))?,
            };
            if !book.items.contains_key(&id) {
                tx.execute(
                    "UPDATE open_items SET state = ?4, updated_at = ?5
                     WHERE pipeline = ?1 AND item_key = ?2 AND kind = ?3",
                    db_args![pipeline, id.key, id.kind, State::Resolved.as_str(), now],
                )
                .map_err(self.q(what))?;
            }
        }
        tx.execute(
            "INSERT INTO open_item_books (pipeline, runs_seq, actions_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (pipeline) DO UPDATE SET runs_seq = ?2, actions_id = ?3",
            db_args![pipeline, inputs.0, inputs.1],
        )
        .map_err(self.q(what))?;
        tx.commit().map_err(self.q(what))
    }

    /// (last run seq, last action id) the book of `pipeline` would fold now: read before the
    /// history a fold reads, so that anything recorded in between leaves the saved book behind
    /// (and folded again), never ahead.
    pub fn book_inputs(&self, pipeline: &str) -> Result<(i64, i64), StoreError> {
        self.one_row(
            "read what the book folds",
            "SELECT (SELECT coalesce(max(seq), 0) FROM runs WHERE pipeline = ?1),
                    (SELECT coalesce(max(a.id), 0) FROM open_item_actions a
                     JOIN open_items i ON i.id = a.item_id WHERE i.pipeline = ?1)",
            db_args![pipeline],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// Whether runs or actions came after the saved book of `pipeline` was folded (a crash
    /// between a run's record and the book's save).
    pub fn open_items_behind(&self, pipeline: &str) -> Result<bool, StoreError> {
        let now = self.book_inputs(pipeline)?;
        let saved: Option<(i64, i64)> = self.row(
            "read how far the book folded",
            "SELECT runs_seq, actions_id FROM open_item_books WHERE pipeline = ?1",
            db_args![pipeline],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(saved != Some(now))
    }

    /// The saved items, by pipeline then id.
    pub fn open_items(&self, filter: &ItemFilter) -> Result<Vec<ItemRow>, StoreError> {
        self.rows(
            "list open items",
            "SELECT id, pipeline, item_key, kind, state, first_seen, last_seen, open_since,
                    amount, currency, note
             FROM open_items
             WHERE (CAST(?1 AS TEXT) IS NULL OR pipeline = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR state = ?2)
               AND (CAST(?3 AS TEXT) IS NULL OR open_since < ?3)
             ORDER BY pipeline, id",
            db_args![
                filter.pipeline,
                filter.state,
                filter.open_before.map(|d| d.to_string())
            ],
            |r| {
                Ok(ItemRow {
                    id: r.get(0)?,
                    pipeline: r.get(1)?,
                    key: r.get(2)?,
                    kind: r.get(3)?,
                    state: r.get(4)?,
                    first_seen: r.get(5)?,
                    last_seen: r.get(6)?,
                    open_since: r.get(7)?,
                    amount: r.get(8)?,
                    currency: r.get(9)?,
                    note: r.get(10)?,
                })
            },
        )
    }
    /// One saved item by id.
    pub fn open_item(&self, id: i64) -> Result<Option<ItemRow>, StoreError> {
        Ok(self
            .open_items(&ItemFilter::default())?
            .into_iter()
            .find(|i| i.id == id))
    }

    /// The ids of `pipeline`'s saved items, by identity.
    pub fn open_item_ids(&self, pipeline: &str) -> Result<BTreeMap<Identity, i64>, StoreError> {
        Ok(self
            .open_items(&ItemFilter {
                pipeline: Some(pipeline.to_string()),
                ..ItemFilter::default()
            })?
            .into_iter()
            .map(|i| {
                (
                    Identity {
                        key: i.key,
                        kind: i.kind,
                    },
                    i.id,
                )
            })
            .collect())
    }

    /// Records a person's decision about item `id` (never deleted; the book folds it in).
    pub fn record_open_item_action(
        &self,
        id: i64,
        decision: &Decision,
        actor: &str,
        note: &str,
        at: DateTime<Utc>,
        after: NaiveDate,
    ) -> Result<(), StoreError> {
        self.exec(
            "record an open-item action",
            "INSERT INTO open_item_actions (item_id, decision, actor, note, at, after_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            db_args![
                id,
                decision.as_str(),
                actor,
                note,
                at.to_rfc3339(),
                after.to_string()
            ],
        )
        .map(|_| ())
    }

    /// Business dates after `date` with a succeeded run of `pipeline`, in order: what a rerun
    /// of `date` cascades to.
    pub fn later_business_dates(
        &self,
        pipeline: &str,
        date: NaiveDate,
    ) -> Result<Vec<NaiveDate>, StoreError> {
        let days: Vec<String> = self.rows(
            "read later business dates",
            "SELECT DISTINCT business_date FROM runs
             WHERE pipeline = ?1 AND state = ?2 AND business_date > ?3
             ORDER BY business_date",
            db_args![pipeline, RunState::Succeeded, date.to_string()],
            |r| r.get(0),
        )?;
        days.iter().map(|d| date_of(d)).collect()
    }

    /// The latest business date among `pipeline`'s runs that count (what a person's action
    /// comes after), if any.
    pub fn latest_book_date(&self, pipeline: &str) -> Result<Option<NaiveDate>, StoreError> {
        let day: Option<String> = self.one_row(
            "read the book's latest date",
            "SELECT max(business_date) FROM runs WHERE pipeline = ?1 AND state = ?2",
            db_args![pipeline, RunState::Succeeded],
            |r| r.get(0),
        )?;
        day.as_deref().map(date_of).transpose()
    }
}
