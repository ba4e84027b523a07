//! Resuming files a crash left behind: claimed in the ledger (so the partner's copy may already
//! be gone) but never finished. Their bytes are still in the landing area, or, if the run had
//! started, in the run's archive folder; either way they are processed now, once.

use chrono::Utc;
use rusqlite::params;

use super::{process, Outcome, RunError};
use crate::config::{Home, Pipeline};
use crate::store::files::safe_name;
use crate::store::{Ledger, StoreError};

/// Processes every `claimed` file of the pipeline that has no finished run.
pub fn resume_claimed(
    home: &Home,
    ledger: &Ledger,
    p: &Pipeline,
) -> Result<Vec<Outcome>, RunError> {
    let pending = claimed_files(ledger, &p.id)?;
    let mut out = Vec::new();
    for (file_id, name, stored, running) in pending {
        let source = home.root.join(&stored);
        let archived = running.map(|dir| home.root.join(dir).join("input").join(safe_name(&name)));
        let from = if source.is_file() {
            source
        } else if let Some(a) = archived.filter(|a| a.is_file()) {
            // The run had moved the input into its archive folder; copy it back to a landing name.
            let landing = home
                .var()
                .join("landing")
                .join(&p.id)
                .join(format!("resumed-{file_id}-{}", safe_name(&name)));
            std::fs::create_dir_all(landing.parent().unwrap_or(&home.root)).map_err(|e| {
                RunError::Io {
                    pipeline: p.id.clone(),
                    path: landing.clone(),
                    source: e,
                }
            })?;
            std::fs::copy(&a, &landing).map_err(|e| RunError::Io {
                pipeline: p.id.clone(),
                path: a.clone(),
                source: e,
            })?;
            landing
        } else {
            tracing::error!(pipeline = %p.id, file = %name, "claimed file #{file_id} has no bytes left to resume from ({stored})");
            continue;
        };
        tracing::warn!(pipeline = %p.id, file = %name, "resuming file #{file_id}, claimed before an interruption");
        mark_interrupted_runs(ledger, file_id)?;
        out.push(process(
            home,
            ledger,
            p,
            file_id,
            &name,
            &from,
            Utc::now(),
            None,
        )?);
    }
    Ok(out)
}

type Pending = (i64, String, String, Option<String>);

fn claimed_files(ledger: &Ledger, pipeline: &str) -> Result<Vec<Pending>, StoreError> {
    let conn = ledger.connection();
    let err = |source| StoreError::Ledger {
        path: conn.path().map(Into::into).unwrap_or_default(),
        source,
    };
    let mut stmt = conn
        .prepare(
            "SELECT f.id, f.name, coalesce(f.stored_path, ''),
                    (SELECT r.archive_path FROM runs r WHERE r.file_id = f.id ORDER BY r.seq DESC LIMIT 1)
             FROM files f WHERE f.pipeline = ?1 AND f.state = 'claimed' ORDER BY f.id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(params![pipeline], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

/// Runs left `running` by a crash are closed as failed, so history tells the truth.
fn mark_interrupted_runs(ledger: &Ledger, file_id: i64) -> Result<(), StoreError> {
    let conn = ledger.connection();
    conn.execute(
        "UPDATE runs SET state = 'failed', message = 'interrupted; resumed by a later run' WHERE file_id = ?1 AND state = 'running'",
        params![file_id],
    )
    .map(|_| ())
    .map_err(|source| StoreError::Ledger { path: conn.path().map(Into::into).unwrap_or_default(), source })
}
