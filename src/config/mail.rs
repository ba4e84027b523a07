//! The global `[mail]` section of `tallyman.toml`: raw serde type and `compile()` into
//! `MailSettings` (pure, every problem at once), and `load`, which reads the file once with the
//! rest of the configuration. Secrets never appear here: SMTP credentials are named by
//! environment variable and read when the transport is built.

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use serde::Deserialize;

use super::report::{err, SectionError};
use super::{ConfigError, Home};

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
    pub fn compile(&self) -> Result<MailSettings, Vec<SectionError>> {
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

/// The home's global settings file.
pub const GLOBAL_FILE: &str = "tallyman.toml";

/// Mail settings used when `tallyman.toml` or its `[mail]` section is absent: reports are
/// spooled as `.eml` files into `outbox/mail/`.
pub const DEFAULT_MAIL: &str = "from = \"Tallyman <tallyman@localhost>\"\n";

/// `tallyman.toml` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GlobalRaw {
    pub mail: Option<MailRaw>,
    pub ledger: Option<super::ledger::LedgerRaw>,
    /// Read by `config::console::load` (the operator console); `serve` alone needs it.
    pub console: Option<super::console::ConsoleRaw>,
}

/// Reads `tallyman.toml` (optional) and compiles its `[mail]` section; relative `spool_dir` and
/// `ca_file` are taken from the home folder. Every problem names the file and key.
pub fn load(home: &Home) -> Result<MailSettings, Vec<ConfigError>> {
    compile_mail(home, read_global(home)?.mail)
}

/// Reads `tallyman.toml` (optional: absent is every default) as written.
pub fn read_global(home: &Home) -> Result<GlobalRaw, Vec<ConfigError>> {
    let path = home.root.join(GLOBAL_FILE);
    match std::fs::read_to_string(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(GlobalRaw::default()),
        Err(e) => Err(vec![ConfigError {
            file: GLOBAL_FILE.into(),
            key: "-".into(),
            why: e.to_string(),
        }]),
        Ok(text) => toml::from_str::<GlobalRaw>(&text)
            .map_err(|e| vec![super::toml_problem(GLOBAL_FILE, &text, &e)]),
    }
}

/// Compiles the `[mail]` section read by `read_global` (the spool defaults when absent).
pub fn compile_mail(home: &Home, raw: Option<MailRaw>) -> Result<MailSettings, Vec<ConfigError>> {
    let problem = |key: String, why: String| ConfigError {
        file: GLOBAL_FILE.into(),
        key,
        why,
    };
    let raw = match raw {
        Some(r) => r,
        None => {
            toml::from_str(DEFAULT_MAIL).map_err(|e| vec![problem("mail".into(), e.to_string())])?
        }
    };
    let mut settings = raw.compile().map_err(|es| {
        es.into_iter()
            .map(|e| problem(e.key, e.why))
            .collect::<Vec<_>>()
    })?;
    settings.spool_dir = home.root.join(&settings.spool_dir);
    if let Some(smtp) = settings.smtp.as_mut() {
        if let Some(ca) = smtp.ca_file.as_mut() {
            *ca = home.root.join(&*ca);
        }
    }
    Ok(settings)
}

#[cfg(test)]
mod tests;
