//! SFTP sources and sinks over ssh2 (libssh2): the only code in Tallyman that knows ssh2.
//!
//! One `SftpClient` is one authenticated connection. Connecting checks the server's host key
//! against the configured known_hosts file *before* any authentication, so an unknown or changed
//! key never sees our key or user name. Every blocking call is bounded by `io_timeout`
//! (`Session::set_timeout`), so a stalled server fails a step instead of hanging a worker.
//!
//! Downloads (`fetch`) land in a staging file, are fsynced, and are accepted only if the bytes
//! read equal the listed size and a re-stat shows size and mtime unchanged: a partner rewriting
//! or truncating a file mid-download gives a clean EOF and no libssh2 error, so the size check
//! is the only defence.
//!
//! Uploads (`upload_atomic`) write `.NAME.<attempt>.tallyman-tmp` in the target folder (unique
//! per attempt, so two uploads of one name never share a temp), fsync it on the server when it
//! offers fsync@openssh.com, read it back and compare its sha256 with ours, then rename it to
//! NAME and check NAME's size, so a polling consumer never sees a partial or wrong NAME. OpenSSH's SFTP rename never overwrites (SSH_FXP_RENAME is link+unlink),
//! and we do not want it to: when NAME already exists,
//! - same size and sha256 as ours: the upload already happened (we crashed after the rename and
//!   before the ledger recorded it); the result is `UploadOutcome::AlreadyPresent`, nothing is
//!   written, so calling `upload_atomic` again after a restart is always safe;
//! - different content: `SftpError::FinalExistsDifferent`, the temp file is removed and the
//!   existing file is left alone: a person must decide, since the consumer may have read it.
//!
//! The existing-file check runs before writing anything and again if the rename fails (the name
//! may appear in between). SFTP has no way to fsync a directory, so the rename itself is as
//! durable as the server makes it. Stale temps left by a crash are removed by
//! `clean_stale_temps` (the delivery pass calls it once per destination).
//!
//! Passwords are not supported: key files only, with an optional passphrase read from the
//! environment variable that the config names.

mod check;
mod connect;
mod error;
mod fetch;
mod remote_name;
mod upload;

use crate::config::sftp::{AfterClaim, SftpEndpoint};
pub use check::{Access, CheckReport};
pub use error::{with_retry, Fault, SftpError, Step};
pub use fetch::{Fetched, Listing, Skipped};
pub use remote_name::{
    escaped, fingerprint, is_our_temp, known_hosts_markers, known_key_methods, remote_join,
    safe_local_name, temp_name, KeepKey, NameError,
};
pub use upload::{UploadOutcome, UploadSource};

/// One authenticated SFTP connection to an endpoint.
pub struct SftpClient {
    endpoint: SftpEndpoint,
    // The SFTP channel lives inside it; also asked for the last libssh2 error code.
    session: ssh2::Session,
    sftp: ssh2::Sftp,
    host_key_fingerprint: String,
    cipher: String,
}

impl SftpClient {
    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &SftpEndpoint {
        &self.endpoint
    }

    /// The server's host key fingerprint (`SHA256:...`), as checked against known_hosts.
    pub fn host_key_fingerprint(&self) -> &str {
        &self.host_key_fingerprint
    }

    /// The negotiated server-to-client cipher (check output, throughput questions).
    pub fn cipher(&self) -> &str {
        &self.cipher
    }

    fn remote_err(&self, step: Step, path: &str, e: &ssh2::Error) -> SftpError {
        SftpError::Remote {
            host: self.endpoint.host.clone(),
            path: path.to_string(),
            step,
            fault: error::classify(e),
            detail: e.to_string(),
        }
    }

    /// For `std::io::Error`s from ssh2 file reads and writes, which lose the libssh2 code: the
    /// session's last error still has it.
    fn remote_io_err(&self, step: Step, path: &str, e: &std::io::Error) -> SftpError {
        let last = ssh2::Error::last_session_error(&self.session);
        let fault = match (&last, e.kind()) {
            (_, std::io::ErrorKind::TimedOut) => Fault::Connection,
            (Some(last), _) => error::classify(last),
            (None, _) => Fault::Server { sftp_status: None },
        };
        SftpError::Remote {
            host: self.endpoint.host.clone(),
            path: path.to_string(),
            step,
            fault,
            detail: e.to_string(),
        }
    }

    fn local_err(
        &self,
        path: &std::path::Path,
        detail: &'static str,
        e: std::io::Error,
    ) -> SftpError {
        SftpError::Local {
            host: self.endpoint.host.clone(),
            path: path.to_path_buf(),
            detail,
            source: e,
        }
    }
}
