//! Keeping a pipeline's open-item book as its runs end (engine/open_items.rs folds, store keeps):
//! the run's view from its report's breaks and the keys it saw in good order; the book as it
//! stood before the run, for the report's "new, still open, closed today"; and the book saved
//! after the run is recorded (folded again from the ledger, so a crash in between loses
//! nothing: the next save folds the same observations).

use std::collections::BTreeSet;

use chrono::{NaiveDate, Utc};
use polars::prelude::*;
use rust_decimal::Decimal;

use crate::config::Pipeline;
use crate::engine::open_items::{
    age_days, Book, Closes, Identity, Observation, Policy, RunChanges, RunView, State,
};
use crate::report::model::{
    AgingBucket, Break, CurrencyAmount, OpenItemLine, OpenItemsNote, RunReport,
};
use crate::store::{Ledger, StoreError};

/// A break's key as the book names it: `column=value`, joined in the pipeline's key order.
pub fn key_text(keys: &[(String, String)]) -> String {
    keys.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A break's kind: the table's own wording, else the reconcile status (its stored word).
fn kind_of(b: &Break) -> String {
    b.kind
        .clone()
        .unwrap_or_else(|| b.status.as_str().to_string())
}

/// The columns that make a break's identity: the `[breaks]` table's key, else the reconcile
/// keys (a report adds detail columns to a break's keys, which must not split an item).
fn identity_columns(p: &Pipeline) -> Vec<String> {
    match (&p.breaks, &p.reconcile) {
        (Some(spec), _) => spec.key.clone(),
        (None, Some(r)) => r.keys.iter().map(|(k, _)| k.clone()).collect(),
        (None, None) => Vec::new(),
    }
}

/// The run's view: every break of the report, and (for a book whose items close only when
/// matched) the keys of items open now that the run saw in good order.
pub fn view_of(
    ledger: &Ledger,
    p: &Pipeline,
    policy: &Policy,
    report: &RunReport,
    file: &str,
    good_keys: impl FnOnce() -> PolarsResult<Vec<String>>,
) -> Result<RunView, String> {
    let columns = identity_columns(p);
    let observed = report
        .breaks
        .iter()
        .map(|b| Observation {
            identity: Identity {
                key: key_text(
                    &b.keys
                        .iter()
                        .filter(|(k, _)| columns.contains(k))
                        .cloned()
                        .collect::<Vec<_>>(),
                ),
                kind: kind_of(b),
            },
            amount: b.measures.first().map(|m| m.effective_difference()),
            currency: b.currency.clone(),
            source: file.to_string(),
        })
        .collect();
    let matched = match policy.closes {
        Closes::WhenAbsent => BTreeSet::new(),
        Closes::WhenMatched => {
            let open: BTreeSet<String> = ledger
                .open_item_keys(&p.id)
                .map_err(|e| e.to_string())?
                .into_iter()
                .collect();
            good_keys()
                .map_err(|e| e.to_string())?
                .into_iter()
                .filter(|k| open.contains(k))
                .collect()
        }
    };
    Ok(RunView {
        date: report.business_date,
        run: report.run_id.clone(),
        observed,
        matched,
    })
}

/// Keys (as [`key_text`]) of the rows of `df` whose `status` is one of `ok`.
pub fn good_keys(
    df: &DataFrame,
    status: &str,
    ok: &[String],
    keys: &[String],
) -> PolarsResult<Vec<String>> {
    let text = |name: &str| -> PolarsResult<Vec<Option<String>>> {
        let c = df.column(name)?.cast(&DataType::String)?;
        Ok(c.str()?.iter().map(|v| v.map(str::to_string)).collect())
    };
    let st = text(status)?;
    let cols: Vec<(String, Vec<Option<String>>)> = keys
        .iter()
        .map(|k| Ok((k.clone(), text(k)?)))
        .collect::<PolarsResult<_>>()?;
    Ok((0..df.height())
        .filter(|&row| st[row].as_ref().is_some_and(|s| ok.contains(s)))
        .map(|row| {
            let pairs: Vec<(String, String)> = cols
                .iter()
                .map(|(k, v)| (k.clone(), v[row].clone().unwrap_or_default()))
                .collect();
            key_text(&pairs)
        })
        .collect())
}

/// The book after the run in hand, as folded in memory for its report, and what it was folded
/// from: saved as it is when no later business date was run (then a fold of the ledger gives
/// the same book), folded again from the ledger otherwise.
pub struct AfterRun {
    book: Book,
    date: NaiveDate,
    inputs: (i64, i64),
}

/// The book as it stood before the run in hand (every run that counts but those of its file),
/// and what the run does to it: the report's note, and the book after the run.
pub fn note_for_run(
    ledger: &Ledger,
    p: &Pipeline,
    policy: &Policy,
    file_id: i64,
    view: &RunView,
) -> Result<(OpenItemsNote, AfterRun), StoreError> {
    let inputs = ledger.book_inputs(&p.id)?;
    let mut book = book_before(ledger, p, policy, file_id, view.date)?;
    let changes = book.apply_run(view, policy);
    let ids = ledger.open_item_ids(&p.id)?;
    let note = note(&book, &changes, policy, view.date, &ids);
    Ok((
        note,
        AfterRun {
            book,
            date: view.date,
            inputs,
        },
    ))
}

/// Saves the book after a run once the run is recorded: the book folded for its report when
/// it is the whole story (no later business date was run: the run came last in the fold's
/// order), else the whole book folded again from the ledger.
pub fn save_after_run(ledger: &Ledger, p: &Pipeline, after: AfterRun) -> Result<(), StoreError> {
    if ledger.later_business_dates(&p.id, after.date)?.is_empty() {
        ledger.save_open_items(&p.id, &after.book, &Utc::now().to_rfc3339(), after.inputs)
    } else {
        save_book(ledger, p).map(|_| ())
    }
}

/// The book as it stood before a run of `file_id` for business date `date`: every run that
/// counts up to that date but those of the same file (a rerun replaces them), and people's
/// actions up to it. Later dates are not the run's past, so a rerun sees what the first run saw.
pub fn book_before(
    ledger: &Ledger,
    p: &Pipeline,
    policy: &Policy,
    file_id: i64,
    date: NaiveDate,
) -> Result<Book, StoreError> {
    let (runs, actions) = ledger.open_item_history(&p.id, Some(file_id))?;
    let before: Vec<RunView> = runs.into_iter().filter(|r| r.date <= date).collect();
    Ok(Book::replay(
        &before,
        &actions_until(&actions, date),
        policy,
    ))
}

/// Column names of the `open_items` table SQL transforms and outputs read.
pub const TABLE_COLUMNS: [&str; 12] = [
    "id",
    "item_key",
    "kind",
    "state",
    "first_seen",
    "last_seen",
    "open_since",
    "age_days",
    "bucket",
    "amount",
    "currency",
    "note",
];

/// The `open_items` table: every item of the book before the run (open or closed, so a sheet
/// can show both), its age and bucket on the run's business date, its amount exact.
pub fn book_table(
    ledger: &Ledger,
    p: &Pipeline,
    policy: &Policy,
    file_id: i64,
    date: NaiveDate,
) -> Result<DataFrame, String> {
    let book = book_before(ledger, p, policy, file_id, date).map_err(|e| e.to_string())?;
    let ids = ledger.open_item_ids(&p.id).map_err(|e| e.to_string())?;
    table_of(&book, policy, date, &ids).map_err(|e| e.to_string())
}

fn table_of(
    book: &Book,
    policy: &Policy,
    as_of: NaiveDate,
    ids: &std::collections::BTreeMap<Identity, i64>,
) -> PolarsResult<DataFrame> {
    let items: Vec<_> = book.items.values().collect();
    let names = policy.bucket_names();
    let scale = items
        .iter()
        .filter_map(|i| i.amount.map(|a| a.scale()))
        .max()
        .unwrap_or(0);
    let mantissas = items.iter().map(|i| {
        i.amount.map(|a| {
            let mut a = a;
            a.rescale(scale);
            a.mantissa()
        })
    });
    let date = |name: &str, f: &dyn Fn(&crate::engine::open_items::Item) -> NaiveDate| {
        DateChunked::from_naive_date(name.into(), items.iter().map(|i| f(i))).into_column()
    };
    let text = |name: &str, f: &dyn Fn(&crate::engine::open_items::Item) -> Option<String>| {
        Column::new(name.into(), items.iter().map(|i| f(i)).collect::<Vec<_>>())
    };
    let columns = vec![
        Column::new(
            "id".into(),
            items
                .iter()
                .map(|i| ids.get(&i.identity).copied())
                .collect::<Vec<_>>(),
        ),
        text("item_key", &|i| Some(i.identity.key.clone())),
        text("kind", &|i| Some(i.identity.kind.clone())),
        text("state", &|i| Some(i.state.as_str().to_string())),
        date("first_seen", &|i| i.first_seen),
        date("last_seen", &|i| i.last_seen),
        date("open_since", &|i| i.open_since),
        Column::new(
            "age_days".into(),
            items
                .iter()
                .map(|i| i.state.is_open().then(|| age_days(i.open_since, as_of)))
                .collect::<Vec<_>>(),
        ),
        text("bucket", &|i| match i.state.is_open() {
            true => names
                .get(policy.bucket(age_days(i.open_since, as_of)))
                .cloned(),
            false => None,
        }),
        Int128Chunked::from_iter_options("amount".into(), mantissas)
            .into_decimal(38, scale as usize)?
            .into_column(),
        text("currency", &|i| i.currency.clone()),
        text("note", &|i| {
            i.decision().map(|(who, note)| format!("{who}: {note}"))
        }),
    ];
    DataFrame::new(items.len(), columns)
}

fn actions_until(
    actions: &[crate::engine::open_items::Action],
    date: NaiveDate,
) -> Vec<crate::engine::open_items::Action> {
    actions
        .iter()
        .filter(|a| a.after <= date)
        .cloned()
        .collect()
}

/// Folds the whole book of `p` again from the ledger and saves it.
pub fn save_book(ledger: &Ledger, p: &Pipeline) -> Result<Option<Book>, StoreError> {
    let Some(policy) = &p.open_items else {
        return Ok(None);
    };
    let inputs = ledger.book_inputs(&p.id)?;
    let (runs, actions) = ledger.open_item_history(&p.id, None)?;
    let book = Book::replay(&runs, &actions, policy);
    ledger.save_open_items(&p.id, &book, &Utc::now().to_rfc3339(), inputs)?;
    Ok(Some(book))
}

fn sums(items: impl Iterator<Item = (Option<String>, Option<Decimal>)>) -> Vec<CurrencyAmount> {
    let mut by: std::collections::BTreeMap<String, Decimal> = Default::default();
    for (currency, amount) in items {
        if let Some(a) = amount {
            *by.entry(currency.unwrap_or_default()).or_default() += a;
        }
    }
    by.into_iter()
        .map(|(currency, amount)| CurrencyAmount { currency, amount })
        .collect()
}

/// The report's note from the book after the run and the run's changes.
pub fn note(
    book: &Book,
    changes: &RunChanges,
    policy: &Policy,
    as_of: NaiveDate,
    ids: &std::collections::BTreeMap<Identity, i64>,
) -> OpenItemsNote {
    let open: Vec<_> = book.items.values().filter(|i| i.state.is_open()).collect();
    OpenItemsNote {
        new: changes.opened.len(),
        reopened: changes.reopened.len(),
        still_open: changes.still_open.len(),
        closed: changes.closed.len(),
        closed_amounts: sums(
            changes
                .closed
                .iter()
                .filter_map(|id| book.items.get(id).map(|i| (i.currency.clone(), i.amount))),
        ),
        carried: open
            .iter()
            .filter(|i| i.within_grace(policy, as_of))
            .count(),
        exceptions: open.iter().filter(|i| i.alerts(policy, as_of)).count(),
        acknowledged: open
            .iter()
            .filter(|i| i.state == State::Acknowledged)
            .map(|i| OpenItemLine {
                id: ids.get(&i.identity).copied().unwrap_or(0),
                key: i.identity.key.clone(),
                kind: i.identity.kind.clone(),
                age_days: age_days(i.open_since, as_of),
                amount: i.amount,
                currency: i.currency.clone(),
                note: i
                    .decision()
                    .map(|(who, note)| format!("{who}: {note}"))
                    .unwrap_or_default(),
            })
            .collect(),
        buckets: book
            .aging(policy, as_of)
            .into_iter()
            .map(|b| AgingBucket {
                name: b.name,
                count: b.count,
                amounts: b
                    .amounts
                    .into_iter()
                    .map(|(currency, amount)| CurrencyAmount { currency, amount })
                    .collect(),
            })
            .collect(),
    }
}

/// One row of the open-item gauges: items open (or acknowledged) of one state, age bucket and
/// currency, and their money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gauge {
    pub state: String,
    pub bucket: String,
    pub currency: String,
    pub count: u64,
    pub amount: Decimal,
}

