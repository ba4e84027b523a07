//! The ledger's typed questions asked of both backends: each case runs on a fresh SQLite
//! ledger and on a fresh database of one throwaway PostgreSQL cluster (`db::pg_cluster`), and
//! the two schemas the migrations build are compared table by table, column by column.

use std::time::Duration;

use super::db::pg_cluster::{PgCluster, USER};
use super::db::Exec;
use super::{Claim, FileState, Landing, Ledger, RunFilter, RunState, StoreError};
use crate::config::ledger::{PasswordSource, PostgresTarget};
use crate::config::DuplicateRule;

fn target(cluster: &PgCluster, dbname: &str) -> PostgresTarget {
    PostgresTarget {
        host: "127.0.0.1".into(),
        port: cluster.port,
        user: USER.into(),
        dbname: dbname.into(),
        password: PasswordSource::File(cluster.password_file.clone()),
        connect_timeout: Duration::from_secs(5),
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
        "an upload's lease: held, expired, taken from the dead",
        upload_lease,
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
];

/// Sets columns the run's end would (`finish_run` is not on `store::db` yet).
fn end_run(ledger: &Ledger, run_id: &str, state: &str, ended_at: &str, message: &str) {
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

fn landing<'a>(name: &'a str, sha256: &'a str, date: Option<&'a str>) -> Landing<'a> {
    Landing {
        name,
        size: 3,
        sha256,
        business_date: date,
        received_at: "2026-11-25T10:00:00.000Z",
        stored: "var/landing/p/x",
    }
}

