//! Report files kept in memory. A hit costs a stat and a reference-counted clone; reading the
//! file on the blocking pool into a fresh buffer on every request served a cached HTML report
//! at about 40% of nginx's rate (scripts/bench-serve.sh).

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::body::Bytes;

/// Bytes kept in all; the least recently used files go first beyond it.
const BUDGET: usize = 32 * 1024 * 1024;
/// Files larger than this are read on every request.
const MAX_FILE: usize = 8 * 1024 * 1024;

/// One version of a file. The store replaces files by rename, so a new version is a new inode;
/// length and modification time guard against inode reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Version {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl Version {
    fn of(m: &std::fs::Metadata) -> Version {
        Version {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
        }
    }
}

struct Entry {
    version: Version,
    body: Bytes,
    used: u64,
}

#[derive(Default)]
struct Inner {
    files: HashMap<PathBuf, Entry>,
    bytes: usize,
    clock: u64,
}

/// A bounded cache of whole files, checked against the file system on every read.
#[derive(Default)]
pub struct FileCache {
    inner: Mutex<Inner>,
}

impl FileCache {
    /// The file's current content.
    pub async fn read(&self, path: &Path) -> std::io::Result<Bytes> {
        // A stat of a local file takes microseconds, less than a hop to the blocking pool.
        let now = Version::of(&std::fs::metadata(path)?);
        if let Some(body) = self.hit(path, now) {
            return Ok(body);
        }
        let owned = path.to_path_buf();
        // Version and bytes come from the same open file, so they always match.
        let (version, body) = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&owned)?;
            let version = Version::of(&f.metadata()?);
            let mut buf = Vec::with_capacity(usize::try_from(version.len).unwrap_or(0));
            f.read_to_end(&mut buf)?;
            Ok::<_, std::io::Error>((version, Bytes::from(buf)))
        })
        .await
        .map_err(std::io::Error::other)??;
        self.insert(path, version, body.clone());
        Ok(body)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn hit(&self, path: &Path, version: Version) -> Option<Bytes> {
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let e = inner.files.get_mut(path)?;
        if e.version != version {
            return None;
        }
        e.used = clock;
        Some(e.body.clone())
    }

    fn insert(&self, path: &Path, version: Version, body: Bytes) {
        if body.len() > MAX_FILE {
            return;
        }
        let mut inner = self.lock();
        if let Some(old) = inner.files.remove(path) {
            inner.bytes -= old.body.len();
        }
        while inner.bytes + body.len() > BUDGET {
            let Some(oldest) = inner
                .files
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(p, _)| p.clone())
            else {
                break;
            };
            if let Some(e) = inner.files.remove(&oldest) {
                inner.bytes -= e.body.len();
            }
        }
        inner.clock += 1;
        inner.bytes += body.len();
        let used = inner.clock;
        inner.files.insert(
            path.to_path_buf(),
            Entry {
                version,
                body,
                used,
            },
        );
    }

    #[cfg(test)]
    fn cached_bytes(&self) -> usize {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replace(path: &Path, content: &[u8]) {
        crate::fsutil::write_atomic(path, content).unwrap();
    }

    #[tokio::test]
    async fn serves_the_current_version() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.html");
        let cache = FileCache::default();
        replace(&p, b"one");
        assert_eq!(cache.read(&p).await.unwrap(), "one");
        assert_eq!(cache.read(&p).await.unwrap(), "one");
        // Same length, replaced by rename as the store does: the new content is served.
        replace(&p, b"two");
        assert_eq!(cache.read(&p).await.unwrap(), "two");
        assert_eq!(cache.cached_bytes(), 3);
        std::fs::remove_file(&p).unwrap();
        let err = cache.read(&p).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn stays_within_budget() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::default();
        let big = vec![b'x'; MAX_FILE];
        for i in 0..6 {
            let p = dir.path().join(format!("{i}.html"));
            replace(&p, &big);
            assert_eq!(cache.read(&p).await.unwrap().len(), MAX_FILE);
        }
        assert_eq!(cache.cached_bytes(), BUDGET);
        // Too big to keep, still served.
        let p = dir.path().join("huge.html");
        replace(&p, &vec![b'y'; MAX_FILE + 1]);
        assert_eq!(cache.read(&p).await.unwrap().len(), MAX_FILE + 1);
        assert_eq!(cache.cached_bytes(), BUDGET);
    }
}
