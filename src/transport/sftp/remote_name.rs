//! Pure rules for remote names: which names may become local path components, our temp names,
//! remote path joining, the "keep" key, and which key types a known_hosts file holds for a host.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::transport::settle::Sighting;

/// Why a remote name cannot be used as a local file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    Empty,
    DotOrDotDot,
    Separator(char),
    Control(char),
    TooLong(usize),
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Empty => f.write_str("empty name"),
            NameError::DotOrDotDot => f.write_str("'.' or '..'"),
            NameError::Separator(c) => write!(f, "contains path separator {c:?}"),
            NameError::Control(c) => write!(f, "contains control character {c:?}"),
            NameError::TooLong(n) => write!(f, "{n} bytes long (at most 255)"),
        }
    }
}

/// A partner controls remote names; before one becomes a local path component it must be a
/// single, plain file name: no separators of any platform, no `..`, no NUL, newlines or other
/// control characters (they break logs and reason files), at most 255 bytes.
pub fn safe_local_name(remote: &str) -> Result<&str, NameError> {
    if remote.is_empty() {
        return Err(NameError::Empty);
    }
    if remote == "." || remote == ".." {
        return Err(NameError::DotOrDotDot);
    }
    if remote.len() > 255 {
        return Err(NameError::TooLong(remote.len()));
    }
    for c in remote.chars() {
        if c == '/' || c == '\\' {
            return Err(NameError::Separator(c));
        }
        if c.is_control() {
            return Err(NameError::Control(c));
        }
    }
    Ok(remote)
}

const TEMP_SUFFIX: &str = ".tallyman-tmp";

/// The temp name an upload of `final_name` is written under: a dot-file, so that settle rules
/// (ours and most partners') never take it.
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}{TEMP_SUFFIX}")
}

/// Whether `name` is one of our temp names (upload temps and check probes).
pub fn is_our_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX) && name.len() > TEMP_SUFFIX.len() + 1
}

/// Joins a remote folder and a name with `/` (SFTP paths are always `/`-separated).
pub fn remote_join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        return name.to_string();
    }
    format!("{}/{}", folder.trim_end_matches('/'), name)
}

/// Seconds since the epoch, as SFTP v3 carries them.
pub fn epoch_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// With `after_claim = "keep"` the remote file stays; the caller remembers this key so that the
/// same file is not claimed again, while a rewrite (new size or mtime) is seen as new.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeepKey {
    pub name: String,
    pub size: u64,
    pub mtime_secs: u64,
}

impl KeepKey {
    pub fn of(s: &Sighting) -> KeepKey {
        KeepKey {
            name: s.name.clone(),
            size: s.size,
            mtime_secs: epoch_secs(s.mtime),
        }
    }
}

impl fmt::Display for KeepKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.size, self.mtime_secs, self.name)
    }
}

/// The host key algorithms (libssh2 method names) that `known_hosts` lists for `host:port`,
/// in file order. libssh2 prefers ECDSA; if known_hosts holds only the server's ed25519 key,
/// negotiating ECDSA would look like a changed key, so we ask for the types we know.
/// Hashed entries cannot be matched without HMAC; they give no preference (libssh2's default).
pub fn known_key_methods(known_hosts: &str, host: &str, port: u16) -> Vec<&'static str> {
    let wanted = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut out: Vec<&'static str> = Vec::new();
    for line in known_hosts.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('@') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(hosts), Some(kind)) = (fields.next(), fields.next()) else {
            continue;
        };
        if !hosts.split(',').any(|h| h == wanted) {
            continue;
        }
        let methods: &[&'static str] = match kind {
            "ssh-ed25519" => &["ssh-ed25519"],
            "ecdsa-sha2-nistp256" => &["ecdsa-sha2-nistp256"],
            "ecdsa-sha2-nistp384" => &["ecdsa-sha2-nistp384"],
            "ecdsa-sha2-nistp521" => &["ecdsa-sha2-nistp521"],
            "ssh-rsa" => &["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
            _ => &[],
        };
        for m in methods {
            if !out.contains(m) {
                out.push(m);
            }
        }
    }
    out
}

/// OpenSSH-style fingerprint, `SHA256:` and unpadded base64, as `ssh-keygen -lf` prints it.
pub fn fingerprint(sha256: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("SHA256:");
    for chunk in sha256.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = ((n >> (18 - 6 * i)) & 63) as usize;
            out.push(char::from(ALPHABET[idx]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_local_name_table() {
        let cases: [(&str, Result<&str, NameError>); 14] = [
            ("stock_2026-11-25.csv", Ok("stock_2026-11-25.csv")),
            ("a b (1).CSV", Ok("a b (1).CSV")),
            (".hidden", Ok(".hidden")),
            ("...", Ok("...")),
            ("ünïcode.csv", Ok("ünïcode.csv")),
            ("", Err(NameError::Empty)),
            (".", Err(NameError::DotOrDotDot)),
            ("..", Err(NameError::DotOrDotDot)),
            ("../etc/passwd", Err(NameError::Separator('/'))),
            ("a/b.csv", Err(NameError::Separator('/'))),
            ("..\\x.csv", Err(NameError::Separator('\\'))),
            ("a\0b", Err(NameError::Control('\0'))),
            ("a.csv\nrm -rf", Err(NameError::Control('\n'))),
            ("a\rb", Err(NameError::Control('\r'))),
        ];
        for (name, want) in cases {
            assert_eq!(safe_local_name(name), want, "{name:?}");
        }
        assert_eq!(
            safe_local_name(&"x".repeat(256)),
            Err(NameError::TooLong(256))
        );
    }

    #[test]
    fn temp_names_are_ours_and_never_taken() {
        let t = temp_name("orders.csv");
        assert_eq!(t, ".orders.csv.tallyman-tmp");
        assert!(is_our_temp(&t));
        assert!(crate::transport::settle::is_never_taken(&t));
        assert!(!is_our_temp("orders.csv"));
        assert!(!is_our_temp(".tallyman-tmp"));
        assert!(!is_our_temp("x.tallyman-tmp"));
    }

    #[test]
    fn remote_join_uses_slash_once() {
        assert_eq!(remote_join("/in/", "a.csv"), "/in/a.csv");
        assert_eq!(remote_join("in", "a.csv"), "in/a.csv");
        assert_eq!(remote_join("", "a.csv"), "a.csv");
    }

    #[test]
    fn known_key_methods_match_host_and_port() {
        let kh = "# c\n[127.0.0.1]:2222 ssh-ed25519 AAAA\n127.0.0.1 ecdsa-sha2-nistp256 AAAA\n\
                  h1,[127.0.0.1]:2222 ssh-rsa AAAA\n|1|abc|def ssh-ed25519 AAAA\n";
        assert_eq!(
            known_key_methods(kh, "127.0.0.1", 2222),
            vec!["ssh-ed25519", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]
        );
        assert_eq!(
            known_key_methods(kh, "127.0.0.1", 22),
            vec!["ecdsa-sha2-nistp256"]
        );
        assert!(known_key_methods(kh, "other", 22).is_empty());
    }

    #[test]
    fn fingerprint_is_unpadded_base64() {
        // base64("abc") = "YWJj", base64("ab") = "YWI=" -> unpadded "YWI".
        assert_eq!(fingerprint(b"abc"), "SHA256:YWJj");
        assert_eq!(fingerprint(b"ab"), "SHA256:YWI");
        assert_eq!(fingerprint(b"abcd"), "SHA256:YWJjZA");
    }
}
