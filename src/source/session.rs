//! Per-fetch settings for this crate's git transports. libgit2 calls a transport's factory on
//! the thread that fetches, with nothing but the remote: the fetch puts its settings (keys,
//! tokens, where to record a refusal) in a thread-local slot for the factory to take.

use std::cell::RefCell;
use std::sync::Arc;
use std::thread::LocalKey;

/// A transport's slot: the session of the fetch running on this thread.
pub(super) type Slot<S> = LocalKey<RefCell<Option<Arc<S>>>>;

/// Runs `f` (a fetch) with `session` in `slot`, emptied again however `f` ends.
pub(super) fn with<S: 'static, T>(slot: &'static Slot<S>, session: S, f: impl FnOnce() -> T) -> T {
    struct Reset<S: 'static>(&'static Slot<S>);
    impl<S> Drop for Reset<S> {
        fn drop(&mut self) {
            self.0.with(|a| a.borrow_mut().take());
        }
    }
    slot.with(|a| *a.borrow_mut() = Some(Arc::new(session)));
    let _reset = Reset(slot);
    f()
}

/// The session in `slot`, for a transport factory; an error names the `kind` of remote when a
/// fetch did not go through this crate (no session).
pub(super) fn current<S: 'static>(
    slot: &'static Slot<S>,
    kind: &str,
) -> Result<Arc<S>, git2::Error> {
    slot.with(|a| a.borrow().clone()).ok_or_else(|| {
        git2::Error::from_str(&format!(
            "{kind} remotes are fetched only through goc-adapter's fetch"
        ))
    })
}
