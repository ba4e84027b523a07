//! The ledger's database layer: one way to run a statement on SQLite (rusqlite) or PostgreSQL
//! (the synchronous `postgres` client), so each ledger statement is written once.
//!
//! Statements are written in the subset both accept: numbered placeholders `?1`, `?2`
//! (rewritten to `$1`, `$2` for PostgreSQL outside quotes), `ON CONFLICT ... DO NOTHING`
//! rather than `INSERT OR IGNORE`, `IS NOT DISTINCT FROM` rather than `IS` between values,
//! `RETURNING` rather than `last_insert_rowid()`, `CAST(?n AS TEXT)` where only the argument
//! would tell PostgreSQL its type, and no function of one backend only. Rows are read whole
//! into `Row`s of `Value`s: the ledger's queries return few rows, and one row type for both
//! backends keeps every reader backend-free.

mod connect;
mod pg_client;
mod tls;
mod value;

use std::borrow::Cow;
use std::cell::RefMut;

pub use connect::{connect_postgres, ConnectError};
pub use pg_client::PgClient;
use pg_client::Statements;
pub use value::{FromValue, Row, ToValue, Value};

/// Which database a statement goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// Appended to a `SELECT` that picks rows to claim: PostgreSQL locks the rows it returns
    /// and passes over rows another transaction holds, so two daemons claiming at once take
    /// different rows; SQLite has one writer at a time, and no such clause.
    pub fn skip_locked(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// A row's cell was not what the code reads it as.
    #[error("column {index}: {why}")]
    Column { index: usize, why: String },
    #[error("the statement returned no row")]
    NoRow,
}

/// PostgreSQL's own message (severity, code, text, detail) rather than the client's summary
/// "db error".
fn postgres_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                s.push_str(&format!(" ({detail})"));
            }
            s
        }
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

impl DbError {
    /// True when the database could not be reached or the connection broke (as opposed to a
    /// statement it refused): the caller may reconnect and try again.
    pub fn is_connection(&self) -> bool {
        match self {
            // No answer from the server, or its own word that the connection ends: class 08
            // (connection exception) and 57P (shut down, crashed, starting up).
            DbError::Postgres(e) => {
                e.is_closed()
                    || e.as_db_error().is_none_or(|db| {
                        let code = db.code().code();
                        code.starts_with("08") || code.starts_with("57P")
                    })
            }
            _ => false,
        }
    }
}

/// The statement as the dialect reads it: `?N` becomes `$N` for PostgreSQL, outside quoted
/// text and names.
pub fn dialect_sql(dialect: Dialect, sql: &str) -> Cow<'_, str> {
    if dialect == Dialect::Sqlite || !sql.contains('?') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                }
                out.push(c);
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// What runs statements: a connection or a transaction of either backend.
pub trait Exec {
    fn dialect(&self) -> Dialect;

    /// Runs one statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, DbError>;

    /// Runs one statement and reads every row it returns.
    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError>;

    /// Runs statements with no arguments, separated by `;` (schema changes).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;

    /// The first row, if any.
    fn query_opt(&mut self, sql: &str, args: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, args)?.into_iter().next())
    }

    /// The first row, which must be there.
    fn query_one(&mut self, sql: &str, args: &[Value]) -> Result<Row, DbError> {
        self.query_opt(sql, args)?.ok_or(DbError::NoRow)
    }
}

/// Rows per statement of `insert_rows`: a hundred rows of the widest table batched stay under
/// SQLite's oldest limit of 999 arguments.
const ROWS_PER_INSERT: usize = 100;

/// Inserts `rows` (each its `width` values, in the order of the columns `head` names:
/// `INSERT INTO t (a, b)`) a hundred to a statement rather than one by one: on PostgreSQL each
/// statement is two round trips, and a run's thousand issues, written one at a time inside the
/// run's closing transaction, held the ledger's writer lock for a third of a second.
pub fn insert_rows<E: Exec + ?Sized>(
    ex: &mut E,
    head: &str,
    width: usize,
    rows: &[Vec<Value>],
) -> Result<(), DbError> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let mut sql = String::with_capacity(head.len() + chunk.len() * width * 6);
        sql.push_str(head);
        sql.push_str(" VALUES ");
        let mut args = Vec::with_capacity(chunk.len() * width);
        for (r, row) in chunk.iter().enumerate() {
            debug_assert_eq!(row.len(), width, "{head}");
            sql.push_str(if r == 0 { "(" } else { ", (" });
            for c in 0..width {
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("?{}", r * width + c + 1));
            }
            sql.push(')');
            args.extend(row.iter().cloned());
        }
        ex.execute(&sql, &args)?;
    }
    Ok(())
}

fn sqlite_execute(c: &rusqlite::Connection, sql: &str, args: &[Value]) -> Result<u64, DbError> {
    let mut stmt = c.prepare_cached(sql)?;
    Ok(stmt.execute(rusqlite::params_from_iter(args))? as u64)
}

