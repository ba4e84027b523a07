//! Report mail through the queue against a real SMTP server (aiosmtpd) on loopback, and spool.

#[path = "support/fixture.rs"]
mod fixture;
#[path = "support/smtp.rs"]
mod smtp;

use chrono::{DateTime, Duration, TimeZone, Utc};
use fixture::sample_report;
use smtp::{free_port, parse_mail, ServerOpts, SmtpServer, TestPki};
use tallyman::config::mail::MailRaw;
use tallyman::config::report::ReportRaw;
use tallyman::report::queue;
use tallyman::report::{build_message, render, Mailer, OutgoingMail, RenderOptions};
use tallyman::store::Ledger;
use tallyman::store::MailState;

fn rule_raw() -> ReportRaw {
    toml::from_str(
        r#"to = ["Finance <finance@example.com>"]
           cc = ["ops@example.com"]
           when = "problems"
           subject = "[tallyman] {pipeline} {date}: {summary}""#,
    )
    .expect("report toml")
}

fn mail_raw(extra: &str) -> MailRaw {
    toml::from_str(&format!(
        "from = \"Tallyman <tallyman@example.com>\"\ntimeout_secs = 5\n{extra}"
    ))
    .expect("mail toml")
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0)
        .single()
        .expect("time")
}

fn outgoing(mail: &MailRaw) -> OutgoingMail {
    let report = sample_report();
    let rule = rule_raw().compile("report").expect("rule");
    let settings = mail.compile().expect("mail settings");
    let rendered = render(&report, &rule.subject, &RenderOptions::default()).expect("render");
    build_message(&report, &rule, &settings, &rendered, t0()).expect("build")
}

fn mailer(mail: &MailRaw) -> Mailer {
    Mailer::from_settings(&mail.compile().expect("settings"), &|_| None).expect("mailer")
}

fn plain_smtp(port: u16) -> MailRaw {
    mail_raw(&format!(
        "smtp_host = \"127.0.0.1\"\nport = {port}\ntls = \"none\""
    ))
}

fn ledger() -> Ledger {
    Ledger::open_in_memory().expect("ledger")
}

#[test]
fn delivered_with_headers_both_parts_and_attachment() {
    let server = SmtpServer::start(ServerOpts::default());
    let raw = plain_smtp(server.port);
    let msg = outgoing(&raw);
    let conn = ledger();
    let (id, new) = queue::enqueue(&conn, &msg, t0()).expect("enqueue");
    assert!(new);
    let (again, new_again) = queue::enqueue(&conn, &msg, t0()).expect("enqueue again");
    assert_eq!(
        (again, new_again),
        (id, false),
        "same Message-ID is stored once"
    );

    let summary = queue::flush(&conn, &mailer(&raw), t0()).expect("flush");
    assert_eq!(
        (summary.sent, summary.retry_later, summary.failed),
        (1, 0, 0)
    );

    let received = server.messages();
    assert_eq!(received.len(), 1);
    assert_eq!(
        server.data_transport(),
        vec!["plain"],
        "tls = \"none\" sends in the clear"
    );
    let mail = parse_mail(&received[0]);
    assert_eq!(mail.header("Message-ID"), Some(msg.message_id.as_str()));
    assert_eq!(mail.header("Subject"), Some("[tallyman] stripe-settlement 2026-11-25: 4 breaks, 3 issues, 1 quarantined file, 1 duplicate file"));
    assert_eq!(mail.header("From"), Some("Tallyman <tallyman@example.com>"));
    assert_eq!(mail.header("To"), Some("Finance <finance@example.com>"));
    assert_eq!(mail.header("Cc"), Some("ops@example.com"));
    let text = mail.part("text/plain").expect("text part");
    assert!(text.body.contains("Mismatched       3"), "{}", text.body);
    let html = mail.part("text/html").expect("html part");
    assert!(html.body.contains("SO-&lt;script&gt;") && !html.body.contains("<script>"));
    let report = sample_report();
    let rendered = render(&report, "{summary}", &RenderOptions::default()).expect("render");
    let csv = mail
        .parts
        .iter()
        .find(|p| p.filename.is_some())
        .expect("attachment");
    assert_eq!(
        csv.filename.as_deref(),
        Some("stripe-settlement-2026-11-25-exceptions.csv")
    );
    assert_eq!(csv.content_type, "text/csv");
    assert_eq!(csv.body.as_bytes(), rendered.csv.as_slice());

    let listed = queue::list(&conn).expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].state, MailState::Sent);
    assert_eq!(listed[0].attempts, 1);
    assert_eq!(
        listed[0].recipients,
        vec!["finance@example.com", "ops@example.com"]
    );
    assert_eq!(
        queue::message_bytes(&conn, id).expect("bytes"),
        Some(msg.bytes.clone())
    );
}

