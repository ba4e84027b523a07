//! The ledger: SQLite (WAL, synchronous=FULL; readable with the `sqlite3` tool) or PostgreSQL,
//! holding files, runs, issues and outbound files; the schema is created and upgraded here.

use std::cell::RefCell;
use std::path::Path;

use rusqlite::Connection;

use super::db::{self, Exec};
use super::{FileState, ReportState, RunState, StoreError};
use crate::config::ledger::PostgresTarget;
use crate::db_args;
use crate::issue::Issue;

pub struct Ledger {
    /// The SQLite ledger. With PostgreSQL, an empty in-memory database nothing reads or
    /// writes (every statement goes through `db()`).
    pub(super) conn: Connection,
    pub(super) postgres: Option<Postgres>,
}

/// A PostgreSQL ledger's client (statements take `&self`: one call at a time borrows it) and
/// its name for messages (never the password).
pub(super) struct Postgres {
    pub(super) client: RefCell<db::PgClient>,
    pub(super) name: String,
    /// Where it is, to connect again after the connection broke.
    pub(super) target: PostgresTarget,
}

use crate::config::source::DuplicateRule;

/// What a claim knows of a landed file.
#[derive(Debug, Clone, Copy)]
pub struct Landing<'a> {
    pub name: &'a str,
    pub size: u64,
    pub sha256: &'a str,
    /// The business date computed from the name or arrival (`None`: the name gives none).
    pub business_date: Option<&'a str>,
    pub received_at: &'a str,
    pub stored: &'a str,
}

/// What the claim decided for a landed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// New content: process it. `correction_of` is set when the same name came before with other content.
    New {
        file_id: i64,
        correction_of: Option<i64>,
    },
    /// A duplicate of an earlier file of this pipeline under its duplicate rule: recorded, not
    /// processed again. `why` says what matched, for the file's reason.
    Duplicate {
        file_id: i64,
        duplicate_of: i64,
        why: &'static str,
    },
}

/// A run row as listed by `tallyman runs`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunRow {
    pub run_id: String,
    pub file_id: Option<i64>,
    pub pipeline: String,
    pub business_date: Option<String>,
    pub file: Option<String>,
    pub started_at: String,
    pub ended_at: Option<String>,
    pub state: String,
    pub trigger: String,
    pub actor: Option<String>,
    pub reason: Option<String>,
    pub rows: Option<i64>,
    pub issues: Option<i64>,
    pub counts: Option<String>,
    pub message: Option<String>,
    pub archive_path: Option<String>,
}

/// The columns `run_row` reads, of `runs r LEFT JOIN files f ON f.id = r.file_id`: every
/// query that lists runs (here and `console_queries.rs`) selects these.
pub(super) const RUN_COLUMNS: &str =
    "r.run_id, r.pipeline, r.business_date, f.name, r.started_at, r.ended_at, r.state, r.trigger,
    r.actor, r.reason, r.rows, r.issues, r.counts, r.message, r.archive_path, r.file_id";

/// One row of `RUN_COLUMNS`.
pub(super) fn run_row(r: &db::Row) -> Result<RunRow, db::DbError> {
    Ok(RunRow {
        run_id: r.get(0)?,
        pipeline: r.get(1)?,
        business_date: r.get(2)?,
        file: r.get(3)?,
        started_at: r.get(4)?,
        ended_at: r.get(5)?,
        state: r.get(6)?,
        trigger: r.get(7)?,
        actor: r.get(8)?,
        reason: r.get(9)?,
        rows: r.get(10)?,
        issues: r.get(11)?,
        counts: r.get(12)?,
        message: r.get(13)?,
        archive_path: r.get(14)?,
        file_id: r.get(15)?,
    })
}

/// Filters for `runs`.
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub pipeline: Option<String>,
    pub date: Option<String>,
    pub state: Option<String>,
    pub limit: Option<u32>,
}

