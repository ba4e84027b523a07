//! The one error type of the SFTP transport: every failure names host, remote path and step,
//! and says whether a fresh connection could cure it (`with_retry` only retries those).

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::remote_name::NameError;

/// Which step of the exchange failed; a log line or a retry decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    HostKey,
    Auth,
    List,
    Stat,
    Read,
    Write,
    Fsync,
    Rename,
    Delete,
    /// Local staging or local source files (our disk, not the server).
    Local,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Step::Connect => "connect",
            Step::HostKey => "hostkey",
            Step::Auth => "auth",
            Step::List => "list",
            Step::Stat => "stat",
            Step::Read => "read",
            Step::Write => "write",
            Step::Fsync => "fsync",
            Step::Rename => "rename",
            Step::Delete => "delete",
            Step::Local => "local",
        };
        f.write_str(s)
    }
}

/// Whether the transport (socket, session) or the server's answer failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Dropped connection, timeout, refused connect: a fresh connection may succeed.
    Connection,
    /// The server answered with an SFTP status (no such file, permission denied, failure).
    Server { sftp_status: Option<i32> },
}

#[derive(Debug, thiserror::Error)]
pub enum SftpError {
    #[error("sftp {host}: {step} {path}: {detail}")]
    Remote {
        host: String,
        path: String,
        step: Step,
        fault: Fault,
        detail: String,
    },
    #[error(
        "sftp {host}:{port}: host key {fingerprint} is not in {known_hosts}; not logging in \
         (check the fingerprint with the server's owner, then add the key)"
    )]
    HostKeyUnknown {
        host: String,
        port: u16,
        known_hosts: PathBuf,
        fingerprint: String,
    },
    #[error(
        "sftp {host}:{port}: HOST KEY CHANGED: server presented {fingerprint}, which differs from \
         the key in {known_hosts}; not logging in (possible man-in-the-middle, or a re-keyed server)"
    )]
    HostKeyChanged {
        host: String,
        port: u16,
        known_hosts: PathBuf,
        fingerprint: String,
    },
    #[error(
        "sftp {host}:{port}: host key {fingerprint} is REVOKED in {known_hosts} (an @revoked \
         line); not logging in"
    )]
    HostKeyRevoked {
        host: String,
        port: u16,
        known_hosts: PathBuf,
        fingerprint: String,
    },
    #[error("sftp {host}:{port}: cannot check host key against {known_hosts}: {detail}")]
    HostKeyCheck {
        host: String,
        port: u16,
        known_hosts: PathBuf,
        detail: String,
    },
    #[error("sftp {host}: login as {user} with key {key_file} failed: {detail}")]
    Auth {
        host: String,
        user: String,
        key_file: PathBuf,
        detail: String,
    },
    #[error(
        "sftp {host}: {path} changed during download (listed {listed_size} bytes mtime \
         {listed_mtime}, read {read_bytes} bytes, now {now}); staging file removed"
    )]
    ChangedDuringDownload {
        host: String,
        path: String,
        listed_size: u64,
        listed_mtime: u64,
        read_bytes: u64,
        /// What a re-stat saw afterwards, e.g. "120 bytes mtime 1764170000" or "gone".
        now: String,
    },
    #[error(
        "sftp {host}: {path} already exists with different content ({theirs}; ours {ours_size} \
         bytes sha256 {ours_sha256}); not overwritten, temp file removed"
    )]
    FinalExistsDifferent {
        host: String,
        path: String,
        theirs: String,
        ours_size: u64,
        ours_sha256: String,
    },
    #[error("sftp {host}: remote name {name:?} refused: {why}")]
    UnsafeName {
        host: String,
        name: String,
        why: NameError,
    },
    #[error("sftp {host}: local file {path}: {detail}: {source}")]
    Local {
        host: String,
        path: PathBuf,
        detail: &'static str,
        source: std::io::Error,
    },
}

