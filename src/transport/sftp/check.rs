//! `tallyman check` for an SFTP endpoint: host key, login, and the folder readable (source) or
//! writable (destination, proven by writing and removing a probe temp file).

use std::path::Path;

use super::remote_name::remote_join;
use super::{AfterClaim, Fault, SftpClient, SftpEndpoint, SftpError, Step, UploadSource};

/// What the endpoint is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Source,
    Destination,
}

/// What a successful check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub folder: String,
    pub host_key_fingerprint: String,
    /// Negotiated server-to-client cipher.
    pub cipher: String,
    /// Source: files currently matching the pattern.
    pub matching_files: usize,
    /// Destination: the probe file was written, renamed and removed.
    pub probe_written: bool,
}

/// The probe's final name starts with a dot (no settle rule takes it) and ends like our temps,
/// so that `clean_stale_temps` removes one left by a crash between upload and removal.
const PROBE_PREFIX: &str = ".tallyman-probe";
const PROBE_SUFFIX: &str = ".tallyman-tmp";

impl SftpEndpoint {
    /// Connects (host key, login) and checks the folder for `access`.
    pub fn check(&self, access: Access) -> Result<CheckReport, SftpError> {
        self.connect()?.check(access)
    }
}

impl SftpClient {
    /// Checks the folder for `access` on this connection.
    pub fn check(&self, access: Access) -> Result<CheckReport, SftpError> {
        let ep = &self.endpoint;
        let mut report = CheckReport {
            host: ep.host.clone(),
            port: ep.port,
            user: ep.user.clone(),
            folder: ep.folder.clone(),
            host_key_fingerprint: self.host_key_fingerprint.clone(),
            cipher: self.cipher.clone(),
            matching_files: 0,
            probe_written: false,
        };
        match access {
            Access::Source => {
                report.matching_files = self.list()?.len();
                if let AfterClaim::Move { to } = &ep.after_claim {
                    self.require_dir(to)?;
                }
            }
            Access::Destination => {
                let probe = format!("{PROBE_PREFIX}.{}{PROBE_SUFFIX}", std::process::id());
                let _ = self
                    .sftp
                    .unlink(Path::new(&remote_join(&ep.folder, &probe)));
                self.upload_atomic(
                    UploadSource::Bytes(b"tallyman write probe\n"),
                    &ep.folder,
                    &probe,
                )?;
                let remote = remote_join(&ep.folder, &probe);
                self.sftp
                    .unlink(Path::new(&remote))
                    .map_err(|e| self.remote_err(Step::Delete, &remote, &e))?;
                report.probe_written = true;
            }
        }
        Ok(report)
    }

    fn require_dir(&self, dir: &str) -> Result<(), SftpError> {
        let stat = self
            .sftp
            .stat(Path::new(dir))
            .map_err(|e| self.remote_err(Step::Stat, dir, &e))?;
        if stat.is_dir() {
            Ok(())
        } else {
            Err(SftpError::Remote {
                host: self.endpoint.host.clone(),
                path: dir.to_string(),
                step: Step::Stat,
                fault: Fault::Server { sftp_status: None },
                detail: "move_to is not a directory".into(),
            })
        }
    }
}
