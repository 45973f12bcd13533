//! Crash-safe file writes: temp file in the same directory, fsync, rename, fsync the directory.

use std::io::Write;
use std::path::Path;

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
    use std::os::unix::fs::PermissionsExt as _;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    {
        let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp.as_file_mut());
        fill(&mut w)?;
        w.flush()?;
    }
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    // The rename is durable only once the directory entry is on disk.
    std::fs::File::open(dir)?.sync_all()
}
