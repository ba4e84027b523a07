//! `/archive/<path>`: an archived file, only when it really lies under the home's archive:
//! the path must be relative and plain (no `..`, no root, no `.`), and what it names, with every
//! symlink followed, must still be inside the archive folder (checked after canonicalizing both).

use std::path::{Component, Path, PathBuf};

use super::{percent_decode, Console, Reply};

/// Why a download was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("not a plain relative path inside the archive")]
    NotPlain,
    #[error("no such archived file")]
    Missing,
    #[error("outside the archive")]
    Outside,
    #[error("not a file")]
    NotAFile,
}

/// The file `rel` (already percent-decoded) names under `archive`, or why not.
pub fn resolve_archived(archive: &Path, rel: &str) -> Result<PathBuf, Refusal> {
    if rel.is_empty() || rel.contains('\0') || rel.contains('\\') {
        return Err(Refusal::NotPlain);
    }
    let rel = Path::new(rel);
    if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(Refusal::NotPlain);
    }
    let root = archive.canonicalize().map_err(|_| Refusal::Missing)?;
    let full = root
        .join(rel)
        .canonicalize()
        .map_err(|_| Refusal::Missing)?;
    if !full.starts_with(&root) {
        return Err(Refusal::Outside);
    }
    if !full.is_file() {
        return Err(Refusal::NotAFile);
    }
    Ok(full)
}

pub fn reply(console: &Console, rel: &str) -> Reply {
    let rel = percent_decode(rel);
    match resolve_archived(&console.home.archive(), &rel) {
        Ok(path) => match std::fs::read(&path) {
            Ok(bytes) => {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("file")
                    .replace(['"', '\r', '\n'], "_");
                Reply {
                    status: 200,
                    content_type: "application/octet-stream",
                    body: bytes,
                    headers: vec![
                        (
                            "Content-Disposition",
                            format!("attachment; filename=\"{name}\""),
                        ),
                        ("X-Content-Type-Options", "nosniff".into()),
                    ],
                }
            }
            Err(e) => Reply::text(500, format!("cannot read the archived file: {e}\n")),
        },
        Err(why @ Refusal::Missing) | Err(why @ Refusal::NotAFile) => {
            Reply::text(404, format!("{why}\n"))
        }
        Err(why) => Reply::text(403, format!("refused: {why}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_paths_inside_the_archive_resolve() {
        let dir = tempfile::tempdir().expect("tempdir");
        let archive = dir.path().join("archive");
        std::fs::create_dir_all(archive.join("p/2026-01-02/r000001")).unwrap();
        std::fs::write(archive.join("p/2026-01-02/r000001/in.csv"), "a\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "no\n").unwrap();
        std::os::unix::fs::symlink(
            dir.path().join("secret.txt"),
            archive.join("p/2026-01-02/r000001/link.csv"),
        )
        .unwrap();
        std::os::unix::fs::symlink(dir.path(), archive.join("p/up")).unwrap();
        let ok = resolve_archived(&archive, "p/2026-01-02/r000001/in.csv").unwrap();
        assert!(ok.ends_with("in.csv"));
        let cases = [
            ("../secret.txt", Refusal::NotPlain),
            ("p/../../secret.txt", Refusal::NotPlain),
            ("/etc/passwd", Refusal::NotPlain),
            ("./p/2026-01-02/r000001/in.csv", Refusal::NotPlain),
            ("p\\..\\x", Refusal::NotPlain),
            ("", Refusal::NotPlain),
            ("p/2026-01-02/r000001/link.csv", Refusal::Outside),
            ("p/up/secret.txt", Refusal::Outside),
            ("p/2026-01-02/r000001/none.csv", Refusal::Missing),
            ("p/2026-01-02", Refusal::NotAFile),
        ];
        for (rel, want) in cases {
            assert_eq!(resolve_archived(&archive, rel), Err(want), "{rel}");
        }
    }
}
