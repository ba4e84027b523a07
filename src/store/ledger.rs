//! The ledger: SQLite (WAL, synchronous=FULL) holding files, runs, issues and outbound files.
//! Readable with the `sqlite3` tool; the schema is created and upgraded here.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use super::StoreError;
use crate::issue::Issue;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    pipeline TEXT NOT NULL,
    name TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('claimed', 'processed', 'duplicate', 'quarantined', 'waiting', 'failed')),
    reason TEXT,
    duplicate_of INTEGER REFERENCES files(id),
    correction_of INTEGER REFERENCES files(id),
    stored_path TEXT,
    -- The business date computed at the claim (NULL when the name gives none, or in rows
    -- claimed before it was recorded and not known from a run).
    business_date TEXT
);
CREATE INDEX IF NOT EXISTS files_by_content ON files (pipeline, sha256);
CREATE INDEX IF NOT EXISTS files_by_name ON files (pipeline, name);
CREATE TABLE IF NOT EXISTS runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT UNIQUE,
    pipeline TEXT NOT NULL,
    business_date TEXT,
    file_id INTEGER REFERENCES files(id),
    started_at TEXT NOT NULL,
    ended_at TEXT,
    state TEXT NOT NULL CHECK (state IN ('running', 'succeeded', 'rejected', 'failed')),
    trigger TEXT NOT NULL CHECK (trigger IN ('file', 'rerun')),
    actor TEXT,
    reason TEXT,
    rerun_of TEXT,
    rows INTEGER,
    rows_set_aside INTEGER,
    issues INTEGER,
    counts TEXT,
    archive_path TEXT,
    message TEXT,
    -- 'pending' from the run's end until its exception report is archived and queued (then
    -- 'done'), so a crash in between is repaired from the archived report.json.
    report_state TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_date ON runs (pipeline, business_date);
CREATE TABLE IF NOT EXISTS issues (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    file TEXT NOT NULL,
    line INTEGER,
    column_name TEXT,
    value TEXT,
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS issues_by_run ON issues (run_id);
CREATE TABLE IF NOT EXISTS outbound (
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    written_at TEXT NOT NULL,
    -- Where the output was staged (relative to the home) until `published_at`; NULL in rows
    -- written before outputs were staged (published as they were written).
    temp_path TEXT,
    published_at TEXT
);
CREATE TABLE IF NOT EXISTS source_status (
    pipeline TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    last_ok_at TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    failing_since TEXT,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    pipeline TEXT NOT NULL,
    destination TEXT NOT NULL,
    name TEXT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    -- 1: delivered whatever the run's end (997s); 0: only once the run succeeded.
    always INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error TEXT,
    delivered_at TEXT,
    outcome TEXT,
    UNIQUE (run_id, destination, name)
);
";

pub struct Ledger {
    pub(super) conn: Connection,
}

/// A file's state in the ledger (`files.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
    /// Taken and not finished: processed by the next pass (recovery).
    Claimed,
    Processed,
    Duplicate,
    /// Rejected for its data (or after its operational failures ran out of attempts).
    Quarantined,
    /// Claimed, its bytes kept in the landing area, held until the ERP extract for its business
    /// date arrives or the pipeline's wait runs out (`runner::erp_wait`).
    Waiting,
    /// Its run failed on the pipeline's own configuration (a transform's SQL, an output): not
    /// the partner's fault, so held (not quarantined, not retried) until a `rerun` after the fix.
    Failed,
}

impl FileState {
    pub fn as_str(self) -> &'static str {
        match self {
            FileState::Claimed => "claimed",
            FileState::Processed => "processed",
            FileState::Duplicate => "duplicate",
            FileState::Quarantined => "quarantined",
            FileState::Waiting => "waiting",
            FileState::Failed => "failed",
        }
    }
}

pub use crate::config::source::DuplicateRule;

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

/// Filters for `runs`.
#[derive(Debug, Default, Clone)]
pub struct RunFilter {
    pub pipeline: Option<String>,
    pub date: Option<String>,
    pub state: Option<String>,
    pub limit: Option<u32>,
}

