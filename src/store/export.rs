//! `tallyman ledger export`: a SQLite ledger copied whole into an empty PostgreSQL ledger of the
//! same schema version, for the move to several daemons. Every table, every row, in one
//! transaction on the target; ids kept (run ids, Message-IDs and file links are evidence), the
//! target's id sequences moved past them; the home's Message-ID tag kept. The other way,
//! `copy_to_sqlite`: a PostgreSQL ledger copied whole into a new SQLite file (a dry run's
//! scratch ledger).

use super::db::{self, Dialect, Exec, Value};
use super::{Ledger, StoreError};

/// How many rows each table brought, in the order they were copied.
pub type Copied = Vec<(String, u64)>;

/// The tables of the source ledger, each after the tables it refers to (a ledger whose `files`
/// was rebuilt lists it after `runs`, which refers to it).
fn tables_in_order(source: &Ledger) -> Result<Vec<(String, Vec<String>)>, StoreError> {
    let what = "export: read the source's tables";
    let names: Vec<String> = source.rows(
        what,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
         ORDER BY rowid",
        &[],
        |r| r.get(0),
    )?;
    let mut pending: Vec<(String, Vec<String>, Vec<String>)> = Vec::new();
    for name in names {
        let columns = source.rows(
            what,
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            crate::db_args![name],
            |r| r.get(0),
        )?;
        let refers: Vec<String> = source.rows(
            what,
            "SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)",
            crate::db_args![name],
            |r| r.get(0),
        )?;
        let refers = refers.into_iter().filter(|t| *t != name).collect();
        pending.push((name, columns, refers));
    }
    let mut ordered: Vec<(String, Vec<String>)> = Vec::new();
    while !pending.is_empty() {
        let ready = pending
            .iter()
            .position(|(_, _, refers)| refers.iter().all(|t| ordered.iter().any(|(o, _)| o == t)))
            // A cycle cannot come from our migrations; copy in listed order rather than stop.
            .unwrap_or(0);
        let (name, columns, _) = pending.remove(ready);
        ordered.push((name, columns));
    }
    Ok(ordered)
}

impl Ledger {
    /// Copies this SQLite ledger into `target` (a PostgreSQL ledger at the same version, with
    /// no run and no file yet), in one transaction on the target.
    pub fn export_to(&self, target: &Ledger) -> Result<Copied, StoreError> {
        let what = "export the ledger";
        if self.dialect() != Dialect::Sqlite || target.dialect() != Dialect::Postgres {
            return Err(StoreError::Export {
                why: "an export copies a SQLite ledger into a PostgreSQL one".into(),
            });
        }
        let held: i64 = target.one_row(
            what,
            "SELECT (SELECT count(*) FROM runs) + (SELECT count(*) FROM files)",
            &[],
            |r| r.get(0),
        )?;
        if held > 0 {
            return Err(StoreError::Export {
                why: format!(
                    "{} already holds runs or files: an export only fills an empty ledger",
                    target.name()
                ),
            });
        }
        let tables = tables_in_order(self)?;
        let mut conn = target.db();
        let mut tx = conn.write().map_err(target.q(what))?;
        let mut copied = Vec::new();
        // Children first when emptying (the target's own `mail_identity` tag gives way to the
        // home's: its Message-IDs go on).
        for (table, _) in tables.iter().rev() {
            tx.execute(&format!("DELETE FROM {table}"), &[])
                .map_err(target.q("export: empty the target"))?;
        }
        for (table, columns) in &tables {
            let list = columns.join(", ");
            let rows = self
                .db()
                .query(&format!("SELECT {list} FROM {table} ORDER BY rowid"), &[])
                .map_err(self.q("export: read a table"))?;
            let insert = insert_statement(table, columns);
            for row in &rows {
                let values = values_of(row, columns.len()).map_err(self.q("export: read a row"))?;
                tx.execute(&insert, &values)
                    .map_err(target.q("export: write a row"))?;
            }
            copied.push((table.clone(), rows.len() as u64));
        }
        restart_identities(&mut tx).map_err(target.q("export: move the id sequences on"))?;
        tx.commit().map_err(target.q(what))?;
        Ok(copied)
    }
}

impl Ledger {
    /// Copies this PostgreSQL ledger whole into a new SQLite ledger at `path` (made at this
    /// release's version, so the tables and columns are the same): what a dry-run rerun works
    /// on, so the cluster's ledger is never written. Read in one transaction holding the
    /// writer lock (nothing is written there), so the copy is consistent while daemons go on:
    /// their writes wait for the copy, as for any other writer.
    pub(in crate::store) fn copy_to_sqlite(
        &self,
        path: &std::path::Path,
    ) -> Result<(), StoreError> {
        let what = "copy the ledger for a dry run";
        let scratch = Ledger::open(path)?;
        let tables = tables_in_order(&scratch)?;
        let mut source = self.db();
        let mut read = source.write().map_err(self.q(what))?;
        let mut conn = scratch.db();
        let mut tx = conn.write().map_err(scratch.q(what))?;
        for (table, _) in tables.iter().rev() {
            tx.execute(&format!("DELETE FROM {table}"), &[])
                .map_err(scratch.q("dry run: empty the copy"))?;
        }
        for (table, columns) in &tables {
            let list = columns.join(", ");
            let rows = read
                .query(&format!("SELECT {list} FROM {table}"), &[])
                .map_err(self.q("dry run: read a table"))?;
            let insert = insert_statement(table, columns);
            for row in &rows {
                let values =
                    values_of(row, columns.len()).map_err(self.q("dry run: read a row"))?;
                tx.execute(&insert, &values)
                    .map_err(scratch.q("dry run: write a row"))?;
            }
        }
        tx.commit().map_err(scratch.q(what))?;
        // Nothing was written to the source: its transaction only read.
        drop(read);
        Ok(())
    }
}

/// The INSERT that writes a row of `columns` into `table` (the same on either backend: the
/// copies go both ways).
fn insert_statement(table: &str, columns: &[String]) -> String {
    let places: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
    format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        columns.join(", "),
        places.join(", ")
    )
}

/// A row read whole, as the values of its `n` columns.
fn values_of(row: &db::Row, n: usize) -> Result<Vec<Value>, db::DbError> {
    (0..n).map(|i| row.get::<Value>(i)).collect()
}

/// Each identity column's sequence past the largest id copied, so the next row the cluster
/// adds takes a new id.
fn restart_identities(tx: &mut db::Tx<'_>) -> Result<(), db::DbError> {
    let identities = tx.query(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
        &[],
    )?;
    for row in identities {
        let (table, column): (String, String) = (row.get(0)?, row.get(1)?);
        tx.execute(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                               coalesce(max({column}), 0) + 1, false) FROM {table}"
            ),
            &[],
        )?;
    }
    Ok(())
}
