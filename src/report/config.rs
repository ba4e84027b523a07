//! Report rules per pipeline and global mail settings: raw serde types, then `compile()`.
//!
//! Compilation is pure and collects every problem at once. Secrets never appear here: SMTP
//! credentials are named by environment variable and read when the transport is built.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use rust_decimal::Decimal;
use serde::Deserialize;

use super::model::RunReport;

/// One problem in a report or mail section, naming the key and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {why}")]
pub struct ConfigError {
    pub key: String,
    pub why: String,
}

fn err(key: impl Into<String>, why: impl Into<String>) -> ConfigError {
    ConfigError {
        key: key.into(),
        why: why.into(),
    }
}

/// A pipeline's `[report]` section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRaw {
    pub to: Vec<String>,
    #[serde(default)]
    pub cc: Vec<String>,
    /// `always`, `problems` (anything in the report) or `threshold`.
    #[serde(default = "default_when")]
    pub when: String,
    pub threshold: Option<ThresholdRaw>,
    /// Subject template with `{pipeline}`, `{date}` and `{summary}`.
    pub subject: Option<String>,
    /// Issue rules whose warnings the report leaves out (e.g. `x12-envelope:TA105:006` for a
    /// partner that always sends an unpadded ISA); errors are never left out.
    #[serde(default)]
    pub mute: Vec<String>,
}

fn default_when() -> String {
    "problems".to_string()
}

/// Limits for `when = "threshold"`; the report is sent when any one is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThresholdRaw {
    pub min_breaks: Option<u64>,
    pub min_issues: Option<u64>,
    /// Absolute money: send when any break's magnitude reaches this (e.g. "100.00").
    pub min_abs_difference: Option<Decimal>,
}

/// When a report is mailed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendWhen {
    Always,
    Problems,
    Threshold(Threshold),
}

/// Compiled threshold: at least one limit is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    pub min_breaks: Option<u64>,
    pub min_issues: Option<u64>,
    pub min_abs_difference: Option<Decimal>,
}

pub const DEFAULT_SUBJECT: &str = "[tallyman] {pipeline} {date}: {summary}";
const PLACEHOLDERS: [&str; 3] = ["pipeline", "date", "summary"];

/// A pipeline's compiled report rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRule {
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub when: SendWhen,
    pub subject: String,
    /// Rules whose warnings are left out of the report (they stay in the ledger and issues.csv).
    pub mute: Vec<String>,
}

