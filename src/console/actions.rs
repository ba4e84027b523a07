//! POST `/actions/<what>`: rerun a pipeline's business date (the CLI's `tallyman rerun`, run as
//! a child process with the actor in `TALLYMAN_ACTOR`, exactly as from a terminal), retry a
//! failed upload or mail, pause or resume a pipeline. Each needs the configured token, this
//! process's CSRF value and a name for the actor, and is recorded in the ledger's
//! `console_actions` with that actor before it is done. Refused requests change nothing.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use chrono::{NaiveDate, Utc};
use maud::{html, Markup};

use super::layout::{page, seg};
use super::{parse_form, same_secret, Console, Reply};
use crate::store::console::NewAction;

/// Longest form body read; the forms send a few hundred bytes.
pub const MAX_BODY: usize = 16 * 1024;

/// Token, CSRF and actor fields every action form carries.
fn credentials(console: &Console) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(console.csrf);
        label { "Your name" input name="actor" required autocomplete="username"; }
        label { "Console token" input name="token" type="password" required autocomplete="current-password"; }
    }
}

/// The rerun form of a pipeline (nothing when the console is read-only).
pub fn rerun_form(console: &Console, pipeline: &str) -> Markup {
    if !console.writable() {
        return html! {};
    }
    html! {
        form.action method="post" action="/actions/rerun" id="rerun-form" aria-label="Rerun a business date" {
            input type="hidden" name="pipeline" value=(pipeline);
            label { "Business date" input name="date" type="date" required; }
            label { "Reason" input name="reason" required size="30"; }
            (credentials(console))
            button type="submit" { "Rerun" }
        }
    }
}

/// Pause or resume, whichever applies.
pub fn pause_form(console: &Console, pipeline: &str, paused: bool) -> Markup {
    if !console.writable() {
        return html! {};
    }
    let (action, label) = match paused {
        true => ("resume", "Resume"),
        false => ("pause", "Pause"),
    };
    html! {
        form.action method="post" action={ "/actions/" (action) } id={ (action) "-form" } aria-label={ (label) " the pipeline" } {
            input type="hidden" name="pipeline" value=(pipeline);
            @if !paused { label { "Reason" input name="reason" size="30"; } }
            (credentials(console))
            button type="submit" { (label) }
        }
    }
}

/// A retry button for upload or mail `id`.
pub fn retry_form(console: &Console, action: &str, id: i64) -> Markup {
    if !console.writable() {
        return html! {};
    }
    html! {
        form.action method="post" action={ "/actions/" (action) } aria-label={ "Retry " (id) } {
            input type="hidden" name="id" value=(id);
            (credentials(console))
            button type="submit" { "Retry" }
        }
    }
}

fn refused(status: u16, why: &str) -> Reply {
    Reply::html(
        status,
        page(
            "Refused",
            html! { p.problem { (why) } p { "Nothing was changed." } },
        ),
    )
}

