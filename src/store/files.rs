//! Moving bytes safely: atomic writes (temp name, fsync, rename, fsync the folder), landing a
//! dropped file with its sha256, and the archive and quarantine folders.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::StoreError;

pub(super) fn io<'a>(
    path: &'a Path,
    step: &'static str,
) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        step,
        source,
    }
}

/// Writes `bytes` to `dir/name` so that a reader never sees a partial file: a dot-named temp file
/// in the same folder (never taken by a settle rule), fsync, rename, fsync of the folder.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, StoreError> {
    Ok(via_temp(dir, name, |f| f.write_all(bytes))?.0)
}

/// What a streamed write produced: where, how many bytes, their sha256.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// [`write_atomic`] for bytes produced by `fill` as they come (a large output is never held
/// whole): hashed and counted on the way to the temp file. An error from `fill` leaves no file.
pub fn write_atomic_streamed(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<Written, StoreError> {
    let (path, (size, sha256)) = via_temp(dir, name, |f| fill_hashed(f, fill))?;
    Ok(Written { path, size, sha256 })
}

/// Lets `fill` write into `f` through a buffer that hashes and counts what passes and starts
/// the write-back as it goes; returns the size and sha256 written.
pub(super) fn fill_hashed(
    f: &mut File,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<(u64, String)> {
    let mut w = Hashing {
        inner: std::io::BufWriter::with_capacity(1 << 20, WritebackAsItGoes::new(f)),
        hasher: Sha256::new(),
        size: 0,
    };
    fill(&mut w)?;
    w.inner.flush()?;
    Ok((w.size, hex::encode(w.hasher.finalize())))
}

/// The atomic write both forms share: `fill` writes the dot-named temp file, which is fsynced,
/// renamed to `dir/name` and its folder fsynced; on an error the temp file is removed.
fn via_temp<R>(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut File) -> std::io::Result<R>,
) -> Result<(PathBuf, R), StoreError> {
    let tmp = dir.join(temp_name(name));
    let out = write_temp(dir, &tmp, fill)?;
    let target = dir.join(name);
    if let Err(e) = fs::rename(&tmp, &target) {
        let _ = fs::remove_file(&tmp);
        return Err(io(&target, "rename")(e));
    }
    sync_dir(dir)?;
    Ok((target, out))
}

/// The temp name of an atomic write: dot-named (never taken by a settle rule), with the writer's
/// host and PID so that recovery can tell a dead writer's leftover from a live one's file, and
/// never judges a writer on another host (sharing the home) by this host's process table.
pub(super) fn temp_name(name: &str) -> String {
    format!(
        ".{name}.{}.{}.tmp",
        super::lease::host_tag(),
        std::process::id()
    )
}

/// Creates `tmp` in `dir`, lets `fill` write it and fsyncs it; on any error the temp is removed.
pub(super) fn write_temp<R>(
    dir: &Path,
    tmp: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<R>,
) -> Result<R, StoreError> {
    create_private_dir(dir)?;
    let written = File::create(tmp)
        .map_err(io(tmp, "create temp file"))
        .and_then(|mut f| {
            let out = fill(&mut f).map_err(io(tmp, "write"))?;
            f.sync_all().map_err(io(tmp, "fsync"))?;
            Ok(out)
        });
    if written.is_err() {
        let _ = fs::remove_file(tmp);
    }
    written
}

/// Creates a folder and its parents with the process's umask (0077 under the binary: the home
/// holds partner data).
fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    fs::create_dir_all(dir).map_err(io(dir, "create folder"))
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let done = buf.get(..n).unwrap_or_default();
        self.hasher.update(done);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A file whose finished stretches the kernel starts writing to disk while the rest is still
/// being produced, so the closing fsync waits for the last stretch only instead of the whole
/// file (a 128 MB feed: its fsync took as long as formatting it). Durability is unchanged: the
/// fsync still runs and reports any failure.
struct WritebackAsItGoes<'a> {
    file: &'a mut File,
    written: u64,
    started: u64,
}

impl<'a> WritebackAsItGoes<'a> {
    /// How much is written before its write-back is started.
    const STRETCH: u64 = 8 << 20;

    fn new(file: &'a mut File) -> Self {
        WritebackAsItGoes {
            file,
            written: 0,
            started: 0,
        }
    }
}