impl ReportRaw {
    /// Validates addresses, `when`, threshold and subject template; `prefix` names the section
    /// (e.g. `report`) in error keys.
    pub fn compile(&self, prefix: &str) -> Result<ReportRule, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let to = mailboxes(&self.to, &format!("{prefix}.to"), &mut errors);
        let cc = mailboxes(&self.cc, &format!("{prefix}.cc"), &mut errors);
        if self.to.is_empty() {
            errors.push(err(
                format!("{prefix}.to"),
                "at least one recipient is required",
            ));
        }
        let when = match (self.when.as_str(), &self.threshold) {
            ("always", None) => Some(SendWhen::Always),
            ("problems", None) => Some(SendWhen::Problems),
            ("threshold", Some(t)) => {
                if t.min_breaks.is_none()
                    && t.min_issues.is_none()
                    && t.min_abs_difference.is_none()
                {
                    errors.push(err(
                        format!("{prefix}.threshold"),
                        "set at least one of min_breaks, min_issues, min_abs_difference",
                    ));
                }
                // A zero limit would mean "always" in disguise; say so instead.
                for (name, zero) in [
                    ("min_breaks", t.min_breaks == Some(0)),
                    ("min_issues", t.min_issues == Some(0)),
                    (
                        "min_abs_difference",
                        t.min_abs_difference.is_some_and(|d| d <= Decimal::ZERO),
                    ),
                ] {
                    if zero {
                        errors.push(err(
                            format!("{prefix}.threshold.{name}"),
                            "must be above zero (use when = \"always\")",
                        ));
                    }
                }
                Some(SendWhen::Threshold(Threshold {
                    min_breaks: t.min_breaks,
                    min_issues: t.min_issues,
                    min_abs_difference: t.min_abs_difference,
                }))
            }
            ("threshold", None) => {
                errors.push(err(
                    format!("{prefix}.threshold"),
                    "required when when = \"threshold\"",
                ));
                None
            }
            ("always" | "problems", Some(_)) => {
                errors.push(err(
                    format!("{prefix}.threshold"),
                    "only allowed when when = \"threshold\"",
                ));
                None
            }
            (other, _) => {
                errors.push(err(
                    format!("{prefix}.when"),
                    format!("{other:?} is not one of always, problems, threshold"),
                ));
                None
            }
        };
        let subject = self
            .subject
            .clone()
            .unwrap_or_else(|| DEFAULT_SUBJECT.to_string());
        if let Err(why) = check_template(&subject) {
            errors.push(err(format!("{prefix}.subject"), why));
        }
        for (i, rule) in self.mute.iter().enumerate() {
            if rule.trim().is_empty() {
                errors.push(err(
                    format!("{prefix}.mute[{i}]"),
                    "an empty rule mutes nothing",
                ));
            }
        }
        match when {
            Some(when) if errors.is_empty() => Ok(ReportRule {
                to,
                cc,
                when,
                subject,
                mute: self.mute.clone(),
            }),
            _ => Err(errors),
        }
    }
}

fn mailboxes(raw: &[String], key: &str, errors: &mut Vec<ConfigError>) -> Vec<Mailbox> {
    let mut out = Vec::new();
    for (i, text) in raw.iter().enumerate() {
        match text.parse::<Mailbox>() {
            Ok(mb) => out.push(mb),
            Err(e) => errors.push(err(
                format!("{key}[{i}]"),
                format!("{text:?} is not an address: {e}"),
            )),
        }
    }
    out
}

/// Checks that every `{...}` in a subject template is a known placeholder.
fn check_template(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or("unclosed '{'")?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "unknown placeholder {{{name}}}; use {{pipeline}}, {{date}}, {{summary}}"
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

impl ReportRule {
    /// Whether this run's report should be mailed under the rule.
    pub fn wants(&self, report: &RunReport) -> bool {
        match &self.when {
            SendWhen::Always => true,
            SendWhen::Problems => report.has_problems(),
            SendWhen::Threshold(t) => {
                t.min_breaks
                    .is_some_and(|n| report.breaks.len() as u64 >= n)
                    || t.min_issues
                        .is_some_and(|n| report.issues.len() as u64 >= n)
                    || t.min_abs_difference
                        .is_some_and(|m| report.breaks.iter().any(|b| b.magnitude() >= m))
            }
        }
    }
}

/// The global `[mail]` section as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailRaw {
    /// SMTP relay; absent means "write .eml files into `spool_dir`".
    pub smtp_host: Option<String>,
    pub port: Option<u16>,
    /// `starttls` (default), `implicit` or `none`.
    #[serde(default = "default_tls")]
    pub tls: String,
    /// Refuse to send without TLS; defaults to true unless `tls = "none"`.
    pub tls_required: Option<bool>,
    /// Extra PEM root certificate to trust (for a private relay's CA).
    pub ca_file: Option<PathBuf>,
    /// Names of environment variables holding the SMTP login (never the secret itself).
    pub username_env: Option<String>,
    pub password_env: Option<String>,
    pub from: String,
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_spool")]
    pub spool_dir: PathBuf,
}

fn default_tls() -> String {
    "starttls".to_string()
}
fn default_timeout() -> u64 {
    30
}
fn default_spool() -> PathBuf {
    PathBuf::from("outbox/mail")
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain connection upgraded with STARTTLS; `required` refuses servers without it.
    StartTls { required: bool },
    /// TLS from the first byte (usually port 465).
    Implicit,
    /// No TLS at all (loopback relays only).
    None,
}