/// The saved book of `p` as gauges (`/metrics`), aged on `as_of` (today in the pipeline's zone:
/// an item left alone keeps ageing between runs).
pub fn gauges(ledger: &Ledger, p: &Pipeline, as_of: NaiveDate) -> Result<Vec<Gauge>, StoreError> {
    let Some(policy) = &p.open_items else {
        return Ok(Vec::new());
    };
    let rows = ledger.open_items(&crate::store::open_items::ItemFilter {
        pipeline: Some(p.id.clone()),
        ..Default::default()
    })?;
    let names = policy.bucket_names();
    let mut by: std::collections::BTreeMap<(String, String, String), (u64, Decimal)> =
        Default::default();
    for r in rows {
        let open = State::parse(&r.state).is_some_and(|s| s.is_open());
        let Ok(since) = NaiveDate::parse_from_str(&r.open_since, "%Y-%m-%d") else {
            continue;
        };
        if !open {
            continue;
        }
        let bucket = names[policy.bucket(age_days(since, as_of))].clone();
        let amount = r
            .amount
            .as_deref()
            .and_then(|a| a.parse::<Decimal>().ok())
            .unwrap_or_default();
        let e = by
            .entry((r.state, bucket, r.currency.unwrap_or_default()))
            .or_default();
        e.0 += 1;
        e.1 += amount;
    }
    Ok(by
        .into_iter()
        .map(|((state, bucket, currency), (count, amount))| Gauge {
            state,
            bucket,
            currency,
            count,
            amount,
        })
        .collect())
}