impl Write for WritebackAsItGoes<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= Self::STRETCH {
            #[cfg(target_os = "linux")]
            {
                use std::os::fd::AsRawFd;
                let (from, len) = (self.started as i64, (self.written - self.started) as i64);
                // SAFETY: an open descriptor and a byte range; the call only queues write-back
                // (advice: its result does not matter, the closing fsync reports failures).
                unsafe {
                    libc::sync_file_range(
                        self.file.as_raw_fd(),
                        from,
                        len,
                        libc::SYNC_FILE_RANGE_WRITE,
                    );
                }
            }
            self.started = self.written;
        }
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// fsync a folder so a rename in it survives a crash.
pub fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir, "fsync folder"))
}

/// A file copied into the landing area, with what the ledger needs.
#[derive(Debug, Clone)]
pub struct Landed {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// Copies `from` into `landing_dir` under a staging name, hashing as it goes, fsyncs, checks
/// that the bytes copied equal `expected_size` (a partner rewriting the file mid-copy gives a
/// short read with no error), then renames into place.
pub fn land(from: &Path, landing_dir: &Path, expected_size: u64) -> Result<Landed, StoreError> {
    fs::create_dir_all(landing_dir).map_err(io(landing_dir, "create folder"))?;
    let name = safe_name(from.file_name().and_then(|n| n.to_str()).unwrap_or("file"));
    let (stamp, staging) = staging_in(landing_dir);
    let mut src = File::open(from).map_err(io(from, "open"))?;
    let mut dst = File::create(&staging).map_err(io(&staging, "create staging file"))?;
    let copied = copy_hashing(&mut src, &mut dst);
    let (size, sha256) = match copied {
        Ok(done) => done,
        Err(e) => {
            let _ = fs::remove_file(&staging);
            return Err(match e {
                Side::Read(e) => io(from, "read")(e),
                Side::Write(e) => io(&staging, "write")(e),
            });
        }
    };
    dst.sync_all().map_err(io(&staging, "fsync"))?;
    drop(dst);
    if size != expected_size {
        let _ = fs::remove_file(&staging);
        return Err(StoreError::Changed {
            path: from.to_path_buf(),
            expected: expected_size,
            got: size,
        });
    }
    let path = landing_dir.join(format!("{stamp}-{name}"));
    fs::rename(&staging, &path).map_err(io(&path, "rename"))?;
    sync_dir(landing_dir)?;
    Ok(Landed { path, size, sha256 })
}

/// A landing staging name: short whatever the partner's name (a 251-byte name plus a prefix
/// and suffix would pass the 255-byte limit of a name and block the pipeline), dot-named (never
/// taken), with a stamp that the landed name keeps and the writer's host and PID (daemons on
/// several hosts share a home: their staging names never meet).
fn staging_in(landing_dir: &Path) -> (u128, PathBuf) {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let host = super::lease::host_tag();
    let staging = landing_dir.join(format!(".{stamp}.{host}.{}.landing", std::process::id()));
    (stamp, staging)
}

/// Lands bytes another component produces (an SFTP download) in `landing_dir`: `fill` writes
/// into a staging file created here (it gets the file and its path, for its own errors); the
/// file is then fsynced and renamed to `<stamp>-<safe name>` and the folder fsynced. When
/// `fill` fails, the staging file is removed and its error comes back as `Ok(Err(..))`; a
/// failure of the landing itself is the outer error.
pub fn land_produced<R, E>(
    landing_dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut File, &Path) -> Result<R, E>,
) -> Result<Result<(PathBuf, R), E>, StoreError> {
    fs::create_dir_all(landing_dir).map_err(io(landing_dir, "create folder"))?;
    let (stamp, staging) = staging_in(landing_dir);
    let mut file = File::create(&staging).map_err(io(&staging, "create staging file"))?;
    let produced = fill(&mut file, &staging);
    let synced = match &produced {
        Ok(_) => file.sync_all().map_err(io(&staging, "fsync")),
        Err(_) => Ok(()),
    };
    drop(file);
    let out = match (produced, synced) {
        (Ok(out), Ok(())) => out,
        (Err(e), _) => {
            let _ = fs::remove_file(&staging);
            return Ok(Err(e));
        }
        (Ok(_), Err(e)) => {
            let _ = fs::remove_file(&staging);
            return Err(e);
        }
    };
    let path = landing_dir.join(format!("{stamp}-{}", safe_name(name)));
    if let Err(e) = fs::rename(&staging, &path) {
        let _ = fs::remove_file(&staging);
        return Err(io(&path, "rename")(e));
    }
    sync_dir(landing_dir)?;
    Ok(Ok((path, out)))
}

