//! The `[ledger]` section of `tallyman.toml`: which database holds the ledger. SQLite in the
//! home (`var/ledger.sqlite`) unless it names PostgreSQL. The password is never written here:
//! it is named by environment variable or file, and read when the connection is made. TLS
//! (`sslmode`, `sslrootcert`, ...) is compiled in `ledger_tls`.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::ledger_tls::TlsRaw;
pub use super::ledger_tls::{ClientCert, PostgresTls, SslMode};
use super::report::{err, SectionError};
use super::{ConfigError, Home, GLOBAL_FILE};

/// `[ledger]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerRaw {
    /// `sqlite` (default) or `postgres`.
    pub backend: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub dbname: Option<String>,
    /// The environment variable holding the password.
    pub password_env: Option<String>,
    /// A file holding the password (its first line; relative to the home).
    pub password_file: Option<PathBuf>,
    pub connect_timeout_secs: Option<u64>,
    /// libpq's `sslmode`: disable, prefer (default), require, verify-ca, verify-full.
    pub sslmode: Option<String>,
    /// The CA certificates (PEM) that verify the server (relative to the home).
    pub sslrootcert: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for `clientcert` in `pg_hba.conf`.
    pub sslcert: Option<PathBuf>,
    pub sslkey: Option<PathBuf>,
}

/// Where the PostgreSQL password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// No password (trust or peer authentication, or `~/.pgpass` is not read either).
    None,
    Env(String),
    File(PathBuf),
}

/// A PostgreSQL ledger's address and login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub password: PasswordSource,
    pub connect_timeout: Duration,
    pub tls: PostgresTls,
}

impl std::fmt::Display for PostgresTarget {
    /// `postgresql://user@host:port/dbname`: never the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "postgresql://{}@{}:{}/{}",
            self.user, self.host, self.port, self.dbname
        )
    }
}

/// The compiled `[ledger]`.
// One value per process, compiled once: its size does not matter, and boxing the target would
// only add a `Box::new` to every place that names one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LedgerBackend {
    /// `var/ledger.sqlite` in the home.
    #[default]
    Sqlite,
    Postgres(PostgresTarget),
}

