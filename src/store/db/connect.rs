//! Connecting to a PostgreSQL ledger from the compiled `[ledger]` section: the password read
//! from its variable or file at the moment of connecting (never kept in the configuration).

use crate::config::ledger::{PasswordSource, PostgresTarget};

/// Why a PostgreSQL ledger could not be reached.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("{target}: the password variable {var} is not set")]
    NoPasswordVar { target: String, var: String },
    #[error("{target}: password file {}: {source}", path.display())]
    PasswordFile {
        target: String,
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{target}: {source}")]
    Connect {
        target: String,
        source: super::DbError,
    },
}

/// A client of the PostgreSQL ledger at `target`. TLS is not offered yet: the connection is
/// plain, for a database on the same host or a trusted network.
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
                std::fs::read_to_string(path).map_err(|source| ConnectError::PasswordFile {
                    target: name.clone(),
                    path: path.clone(),
                    source,
                })?;
            config.password(text.lines().next().unwrap_or_default());
        }
    }
    config
        .connect(postgres::NoTls)
        .map_err(|e| ConnectError::Connect {
            target: name,
            source: e.into(),
        })
}
