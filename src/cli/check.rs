//! `tallyman check`: compile every pipeline and schema, then run each pipeline's SQL on no rows
//! with the schemas' columns (`runner::plan`), print every problem at once (exit 2); with
//! `--connections`, also log in to every SFTP source and destination and test its folder.
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use tallyman::config::ledger::LedgerBackend;
use tallyman::config::sftp::SftpEndpoint;
use tallyman::transport::sftp::Access;

#[derive(clap::Args)]
pub struct Args {
    /// Also connect to every SFTP source and destination: host key, login, and the folder
    /// readable (source) or writable (destination, by writing and removing a probe file).
    /// Exits 3 when one fails.
    #[arg(long)]
    pub connections: bool,
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    match super::load_config(&home) {
        Ok(tallyman::config::Config {
            pipelines,
            mail: m,
            ledger,
        }) => {
            // Each transform runs on no rows with the schemas' columns: a column typo fails
            // here rather than on a partner's file.
            let planned: Vec<_> = pipelines
                .iter()
                .flat_map(|(id, p)| {
                    tallyman::runner::plan::plan(p, &format!("pipelines/{id}.toml"))
                })
                .collect();
            if !planned.is_empty() {
                eprintln!("{} configuration problem(s):", planned.len());
                for e in &planned {
                    eprintln!("  {e}");
                }
                return Ok(ExitCode::from(super::EXIT_CONFIG));
            }
            for (id, p) in &pipelines {
                println!(
                    "ok  {id}: {} (source {}, schema {})",
                    p.description,
                    super::super::cli::run::shown(&home, &p.source.folder),
                    p.schema.name
                );
            }
            println!("{} pipeline(s) valid", pipelines.len());
            // SFTP sources are written over the network: a short quiet window takes a
            // stalled upload half-written.
            for (id, p) in &pipelines {
                if let (Some(_), Some(w)) = (&p.source.sftp, p.source.settle.network_warning()) {
                    println!("warning: {id}: SFTP source: {w}");
                }
            }
            match &m.smtp {
                Some(s) => println!("mail: SMTP {}:{} from {}", s.host, s.port, m.from),
                None => println!(
                    "mail: no smtp_host; reports are spooled as .eml files in {}",
                    super::run::shown(&home, &m.spool_dir)
                ),
            }
            match &ledger {
                LedgerBackend::Sqlite => println!("ledger: SQLite var/ledger.sqlite"),
                LedgerBackend::Postgres(target) => {
                    println!("ledger: PostgreSQL {target} ({})", target.tls)
                }
            }
            if args.connections {
                let mut failed = 0;
                for (id, p) in &pipelines {
                    let endpoints = p
                        .source
                        .sftp
                        .iter()
                        .map(|ep| ("source".to_string(), ep, Access::Source))
                        .chain(p.destinations.iter().map(|(name, ep)| {
                            (format!("destination {name}"), ep, Access::Destination)
                        }));
                    for (role, ep, access) in endpoints {
                        if !check_one(id, &role, ep, access) {
                            failed += 1;
                        }
                    }
                }
                if failed > 0 {
                    println!("{failed} connection(s) failed");
                    return Ok(ExitCode::from(3));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(code) => Ok(code),
    }
}

/// Tests one endpoint and prints one line saying what was proven, or why not.
fn check_one(id: &str, role: &str, ep: &SftpEndpoint, access: Access) -> bool {
    match ep.check(access) {
        Ok(r) => {
            let what = match access {
                Access::Source => format!("folder readable, {} file(s) match", r.matching_files),
                Access::Destination => "folder writable (probe written and removed)".to_string(),
            };
            println!(
                "ok  {id} {role}: {} host key {} ({}); logged in; {what}",
                ep.url(),
                r.host_key_fingerprint,
                r.cipher
            );
            true
        }
        Err(e) => {
            println!("FAIL {id} {role}: {}: {e}", ep.url());
            false
        }
    }
}
