//! The test PKI of a TLS-only throwaway cluster (`PgCluster::start_tls`), made with the
//! `openssl` command: what a DBA would make for a real server, so the ledger's TLS is tested
//! against ordinary certificates.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{chown, USER};

/// The PEM files of a TLS-only server's test PKI.
pub struct TlsFiles {
    /// The CA that signed the server's certificate (which names `localhost` only, not
    /// 127.0.0.1).
    pub ca: PathBuf,
    /// A CA that signed nothing the server presents.
    pub other_ca: PathBuf,
    /// A client certificate for `USER`, signed by `ca`, and its key: required (with the
    /// password) for database `CERT_DB`.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

/// A test PKI in `dir` made with the `openssl` command: two CAs, a server certificate for
/// `localhost` (DNS name only) signed by the first, and a client certificate for `USER`. The
/// server's key is the server user's, mode 0600, as PostgreSQL requires.
pub(super) fn make_pki(dir: &Path, who: Option<(u32, u32)>) -> TlsFiles {
    std::fs::create_dir(dir).expect("tls folder");
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .current_dir(dir)
            .args(args)
            .output()
            .expect("run the openssl command");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let new_key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for (name, subject) in [
        ("ca", "/CN=Tallyman test CA"),
        ("other-ca", "/CN=Another CA"),
    ] {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        let mut args = vec!["req", "-x509"];
        args.extend(new_key);
        args.extend([
            "-keyout", &key, "-out", &crt, "-days", "3", "-subj", subject,
        ]);
        openssl(&args);
    }
    for (name, subject, ext) in [
        (
            "server",
            "/CN=localhost",
            "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n",
        ),
        (
            "client",
            &*format!("/CN={USER}"),
            "extendedKeyUsage=clientAuth\n",
        ),
    ] {
        let (key, csr, crt, extfile) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.crt"),
            format!("{name}.ext"),
        );
        std::fs::write(
            dir.join(&extfile),
            format!("basicConstraints=CA:FALSE\n{ext}"),
        )
        .expect("extensions file");
        let mut args = vec!["req"];
        args.extend(new_key);
        args.extend(["-keyout", &key, "-out", &csr, "-subj", subject]);
        openssl(&args);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            &crt,
            "-days",
            "3",
            "-extfile",
            &extfile,
        ]);
    }
    use std::os::unix::fs::PermissionsExt;
    for crt in ["ca.crt", "server.crt"] {
        std::fs::set_permissions(dir.join(crt), PermissionsExt::from_mode(0o644))
            .expect("certificate readable by the server");
    }
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, PermissionsExt::from_mode(0o600)).expect("key mode");
    chown(&key, who);
    TlsFiles {
        ca: dir.join("ca.crt"),
        other_ca: dir.join("other-ca.crt"),
        client_cert: dir.join("client.crt"),
        client_key: dir.join("client.key"),
    }
}
