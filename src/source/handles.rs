//! Repository handles for rayon's pieces of work, kept for reuse.
//!
//! A `Repository` cannot be shared between threads, so parallel readers need one each. rayon
//! starts a piece of work for every split of its input (27 for a 1,232-file profile on two
//! cores), and opening a handle reads git's config files each time; handed back when a piece is
//! done, there are no more handles than threads.

use std::sync::Mutex;

use git2::Repository;

/// A pool of handles opened by `open` on demand.
pub(crate) struct Handles<F> {
    open: F,
    free: Mutex<Vec<Repository>>,
}

impl<F: Fn() -> Result<Repository, git2::Error>> Handles<F> {
    /// An empty pool.
    pub(crate) fn new(open: F) -> Handles<F> {
        Handles {
            open,
            free: Mutex::new(Vec::new()),
        }
    }

    /// A free handle, or a new one (or why it could not be opened).
    pub(crate) fn take(&self) -> Handle<'_, F> {
        let free = self.free.lock().ok().and_then(|mut f| f.pop());
        Handle {
            pool: self,
            repo: free.map_or_else(|| (self.open)(), Ok),
        }
    }
}

/// A handle in use; it goes back to its pool when dropped.
pub(crate) struct Handle<'a, F> {
    pool: &'a Handles<F>,
    repo: Result<Repository, git2::Error>,
}

impl<F> Handle<'_, F> {
    /// The repository, or why it could not be opened.
    pub(crate) fn get(&self) -> Result<&Repository, &git2::Error> {
        self.repo.as_ref()
    }
}

/// A copy of a handle's open error (the handle keeps the original).
pub(crate) fn copy_err(e: &git2::Error) -> git2::Error {
    git2::Error::new(e.code(), e.class(), e.message())
}

impl<F> Drop for Handle<'_, F> {
    fn drop(&mut self) {
        let returned = Err(git2::Error::from_str("handle returned to its pool"));
        if let Ok(repo) = std::mem::replace(&mut self.repo, returned)
            && let Ok(mut free) = self.pool.free.lock()
        {
            free.push(repo);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn handles_are_reused_and_open_errors_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        Repository::init_bare(dir.path()).unwrap();
        let opened = AtomicUsize::new(0);
        let pool = Handles::new(|| {
            opened.fetch_add(1, Ordering::SeqCst);
            Repository::open_bare(dir.path())
        });
        {
            let (a, b) = (pool.take(), pool.take());
            assert!(a.get().is_ok() && b.get().is_ok());
        }
        for _ in 0..10 {
            assert!(pool.take().get().is_ok());
        }
        assert_eq!(opened.load(Ordering::SeqCst), 2, "two at once, then reused");

        let missing = Handles::new(|| Repository::open_bare(dir.path().join("none")));
        assert!(missing.take().get().is_err());
    }
}
