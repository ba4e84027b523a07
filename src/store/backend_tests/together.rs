//! Three ledgers on one database at once: a queue drained once, a tick taken once, a dead
//! daemon's files taken over once.

use super::*;

/// Three processes' ledgers draining one queue at once: each message is claimed by exactly
/// one of them (`claim_mail`: SKIP LOCKED on PostgreSQL, one writer on SQLite).
pub(super) fn drained_once(open: &(dyn Fn() -> Ledger + Sync)) {
    let first = open();
    let ids: Vec<i64> = (0..60)
        .map(|i| {
            first
                .enqueue_mail(&new_mail(&format!("<{i}@x>")), 100)
                .expect("enqueue")
                .0
        })
        .collect();
    let taken: Vec<Vec<i64>> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..3)
            .map(|w| {
                s.spawn(move || {
                    let ledger = open();
                    let mut mine = Vec::new();
                    while let Some(c) = ledger
                        .claim_mail(100, &format!("w{w}"), 600)
                        .expect("claim")
                    {
                        mine.push(c.id);
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("worker"))
            .collect()
    });
    let mut all: Vec<i64> = taken.concat();
    all.sort_unstable();
    assert_eq!(
        all,
        ids,
        "every message once: {:?}",
        taken.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

/// Three daemons' ledgers asking for the same scheduled ticks at once: each tick is run by
/// exactly one (taken, then recorded done; the others see it held, then done); an earlier tick
/// than the last done is refused. A daemon that dies holding a tick loses it once its lease
/// runs out.
pub(super) fn ticked_once(open: &(dyn Fn() -> Ledger + Sync)) {
    use crate::store::tick_leases::Tick;
    use chrono::{TimeZone, Utc};
    let start = Utc
        .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
        .single()
        .expect("time");
    let ticks: Vec<_> = (0..20)
        .map(|i| start + chrono::Duration::minutes(i))
        .collect();
    let won: Vec<usize> = std::thread::scope(|s| {
        let daemons: Vec<_> = (0..3)
            .map(|d| {
                let ticks = &ticks;
                s.spawn(move || {
                    let ledger = open();
                    let me = format!("daemon{d}:1:1");
                    let mut ran = 0;
                    for t in ticks {
                        loop {
                            match ledger.take_tick("p", *t, &me, 100, 60).expect("take") {
                                Tick::Taken => {
                                    ran += 1;
                                    ledger.finish_tick("p", *t, &me).expect("finish");
                                    break;
                                }
                                Tick::Done => break,
                                Tick::Held => std::thread::yield_now(),
                            }
                        }
                    }
                    ran
                })
            })
            .collect();
        daemons
            .into_iter()
            .map(|d| d.join().expect("daemon"))
            .collect()
    });
    assert_eq!(won.iter().sum::<usize>(), ticks.len(), "{won:?}");
    let ledger = open();
    assert_eq!(
        ledger
            .take_tick("p", start, "late:1:1", 100, 60)
            .expect("take"),
        Tick::Done,
        "an earlier tick"
    );
    assert_eq!(
        ledger.last_scheduled_run("p").expect("read"),
        ticks.last().copied()
    );
    // A daemon takes the next tick and dies: held until its lease runs out, then taken over.
    let next = start + chrono::Duration::minutes(20);
    assert_eq!(
        ledger
            .take_tick("p", next, "dies:1:1", 200, 60)
            .expect("take"),
        Tick::Taken
    );
    assert_eq!(
        ledger
            .take_tick("p", next, "other:1:1", 259, 60)
            .expect("take"),
        Tick::Held
    );
    assert_eq!(
        ledger
            .take_tick("p", next, "other:1:1", 260, 60)
            .expect("take"),
        Tick::Taken
    );
    ledger.finish_tick("p", next, "other:1:1").expect("finish");
    assert_eq!(
        ledger
            .take_tick("p", next, "dies:1:1", 261, 60)
            .expect("take"),
        Tick::Done
    );
}

#[test]
fn a_tick_is_taken_once_by_three_ledgers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("l.sqlite");
    ticked_once(&|| Ledger::open(&path).expect("open"));
    let cluster = PgCluster::start();
    let t = target(&cluster, &cluster.database());
    ticked_once(&|| Ledger::open_postgres(&t).expect("open"));
}

#[test]
fn a_queue_is_drained_once_by_three_ledgers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("l.sqlite");
    drained_once(&|| Ledger::open(&path).expect("open"));
    let cluster = PgCluster::start();
    let t = target(&cluster, &cluster.database());
    drained_once(&|| Ledger::open_postgres(&t).expect("open"));
}

/// Three daemons' ledgers taking over at once the files a dead daemon left claimed (their
/// leases ran out): each file is taken by exactly one of them.
pub(super) fn taken_over_once(open: &(dyn Fn() -> Ledger + Sync)) {
    let mut first = open();
    let ids: Vec<i64> = (0..40)
        .map(|i| {
            let name = format!("f{i}.csv");
            match first
                .claim(
                    "p",
                    &landing(&name, &format!("sha{i}"), Some("2026-11-25")),
                    DuplicateRule::ContentPerBusinessDate,
                )
                .expect("claim")
            {
                Claim::New { file_id, .. } => file_id,
                other => panic!("{other:?}"),
            }
        })
        .collect();
    first
        .db()
        .execute(
            "UPDATE files SET lease_owner = 'gone:1:1', lease_until = 10",
            &[],
        )
        .expect("a dead daemon's leases");
    let taken: Vec<Vec<i64>> = std::thread::scope(|s| {
        let daemons: Vec<_> = (0..3)
            .map(|d| {
                s.spawn(move || {
                    let ledger = open();
                    let owner = format!("daemon{d}:1:1");
                    // Asked again, a daemon gets the files it holds already, and no other's.
                    let mut mine = std::collections::BTreeSet::new();
                    for _ in 0..5 {
                        mine.extend(ledger.take_file_leases("p", &owner, 100, 60).expect("take"));
                    }
                    mine.into_iter().collect::<Vec<i64>>()
                })
            })
            .collect();
        daemons
            .into_iter()
            .map(|d| d.join().expect("daemon"))
            .collect()
    });
    let mut all: Vec<i64> = taken.concat();
    all.sort_unstable();
    assert_eq!(
        all,
        ids,
        "every file once: {:?}",
        taken.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

#[test]
fn a_dead_daemons_files_are_taken_over_once_by_three_ledgers() {
    let cluster = PgCluster::start();
    let t = target(&cluster, &cluster.database());
    taken_over_once(&|| Ledger::open_postgres(&t).expect("open"));
}
