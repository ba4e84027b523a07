//! Builds the report message once and delivers raw bytes: over SMTP (lettre) or into a spool.
//!
//! The message is formatted exactly once (`build_message`); the queue stores those bytes and
//! every retry sends them unchanged, so the Message-ID and MIME boundaries never change.
//! Delivery reports failures as `SendFailure::Retry` (connection refused, timeout, TLS, 4xx)
//! or `SendFailure::Permanent` (5xx), which is all the queue needs to decide.

use std::fs;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use lettre::address::Envelope;
use lettre::message::header::ContentType;
use lettre::message::{Attachment, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{Address, Message, SmtpTransport, Transport};
use sha2::{Digest, Sha256};

use super::model::RunReport;
use super::render::Rendered;
use crate::config::mail::{MailSettings, SmtpSettings, TlsMode};
use crate::config::report::ReportRule;

/// Operational failures while building a message or a transport (not delivery outcomes).
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("building the report message for {pipeline} run {run_id}: {source}")]
    Build {
        pipeline: String,
        run_id: String,
        source: lettre::error::Error,
    },
    #[error("environment variable {var} (named by mail.{key}) is not set")]
    MissingEnv { var: String, key: &'static str },
    #[error("reading CA certificate {path}: {source}")]
    CaFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "SMTP host {host}: not sending the login without TLS (tls = \"none\" is only allowed \
         with credentials on loopback)"
    )]
    PlainTextLogin { host: String },
    #[error("TLS setup for SMTP host {host}: {source}")]
    Tls {
        host: String,
        source: lettre::transport::smtp::Error,
    },
}

/// One message ready for the queue: envelope plus the RFC 5322 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The Message-ID header's value including angle brackets.
    pub message_id: String,
    pub run_id: String,
    pub pipeline: String,
    pub from: Address,
    /// The rendered subject, kept for `tallyman mail` listings.
    pub subject: String,
    /// Envelope recipients (to and cc).
    pub recipients: Vec<Address>,
    /// The formatted message (`Message::formatted()`).
    pub bytes: Vec<u8>,
}

/// Why one delivery attempt failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// Worth retrying later: no connection, timeout, TLS trouble, 4xx reply, spool IO.
    #[error("{0}")]
    Retry(String),
    /// The server refused for good (5xx): retrying would get the same answer.
    #[error("{0}")]
    Permanent(String),
}

/// A stable Message-ID: derived from the home's tag, run, pipeline and recipients, so
/// building the same report twice yields the same id and the queue's unique index refuses the
/// second copy, while another home's `r000001` (or this home's after a new ledger) differs:
/// a mailbox that drops repeated Message-IDs would hide it.
pub fn message_id(
    report: &RunReport,
    recipients: &[Address],
    from: &Address,
    home_tag: &str,
) -> String {
    let mut h = Sha256::new();
    for part in [home_tag, report.pipeline.as_str(), report.run_id.as_str()] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    for r in recipients {
        h.update(AsRef::<str>::as_ref(r).as_bytes());
        h.update([0]);
    }
    let digest = hex::encode(h.finalize());
    let run: String = report
        .run_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(40)
        .collect();
    let tag: String = home_tag
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    let tag = if tag.is_empty() {
        String::new()
    } else {
        format!("{tag}.")
    };
    format!(
        "<tallyman.{tag}{run}.{}@{}>",
        digest.get(..16).unwrap_or(&digest),
        from.domain()
    )
}

/// Builds the message (multipart/mixed: alternative text+html, then the CSV attachment).
pub fn build_message(
    report: &RunReport,
    rule: &ReportRule,
    settings: &MailSettings,
    rendered: &Rendered,
    now: DateTime<Utc>,
) -> Result<OutgoingMail, MailError> {
    let recipients: Vec<Address> = rule
        .to
        .iter()
        .chain(&rule.cc)
        .map(|m| m.email.clone())
        .collect();
    let id = message_id(
        report,
        &recipients,
        &settings.from.email,
        &settings.message_id_tag,
    );
    let mut builder = Message::builder()
        .from(settings.from.clone())
        .subject(rendered.subject.clone())
        .message_id(Some(id.clone()))
        .date(now.into());
    for to in &rule.to {
        builder = builder.to(to.clone());
    }
    for cc in &rule.cc {
        builder = builder.cc(cc.clone());
    }
    let csv_type = ContentType::parse("text/csv; charset=utf-8").unwrap_or(ContentType::TEXT_PLAIN);
    let body = MultiPart::mixed()
        .multipart(MultiPart::alternative_plain_html(
            rendered.text.clone(),
            rendered.html.clone(),
        ))
        .singlepart(
            Attachment::new(rendered.csv_name.clone()).body(rendered.attachment.clone(), csv_type),
        );
    let message = builder.multipart(body).map_err(|source| MailError::Build {
        pipeline: report.pipeline.clone(),
        run_id: report.run_id.clone(),
        source,
    })?;
    Ok(OutgoingMail {
        message_id: id,
        run_id: report.run_id.clone(),
        pipeline: report.pipeline.clone(),
        from: settings.from.email.clone(),
        subject: rendered.subject.clone(),
        recipients,
        bytes: message.formatted(),
    })
}

