//! The OpenSSL connector a PostgreSQL ledger connection is encrypted with, built from the
//! compiled `sslmode`, `sslrootcert`, `sslcert` and `sslkey` as libpq reads them: `require`
//! and `prefer` encrypt without verifying, `verify-ca` checks the chain, `verify-full` the
//! chain and the host name. OpenSSL because it is already linked into the binary (libssh2).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::X509;
use postgres_openssl::MakeTlsConnector;

use crate::config::ledger::{PostgresTls, SslMode};

/// A TLS file that could not be used (before any connection is tried).
#[derive(Debug, thiserror::Error)]
#[error("{key} {}: {why}", path.display())]
pub struct TlsFileError {
    /// The `[ledger]` key that names the file.
    pub key: &'static str,
    pub path: PathBuf,
    pub why: String,
}

/// Why the server's certificate was refused, when it was: OpenSSL's own error for a failed
/// handshake is a code and a source line, this is what an operator needs ("IP address
/// mismatch (certificate CN=localhost)").
#[derive(Clone, Default)]
pub struct CertificateRefusal(Arc<Mutex<Option<String>>>);

impl CertificateRefusal {
    pub fn take(&self) -> Option<String> {
        self.0.lock().ok()?.take()
    }
}

/// The connector for `tls` (whose mode is not `disable`), and where it says why it refused
/// the server's certificate.
pub fn connector(
    tls: &PostgresTls,
) -> Result<(MakeTlsConnector, CertificateRefusal), TlsFileError> {
    let refusal = CertificateRefusal::default();
    let mut builder = SslConnector::builder(SslMethod::tls_client())
        .map_err(|e| file_error("openssl", Path::new("-"), e))?;
    if tls.mode.verifies() {
        let slot = refusal.clone();
        builder.set_verify_callback(SslVerifyMode::PEER, move |ok, chain| {
            if !ok {
                let subject = chain
                    .current_cert()
                    .map(|c| subject_of(c.subject_name()))
                    .unwrap_or_default();
                if let Ok(mut first) = slot.0.lock() {
                    // The first failure is the cause; later ones follow from it.
                    first.get_or_insert(format!("{} (certificate {subject})", chain.error()));
                }
            }
            ok
        });
        if let Some(path) = &tls.root_cert {
            // Only the named CAs, as libpq: the system's store is not trusted besides them.
            let key = "sslrootcert";
            let cas =
                X509::stack_from_pem(&read(key, path)?).map_err(|e| file_error(key, path, e))?;
            if cas.is_empty() {
                return Err(file_error(key, path, "no PEM certificate in it"));
            }
            let mut store = X509StoreBuilder::new().map_err(|e| file_error(key, path, e))?;
            for ca in cas {
                store.add_cert(ca).map_err(|e| file_error(key, path, e))?;
            }
            builder.set_cert_store(store.build());
        }
    } else {
        builder.set_verify(SslVerifyMode::NONE);
    }
    if let Some(client) = &tls.client_cert {
        let mut chain = X509::stack_from_pem(&read("sslcert", &client.cert)?)
            .map_err(|e| file_error("sslcert", &client.cert, e))?
            .into_iter();
        let leaf = chain
            .next()
            .ok_or_else(|| file_error("sslcert", &client.cert, "no PEM certificate in it"))?;
        builder
            .set_certificate(&leaf)
            .map_err(|e| file_error("sslcert", &client.cert, e))?;
        for ca in chain {
            builder
                .add_extra_chain_cert(ca)
                .map_err(|e| file_error("sslcert", &client.cert, e))?;
        }
        key_is_private(&client.key)?;
        let key = PKey::private_key_from_pem(&read("sslkey", &client.key)?)
            .map_err(|e| file_error("sslkey", &client.key, e))?;
        builder
            .set_private_key(&key)
            .and_then(|()| builder.check_private_key())
            .map_err(|e| file_error("sslkey", &client.key, e))?;
    }
    let mut connector = MakeTlsConnector::new(builder.build());
    let verify_name = tls.mode == SslMode::VerifyFull;
    connector.set_callback(move |config, _host| {
        config.set_verify_hostname(verify_name);
        Ok(())
    });
    Ok((connector, refusal))
}

/// `CN=localhost, O=...`: a certificate's subject as one line.
fn subject_of(name: &openssl::x509::X509NameRef) -> String {
    name.entries()
        .map(|e| {
            let key = e.object().nid().short_name().unwrap_or("?");
            let value = e.data().to_string().unwrap_or_else(|_| "?".into());
            format!("{key}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// libpq's rule for `sslkey`: a key others can read is refused, since it is no longer a secret
/// (0600 or less; 0640 or less when root owns it, for a group the service runs in).
fn key_is_private(path: &Path) -> Result<(), TlsFileError> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).map_err(|e| file_error("sslkey", path, e))?;
    let mode = meta.mode() & 0o777;
    let too_open = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if mode & too_open != 0 {
        return Err(file_error(
            "sslkey",
            path,
            format!("readable by others (mode {mode:04o}): make it 0600 (or 0640 owned by root)"),
        ));
    }
    Ok(())
}

fn read(key: &'static str, path: &Path) -> Result<Vec<u8>, TlsFileError> {
    std::fs::read(path).map_err(|e| file_error(key, path, e))
}

fn file_error(key: &'static str, path: &Path, why: impl std::fmt::Display) -> TlsFileError {
    TlsFileError {
        key,
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}
