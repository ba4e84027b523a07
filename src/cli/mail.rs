//! `tallyman mail [flush | retry ID] [--json]`: the report mail queue in the ledger.
use std::path::Path;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use tallyman::config::{Home, MailSettings};
use tallyman::report::queue;
use tallyman::runner::report::flush_mail;
use tallyman::store::mail_queue::QueuedMail;
use tallyman::store::Ledger;
use tallyman::store::MailState;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    /// List the queue as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand)]
pub enum Action {
    /// Send every queued message now, including those waiting out a retry backoff (SMTP, or
    /// .eml files in the spool folder). `tallyman run` only sends what is due.
    Flush,
    /// Put a failed message back in the queue, due now (then `tallyman mail flush`).
    Retry {
        /// The message id shown by `tallyman mail`.
        id: i64,
    },
}

pub fn run(home: &Path, args: Args) -> Result<ExitCode> {
    let home = super::home(home);
    let ledger = super::open_ledger(&home)?;
    // Only `tallyman.toml`: a broken pipeline file must not stop the mail queue.
    let mail = || {
        tallyman::config::load_global(&home).map_err(|es| {
            anyhow!(es
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "))
        })
    };
    match args.action {
        None => list(&ledger, args.json),
        Some(Action::Flush) => {
            queue::expedite(&ledger, Utc::now())?;
            let mail = mail()?;
            let s = flush_mail(&ledger, &mail).map_err(|e| anyhow!(e))?;
            println!(
                "mail: {} {}, {} to retry later, {} failed",
                s.sent,
                delivered(&home, &mail),
                s.retry_later,
                s.failed
            );
            Ok(if s.failed > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some(Action::Retry { id }) => {
            if queue::requeue(&ledger, id, Utc::now())? {
                println!("mail {id}: queued again; `tallyman mail flush` sends it now");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("mail {id}: no failed message with this id (see `tallyman mail`)");
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn list(ledger: &Ledger, json: bool) -> Result<ExitCode> {
    let rows = queue::list(ledger)?;
    if json {
        let out: Vec<serde_json::Value> = rows.iter().map(as_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("the mail queue is empty");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:>4} {:<7} {:>8} {:<20} {:<8} {:<30}  subject / last error",
        "id", "state", "attempts", "next attempt", "run", "recipients"
    );
    for m in &rows {
        let next = match m.state {
            MailState::Queued => time(&m.next_attempt_at),
            MailState::Sent => m.sent_at.as_ref().map_or("-".into(), time),
            MailState::Failed => "-".into(),
        };
        println!(
            "{:>4} {:<7} {:>8} {:<20} {:<8} {:<30}  {}",
            m.id,
            m.state.as_str(),
            m.attempts,
            next,
            m.run_id,
            m.recipients.join(", "),
            m.subject
        );
        if let Some(e) = &m.last_error {
            println!("{:>4} last error: {e}", "");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn as_json(m: &QueuedMail) -> serde_json::Value {
    serde_json::json!({
        "id": m.id,
        "run_id": m.run_id,
        "pipeline": m.pipeline,
        "message_id": m.message_id,
        "state": m.state.as_str(),
        "attempts": m.attempts,
        "next_attempt_at": time(&m.next_attempt_at),
        "recipients": m.recipients,
        "subject": m.subject,
        "last_error": m.last_error,
        "created_at": time(&m.created_at),
        "sent_at": m.sent_at.as_ref().map(time),
    })
}

/// What happened to the messages that left the queue: "sent" to an SMTP server, or "spooled
/// to FOLDER" as .eml files when there is no `smtp_host` (nobody has received them yet).
fn delivered(home: &Home, mail: &MailSettings) -> String {
    match &mail.smtp {
        None => format!("spooled to {}", super::run::shown(home, &mail.spool_dir)),
        Some(_) => "sent".to_string(),
    }
}

/// Flushes the queue at the end of `run`/`rerun` and says what happened (on stderr with
/// `--json`, so stdout stays JSON). False when the queue could not be flushed at all.
pub fn flush_and_tell(home: &Home, ledger: &Ledger, mail: &MailSettings, json: bool) -> bool {
    let say = |line: String| {
        if json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    match flush_mail(ledger, mail) {
        Ok(s) => {
            if s.sent + s.retry_later + s.failed > 0 {
                say(format!(
                    "mail: {} {}, {} to retry later, {} failed{}",
                    s.sent,
                    delivered(home, mail),
                    s.retry_later,
                    s.failed,
                    if s.retry_later + s.failed > 0 {
                        " (see `tallyman mail`)"
                    } else {
                        ""
                    }
                ));
            }
            true
        }
        Err(e) => {
            eprintln!("mail: could not flush the queue: {e}");
            false
        }
    }
}
