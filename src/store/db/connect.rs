//! Connecting to a PostgreSQL ledger from the compiled `[ledger]` section: the password read
//! from its variable or file at the moment of connecting (never kept in the configuration),
//! encrypted as `sslmode` says (the connector is built in `tls`).

use crate::config::ledger::{PasswordSource, PostgresTarget, SslMode};

/// Why a PostgreSQL ledger could not be reached. Each message says its cause, which is therefore
/// not also a `source`: `{:#}` (the CLI's error line) would say it twice.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{target}: the password variable {var} is not set")]
    NoPasswordVar { target: String, var: String },
    #[error("{target}: password file {}: {cause}", path.display())]
    PasswordFile {
        target: String,
        path: std::path::PathBuf,
        cause: std::io::Error,
    },
    #[error("{target}: {cause}")]
    TlsFile {
        target: String,
        cause: super::tls::TlsFileError,
    },
    /// The server's certificate did not verify (`why`: OpenSSL's verdict and the
    /// certificate's subject).
    #[error("{target} (sslmode {mode}): TLS handshake failed: certificate verify failed: {why}")]
    Certificate {
        target: String,
        mode: SslMode,
        why: String,
    },
    /// The server refused or could not be reached, or TLS failed for another reason (OpenSSL's
    /// message is in `cause`).
    #[error("{target} (sslmode {mode}): {cause}")]
    Connect {
        target: String,
        mode: SslMode,
        cause: super::DbError,
    },
}

/// A client of the PostgreSQL ledger at `target`, over TLS unless `sslmode` is `disable` (or
/// `prefer` and the server offers none).
pub fn connect_postgres(target: &PostgresTarget) -> Result<postgres::Client, ConnectError> {
    let name = target.to_string();
    let mut config = postgres::Config::new();
    config
        .host(&target.host)
        .port(target.port)
        .user(&target.user)
        .dbname(&target.dbname)
        .application_name("tallyman")
        .connect_timeout(target.connect_timeout);
    match &target.password {
        PasswordSource::None => {}
        PasswordSource::Env(var) => {
            let pw = std::env::var(var).map_err(|_| ConnectError::NoPasswordVar {
                target: name.clone(),
                var: var.clone(),
            })?;
            config.password(pw);
        }
        PasswordSource::File(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|cause| ConnectError::PasswordFile {
                    target: name.clone(),
                    path: path.clone(),
                    cause,
                })?;
            config.password(text.lines().next().unwrap_or_default());
        }
    }
    let mode = target.tls.mode;
    config.ssl_mode(match mode {
        SslMode::Disable => postgres::config::SslMode::Disable,
        SslMode::Prefer => postgres::config::SslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
            postgres::config::SslMode::Require
        }
    });
    if mode == SslMode::Disable {
        return config
            .connect(postgres::NoTls)
            .map_err(|e| ConnectError::Connect {
                target: name,
                mode,
                cause: e.into(),
            });
    }
    let (tls, refusal) =
        super::tls::connector(&target.tls).map_err(|cause| ConnectError::TlsFile {
            target: name.clone(),
            cause,
        })?;
    config.connect(tls).map_err(|e| match refusal.take() {
        Some(why) => ConnectError::Certificate {
            target: name,
            mode,
            why,
        },
        None => ConnectError::Connect {
            target: name,
            mode,
            cause: e.into(),
        },
    })
}
