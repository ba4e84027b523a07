//! `tallyman ledger migrate`: brings the ledger `tallyman.toml` names (SQLite in the home, or
//! PostgreSQL) to this release's schema version, and says which version it is at. A ledger
//! newer than this release is refused, as at every start.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use tallyman::config::ledger::LedgerBackend;
use tallyman::store::{Ledger, SCHEMA_VERSION};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Action,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Apply the migrations the ledger lacks (one transaction; safe to run again, and from
    /// several hosts at once).
    Migrate,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let backend = tallyman::config::load_ledger(&home).map_err(|es| {
        anyhow!(es
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; "))
    })?;
    match args.action {
        Action::Migrate => {
            let ledger = match &backend {
                LedgerBackend::Sqlite => super::open_sqlite_ledger(&home)?,
                LedgerBackend::Postgres(target) => Ledger::open_postgres(target)
                    .with_context(|| format!("opening the ledger {target}"))?,
            };
            println!("ledger {}: schema version {SCHEMA_VERSION}", ledger.name());
        }
    }
    Ok(ExitCode::SUCCESS)
}
