//! Starts a real SMTP server (Debian's python3-aiosmtpd) on 127.0.0.1 for mail tests.
//!
//! The server script lives in tests/support/smtp_server.py; it is written into the test's own
//! temp folder and run with /usr/bin/python3 (override with TALLYMAN_TEST_PYTHON), because a
//! `python3` on PATH may be a pyenv build without aiosmtpd. Needs:
//! `apt-get install -y --no-install-recommends python3-aiosmtpd`.

#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

const SCRIPT: &str = include_str!("smtp_server.py");

/// How the test server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerOpts {
    /// Listen on this port (e.g. one a test reserved while the server was "down"); 0 = any.
    pub port: u16,
    /// Answer 451 to the first N DATA commands.
    pub fail_451: u32,
    /// Answer 550 to every DATA command.
    pub fail_550: bool,
    /// Offer STARTTLS with this (cert, key) PEM pair; otherwise STARTTLS is not offered.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// With `tls`: speak TLS from the first byte (SMTPS) instead of offering STARTTLS.
    pub implicit: bool,
    /// Require SMTP AUTH with this (user, password).
    pub auth: Option<(String, String)>,
}

/// A running server; killed and reaped on drop.
pub struct SmtpServer {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

fn python() -> String {
    std::env::var("TALLYMAN_TEST_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".to_string())
}

impl SmtpServer {
    pub fn start(opts: ServerOpts) -> SmtpServer {
        let tmp = tempfile::tempdir().expect("temp dir");
        let dir = tmp.path().join("received");
        fs::create_dir(&dir).expect("received dir");
        let script = tmp.path().join("smtp_server.py");
        fs::write(&script, SCRIPT).expect("write server script");
        let mut cmd = Command::new(python());
        cmd.arg(&script)
            .arg("--dir")
            .arg(&dir)
            .arg("--port")
            .arg(opts.port.to_string());
        if opts.fail_451 > 0 {
            cmd.arg("--fail-451").arg(opts.fail_451.to_string());
        }
        if opts.fail_550 {
            cmd.arg("--fail-550");
        }
        if let Some((cert, key)) = &opts.tls {
            cmd.arg("--tls").arg(cert).arg(key);
            if opts.implicit {
                cmd.arg("--implicit");
            }
        }
        if let Some((user, pass)) = &opts.auth {
            cmd.arg("--auth").arg(user).arg(pass);
        }
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start /usr/bin/python3 (apt-get install -y --no-install-recommends python3-aiosmtpd)");
        let stdout = child.stdout.take().expect("server stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read server port");
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "SMTP test server did not print a port (is python3-aiosmtpd installed?): {line:?}"
            )
        });
        let stdin = child.stdin.take();
        SmtpServer {
            child,
            stdin,
            port,
            dir,
            _tmp: tmp,
        }
    }

    /// Accepted messages, in arrival order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<(u32, PathBuf)> = fs::read_dir(&self.dir)
            .expect("read received dir")
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                let n = name
                    .strip_prefix("msg-")?
                    .strip_suffix(".eml")?
                    .parse()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|(_, p)| fs::read(p).expect("read message"))
            .collect()
    }

    /// One entry per DATA command the server saw: its answer code ("250", "451", "550").
    pub fn data_answers(&self) -> Vec<String> {
        read_lines(&self.dir.join("data.log"))
            .into_iter()
            .filter_map(|l| l.split(' ').next().map(str::to_string))
            .collect()
    }

    /// One entry per AUTH the client sent: "plain ok", "tls refused"...
    pub fn auth_log(&self) -> Vec<String> {
        read_lines(&self.dir.join("auth.log"))
    }

    /// Whether each DATA command arrived over TLS ("tls") or in the clear ("plain").
    pub fn data_transport(&self) -> Vec<String> {
        read_lines(&self.dir.join("data.log"))
            .into_iter()
            .filter_map(|l| l.split(' ').nth(2).map(str::to_string))
            .collect()
    }
}

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = stdin.flush();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port with nothing listening on it (reserved, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A message as Python's `email` package (an independent parser) reads it.
#[derive(Debug, serde::Deserialize)]
pub struct ParsedMail {
    /// Header name (as written) and decoded value, in order.
    pub headers: Vec<(String, String)>,
    /// Leaf MIME parts, decoded.
    pub parts: Vec<ParsedPart>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ParsedPart {
    pub content_type: String,
    pub filename: Option<String>,
    pub body: String,
}

impl ParsedMail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn part(&self, content_type: &str) -> Option<&ParsedPart> {
        self.parts.iter().find(|p| p.content_type == content_type)
    }
}

const PARSE: &str = r#"
import email, json, sys
from email import policy
m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
parts = []
for p in m.walk():
    if p.is_multipart():
        continue
    parts.append({"content_type": p.get_content_type(), "filename": p.get_filename(),
                  "body": p.get_payload(decode=True).decode("utf-8")})
print(json.dumps({"headers": [[k, str(v)] for k, v in m.items()], "parts": parts}))
"#;

/// Parses RFC 5322 bytes with Python's `email` package.
pub fn parse_mail(bytes: &[u8]) -> ParsedMail {
    let mut child = Command::new(python())
        .arg("-c")
        .arg(PARSE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start python to parse mail");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(bytes)
        .expect("write mail");
    let out = child.wait_with_output().expect("parse mail");
    assert!(out.status.success(), "python could not parse the message");
    serde_json::from_slice(&out.stdout).expect("parsed mail JSON")
}

/// A throwaway CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
pub struct TestPki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run openssl (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestPki {
    pub fn new() -> TestPki {
        let dir = tempfile::tempdir().expect("pki dir");
        let p = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec!["req", "-x509"];
        ca.extend(ec);
        ca.extend([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Tallyman Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ]);
        openssl(p, &ca);
        let mut csr = vec!["req"];
        csr.extend(ec);
        csr.extend([
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ]);
        openssl(p, &csr);
        fs::write(p.join("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n").expect("ext");
        openssl(
            p,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
            ],
        );
        TestPki {
            ca_cert: p.join("ca.pem"),
            server_cert: p.join("server.pem"),
            server_key: p.join("server.key"),
            _dir: dir,
        }
    }
}
