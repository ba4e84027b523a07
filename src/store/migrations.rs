//! Every table of the ledger, created and changed by one ordered list of migrations. A ledger
//! records the last one it has in `PRAGMA user_version`; `Ledger::open` applies the rest in one
//! IMMEDIATE transaction, and refuses a ledger newer than this list.
//!
//! Version 1 is the baseline: the ledger as it was when the list was introduced, built by the
//! `BASELINE` steps in order. Before the list each module created its tables on open or on
//! first use, and `user_version` was 0, or 1 once `files` was rebuilt; such a ledger holds any
//! subset of the baseline, with or without the columns added later. So the baseline's steps look
//! before they create or add, and a ledger the list has not written yet (no `LEDGER_ID` in
//! `PRAGMA application_id`) gets the whole baseline whatever its `user_version` says. Versions
//! after 1 run exactly once, on a ledger that has every version before them, and are written
//! plainly.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

mod ddl;
pub(super) mod postgres;

use ddl::{CORE, FILES, FILES_INDEXES};

/// One step: what it does, and how.
type Step = (&'static str, fn(&Connection) -> rusqlite::Result<()>);

/// One version: its number (its place in the list), its SQLite steps in order, and the same
/// change for PostgreSQL (the shared DDL of `ddl.rs`; a PostgreSQL ledger has no history from
/// before the list, so it needs none of the baseline's looking first).
struct Migration {
    version: i64,
    steps: &'static [Step],
    postgres: &'static [postgres::PgStep],
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        steps: BASELINE,
        postgres: postgres::BASELINE,
    },
    Migration {
        version: 2,
        steps: &[("open items: observations, actions, the book", open_items)],
        postgres: &[("open items", ddl::OPEN_ITEMS)],
    },
    Migration {
        version: 3,
        steps: &[(
            "orders: each order's events, its state, its shipments",
            orders,
        )],
        postgres: &[("orders", ddl::ORDERS)],
    },
    Migration {
        version: 4,
        steps: &[(
            "catalog_versions, catalog_holds, catalog_approvals",
            catalog_versions,
        )],
        postgres: &[("catalogs", ddl::CATALOGS)],
    },
    Migration {
        version: 5,
        steps: &[(
            "console_actions and paused_pipelines",
            super::console::console_tables,
        )],
        postgres: &[(
            "console_actions and paused_pipelines",
            super::console::CONSOLE_DDL,
        )],
    },
    Migration {
        version: 6,
        steps: &[(
            "insertion order of outbound, issues, observations",
            seq_columns,
        )],
        postgres: &[(
            "insertion order of outbound, issues, observations",
            ddl::SEQ_COLUMNS,
        )],
    },
    Migration {
        version: 7,
        steps: &[("leases on claimed files and scheduled ticks", file_leases)],
        postgres: &[("leases on claimed files and scheduled ticks", FILE_LEASES)],
    },
];

/// Version 7: who holds a claimed file, or a pipeline's scheduled tick, and until when (unix
/// seconds), so daemons sharing a ledger take over what a dead one held (`file_leases.rs`,
/// `tick_leases.rs`).
fn file_leases(conn: &Connection) -> rusqlite::Result<()> {
    add_column(conn, "files", "lease_owner", "TEXT")?;
    add_column(conn, "files", "lease_until", "INTEGER")?;
    add_column(conn, "daemon_pipelines", "tick_owner", "TEXT")?;
    add_column(conn, "daemon_pipelines", "tick_until", "INTEGER")
}

const FILE_LEASES: &str = "ALTER TABLE files ADD COLUMN lease_owner TEXT;
     ALTER TABLE files ADD COLUMN lease_until INTEGER;
     ALTER TABLE daemon_pipelines ADD COLUMN tick_owner TEXT;
     ALTER TABLE daemon_pipelines ADD COLUMN tick_until INTEGER;";

/// The baseline (version 1), in the order the tables came to be.
const BASELINE: &[Step] = &[
    (
        "files, runs, issues, outbound, source_status and deliveries",
        core,
    ),
    ("leases on deliveries", delivery_leases),
    ("remote_actions", remote_actions),
    ("x12_interchanges_received", interchanges),
    ("mail_queue and mail_identity", mail_queue),
    ("daemon_pipelines and late_alerts", daemon),
    ("x12_control_numbers", x12_control_numbers),
    ("sftp_kept", sftp_kept),
];

/// The version this code writes: the last migration's.
pub const SCHEMA_VERSION: i64 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// `PRAGMA application_id` of a ledger this list has written ("TLLY"): tells a ledger from
/// before the list (0) from one whose version the list counts, and refuses another program's
/// database.
pub(super) const LEDGER_ID: i64 = 0x544c_4c59;

/// Brings the ledger to `SCHEMA_VERSION`, inside the caller's IMMEDIATE transaction (foreign
/// keys off: rebuilding `files` drops the old table).
pub(super) fn apply(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let sql = |what: &'static str| {
        move |source| StoreError::Sql {
            path: path.to_path_buf(),
            what,
            source,
        }
    };
    let pragma = |name: &str| -> Result<i64, StoreError> {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))
            .map_err(sql("read the ledger version"))
    };
    let (found, id) = (pragma("user_version")?, pragma("application_id")?);
    if id != 0 && id != LEDGER_ID {
        return Err(StoreError::NotALedger {
            path: path.to_path_buf(),
            application_id: id,
        });
    }
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    // Before the list, `user_version` only counted the rebuild of `files`.
    let from = if id == LEDGER_ID { found } else { 0 };
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        for (what, step) in m.steps {
            step(conn).map_err(sql(what))?;
            tracing::debug!(version = m.version, "ledger migrated: {what}");
        }
    }
    if found != SCHEMA_VERSION || id != LEDGER_ID {
        conn.execute_batch(&format!(
            "PRAGMA user_version = {SCHEMA_VERSION}; PRAGMA application_id = {LEDGER_ID};"
        ))
        .map_err(sql("record the ledger version"))?;
    }
    Ok(())
}

