//! SFTP endpoint configuration (`[source.sftp]`, `[destinations.<name>.sftp]`): the serde shape
//! as written in a pipeline file, and `compile()` into a validated `SftpEndpoint`, reporting every
//! problem at once. Pure: no file or env access; `transport::sftp` connects with the result.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// What to do with a remote source file once its claim is durable in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AfterClaimRaw {
    Delete,
    Move,
    /// The default: never lose a partner's file by configuration omission.
    #[default]
    Keep,
}

/// An SFTP endpoint as written in a pipeline file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpRaw {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    /// Private key file (OpenSSH or PEM format); the public key is derived from it.
    pub key_file: PathBuf,
    /// Name of the environment variable holding the key's passphrase, if it has one.
    #[serde(default)]
    pub passphrase_env: Option<String>,
    pub known_hosts: PathBuf,
    pub folder: String,
    #[serde(default = "default_pattern")]
    pub pattern: String,
    #[serde(default)]
    pub after_claim: AfterClaimRaw,
    #[serde(default)]
    pub move_to: Option<String>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_io_timeout")]
    pub io_timeout_secs: u64,
    /// How often `tallyman serve` lists the folder (a source; `tallyman run` lists once).
    #[serde(default = "default_poll")]
    pub poll_secs: u64,
}

/// An SFTP destination as written in a pipeline file (`[destinations.<name>.sftp]`): the
/// server folder that outbound files of that destination are uploaded to. The source-only
/// keys (pattern, after_claim, move_to, poll_secs) are refused here.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftpSinkRaw {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    pub user: String,
    pub key_file: PathBuf,
    #[serde(default)]
    pub passphrase_env: Option<String>,
    pub known_hosts: PathBuf,
    pub folder: String,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_io_timeout")]
    pub io_timeout_secs: u64,
}

impl SftpSinkRaw {
    /// Checks everything and returns the endpoint, or every problem found.
    pub fn compile(&self) -> Result<SftpEndpoint, Vec<EndpointError>> {
        SftpRaw {
            host: self.host.clone(),
            port: self.port,
            user: self.user.clone(),
            key_file: self.key_file.clone(),
            passphrase_env: self.passphrase_env.clone(),
            known_hosts: self.known_hosts.clone(),
            folder: self.folder.clone(),
            pattern: default_pattern(),
            after_claim: AfterClaimRaw::Keep,
            move_to: None,
            connect_timeout_secs: self.connect_timeout_secs,
            io_timeout_secs: self.io_timeout_secs,
            poll_secs: default_poll(),
        }
        .compile()
    }
}

fn default_poll() -> u64 {
    60
}

fn default_port() -> u16 {
    22
}
fn default_pattern() -> String {
    "*".into()
}
fn default_connect_timeout() -> u64 {
    15
}
fn default_io_timeout() -> u64 {
    60
}

/// Validated after-claim action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterClaim {
    Delete,
    Move { to: String },
    Keep,
}

/// A validated SFTP endpoint.
#[derive(Debug, Clone)]
pub struct SftpEndpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub key_file: PathBuf,
    pub passphrase_env: Option<String>,
    pub known_hosts: PathBuf,
    pub folder: String,
    pub pattern: glob::Pattern,
    pub after_claim: AfterClaim,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    pub poll: Duration,
}

impl SftpEndpoint {
    /// `sftp://user@host:port/folder`, for logs, the ledger and `tallyman check`.
    pub fn url(&self) -> String {
        let folder = self.folder.trim_start_matches('/');
        format!("sftp://{}@{}:{}/{folder}", self.user, self.host, self.port)
    }
}

/// One problem of an SFTP section: which key (under `sftp.`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointError {
    pub key: &'static str,
    pub why: String,
}

impl fmt::Display for EndpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sftp.{}: {}", self.key, self.why)
    }
}

fn bad_remote_path(p: &str) -> Option<String> {
    if p.trim().is_empty() {
        Some("must not be empty".into())
    } else if p.chars().any(char::is_control) {
        Some("must not contain control characters".into())
    } else {
        None
    }
}

fn is_env_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

const MAX_TIMEOUT_SECS: u64 = 3600;