/// Which end of a copy failed.
enum Side {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `src` to `dst` and returns the size and sha256 of the bytes copied. The hash runs on
/// its own thread, chunk by chunk as they are written (a 240 MB file: its hashing and its
/// copying overlap), and the copy's write-back starts as it goes, so the caller's fsync is short.
fn copy_hashing(src: &mut File, dst: &mut File) -> Result<(u64, String), Side> {
    const CHUNK: usize = 1 << 20;
    // Chunks go to the hasher and come back to be filled again: four in flight, no allocation
    // per chunk.
    let (to_hash, hash_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    let (give_back, reuse) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
    std::thread::scope(|scope| {
        let hasher = scope.spawn(move || {
            let mut hasher = Sha256::new();
            for chunk in hash_rx {
                hasher.update(&chunk);
                // The copier may have stopped (an error): a chunk not taken back is just freed.
                let _ = give_back.send(chunk);
            }
            hex::encode(hasher.finalize())
        });
        let mut out = WritebackAsItGoes::new(dst);
        let mut size = 0u64;
        let mut spare: Vec<Vec<u8>> = (0..4).map(|_| vec![0u8; CHUNK]).collect();
        let copied = loop {
            let mut chunk = match spare.pop() {
                Some(c) => c,
                None => match reuse.recv() {
                    Ok(c) => c,
                    Err(_) => break Err(Side::Read(std::io::Error::other("hasher stopped"))),
                },
            };
            chunk.resize(CHUNK, 0);
            let n = match src.read(&mut chunk) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                    spare.push(chunk);
                    continue;
                }
                Err(e) => break Err(Side::Read(e)),
            };
            chunk.truncate(n);
            if let Err(e) = out.write_all(&chunk) {
                break Err(Side::Write(e));
            }
            size += n as u64;
            if to_hash.send(chunk).is_err() {
                break Err(Side::Read(std::io::Error::other("hasher stopped")));
            }
        };
        drop(to_hash);
        let sha256 = hasher
            .join()
            .map_err(|_| Side::Read(std::io::Error::other("the hashing thread panicked")))?;
        copied.map(|()| (size, sha256))
    })
}

/// sha256 of bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Size and sha256 of a file, read in blocks (the file is never held whole).
pub fn sha256_file(path: &Path) -> Result<(u64, String), StoreError> {
    sha256_open(File::open(path).map_err(io(path, "open"))?, path)
}

/// [`sha256_file`] of a file already open (it may be renamed meanwhile); `path` names it in
/// errors.
pub fn sha256_open(mut f: File, path: &Path) -> Result<(u64, String), StoreError> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path, "read"))?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

/// Moves a file (rename; copy and remove across file systems) and fsyncs the target folder.
pub fn move_file(from: &Path, to: &Path) -> Result<(), StoreError> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io(parent, "create folder"))?;
    }
    if fs::rename(from, to).is_err() {
        fs::copy(from, to).map_err(io(to, "copy"))?;
        File::open(to)
            .and_then(|f| f.sync_all())
            .map_err(io(to, "fsync"))?;
        fs::remove_file(from).map_err(io(from, "remove"))?;
    }
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

/// Removes a file, ignoring "not found" (it may have been removed by the partner already).
pub fn remove_if_present(path: &Path) -> Result<(), StoreError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::Io {
            path: path.to_path_buf(),
            step: "remove",
            source: e,
        }),
    }
}

/// Makes a name safe as a single path component (partner names are never trusted as paths).
pub fn safe_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c == '\0' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim_start_matches('.');
    if trimmed.is_empty() {
        return "unnamed".into();
    }
    if trimmed.len() <= MAX_NAME {
        return trimmed.to_string();
    }
    // Cut on a character boundary and keep the names of two long files apart with a hash of
    // the whole name; the extension stays, so tools still know the kind of file.
    let ext = trimmed
        .rfind('.')
        .map(|i| &trimmed[i..])
        .filter(|e| e.len() <= 16)
        .unwrap_or("");
    let mut cut = MAX_NAME - ext.len() - 17;
    while !trimmed.is_char_boundary(cut) {
        cut -= 1;
    }
    let hash = sha256_hex(trimmed.as_bytes());
    format!("{}~{}{ext}", &trimmed[..cut], &hash[..16])
}

