//! Cases on the queues: uploads and their leases, the mail queue.

use super::*;

/// One succeeded run `r1` of pipeline `p` with one pending upload (id 1).
pub(super) fn one_upload(ledger: &Ledger) {
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

pub(super) fn upload_lease(ledger: &mut Ledger) {
    one_upload(ledger);
    let me = crate::store::lease::owner();
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

pub(super) fn uploads(ledger: &mut Ledger) {
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
        crate::store::DeliveryState::Failed
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
        (crate::store::DeliveryState::Delivered, Some("uploaded"))
    );
    assert!(ledger.deliveries(Some("r2")).expect("none").is_empty());
}

pub(super) fn new_mail(message_id: &str) -> crate::store::mail_queue::NewMail<'_> {
    crate::store::mail_queue::NewMail {
        run_id: "r000001",
        pipeline: "p",
        message_id,
        subject: "report",
        envelope_from: "t@example.com",
        recipients_json: "[\"ops@example.com\"]",
        message: b"Subject: report\r\n\r\nbody \xff",
    }
}

pub(super) fn mail(ledger: &mut Ledger) {
    use crate::store::MailState;
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

/// A tick's lease renewed while its tick runs: another daemon asking after the first lease
/// would have run out finds it held; once its holder stops renewing it runs out and is taken
/// over, and the old holder's renewal then fails; recorded done, nobody renews it.
pub(super) fn tick_lease(ledger: &mut Ledger) {
    use crate::store::tick_leases::Tick;
    use chrono::TimeZone;
    let fire = chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, 6, 0, 0)
        .single()
        .expect("time");
    let (a, b) = ("host-a:1:1", "host-b:2:2");
    assert_eq!(
        ledger.take_tick("p", fire, a, 100, 60).expect("take"),
        Tick::Taken
    );
    assert!(ledger.renew_tick("p", fire, a, 250).expect("renew"));
    assert!(
        !ledger.renew_tick("p", fire, b, 300).expect("renew"),
        "not b's"
    );
    // At 200 the first lease (until 160) would have run out: renewed, it holds.
    assert_eq!(
        ledger.take_tick("p", fire, b, 200, 60).expect("take"),
        Tick::Held
    );
    // Not renewed past 250: taken over, and its old holder has lost it.
    assert_eq!(
        ledger.take_tick("p", fire, b, 250, 60).expect("take"),
        Tick::Taken
    );
    assert!(
        !ledger.renew_tick("p", fire, a, 400).expect("renew"),
        "lost"
    );
    assert!(ledger.renew_tick("p", fire, b, 400).expect("renew"));
    ledger.finish_tick("p", fire, b).expect("finish");
    assert!(
        !ledger.renew_tick("p", fire, b, 500).expect("renew"),
        "done"
    );
    assert_eq!(
        ledger.take_tick("p", fire, a, 600, 60).expect("take"),
        Tick::Done
    );
}
