//! Opening a connection: TCP with a timeout, SSH handshake, host key check against known_hosts
//! (before any authentication), public key login, SFTP channel.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use ssh2::{CheckResult, HashType, KnownHostFileKind, MethodType, Session};

use super::error::{classify, Fault};
use super::remote_name::{fingerprint, known_hosts_markers, known_key_methods};
use super::{SftpClient, SftpEndpoint, SftpError, Step};

fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl SftpEndpoint {
    /// Connects, checks the host key, logs in and opens SFTP.
    pub fn connect(&self) -> Result<SftpClient, SftpError> {
        SftpClient::connect(self)
    }
}

impl SftpClient {
    /// Connects, checks the host key, logs in and opens SFTP.
    pub fn connect(ep: &SftpEndpoint) -> Result<SftpClient, SftpError> {
        let conn_err = |fault: Fault, detail: String| SftpError::Remote {
            host: ep.host.clone(),
            path: String::new(),
            step: Step::Connect,
            fault,
            detail,
        };
        let tcp = tcp_connect(ep).map_err(|d| conn_err(Fault::Connection, d))?;
        let mut session =
            Session::new().map_err(|e| conn_err(classify(&e), format!("new session: {e}")))?;
        session.set_timeout(millis(ep.connect_timeout));
        session.set_tcp_stream(tcp);
        let known_hosts = read_known_hosts(ep)?;
        let methods = known_key_methods(&known_hosts, &ep.host, ep.port);
        if !methods.is_empty() {
            // Ignored on error: libssh2 then negotiates its default list and the check below
            // still refuses a key it does not find.
            let _ = session.method_pref(MethodType::HostKey, &methods.join(","));
        }
        session
            .handshake()
            .map_err(|e| conn_err(classify(&e), format!("handshake: {e}")))?;
        let host_key_fingerprint = check_host_key(ep, &session, &known_hosts)?;
        let cipher = session
            .methods(MethodType::CryptSc)
            .unwrap_or("unknown")
            .to_string();
        session.set_timeout(millis(ep.io_timeout));
        login(ep, &session)?;
        let sftp = session
            .sftp()
            .map_err(|e| conn_err(classify(&e), format!("open sftp subsystem: {e}")))?;
        Ok(SftpClient {
            endpoint: ep.clone(),
            session,
            sftp,
            host_key_fingerprint,
            cipher,
        })
    }
}

fn tcp_connect(ep: &SftpEndpoint) -> Result<TcpStream, String> {
    let addrs = (ep.host.as_str(), ep.port)
        .to_socket_addrs()
        .map_err(|e| format!("resolve {}:{}: {e}", ep.host, ep.port))?;
    let mut last = format!("{}:{} resolves to no address", ep.host, ep.port);
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, ep.connect_timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = format!("tcp connect {addr}: {e}"),
        }
    }
    Err(last)
}

fn read_known_hosts(ep: &SftpEndpoint) -> Result<String, SftpError> {
    std::fs::read_to_string(&ep.known_hosts).map_err(|e| SftpError::HostKeyCheck {
        host: ep.host.clone(),
        port: ep.port,
        known_hosts: ep.known_hosts.clone(),
        detail: format!("cannot read it: {e}"),
    })
}

/// Returns the fingerprint of the accepted key; refuses unknown and changed keys.
fn check_host_key(
    ep: &SftpEndpoint,
    session: &Session,
    known_hosts_text: &str,
) -> Result<String, SftpError> {
    let check_err = |detail: String| SftpError::HostKeyCheck {
        host: ep.host.clone(),
        port: ep.port,
        known_hosts: ep.known_hosts.clone(),
        detail,
    };
    let Some((key, _kind)) = session.host_key() else {
        return Err(check_err("server presented no host key".into()));
    };
    let fp = session
        .host_key_hash(HashType::Sha256)
        .map(fingerprint)
        .unwrap_or_else(|| "(no fingerprint)".into());
    let markers = known_hosts_markers(known_hosts_text, &ep.host, ep.port, key);
    if markers.revoked {
        return Err(SftpError::HostKeyRevoked {
            host: ep.host.clone(),
            port: ep.port,
            known_hosts: ep.known_hosts.clone(),
            fingerprint: fp,
        });
    }
    let mut kh = session
        .known_hosts()
        .map_err(|e| check_err(format!("known hosts: {e}")))?;
    // Parsed from the text already read, so the file is read once and the check sees what
    // `known_key_methods` saw. Marker lines (`@revoked`, `@cert-authority`) are read above
    // and never handed to libssh2, which would not tell them from plain keys.
    for line in known_hosts_text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        // Lines libssh2 cannot parse (e.g. key types it lacks) must not hide the others.
        let _ = kh.read_str(line, KnownHostFileKind::OpenSSH);
    }
    match kh.check_port(&ep.host, ep.port, key) {
        CheckResult::Match => Ok(fp),
        CheckResult::NotFound if markers.cert_authority => Err(check_err(format!(
            "the server's key {fp} is not listed; known_hosts trusts a @cert-authority for \
             this host, but host certificates are not supported: list the host's own key"
        ))),
        CheckResult::NotFound => Err(SftpError::HostKeyUnknown {
            host: ep.host.clone(),
            port: ep.port,
            known_hosts: ep.known_hosts.clone(),
            fingerprint: fp,
        }),
        CheckResult::Mismatch => Err(SftpError::HostKeyChanged {
            host: ep.host.clone(),
            port: ep.port,
            known_hosts: ep.known_hosts.clone(),
            fingerprint: fp,
        }),
        CheckResult::Failure => Err(check_err("libssh2 could not check the key".into())),
    }
}

fn login(ep: &SftpEndpoint, session: &Session) -> Result<(), SftpError> {
    let auth_err = |detail: String| SftpError::Auth {
        host: ep.host.clone(),
        user: ep.user.clone(),
        key_file: ep.key_file.clone(),
        detail,
    };
    key_file_private(&ep.key_file).map_err(&auth_err)?;
    let passphrase = match &ep.passphrase_env {
        Some(var) => Some(std::env::var(var).map_err(|_| {
            auth_err(format!(
                "environment variable {var} (passphrase_env) is not set"
            ))
        })?),
        None => None,
    };
    if let Err(e) =
        session.userauth_pubkey_file(&ep.user, None, &ep.key_file, passphrase.as_deref())
    {
        // A dropped connection during login is a connection fault (retryable), not a refusal.
        if classify(&e) == Fault::Connection {
            return Err(SftpError::Remote {
                host: ep.host.clone(),
                path: String::new(),
                step: Step::Auth,
                fault: Fault::Connection,
                detail: e.to_string(),
            });
        }
        return Err(auth_err(e.to_string()));
    }
    if !session.authenticated() {
        return Err(auth_err("server did not accept the key".into()));
    }
    Ok(())
}

/// Refuses a private key that others can read or write, as OpenSSH does ("UNPROTECTED
/// PRIVATE KEY FILE"): when the key belongs to us, group and world must have no access.
fn key_file_private(path: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read the key file: {e}"))?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let mode = meta.mode() & 0o777;
    if meta.uid() == uid && mode & 0o077 != 0 {
        return Err(format!(
            "UNPROTECTED PRIVATE KEY FILE: permissions {mode:04o} are too open (others may \
             read or change it); refused as OpenSSH would: chmod 600 it"
        ));
    }
    Ok(())
}
