//! File I/O with guarantees: crash-safe writes (temp file in the same directory, fsync, rename,
//! fsync the directory) and reads of large inputs without a copy.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` atomically: readers see the old content or the new, never a mix,
/// and a crash at any moment leaves one of the two complete. The file is world-readable (0644):
/// reports and profiles are meant to be shared.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_mode(path, bytes, 0o644)
}

/// [`write_atomic`] with explicit permissions (0600 for secrets: the temp file is created 0600,
/// so a secret is never readable by others, not even for a moment).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    write_atomic_with(path, mode, |w| w.write_all(bytes))
}

/// [`write_atomic_mode`] with the content produced by `fill`, so that a large output need not be
/// built in memory first.
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = dir_of(path);
    let tmp = durable_temp(&dir, mode, fill)?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is on disk.
    std::fs::File::open(dir)?.sync_all()
}

/// [`write_atomic`] for several files at once: each is written and fsynced to a temp file, then
/// all are renamed into place, then each directory is fsynced once. Every file is replaced
/// atomically, as with [`write_atomic`]; a batch that fails part way may have replaced some.
/// Files that share a directory cost one directory fsync instead of one each. An error comes
/// with the path it concerns.
pub fn write_atomic_all(files: &[(&Path, &[u8])]) -> Result<(), (PathBuf, std::io::Error)> {
    fn at(p: &Path) -> impl FnOnce(std::io::Error) -> (PathBuf, std::io::Error) + '_ {
        move |e| (p.to_path_buf(), e)
    }
    let mut temps = Vec::with_capacity(files.len());
    for &(path, bytes) in files {
        let tmp = durable_temp(&dir_of(path), 0o644, |w| w.write_all(bytes)).map_err(at(path))?;
        temps.push((tmp, path));
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (tmp, path) in temps {
        tmp.persist(path)
            .map_err(|e| (path.to_path_buf(), e.error))?;
        let dir = dir_of(path);
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    // The renames are durable only once the directory entries are on disk.
    for dir in &dirs {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(at(dir))?;
    }
    Ok(())
}

/// Makes `to` a hard link to `from`, replacing `to` atomically and durably (link under a temp
/// name, rename, fsync the directory). No bytes are copied or fsynced: for a file that was
/// written crash-safe, that is all a durable copy needs. `Ok(false)` when the link could not
/// be made (a filesystem without hard links, `from` on another device): the caller copies.
pub fn link_atomic(from: &Path, to: &Path) -> std::io::Result<bool> {
    let dir = dir_of(to);
    let Ok(tmp) = tempfile::Builder::new().make_in(&dir, |path| std::fs::hard_link(from, path))
    else {
        return Ok(false);
    };
    tmp.persist(to).map_err(|e| e.error)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(true)
}

/// The directory a file is in (`.` for a bare file name).
fn dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A temp file in `dir` with what `fill` writes, permissions `mode`, on disk (fsynced): ready to
/// be renamed into place. Dropped, it is removed.
fn durable_temp(
    dir: &Path,
    mode: u32,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<tempfile::NamedTempFile> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let file = EarlyWriteback {
            file: tmp.as_file_mut(),
            written: 0,
            started: 0,
        };
        let mut w = std::io::BufWriter::with_capacity(1 << 16, file);
        fill(&mut w)?;
        w.flush()?;
    }
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// Writes to a file and starts the disk writes of every full MiB written, so that the fsync
/// at the end waits only for the tail: for an HTML report of megabytes that wait was a sixth of
/// the whole command.
struct EarlyWriteback<'a> {
    file: &'a mut std::fs::File,
    written: u64,
    /// Bytes whose writeback was started.
    started: u64,
}

/// How much is written before its writeback is started.
const WRITEBACK_STEP: u64 = 1 << 20;

