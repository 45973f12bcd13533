//! git's line diff, called for its hunks only: the xdiff that libgit2 vendors (the code `git
//! diff` runs), entered at `xdl_diff` with a hunk callback.
//!
//! libgit2's patch API around it costs as much as the diff: for buffers it SHA-1-hashes both
//! sides (for ids nobody reads), and it builds every line of the patch, where the changed lines
//! need only each hunk's ranges. The declarations below mirror xdiff.h of the libgit2-sys
//! version Cargo.lock pins; the tests compare every answer with libgit2's own patch.

use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};

/// Why a diff could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum XdiffError {
    /// A side larger than libgit2 diffs (it refuses the same).
    #[error("{size} bytes: too large to diff (the limit is {MAX_SIZE} bytes)")]
    TooLarge {
        /// The larger side's size.
        size: usize,
    },
    /// xdiff failed (it only does when memory runs out).
    #[error("the line diff failed (out of memory)")]
    Failed,
}

/// libgit2's limit for one side of a diff (`GIT_XDIFF_MAX_SIZE`).
const MAX_SIZE: usize = 1024 * 1024 * 1024;

/// `XDF_INDENT_HEURISTIC`: git's default since 2.14.
const XDF_INDENT_HEURISTIC: c_ulong = 1 << 23;

/// One hunk of a diff without context: lines `old_start..old_start + old_len` of the old side
/// (0-based) became lines `new_start..new_start + new_len` of the new side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hunk {
    /// First old line (0-based); for a pure addition, the old line after which lines are added.
    pub old_start: usize,
    /// Old lines removed.
    pub old_len: usize,
    /// First new line (0-based); for a pure removal, the new line after which lines went.
    pub new_start: usize,
    /// New lines added.
    pub new_len: usize,
}

#[repr(C)]
struct MmFile {
    ptr: *mut c_char,
    size: c_long,
}

#[repr(C)]
struct XpParam {
    flags: c_ulong,
    ignore_regex: *mut *mut c_void,
    ignore_regex_nr: usize,
    anchors: *mut *mut c_char,
    anchors_nr: usize,
}

#[repr(C)]
struct XdEmitCb {
    private: *mut c_void,
    out_hunk: *mut c_void,
    out_line: *mut c_void,
}

type HunkFunc = extern "C" fn(c_long, c_long, c_long, c_long, *mut c_void) -> c_int;

#[repr(C)]
struct XdEmitConf {
    ctxlen: c_long,
    interhunkctxlen: c_long,
    flags: c_ulong,
    find_func: *mut c_void,
    find_func_private: *mut c_void,
    hunk_func: Option<HunkFunc>,
}

unsafe extern "C" {
    /// xdiff's entry point (deps/xdiff/xdiffi.c in libgit2), linked from libgit2-sys.
    fn xdl_diff(
        mf1: *mut MmFile,
        mf2: *mut MmFile,
        xpp: *const XpParam,
        xecfg: *const XdEmitConf,
        ecb: *mut XdEmitCb,
    ) -> c_int;
}

/// Collects each hunk into the `Vec<Hunk>` behind `private`.
extern "C" fn collect(
    old_start: c_long,
    old_len: c_long,
    new_start: c_long,
    new_len: c_long,
    private: *mut c_void,
) -> c_int {
    let n = |v: c_long| usize::try_from(v).ok();
    let (Some(old_start), Some(old_len), Some(new_start), Some(new_len)) =
        (n(old_start), n(old_len), n(new_start), n(new_len))
    else {
        return -1;
    };
    // SAFETY: `private` is the `&mut Vec<Hunk>` that `hunks` passes and keeps borrowed for the
    // whole `xdl_diff` call, which calls this on the same thread.
    let out = unsafe { &mut *private.cast::<Vec<Hunk>>() };
    out.push(Hunk {
        old_start,
        old_len,
        new_start,
        new_len,
    });
    0
}

