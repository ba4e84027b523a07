//! Cases on files, runs and the small tables: claims and duplicates, runs listed, the
//! daemon's times, held files and reports' facts, X12 control numbers, sources.

use super::*;

/// Each duplicate rule, on the same history.
pub(super) fn duplicate_rule(ledger: &mut Ledger) {
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

pub(super) fn correction(ledger: &mut Ledger) {
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

pub(super) fn runs(ledger: &mut Ledger) {
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

pub(super) fn daemon_state(ledger: &mut Ledger) {
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

pub(super) fn held_and_reports(ledger: &mut Ledger) {
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

pub(super) fn interchanges(ledger: &mut Ledger) {
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

pub(super) fn sources(ledger: &mut Ledger) {
    use crate::store::source_status::FailedAction;
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
        .remote_action_settled(due[0].id, crate::store::RemoteActionState::Done, None, "t4")
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

/// A claimed file's lease: taken with the claim, left to a live holder on PostgreSQL until it
/// runs out, then taken over; the old holder's renewal then fails; released by its holder only.
/// Writes `file_id`'s lease as another daemon holding it would have.
fn hold_lease(ledger: &Ledger, file_id: i64, holder: &str, until: i64) {
    ledger
        .db()
        .execute(
            "UPDATE files SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
            crate::db_args![file_id, holder, until],
        )
        .expect("hold");
}

pub(super) fn file_lease(ledger: &mut Ledger) {
    use crate::store::db::Dialect;
    use crate::store::file_leases::now_secs;
    let me = crate::store::lease::owner();
    let rule = DuplicateRule::ContentPerBusinessDate;
    let Claim::New { file_id, .. } = ledger
        .claim("p", &landing("a.csv", "aa", Some("2026-11-25")), rule)
        .expect("claim")
    else {
        panic!("a new file")
    };
    let (holder, until) = ledger
        .file_lease(file_id)
        .expect("read")
        .expect("leased with its claim");
    assert_eq!(holder, me);
    assert!(until > now_secs(), "{until}");
    let Claim::Duplicate { file_id: dup, .. } = ledger
        .claim("p", &landing("b.csv", "aa", Some("2026-11-25")), rule)
        .expect("claim")
    else {
        panic!("a duplicate")
    };
    assert_eq!(
        ledger.file_lease(dup).expect("read"),
        None,
        "nothing to hold"
    );
    // Another daemon on another host holds it until 1000: only time ends its lease.
    let elsewhere = "elsewhere:1:1";
    let hold =
        |ledger: &Ledger, holder: &str, until: i64| hold_lease(ledger, file_id, holder, until);
    hold(ledger, elsewhere, 1000);
    if ledger.dialect() == Dialect::Postgres {
        assert_eq!(
            ledger.take_file_leases("p", &me, 999, 60).expect("take"),
            Vec::<i64>::new()
        );
        assert!(!ledger.take_file_lease(file_id, &me, 999, 60).expect("take"));
        assert!(ledger
            .renew_file_lease(file_id, elsewhere, 1100)
            .expect("renew"));
        assert_eq!(
            ledger.take_file_leases("p", &me, 1050, 60).expect("take"),
            Vec::<i64>::new()
        );
        // It ran out: taken over, and its old holder has lost it.
        assert_eq!(
            ledger.take_file_leases("p", &me, 1100, 60).expect("take"),
            [file_id]
        );
        assert_eq!(
            ledger.file_lease(file_id).expect("read"),
            Some((me.clone(), 1160))
        );
        assert!(!ledger
            .renew_file_lease(file_id, elsewhere, 1200)
            .expect("renew"));
        assert!(!ledger
            .take_file_lease(file_id, elsewhere, 1101, 60)
            .expect("take"));
        // A holder on this host whose process is gone: taken over at once.
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        child.wait().expect("wait");
        let host = me.rsplitn(3, ':').nth(2).unwrap_or_default().to_string();
        hold(ledger, &format!("{host}:{}:1", child.id()), i64::MAX);
        assert!(ledger
            .take_file_lease(file_id, &me, 1200, 60)
            .expect("take"));
    } else {
        // SQLite's ledger is one machine's: the pipeline's lock, not the lease, decides.
        assert_eq!(
            ledger.take_file_leases("p", &me, 999, 60).expect("take"),
            [file_id]
        );
    }
    assert!(ledger.renew_file_lease(file_id, &me, 2000).expect("renew"));
    ledger
        .release_file_lease(file_id, elsewhere)
        .expect("release");
    assert_eq!(
        ledger.file_lease(file_id).expect("read"),
        Some((me.clone(), 2000)),
        "only its holder releases it"
    );
    ledger.release_file_lease(file_id, &me).expect("release");
    assert_eq!(ledger.file_lease(file_id).expect("read"), None);
    // Processed: no longer claimed, nobody takes or renews it.
    ledger
        .set_file_state(file_id, FileState::Processed, None, "archive/a.csv")
        .expect("state");
    assert_eq!(
        ledger.take_file_leases("p", &me, 5000, 60).expect("take"),
        Vec::<i64>::new()
    );
    assert!(!ledger.renew_file_lease(file_id, &me, 6000).expect("renew"));
}

/// A file held `waiting` goes back to `claimed` for one taker: the first wins, a second (another
/// daemon that saw it waiting too) is refused; on PostgreSQL a live holder's lease keeps others
/// out until it runs out.
pub(super) fn waiting_file(ledger: &mut Ledger) {
    use crate::store::db::Dialect;
    let me = crate::store::lease::owner();
    let other = "elsewhere:7:7";
    let Claim::New { file_id, .. } = ledger
        .claim(
            "p",
            &landing("w.csv", "ww", Some("2026-11-25")),
            DuplicateRule::ContentPerBusinessDate,
        )
        .expect("claim")
    else {
        panic!("a new file")
    };
    ledger
        .set_file_state(
            file_id,
            FileState::Waiting,
            Some("no extract"),
            "var/landing/p/w.csv",
        )
        .expect("wait");
    hold_lease(ledger, file_id, other, 1000);
    if ledger.dialect() == Dialect::Postgres {
        assert!(
            !ledger
                .take_waiting_file(file_id, &me, 999, 60)
                .expect("take"),
            "its holder on another host is alive until 1000"
        );
    }
    assert!(ledger
        .take_waiting_file(file_id, &me, 1000, 60)
        .expect("take"));
    assert_eq!(
        ledger.file_lease(file_id).expect("read"),
        Some((me.clone(), 1060))
    );
    assert!(
        !ledger
            .take_waiting_file(file_id, other, 2000, 60)
            .expect("take"),
        "claimed now: nobody takes it as waiting again"
    );
    let state: String = ledger
        .db()
        .query_one(
            "SELECT state FROM files WHERE id = ?1",
            crate::db_args![file_id],
        )
        .and_then(|r| r.get(0))
        .expect("state");
    assert_eq!(state, "claimed");
}