/// The first run folder found under `archive/<pipeline>/<date>/`, if any.
fn first_archived_run(archive: &Path) -> Option<std::path::PathBuf> {
    let dirs = |p: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(p)
            .map(|it| {
                it.filter_map(Result::ok)
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .collect()
            })
            .unwrap_or_default()
    };
    dirs(archive)
        .iter()
        .flat_map(|p| dirs(p))
        .flat_map(|d| dirs(&d))
        .find(|r| {
            r.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.len() > 1 && n.starts_with('r') && n[1..].bytes().all(|b| b.is_ascii_digit())
            })
        })
}

/// Applies the migrations the ledger lacks, one writer at a time.
fn migrate(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    // Off while the schema is upgraded: rebuilding `files` drops the old table, which would
    // otherwise check every reference to it (and the pragma is a no-op inside the
    // transaction); on again right after.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .map_err(db(path))?;
    // One writer at a time creates or upgrades the schema (two processes starting together
    // would both see a column missing and both add it).
    conn.execute_batch("BEGIN IMMEDIATE").map_err(db(path))?;
    match super::migrations::apply(conn, path) {
        Ok(()) => conn.execute_batch("COMMIT").map_err(db(path))?,
        Err(e) => {
            // The upgrade's own error is the one to report; a failed ROLLBACK leaves the
            // transaction to die with the connection, which undoes it as well.
            if let Err(r) = conn.execute_batch("ROLLBACK") {
                tracing::warn!(ledger = %path.display(), "rolling back a failed upgrade: {r}");
            }
            return Err(e);
        }
    }
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(db(path))
}

fn db(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Ledger {
        path: path.to_path_buf(),
        source,
    }
}