#[test]
fn server_down_stays_queued_then_delivers_exactly_once() {
    let port = free_port();
    let raw = plain_smtp(port);
    let conn = ledger();
    let msg = outgoing(&raw);
    queue::enqueue(&conn, &msg, t0()).expect("enqueue");
    let m = mailer(&raw);

    let first = queue::flush(&conn, &m, t0()).expect("flush while down");
    assert_eq!((first.sent, first.retry_later), (0, 1));
    let row = &queue::list(&conn).expect("list")[0];
    assert_eq!(row.state, MailState::Queued);
    assert!(
        row.next_attempt_at > t0(),
        "backoff pushed the next attempt out"
    );
    assert!(
        row.last_error
            .as_deref()
            .unwrap_or("")
            .contains("127.0.0.1"),
        "{:?}",
        row.last_error
    );

    let server = SmtpServer::start(ServerOpts {
        port,
        ..ServerOpts::default()
    });
    let too_early = queue::flush(&conn, &m, t0()).expect("flush before backoff");
    assert_eq!(too_early.sent, 0, "not due yet");
    assert!(server.messages().is_empty());
    let later = queue::flush(&conn, &m, t0() + Duration::minutes(5)).expect("flush after backoff");
    assert_eq!(later.sent, 1);
    let again = queue::flush(&conn, &m, t0() + Duration::days(1)).expect("flush again");
    assert_eq!((again.sent, again.retry_later, again.failed), (0, 0, 0));
    assert_eq!(server.messages().len(), 1, "delivered exactly once");
    assert_eq!(queue::list(&conn).expect("list")[0].state, MailState::Sent);
}

#[test]
fn transient_451_is_retried_with_the_same_message_id() {
    let server = SmtpServer::start(ServerOpts {
        fail_451: 2,
        ..ServerOpts::default()
    });
    let raw = plain_smtp(server.port);
    let conn = ledger();
    let msg = outgoing(&raw);
    queue::enqueue(&conn, &msg, t0()).expect("enqueue");
    let m = mailer(&raw);
    let mut now = t0();
    let mut outcomes = Vec::new();
    for _ in 0..5 {
        let s = queue::flush(&conn, &m, now).expect("flush");
        outcomes.push((s.sent, s.retry_later));
        now += Duration::hours(1);
    }
    assert_eq!(outcomes, vec![(0, 1), (0, 1), (1, 0), (0, 0), (0, 0)]);
    assert_eq!(server.data_answers(), vec!["451", "451", "250"]);
    let received = server.messages();
    assert_eq!(received.len(), 1);
    // lettre ends DATA with "\r\n.\r\n" and the server keeps that first CRLF.
    let body = received[0].strip_suffix(b"\r\n").unwrap_or(&received[0]);
    assert!(
        body == msg.bytes.as_slice(),
        "the stored bytes are resent unchanged"
    );
    assert_eq!(
        parse_mail(&received[0]).header("Message-ID"),
        Some(msg.message_id.as_str())
    );
    let row = &queue::list(&conn).expect("list")[0];
    assert_eq!(
        (row.state, row.attempts, row.last_error.clone()),
        (MailState::Sent, 3, None)
    );
}

#[test]
fn permanent_550_fails_and_is_listed() {
    let server = SmtpServer::start(ServerOpts {
        fail_550: true,
        ..ServerOpts::default()
    });
    let raw = plain_smtp(server.port);
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let m = mailer(&raw);
    let s = queue::flush(&conn, &m, t0()).expect("flush");
    assert_eq!((s.sent, s.retry_later, s.failed), (0, 0, 1));
    let later = queue::flush(&conn, &m, t0() + Duration::days(2)).expect("flush later");
    assert_eq!(
        later.failed + later.sent + later.retry_later,
        0,
        "a failed message is not retried"
    );
    assert_eq!(server.data_answers(), vec!["550"]);
    let row = &queue::list(&conn).expect("list")[0];
    assert_eq!(row.state, MailState::Failed);
    let err = row.last_error.as_deref().unwrap_or("");
    assert!(
        err.contains("550") && err.contains("Recipient refused by test policy"),
        "{err}"
    );

    assert!(queue::requeue(&conn, row.id, t0()).expect("requeue"));
    assert_eq!(
        queue::list(&conn).expect("list")[0].state,
        MailState::Queued
    );
}

