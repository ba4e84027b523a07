//! A private OpenSSH sshd on 127.0.0.1 for one test: its own host key, client key, config,
//! known_hosts and served folders in a temp dir; killed on drop. Needs `openssh-server` and
//! `openssh-client` (for `/usr/sbin/sshd` and `ssh-keygen`).
#![allow(dead_code)]

use std::fs;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tallyman::config::sftp::{AfterClaimRaw, SftpEndpoint, SftpRaw};

pub struct Sshd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
    pub client_key: PathBuf,
    /// known_hosts holding this server's real host key.
    pub known_hosts: PathBuf,
    pub log: PathBuf,
    child: Child,
}

/// Runs a command and returns its stdout, panicking with its stderr on failure (test setup).
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Generates an ed25519 key pair without passphrase at `path` (and `path.pub`).
pub fn keygen(path: &Path) -> String {
    keygen_typed(path, "ed25519")
}

/// Generates a key pair of type `kind` (`ed25519`, `ecdsa`, `rsa`) at `path`.
pub fn keygen_typed(path: &Path, kind: &str) -> String {
    run(Command::new("ssh-keygen")
        .args(["-q", "-t", kind, "-N", "", "-C", "tallyman-test", "-f"])
        .arg(path));
    fs::read_to_string(path.with_extension("pub"))
        .expect("read public key")
        .trim()
        .to_string()
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// True once something on `port` sends an SSH banner.
fn banner_on(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).is_ok() && &buf == b"SSH-"
}

impl Sshd {
    pub fn start() -> Sshd {
        Sshd::start_with_host_keys(&["ed25519"])
    }

    /// A server with one host key per type in `kinds` (in that order of `HostKey` lines);
    /// known_hosts holds only the first.
    pub fn start_with_host_keys(kinds: &[&str]) -> Sshd {
        Sshd::start_with(kinds, "")
    }

    /// A server whose SFTP subsystem runs with `flags` (internal-sftp options): `-R` makes it
    /// read-only (delete and rename refused: a partner account without delete permission),
    /// `-P open` refuses every file open (reads fail with "permission denied", as a file the
    /// account may list but not read).
    pub fn start_with_sftp_flags(flags: &str) -> Sshd {
        Sshd::start_with(&["ed25519"], flags)
    }

    fn start_with(kinds: &[&str], sftp_flags: &str) -> Sshd {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        let mut host_key_lines = String::new();
        let mut host_pubs = Vec::new();
        for kind in kinds {
            let path = d.join(format!("host_{kind}"));
            host_pubs.push(keygen_typed(&path, kind));
            host_key_lines.push_str(&format!("HostKey {}\n", path.display()));
        }
        let host_pub = host_pubs
            .first()
            .expect("at least one host key type")
            .clone();
        let client_pub = keygen(&d.join("client_ed25519"));
        fs::write(d.join("authorized_keys"), format!("{client_pub}\n")).expect("authorized_keys");
        let user = run(Command::new("id").arg("-un")).trim().to_string();
        // sshd refuses to start as root without its privilege separation directory.
        let _ = fs::create_dir_all("/run/sshd");
        let log = d.join("sshd.log");
        for _ in 0..5 {
            let port = free_port();
            let config = d.join("sshd_config");
            fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\n{host_key_lines}\
                     PidFile {d}/sshd.pid\nAuthorizedKeysFile {d}/authorized_keys\n\
                     StrictModes no\nUsePAM no\nPasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp {sftp_flags}\n\
                     LogLevel VERBOSE\nUseDNS no\nMaxStartups 100\n",
                    d = d.display()
                ),
            )
            .expect("sshd_config");
            let log_file = fs::File::create(&log).expect("log file");
            let mut child = Command::new("/usr/sbin/sshd")
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file)
                .spawn()
                .expect("spawn /usr/sbin/sshd (apt-get install openssh-server)");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if banner_on(port) {
                    let known_hosts = d.join("known_hosts");
                    fs::write(&known_hosts, format!("[127.0.0.1]:{port} {host_pub}\n"))
                        .expect("known_hosts");
                    return Sshd {
                        client_key: d.join("client_ed25519"),
                        known_hosts,
                        log,
                        dir,
                        port,
                        user,
                        child,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken by a parallel test, most likely: try another
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "sshd did not start: {}",
            fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// A served folder (created) under the temp dir; sshd serves absolute paths as they are.
    pub fn folder(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("served").join(name);
        fs::create_dir_all(&p).expect("served folder");
        p
    }

    /// A raw endpoint for `folder` with this server's key, user and known_hosts.
    pub fn raw(&self, folder: &Path) -> SftpRaw {
        SftpRaw {
            host: "127.0.0.1".into(),
            port: self.port,
            user: self.user.clone(),
            key_file: self.client_key.clone(),
            passphrase_env: None,
            known_hosts: self.known_hosts.clone(),
            folder: folder.display().to_string(),
            pattern: "*".into(),
            after_claim: AfterClaimRaw::Keep,
            move_to: None,
            connect_timeout_secs: 5,
            io_timeout_secs: 10,
            poll_secs: 1,
        }
    }

    pub fn endpoint(&self, folder: &Path) -> SftpEndpoint {
        self.raw(folder).compile().expect("valid endpoint")
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