/// Whether `table` has `column` (ledgers from before a column was added lack it).
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )
}

/// Adds `column` to `table` unless a ledger from before this list has it already.
fn add_column(conn: &Connection, table: &str, column: &str, decl: &str) -> rusqlite::Result<()> {
    if has_column(conn, table, column)? {
        return Ok(());
    }
    conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} {decl}"))
}

/// The first tables; older ledgers gain `runs.report_state` and the staging columns
/// of `outbound`, and a `files` table created with the first four states is rebuilt.
fn core(conn: &Connection) -> rusqlite::Result<()> {
    let old_files: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'files'",
            [],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    conn.execute_batch(&format!("{FILES};{FILES_INDEXES}{CORE}"))?;
    add_column(conn, "runs", "report_state", "TEXT")?;
    add_column(conn, "outbound", "temp_path", "TEXT")?;
    add_column(conn, "outbound", "published_at", "TEXT")?;
    match old_files {
        Some(sql) if !sql.contains("'waiting'") => widen_file_states(conn),
        _ => Ok(()),
    }
}

/// SQLite cannot alter a CHECK constraint, so a `files` table created with the old list of
/// states is rebuilt (same ids, so `runs.file_id` and the file links still hold), and gains
/// `business_date`, filled from the file's first run where it had one.
fn widen_file_states(conn: &Connection) -> rusqlite::Result<()> {
    let create = FILES.replace(
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
         {FILES_INDEXES}"
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

/// An upload is leased before any byte is written, so two pushes (`uploads push`
/// and `serve`, or two `run`s) never upload the same row at once.
fn delivery_leases(conn: &Connection) -> rusqlite::Result<()> {
    add_column(conn, "deliveries", "lease_owner", "TEXT")?;
    add_column(conn, "deliveries", "lease_until", "INTEGER")
}

/// After-claim actions still owed to a remote source. One row per taken remote file
/// (name, size and mtime as listed), so a file whose delete failed is never fetched and claimed
/// again while the action is pending.
fn remote_actions(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::REMOTE_ACTIONS)
}

/// The interchange control numbers each X12 sender used, and whether we accepted the
/// interchange (rows from before `accepted` existed count as accepted: that is what they were
/// treated as).
fn interchanges(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::INTERCHANGES)?;
    add_column(
        conn,
        "x12_interchanges_received",
        "accepted",
        "INTEGER NOT NULL DEFAULT 1",
    )
}

/// The mail queue (every report stored before any send is tried), its holder of a
/// claim (`lease_owner`), and the home's random Message-ID part.
fn mail_queue(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::MAIL_QUEUE)?;
    add_column(conn, "mail_queue", "lease_owner", "TEXT")?;
    // OR IGNORE: a ledger from before this list has its tag already, and keeps it.
    conn.execute(
        "INSERT OR IGNORE INTO mail_identity (id, tag) VALUES (1, ?1)",
        [super::mail_queue::random_tag()],
    )
    .map(|_| ())
}

/// What the daemon remembers across restarts (last scheduled run, when the
/// expected-file watch began, late windows already alerted).
fn daemon(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::DAEMON)
}

/// The interchange and group control numbers we last sent each X12 partner.
fn x12_control_numbers(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::X12_CONTROL_NUMBERS)
}

/// Remote files an SFTP source leaves in place, by name, size and mtime, so they
/// are not fetched again.
fn sftp_kept(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::SFTP_KEPT)
}

#[cfg(test)]
mod tests;

/// Version 2: breaks kept as open items (store/open_items.rs). Observations and actions are
/// the book's inputs, never deleted; `open_items` is the book they fold into (ids stable).
/// Written to tolerate a ledger whose version was wound back by hand (as the old-ledger tests
/// do): the tables may be there already.
fn open_items(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::OPEN_ITEMS)
}

/// Version 3: orders taken once per (channel, order id) (store/orders.rs). `order_events` is
/// every verdict with its file, run and line, never deleted; `orders` is each order's state
/// folded from them as they are recorded; `order_shipped` what shipments brought per SKU.
fn orders(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::ORDERS)
}

/// Version 4: the accepted versions of each source's catalog, held catalogs and approvals of
/// held price changes (`store/catalog.rs`). Written,
/// like versions 2 and 3, to tolerate a ledger whose version was wound back by hand.
fn catalog_versions(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(ddl::CATALOGS)
}

/// Version 6: the order rows were recorded in, as a column (`seq`, the row's place in its
/// run), where SQLite's `rowid` kept it and PostgreSQL has nothing like it: a control file is
/// published after its data file, observations fold in the order a run saw them. Rows from
/// before keep their order (their rowid). Like versions 2 to 4, it tolerates a ledger whose
/// version was wound back by hand (the column may be there already, with its values).
fn seq_columns(conn: &Connection) -> rusqlite::Result<()> {
    for table in ["outbound", "issues", "open_item_observations"] {
        if !has_column(conn, table, "seq")? {
            conn.execute_batch(&format!(
                "ALTER TABLE {table} ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
                 UPDATE {table} SET seq = rowid;"
            ))?;
        }
    }
    Ok(())
}
