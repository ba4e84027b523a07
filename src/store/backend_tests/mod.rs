//! The ledger's typed questions asked of both backends: each case (`cases_*.rs`) runs on a
//! fresh SQLite ledger and on a fresh database of one throwaway PostgreSQL cluster
//! (`db::pg_cluster`); `together.rs`: three ledgers working one ledger at once; `postgres.rs`:
//! the two schemas compared column by column, versioning, refusals, reconnecting, the export
//! and the dry run's copy back to SQLite.

mod cases_books;
mod cases_files;
mod cases_queues;
mod cases_runs;
mod postgres;
mod together;

use cases_books::*;
use cases_files::*;
use cases_queues::*;
use cases_runs::*;

use std::time::Duration;

use super::db::pg_cluster::{PgCluster, USER};
use super::db::Exec;
use super::{Claim, FileState, Landing, Ledger, RunFilter, RunState, StoreError};
use crate::config::ledger::{PasswordSource, PostgresTarget};
use crate::config::DuplicateRule;

pub(super) fn target(cluster: &PgCluster, dbname: &str) -> PostgresTarget {
    PostgresTarget {
        host: "127.0.0.1".into(),
        port: cluster.port,
        user: USER.into(),
        dbname: dbname.into(),
        password: PasswordSource::File(cluster.password_file.clone()),
        connect_timeout: Duration::from_secs(5),
        tls: Default::default(),
    }
}

/// One case: a name and its body, given a fresh ledger.
type Case = (&'static str, fn(&mut Ledger));

const CASES: &[Case] = &[
    ("the duplicate rule decides the claim", duplicate_rule),
    ("a correction names the file it corrects", correction),
    ("runs are numbered, finished and listed", runs),
    ("the daemon's times and alerts", daemon_state),
    (
        "held files, reports' facts, unresolved runs",
        held_and_reports,
    ),
    (
        "x12 interchanges received and control numbers sent",
        interchanges,
    ),
    (
        "sources' health, remote actions, files left on the server",
        sources,
    ),
    (
        "a claimed file's lease: held, renewed, taken after it ran out or from the dead",
        file_lease,
    ),
    (
        "a file waiting for its ERP extract is taken back by one daemon",
        waiting_file,
    ),
    (
        "an upload's lease: held, expired, taken from the dead",
        upload_lease,
    ),
    (
        "a tick's lease: renewed while it runs, taken over once it runs out, done",
        tick_lease,
    ),
    (
        "uploads: due, failed with backoff, retried, delivered",
        uploads,
    ),
    (
        "the mail queue: stored once, claimed, deferred, failed, sent",
        mail,
    ),
    (
        "recovery's questions: interrupted runs, claimed files, outputs written",
        recovery,
    ),
    (
        "a run's end: issues, outputs, uploads and the file's state in one transaction",
        run_end,
    ),
    (
        "catalog versions and holds, recorded with the run's end; approvals",
        catalogs,
    ),
    (
        "open items: observations with the run's end, in order; the book saved; actions",
        open_items,
    ),
    (
        "orders: events with the run's end, states, shipments, stuck orders",
        orders,
    ),
    (
        "the console: pauses, actions, runs and files found",
        console,
    ),
];

/// Ends a run by hand (its state, when, why, a pending report), without what `finish_run`
/// records with it.
pub(super) fn end_run(ledger: &Ledger, run_id: &str, state: &str, ended_at: &str, message: &str) {
    ledger
        .db()
        .execute(
            "UPDATE runs SET state = ?2, ended_at = ?3, message = ?4, report_state = 'pending'
             WHERE run_id = ?1",
            crate::db_args![run_id, state, ended_at, message],
        )
        .expect("end the run");
}

#[test]
fn ledger_cases_on_sqlite() {
    for (name, case) in CASES {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut ledger = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
        eprintln!("sqlite: {name}");
        case(&mut ledger);
    }
}

#[test]
fn ledger_cases_on_postgres() {
    let cluster = PgCluster::start();
    for (name, case) in CASES {
        let mut ledger =
            Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
        eprintln!("postgres: {name}");
        case(&mut ledger);
    }
}

pub(super) fn landing<'a>(name: &'a str, sha256: &'a str, date: Option<&'a str>) -> Landing<'a> {
    Landing {
        name,
        size: 3,
        sha256,
        business_date: date,
        received_at: "2026-11-25T10:00:00.000Z",
        stored: "var/landing/p/x",
    }
}
