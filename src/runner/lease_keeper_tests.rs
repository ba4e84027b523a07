//! The lease keeper on a PostgreSQL ledger (with SQLite it does nothing: one machine's ledger,
//! guarded by the pipeline's lock): a short run's file lease is released when the run ends,
//! and a long tick's lease is renewed while it runs and then taken over only once it is not.

use super::*;
use crate::config::ledger::{PasswordSource, PostgresTarget};
use crate::config::DuplicateRule;
use crate::store::db::pg_cluster::{PgCluster, USER};
use crate::store::tick_leases::Tick;
use crate::store::{Claim, Landing};

fn ledger(cluster: &PgCluster) -> Ledger {
    Ledger::open_postgres(&PostgresTarget {
        host: "127.0.0.1".into(),
        port: cluster.port,
        user: USER.into(),
        dbname: cluster.database(),
        password: PasswordSource::File(cluster.password_file.clone()),
        connect_timeout: Duration::from_secs(5),
        tls: Default::default(),
    })
    .expect("open")
}

#[test]
fn a_short_runs_file_lease_is_released_when_it_ends() {
    let cluster = PgCluster::start();
    let mut ledger = ledger(&cluster);
    let landing = Landing {
        name: "a.csv",
        size: 3,
        sha256: "aa",
        business_date: Some("2026-11-25"),
        received_at: "2026-11-25T10:00:00.000Z",
        stored: "var/landing/p/a.csv",
    };
    let Claim::New { file_id, .. } = ledger
        .claim("p", &landing, DuplicateRule::Content)
        .expect("claim")
    else {
        panic!("a new file")
    };
    assert!(ledger.file_lease(file_id).expect("read").is_some());
    // A run shorter than the first renewal (a failed run leaving its file claimed for a retry).
    drop(LeaseKeeper::start(&ledger, file_id));
    assert_eq!(ledger.file_lease(file_id).expect("read"), None, "released");
    // Another daemon takes the file at once, not after the claim's lease runs out.
    assert!(ledger
        .take_file_lease(file_id, "elsewhere:1:1", now_secs(), 60)
        .expect("take"));
    // The keeper releases only its own daemon's lease.
    drop(LeaseKeeper::start(&ledger, file_id));
    assert_eq!(
        ledger.file_lease(file_id).expect("read").map(|(h, _)| h),
        Some("elsewhere:1:1".to_string())
    );
}

#[test]
fn a_long_ticks_lease_is_renewed_while_it_runs() {
    let cluster = PgCluster::start();
    let ledger = ledger(&cluster);
    let fire = Utc::now();
    let me = lease::owner();
    let secs = 2;
    let taken_at = now_secs();
    assert_eq!(
        ledger
            .take_tick("p", fire, &me, taken_at, secs)
            .expect("take"),
        Tick::Taken
    );
    let keeper = LeaseKeeper::keep_tick_for(&ledger, "p", fire, secs)
        .expect("renew")
        .expect("still ours");
    // Well past the lease the tick was taken with: renewed, it is still held.
    std::thread::sleep(Duration::from_millis(3500));
    let now = now_secs();
    assert!(now > taken_at + secs, "{now}");
    assert_eq!(
        ledger
            .take_tick("p", fire, "other:1:1", now, 60)
            .expect("take"),
        Tick::Held,
        "renewed while it ran"
    );
    drop(keeper);
    // No longer renewed: once it runs out another daemon takes it over, and a job of the first
    // that had not started yet is told so.
    let later = now_secs() + secs + 1;
    assert_eq!(
        ledger
            .take_tick("p", fire, "other:1:1", later, 60)
            .expect("take"),
        Tick::Taken
    );
    assert!(LeaseKeeper::keep_tick_for(&ledger, "p", fire, secs)
        .expect("renew")
        .is_none());
}