/// Where messages go.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP relay; `host` is kept for error messages.
    Smtp {
        transport: SmtpTransport,
        host: String,
    },
    /// No relay configured: `.eml` files in this folder, for a local MTA or a human.
    Spool(PathBuf),
}

impl Mailer {
    /// Builds the transport from compiled settings; `env` looks up environment variables
    /// (pass `|k| std::env::var(k).ok()` in production) so tests need not touch the process.
    pub fn from_settings(
        settings: &MailSettings,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Mailer, MailError> {
        match &settings.smtp {
            None => Ok(Mailer::Spool(settings.spool_dir.clone())),
            Some(smtp) => Ok(Mailer::Smtp {
                transport: smtp_transport(smtp, env)?,
                host: smtp.host.clone(),
            }),
        }
    }

    /// One delivery attempt of stored bytes.
    pub fn deliver(
        &self,
        from: &Address,
        to: &[Address],
        message_id: &str,
        bytes: &[u8],
    ) -> Result<(), SendFailure> {
        match self {
            Mailer::Smtp { transport, host } => {
                let envelope = Envelope::new(Some(from.clone()), to.to_vec())
                    .map_err(|e| SendFailure::Permanent(format!("bad envelope: {e}")))?;
                transport
                    .send_raw(&envelope, bytes)
                    .map(|_| ())
                    .map_err(|e| classify(host, &e))
            }
            Mailer::Spool(dir) => spool(dir, message_id, bytes).map(|_| ()).map_err(|e| {
                SendFailure::Retry(format!("writing to spool {}: {e}", dir.display()))
            }),
        }
    }
}

fn smtp_transport(
    s: &SmtpSettings,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SmtpTransport, MailError> {
    let tls_err = |source| MailError::Tls {
        host: s.host.clone(),
        source,
    };
    let params = || -> Result<TlsParameters, MailError> {
        let mut b = TlsParameters::builder(s.host.clone());
        if let Some(path) = &s.ca_file {
            let pem = fs::read(path).map_err(|source| MailError::CaFile {
                path: path.clone(),
                source,
            })?;
            b = b.add_root_certificate(Certificate::from_pem(&pem).map_err(tls_err)?);
        }
        b.build_rustls().map_err(tls_err)
    };
    // STARTTLS required never falls back to plain text: lettre's Tls::Required fails the
    // connection when the server does not offer STARTTLS.
    // Credentials are never sent without TLS: with a login, STARTTLS becomes required (an
    // opportunistic session that the server did not upgrade would send AUTH in the clear),
    // and a plain-text relay is only accepted on loopback (the config refuses it elsewhere;
    // checked again here for settings built by hand).
    let with_login = s.credentials_env.is_some();
    if with_login && s.tls == TlsMode::None && !crate::config::mail::is_loopback(&s.host) {
        return Err(MailError::PlainTextLogin {
            host: s.host.clone(),
        });
    }
    let tls = match s.tls {
        TlsMode::StartTls { required: true } => Tls::Required(params()?),
        TlsMode::StartTls { required: false } if with_login => Tls::Required(params()?),
        TlsMode::StartTls { required: false } => Tls::Opportunistic(params()?),
        TlsMode::Implicit => Tls::Wrapper(params()?),
        TlsMode::None => Tls::None,
    };
    let mut builder = SmtpTransport::builder_dangerous(s.host.clone())
        .port(s.port)
        .tls(tls)
        .timeout(Some(s.timeout));
    if let Some((user_var, pass_var)) = &s.credentials_env {
        let user = env(user_var).ok_or_else(|| MailError::MissingEnv {
            var: user_var.clone(),
            key: "username_env",
        })?;
        let pass = env(pass_var).ok_or_else(|| MailError::MissingEnv {
            var: pass_var.clone(),
            key: "password_env",
        })?;
        builder = builder.credentials(Credentials::new(user, pass));
    }
    Ok(builder.build())
}

/// Only a definite 5xx reply is permanent; everything else (refused, timeout, TLS, 4xx,
/// garbled reply) is retried, because a message must never be dropped on a hiccup.
fn classify(host: &str, e: &lettre::transport::smtp::Error) -> SendFailure {
    let text = format!("SMTP {host}: {e}");
    if e.is_permanent() {
        SendFailure::Permanent(text)
    } else {
        SendFailure::Retry(text)
    }
}

/// Writes `bytes` as `<dir>/<message-id>.eml` with `store::files::write_atomic` (temp name,
/// fsync, rename, fsync the folder; no temp left behind on an error). The name comes from the
/// Message-ID, so a retry after a crash overwrites, never duplicates.
fn spool(dir: &Path, message_id: &str, bytes: &[u8]) -> Result<PathBuf, crate::store::StoreError> {
    let stem: String = message_id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_matches('_');
    crate::store::files::write_atomic(dir, &format!("{stem}.eml"), bytes)
}

/// Parses a mailbox list the way the queue stores it (one address per entry).
pub fn parse_addresses(list: &[String]) -> Result<Vec<Address>, String> {
    list.iter()
        .map(|a| a.parse::<Address>().map_err(|e| format!("{a:?}: {e}")))
        .collect()
}
