//! `tallyman breaks [--pipeline P] [--state S] [--older-than D] [--json]`, `breaks show ID`,
//! `breaks ack ID --note TEXT`, `breaks close ID --as written_off|accepted --note TEXT`: the
//! open-item book of the reconciling pipelines. Each action is recorded with its actor
//! (`$TALLYMAN_ACTOR`, else `$USER`) and time; nothing is ever deleted.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use chrono::{Duration, Utc};
use tallyman::config::Pipeline;
use tallyman::engine::open_items::{Action, Book, Decision, Identity};
use tallyman::runner::open_items::save_book;
use tallyman::store::open_items::{ItemFilter, ItemRow};
use tallyman::store::Ledger;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Command>,
    /// Only this pipeline's items.
    #[arg(long)]
    pub pipeline: Option<String>,
    /// Only items in this state: open, acknowledged, resolved, written_off, accepted
    /// (default: open and acknowledged).
    #[arg(long)]
    pub state: Option<String>,
    /// Only items open for more than this many days.
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<u32>,
    /// List as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// One item's timeline: each run that showed it (date, run, file), closings, people's notes.
    Show { id: i64 },
    /// Someone is on it: listed in reports, no longer alerted on.
    Ack {
        id: i64,
        #[arg(long)]
        note: String,
    },
    /// Close an item by a person's decision.
    Close {
        id: i64,
        /// written_off or accepted.
        #[arg(long = "as", value_name = "HOW")]
        how: String,
        #[arg(long)]
        note: String,
    },
}

const STATES: [&str; 5] = [
    "open",
    "acknowledged",
    "resolved",
    "written_off",
    "accepted",
];

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let config = match super::load_config(&home) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let ledger = super::open_ledger(&home)?;
    // The book folded again from the ledger first: what a crash left unsaved is in it.
    for p in config.pipelines.values() {
        save_book(&ledger, p)?;
    }
    match args.action {
        None => list(&ledger, &args),
        Some(Command::Show { id }) => show(&ledger, &config.pipelines, id),
        Some(Command::Ack { id, note }) => {
            decide(&ledger, &config.pipelines, id, Decision::Acknowledge, &note)
        }
        Some(Command::Close { id, how, note }) => {
            let decision = match how.as_str() {
                "written_off" => Decision::WriteOff,
                "accepted" => Decision::Accept,
                other => bail!("--as {other}: use written_off or accepted"),
            };
            decide(&ledger, &config.pipelines, id, decision, &note)
        }
    }
}

fn list(ledger: &Ledger, args: &Args) -> Result<ExitCode> {
    if let Some(s) = &args.state {
        if !STATES.contains(&s.as_str()) {
            bail!("--state {s}: use one of {}", STATES.join(", "));
        }
    }
    let today = Utc::now().date_naive();
    let rows: Vec<ItemRow> = ledger
        .open_items(&ItemFilter {
            pipeline: args.pipeline.clone(),
            state: args.state.clone(),
            open_before: args
                .older_than
                .map(|d| today - Duration::days(i64::from(d))),
        })?
        .into_iter()
        .filter(|r| args.state.is_some() || matches!(r.state.as_str(), "open" | "acknowledged"))
        .collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no items");
    }
    for r in rows {
        let amount = match (&r.amount, &r.currency) {
            (Some(a), Some(c)) => format!("{a} {c}"),
            (Some(a), None) => a.clone(),
            _ => String::new(),
        };
        println!(
            "#{:<5} {:<22} {:<13} {:<20} {:>14}  since {}  last seen {}  {}{}",
            r.id,
            r.pipeline,
            r.state,
            r.kind,
            amount,
            r.open_since,
            r.last_seen,
            r.key,
            r.note.map(|n| format!("  [{n}]")).unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The pipeline and identity of item `id`, and the book it lives in.
fn find(
    ledger: &Ledger,
    pipelines: &std::collections::BTreeMap<String, Pipeline>,
    id: i64,
) -> Result<(Pipeline, Identity, Book)> {
    let row = ledger
        .open_item(id)?
        .ok_or_else(|| anyhow!("no item #{id} (see `tallyman breaks`)"))?;
    let p = pipelines.get(&row.pipeline).ok_or_else(|| {
        anyhow!(
            "item #{id}: pipeline {} is no longer configured",
            row.pipeline
        )
    })?;
    let book =
        save_book(ledger, p)?.ok_or_else(|| anyhow!("pipeline {} keeps no open items", p.id))?;
    Ok((
        p.clone(),
        Identity {
            key: row.key,
            kind: row.kind,
        },
        book,
    ))
}

fn show(
    ledger: &Ledger,
    pipelines: &std::collections::BTreeMap<String, Pipeline>,
    id: i64,
) -> Result<ExitCode> {
    let (p, identity, book) = find(ledger, pipelines, id)?;
    let Some(item) = book.items.get(&identity) else {
        bail!("item #{id}: no run that counts shows it any more");
    };
    println!(
        "#{id} {} {} ({}): {}",
        p.id,
        identity.key,
        identity.kind,
        item.state.as_str()
    );
    println!(
        "  first seen {}, last seen {}, open since {}",
        item.first_seen, item.last_seen, item.open_since
    );
    for e in &item.events {
        let amount = e.amount.map(|a| a.to_string()).unwrap_or_default();
        let what = match &e.happened {
            tallyman::engine::open_items::Happened::Decided {
                actor, note, at, ..
            } => format!(
                "{} by {actor} at {}: {note}",
                e.happened.label(),
                at.to_rfc3339()
            ),
            h => h.label().to_string(),
        };
        println!(
            "  {}  {:<8} {:<40} {:>12}  {}",
            e.date,
            e.run.as_deref().unwrap_or("-"),
            what,
            amount,
            e.source.as_deref().unwrap_or("")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn decide(
    ledger: &Ledger,
    pipelines: &std::collections::BTreeMap<String, Pipeline>,
    id: i64,
    decision: Decision,
    note: &str,
) -> Result<ExitCode> {
    if note.trim().is_empty() {
        bail!("--note: say why (it is kept with the item)");
    }
    let (p, identity, mut book) = find(ledger, pipelines, id)?;
    let actor = std::env::var("TALLYMAN_ACTOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    let after = ledger
        .latest_book_date(&p.id)?
        .unwrap_or_else(|| Utc::now().date_naive());
    let action = Action {
        identity,
        decision: decision.clone(),
        actor: actor.clone(),
        note: note.to_string(),
        at: Utc::now(),
        after,
    };
    // Checked on the book first: a closed item cannot be acknowledged or closed again.
    book.decide(&action)
        .map_err(|e| anyhow!("item #{id}: {e}"))?;
    ledger.record_open_item_action(id, &decision, &actor, note, action.at, after)?;
    save_book(ledger, &p)?;
    println!("item #{id}: {} by {actor}", decision.as_str());
    Ok(ExitCode::SUCCESS)
}