/// Each duplicate rule, on the same history.
fn duplicate_rule(ledger: &mut Ledger) {
    let file = |name, date| landing(name, "same", date);
    let first = file("stock_a.csv", Some("2026-11-25"));
    for rule in [
        DuplicateRule::ContentPerBusinessDate,
        DuplicateRule::Content,
        DuplicateRule::NameAndContent,
    ] {
        let c = ledger.claim(rule.as_str(), &first, rule).expect("claim");
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
    check(ledger, ContentPerBusinessDate, same_date_other_name, true);
    check(ledger, ContentPerBusinessDate, next_date, false);
    check(ledger, Content, same_date_other_name, true);
    check(ledger, Content, next_date, true);
    check(ledger, NameAndContent, same_date_other_name, false);
    check(ledger, NameAndContent, same_name_next_date, true);
    // Undated files (the name gave no date) meet each other.
    check(ledger, ContentPerBusinessDate, file("x.csv", None), false);
    check(ledger, ContentPerBusinessDate, file("y.csv", None), true);
}

fn correction(ledger: &mut Ledger) {
    let rule = DuplicateRule::ContentPerBusinessDate;
    let Claim::New { file_id: first, .. } = ledger
        .claim("p", &landing("a.csv", "one", Some("2026-11-25")), rule)
        .expect("claim")
    else {
        panic!("first claim is new")
    };
    let again = ledger
        .claim("p", &landing("a.csv", "two", Some("2026-11-25")), rule)
        .expect("claim");
    assert!(
        matches!(again, Claim::New { correction_of: Some(f), .. } if f == first),
        "{again:?}"
    );
    let dup = ledger
        .claim("p", &landing("b.csv", "one", Some("2026-11-25")), rule)
        .expect("claim");
    assert!(
        matches!(dup, Claim::Duplicate { duplicate_of, .. } if duplicate_of == first),
        "{dup:?}"
    );
    assert_eq!(
        ledger.file_content(first).expect("content"),
        Some((3, "one".to_string()))
    );
    assert_eq!(ledger.file_content(9999).expect("content"), None);
    ledger
        .set_file_state(first, FileState::Processed, Some("done"), "archive/p/x")
        .expect("state");
    assert_eq!(
        ledger.file_states("p").expect("states"),
        vec![
            ("claimed".to_string(), 1),
            ("duplicate".to_string(), 1),
            ("processed".to_string(), 1)
        ]
    );
}

fn runs(ledger: &mut Ledger) {
    let Claim::New { file_id, .. } = ledger
        .claim(
            "p",
            &landing("a.csv", "x", Some("2026-11-25")),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
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
        .expect("start");
    let second = ledger
        .start_run(
            "q",
            None,
            None,
            now,
            "rerun",
            Some("ann"),
            Some("why"),
            Some(&first),
        )
        .expect("start");
    assert_eq!((first.as_str(), second.as_str()), ("r000001", "r000002"));
    assert_eq!(ledger.run_archive(&first).expect("archive"), None);
    ledger
        .set_run_archive(&first, "archive/p/2026-11-25/r000001")
        .expect("archive");
    assert_eq!(
        ledger.run_archive(&first).expect("archive").as_deref(),
        Some("archive/p/2026-11-25/r000001")
    );
    let all = ledger.runs(&RunFilter::default()).expect("runs");
    let ids: Vec<_> = all.iter().map(|r| r.run_id.as_str()).collect();
    assert_eq!(ids, ["r000002", "r000001"], "newest first");
    assert_eq!(all[1].file.as_deref(), Some("a.csv"));
    assert_eq!(all[1].file_id, Some(file_id));
    assert_eq!(all[1].state, RunState::Running.as_str());
    assert_eq!(all[0].actor.as_deref(), Some("ann"));
    let only_p = ledger
        .runs(&RunFilter {
            pipeline: Some("p".into()),
            date: Some("2026-11-25".into()),
            state: Some("running".into()),
            limit: Some(10),
        })
        .expect("runs");
    assert_eq!(only_p.len(), 1);
    assert!(ledger
        .outbound_for_run(&first)
        .expect("outbound")
        .is_empty());
}

fn daemon_state(ledger: &mut Ledger) {
    use chrono::{NaiveDate, TimeZone, Utc};
    let t = Utc
        .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
        .single()
        .expect("time");
    assert_eq!(ledger.last_scheduled_run("p").expect("read"), None);
    ledger.set_last_scheduled_run("p", t).expect("set");
    ledger
        .set_last_scheduled_run("p", t + chrono::Duration::hours(1))
        .expect("set again");
    assert_eq!(
        ledger.last_scheduled_run("p").expect("read"),
        Some(t + chrono::Duration::hours(1))
    );
    assert_eq!(ledger.expected_since("p", t).expect("since"), t);
    assert_eq!(
        ledger
            .expected_since("p", t + chrono::Duration::days(1))
            .expect("since"),
        t,
        "set once"
    );
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    ledger.record_alert("p", day, t, t).expect("alert");
    ledger.record_alert("p", day, t, t).expect("alert once");
    assert_eq!(
        ledger.raised_alerts().expect("alerts"),
        vec![("p".to_string(), day)]
    );
    ledger
        .claim(
            "p",
            &landing("a.csv", "w", Some("2026-11-24")),
            DuplicateRule::Content,
        )
        .expect("claim");
    ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            None,
            "2026-11-25T10:00:00.000Z",
            "file",
            None,
            None,
            None,
        )
        .expect("start");
    assert_eq!(ledger.arrival_dates("p").expect("arrivals"), vec![day]);
}

fn held_and_reports(ledger: &mut Ledger) {
    let rule = DuplicateRule::ContentPerBusinessDate;
    let new = |ledger: &mut Ledger, p: &str, name: &str, sha: &str| match ledger
        .claim(p, &landing(name, sha, Some("2026-11-25")), rule)
        .expect("claim")
    {
        Claim::New { file_id, .. } => file_id,
        c => panic!("{c:?}"),
    };
    let waiting = new(ledger, "p", "a.csv", "1");
    let failed = new(ledger, "q", "b.csv", "2");
    let ok = new(ledger, "p", "c.csv", "3");
    ledger
        .set_file_state(
            waiting,
            FileState::Waiting,
            Some("no ERP"),
            "var/landing/p/a",
        )
        .expect("state");
    ledger
        .set_file_state(failed, FileState::Failed, None, "var/landing/q/b")
        .expect("state");
    let held: Vec<_> = ledger
        .held_files(None)
        .expect("held")
        .into_iter()
        .map(|h| (h.file_id, h.state))
        .collect();
    assert_eq!(
        held,
        [(waiting, FileState::Waiting), (failed, FileState::Failed)]
    );
    let p_waiting = ledger.waiting_files("p").expect("waiting");
    assert_eq!(p_waiting.len(), 1);
    assert_eq!(p_waiting[0].reason.as_deref(), Some("no ERP"));
    assert!(ledger.waiting_files("q").expect("waiting").is_empty());

    ledger
        .claim("p", &landing("d.csv", "3", Some("2026-11-25")), rule)
        .expect("duplicate");
    assert_eq!(
        ledger.latest_duplicate("p", "d.csv").expect("dup"),
        Some(("3".to_string(), None))
    );
    let now = "2026-11-25T10:00:00.000Z";
    let bad = ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            Some(ok),
            now,
            "file",
            None,
            None,
            None,
        )
        .expect("run");
    ledger
        .set_run_archive(&bad, "archive/p/x/r000001")
        .expect("archive");
    end_run(ledger, &bad, "rejected", now, "bad rows");
    let file = ledger.run_file(&bad).expect("file").expect("has a file");
    assert_eq!((file.name.as_str(), file.sha256.as_str()), ("c.csv", "3"));
    assert_eq!(
        ledger.pending_reports("p").expect("pending"),
        [(bad.clone(), "archive/p/x/r000001".to_string())]
    );
    ledger.set_report_done(&bad).expect("done");
    assert!(ledger.pending_reports("p").expect("pending").is_empty());
    let unresolved = ledger.unresolved_runs("2026-11-01").expect("unresolved");
    assert_eq!(unresolved.len(), 1);
    assert_eq!(
        (
            unresolved[0].state,
            unresolved[0].count,
            unresolved[0].latest_message.as_deref()
        ),
        (RunState::Rejected, 1, Some("bad rows"))
    );
    let fixed = ledger
        .start_run(
            "p",
            Some("2026-11-25"),
            Some(ok),
            now,
            "rerun",
            None,
            None,
            Some(&bad),
        )
        .expect("rerun");
    end_run(
        ledger,
        &fixed,
        "succeeded",
        "2026-11-25T11:00:00.000Z",
        "ok",
    );
    assert!(ledger
        .unresolved_runs("2026-11-01")
        .expect("unresolved")
        .is_empty());
    let last = ledger.last_successes().expect("last");
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].1.to_rfc3339(), "2026-11-25T11:00:00+00:00");
}