impl SftpError {
    /// The step that failed.
    pub fn step(&self) -> Step {
        match self {
            SftpError::Remote { step, .. } => *step,
            SftpError::HostKeyUnknown { .. }
            | SftpError::HostKeyChanged { .. }
            | SftpError::HostKeyRevoked { .. }
            | SftpError::HostKeyCheck { .. } => Step::HostKey,
            SftpError::Auth { .. } => Step::Auth,
            SftpError::ChangedDuringDownload { .. } => Step::Read,
            SftpError::FinalExistsDifferent { .. } => Step::Rename,
            SftpError::UnsafeName { .. } => Step::List,
            SftpError::Local { .. } => Step::Local,
        }
    }

    /// Only connection-level failures are worth a fresh connection; host key, login, changed
    /// files and server refusals would fail the same way again.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SftpError::Remote {
                fault: Fault::Connection,
                ..
            }
        )
    }

    /// The server said the path does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            SftpError::Remote {
                fault: Fault::Server {
                    sftp_status: Some(SFTP_NO_SUCH_FILE)
                },
                ..
            }
        )
    }
}

pub(crate) const SFTP_NO_SUCH_FILE: i32 = 2;
pub(crate) const SFTP_OP_UNSUPPORTED: i32 = 8;

/// libssh2 session codes that mean the socket or session is gone or stalled.
const CONNECTION_CODES: [i32; 10] = [
    -2,  // BANNER_RECV
    -3,  // BANNER_SEND
    -5,  // KEX_FAILURE: also what a connection dropped during key exchange looks like
    -7,  // SOCKET_SEND
    -9,  // TIMEOUT
    -13, // SOCKET_DISCONNECT
    -26, // CHANNEL_CLOSED
    -27, // CHANNEL_EOF_SENT
    -30, // SOCKET_TIMEOUT
    -43, // SOCKET_RECV
];

/// SFTP statuses NO_CONNECTION and CONNECTION_LOST.
const SFTP_CONNECTION_STATUSES: [i32; 2] = [6, 7];

/// Sorts an ssh2 error into connection-level or server-level.
pub(crate) fn classify(err: &ssh2::Error) -> Fault {
    match err.code() {
        ssh2::ErrorCode::Session(rc) if CONNECTION_CODES.contains(&rc) => Fault::Connection,
        ssh2::ErrorCode::Session(_) => Fault::Server { sftp_status: None },
        ssh2::ErrorCode::SFTP(s) if SFTP_CONNECTION_STATUSES.contains(&s) => Fault::Connection,
        ssh2::ErrorCode::SFTP(s) => Fault::Server {
            sftp_status: Some(s),
        },
    }
}

/// Runs `op` up to `attempts` times, sleeping `backoff`, then twice that, and so on (at most a
/// minute) between tries, as long as the failure is connection-level. `op` must open its own
/// connection, so that each retry goes through a fresh one.
pub fn with_retry<T>(
    attempts: u32,
    backoff: Duration,
    mut op: impl FnMut() -> Result<T, SftpError>,
) -> Result<T, SftpError> {
    let attempts = attempts.max(1);
    let mut delay = backoff;
    let mut attempt = 1;
    loop {
        match op() {
            Ok(v) => return Ok(v),
            Err(e) if e.is_retryable() && attempt < attempts => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(60));
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn remote(fault: Fault) -> SftpError {
        SftpError::Remote {
            host: "h".into(),
            path: "/in/a.csv".into(),
            step: Step::Read,
            fault,
            detail: "x".into(),
        }
    }

    #[test]
    fn retry_stops_at_first_non_connection_failure_and_counts_attempts() {
        let cases: [(Fault, u32); 2] = [
            (Fault::Connection, 3),
            (
                Fault::Server {
                    sftp_status: Some(3),
                },
                1,
            ),
        ];
        for (fault, expected_calls) in cases {
            let mut calls = 0;
            let r: Result<(), _> = with_retry(3, Duration::from_millis(1), || {
                calls += 1;
                Err(remote(fault))
            });
            assert!(r.is_err());
            assert_eq!(calls, expected_calls, "{fault:?}");
        }
    }

    #[test]
    fn classify_sorts_codes() {
        let drop = ssh2::Error::from_errno(ssh2::ErrorCode::Session(-13));
        assert_eq!(classify(&drop), Fault::Connection);
        let missing = ssh2::Error::from_errno(ssh2::ErrorCode::SFTP(2));
        assert_eq!(
            classify(&missing),
            Fault::Server {
                sftp_status: Some(2)
            }
        );
    }
}