impl Write for EarlyWriteback<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_STEP {
            start_writeback(self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing a range of `file` to disk, without waiting. Only a hint:
/// the fsync that follows is what makes the data durable, so a failure here is ignored.
#[cfg(target_os = "linux")]
fn start_writeback(file: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd as _;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain syscall on a file descriptor this function borrows; no memory is passed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &std::fs::File, _offset: u64, _len: u64) {}

/// The bytes of an input file: mapped when it is large, read otherwise.
pub enum Input {
    /// A read-only mapping of a large regular file.
    Mapped(memmap2::Mmap),
    /// The file read into memory.
    Read(Vec<u8>),
}

impl std::ops::Deref for Input {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Input::Mapped(m) => m,
            Input::Read(v) => v,
        }
    }
}

/// Inputs from this size on are mapped: reading copies every page out of the page cache into
/// fresh memory the kernel must first zero, which was a sixth of a func report's CPU for a 5 MB
/// profile; a mapping shares the cached pages. Smaller files are cheaper to read. The pages are
/// mapped in one go (populate): faulting them in one by one cost as much as the copy saved, and
/// a 10-profile merge (1.7 MB in eight files of 150-450 KB) got 12% faster.
const MAP_FROM: u64 = 64 << 10;

/// Reads the file at `path` for parsing: large regular files are mapped instead of copied.
///
/// Only for command-line inputs: a file truncated by another process while it is mapped makes
/// the process fail with SIGBUS, and one rewritten in place may be read half old, half new (a
/// parse error or a wrong report, as when reading it while it is written; the outputs are
/// written crash-safe, so nothing stored is lost); the service never maps what it stores.
pub fn read_input(path: &Path) -> std::io::Result<Input> {
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if meta.is_file() && meta.len() >= MAP_FROM {
        // SAFETY: the mapping is read-only and only ever read as bytes; the remaining hazard
        // (another process changing or truncating the file meanwhile) is documented above.
        let map = unsafe { memmap2::MmapOptions::new().populate().map(&file) }?;
        return Ok(Input::Mapped(map));
    }
    let mut buf = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::io::Read::read_to_end(&mut &file, &mut buf)?;
    Ok(Input::Read(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A link replaces the target, shares the source's bytes, survives the source being
    /// replaced, and leaves no temp name behind; a missing source is reported as "copy".
    #[test]
    fn a_link_replaces_the_target_and_outlives_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        write_atomic(&a, b"first").unwrap();
        write_atomic(&b, b"old").unwrap();
        assert!(link_atomic(&a, &b).unwrap());
        assert_eq!(std::fs::read(&b).unwrap(), b"first");
        write_atomic(&a, b"second").unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"first");
        assert_eq!(std::fs::read(&a).unwrap(), b"second");
        assert!(!link_atomic(&dir.path().join("missing"), &b).unwrap());
        assert_eq!(std::fs::read(&b).unwrap(), b"first");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
    }

    /// A batch replaces every file (old contents too), in two directories, and leaves no
    /// temp file behind.
    #[test]
    fn a_batch_replaces_every_file() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), sub.join("c"));
        std::fs::write(&a, b"old").unwrap();
        let big = vec![7u8; (2 << 20) + 3];
        write_atomic_all(&[(&a, b"new a"), (&b, &big), (&c, b"c")]).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), b"new a");
        assert_eq!(std::fs::read(&b).unwrap(), big);
        assert_eq!(std::fs::read(&c).unwrap(), b"c");
        let names = |d: &Path| {
            let mut v: Vec<String> = std::fs::read_dir(d)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(dir.path()), ["a", "b", "sub"]);
        assert_eq!(names(&sub), ["c"]);
    }

    /// Large writes (whose writeback starts early) and small ones land whole; large inputs are
    /// mapped, small ones read, both with the file's bytes.
    #[test]
    fn writes_and_reads_small_and_large_files() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0usize, 10, (3 << 20) + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            write_atomic_with(&path, 0o644, |w| {
                for piece in data.chunks(100_000) {
                    w.write_all(piece)?;
                }
                Ok(())
            })
            .unwrap();
            let input = read_input(&path).unwrap();
            assert_eq!(&input[..], &data[..]);
            assert_eq!(
                matches!(input, Input::Mapped(_)),
                len as u64 >= MAP_FROM,
                "{len} bytes"
            );
        }
    }
}