fn sqlite_query(c: &rusqlite::Connection, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
    let mut stmt = c.prepare_cached(sql)?;
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let cells = (0..width)
            .map(|i| r.get_ref(i).map(Value::from))
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Row { cells });
    }
    Ok(out)
}

type PgArgs<'a> = Vec<&'a (dyn postgres::types::ToSql + Sync)>;

fn pg_args(args: &[Value]) -> PgArgs<'_> {
    args.iter()
        .map(|a| a as &(dyn postgres::types::ToSql + Sync))
        .collect()
}

fn pg_rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, DbError> {
    rows.into_iter()
        .map(|r| {
            let cells = (0..r.len())
                .map(|i| r.try_get::<_, Value>(i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Row { cells })
        })
        .collect()
}

/// A connection lent by the ledger for one call.
pub enum Conn<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(RefMut<'a, PgClient>),
}

impl Conn<'_> {
    /// A write transaction, one writer at a time across every process sharing the ledger:
    /// SQLite's `BEGIN IMMEDIATE`, and on PostgreSQL a transaction-scoped advisory lock (the
    /// same exclusion, so a claim's look-then-insert cannot interleave with another's).
    pub fn write(&mut self) -> Result<Tx<'_>, DbError> {
        match self {
            Conn::Sqlite(c) => Ok(Tx::Sqlite(rusqlite::Transaction::new_unchecked(
                c,
                rusqlite::TransactionBehavior::Immediate,
            )?)),
            Conn::Postgres(c) => {
                let PgClient { client, statements } = &mut **c;
                let mut tx = client.transaction()?;
                statements.execute(
                    &mut tx,
                    "SELECT pg_advisory_xact_lock(?1)",
                    &[Value::Int(WRITER_LOCK)],
                )?;
                Ok(Tx::Postgres(tx, statements))
            }
        }
    }
}

/// The advisory lock key of the ledger's single writer ("TLLYWRTR").
const WRITER_LOCK: i64 = 0x544c_4c59_5752_5452;

impl Exec for Conn<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Conn::Sqlite(_) => Dialect::Sqlite,
            Conn::Postgres(_) => Dialect::Postgres,
        }
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        match self {
            Conn::Sqlite(c) => sqlite_execute(c, sql, args),
            Conn::Postgres(c) => {
                let PgClient { client, statements } = &mut **c;
                statements.execute(client, sql, args)
            }
        }
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Conn::Sqlite(c) => sqlite_query(c, sql, args),
            Conn::Postgres(c) => {
                let PgClient { client, statements } = &mut **c;
                statements.query(client, sql, args)
            }
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Conn::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Conn::Postgres(c) => Ok(c.client.batch_execute(sql)?),
        }
    }
}

/// A transaction: committed by `commit`, rolled back when dropped without it.
pub enum Tx<'a> {
    Sqlite(rusqlite::Transaction<'a>),
    Postgres(postgres::Transaction<'a>, &'a mut Statements),
}

impl<'a> Tx<'a> {
    pub fn commit(self) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(t) => Ok(t.commit()?),
            Tx::Postgres(t, _) => Ok(t.commit()?),
        }
    }
}

impl Exec for Tx<'_> {
    fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(..) => Dialect::Postgres,
        }
    }

    fn execute(&mut self, sql: &str, args: &[Value]) -> Result<u64, DbError> {
        match self {
            Tx::Sqlite(t) => sqlite_execute(t, sql, args),
            Tx::Postgres(t, statements) => statements.execute(t, sql, args),
        }
    }

    fn query(&mut self, sql: &str, args: &[Value]) -> Result<Vec<Row>, DbError> {
        match self {
            Tx::Sqlite(t) => sqlite_query(t, sql, args),
            Tx::Postgres(t, statements) => statements.query(t, sql, args),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match self {
            Tx::Sqlite(t) => Ok(t.execute_batch(sql)?),
            Tx::Postgres(t, _) => Ok(t.batch_execute(sql)?),
        }
    }
}

#[cfg(test)]
pub(crate) mod pg_cluster;
#[cfg(test)]
mod tls_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_outside_quotes() {
        let cases = [
            ("SELECT ?1, ?12", "SELECT $1, $12"),
            ("WHERE a = '?1' AND b = ?2", "WHERE a = '?1' AND b = $2"),
            ("WHERE \"odd?1\" = ?1", "WHERE \"odd?1\" = $1"),
            (
                "WHERE a = 'it''s ?3' OR b = ?3",
                "WHERE a = 'it''s ?3' OR b = $3",
            ),
            ("SELECT 1", "SELECT 1"),
        ];
        for (sql, want) in cases {
            assert_eq!(dialect_sql(Dialect::Postgres, sql), want, "{sql}");
            assert_eq!(dialect_sql(Dialect::Sqlite, sql), sql);
        }
    }
}