/// Where and how an SMTP relay is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub ca_file: Option<PathBuf>,
    /// (username variable, password variable).
    pub credentials_env: Option<(String, String)>,
    pub timeout: Duration,
}

/// Compiled global mail settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub from: Mailbox,
    /// `None` means spool mode.
    pub smtp: Option<SmtpSettings>,
    pub spool_dir: PathBuf,
    /// This home's random part of every Message-ID (`report::queue::home_tag`, kept in the
    /// ledger), so two homes never send the same Message-ID for their own `r000001`. Empty
    /// until the caller sets it from the ledger.
    pub message_id_tag: String,
}

/// Whether `host` is this machine (a plain-text relay there never puts a password on a wire).
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl MailRaw {
    /// Validates the section; errors name keys under `mail.`.
    pub fn compile(&self) -> Result<MailSettings, Vec<ConfigError>> {
        let mut errors = Vec::new();
        let from = match self.from.parse::<Mailbox>() {
            Ok(mb) => Some(mb),
            Err(e) => {
                errors.push(err(
                    "mail.from",
                    format!("{:?} is not an address: {e}", self.from),
                ));
                None
            }
        };
        let tls = match (self.tls.as_str(), self.tls_required) {
            ("starttls", req) => Some(TlsMode::StartTls {
                required: req.unwrap_or(true),
            }),
            ("implicit", Some(false)) => {
                errors.push(err("mail.tls_required", "implicit TLS is always required"));
                None
            }
            ("implicit", _) => Some(TlsMode::Implicit),
            ("none", Some(true)) => {
                errors.push(err(
                    "mail.tls_required",
                    "cannot require TLS with tls = \"none\"",
                ));
                None
            }
            ("none", _) => Some(TlsMode::None),
            (other, _) => {
                errors.push(err(
                    "mail.tls",
                    format!("{other:?} is not one of starttls, implicit, none"),
                ));
                None
            }
        };
        let credentials_env = match (&self.username_env, &self.password_env) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) => None,
            _ => {
                errors.push(err(
                    "mail.username_env",
                    "username_env and password_env go together",
                ));
                None
            }
        };
        if self.timeout_secs == 0 {
            errors.push(err("mail.timeout_secs", "must be at least 1"));
        }
        if self.smtp_host.is_none() && (self.port.is_some() || self.username_env.is_some()) {
            errors.push(err(
                "mail.smtp_host",
                "port or credentials given without smtp_host",
            ));
        }
        if let (Some(host), Some(TlsMode::None), Some(_)) = (&self.smtp_host, tls, &credentials_env)
        {
            if !is_loopback(host) {
                errors.push(err(
                    "mail.tls",
                    format!(
                        "tls = \"none\" with username_env/password_env would send the SMTP \
                         login in plain text to {host}; use starttls or implicit (plain text is \
                         only allowed to a relay on loopback)"
                    ),
                ));
            }
        }
        let smtp = match (&self.smtp_host, tls) {
            (Some(host), Some(_)) if host.trim().is_empty() => {
                errors.push(err("mail.smtp_host", "must not be empty"));
                None
            }
            (Some(host), Some(tls)) => Some(SmtpSettings {
                host: host.clone(),
                port: self.port.unwrap_or(match tls {
                    TlsMode::Implicit => 465,
                    TlsMode::StartTls { .. } => 587,
                    TlsMode::None => 25,
                }),
                tls,
                ca_file: self.ca_file.clone(),
                credentials_env,
                timeout: Duration::from_secs(self.timeout_secs),
            }),
            _ => None,
        };
        match from {
            Some(from) if errors.is_empty() => Ok(MailSettings {
                from,
                smtp,
                spool_dir: self.spool_dir.clone(),
                message_id_tag: String::new(),
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests;