impl LedgerRaw {
    /// Every problem at once, each with its key.
    pub fn compile(&self) -> Result<LedgerBackend, Vec<SectionError>> {
        let mut errors = Vec::new();
        let postgres_only = [
            ("host", self.host.is_some()),
            ("port", self.port.is_some()),
            ("user", self.user.is_some()),
            ("dbname", self.dbname.is_some()),
            ("password_env", self.password_env.is_some()),
            ("password_file", self.password_file.is_some()),
            ("connect_timeout_secs", self.connect_timeout_secs.is_some()),
            ("sslmode", self.sslmode.is_some()),
            ("sslrootcert", self.sslrootcert.is_some()),
            ("sslcert", self.sslcert.is_some()),
            ("sslkey", self.sslkey.is_some()),
        ];
        match self.backend.as_deref().unwrap_or("sqlite") {
            "sqlite" => {
                for (key, set) in postgres_only {
                    if set {
                        errors.push(err(
                            format!("ledger.{key}"),
                            "only for backend = \"postgres\"",
                        ));
                    }
                }
                return if errors.is_empty() {
                    Ok(LedgerBackend::Sqlite)
                } else {
                    Err(errors)
                };
            }
            "postgres" => {}
            other => {
                return Err(vec![err(
                    "ledger.backend",
                    format!("{other:?}: expected \"sqlite\" or \"postgres\""),
                )])
            }
        }
        let required = |key: &str, v: &Option<String>, errors: &mut Vec<SectionError>| match v {
            Some(v) if !v.trim().is_empty() => v.clone(),
            _ => {
                errors.push(err(
                    format!("ledger.{key}"),
                    "required with backend = \"postgres\"",
                ));
                String::new()
            }
        };
        let host = required("host", &self.host, &mut errors);
        let user = required("user", &self.user, &mut errors);
        let dbname = required("dbname", &self.dbname, &mut errors);
        let password = match (&self.password_env, &self.password_file) {
            (Some(_), Some(_)) => {
                errors.push(err(
                    "ledger.password_env",
                    "give password_env or password_file, not both",
                ));
                PasswordSource::None
            }
            (Some(var), None) => PasswordSource::Env(var.clone()),
            (None, Some(file)) => PasswordSource::File(file.clone()),
            (None, None) => PasswordSource::None,
        };
        let connect_timeout = Duration::from_secs(self.connect_timeout_secs.unwrap_or(10));
        if connect_timeout.is_zero() {
            errors.push(err("ledger.connect_timeout_secs", "must be at least 1"));
        }
        let tls = TlsRaw {
            sslmode: self.sslmode.as_deref(),
            sslrootcert: self.sslrootcert.as_ref(),
            sslcert: self.sslcert.as_ref(),
            sslkey: self.sslkey.as_ref(),
        }
        .compile(&mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(LedgerBackend::Postgres(PostgresTarget {
            host,
            port: self.port.unwrap_or(5432),
            user,
            dbname,
            password,
            connect_timeout,
            tls,
        }))
    }
}

/// Compiles the `[ledger]` section read from `tallyman.toml` (SQLite when absent); a relative
/// `password_file` (and TLS file) is taken from the home folder.
pub fn compile_global(
    home: &Home,
    raw: Option<&LedgerRaw>,
) -> Result<LedgerBackend, Vec<ConfigError>> {
    let Some(raw) = raw else {
        return Ok(LedgerBackend::Sqlite);
    };
    let mut backend = raw.compile().map_err(|es| {
        es.into_iter()
            .map(|e| ConfigError {
                file: GLOBAL_FILE.into(),
                key: e.key,
                why: e.why,
            })
            .collect::<Vec<_>>()
    })?;
    if let LedgerBackend::Postgres(target) = &mut backend {
        if let PasswordSource::File(file) = &mut target.password {
            *file = home.root.join(&*file);
        }
        target.tls.in_home(&home.root);
    }
    Ok(backend)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<LedgerBackend, Vec<String>> {
        let raw: LedgerRaw = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        raw.compile().map_err(|es| {
            es.into_iter()
                .map(|e| format!("{}: {}", e.key, e.why))
                .collect()
        })
    }

    #[test]
    fn the_ledger_section_compiles_or_says_every_problem() {
        assert_eq!(compile(""), Ok(LedgerBackend::Sqlite));
        assert_eq!(compile("backend = \"sqlite\""), Ok(LedgerBackend::Sqlite));
        let pg = compile(
            "backend = \"postgres\"\nhost = \"db\"\nuser = \"t\"\ndbname = \"ledger\"\npassword_env = \"PGPW\"",
        );
        assert_eq!(
            pg,
            Ok(LedgerBackend::Postgres(PostgresTarget {
                host: "db".into(),
                port: 5432,
                user: "t".into(),
                dbname: "ledger".into(),
                password: PasswordSource::Env("PGPW".into()),
                connect_timeout: Duration::from_secs(10),
                tls: PostgresTls::default(),
            }))
        );
        let cases: &[(&str, &[&str])] = &[
            ("backend = \"mysql\"", &["ledger.backend"]),
            ("host = \"db\"", &["ledger.host: only for"]),
            (
                "backend = \"postgres\"",
                &["ledger.host: required", "ledger.user", "ledger.dbname"],
            ),
            (
                "backend = \"postgres\"\nhost = \"h\"\nuser = \"u\"\ndbname = \"d\"\npassword_env = \"A\"\npassword_file = \"f\"\nconnect_timeout_secs = 0",
                &["not both", "connect_timeout_secs"],
            ),
        ];
        for (text, want) in cases {
            let got = compile(text).expect_err(text);
            assert_eq!(got.len(), want.len(), "{text}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.contains(w), "{text}: {g} lacks {w}");
            }
        }
        assert!(
            compile("hostname = \"x\"").is_err(),
            "unknown keys are refused"
        );
    }
}