/// The longest name `safe_name` returns, leaving room under the 255-byte limit of a file
/// name for the prefixes and suffixes the archive, quarantine and temp names add.
pub const MAX_NAME: usize = 180;

/// A file's bytes, mapped read-only. Only for files Tallyman owns (its archive copies): a file
/// cut short under a mapping would kill the process, and nobody else writes to the archive.
pub struct Mapped(Option<memmap2::Mmap>);

impl std::ops::Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().unwrap_or_default()
    }
}

impl Mapped {
    /// Lets the kernel drop the pages read so far (after parsing, the bytes are rarely needed
    /// again): they leave the process's memory and are read back from the file if touched.
    pub fn release(&self) {
        if let Some(map) = &self.0 {
            // SAFETY: a read-only, file-backed mapping of a file nobody changes (see `Mapped`):
            // after MADV_DONTNEED a read faults the same bytes back in from the page cache.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// Maps `path` read-only (an empty file maps to no bytes).
pub fn map_file(path: &Path) -> Result<Mapped, StoreError> {
    let f = File::open(path).map_err(io(path, "open"))?;
    let len = f.metadata().map_err(io(path, "stat"))?.len();
    if len == 0 {
        return Ok(Mapped(None));
    }
    // SAFETY: the file is one of Tallyman's own archive copies (see `Mapped`), so it is not
    // truncated or rewritten while mapped.
    let map = unsafe { memmap2::Mmap::map(&f) }.map_err(io(path, "map"))?;
    Ok(Mapped(Some(map)))
}

/// A file copied into the archive under a temp name: read it (`map_file(&copy.temp)`) while
/// [`ArchiveCopy::finish`] makes it durable, so what is validated is byte for byte what was
/// archived and the source may change afterwards.
pub struct ArchiveCopy {
    pub temp: PathBuf,
    pub target: PathBuf,
}

/// Copies `from` to a temp name in `dir`; `finish` renames it to `dir/name`. Always an
/// independent file, never a hard link (an ERP that rewrites its file in place must not rewrite
/// our archive): a reflink where the filesystem offers one (btrfs, XFS: shared blocks, copied on
/// write), else a copy in the kernel (`copy_file_range`: no user-space buffer).
pub fn copy_to_archive(from: &Path, dir: &Path, name: &str) -> Result<ArchiveCopy, StoreError> {
    fs::create_dir_all(dir).map_err(io(dir, "create folder"))?;
    let temp = dir.join(temp_name(name));
    let copied = reflink(from, &temp).or_else(|_| fs::copy(from, &temp).map(|_| ()));
    if let Err(e) = copied {
        let _ = fs::remove_file(&temp);
        return Err(io(from, "copy into the archive")(e));
    }
    Ok(ArchiveCopy {
        temp,
        target: dir.join(name),
    })
}

/// `to` as a reflink of `from` (FICLONE); an error where the filesystem cannot (ext4, tmpfs,
/// another filesystem), and the caller copies instead.
fn reflink(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // FICLONE = _IOW(0x94, 9, int) in linux/fs.h.
    const FICLONE: libc::c_ulong = 0x4004_9409;
    let src = File::open(from)?;
    let dst = File::create(to)?;
    // SAFETY: both descriptors are open for the duration of the call; FICLONE reads no memory.
    let rc = unsafe { libc::ioctl(dst.as_raw_fd(), FICLONE as _, src.as_raw_fd()) };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    drop(dst);
    let _ = fs::remove_file(to);
    Err(e)
}

impl ArchiveCopy {
    /// fsyncs the copy, renames it into place and fsyncs the folder (fsync costs disk time: a
    /// background thread suits it).
    pub fn finish(&self) -> Result<(), StoreError> {
        File::open(&self.temp)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.temp, "fsync"))?;
        fs::rename(&self.temp, &self.target).map_err(io(&self.target, "rename"))?;
        match self.target.parent() {
            Some(dir) => sync_dir(dir),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = write_atomic(dir.path(), "a.csv", b"x,y\n").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"x,y\n");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.csv")]);
    }

    /// The archive copy is its own file: the source rewritten in place afterwards (as an ERP
    /// may do to its outbox file) leaves the archive as it was.
    #[test]
    fn archive_copies_are_independent_of_their_source() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("out.csv");
        fs::write(&src, b"sku,qty\nA,1\n").unwrap();
        let copy = copy_to_archive(&src, &dir.path().join("archive"), "out.csv").unwrap();
        copy.finish().unwrap();
        let mut f = fs::OpenOptions::new().write(true).open(&src).unwrap();
        f.write_all(b"sku,qty\nB,9\n").unwrap();
        drop(f);
        assert_eq!(fs::read(&copy.target).unwrap(), b"sku,qty\nA,1\n");
        let (a, b) = (
            fs::metadata(&src).unwrap(),
            fs::metadata(&copy.target).unwrap(),
        );
        assert_ne!(a.ino(), b.ino());
        assert_eq!(b.nlink(), 1);
    }