/// Decision: a relay that does not offer STARTTLS while TLS is required is an operational
/// problem an admin fixes (relay or config), so the message stays queued with the error shown
/// and backoff, rather than being dropped as failed; nothing is ever sent in plain text.
#[test]
fn starttls_required_but_not_offered_sends_nothing_and_stays_queued() {
    let server = SmtpServer::start(ServerOpts::default());
    let raw = mail_raw(&format!(
        "smtp_host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"",
        server.port
    ));
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let s = queue::flush(&conn, &mailer(&raw), t0()).expect("flush");
    assert_eq!((s.sent, s.retry_later, s.failed), (0, 1, 0));
    assert!(server.data_answers().is_empty(), "server got no DATA");
    assert!(server.messages().is_empty());
    let row = &queue::list(&conn).expect("list")[0];
    assert_eq!(row.state, MailState::Queued);
    let err = row.last_error.as_deref().unwrap_or("");
    assert!(err.contains("STARTTLS"), "{err}");
}

#[test]
fn spool_mode_writes_one_parseable_eml() {
    let dir = tempfile::tempdir().expect("tmp");
    let spool = dir.path().join("outbox/mail");
    let raw = mail_raw(&format!("spool_dir = {:?}", spool.display().to_string()));
    let conn = ledger();
    let msg = outgoing(&raw);
    queue::enqueue(&conn, &msg, t0()).expect("enqueue");
    let m = mailer(&raw);
    assert_eq!(queue::flush(&conn, &m, t0()).expect("flush").sent, 1);
    assert_eq!(
        queue::flush(&conn, &m, t0() + Duration::days(1))
            .expect("flush")
            .sent,
        0
    );
    let files: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let bytes = std::fs::read(&files[0]).expect("read eml");
    assert_eq!(bytes, msg.bytes);
    let mail = parse_mail(&bytes);
    assert_eq!(mail.header("Message-ID"), Some(msg.message_id.as_str()));
    assert!(mail.part("text/html").is_some() && mail.part("text/plain").is_some());
}

#[test]
fn missing_credential_variable_is_an_error_naming_it() {
    let raw = mail_raw("smtp_host = \"127.0.0.1\"\nusername_env = \"TM_TEST_SMTP_USER\"\npassword_env = \"TM_TEST_SMTP_PASS\"");
    let settings = raw.compile().expect("settings");
    let env = |k: &str| (k == "TM_TEST_SMTP_USER").then(|| "alice".to_string());
    let err = Mailer::from_settings(&settings, &env)
        .err()
        .expect("missing password")
        .to_string();
    assert!(
        err.contains("TM_TEST_SMTP_PASS") && !err.contains("alice"),
        "{err}"
    );
}

/// STARTTLS against a relay whose certificate chains to a configured CA: delivered over TLS.
/// The same relay without that CA configured is refused (certificates are verified), and the
/// message stays queued.
#[test]
fn starttls_with_a_trusted_ca_delivers_over_tls_and_an_untrusted_one_does_not() {
    let pki = TestPki::new();
    let server = SmtpServer::start(ServerOpts {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        ..ServerOpts::default()
    });
    let base = format!(
        "smtp_host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"",
        server.port
    );

    let untrusted = mail_raw(&base);
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&untrusted), t0()).expect("enqueue");
    let s = queue::flush(&conn, &mailer(&untrusted), t0()).expect("flush untrusted");
    assert_eq!((s.sent, s.retry_later), (0, 1));
    assert!(
        server.data_answers().is_empty(),
        "nothing sent to an unverified server"
    );
    let err = queue::list(&conn).expect("list")[0]
        .last_error
        .clone()
        .unwrap_or_default();
    assert!(err.contains("certificate"), "{err}");

    let trusted = mail_raw(&format!(
        "{base}\nca_file = {:?}",
        pki.ca_cert.display().to_string()
    ));
    let s =
        queue::flush(&conn, &mailer(&trusted), t0() + Duration::hours(1)).expect("flush trusted");
    assert_eq!((s.sent, s.retry_later, s.failed), (1, 0, 0));
    assert_eq!(server.data_transport(), vec!["tls"]);
    assert_eq!(server.messages().len(), 1);
}