impl SftpRaw {
    /// Checks everything and returns the endpoint, or every problem found.
    pub fn compile(&self) -> Result<SftpEndpoint, Vec<EndpointError>> {
        let mut errs = Vec::new();
        let mut err = |key: &'static str, why: String| errs.push(EndpointError { key, why });
        if self.host.trim().is_empty() || self.host.chars().any(char::is_whitespace) {
            err("host", format!("{:?} is not a host name", self.host));
        }
        if self.port == 0 {
            err("port", "must be 1-65535".into());
        }
        if self.user.trim().is_empty() {
            err("user", "must not be empty".into());
        }
        if self.key_file.as_os_str().is_empty() {
            err("key_file", "must name a private key file".into());
        }
        if self.known_hosts.as_os_str().is_empty() {
            err("known_hosts", "must name a known_hosts file".into());
        }
        if let Some(var) = &self.passphrase_env {
            if !is_env_name(var) {
                err(
                    "passphrase_env",
                    format!("{var:?} is not an environment variable name (the passphrase itself never goes in config)"),
                );
            }
        }
        if let Some(why) = bad_remote_path(&self.folder) {
            err("folder", why);
        }
        let pattern = match glob::Pattern::new(&self.pattern) {
            Ok(p) if !self.pattern.contains('/') => Some(p),
            Ok(_) => {
                err("pattern", "matches names within the folder; no '/'".into());
                None
            }
            Err(e) => {
                err("pattern", format!("{:?} is not a glob: {e}", self.pattern));
                None
            }
        };
        let after_claim = match (self.after_claim, &self.move_to) {
            (AfterClaimRaw::Move, Some(to)) => {
                if let Some(why) = bad_remote_path(to) {
                    err("move_to", why);
                } else if to.trim_end_matches('/') == self.folder.trim_end_matches('/') {
                    err("move_to", "must differ from folder".into());
                }
                AfterClaim::Move { to: to.clone() }
            }
            (AfterClaimRaw::Move, None) => {
                err("move_to", "required when after_claim = \"move\"".into());
                AfterClaim::Keep
            }
            (_, Some(_)) => {
                err("move_to", "only allowed with after_claim = \"move\"".into());
                AfterClaim::Keep
            }
            (AfterClaimRaw::Delete, None) => AfterClaim::Delete,
            (AfterClaimRaw::Keep, None) => AfterClaim::Keep,
        };
        for (key, v) in [
            ("connect_timeout_secs", self.connect_timeout_secs),
            ("io_timeout_secs", self.io_timeout_secs),
            ("poll_secs", self.poll_secs),
        ] {
            if v == 0 || v > MAX_TIMEOUT_SECS {
                err(key, format!("{v} is not within 1-{MAX_TIMEOUT_SECS}"));
            }
        }
        match pattern {
            Some(pattern) if errs.is_empty() => Ok(SftpEndpoint {
                host: self.host.clone(),
                port: self.port,
                user: self.user.clone(),
                key_file: self.key_file.clone(),
                passphrase_env: self.passphrase_env.clone(),
                known_hosts: self.known_hosts.clone(),
                folder: self.folder.clone(),
                pattern,
                after_claim,
                connect_timeout: Duration::from_secs(self.connect_timeout_secs),
                io_timeout: Duration::from_secs(self.io_timeout_secs),
                poll: Duration::from_secs(self.poll_secs),
            }),
            _ => Err(errs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        host = "sftp.partner.example"
        user = "tally"
        key_file = "/etc/tallyman/id_ed25519"
        known_hosts = "/etc/tallyman/known_hosts"
        folder = "/outbound"
    "#;

    #[test]
    fn defaults_apply() {
        let raw: SftpRaw = toml::from_str(MINIMAL).expect("parses");
        let ep = raw.compile().expect("valid");
        assert_eq!(ep.port, 22);
        assert_eq!(ep.pattern.as_str(), "*");
        assert_eq!(ep.after_claim, AfterClaim::Keep);
        assert_eq!(ep.connect_timeout, Duration::from_secs(15));
        assert_eq!(ep.io_timeout, Duration::from_secs(60));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = format!("{MINIMAL}\npassword = \"hunter2\"\n");
        let err = toml::from_str::<SftpRaw>(&text).expect_err("unknown key");
        assert!(err.to_string().contains("password"), "{err}");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let text = r#"
            host = "bad host"
            port = 0
            user = ""
            key_file = ""
            known_hosts = ""
            passphrase_env = "my passphrase"
            folder = ""
            pattern = "[a"
            after_claim = "move"
            connect_timeout_secs = 0
            io_timeout_secs = 99999
        "#;
        let raw: SftpRaw = toml::from_str(text).expect("parses");
        let errs = raw.compile().expect_err("invalid");
        let keys: Vec<&str> = errs.iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            vec![
                "host",
                "port",
                "user",
                "key_file",
                "known_hosts",
                "passphrase_env",
                "folder",
                "pattern",
                "move_to",
                "connect_timeout_secs",
                "io_timeout_secs"
            ]
        );
    }

    #[test]
    fn move_to_rules() {
        let cases = [
            ("after_claim = \"move\"\nmove_to = \"/done\"", true),
            ("after_claim = \"move\"\nmove_to = \"/outbound/\"", false),
            ("after_claim = \"delete\"\nmove_to = \"/done\"", false),
            ("after_claim = \"delete\"", true),
        ];
        for (extra, ok) in cases {
            let raw: SftpRaw = toml::from_str(&format!("{MINIMAL}\n{extra}")).expect("parses");
            assert_eq!(raw.compile().is_ok(), ok, "{extra}");
        }
    }
}