fn interchanges(ledger: &mut Ledger) {
    let Claim::New { file_id, .. } = ledger
        .claim("p", &landing("a.x12", "1", None), DuplicateRule::Content)
        .expect("claim")
    else {
        panic!("new")
    };
    let now = "2026-11-25T10:00:00.000Z";
    let first = ledger
        .start_run("p", None, Some(file_id), now, "file", None, None, None)
        .expect("run");
    let other = ledger
        .start_run("p", None, None, now, "file", None, None, None)
        .expect("run");
    ledger
        .remember_interchange("ZZ:ACME", "000000905", "a.x12", &first, true)
        .expect("remember");
    let earlier = ledger
        .accepted_interchange("ZZ:ACME", "905", &other)
        .expect("read");
    assert_eq!(earlier.map(|e| e.run_id), Some(first.clone()));
    // The same file's own row is not an earlier interchange.
    assert_eq!(
        ledger
            .accepted_interchange("ZZ:ACME", "905", &first)
            .expect("read"),
        None
    );
    // An accepted row of another file stays.
    ledger
        .remember_interchange("ZZ:ACME", "905", "b.x12", &other, false)
        .expect("remember");
    assert!(ledger
        .accepted_interchange("ZZ:ACME", "905", &other)
        .expect("read")
        .is_some());

    assert_eq!(ledger.next_x12_controls("acme").expect("next"), (1, 1));
    assert_eq!(ledger.next_x12_controls("acme").expect("next"), (2, 2));
    ledger
        .db()
        .execute(
            "UPDATE x12_control_numbers SET last_interchange = 999999999",
            &[],
        )
        .expect("near the end");
    assert_eq!(ledger.next_x12_controls("acme").expect("wraps"), (1, 3));
}

