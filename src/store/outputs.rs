//! The ledger's side of a run's outputs and of recovery: outputs recorded with their staging
//! names in the run's closing transaction, marked published once visible, and the runs a crash
//! left unfinished.

use super::db::{self, Exec};

use super::deliveries::NewDelivery;
use super::{Ledger, StoreError};
use crate::db_args;

/// An outbound file a run will publish, as recorded when the run ends.
#[derive(Debug, Clone)]
pub struct NewOutbound {
    pub destination: String,
    pub name: String,
    /// Final path, relative to the home.
    pub path: String,
    /// Staging path, relative to the home.
    pub temp_path: String,
    pub size: u64,
    pub sha256: String,
    pub delivery: Option<NewDelivery>,
}

/// A file's state as its run ends, recorded in the run's closing transaction (a crash can never
/// leave a finished run with its file still `claimed`, which would process it twice).
#[derive(Debug, Clone)]
pub struct FileEnd {
    pub file_id: i64,
    /// `Processed`, `Quarantined` or `Failed` (held for a rerun).
    pub state: super::FileState,
    pub reason: Option<String>,
    /// Where its bytes are, relative to the home.
    pub stored: String,
}

/// An output recorded but not yet made visible (a crash between the two).
#[derive(Debug, Clone)]
pub struct Unpublished {
    pub run_id: String,
    pub destination: String,
    pub name: String,
    pub path: String,
    pub temp_path: String,
    pub sha256: String,
}

/// A run a crash left `running`.
#[derive(Debug, Clone)]
pub struct Interrupted {
    pub run_id: String,
    pub file_id: Option<i64>,
    pub file: Option<String>,
    pub business_date: Option<String>,
    pub trigger: String,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub rerun_of: Option<String>,
    pub archive_path: Option<String>,
}

/// Records `outputs` of `run_id` inside the run's closing transaction.
pub(super) fn record(
    tx: &mut db::Tx<'_>,
    run_id: &str,
    now: &str,
    outputs: &[NewOutbound],
) -> Result<(), db::DbError> {
    // `seq` keeps the order they are published in (a control file after its data file).
    for (seq, o) in outputs.iter().enumerate() {
        tx.execute(
            "INSERT INTO outbound (run_id, destination, name, path, size, sha256, written_at, temp_path, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            db_args![run_id, o.destination, o.name, o.path, o.size, o.sha256, now, o.temp_path, seq as i64],
        )?;
        if let Some(d) = &o.delivery {
            let pipeline: String = tx
                .query_one(
                    "SELECT pipeline FROM runs WHERE run_id = ?1",
                    db_args![run_id],
                )?
                .get(0)?;
            tx.execute(
                "INSERT INTO deliveries (run_id, pipeline, destination, name, path, sha256, target, always, state, next_attempt_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0)
                 ON CONFLICT DO NOTHING",
                db_args![run_id, pipeline, o.destination, o.name, d.source, o.sha256, d.target, d.always],
            )?;
        }
    }
    Ok(())
}

impl Ledger {
    /// Outputs of `pipeline`'s ended runs that were recorded but not made visible, oldest first.
    pub fn unpublished_outputs(&self, pipeline: &str) -> Result<Vec<Unpublished>, StoreError> {
        self.rows(
            "find unpublished outputs",
            "SELECT o.run_id, o.destination, o.name, o.path, o.temp_path, o.sha256
             FROM outbound o JOIN runs r ON r.run_id = o.run_id
             WHERE r.pipeline = ?1 AND o.temp_path IS NOT NULL AND o.published_at IS NULL
             ORDER BY r.seq, o.seq",
            db_args![pipeline],
            |r| {
                Ok(Unpublished {
                    run_id: r.get(0)?,
                    destination: r.get(1)?,
                    name: r.get(2)?,
                    path: r.get(3)?,
                    temp_path: r.get(4)?,
                    sha256: r.get(5)?,
                })
            },
        )
    }

    /// Marks every output of a run as visible under its final name.
    pub fn mark_published(&self, run_id: &str, now: &str) -> Result<(), StoreError> {
        self.exec(
            "mark outputs published",
            "UPDATE outbound SET published_at = ?2 WHERE run_id = ?1 AND published_at IS NULL",
            db_args![run_id, now],
        )
        .map(|_| ())
    }

    /// Whether Tallyman recorded writing these bytes (by sha256) to this path (relative to the
    /// home): only such a file may be superseded by a later run's output of the same name.
    pub fn wrote(&self, path: &str, sha256: &str) -> Result<bool, StoreError> {
        self.row(
            "look for an output we wrote",
            "SELECT 1 FROM outbound WHERE path = ?1 AND sha256 = ?2 LIMIT 1",
            db_args![path, sha256],
            |_| Ok(()),
        )
        .map(|found| found.is_some())
    }

