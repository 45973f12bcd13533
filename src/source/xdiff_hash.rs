//! The line hash git's xdiff files lines under, put in place of its own at link time
//! (`--wrap=xdl_hash_record`, build.rs).
//!
//! Why: xdiff hashes every line of both sides before it compares anything (`xdl_prepare_ctx`),
//! one byte at a time through a chain of dependent steps (`hash * 33 ^ byte`): a sixth of the
//! CPU of `diff` on the bench's 1,300-file change. That hash only files lines into buckets:
//! lines that hash alike are then compared byte for byte (`xdl_classify_record`), each line gets
//! the number of its class of equal lines, and only that number is used from then on. Any hash
//! that is equal for equal lines therefore gives xdiff the same classes and the same diff; this
//! one finds the line's end with memchr and hashes it 16 bytes at a time (foldhash).
//!
//! With options that make lines equal despite different whitespace (which xdiff's hash folds
//! in), the original is called.

use std::hash::BuildHasher as _;
use std::os::raw::{c_char, c_long, c_ulong};

/// xdiff.h's `XDF_WHITESPACE_FLAGS`: the `XDF_IGNORE_*WHITESPACE*` and `XDF_IGNORE_CR_AT_EOL`
/// bits.
const XDF_WHITESPACE_FLAGS: c_long = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4);

/// The seed is fixed: xdiff compares hashes of one diff's lines only, within one process.
const SEED: u64 = 0x9e37_79b9_7f4a_7c15;

unsafe extern "C" {
    /// xdiff's own `xdl_hash_record`, under the name `--wrap` gives it.
    fn __real_xdl_hash_record(
        data: *mut *const c_char,
        top: *const c_char,
        flags: c_long,
    ) -> c_ulong;
}

/// Calls of the replacement, for the test that checks the link put it in place.
#[cfg(test)]
static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// `xdl_hash_record(&cur, top, flags)`: hashes the line at `*data` (up to its `\n` or `top`)
/// and moves `*data` past it.
///
/// # Safety
/// As xdiff calls it: `*data` and `top` point into one buffer, `*data < top`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __wrap_xdl_hash_record(
    data: *mut *const c_char,
    top: *const c_char,
    flags: c_long,
) -> c_ulong {
    #[cfg(test)]
    CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if flags & XDF_WHITESPACE_FLAGS != 0 {
        // SAFETY: the caller's arguments, passed on unchanged.
        return unsafe { __real_xdl_hash_record(data, top, flags) };
    }
    // SAFETY: xdiff's contract above: `*data..top` is one readable buffer.
    let rest = unsafe {
        let start = (*data).cast::<u8>();
        let len = usize::try_from(top.cast::<u8>().offset_from(start)).unwrap_or(0);
        std::slice::from_raw_parts(start, len)
    };
    let (line, next) = match memchr::memchr(b'\n', rest) {
        Some(end) => (&rest[..end], end + 1),
        None => (rest, rest.len()),
    };
    // SAFETY: `next <= rest.len()`: still within the buffer (or just past it, at `top`).
    unsafe { *data = (*data).add(next) };
    let hash = foldhash::fast::FixedState::with_seed(SEED).hash_one(line);
    // `unsigned long` is 64 bits where this is linked (Linux, 64-bit); elsewhere the low bits.
    hash as c_ulong
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    /// Hashes each line of `text` as xdiff walks it: the hashes and where each call left off.
    fn walk(
        text: &[u8],
        flags: c_long,
        f: unsafe extern "C" fn(*mut *const c_char, *const c_char, c_long) -> c_ulong,
    ) -> Vec<(c_ulong, usize)> {
        let base = text.as_ptr().cast::<c_char>();
        // SAFETY: one past the end of `text`.
        let top = unsafe { base.add(text.len()) };
        let mut cur = base;
        let mut out = Vec::new();
        while cur < top {
            // SAFETY: `cur` and `top` bound `text`, `cur < top`.
            let h = unsafe { f(&raw mut cur, top, flags) };
            // SAFETY: both within `text`.
            out.push((
                h,
                usize::try_from(unsafe { cur.offset_from(base) }).unwrap(),
            ));
        }
        out
    }

    #[test]
    fn each_call_moves_past_one_line() {
        let w = walk(b"ab\ncd\nab\n\ncd", 0, __wrap_xdl_hash_record);
        let ends: Vec<usize> = w.iter().map(|&(_, end)| end).collect();
        assert_eq!(ends, [3, 6, 9, 10, 12]);
        // Equal lines hash alike (the last has no newline: xdiff tells it apart by its size).
        assert_eq!(w[0].0, w[2].0);
        assert_eq!(w[1].0, w[4].0);
        assert_ne!(w[0].0, w[1].0);
        assert_ne!(w[3].0, w[0].0);
    }

    #[test]
    fn whitespace_options_keep_xdiffs_own_hash() {
        let text = b"a  b\n\tx \r\n";
        for flags in [1 << 1, 1 << 2, 1 << 3, 1 << 4] {
            assert_eq!(
                walk(text, flags, __wrap_xdl_hash_record),
                walk(text, flags, __real_xdl_hash_record)
            );
        }
    }

    #[test]
    fn xdiff_calls_the_replacement() {
        let before = CALLS.load(Ordering::Relaxed);
        crate::source::xdiff::hunks(b"a\nb\n", b"a\nc\n").unwrap();
        assert!(CALLS.load(Ordering::Relaxed) >= before + 4);
    }
}
