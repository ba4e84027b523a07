//! The TLS settings of a PostgreSQL `[ledger]`: `sslmode`, `sslrootcert`, `sslcert` and `sslkey`,
//! with libpq's names and meanings, so a DBA's `psql` connection string reads across unchanged.

use std::path::{Path, PathBuf};

use super::report::{err, SectionError};

/// How the connection to PostgreSQL is protected (libpq's `sslmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    /// Plain TCP: for a database on the same host or a trusted network.
    Disable,
    /// TLS when the server offers it, plain when it does not; the server is not verified.
    /// The default, as in libpq and `psql`: a ledger that worked before TLS settings existed
    /// still works (a server without TLS is reached in plain), and a server with TLS is
    /// reached encrypted. It does not stop an active man in the middle: production should
    /// say `verify-full`.
    #[default]
    Prefer,
    /// TLS or no connection; the server's certificate is not verified (encryption against
    /// eavesdropping, not against impersonation).
    Require,
    /// TLS, and the server's certificate chain must lead to a trusted CA; its name is not
    /// checked.
    VerifyCa,
    /// TLS, the chain verified, and the certificate must name the `host` connected to.
    VerifyFull,
}

impl SslMode {
    pub const NAMES: [&'static str; 5] =
        ["disable", "prefer", "require", "verify-ca", "verify-full"];

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(text: &str) -> Option<SslMode> {
        [
            SslMode::Disable,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ]
        .into_iter()
        .find(|m| m.name() == text)
    }

    /// True when the server's certificate chain is checked against trusted CAs.
    pub fn verifies(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A client certificate and its private key, both PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The compiled TLS settings of a PostgreSQL ledger.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostgresTls {
    pub mode: SslMode,
    /// The CA certificates (PEM) the server's chain must lead to; `None` with a verifying
    /// mode: the system's trusted CAs (OpenSSL's default paths).
    pub root_cert: Option<PathBuf>,
    /// Presented when the server asks for one (`clientcert` in `pg_hba.conf`).
    pub client_cert: Option<ClientCert>,
}

/// The TLS keys of `[ledger]` as written.
pub(super) struct TlsRaw<'a> {
    pub sslmode: Option<&'a str>,
    pub sslrootcert: Option<&'a PathBuf>,
    pub sslcert: Option<&'a PathBuf>,
    pub sslkey: Option<&'a PathBuf>,
}

impl TlsRaw<'_> {
    /// The settings, or every problem pushed to `errors` (each naming its key).
    pub(super) fn compile(&self, errors: &mut Vec<SectionError>) -> PostgresTls {
        // An unknown mode is one error; the keys that depend on the mode are then not judged.
        let known = match self.sslmode {
            None => Some(SslMode::default()),
            Some(text) => {
                let mode = SslMode::parse(text);
                if mode.is_none() {
                    errors.push(err(
                        "ledger.sslmode",
                        format!("{text:?}: expected one of {}", SslMode::NAMES.join(", ")),
                    ));
                }
                mode
            }
        };
        let mode = known.unwrap_or_default();
        // A CA file with a mode that does not verify would be read and ignored (libpq even
        // turns `require` into `verify-ca` then): say so rather than guess.
        if self.sslrootcert.is_some() && known.is_some_and(|m| !m.verifies()) {
            errors.push(err(
                "ledger.sslrootcert",
                format!(
                    "only used with sslmode = \"verify-ca\" or \"verify-full\" (sslmode is {:?})",
                    mode.name()
                ),
            ));
        }
        if mode == SslMode::Disable {
            for (key, set) in [("sslcert", self.sslcert), ("sslkey", self.sslkey)] {
                if set.is_some() {
                    errors.push(err(
                        format!("ledger.{key}"),
                        "a client certificate needs TLS (sslmode is \"disable\")",
                    ));
                }
            }
        }
        let client_cert = match (self.sslcert, self.sslkey) {
            (Some(cert), Some(key)) => Some(ClientCert {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (Some(_), None) => {
                errors.push(err("ledger.sslkey", "required with sslcert"));
                None
            }
            (None, Some(_)) => {
                errors.push(err("ledger.sslcert", "required with sslkey"));
                None
            }
            (None, None) => None,
        };
        PostgresTls {
            mode,
            root_cert: self.sslrootcert.cloned(),
            client_cert,
        }
    }
}

impl PostgresTls {
    /// Relative file names taken from the home folder, as `password_file` is.
    pub(super) fn in_home(&mut self, root: &Path) {
        if let Some(ca) = &mut self.root_cert {
            *ca = root.join(&*ca);
        }
        if let Some(c) = &mut self.client_cert {
            c.cert = root.join(&c.cert);
            c.key = root.join(&c.key);
        }
    }
}

impl std::fmt::Display for PostgresTls {
    /// `sslmode verify-full, CA ca.pem`: what `tallyman check` shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sslmode {}", self.mode)?;
        match (&self.root_cert, self.mode.verifies()) {
            (Some(ca), _) => write!(f, ", CA {}", ca.display())?,
            (None, true) => write!(f, ", the system's CAs")?,
            (None, false) => {}
        }
        if let Some(c) = &self.client_cert {
            write!(f, ", client certificate {}", c.cert.display())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ledger::{compile_global, LedgerBackend, LedgerRaw};
    use crate::config::Home;

    const PG: &str = "backend = \"postgres\"\nhost = \"db\"\nuser = \"t\"\ndbname = \"ledger\"\n";

    /// `[ledger]` with `extra` after the PostgreSQL basics, compiled in home `/home/t`: its TLS
    /// settings, or every error as `key: why`.
    fn tls(extra: &str) -> Result<PostgresTls, Vec<String>> {
        let raw: LedgerRaw =
            toml::from_str(&format!("{PG}{extra}")).map_err(|e| vec![e.to_string()])?;
        match compile_global(&Home::new("/home/t"), Some(&raw)) {
            Ok(LedgerBackend::Postgres(target)) => Ok(target.tls),
            Ok(other) => panic!("{extra}: {other:?}"),
            Err(es) => Err(es
                .into_iter()
                .map(|e| format!("{}: {}", e.key, e.why))
                .collect()),
        }
    }

    #[test]
    fn tls_settings_compile_with_their_files_in_the_home() {
        let cases: &[(&str, PostgresTls)] = &[
            ("", PostgresTls::default()),
            (
                "sslmode = \"disable\"",
                PostgresTls { mode: SslMode::Disable, ..PostgresTls::default() },
            ),
            (
                "sslmode = \"require\"",
                PostgresTls { mode: SslMode::Require, ..PostgresTls::default() },
            ),
            (
                "sslmode = \"verify-full\"",
                PostgresTls { mode: SslMode::VerifyFull, ..PostgresTls::default() },
            ),
            (
                "sslmode = \"verify-ca\"\nsslrootcert = \"tls/ca.pem\"",
                PostgresTls {
                    mode: SslMode::VerifyCa,
                    root_cert: Some("/home/t/tls/ca.pem".into()),
                    client_cert: None,
                },
            ),
            (
                "sslmode = \"verify-full\"\nsslrootcert = \"/etc/ca.pem\"\nsslcert = \"me.crt\"\nsslkey = \"me.key\"",
                PostgresTls {
                    mode: SslMode::VerifyFull,
                    root_cert: Some("/etc/ca.pem".into()),
                    client_cert: Some(ClientCert {
                        cert: "/home/t/me.crt".into(),
                        key: "/home/t/me.key".into(),
                    }),
                },
            ),
        ];
        for (extra, want) in cases {
            assert_eq!(tls(extra).as_ref(), Ok(want), "{extra}");
        }
    }

    #[test]
    fn tls_settings_that_make_no_sense_name_their_key() {
        let cases: &[(&str, &[&str])] = &[
            ("sslmode = \"on\"", &["ledger.sslmode: \"on\": expected one of disable, prefer"]),
            ("sslmode = \"verify_full\"\nsslrootcert = \"ca.pem\"", &["ledger.sslmode"]),
            ("sslmode = \"disable\"\nsslrootcert = \"ca.pem\"", &["ledger.sslrootcert: only used with"]),
            ("sslmode = \"require\"\nsslrootcert = \"ca.pem\"", &["ledger.sslrootcert: only used with"]),
            ("sslrootcert = \"ca.pem\"", &["ledger.sslrootcert: only used with sslmode = \"verify-ca\" or \"verify-full\" (sslmode is \"prefer\")"]),
            ("sslmode = \"verify-full\"\nsslcert = \"me.crt\"", &["ledger.sslkey: required with sslcert"]),
            ("sslmode = \"verify-full\"\nsslkey = \"me.key\"", &["ledger.sslcert: required with sslkey"]),
            (
                "sslmode = \"disable\"\nsslcert = \"me.crt\"\nsslkey = \"me.key\"",
                &["ledger.sslcert: a client certificate needs TLS", "ledger.sslkey: a client"],
            ),
            ("sslmode = 1", &["invalid type"]),
            ("sslrootcerts = \"ca.pem\"", &["unknown field"]),
        ];
        for (extra, want) in cases {
            let got = tls(extra).expect_err(extra);
            assert_eq!(got.len(), want.len(), "{extra}: {got:?}");
            for (g, w) in got.iter().zip(want.iter()) {
                assert!(g.contains(w), "{extra}: {g} lacks {w}");
            }
        }
        // With SQLite the TLS keys, like every PostgreSQL key, are refused by name.
        let raw: LedgerRaw =
            toml::from_str("sslmode = \"require\"\nsslrootcert = \"ca.pem\"").expect("toml");
        let got: Vec<String> = raw
            .compile()
            .expect_err("sqlite")
            .into_iter()
            .map(|e| e.key)
            .collect();
        assert_eq!(got, ["ledger.sslmode", "ledger.sslrootcert"]);
    }
}