#[test]
fn implicit_tls_delivers_over_tls() {
    let pki = TestPki::new();
    let server = SmtpServer::start(ServerOpts {
        tls: Some((pki.server_cert.clone(), pki.server_key.clone())),
        implicit: true,
        ..ServerOpts::default()
    });
    let raw = mail_raw(&format!(
        "smtp_host = \"127.0.0.1\"\nport = {}\ntls = \"implicit\"\nca_file = {:?}",
        server.port,
        pki.ca_cert.display().to_string()
    ));
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let s = queue::flush(&conn, &mailer(&raw), t0()).expect("flush");
    assert_eq!((s.sent, s.retry_later, s.failed), (1, 0, 0));
    assert_eq!(server.data_transport(), vec!["tls"]);
}

/// SMTP AUTH against a server that requires it: the credentials come from the environment
/// variables the settings name (here a closure standing in for the process environment).
#[test]
fn smtp_auth_with_credentials_from_the_environment() {
    let server = SmtpServer::start(ServerOpts {
        auth: Some(("alice".into(), "s3cret".into())),
        ..ServerOpts::default()
    });
    let raw = mail_raw(&format!(
        "smtp_host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername_env = \"TM_USER\"\npassword_env = \"TM_PASS\"",
        server.port
    ));
    let settings = raw.compile().expect("settings");
    let with = |pass: &'static str| {
        move |k: &str| match k {
            "TM_USER" => Some("alice".to_string()),
            "TM_PASS" => Some(pass.to_string()),
            _ => None,
        }
    };
    // A wrong password: nothing is delivered.
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let wrong = Mailer::from_settings(&settings, &with("nope")).expect("mailer");
    let s = queue::flush(&conn, &wrong, t0()).expect("flush");
    assert_eq!(s.sent, 0);
    assert!(server.messages().is_empty());
    // The right one: delivered once.
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let right = Mailer::from_settings(&settings, &with("s3cret")).expect("mailer");
    let s = queue::flush(&conn, &right, t0()).expect("flush");
    assert_eq!(s.sent, 1);
    assert_eq!(server.messages().len(), 1);
    // Plain text is allowed to a relay on loopback only.
    assert_eq!(server.auth_log(), vec!["plain refused", "plain ok"]);
}

/// With a login, STARTTLS is required even when `tls_required = false`: a server that does
/// not offer STARTTLS never sees the credentials (the message waits for a retry); and
/// settings built by hand with `tls = "none"` and a login off loopback are refused.
#[test]
fn credentials_are_never_sent_without_tls() {
    let server = SmtpServer::start(ServerOpts {
        auth: Some(("alice".into(), "s3cret".into())),
        ..ServerOpts::default()
    });
    let raw = mail_raw(&format!(
        "smtp_host = \"127.0.0.1\"\nport = {}\ntls = \"starttls\"\ntls_required = false\nusername_env = \"TM_USER\"\npassword_env = \"TM_PASS\"",
        server.port
    ));
    let settings = raw.compile().expect("settings");
    let env = |k: &str| match k {
        "TM_USER" => Some("alice".to_string()),
        "TM_PASS" => Some("s3cret".to_string()),
        _ => None,
    };
    let conn = ledger();
    queue::enqueue(&conn, &outgoing(&raw), t0()).expect("enqueue");
    let mailer = Mailer::from_settings(&settings, &env).expect("mailer");
    let s = queue::flush(&conn, &mailer, t0()).expect("flush");
    assert_eq!((s.sent, s.retry_later), (0, 1));
    assert!(server.auth_log().is_empty(), "{:?}", server.auth_log());
    assert!(server.messages().is_empty());

    let plain = mail_raw(
        "smtp_host = \"127.0.0.1\"\ntls = \"none\"\nusername_env = \"TM_USER\"\npassword_env = \"TM_PASS\"",
    );
    let mut settings = plain
        .compile()
        .expect("loopback plain text with a login compiles");
    if let Some(smtp) = settings.smtp.as_mut() {
        smtp.host = "smtp.example.com".into();
    }
    let err = Mailer::from_settings(&settings, &env)
        .err()
        .expect("refused off loopback");
    assert!(
        err.to_string()
            .contains("not sending the login without TLS"),
        "{err}"
    );
}
