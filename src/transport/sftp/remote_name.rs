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

/// A name from outside (a partner's server) made safe to print on one line: control
/// characters (newline, CR, ESC, ...) and backslashes are escaped Rust-style, so a partner
/// cannot forge log or CLI lines or send terminal escape sequences. Plain names are unchanged.
pub fn escaped(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_control() || c == '\\' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

const TEMP_SUFFIX: &str = ".tallyman-tmp";

/// The temp name an upload of `final_name` is written under: a dot-file, so that settle rules
/// (ours and most partners') never take it, with `attempt` (unique per upload attempt) in it,
/// so two uploads of the same name never write into one temp file: one would truncate the
/// temp the other is about to rename into place. The final name is cut (on a character
/// boundary) so the temp stays within 255 bytes.
pub fn temp_name(final_name: &str, attempt: &str) -> String {
    let room = 255usize.saturating_sub(1 + 1 + attempt.len() + TEMP_SUFFIX.len());
    let mut cut = final_name.len().min(room);
    while !final_name.is_char_boundary(cut) {
        cut -= 1;
    }
    let stem = final_name.get(..cut).unwrap_or_default();
    format!(".{stem}.{attempt}{TEMP_SUFFIX}")
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

/// What the marker lines (`@revoked`, `@cert-authority`) of a known_hosts file say about a
/// host and the key it presented. libssh2 does not understand markers, so we read them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Markers {
    /// An `@revoked` line holds this very key (whatever its host field): never accept it.
    pub revoked: bool,
    /// An `@cert-authority` line names this host: the owner expects host certificates, which
    /// we cannot verify (libssh2 has no certificate support).
    pub cert_authority: bool,
}

/// Reads the marker lines of `known_hosts` for `host:port` and the key blob the server sent.
pub fn known_hosts_markers(known_hosts: &str, host: &str, port: u16, key: &[u8]) -> Markers {
    let ours = base64_padded(key);
    let wanted = if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    };
    let mut out = Markers::default();
    for line in known_hosts.lines() {
        let mut fields = line.split_whitespace();
        let (Some(marker), Some(hosts), Some(_kind), Some(blob)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        match marker {
            "@revoked" if blob == ours => out.revoked = true,
            "@cert-authority" if host_matches(hosts, &wanted) => out.cert_authority = true,
            _ => {}
        }
    }
    out
}

/// OpenSSH host patterns: comma-separated, `*` and `?` wildcards, `!` negates.
fn host_matches(patterns: &str, wanted: &str) -> bool {
    let mut hit = false;
    for pat in patterns.split(',') {
        let (negated, pat) = match pat.strip_prefix('!') {
            Some(p) => (true, p),
            None => (false, pat),
        };
        let matches = wildcard(pat.as_bytes(), wanted.as_bytes());
        if matches && negated {
            return false;
        }
        hit |= matches;
    }
    hit
}

/// `*` (any run) and `?` (one byte) only: OpenSSH patterns have no classes, and `[host]:port`
/// brackets are literal.
fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    match pat.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| wildcard(rest, s.get(i..).unwrap_or_default())),
        Some((&c, rest)) => match s.split_first() {
            Some((&d, s_rest)) if c == b'?' || c == d => wildcard(rest, s_rest),
            _ => false,
        },
    }
}

fn base64_padded(bytes: &[u8]) -> String {
    let mut out = fingerprint(bytes).trim_start_matches("SHA256:").to_string();
    while !out.len().is_multiple_of(4) {
        out.push('=');
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
    fn escaped_names_keep_to_one_line() {
        assert_eq!(escaped("a b ü.csv"), "a b ü.csv");
        assert_eq!(escaped("a\nb\r\u{1b}[2J\\"), "a\\nb\\r\\u{1b}[2J\\\\");
    }

    #[test]
    fn temp_names_are_ours_and_never_taken() {
        let t = temp_name("orders.csv", "1f-2a");
        assert_eq!(t, ".orders.csv.1f-2a.tallyman-tmp");
        let long = temp_name(&"é".repeat(127), "1f-2a");
        assert!(long.len() <= 255 && is_our_temp(&long), "{}", long.len());
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
    fn marker_lines_are_read_for_the_presented_key() {
        // base64 of b"key1" is "a2V5MQ==".
        let kh = "@revoked * ssh-ed25519 a2V5MQ==\n\
                  @cert-authority *.example.com,!bad.example.com ssh-ed25519 AAAA\n\
                  [127.0.0.1]:2222 ssh-ed25519 a2V5MQ==\n";
        let m = known_hosts_markers(kh, "127.0.0.1", 2222, b"key1");
        assert!(m.revoked && !m.cert_authority);
        assert!(!known_hosts_markers(kh, "127.0.0.1", 2222, b"key2").revoked);
        assert!(known_hosts_markers(kh, "sftp.example.com", 22, b"k").cert_authority);
        assert!(!known_hosts_markers(kh, "bad.example.com", 22, b"k").cert_authority);
        let bracketed = "@cert-authority [127.0.0.1]:2222 ssh-ed25519 AAAA\n";
        assert!(known_hosts_markers(bracketed, "127.0.0.1", 2222, b"k").cert_authority);
        assert!(!known_hosts_markers(bracketed, "127.0.0.1", 2223, b"k").cert_authority);
    }

    #[test]
    fn fingerprint_is_unpadded_base64() {
        // base64("abc") = "YWJj", base64("ab") = "YWI=" -> unpadded "YWI".
        assert_eq!(fingerprint(b"abc"), "SHA256:YWJj");
        assert_eq!(fingerprint(b"ab"), "SHA256:YWI");
        assert_eq!(fingerprint(b"abcd"), "SHA256:YWJjZA");
    }
}