/// Checks the request's credentials; the actor's name when they hold.
fn authorize(console: &Console, form: &BTreeMap<String, String>) -> Result<String, Reply> {
    let Some(token) = &console.token else {
        return Err(refused(
            403,
            "this console is read-only: no [console] token is configured in tallyman.toml",
        ));
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    if !same_secret(field("csrf"), &console.csrf) {
        return Err(refused(
            403,
            "the form is not one this console served (CSRF value missing or wrong); reload the page",
        ));
    }
    if !same_secret(field("token"), token) {
        return Err(refused(403, "wrong console token"));
    }
    let actor = field("actor").trim();
    if actor.is_empty() || actor.len() > 100 {
        return Err(refused(
            400,
            "say who you are (the actor recorded with the action)",
        ));
    }
    Ok(actor.to_string())
}

pub fn post(console: &Console, what: &str, body: &[u8]) -> Reply {
    if body.len() > MAX_BODY {
        return refused(413, "form too large");
    }
    let form = parse_form(&String::from_utf8_lossy(body));
    let actor = match authorize(console, &form) {
        Ok(a) => a,
        Err(reply) => return reply,
    };
    let field = |name: &str| form.get(name).map(|v| v.trim()).unwrap_or("");
    let ledger = match console.ledger() {
        Ok(l) => l,
        Err(e) => return refused(503, &format!("the ledger cannot be read: {e}")),
    };
    let now = crate::runner::now_text(Utc::now());
    let pipelines = console.pipelines();
    let known = |name: &str| pipelines.contains_key(name);
    let record =
        |action: &str, pipeline: Option<&str>, target: Option<&str>, reason: Option<&str>| {
            ledger.record_console_action(&NewAction {
                at: &now,
                actor: &actor,
                action,
                pipeline,
                target,
                reason,
            })
        };
    match what {
        "rerun" => {
            let (pipeline, reason) = (field("pipeline"), field("reason"));
            if !known(pipeline) {
                return refused(404, &format!("no pipeline `{pipeline}`"));
            }
            let Ok(date) = field("date").parse::<NaiveDate>() else {
                return refused(400, "give the business date as YYYY-MM-DD");
            };
            if reason.is_empty() {
                return refused(400, "say why the date is rerun (recorded with who asked)");
            }
            let date = date.to_string();
            let id = match record("rerun", Some(pipeline), Some(&date), Some(reason)) {
                Ok(id) => id,
                Err(e) => return refused(503, &e.to_string()),
            };
            drop(ledger);
            start_rerun(console, id, pipeline, &date, reason, &actor);
            Reply::redirect(&format!("/pipelines/{}?action={id}", seg(pipeline)))
        }
        "pause" | "resume" => {
            let pipeline = field("pipeline");
            if !known(pipeline) {
                return refused(404, &format!("no pipeline `{pipeline}`"));
            }
            let reason = Some(field("reason")).filter(|r| !r.is_empty());
            let done = record(what, Some(pipeline), None, reason).and_then(|id| {
                let changed = match what {
                    "pause" => ledger.pause_pipeline(pipeline, &actor, reason, &now)?,
                    _ => ledger.resume_pipeline(pipeline)?,
                };
                let outcome = match (what, changed) {
                    ("pause", true) => "paused",
                    ("pause", false) => "was paused already",
                    (_, true) => "resumed",
                    _ => "was not paused",
                };
                ledger.console_action_outcome(id, outcome).map(|_| id)
            });
            match done {
                Ok(id) => Reply::redirect(&format!("/pipelines/{}?action={id}", seg(pipeline))),
                Err(e) => refused(503, &e.to_string()),
            }
        }
        "retry-upload" | "retry-mail" => {
            let Ok(target) = field("id").parse::<i64>() else {
                return refused(400, "give the id of the upload or mail");
            };
            let done = record(what, None, Some(&target.to_string()), None).and_then(|id| {
                let requeued = match what {
                    "retry-upload" => ledger.retry_delivery(target)?,
                    _ => ledger.requeue_mail(target, Utc::now().timestamp())?,
                };
                let outcome = match requeued {
                    true => "queued again, due now",
                    false => "nothing with this id waiting",
                };
                ledger.console_action_outcome(id, outcome).map(|_| outcome)
            });
            match done {
                Ok(outcome) => Reply::html(
                    200,
                    page(
                        "Retry",
                        html! { p.notice { (what) " " (target) ": " (outcome) } p { a href="/" { "Back to the overview" } } },
                    ),
                ),
                Err(e) => refused(503, &e.to_string()),
            }
        }
        _ => refused(404, &format!("no action `{what}`")),
    }
}

/// Runs `tallyman rerun` on a thread of its own (it waits for the pipeline's lock like the CLI
/// does) and records how it ended on action `id`.
fn start_rerun(console: &Console, id: i64, pipeline: &str, date: &str, reason: &str, actor: &str) {
    let mut cmd = Command::new(&console.exe);
    cmd.arg("--home")
        .arg(&console.home.root)
        .args(["rerun", pipeline, "--date", date, "--reason", reason])
        .env("TALLYMAN_ACTOR", actor)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let home = console.home.clone();
    let what = format!("rerun of {pipeline} for {date} by {actor}");
    let spawned = std::thread::Builder::new()
        .name("tallyman-console-rerun".into())
        .spawn(move || {
            let outcome = match cmd.output() {
                Ok(out) => {
                    let text = String::from_utf8_lossy(&out.stdout);
                    let err = String::from_utf8_lossy(&out.stderr);
                    let last = text
                        .lines()
                        .chain(err.lines())
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or("")
                        .to_string();
                    format!("exit {}: {last}", out.status.code().unwrap_or(-1))
                }
                Err(e) => format!("could not start: {e}"),
            };
            tracing::info!("console: {what}: {outcome}");
            let saved = crate::store::Ledger::open_for_home(&home)
                .and_then(|l| l.console_action_outcome(id, &outcome));
            if let Err(e) = saved {
                tracing::error!("console: recording how the {what} ended: {e}");
            }
        });
    if let Err(e) = spawned {
        tracing::error!("console: cannot start the rerun thread: {e}");
    }
}