fn sources(ledger: &mut Ledger) {
    use super::source_status::FailedAction;
    ledger
        .source_failed("p", "sftp://h/in", "refused", "t1")
        .expect("failed");
    ledger
        .source_failed("p", "sftp://h/in", "timeout", "t2")
        .expect("failed");
    let problems = ledger.source_problems().expect("problems");
    assert_eq!(problems.len(), 1);
    assert_eq!(
        (
            problems[0].failures,
            problems[0].failing_since.as_str(),
            problems[0].last_error.as_str()
        ),
        (2, "t1", "timeout")
    );
    ledger.source_ok("p", "sftp://h/in", "t3").expect("ok");
    assert!(ledger.source_problems().expect("problems").is_empty());

    let f = FailedAction {
        pipeline: "p",
        source: "sftp://h/in",
        name: "a.csv",
        size: 10,
        mtime: 1_700_000_000,
        action: "delete",
        error: "permission denied",
    };
    ledger.remote_action_failed(&f, 1000).expect("failed");
    ledger.remote_action_failed(&f, 1000).expect("failed again");
    assert!(ledger
        .remote_action_pending("p", "a.csv", 10, 1_700_000_000)
        .expect("pending"));
    assert!(
        ledger
            .due_remote_actions("p", 1000)
            .expect("due")
            .is_empty(),
        "backing off"
    );
    let due = ledger.due_remote_actions("p", 1_000_000).expect("due");
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].attempts, due[0].size), (2, 10));
    assert_eq!(ledger.pending_remote_actions().expect("pending").len(), 1);
    ledger
        .remote_action_settled(due[0].id, super::RemoteActionState::Done, None, "t4")
        .expect("settled");
    assert!(!ledger
        .remote_action_pending("p", "a.csv", 10, 1_700_000_000)
        .expect("pending"));
    assert_eq!(ledger.pending_remote_actions().expect("pending").len(), 0);

    assert!(!ledger.already_kept("p", "k.csv", 5, 7).expect("kept"));
    ledger.remember_kept("p", "k.csv", 5, 7).expect("keep");
    ledger.remember_kept("p", "k.csv", 5, 7).expect("keep once");
    assert!(ledger.already_kept("p", "k.csv", 5, 7).expect("kept"));
}

/// One succeeded run `r1` of pipeline `p` with one pending upload (id 1).
fn one_upload(ledger: &Ledger) {
    ledger
        .db()
        .batch(
            "INSERT INTO runs (run_id, pipeline, started_at, state, trigger)
             VALUES ('r1', 'p', 'now', 'succeeded', 'file');
             INSERT INTO deliveries (id, run_id, pipeline, destination, name, path, sha256,
                 target, always, state, next_attempt_at)
             VALUES (1, 'r1', 'p', 'erp', 'a.csv', 'archive/a.csv', 'x', 'sftp://t', 0,
                 'pending', 0);",
        )
        .expect("rows");
}

fn upload_lease(ledger: &mut Ledger) {
    one_upload(ledger);
    let me = super::lease::owner();
    // A holder on another host is never judged dead: only its time ends its lease.
    let elsewhere = "elsewhere:1:1";
    assert!(ledger.lease_delivery(1, elsewhere, 100, 60).expect("lease"));
    assert!(
        !ledger.lease_delivery(1, &me, 159, 60).expect("lease"),
        "held"
    );
    assert!(
        ledger.lease_delivery(1, &me, 160, 60).expect("lease"),
        "expired"
    );
    assert!(
        !ledger.lease_delivery(1, elsewhere, 161, 60).expect("lease"),
        "we are alive"
    );
    // A holder on this host whose process is gone: taken over at once.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    child.wait().expect("wait");
    let dead = format!(
        "{}:{}:1",
        me.rsplitn(3, ':').nth(2).unwrap_or_default(),
        child.id()
    );
    ledger
        .db()
        .execute(
            "UPDATE deliveries SET lease_owner = ?1, lease_until = 10000",
            crate::db_args![dead],
        )
        .expect("dead holder");
    assert!(
        ledger.lease_delivery(1, &me, 200, 60).expect("lease"),
        "dead holder"
    );
    // Delivered: nobody leases it any more, and the lease is cleared.
    ledger.delivered(1, "uploaded", "now").expect("delivered");
    assert!(!ledger.lease_delivery(1, elsewhere, 300, 60).expect("lease"));
    let owner: Option<String> = ledger
        .db()
        .query_one("SELECT lease_owner FROM deliveries WHERE id = 1", &[])
        .and_then(|r| r.get(0))
        .expect("owner");
    assert_eq!(owner, None);
}

