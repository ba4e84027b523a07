//! A PostgreSQL connection with its statements kept prepared: a statement sent as text is two
//! round trips (prepare, then bind and execute), a prepared one is one. The ledger's statements
//! are a few hundred fixed texts, prepared once per connection and reused by every call.

use std::collections::HashMap;

use postgres::{GenericClient, Statement};

use super::{dialect_sql, pg_args, pg_rows, DbError, Dialect, Row, Value};

/// How many prepared statements a connection keeps before it forgets them all: a statement
/// built with a varying shape (the last chunk of `insert_rows`) must not grow the map without
/// end.
const KEPT_STATEMENTS: usize = 512;

/// The client and the statements prepared on it (they live and die with the connection:
/// a connection made again starts with none).
pub struct PgClient {
    pub(super) client: postgres::Client,
    pub(super) statements: Statements,
}

impl PgClient {
    pub fn new(client: postgres::Client) -> PgClient {
        PgClient {
            client,
            statements: Statements::default(),
        }
    }

    /// Whether the connection still answers within `timeout` (one round trip).
    pub fn answers(&mut self, timeout: std::time::Duration) -> bool {
        self.client.is_valid(timeout).is_ok()
    }
}

/// Statements prepared on one connection, by their text as the ledger wrote it. Prepared
/// statements belong to the session, not to a transaction: one prepared inside a transaction
/// that is rolled back stays usable.
#[derive(Default)]
pub struct Statements(HashMap<String, Statement>);

impl Statements {
    fn prepared(&mut self, c: &mut impl GenericClient, sql: &str) -> Result<Statement, DbError> {
        if let Some(s) = self.0.get(sql) {
            return Ok(s.clone());
        }
        let s = c.prepare(&dialect_sql(Dialect::Postgres, sql))?;
        if self.0.len() >= KEPT_STATEMENTS {
            self.0.clear();
        }
        self.0.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    pub(super) fn execute(
        &mut self,
        c: &mut impl GenericClient,
        sql: &str,
        args: &[Value],
    ) -> Result<u64, DbError> {
        let s = self.prepared(c, sql)?;
        Ok(c.execute(&s, &pg_args(args))?)
    }

    pub(super) fn query(
        &mut self,
        c: &mut impl GenericClient,
        sql: &str,
        args: &[Value],
    ) -> Result<Vec<Row>, DbError> {
        let s = self.prepared(c, sql)?;
        pg_rows(c.query(&s, &pg_args(args))?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Conn, Exec};
    use super::*;
    use crate::store::db::pg_cluster::PgCluster;

    /// A statement first prepared inside a transaction that was rolled back (after an error)
    /// is still usable afterwards: prepared statements belong to the session.
    #[test]
    fn a_statement_prepared_in_a_rolled_back_transaction_stays_usable() {
        let cluster = PgCluster::start();
        let db = cluster.database();
        let client = std::cell::RefCell::new(PgClient::new(cluster.client(&db).expect("connect")));
        let mut conn = Conn::Postgres(client.borrow_mut());
        conn.batch("CREATE TABLE t (n BIGINT PRIMARY KEY)")
            .expect("table");
        let insert = "INSERT INTO t (n) VALUES (?1)";
        {
            let mut tx = conn.write().expect("begin");
            tx.execute(insert, &[Value::Int(1)]).expect("insert");
            assert!(tx.execute(insert, &[Value::Int(1)]).is_err(), "a duplicate");
            // Dropped without commit: rolled back.
        }
        assert_eq!(conn.execute(insert, &[Value::Int(2)]).expect("again"), 1);
        let n: i64 = conn
            .query_one("SELECT count(*) FROM t", &[])
            .and_then(|r| r.get(0))
            .expect("count");
        assert_eq!(n, 1, "the rolled back row is gone, the later one is there");
    }
}
