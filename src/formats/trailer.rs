//! A trailer record that proves a CSV file complete (`[input] trailer`): the file's last line
//! must match the pipeline's pattern, and when the pattern names a `rows` group, the number of
//! data records must equal it. A writer that pauses longer than any settle window has not
//! written its trailer yet, so the file is not taken; a file cut short loses its trailer.

use regex::bytes::Regex;

/// What the end of a file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trailer {
    /// The last line does not match: the file is not complete (or is not this partner's).
    Missing,
    /// The trailer is the last line, starting at `starts_at`; `rows` is its control total.
    Found { starts_at: usize, rows: Option<u64> },
}

/// Finds the trailer among the last line of `bytes` (line breaks LF, CRLF or CR; trailing
/// breaks and blank lines ignored).
pub fn find(bytes: &[u8], pattern: &Regex) -> Trailer {
    let is_break = |b: &u8| *b == b'\n' || *b == b'\r';
    let Some(end) = bytes.iter().rposition(|b| !is_break(b)) else {
        return Trailer::Missing;
    };
    let end = end + 1;
    let starts_at = bytes[..end].iter().rposition(is_break).map_or(0, |i| i + 1);
    let line = &bytes[starts_at..end];
    let Some(caps) = pattern.captures(line) else {
        return Trailer::Missing;
    };
    let rows = caps
        .name("rows")
        .and_then(|m| std::str::from_utf8(m.as_bytes()).ok())
        .and_then(|t| t.trim().parse().ok());
    Trailer::Found { starts_at, rows }
}

/// Whether the bytes at the end of a file hold the trailer: reads at most the last 64 KiB.
pub fn file_has_trailer(path: &std::path::Path, pattern: &Regex) -> std::io::Result<bool> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let tail = len.min(64 * 1024);
    f.seek(SeekFrom::Start(len - tail))?;
    let mut buf = Vec::with_capacity(tail as usize);
    f.take(tail).read_to_end(&mut buf)?;
    Ok(matches!(find(&buf, pattern), Trailer::Found { .. }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_is_the_trailer_whatever_the_line_breaks() {
        let re = Regex::new(r"^TRAILER,(?P<rows>\d+)$").expect("regex");
        let cases: &[(&[u8], Trailer)] = &[
            (
                b"a,b\n1,2\nTRAILER,1\n",
                Trailer::Found {
                    starts_at: 8,
                    rows: Some(1),
                },
            ),
            (
                b"a,b\r\n1,2\r\nTRAILER,1\r\n\r\n",
                Trailer::Found {
                    starts_at: 10,
                    rows: Some(1),
                },
            ),
            (
                b"a,b\r1,2\rTRAILER,1",
                Trailer::Found {
                    starts_at: 8,
                    rows: Some(1),
                },
            ),
            (
                b"TRAILER,0\n",
                Trailer::Found {
                    starts_at: 0,
                    rows: Some(0),
                },
            ),
            (b"a,b\n1,2\n", Trailer::Missing),
            (b"a,b\n1,2\nTRAILER,\n", Trailer::Missing),
            (b"", Trailer::Missing),
            (b"\n\n", Trailer::Missing),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                find(bytes, &re),
                *want,
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        let no_total = Regex::new(r"^EOF$").expect("regex");
        assert_eq!(
            find(b"a\nEOF\n", &no_total),
            Trailer::Found {
                starts_at: 2,
                rows: None
            }
        );
    }

    #[test]
    fn a_file_is_checked_from_its_tail() {
        let dir = tempfile::tempdir().expect("tempdir");
        let re = Regex::new(r"^TRAILER,(?P<rows>\d+)$").expect("regex");
        let path = dir.path().join("f.csv");
        let mut body = b"a,b\n".repeat(50_000);
        std::fs::write(&path, &body).expect("write");
        assert!(!file_has_trailer(&path, &re).expect("read"));
        body.extend_from_slice(b"TRAILER,49999\n");
        std::fs::write(&path, &body).expect("write");
        assert!(file_has_trailer(&path, &re).expect("read"));
    }
}