    /// Runs of `pipeline` left `running` (by a process that is gone: the caller holds the
    /// pipeline's lock), oldest first.
    pub fn interrupted_runs(&self, pipeline: &str) -> Result<Vec<Interrupted>, StoreError> {
        self.rows(
            "find interrupted runs",
            "SELECT r.run_id, r.file_id, f.name, r.business_date, r.trigger, r.actor, r.reason,
                    r.rerun_of, r.archive_path
             FROM runs r LEFT JOIN files f ON f.id = r.file_id
             WHERE r.pipeline = ?1 AND r.state = 'running' ORDER BY r.seq",
            db_args![pipeline],
            |r| {
                Ok(Interrupted {
                    run_id: r.get(0)?,
                    file_id: r.get(1)?,
                    file: r.get(2)?,
                    business_date: r.get(3)?,
                    trigger: r.get(4)?,
                    actor: r.get(5)?,
                    reason: r.get(6)?,
                    rerun_of: r.get(7)?,
                    archive_path: r.get(8)?,
                })
            },
        )
    }

    /// Files of `pipeline` left `claimed` with no run in progress: (id, name, stored path,
    /// archive folder of the latest run, how many runs of it failed).
    pub fn claimed_files(&self, pipeline: &str) -> Result<Vec<ClaimedFile>, StoreError> {
        self.rows(
            "find claimed files",
            "SELECT f.id, f.name, coalesce(f.stored_path, ''),
                    (SELECT count(*) FROM runs r WHERE r.file_id = f.id AND r.state = 'failed'),
                    f.received_at
             FROM files f WHERE f.pipeline = ?1 AND f.state = 'claimed'
               AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.file_id = f.id AND r.state = 'running')
             ORDER BY f.id",
            db_args![pipeline],
            |r| {
                Ok(ClaimedFile {
                    file_id: r.get(0)?,
                    name: r.get(1)?,
                    stored: r.get(2)?,
                    archives: Vec::new(),
                    failed_runs: r.get(3)?,
                    received_at: r.get(4)?,
                })
            },
        )?
        .into_iter()
        .map(|mut f| {
            f.archives = self.rows(
                "list a claimed file's run folders",
                "SELECT archive_path FROM runs
                 WHERE file_id = ?1 AND archive_path IS NOT NULL ORDER BY seq DESC",
                db_args![f.file_id],
                |r| r.get(0),
            )?;
            Ok(f)
        })
        .collect()
    }

    /// How many runs of a file failed (operational failures, retried up to a limit).
    pub fn failed_runs_of(&self, file_id: i64) -> Result<i64, StoreError> {
        self.one_row(
            "count a file's failed runs",
            "SELECT count(*) FROM runs WHERE file_id = ?1 AND state = 'failed' AND trigger = 'file'",
            db_args![file_id],
            |r| r.get(0),
        )
    }

    /// Records a run an interruption left `running` as failed at `now`, saying why.
    pub fn close_interrupted(&self, run_id: &str, why: &str, now: &str) -> Result<(), StoreError> {
        self.exec(
            "close an interrupted run",
            "UPDATE runs SET state = 'failed', message = ?2, ended_at = ?3 WHERE run_id = ?1 AND state = 'running'",
            db_args![run_id, why, now],
        )
        .map(|_| ())
    }

    /// Where a file's bytes are (relative to the home), as last recorded.
    pub fn stored_path(&self, file_id: i64) -> Result<Option<String>, StoreError> {
        self.row(
            "read where a file is",
            "SELECT stored_path FROM files WHERE id = ?1",
            db_args![file_id],
            |r| r.get(0),
        )
        .map(Option::flatten)
    }

    /// When a file was received (its claim), as RFC 3339 text.
    pub fn received_at(&self, file_id: i64) -> Result<Option<String>, StoreError> {
        self.row(
            "read when a file was received",
            "SELECT received_at FROM files WHERE id = ?1",
            db_args![file_id],
            |r| r.get(0),
        )
    }

    /// Writes a consistent copy of the ledger to `path`, a new SQLite file (a dry run works
    /// on the copy, so the ledger itself is never written): SQLite's `VACUUM INTO`, or the
    /// PostgreSQL ledger's rows copied into a new SQLite ledger (`export.rs`).
    pub fn copy_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.dialect() == db::Dialect::Postgres {
            return self.copy_to_sqlite(path);
        }
        self.exec(
            "copy the ledger for a dry run",
            "VACUUM INTO ?1",
            db_args![path.to_string_lossy().to_string()],
        )
        .map(|_| ())
    }

    /// Who asked for a run and why (a rerun's actor and reason), if the run exists.
    pub fn requested_by(&self, run_id: &str) -> Result<Option<Requester>, StoreError> {
        self.row(
            "read who asked for a run",
            "SELECT actor, reason FROM runs WHERE run_id = ?1",
            db_args![run_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// How many runs the ledger holds (0 for a new ledger).
    pub fn run_count(&self) -> Result<i64, StoreError> {
        self.one_row("count runs", "SELECT count(*) FROM runs", &[], |r| r.get(0))
    }
}

/// A run's actor and reason, as recorded (both absent for a file's own run).
pub type Requester = (Option<String>, Option<String>);

/// A file claimed and not finished (see [`Ledger::claimed_files`]).
#[derive(Debug, Clone)]
pub struct ClaimedFile {
    pub file_id: i64,
    pub name: String,
    pub stored: String,
    /// The run folders of the file's runs, newest first: where a retry finds its input (the
    /// newest may lack it, when its run was interrupted before it copied the input in).
    pub archives: Vec<String>,
    pub failed_runs: i64,
    pub received_at: Option<String>,
}
