//! Cases on a run's end and what recovery asks: outputs, uploads, issues, catalogs.

use super::*;

pub(super) fn recovery(ledger: &mut Ledger) {
    assert_eq!(ledger.run_count().expect("count"), 0);
    let Claim::New { file_id, .. } = ledger
        .claim(
            "p",
            &landing("a.csv", "1", Some("2026-11-25")),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    assert_eq!(
        ledger.stored_path(file_id).expect("stored").as_deref(),
        Some("var/landing/p/x")
    );
    assert_eq!(
        ledger.received_at(file_id).expect("received").as_deref(),
        Some("2026-11-25T10:00:00.000Z")
    );
    let now = "2026-11-25T10:00:00.000Z";
    let first = ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            Some(file_id),
            now,
            "file",
            None,
            None,
            None,
        )
        .expect("run");
    ledger
        .set_run_archive(&first, "archive/p/d/r000001")
        .expect("archive");
    assert!(
        ledger.claimed_files("p").expect("claimed").is_empty(),
        "its run is in progress"
    );
    let interrupted = ledger.interrupted_runs("p").expect("interrupted");
    assert_eq!(interrupted.len(), 1);
    assert_eq!(
        (
            interrupted[0].file.as_deref(),
            interrupted[0].archive_path.as_deref()
        ),
        (Some("a.csv"), Some("archive/p/d/r000001"))
    );
    ledger
        .close_interrupted(&first, "crashed", "2026-11-26T00:00:00Z")
        .expect("close");
    assert!(ledger
        .interrupted_runs("p")
        .expect("interrupted")
        .is_empty());
    assert_eq!(ledger.failed_runs_of(file_id).expect("failed"), 1);
    let claimed = ledger.claimed_files("p").expect("claimed");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].failed_runs, claimed[0].archives.as_slice()),
        (1, ["archive/p/d/r000001".to_string()].as_slice())
    );
    let rerun = ledger
        .start_run(
            "p",
            None,
            None,
            now,
            "rerun",
            Some("ann"),
            Some("fix"),
            Some(&first),
        )
        .expect("rerun");
    assert_eq!(
        ledger.requested_by(&rerun).expect("who"),
        Some((Some("ann".to_string()), Some("fix".to_string())))
    );
    assert_eq!(ledger.requested_by("r999999").expect("who"), None);
    ledger
        .db()
        .execute(
            "INSERT INTO outbound (run_id, destination, name, path, size, sha256, written_at, temp_path)
             VALUES (?1, 'erp', 'o.csv', 'outbox/erp/o.csv', 3, 'abc', 'now', 'outbox/erp/.t')",
            crate::db_args![first],
        )
        .expect("outbound");
    assert!(ledger.wrote("outbox/erp/o.csv", "abc").expect("wrote"));
    assert!(!ledger.wrote("outbox/erp/o.csv", "abd").expect("wrote"));
    ledger.mark_published(&first, "later").expect("published");
    let published: Option<String> = ledger
        .db()
        .query_one("SELECT published_at FROM outbound", &[])
        .and_then(|r| r.get(0))
        .expect("read");
    assert_eq!(published.as_deref(), Some("later"));
    assert_eq!(ledger.run_count().expect("count"), 2);
}

pub(super) fn run_end(ledger: &mut Ledger) {
    use crate::store::deliveries::NewDelivery;
    use crate::store::outputs::{FileEnd, NewOutbound};
    let Claim::New { file_id, .. } = ledger
        .claim(
            "p",
            &landing("a.csv", "1", Some("2026-11-25")),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    let now = "2026-11-25T10:00:00.000Z";
    let run = ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            Some(file_id),
            now,
            "file",
            None,
            None,
            None,
        )
        .expect("run");
    let output = |name: &str, delivery: Option<NewDelivery>| NewOutbound {
        destination: "erp".into(),
        name: name.into(),
        path: format!("outbox/erp/{name}"),
        temp_path: format!("outbox/erp/.tallyman-{run}-{name}.staged"),
        size: 10,
        sha256: format!("sha-{name}"),
        delivery,
    };
    let outputs = [
        output("a.csv", None),
        output(
            "b.csv",
            Some(NewDelivery {
                target: "sftp://erp@h:22/in".into(),
                always: false,
                source: "archive/p/b.csv".into(),
            }),
        ),
    ];
    // Enough issues for three of `insert_rows`' statements (100, 100, 52), kept in order.
    let issues: Vec<_> = [
        crate::issue::Issue::error("a.csv", "type", "not a number"),
        crate::issue::Issue::error("a.csv", "required", "missing").warning(),
    ]
    .into_iter()
    .chain((0..250).map(|n| {
        crate::issue::Issue::error("a.csv", "reference", format!("unknown {n}")).at_line(n + 2)
    }))
    .collect();
    let end = FileEnd {
        file_id,
        state: FileState::Processed,
        reason: None,
        stored: "archive/p/a.csv".into(),
    };
    // Twice: a run redone after an interruption is recorded once (its issues replaced; its
    // outputs and uploads are already there, and the upload is queued once).
    for _ in 0..2 {
        ledger
            .finish_run(
                &run,
                now,
                "succeeded",
                Some(5),
                Some(1),
                &issues,
                Some("{}"),
                Some("archive/p/r"),
                None,
                true,
                &outputs[1..],
                Some(&end),
                None,
                None,
                None,
            )
            .expect("finish");
    }
    ledger
        .finish_run(
            &run,
            now,
            "succeeded",
            Some(5),
            Some(1),
            &issues,
            Some("{}"),
            Some("archive/p/r"),
            None,
            true,
            &outputs[..1],
            Some(&end),
            None,
            None,
            None,
        )
        .expect("finish");
    let row = &ledger.runs(&RunFilter::default()).expect("runs")[0];
    assert_eq!(
        (row.state.as_str(), row.rows, row.issues),
        ("succeeded", Some(5), Some(252))
    );
    let recorded = ledger.run_issues(&run, 1000).expect("issues");
    assert_eq!(
        recorded
            .iter()
            .map(|i| i.message.as_str())
            .collect::<Vec<_>>(),
        issues
            .iter()
            .map(|i| i.message.as_str())
            .collect::<Vec<_>>()
    );
    assert_eq!((recorded[251].line, recorded[0].line), (Some(251), None));
    let count = |sql: &str| -> i64 {
        ledger
            .db()
            .query_one(sql, &[])
            .and_then(|r| r.get(0))
            .expect(sql)
    };
    assert_eq!(count("SELECT count(*) FROM issues"), 252);
    assert_eq!(count("SELECT count(*) FROM deliveries"), 1);
    assert_eq!(
        ledger.outbound_for_run(&run).expect("outbound").len(),
        3,
        "each output as recorded"
    );
    assert_eq!(ledger.pending_reports("p").expect("pending").len(), 1);
    assert_eq!(
        ledger.file_states("p").expect("states"),
        [("processed".to_string(), 1)]
    );
    assert_eq!(
        ledger.deliveries(Some(&run)).expect("uploads")[0].name,
        "b.csv"
    );
}