/// Columns added after the first release, added to ledgers created before them.
fn add_missing_columns(conn: &Connection) -> rusqlite::Result<()> {
    let has: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'report_state'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !has {
        conn.execute_batch("ALTER TABLE runs ADD COLUMN report_state TEXT")?;
    }
    let staged: bool = conn.query_row(
        "SELECT count(*) FROM pragma_table_info('outbound') WHERE name = 'temp_path'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )?;
    if !staged {
        conn.execute_batch(
            "ALTER TABLE outbound ADD COLUMN temp_path TEXT; ALTER TABLE outbound ADD COLUMN published_at TEXT;",
        )?;
    }
    Ok(())
}

/// The schema version this code writes (`PRAGMA user_version`). 1: `files.state` may be
/// `waiting` or `failed`, and `files.business_date` exists.
const SCHEMA_VERSION: i64 = 1;

/// Brings a ledger written by older code to `SCHEMA_VERSION`, inside the caller's IMMEDIATE
/// transaction (foreign keys are off while it runs: see `Ledger::open`).
fn migrate_versions(conn: &Connection) -> rusqlite::Result<()> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version < 1 {
        widen_file_states(conn)?;
    }
    if version < SCHEMA_VERSION {
        conn.execute_batch(&format!("PRAGMA user_version = {SCHEMA_VERSION}"))?;
    }
    Ok(())
}