    /// A produced landing keeps nothing behind when its producer fails, and lands its bytes
    /// under the stamped name when it does not.
    #[test]
    fn a_produced_landing_is_whole_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let landing = dir.path().join("landing");
        let failed: Result<Result<(PathBuf, ()), &str>, _> =
            land_produced(&landing, "x.csv", |f, _| {
                f.write_all(b"half").map_err(|_| "io")?;
                Err("connection dropped")
            });
        assert_eq!(failed.unwrap().unwrap_err(), "connection dropped");
        assert_eq!(fs::read_dir(&landing).unwrap().count(), 0);
        let landed: Result<(PathBuf, u8), ()> = land_produced(&landing, "../x y.csv", |f, _| {
            f.write_all(b"whole").map_err(|_| ())?;
            Ok(7)
        })
        .unwrap();
        let (path, n) = landed.unwrap();
        assert_eq!(n, 7);
        assert_eq!(fs::read(&path).unwrap(), b"whole");
        assert_eq!(path.parent(), Some(landing.as_path()));
        assert_eq!(fs::read_dir(&landing).unwrap().count(), 1);
    }

    #[test]
    fn landing_checks_size_and_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("in.csv");
        fs::write(&src, b"hello").unwrap();
        let landed = land(&src, &dir.path().join("landing"), 5).unwrap();
        assert_eq!(landed.sha256, sha256_hex(b"hello"));
        assert!(matches!(
            land(&src, &dir.path().join("landing"), 9),
            Err(StoreError::Changed { .. })
        ));
    }

    /// Files of many chunks (the hasher's buffers go round several times), one exactly a chunk,
    /// and an empty one land byte for byte with the sha256 of their bytes; so does a streamed
    /// write past the write-back stretch.
    #[test]
    fn large_files_land_and_write_whole() {
        let dir = tempfile::tempdir().unwrap();
        for size in [0usize, 1 << 20, (9 << 20) + 12_345] {
            let bytes: Vec<u8> = (0..size).map(|i| (i * 7 + i / 4099) as u8).collect();
            let src = dir.path().join(format!("in-{size}.csv"));
            fs::write(&src, &bytes).unwrap();
            let landed = land(&src, &dir.path().join("landing"), size as u64).unwrap();
            assert_eq!(landed.size, size as u64);
            assert_eq!(landed.sha256, sha256_hex(&bytes), "{size}");
            assert!(fs::read(&landed.path).unwrap() == bytes, "{size}");
            let written = write_atomic_streamed(dir.path(), &format!("out-{size}"), |w| {
                bytes.chunks(100_000).try_for_each(|c| w.write_all(c))
            })
            .unwrap();
            assert_eq!(written.sha256, sha256_hex(&bytes), "{size}");
            assert!(fs::read(&written.path).unwrap() == bytes, "{size}");
        }
    }

    #[test]
    fn long_names_are_shortened_and_kept_apart() {
        let a = format!("{}A.csv", "x".repeat(250));
        let b = format!("{}B.csv", "x".repeat(250));
        let (sa, sb) = (safe_name(&a), safe_name(&b));
        assert!(sa.len() <= MAX_NAME, "{}", sa.len());
        assert_ne!(sa, sb);
        assert!(sa.ends_with(".csv"));
        assert_eq!(safe_name("short.csv"), "short.csv");
        let wide = "é".repeat(200);
        assert!(safe_name(&wide).len() <= MAX_NAME);
    }

    #[test]
    fn unsafe_names_are_flattened() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("a\nb.csv"), "a_b.csv");
        assert_eq!(safe_name("..."), "unnamed");
        let long = format!("{}.csv", "x".repeat(236));
        let short = safe_name(&long);
        assert!(short.len() <= 180 && short.ends_with(".csv"), "{short}");
        assert_ne!(short, safe_name(&format!("{}.csv", "x".repeat(237))));
    }
}