fn uploads(ledger: &mut Ledger) {
    one_upload(ledger);
    ledger
        .db()
        .execute("UPDATE runs SET ended_at = 'then' WHERE run_id = 'r1'", &[])
        .expect("ended");
    assert_eq!(ledger.due_deliveries("p", 10).expect("due").len(), 1);
    ledger
        .delivery_failed(1, "refused", false, 10)
        .expect("failed");
    assert!(
        ledger.due_deliveries("p", 10).expect("due").is_empty(),
        "backing off"
    );
    let d = &ledger.due_deliveries("p", 10 + 30).expect("due")[0];
    assert_eq!((d.attempts, d.last_error.as_deref()), (1, Some("refused")));
    ledger
        .delivery_failed(1, "wrong file", true, 50)
        .expect("failed");
    assert_eq!(
        ledger.deliveries(Some("r1")).expect("all")[0].state,
        super::DeliveryState::Failed
    );
    assert!(ledger.retry_delivery(1).expect("retry"));
    assert_eq!(ledger.due_deliveries("p", 0).expect("due").len(), 1);
    ledger.delivered(1, "uploaded", "now").expect("delivered");
    assert!(
        !ledger.retry_delivery(1).expect("retry"),
        "delivered stays delivered"
    );
    let all = ledger.deliveries(None).expect("all");
    assert_eq!(
        (all[0].state, all[0].outcome.as_deref()),
        (super::DeliveryState::Delivered, Some("uploaded"))
    );
    assert!(ledger.deliveries(Some("r2")).expect("none").is_empty());
}

fn new_mail(message_id: &str) -> super::mail_queue::NewMail<'_> {
    super::mail_queue::NewMail {
        run_id: "r000001",
        pipeline: "p",
        message_id,
        subject: "report",
        envelope_from: "t@example.com",
        recipients_json: "[\"ops@example.com\"]",
        message: b"Subject: report\r\n\r\nbody \xff",
    }
}

fn mail(ledger: &mut Ledger) {
    use super::MailState;
    let tag = ledger.home_tag().expect("tag");
    assert_eq!(tag.len(), 16, "{tag}");
    let (id, new) = ledger
        .enqueue_mail(&new_mail("<a@x>"), 100)
        .expect("enqueue");
    assert!(new);
    assert_eq!(
        ledger.enqueue_mail(&new_mail("<a@x>"), 200).expect("again"),
        (id, false)
    );
    let c = ledger
        .claim_mail(100, "me", 60)
        .expect("claim")
        .expect("due");
    assert_eq!((c.id, c.attempts), (id, 1));
    assert_eq!(c.message, b"Subject: report\r\n\r\nbody \xff");
    assert!(
        ledger
            .claim_mail(100, "other", 60)
            .expect("claim")
            .is_none(),
        "leased"
    );
    assert_eq!(
        ledger.leased_mail(100).expect("leased"),
        [(id, "me".to_string())]
    );
    assert!(!ledger
        .release_mail_lease(id, "other", 100)
        .expect("release"));
    assert!(ledger.release_mail_lease(id, "me", 100).expect("release"));
    let c = ledger
        .claim_mail(100, "other", 60)
        .expect("claim")
        .expect("due again");
    assert_eq!(c.attempts, 2);
    ledger.mail_deferred(id, 5000, "421 busy").expect("defer");
    assert!(ledger.claim_mail(200, "me", 60).expect("claim").is_none());
    assert_eq!(ledger.expedite_mail(200).expect("expedite"), 1);
    let c = ledger
        .claim_mail(200, "me", 60)
        .expect("claim")
        .expect("expedited");
    ledger.mail_failed(c.id, "550 no such user").expect("fail");
    assert!(ledger.requeue_mail(id, 300).expect("requeue"));
    assert!(
        !ledger.requeue_mail(id, 300).expect("requeue"),
        "only a failed one"
    );
    let c = ledger
        .claim_mail(300, "me", 60)
        .expect("claim")
        .expect("requeued");
    ledger.mail_sent(c.id, 301).expect("sent");
    let list = ledger.mail_queue().expect("list");
    assert_eq!(list.len(), 1);
    assert_eq!((list[0].state, list[0].attempts), (MailState::Sent, 4));
    assert_eq!(list[0].recipients, ["ops@example.com"]);
    assert_eq!(
        ledger.mail_message(id).expect("bytes").as_deref(),
        Some(&b"Subject: report\r\n\r\nbody \xff"[..])
    );
}