pub(super) fn catalogs(ledger: &mut Ledger) {
    use crate::store::catalog::{CatalogEnd, CatalogHold, CatalogVersion};
    let now = "2026-11-25T10:00:00.000Z";
    let end = |ledger: &mut Ledger, sha: &str, state: &str, catalog: CatalogEnd| {
        let Claim::New { file_id, .. } = ledger
            .claim(
                "cat",
                &landing("items.csv", sha, None),
                DuplicateRule::Content,
            )
            .expect("claim")
        else {
            panic!("new")
        };
        let run = ledger
            .start_run("cat", None, Some(file_id), now, "file", None, None, None)
            .expect("run");
        let catalog = match catalog {
            CatalogEnd::Published(v) => CatalogEnd::Published(CatalogVersion {
                run_id: run.clone(),
                ..v
            }),
            CatalogEnd::Held(h) => CatalogEnd::Held(CatalogHold {
                run_id: run.clone(),
                file_id,
                ..h
            }),
        };
        ledger
            .finish_run(
                &run,
                now,
                state,
                None,
                None,
                &[],
                None,
                None,
                None,
                false,
                &[],
                None,
                None,
                None,
                Some(&catalog),
            )
            .expect("finish");
        (run, file_id)
    };
    let version = |n: i64| CatalogVersion {
        source: "acme".into(),
        version: n,
        run_id: String::new(),
        path: format!("reference/catalog/acme/{}", CatalogVersion::file_name(n)),
        items: 10 * n,
        sha256: format!("v{n}"),
    };
    let (first, _) = end(ledger, "1", "succeeded", CatalogEnd::Published(version(1)));
    let (second, _) = end(ledger, "2", "succeeded", CatalogEnd::Published(version(2)));
    assert_eq!(
        ledger
            .latest_catalog("acme")
            .expect("latest")
            .map(|v| v.version),
        Some(2)
    );
    assert_eq!(
        ledger
            .catalog_version_before("acme", 2)
            .expect("before")
            .map(|v| v.run_id),
        Some(first.clone())
    );
    assert_eq!(
        ledger
            .catalog_version_of_run(&second)
            .expect("of run")
            .map(|v| v.items),
        Some(20)
    );
    assert_eq!(
        ledger
            .catalog_version("acme", 1)
            .expect("v1")
            .map(|v| v.sha256),
        Some("v1".into())
    );
    assert_eq!(ledger.catalog_versions("acme").expect("all").len(), 2);
    assert_eq!(ledger.latest_catalog("other").expect("none"), None);
    let hold = CatalogHold {
        run_id: String::new(),
        pipeline: "cat".into(),
        file_id: 0,
        kind: "price_change".into(),
        reason: "3 prices moved more than 20%".into(),
    };
    let (held, file_id) = end(ledger, "3", "rejected", CatalogEnd::Held(hold));
    let got = ledger.catalog_hold(&held).expect("hold").expect("held");
    assert_eq!((got.file_id, got.kind.as_str()), (file_id, "price_change"));
    assert!(!ledger.catalog_prices_approved(file_id).expect("approved"));
    ledger
        .approve_catalog_prices(&got, "ann", now)
        .expect("approve");
    assert!(ledger.catalog_prices_approved(file_id).expect("approved"));
}
