//! `tallyman orders [--state S] [--stuck-for DAYS | --stuck] [--json]` and
//! `tallyman orders show ID [--channel C] [--json]`:
//! every order taken (by channel and order id) with its state and any amendment waiting for a
//! person, and one order's timeline (each file, run and line that concerned it).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use tallyman::store::orders::{OrderRow, OrderState};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Command>,
    /// Only orders in this state: received, released, rejected, shipped, partly_shipped,
    /// invoiced, settled, returned.
    #[arg(long)]
    pub state: Option<String>,
    /// Only orders still open (received, released, partly shipped) with no step for more
    /// than this many days: released but not shipped, for instance.
    #[arg(long, value_name = "DAYS")]
    pub stuck_for: Option<u32>,
    /// Only orders in a state longer than their pipelines allow (`[orders] stuck`, per
    /// channel; the smallest allowance when two pipelines of a channel differ).
    #[arg(long, conflicts_with_all = ["stuck_for", "state"])]
    pub stuck: bool,
    /// As JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// One order's timeline: each verdict and release with its file, run and line.
    Show {
        id: String,
        /// The channel, when two channels use the same order id.
        #[arg(long)]
        channel: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let ledger = super::open_ledger(&home)?;
    match args.action {
        Some(Command::Show { id, channel, json }) => {
            let events = ledger.order_timeline(&id, channel.as_deref())?;
            if events.is_empty() {
                eprintln!("no order {id} in the ledger");
                return Ok(ExitCode::from(2));
            }
            if json || args.json {
                println!("{}", serde_json::to_string_pretty(&events)?);
                return Ok(ExitCode::SUCCESS);
            }
            for e in &events {
                let line = e.line.map(|l| format!(" line {l}")).unwrap_or_default();
                let detail = e
                    .detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default();
                println!(
                    "{}  {}/{}  {} (version {})  {} run {} {}{line}{detail}",
                    e.at, e.channel, e.order_id, e.event, e.version, e.pipeline, e.run_id, e.file
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None if args.stuck => {
            let config = match super::load_config(&home) {
                Ok(c) => c,
                Err(code) => return Ok(code),
            };
            let mut allowances: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
            for p in config.pipelines.values() {
                let Some(o) = &p.orders else { continue };
                let channel = allowances.entry(o.channel.clone()).or_default();
                for (state, secs) in &o.stuck {
                    let a = channel.entry(state.clone()).or_insert(*secs);
                    *a = (*a).min(*secs);
                }
            }
            let now = chrono::Utc::now();
            let mut rows = Vec::new();
            for (channel, a) in &allowances {
                rows.extend(ledger.stuck_orders(channel, a, now)?);
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if allowances.values().all(|a| a.is_empty()) {
                println!("no pipeline names allowances ([orders] stuck)");
            } else if rows.is_empty() {
                println!("no stuck orders");
            }
            for s in &rows {
                println!(
                    "{}/{}  {} since {}  {} h ({} h allowed)",
                    s.channel, s.order_id, s.state, s.since, s.hours, s.allowed_hours
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            let state = match args.state.as_deref().map(str::parse::<OrderState>) {
                Some(Err(why)) => {
                    eprintln!("--state: {why}");
                    return Ok(ExitCode::from(2));
                }
                Some(Ok(s)) => Some(s),
                None => None,
            };
            let mut rows = ledger.orders(state)?;
            if let Some(days) = args.stuck_for {
                let before = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
                rows.retain(|r| stuck(r, before));
            }
            if args.json {
                println!("{}", serde_json::to_string_pretty(&rows)?);
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                println!("no orders");
            }
            for r in &rows {
                let flag = match &r.pending_amendment {
                    Some(_) => "  AMENDMENT waiting for a person",
                    None => "",
                };
                println!(
                    "{}/{}  {}  version {}  first run {}  updated {}{flag}",
                    r.channel, r.order_id, r.state, r.version, r.first_run, r.updated_at
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether an order is still open and had its last step before `before`.
fn stuck(r: &OrderRow, before: chrono::DateTime<chrono::Utc>) -> bool {
    let open = matches!(r.state.as_str(), "received" | "released" | "partly_shipped");
    let at = chrono::DateTime::parse_from_rfc3339(&r.updated_at).map(|t| t.to_utc());
    open && at.is_ok_and(|t| t < before)
}