/// The hunks of `old` -> `new` with no context lines, as `git diff -U0` finds them (Myers with
/// git's heuristics and the indent heuristic), in order. Callers that want git's exact answer
/// also apply git's own preparation (its common-tail trimming) to the inputs first.
pub fn hunks(old: &[u8], new: &[u8]) -> Result<Vec<Hunk>, XdiffError> {
    let size = old.len().max(new.len());
    let too_large = || XdiffError::TooLarge { size };
    if size > MAX_SIZE {
        return Err(too_large());
    }
    let mmfile = |b: &[u8]| -> Result<MmFile, XdiffError> {
        Ok(MmFile {
            // xdiff takes `char *` but only reads the buffer.
            ptr: b.as_ptr().cast::<c_char>().cast_mut(),
            size: c_long::try_from(b.len()).map_err(|_| too_large())?,
        })
    };
    let (mut a, mut b) = (mmfile(old)?, mmfile(new)?);
    // xdiff allocates through libgit2's allocator, which exists once libgit2 is initialized.
    libgit2_sys::init();
    let params = XpParam {
        flags: XDF_INDENT_HEURISTIC,
        ignore_regex: std::ptr::null_mut(),
        ignore_regex_nr: 0,
        anchors: std::ptr::null_mut(),
        anchors_nr: 0,
    };
    let conf = XdEmitConf {
        ctxlen: 0,
        interhunkctxlen: 0,
        flags: 0,
        find_func: std::ptr::null_mut(),
        find_func_private: std::ptr::null_mut(),
        hunk_func: Some(collect),
    };
    let mut out: Vec<Hunk> = Vec::new();
    let mut cb = XdEmitCb {
        private: (&raw mut out).cast::<c_void>(),
        out_hunk: std::ptr::null_mut(),
        out_line: std::ptr::null_mut(),
    };
    // SAFETY: the structs match xdiff.h's layouts (checked against libgit2's patch output by
    // the tests); both buffers outlive the call and are only read; with `hunk_func` set xdiff
    // calls nothing else of `cb`, and `collect` receives `&mut out`, alive for the whole call.
    let rc = unsafe { xdl_diff(&raw mut a, &raw mut b, &params, &conf, &raw mut cb) };
    if rc < 0 {
        return Err(XdiffError::Failed);
    }
    Ok(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::{Hunk, hunks};
    use proptest::prelude::*;

    /// libgit2's patch of `old` -> `new` with `git diff -U0`'s options: the tests' oracle.
    pub(in crate::source) fn libgit2_patch<'a>(old: &'a [u8], new: &'a [u8]) -> git2::Patch<'a> {
        let mut opts = git2::DiffOptions::new();
        opts.context_lines(0)
            .interhunk_lines(0)
            .indent_heuristic(true)
            .force_text(true);
        git2::Patch::from_buffers(old, None, new, None, Some(&mut opts)).unwrap()
    }

    /// libgit2's answer through its patch API: each hunk's ranges.
    fn patch_hunks(old: &[u8], new: &[u8]) -> Vec<Hunk> {
        let patch = libgit2_patch(old, new);
        (0..patch.num_hunks())
            .map(|h| {
                let (hunk, _) = patch.hunk(h).unwrap();
                // Headers number from 1, and name the line before for an empty side.
                let start = |s: u32, n: u32| s as usize - usize::from(n > 0);
                Hunk {
                    old_start: start(hunk.old_start(), hunk.old_lines()),
                    old_len: hunk.old_lines() as usize,
                    new_start: start(hunk.new_start(), hunk.new_lines()),
                    new_len: hunk.new_lines() as usize,
                }
            })
            .collect()
    }

    /// Text from a few distinct lines, some indented, some blank, maybe unterminated.
    fn text() -> impl Strategy<Value = Vec<u8>> {
        let line = prop::sample::select(vec![
            "}",
            "",
            "\tx := 1",
            "\treturn nil",
            "func f() {",
            "\tif err != nil {",
            "\t}",
            "a",
            "b",
            "\t\tdeep",
        ]);
        (prop::collection::vec(line, 0..40), any::<bool>()).prop_map(|(lines, end)| {
            let mut t = lines.join("\n").into_bytes();
            if end && !t.is_empty() {
                t.push(b'\n');
            }
            t
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn same_hunks_as_libgit2s_patch(old in text(), new in text()) {
            prop_assert_eq!(hunks(&old, &new).unwrap(), patch_hunks(&old, &new));
        }
    }

    #[test]
    fn hunks_of_a_small_change() {
        let old = b"a\nb\nc\nd\n";
        let new = b"a\nB\nc\nd\ne\n";
        let expected = vec![
            Hunk {
                old_start: 1,
                old_len: 1,
                new_start: 1,
                new_len: 1,
            },
            Hunk {
                old_start: 4,
                old_len: 0,
                new_start: 4,
                new_len: 1,
            },
        ];
        assert_eq!(hunks(old, new).unwrap(), expected);
        assert_eq!(patch_hunks(old, new), expected);
        assert!(hunks(b"", b"").unwrap().is_empty());
    }
}
