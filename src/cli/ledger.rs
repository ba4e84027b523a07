//! `tallyman ledger migrate`: brings the ledger `tallyman.toml` names (SQLite in the home, or
//! PostgreSQL) to this release's schema version, and says which version it is at. A ledger
//! newer than this release is refused, as at every start. `tallyman ledger export`: the home's
//! SQLite ledger copied into the (empty) PostgreSQL ledger `[ledger]` names.
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
    /// Copy the home's SQLite ledger (`var/ledger.sqlite`) into the empty PostgreSQL ledger
    /// `[ledger]` names (migrated first), in one transaction; stop the daemon first.
    Export,
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
        Action::Export => {
            let LedgerBackend::Postgres(target) = &backend else {
                return Err(anyhow!(
                    "tallyman.toml: [ledger] does not name a PostgreSQL ledger to export into"
                ));
            };
            // No daemon may write the SQLite ledger while it is copied.
            let _lock = tallyman::store::home_lock::DataLock::acquire(&home.root)
                .map_err(|e| anyhow!("{e}: stop the daemon before exporting"))?;
            let source_path = home.var().join("ledger.sqlite");
            if !source_path.exists() {
                return Err(anyhow!("{}: no ledger to export", source_path.display()));
            }
            let source = super::open_sqlite_ledger(&home)?;
            let ledger = Ledger::open_postgres(target)
                .with_context(|| format!("opening the ledger {target}"))?;
            let copied = source.export_to(&ledger)?;
            for (table, rows) in &copied {
                println!("{table}: {rows} row(s)");
            }
            println!("exported {} into {}", source.name(), ledger.name());
        }
    }
    Ok(ExitCode::SUCCESS)
}
