//! The `Ledger`'s side of `store::db`: its connection for a statement, its name in messages,
//! errors that say what a statement was for, and shorthand for one statement. The table
//! modules use these (every statement of the ledger is on `store::db`).

use super::db::{self, DbError, Exec, Row, Value};
use super::{Ledger, StoreError};

impl Ledger {
    /// The ledger's connection for one statement or transaction, whichever the backend: what
    /// the table modules converted to `store::db` use instead of `connection()`.
    pub(in crate::store) fn db(&self) -> db::Conn<'_> {
        match &self.postgres {
            Some(pg) => db::Conn::Postgres(pg.client.borrow_mut()),
            None => db::Conn::Sqlite(&self.conn),
        }
    }

    /// Which database the ledger is in, for the few clauses only one of them has.
    pub(in crate::store) fn dialect(&self) -> db::Dialect {
        match &self.postgres {
            Some(_) => db::Dialect::Postgres,
            None => db::Dialect::Sqlite,
        }
    }

    /// Connects the PostgreSQL ledger again after its connection broke (the server restarted
    /// or was unreachable); a transaction that was open then was rolled back by the server,
    /// so nothing of it is half-recorded. Nothing to do for SQLite.
    pub fn reconnect(&self) -> Result<(), StoreError> {
        if let Some(pg) = &self.postgres {
            *pg.client.borrow_mut() = db::PgClient::new(db::connect_postgres(&pg.target)?);
        }
        Ok(())
    }

    /// Whether the ledger's connection still answers (one round trip to PostgreSQL; SQLite's
    /// file always does): a connection kept between jobs is asked before it is lent again,
    /// so a broken one is dropped and a new one made rather than handed out.
    pub fn answers(&self) -> bool {
        match &self.postgres {
            Some(pg) => pg
                .client
                .borrow_mut()
                .answers(std::time::Duration::from_secs(5)),
            None => true,
        }
    }

    /// The ledger's name in messages: its file, or its PostgreSQL address.
    pub fn name(&self) -> String {
        match &self.postgres {
            Some(pg) => pg.name.clone(),
            None => self.conn.path().unwrap_or_default().to_string(),
        }
    }

    /// Maps a failed `store::db` statement to a `StoreError` that says what it was for.
    pub(in crate::store) fn q(
        &self,
        what: &'static str,
    ) -> impl Fn(db::DbError) -> StoreError + '_ {
        move |source| StoreError::Query {
            ledger: self.name(),
            what,
            source,
        }
    }

    /// Runs one statement; the number of rows it changed.
    pub(in crate::store) fn exec(
        &self,
        what: &'static str,
        sql: &str,
        args: &[Value],
    ) -> Result<u64, StoreError> {
        self.db().execute(sql, args).map_err(self.q(what))
    }

    /// Every row of one query, each read by `read`.
    pub(in crate::store) fn rows<T>(
        &self,
        what: &'static str,
        sql: &str,
        args: &[Value],
        read: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Vec<T>, StoreError> {
        let rows = self.db().query(sql, args).map_err(self.q(what))?;
        rows.iter()
            .map(read)
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.q(what))
    }

    /// The first row of one query, which must be there, read by `read`.
    pub(in crate::store) fn one_row<T>(
        &self,
        what: &'static str,
        sql: &str,
        args: &[Value],
        read: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<T, StoreError> {
        self.row(what, sql, args, read)?.ok_or(StoreError::Query {
            ledger: self.name(),
            what,
            source: DbError::NoRow,
        })
    }

    /// The first row of one query, if any, read by `read`.
    pub(in crate::store) fn row<T>(
        &self,
        what: &'static str,
        sql: &str,
        args: &[Value],
        read: impl Fn(&Row) -> Result<T, DbError>,
    ) -> Result<Option<T>, StoreError> {
        let row = self.db().query_opt(sql, args).map_err(self.q(what))?;
        row.as_ref().map(read).transpose().map_err(self.q(what))
    }
}