/// Three processes' ledgers draining one queue at once: each message is claimed by exactly
/// one of them (`claim_mail`: SKIP LOCKED on PostgreSQL, one writer on SQLite).
fn drained_once(open: &(dyn Fn() -> Ledger + Sync)) {
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

/// Three daemons' ledgers asking for the same scheduled ticks at once: each tick is taken by
/// exactly one; an earlier tick than the one taken is refused.
fn ticked_once(open: &(dyn Fn() -> Ledger + Sync)) {
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
            .map(|_| {
                s.spawn(|| {
                    let ledger = open();
                    ticks
                        .iter()
                        .filter(|t| ledger.take_tick("p", **t).expect("take"))
                        .count()
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
    assert!(
        !ledger.take_tick("p", start).expect("take"),
        "an earlier tick"
    );
    assert_eq!(
        ledger.last_scheduled_run("p").expect("read"),
        ticks.last().copied()
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

fn recovery(ledger: &mut Ledger) {
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
    ledger.close_interrupted(&first, "crashed").expect("close");
    assert!(ledger
        .interrupted_runs("p")
        .expect("interrupted")
        .is_empty());
    assert_eq!(ledger.failed_runs_of(file_id).expect("failed"), 1);
    let claimed = ledger.claimed_files("p").expect("claimed");
    assert_eq!(claimed.len(), 1);
    assert_eq!(
        (claimed[0].failed_runs, claimed[0].last_archive.as_deref()),
        (1, Some("archive/p/d/r000001"))
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

fn run_end(ledger: &mut Ledger) {
    use super::deliveries::NewDelivery;
    use super::outputs::{FileEnd, NewOutbound};
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
    let issues = [
        crate::issue::Issue::error("a.csv", "type", "not a number"),
        crate::issue::Issue::error("a.csv", "required", "missing").warning(),
    ];
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
        ("succeeded", Some(5), Some(2))
    );
    let count = |sql: &str| -> i64 {
        ledger
            .db()
            .query_one(sql, &[])
            .and_then(|r| r.get(0))
            .expect(sql)
    };
    assert_eq!(count("SELECT count(*) FROM issues"), 2);
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

fn catalogs(ledger: &mut Ledger) {
    use super::catalog::{CatalogEnd, CatalogHold, CatalogVersion};
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

/// Every table and its columns in order, as the backend reports them.
fn schema(ledger: &Ledger) -> Vec<(String, Vec<String>)> {
    let mut db = ledger.db();
    let rows = match db.dialect() {
        super::db::Dialect::Sqlite => db.query(
            "SELECT m.name, c.name FROM sqlite_master m, pragma_table_info(m.name) c
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, c.cid",
            &[],
        ),
        super::db::Dialect::Postgres => db.query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name <> 'tallyman_ledger'
             ORDER BY table_name, ordinal_position",
            &[],
        ),
    }
    .expect("schema");
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    for r in rows {
        let (table, column): (String, String) = (r.get(0).expect("t"), r.get(1).expect("c"));
        match out.last_mut() {
            Some((t, cols)) if *t == table => cols.push(column),
            _ => out.push((table, vec![column])),
        }
    }
    out
}

/// The same migrations build the same tables on both; a PostgreSQL ledger is versioned like
/// SQLite's: reopened as it is, a newer one refused, a database holding other tables refused,
/// two daemons creating it at once both succeed.
#[test]
fn postgres_migrations_match_sqlite_and_are_versioned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
    let cluster = PgCluster::start();
    let name = cluster.database();
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("open");
    let (want, got) = (schema(&sqlite), schema(&pg));
    assert!(want.len() > 20, "{want:?}");
    assert_eq!(got, want);
    drop(pg);

    // Reopened: nothing to do, same version.
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("reopen");
    let version = |l: &Ledger| -> i64 {
        l.db()
            .query_one("SELECT version FROM tallyman_ledger", &[])
            .and_then(|r| r.get(0))
            .expect("version")
    };
    assert_eq!(version(&pg), super::SCHEMA_VERSION);
    pg.db()
        .execute("UPDATE tallyman_ledger SET version = version + 1", &[])
        .expect("wind forward");
    drop(pg);
    let err = Ledger::open_postgres(&target(&cluster, &name)).err();
    assert!(
        matches!(err, Some(StoreError::TooNew { found, known, .. }) if found == known + 1),
        "{err:?}"
    );

    let other = cluster.database();
    cluster
        .client(&other)
        .and_then(|mut c| c.batch_execute("CREATE TABLE accounts (id int)"))
        .expect("another program's table");
    let err = Ledger::open_postgres(&target(&cluster, &other)).err();
    assert!(
        matches!(err, Some(StoreError::NotALedger { .. })),
        "{err:?}"
    );

    // Two daemons starting together on an empty database: one creates, the other waits.
    let fresh = cluster.database();
    let t = target(&cluster, &fresh);
    let both: Vec<_> = std::thread::scope(|s| {
        let a = s.spawn(|| Ledger::open_postgres(&t).map(|_| ()));
        let b = s.spawn(|| Ledger::open_postgres(&t).map(|_| ()));
        vec![a.join().expect("a"), b.join().expect("b")]
    });
    assert!(both.iter().all(Result::is_ok), "{both:?}");
}

/// What is not on `store::db` yet refuses a PostgreSQL ledger by name, never half-works; and
/// a wrong password says whose ledger it is, never the password.
#[test]
fn postgres_refusals_are_clear() {
    let cluster = PgCluster::start();
    let name = cluster.database();
    let pg = Ledger::open_postgres(&target(&cluster, &name)).expect("open");
    let run = pg
        .start_run("p", None, None, "now", "file", None, None, None)
        .expect("run");
    let view = crate::engine::open_items::RunView {
        date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        run: run.clone(),
        observed: Vec::new(),
        matched: Default::default(),
    };
    let err = pg
        .finish_run(
            &run,
            "now",
            "succeeded",
            None,
            None,
            &[],
            None,
            None,
            None,
            false,
            &[],
            None,
            Some(("p", &view)),
            None,
            None,
        )
        .expect_err("not yet");
    assert!(
        err.to_string()
            .contains("record a run's open items: not yet supported with the PostgreSQL ledger"),
        "{err}"
    );
    assert_eq!(
        pg.runs(&RunFilter::default()).expect("runs")[0].state,
        "running",
        "nothing of the refused end was kept"
    );
    for err in [
        pg.unpublished_outputs("p").expect_err("not yet"),
        pg.copy_to(std::path::Path::new("/nonexistent"))
            .expect_err("not yet"),
    ] {
        assert!(matches!(err, StoreError::NotOnPostgres { .. }), "{err}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let wrong = dir.path().join("pw");
    std::fs::write(&wrong, "wrong-password\n").expect("write");
    let mut t = target(&cluster, &name);
    t.password = PasswordSource::File(wrong);
    let err = Ledger::open_postgres(&t).err().expect("refused");
    let text = err.to_string();
    assert!(
        text.contains(&format!(
            "postgresql://tallyman@127.0.0.1:{}/{name}",
            cluster.port
        )),
        "{text}"
    );
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("wrong-password"), "{text}");
    t.password = PasswordSource::Env("TALLYMAN_TEST_NO_SUCH_VARIABLE".into());
    let err = Ledger::open_postgres(&t).err().expect("refused");
    assert!(
        err.to_string()
            .contains("TALLYMAN_TEST_NO_SUCH_VARIABLE is not set"),
        "{err}"
    );
}

/// Every row of every table, as text, sorted (row order is not part of the comparison).
fn contents(ledger: &Ledger, tables: &[String]) -> Vec<(String, Vec<String>)> {
    tables
        .iter()
        .map(|t| {
            let mut rows: Vec<String> = ledger
                .db()
                .query(&format!("SELECT * FROM {t}"), &[])
                .expect("read")
                .iter()
                .map(|r| format!("{r:?}"))
                .collect();
            rows.sort();
            (t.clone(), rows)
        })
        .collect()
}

/// A SQLite ledger with runs, outputs, uploads, mail, catalogs, sources and the daemon's
/// tables, exported into an empty PostgreSQL ledger: every row the same, ids and the home's
/// Message-ID tag kept, new rows numbered after the copied ones, a second export refused.
#[test]
fn a_sqlite_ledger_exports_into_postgres_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut sqlite = Ledger::open(&dir.path().join("l.sqlite")).expect("open");
    for case in [run_end, mail, catalogs, sources, daemon_state] {
        case(&mut sqlite);
    }
    let cluster = PgCluster::start();
    let mut pg = Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
    let copied = sqlite.export_to(&pg).expect("export");
    let tables: Vec<String> = copied.iter().map(|(t, _)| t.clone()).collect();
    assert!(
        copied.iter().any(|(t, n)| t == "runs" && *n == 5),
        "{copied:?}"
    );
    let (want, got) = (contents(&sqlite, &tables), contents(&pg, &tables));
    for ((table, want), (_, got)) in want.iter().zip(&got) {
        assert_eq!(got, want, "{table}");
    }
    assert_eq!(pg.home_tag().expect("tag"), sqlite.home_tag().expect("tag"));
    let next = pg
        .start_run("p", None, None, "now", "file", None, None, None)
        .expect("a new run");
    assert_eq!(next, "r000006");
    let Claim::New { file_id, .. } = pg
        .claim(
            "p",
            &landing("new.csv", "new", None),
            DuplicateRule::Content,
        )
        .expect("claim")
    else {
        panic!("new")
    };
    let most: i64 = sqlite
        .db()
        .query_one("SELECT max(id) FROM files", &[])
        .and_then(|r| r.get(0))
        .expect("max");
    assert_eq!(file_id, most + 1);
    let err = sqlite.export_to(&pg).expect_err("not empty");
    assert!(
        err.to_string().contains("only fills an empty ledger"),
        "{err}"
    );
}

/// Ledger writes per second, SQLite against PostgreSQL (fsync on for both), one ledger and
/// three at once: each file claimed, its run started and ended. A measurement, not a check:
/// `cargo test --lib store::backend_tests::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_claims_per_second() {
    const FILES: usize = 300;
    fn work(open: &(dyn Fn() -> Ledger + Sync), threads: usize) -> f64 {
        let started = std::time::Instant::now();
        std::thread::scope(|s| {
            for t in 0..threads {
                s.spawn(move || {
                    let mut ledger = open();
                    for i in 0..FILES / threads {
                        let name = format!("f{t}-{i}.csv");
                        let Claim::New { file_id, .. } = ledger
                            .claim("p", &landing(&name, &name, None), DuplicateRule::Content)
                            .expect("claim")
                        else {
                            panic!("new")
                        };
                        let run = ledger
                            .start_run("p", None, Some(file_id), "now", "file", None, None, None)
                            .expect("run");
                        ledger
                            .finish_run(
                                &run,
                                "now",
                                "succeeded",
                                Some(1000),
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
                                None,
                            )
                            .expect("finish");
                    }
                });
            }
        });
        FILES as f64 / started.elapsed().as_secs_f64()
    }
    let cluster = PgCluster::start_with(true);
    for threads in [1, 3] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("l.sqlite");
        let sqlite = work(&|| Ledger::open(&path).expect("open"), threads);
        let t = target(&cluster, &cluster.database());
        let pg = work(&|| Ledger::open_postgres(&t).expect("open"), threads);
        eprintln!("{threads} ledger(s): sqlite {sqlite:.0} files/s, postgres {pg:.0} files/s");
    }
}

/// PostgreSQL stopped under a ledger: the statement fails as a connection failure (not a
/// refused statement), reconnecting fails while it is down and works once it is back, the
/// claim tried during the outage left nothing behind, and work resumes.
#[test]
fn a_restarted_postgres_is_reconnected_with_nothing_half_recorded() {
    let mut cluster = PgCluster::start();
    let mut ledger = Ledger::open_postgres(&target(&cluster, &cluster.database())).expect("open");
    let rule = DuplicateRule::Content;
    ledger
        .claim("p", &landing("a.csv", "1", None), rule)
        .expect("claim");
    cluster.stop();
    let err = ledger
        .claim("p", &landing("b.csv", "2", None), rule)
        .expect_err("the server is down");
    assert!(err.is_connection(), "{err}");
    let down = ledger.reconnect().expect_err("still down");
    assert!(down.is_connection(), "{down}");
    cluster.start_again();
    ledger.reconnect().expect("reconnect");
    assert_eq!(
        ledger.file_states("p").expect("states"),
        [("claimed".to_string(), 1)],
        "the claim tried during the outage left nothing"
    );
    let again = ledger
        .claim("p", &landing("b.csv", "2", None), rule)
        .expect("claim");
    assert!(matches!(again, Claim::New { .. }), "{again:?}");
    let refused = ledger
        .db()
        .execute("INSERT INTO no_such_table VALUES (1)", &[])
        .map_err(ledger.q("a refused statement"))
        .expect_err("refused");
    assert!(!refused.is_connection(), "{refused}");
}