/// Version 1. SQLite cannot alter a CHECK constraint, so a `files` table created with the old
/// list of states is rebuilt (same ids, so `runs.file_id` and the file links still hold), and
/// gains `business_date`, filled from the file's first run where it had one.
fn widen_file_states(conn: &Connection) -> rusqlite::Result<()> {
    let sql: String = conn.query_row(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'",
        [],
        |r| r.get(0),
    )?;
    if sql.contains("'waiting'") {
        return Ok(()); // created by this code's SCHEMA just now
    }
    let create = SCHEMA
        .split(";")
        .find(|s| s.contains("CREATE TABLE IF NOT EXISTS files ("))
        .expect("SCHEMA creates files")
        .replace(
            "CREATE TABLE IF NOT EXISTS files (",
            "CREATE TABLE files_new (",
        );
    conn.execute_batch(&format!(
        "{create};
         INSERT INTO files_new (id, pipeline, name, size, sha256, received_at, state, reason,
                                duplicate_of, correction_of, stored_path, business_date)
         SELECT f.id, f.pipeline, f.name, f.size, f.sha256, f.received_at, f.state, f.reason,
                f.duplicate_of, f.correction_of, f.stored_path,
                (SELECT r.business_date FROM runs r WHERE r.file_id = f.id ORDER BY r.seq LIMIT 1)
         FROM files f;
         DROP TABLE files;
         ALTER TABLE files_new RENAME TO files;
         CREATE INDEX IF NOT EXISTS files_by_content ON files (pipeline, sha256);
         CREATE INDEX IF NOT EXISTS files_by_name ON files (pipeline, name);"
    ))?;
    // The rebuild kept every id: nothing may point nowhere.
    let broken: i64 = conn.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
        r.get(0)
    })?;
    if broken > 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
            Some(format!(
                "{broken} row(s) lost their file after rebuilding `files`"
            )),
        ));
    }
    Ok(())
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
        // Off while the schema is upgraded: rebuilding `files` drops the old table, which
        // would otherwise check every reference to it (and the pragma is a no-op inside the
        // transaction); on again right after.
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(db(path))?;
        // One writer at a time creates or upgrades the schema (two processes starting together
        // would both see a column missing and both add it).
        conn.execute_batch("BEGIN IMMEDIATE").map_err(db(path))?;
        let migrated = conn
            .execute_batch(SCHEMA)
            .and_then(|()| add_missing_columns(&conn))
            .and_then(|()| migrate_versions(&conn))
            .and_then(|()| super::source_status::migrate(&conn))
            .and_then(|()| super::deliveries::migrate(&conn))
            .and_then(|()| super::interchanges::migrate(&conn))
            .map_err(db(path))
            .and_then(|()| {
                crate::report::queue::migrate(&conn).map_err(|e| StoreError::Io {
                    path: path.to_path_buf(),
                    step: "create the mail queue",
                    source: std::io::Error::other(e.to_string()),
                })
            });
        match migrated {
            Ok(()) => conn.execute_batch("COMMIT").map_err(db(path))?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(e);
            }
        }
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(db(path))?;
        Ok(Ledger { conn })
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

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Ledger {
            path: self.conn.path().map(Into::into).unwrap_or_default(),
            source,
        }
    }

    /// Records a landed file in one transaction and decides, under the pipeline's duplicate
    /// rule: new, correction (same name, other content) or duplicate.
    pub fn claim(
        &mut self,
        pipeline: &str,
        file: &Landing<'_>,
        rule: DuplicateRule,
    ) -> Result<Claim, StoreError> {
        let path = self
            .conn
            .path()
            .map(std::path::PathBuf::from)
            .unwrap_or_default();
        let e = |source| StoreError::Ledger {
            path: path.clone(),
            source,
        };
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(e)?;
        // `IS`: an undated file (its name gave no date) matches undated ones.
        let earlier: Option<i64> = tx
            .query_row(
                "SELECT id FROM files WHERE pipeline = ?1 AND sha256 = ?2 AND state <> 'duplicate'
                   AND (?5 = 'content'
                        OR (?5 = 'content_per_business_date' AND business_date IS ?3)
                        OR (?5 = 'name_and_content' AND name = ?4))
                 ORDER BY id LIMIT 1",
                params![
                    pipeline,
                    file.sha256,
                    file.business_date,
                    file.name,
                    rule.as_str()
                ],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?;
        let previous_name: Option<i64> = tx
            .query_row(
                "SELECT id FROM files WHERE pipeline = ?1 AND name = ?2 AND sha256 <> ?3 AND state <> 'duplicate' ORDER BY id DESC LIMIT 1",
                params![pipeline, file.name, file.sha256],
                |r| r.get(0),
            )
            .optional()
            .map_err(e)?;
        let state = match earlier {
            Some(_) => FileState::Duplicate,
            None => FileState::Claimed,
        };
        tx.execute(
            "INSERT INTO files (pipeline, name, size, sha256, received_at, state, duplicate_of, correction_of, stored_path, business_date)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                pipeline,
                file.name,
                file.size as i64,
                file.sha256,
                file.received_at,
                state.as_str(),
                earlier,
                if earlier.is_some() { None } else { previous_name },
                file.stored,
                file.business_date
            ],
        )
        .map_err(e)?;
        let file_id = tx.last_insert_rowid();
        tx.commit().map_err(e)?;
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
        self.conn
            .execute(
                "UPDATE files SET state = ?2, reason = ?3, stored_path = ?4 WHERE id = ?1",
                params![file_id, state.as_str(), reason, stored],
            )
            .map(|_| ())
            .map_err(self.err())
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
        self.conn
            .execute(
                "INSERT INTO runs (pipeline, business_date, file_id, started_at, state, trigger, actor, reason, rerun_of)
                 VALUES (?1, ?2, ?3, ?4, 'running', ?5, ?6, ?7, ?8)",
                params![pipeline, business_date, file_id, now, trigger, actor, reason, rerun_of],
            )
            .map_err(self.err())?;
        let seq = self.conn.last_insert_rowid();
        let run_id = format!("r{seq:06}");
        self.conn
            .execute(
                "UPDATE runs SET run_id = ?2 WHERE seq = ?1",
                params![seq, run_id],
            )
            .map_err(self.err())?;
        Ok(run_id)
    }

    /// Records where a run archives its files as soon as the folder is known (a crash mid-run
    /// leaves the input there).
    pub fn set_run_archive(&self, run_id: &str, archive_path: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET archive_path = ?2 WHERE run_id = ?1",
                params![run_id, archive_path],
            )
            .map(|_| ())
            .map_err(self.err())
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
    ) -> Result<(), StoreError> {
        // One transaction: the run's end, its issues and the outputs it will publish (with
        // their uploads queued), so recovery knows exactly what to make visible.
        let tx = self.conn.unchecked_transaction().map_err(self.err())?;
        // A run redone after an interruption is recorded once, whatever the first attempt did.
        tx.execute("DELETE FROM issues WHERE run_id = ?1", [run_id])
            .map_err(self.err())?;
        super::outputs::record(&tx, run_id, now, outputs).map_err(self.err())?;
        if let Some(f) = file_end {
            tx.execute(
                "UPDATE files SET state = ?2, reason = ?3, stored_path = ?4 WHERE id = ?1",
                params![f.file_id, f.state.as_str(), f.reason, f.stored],
            )
            .map_err(self.err())?;
        }
        let report_state = report_pending.then_some("pending");
        tx.execute(
            "UPDATE runs SET ended_at = ?2, state = ?3, rows = ?4, rows_set_aside = ?5, issues = ?6, counts = ?7,
             archive_path = ?8, message = ?9, report_state = ?10 WHERE run_id = ?1",
            params![run_id, now, state, rows, rows_set_aside, issues.len() as i64, counts, archive_path, message, report_state],
        )
        .map_err(self.err())?;
        {
            let mut stmt = tx
                .prepare("INSERT INTO issues (run_id, file, line, column_name, value, rule, severity, message) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)")
                .map_err(self.err())?;
            for i in issues {
                stmt.execute(params![
                    run_id,
                    i.file,
                    i.line.map(|l| l as i64),
                    i.column,
                    i.value,
                    i.rule,
                    i.severity.as_str(),
                    i.message
                ])
                .map_err(self.err())?;
            }
        }
        tx.commit().map_err(self.err())
    }

    /// Size and sha256 of a claimed file, as hashed when it landed.
    pub fn file_content(&self, file_id: i64) -> Result<Option<(u64, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT size, sha256 FROM files WHERE id = ?1",
                [file_id],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Where a run's archive folder is (relative to the home), if it has one.
    pub fn run_archive(&self, run_id: &str) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row(
                "SELECT archive_path FROM runs WHERE run_id = ?1",
                [run_id],
                |r| r.get(0),
            )
            .optional()
            .map(Option::flatten)
            .map_err(self.err())
    }

    /// Marks a run's exception report as archived and queued (or not wanted by the rule).
    pub fn set_report_done(&self, run_id: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE runs SET report_state = 'done' WHERE run_id = ?1",
                [run_id],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Runs of `pipeline` that ended but whose report was never archived and queued (a crash
    /// between the two): (run_id, archive_path), oldest first.
    pub fn pending_reports(&self, pipeline: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT run_id, archive_path FROM runs
                 WHERE pipeline = ?1 AND report_state = 'pending' AND archive_path IS NOT NULL
                 ORDER BY seq",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([pipeline], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<_, _>>().map_err(self.err())
    }

    pub fn runs(&self, filter: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.run_id, r.pipeline, r.business_date, f.name, r.started_at, r.ended_at, r.state, r.trigger,
                        r.actor, r.reason, r.rows, r.issues, r.counts, r.message, r.archive_path, r.file_id
                 FROM runs r LEFT JOIN files f ON f.id = r.file_id
                 WHERE (?1 IS NULL OR r.pipeline = ?1) AND (?2 IS NULL OR r.business_date = ?2) AND (?3 IS NULL OR r.state = ?3)
                 ORDER BY r.seq DESC LIMIT ?4",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(
                params![
                    filter.pipeline,
                    filter.date,
                    filter.state,
                    filter.limit.unwrap_or(50)
                ],
                |r| {
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
                },
            )
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
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
            .filter(|r| r.archive_path.is_some() && r.state != "running")
            .filter(|r| seen.insert(r.file.clone().unwrap_or_default()))
            .collect();
        out.reverse();
        Ok(out)
    }

    pub fn outbound_for_run(
        &self,
        run_id: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT destination, name, sha256 FROM outbound WHERE run_id = ?1 ORDER BY destination, name")
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![run_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Counts of files per state for a pipeline (for summaries and tests).
    pub fn file_states(&self, pipeline: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM files WHERE pipeline = ?1 GROUP BY state ORDER BY state")
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![pipeline], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `files` table as the first releases created it: four states, no business date.
    fn old_schema() -> String {
        let old = SCHEMA
            .replace(
                "'quarantined', 'waiting', 'failed')",
                "'quarantined')",
            )
            .replace(
                "    stored_path TEXT,\n    -- The business date computed at the claim (NULL when the name gives none, or in rows\n    -- claimed before it was recorded and not known from a run).\n    business_date TEXT\n",
                "    stored_path TEXT\n",
            );
        assert!(!old.contains("'waiting'") && !old.contains("    business_date TEXT\n);"));
        old
    }

    /// A ledger written by the old schema is rebuilt on open: its files keep their ids, links
    /// and runs, gain the business date of their first run, and may then be `waiting`/`failed`.
    #[test]
    fn old_ledgers_gain_the_new_file_states() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.sqlite");
        {
            let conn = Connection::open(&path).expect("open");
            conn.execute_batch(&old_schema()).expect("old schema");
            conn.execute_batch(
                "INSERT INTO files (id, pipeline, name, size, sha256, received_at, state, stored_path)
                 VALUES (1, 'p', 'a.csv', 3, 'aa', '2026-11-25T10:00:00.000Z', 'processed', 'archive/a');
                 INSERT INTO files (id, pipeline, name, size, sha256, received_at, state, duplicate_of)
                 VALUES (2, 'p', 'b.csv', 3, 'aa', '2026-11-25T11:00:00.000Z', 'duplicate', 1);
                 INSERT INTO runs (run_id, pipeline, business_date, file_id, started_at, state, trigger)
                 VALUES ('r000001', 'p', '2026-11-25', 1, '2026-11-25T10:00:01Z', 'succeeded', 'file');",
            )
            .expect("old rows");
            let bad = conn.execute("UPDATE files SET state = 'waiting' WHERE id = 1", []);
            assert!(bad.is_err(), "the old CHECK refuses the new states");
        }
        let mut ledger = Ledger::open(&path).expect("migrates");
        let conn = ledger.connection();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, SCHEMA_VERSION);
        let rows: Vec<(i64, String, Option<i64>, Option<String>)> = conn
            .prepare("SELECT id, state, duplicate_of, business_date FROM files ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(
            rows,
            vec![
                (1, "processed".into(), None, Some("2026-11-25".into())),
                (2, "duplicate".into(), Some(1), None),
            ]
        );
        ledger
            .set_file_state(1, FileState::Waiting, Some("w"), "x")
            .expect("waiting is a state now");
        ledger
            .set_file_state(1, FileState::Failed, Some("f"), "x")
            .expect("failed is a state now");
        // Foreign keys are on again, and point at the rebuilt table.
        let orphan = ledger.connection().execute(
            "INSERT INTO runs (run_id, pipeline, file_id, started_at, state, trigger)
             VALUES ('r000009', 'p', 99, 'now', 'running', 'file')",
            [],
        );
        assert!(orphan.is_err(), "runs.file_id still references files");
        // The claim works on the migrated table (per business date by default).
        let landing = |name, date| Landing {
            name,
            size: 3,
            sha256: "aa",
            business_date: Some(date),
            received_at: "2026-11-26T10:00:00.000Z",
            stored: "var/landing/p/x",
        };
        let next_day = ledger
            .claim(
                "p",
                &landing("c.csv", "2026-11-26"),
                DuplicateRule::default(),
            )
            .expect("claim");
        assert!(matches!(next_day, Claim::New { .. }), "{next_day:?}");
        drop(ledger);
        // Opening again changes nothing.
        let again = Ledger::open(&path).expect("reopen");
        let n: i64 = again
            .connection()
            .query_row("SELECT count(*) FROM files", [], |r| r.get(0))
            .expect("count");
        assert_eq!(n, 3);
    }

    /// Each duplicate rule, on the same history.
    #[test]
    fn the_duplicate_rule_decides_the_claim() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
        let file = |name, date| Landing {
            name,
            size: 3,
            sha256: "same",
            business_date: date,
            received_at: "2026-11-25T10:00:00.000Z",
            stored: "var/landing/p/x",
        };
        let first = file("stock_a.csv", Some("2026-11-25"));
        for rule in [
            DuplicateRule::ContentPerBusinessDate,
            DuplicateRule::Content,
            DuplicateRule::NameAndContent,
        ] {
            let p = rule.as_str();
            let c = ledger.claim(p, &first, rule).expect("claim");
            assert!(matches!(c, Claim::New { .. }));
        }
        let check = |ledger: &mut Ledger, rule: DuplicateRule, f: Landing<'_>, dup: bool| {
            let c = ledger.claim(rule.as_str(), &f, rule).expect("claim");
            assert_eq!(matches!(c, Claim::Duplicate { .. }), dup, "{rule:?} {f:?}");
        };
        use DuplicateRule::*;
        let same_date_other_name = file("stock_b.csv", Some("2026-11-25"));
        let next_date = file("stock_c.csv", Some("2026-11-26"));
        let same_name_next_date = file("stock_a.csv", Some("2026-11-27"));
        check(
            &mut ledger,
            ContentPerBusinessDate,
            same_date_other_name,
            true,
        );
        check(&mut ledger, ContentPerBusinessDate, next_date, false);
        check(&mut ledger, Content, same_date_other_name, true);
        check(&mut ledger, Content, next_date, true);
        check(&mut ledger, NameAndContent, same_date_other_name, false);
        check(&mut ledger, NameAndContent, same_name_next_date, true);
        // Undated files (the name gave no date) meet each other.
        check(
            &mut ledger,
            ContentPerBusinessDate,
            file("x.csv", None),
            false,
        );
        check(
            &mut ledger,
            ContentPerBusinessDate,
            file("y.csv", None),
            true,
        );
    }

    /// A ledger created before `runs.report_state` existed gets the column on open, and its
    /// old runs (NULL) are never taken for pending reports.
    #[test]
    fn old_ledgers_gain_the_report_state_column() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("ledger.sqlite");
        {
            let conn = Connection::open(&path).expect("open");
            let cut = SCHEMA
                .find(",\n    -- 'pending'")
                .expect("report_state in SCHEMA");
            let rest = &SCHEMA[cut..];
            let end =
                rest.find("report_state TEXT\n").expect("column") + "report_state TEXT\n".len();
            let old = format!("{}\n{}", &SCHEMA[..cut], &rest[end..]);
            assert_ne!(old, SCHEMA, "the old schema must lack the column");
            conn.execute_batch(&old).expect("old schema");
            conn.execute(
                "INSERT INTO runs (run_id, pipeline, started_at, state, trigger, archive_path)
                 VALUES ('r000001', 'p', '2026-01-01T00:00:00Z', 'succeeded', 'file', 'archive/p')",
                [],
            )
            .expect("old run");
        }
        let ledger = Ledger::open(&path).expect("reopen");
        assert!(ledger.pending_reports("p").expect("pending").is_empty());
        ledger
            .connection()
            .execute("UPDATE runs SET report_state = 'pending'", [])
            .expect("column exists");
        assert_eq!(
            ledger.pending_reports("p").expect("pending"),
            vec![("r000001".to_string(), "archive/p".to_string())]
        );
        ledger.set_report_done("r000001").expect("done");
        assert!(ledger.pending_reports("p").expect("pending").is_empty());
    }
}