impl Ledger {
    pub fn open(path: &Path) -> Result<Ledger, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                path: parent.to_path_buf(),
                step: "create folder",
                source,
            })?;
        }
        let conn = Connection::open(path).map_err(db(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .map_err(db(path))?;
        // Switching to WAL answers SQLITE_BUSY at once (no busy handler) while another process
        // opens the same new ledger: wait for it like the busy timeout would.
        let started = std::time::Instant::now();
        loop {
            match conn.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < std::time::Duration::from_secs(30) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(db(path)(e)),
            }
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db(path))?;
        migrate(&conn, path)?;
        Ok(Ledger {
            conn,
            postgres: None,
        })
    }

    /// Connects to the PostgreSQL ledger `[ledger]` names and brings its schema up to date
    /// (refusing a newer one, or a database holding anything else).
    pub fn open_postgres(target: &PostgresTarget) -> Result<Ledger, StoreError> {
        let client = db::connect_postgres(target)?;
        let name = target.to_string();
        let ledger = Ledger {
            conn: Connection::open_in_memory().map_err(db(Path::new(":memory:")))?,
            postgres: Some(Postgres {
                client: RefCell::new(db::PgClient::new(client)),
                name: name.clone(),
                target: target.clone(),
            }),
        };
        super::migrations::postgres::apply(&mut ledger.db(), &name)?;
        Ok(ledger)
    }

    /// A ledger in memory with every table, for tests of the code above the ledger.
    pub fn open_in_memory() -> Result<Ledger, StoreError> {
        let path = Path::new(":memory:");
        let conn = Connection::open_in_memory().map_err(db(path))?;
        migrate(&conn, path)?;
        Ok(Ledger {
            conn,
            postgres: None,
        })
    }

    /// Opens a home's ledger (`var/ledger.sqlite`), refusing to create a new one while the
    /// home's archive holds runs: a fresh ledger would start again at r000001 and reuse run ids
    /// (and archive folders, outbound names and Message-IDs) that are evidence already.
    pub fn open_home(path: &Path, archive: &Path) -> Result<Ledger, StoreError> {
        let missing = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        if missing {
            if let Some(run) = first_archived_run(archive) {
                return Err(StoreError::LedgerLost {
                    path: path.to_path_buf(),
                    why: format!(
                        "it is missing or empty while the archive holds runs ({}); a new ledger \
                         would reuse their run ids. Restore it from a backup, or move the archive \
                         aside to start over deliberately",
                        run.display()
                    ),
                });
            }
        }
        Ledger::open(path)
    }

    /// The ledger `tallyman.toml`'s `[ledger]` names for `home`: the home's SQLite file
    /// (`open_home`'s refusals included) or the PostgreSQL ledger. What every command and
    /// every daemon worker opens.
    pub fn open_for_home(home: &crate::config::Home) -> Result<Ledger, StoreError> {
        let backend = crate::config::load_ledger(home).map_err(|es| StoreError::LedgerConfig {
            why: es
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        })?;
        match backend {
            crate::config::ledger::LedgerBackend::Sqlite => {
                Ledger::open_home(&home.var().join("ledger.sqlite"), &home.archive())
            }
            crate::config::ledger::LedgerBackend::Postgres(target) => {
                Ledger::open_postgres(&target)
            }
        }
    }

    /// Whether the ledger is PostgreSQL's (shared by every daemon of the home).
    pub fn is_shared(&self) -> bool {
        self.postgres.is_some()
    }

    /// The SQLite connection, for the migration tests (which look at SQLite's own schema):
    /// everything else asks the ledger a typed question through `store::db`.
    #[cfg(test)]
    pub(in crate::store) fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Records a landed file in one transaction and decides, under the pipeline's duplicate
    /// rule: new, correction (same name, other content) or duplicate.
    pub fn claim(
        &mut self,
        pipeline: &str,
        file: &Landing<'_>,
        rule: DuplicateRule,
    ) -> Result<Claim, StoreError> {
        let what = "claim a file";
        let mut conn = self.db();
        let mut tx = conn.write().map_err(self.q(what))?;
        // `IS NOT DISTINCT FROM`: an undated file (its name gave no date) matches undated ones.
        let earlier: Option<i64> = tx
            .query_opt(
                "SELECT id FROM files WHERE pipeline = ?1 AND sha256 = ?2 AND state <> 'duplicate'
                   AND (CAST(?5 AS TEXT) = 'content'
                        OR (CAST(?5 AS TEXT) = 'content_per_business_date'
                            AND business_date IS NOT DISTINCT FROM ?3)
                        OR (CAST(?5 AS TEXT) = 'name_and_content' AND name = ?4))
                 ORDER BY id LIMIT 1",
                db_args![
                    pipeline,
                    file.sha256,
                    file.business_date,
                    file.name,
                    rule.as_str()
                ],
            )
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(self.q(what))?;
        let previous_name: Option<i64> = tx
            .query_opt(
                "SELECT id FROM files WHERE pipeline = ?1 AND name = ?2 AND sha256 <> ?3 AND state <> 'duplicate' ORDER BY id DESC LIMIT 1",
                db_args![pipeline, file.name, file.sha256],
            )
            .and_then(|r| r.map(|r| r.get(0)).transpose())
            .map_err(self.q(what))?;
        let state = match earlier {
            Some(_) => FileState::Duplicate,
            None => FileState::Claimed,
        };
        // A file taken for processing is leased to this process with its claim (a duplicate
        // is done with at once and needs none): another daemon takes it over only once the
        // lease ran out or its holder is known dead (`file_leases.rs`).
        let lease = earlier
            .is_none()
            .then(|| (super::lease::owner(), super::file_leases::lease_end()));
        let file_id: i64 = tx
            .query_one(
                "INSERT INTO files (pipeline, name, size, sha256, received_at, state, duplicate_of, correction_of, stored_path, business_date, lease_owner, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
                db_args![
                    pipeline,
                    file.name,
                    file.size,
                    file.sha256,
                    file.received_at,
                    state,
                    earlier,
                    if earlier.is_some() { None } else { previous_name },
                    file.stored,
                    file.business_date,
                    lease.as_ref().map(|l| l.0.as_str()),
                    lease.as_ref().map(|l| l.1)
                ],
            )
            .and_then(|r| r.get(0))
            .map_err(self.q(what))?;
        tx.commit().map_err(self.q(what))?;
        Ok(match earlier {
            Some(duplicate_of) => Claim::Duplicate {
                file_id,
                duplicate_of,
                why: rule.describe(),
            },
            None => Claim::New {
                file_id,
                correction_of: previous_name,
            },
        })
    }

    pub fn set_file_state(
        &self,
        file_id: i64,
        state: FileState,
        reason: Option<&str>,
        stored: &str,
    ) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE files SET state = ?2, reason = ?3, stored_path = ?4 WHERE id = ?1",
                db_args![file_id, state, reason, stored],
            )
            .map(|_| ())
            .map_err(self.q("set a file's state"))
    }

    /// Starts a run and returns its id (`r` + zero-padded sequence: sortable, unique per ledger).
    #[allow(clippy::too_many_arguments)]
    pub fn start_run(
        &self,
        pipeline: &str,
        business_date: Option<&str>,
        file_id: Option<i64>,
        now: &str,
        trigger: &str,
        actor: Option<&str>,
        reason: Option<&str>,
        rerun_of: Option<&str>,
    ) -> Result<String, StoreError> {
        let what = "start a run";
        let mut conn = self.db();
        let seq: i64 = conn
            .query_one(
                "INSERT INTO runs (pipeline, business_date, file_id, started_at, state, trigger, actor, reason, rerun_of)
                 VALUES (?1, ?2, ?3, ?4, ?9, ?5, ?6, ?7, ?8) RETURNING seq",
                db_args![pipeline, business_date, file_id, now, trigger, actor, reason, rerun_of, RunState::Running],
            )
            .and_then(|r| r.get(0))
            .map_err(self.q(what))?;
        let run_id = format!("r{seq:06}");
        conn.execute(
            "UPDATE runs SET run_id = ?2 WHERE seq = ?1",
            db_args![seq, run_id],
        )
        .map_err(self.q(what))?;
        Ok(run_id)
    }

    /// Records where a run archives its files as soon as the folder is known (a crash mid-run
    /// leaves the input there).
    pub fn set_run_archive(&self, run_id: &str, archive_path: &str) -> Result<(), StoreError> {
        self.db()
            .execute(
                "UPDATE runs SET archive_path = ?2 WHERE run_id = ?1",
                db_args![run_id, archive_path],
            )
            .map(|_| ())
            .map_err(self.q("record a run's archive"))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn finish_run(
        &self,
        run_id: &str,
        now: &str,
        state: &str,
        rows: Option<i64>,
        rows_set_aside: Option<i64>,
        issues: &[Issue],
        counts: Option<&str>,
        archive_path: Option<&str>,
        message: Option<&str>,
        report_pending: bool,
        outputs: &[super::outputs::NewOutbound],
        file_end: Option<&super::outputs::FileEnd>,
        open_items: Option<(&str, &crate::engine::open_items::RunView)>,
        orders: Option<&super::orders::OrdersRecord>,
        catalog: Option<&super::catalog::CatalogEnd>,
    ) -> Result<(), StoreError> {
        let what = "finish a run";
        let mut conn = self.db();
        // One transaction: the run's end, its issues and the outputs it will publish (with
        // their uploads queued), so recovery knows exactly what to make visible.
        let mut tx = conn.write().map_err(self.q(what))?;
        // A run redone after an interruption is recorded once, whatever the first attempt did.
        tx.execute("DELETE FROM issues WHERE run_id = ?1", db_args![run_id])
            .map_err(self.q(what))?;
        super::outputs::record(&mut tx, run_id, now, outputs)
            .map_err(self.q("record a run's outputs"))?;
        // The run's breaks as the open-item book will fold them: with the run, or not at all.
        if let Some((pipeline, view)) = open_items {
            super::open_items::record(&mut tx, pipeline, view)
                .map_err(self.q("record a run's open items"))?;
        }
        // The run's orders: taken with the outputs that send them, or not at all.
        if let Some(r) = orders {
            super::orders::record(&mut tx, r).map_err(self.q("record a run's orders"))?;
        }
        // The catalog version the run accepted (it exists exactly when the run succeeded), or
        // the hold of a rejected one.
        if let Some(v) = catalog {
            super::catalog::record(&mut tx, v, now).map_err(self.q("record a run's catalog"))?;
        }
        if let Some(f) = file_end {
            tx.execute(
                "UPDATE files SET state = ?2, reason = ?3, stored_path = ?4 WHERE id = ?1",
                db_args![f.file_id, f.state, f.reason, f.stored],
            )
            .map_err(self.q(what))?;
        }
        let report_state = report_pending.then_some(ReportState::Pending);
        tx.execute(
            "UPDATE runs SET ended_at = ?2, state = ?3, rows = ?4, rows_set_aside = ?5, issues = ?6, counts = ?7,
             archive_path = ?8, message = ?9, report_state = ?10 WHERE run_id = ?1",
            db_args![run_id, now, state, rows, rows_set_aside, issues.len(), counts, archive_path, message, report_state],
        )
        .map_err(self.q(what))?;
        let rows: Vec<Vec<db::Value>> = (issues.iter().enumerate())
            .map(|(seq, i)| {
                db_args![
                    run_id,
                    i.file,
                    i.line,
                    i.column,
                    i.value,
                    i.rule,
                    i.severity.as_str(),
                    i.message,
                    seq as i64
                ]
                .to_vec()
            })
            .collect();
        db::insert_rows(
            &mut tx,
            "INSERT INTO issues (run_id, file, line, column_name, value, rule, severity, message, seq)",
            9,
            &rows,
        )
        .map_err(self.q("record a run's issues"))?;
        tx.commit().map_err(self.q(what))
    }

    /// Size and sha256 of a claimed file, as hashed when it landed.
    pub fn file_content(&self, file_id: i64) -> Result<Option<(u64, String)>, StoreError> {
        let what = "read a file's content";
        let row = self
            .db()
            .query_opt(
                "SELECT size, sha256 FROM files WHERE id = ?1",
                db_args![file_id],
            )
            .map_err(self.q(what))?;
        row.map(|r| Ok((r.get(0)?, r.get(1)?)))
            .transpose()
            .map_err(self.q(what))
    }

    /// Where a run's archive folder is (relative to the home), if it has one.
    pub fn run_archive(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        let what = "read a run's archive";
        let row = self
            .db()
            .query_opt(
                "SELECT archive_path FROM runs WHERE run_id = ?1",
                db_args![run_id],
            )
            .map_err(self.q(what))?;
        Ok(row
            .map(|r| r.get::<Option<String>>(0))
            .transpose()
            .map_err(self.q(what))?
            .flatten())
    }

    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        self.rows(
            "list runs",
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs r LEFT JOIN files f ON f.id = r.file_id
                 WHERE (CAST(?1 AS TEXT) IS NULL OR r.pipeline = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR r.business_date = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR r.state = ?3)
                 ORDER BY r.seq DESC LIMIT ?4"
            ),
            db_args![
                filter.pipeline,
                filter.date,
                filter.state,
                filter.limit.unwrap_or(50)
            ],
            run_row,
        )
    }

    /// The latest run of each file name for a pipeline and business date (file-triggered or
    /// rerun), oldest first: what a rerun replays.
    pub fn latest_runs_for_date(
        &self,
        pipeline: &str,
        date: &str,
    ) -> Result<Vec<RunRow>, StoreError> {
        let all = self.runs(&RunFilter {
            pipeline: Some(pipeline.into()),
            date: Some(date.into()),
            state: None,
            limit: Some(100_000),
        })?;
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<RunRow> = all
            .into_iter()
            .filter(|r| r.archive_path.is_some() && r.state != RunState::Running.as_str())
            .filter(|r| seen.insert(r.file.clone().unwrap_or_default()))
            .collect();
        out.reverse();
        Ok(out)
    }

    pub fn outbound_for_run(
        &self,
        run_id: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let what = "list a run's outbound files";
        let rows = self
            .db()
            .query(
                "SELECT destination, name, sha256 FROM outbound WHERE run_id = ?1 ORDER BY destination, name",
                db_args![run_id],
            )
            .map_err(self.q(what))?;
        rows.iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .collect::<Result<Vec<_>, db::DbError>>()
            .map_err(self.q(what))
    }

    /// Counts of files per state for a pipeline (for summaries and tests).
    pub fn file_states(&self, pipeline: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let what = "count files per state";
        let rows = self
            .db()
            .query(
                "SELECT state, count(*) FROM files WHERE pipeline = ?1 GROUP BY state ORDER BY state",
                db_args![pipeline],
            )
            .map_err(self.q(what))?;
        rows.iter()
            .map(|r| Ok((r.get(0)?, r.get(1)?)))
            .collect::<Result<Vec<_>, db::DbError>>()
            .map_err(self.q(what))
    }
}
