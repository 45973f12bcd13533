//! What a change added: the merge-base of a base revision and a head commit, and the lines the
//! head adds relative to it, read from git objects with libgit2 (no work tree, no `git` process).
//!
//! The diff is the one `git diff -U0 BASE...HEAD` prints with git's defaults: zero context,
//! indent heuristic, renames found as git finds them ([`super::renames`]), binary files (a NUL
//! in the first 8000 bytes of either side) and deleted files adding no lines, a submodule
//! change one line. The work tree's .gitattributes are not consulted.

use std::collections::HashMap;

use git2::{Delta, DiffOptions, FileMode, Oid, Repository};
use rayon::prelude::*;

use super::handles::{Handles, copy_err};
use super::renames::{Side, Which, find_renames};
use super::xdiff::{self, XdiffError};
use crate::report::diff::ChangedFile;

/// Why the changed lines could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ChangesError {
    /// A revision that does not name a commit.
    #[error("revision {rev:?} does not name a commit: {source}")]
    Revision {
        /// The revision given.
        rev: String,
        /// git's reason.
        source: git2::Error,
    },
    /// The two commits share no history.
    #[error("{base:?} and {head:?} have no merge base: {source}")]
    NoMergeBase {
        /// The base revision.
        base: String,
        /// The head revision.
        head: String,
        /// git's reason.
        source: git2::Error,
    },
    /// Computing the diff failed (a corrupt or partial repository).
    #[error("diffing {from}..{to}: {source}")]
    Diff {
        /// The merge-base commit.
        from: String,
        /// The head commit.
        to: String,
        /// git's reason.
        source: git2::Error,
    },
    /// git's line diff could not compare a file's two versions.
    #[error("diffing {path} ({from}..{to}): {source}")]
    LineDiff {
        /// The file (its path at the head).
        path: String,
        /// The merge-base commit.
        from: String,
        /// The head commit.
        to: String,
        /// Why.
        source: XdiffError,
    },
}

/// Why one file's added lines could not be computed.
enum FileError {
    /// Reading an object.
    Git(git2::Error),
    /// Diffing the two versions.
    Lines(XdiffError),
}

impl From<git2::Error> for FileError {
    fn from(e: git2::Error) -> Self {
        FileError::Git(e)
    }
}

/// How added lines are numbered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// The line numbers in the new file.
    Exact,
    /// As diff-cover 11 parses `git diff`: a `\ No newline at end of file` marker inside a hunk
    /// advances its counter, so the added lines after such a marker are numbered one too high.
    DiffCover,
}

/// The changed lines of a head commit relative to its merge-base with a base revision.
#[derive(Debug, Clone)]
pub struct Changes {
    /// The base commit (full hex id) the revision named.
    pub base: String,
    /// The merge-base of base and head (full hex id): what the head is compared with.
    pub merge_base: String,
    /// The head commit (full hex id).
    pub head: String,
    /// Files with an added, modified or renamed version at head, sorted by path; deleted files
    /// are left out. Files whose change adds no line (pure deletions, renames, binaries) are
    /// listed with no lines.
    pub files: Vec<ChangedFile>,
    /// The head's content of each changed `.go` file the caller's [`Visit`] asked to keep, read
    /// for the diff anyway: callers need not read it again ([`crate::incremental::compute_with`]
    /// takes it over, leaving it empty).
    pub go_contents: foldhash::HashMap<String, Vec<u8>>,
}

fn commit_of(repo: &Repository, rev: &str) -> Result<Oid, ChangesError> {
    repo.revparse_single(rev)
        .and_then(|o| o.peel_to_commit())
        .map(|c| c.id())
        .map_err(|source| ChangesError::Revision {
            rev: rev.to_string(),
            source,
        })
}

/// One file of the head whose added lines are wanted.
struct Job {
    path: String,
    /// The version it is compared with: the same path's, or a rename's source.
    old: Option<(Oid, String)>,
    new: Oid,
    new_mode: FileMode,
    /// The two versions' texts when the rename search already read them.
    texts: Texts,
}

/// Blob contents read ahead (by the rename search), so as not to inflate them again.
#[derive(Default)]
struct Texts {
    old: Option<Vec<u8>>,
    new: Option<Vec<u8>>,
}

/// What a caller does with each changed `.go` file as soon as it is diffed: it is given the
/// path, the added lines and the head's text, on the worker that diffed it, and answers whether
/// [`Changes::go_contents`] keeps a copy of the text. A caller that reads only some texts, or
/// uses them right there, spares the copies (and memory) of the others.
pub type Visit<'a> = &'a (dyn Fn(&str, &[u32], &[u8]) -> bool + Sync);

/// Computes the lines `head_rev` adds since its merge-base with `base_rev`, handing each
/// changed `.go` file to `visit`.
pub fn changed_lines(
    repo: &Repository,
    base_rev: &str,
    head_rev: &str,
    numbering: Numbering,
    visit: Visit<'_>,
) -> Result<Changes, ChangesError> {
    let base = commit_of(repo, base_rev)?;
    let head = commit_of(repo, head_rev)?;
    let merge_base = repo
        .merge_base(base, head)
        .map_err(|source| ChangesError::NoMergeBase {
            base: base_rev.to_string(),
            head: head_rev.to_string(),
            source,
        })?;
    let diff_err = |source| ChangesError::Diff {
        from: merge_base.to_string(),
        to: head.to_string(),
        source,
    };
    let gitdir = repo.path().to_path_buf();
    let handles = Handles::new(move || objects_only(&gitdir));
    let Deltas {
        modified,
        deleted,
        added,
    } = {
        let h = handles.take();
        let repo = h.get().map_err(|e| diff_err(copy_err(e)))?;
        deltas(repo, merge_base, head).map_err(diff_err)?
    };
    // Finding renames reads and compares the added and deleted files, one core's work; the
    // modified files are diffed meanwhile.
    let (renamed_from, modified_lines) = rayon::join(
        || {
            let h = handles.take();
            h.get()
                .map_err(copy_err)
                .and_then(|r| renames(r, &deleted, &added))
        },
        || diff_all(&handles, &modified, numbering, visit),
    );
    let Renames {
        pairs: renamed_from,
        mut src_texts,
        mut dst_texts,
    } = renamed_from.map_err(diff_err)?;
    let added_jobs: Vec<Job> = added
        .into_iter()
        .enumerate()
        .map(|(i, (path, id, mode))| {
            let source = renamed_from.get(&i).copied();
            Job {
                path,
                old: source.map(|s| (deleted[s].1, deleted[s].0.clone())),
                new: id,
                new_mode: mode,
                texts: Texts {
                    old: source.and_then(|s| src_texts.remove(&s)),
                    new: dst_texts.remove(&i),
                },
            }
        })
        .collect();
    let added_lines = diff_all(&handles, &added_jobs, numbering, visit);
    let jobs: Vec<Job> = modified.into_iter().chain(added_jobs).collect();
    let added: Vec<Result<Added, FileError>> =
        modified_lines.into_iter().chain(added_lines).collect();
    let mut files = Vec::with_capacity(jobs.len());
    let mut go_contents = foldhash::HashMap::default();
    for (job, added) in jobs.into_iter().zip(added) {
        let (added, content) = added.map_err(|e| match e {
            FileError::Git(source) => diff_err(source),
            FileError::Lines(source) => ChangesError::LineDiff {
                path: job.path.clone(),
                from: merge_base.to_string(),
                to: head.to_string(),
                source,
            },
        })?;
        if let Some(content) = content {
            go_contents.insert(job.path.clone(), content);
        }
        files.push(ChangedFile {
            path: job.path,
            old_path: job.old.map(|(_, p)| p),
            added,
        });
    }
    // Renamed files keep the old path only when it differs.
    for f in &mut files {
        if f.old_path.as_deref() == Some(f.path.as_str()) {
            f.old_path = None;
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    // Closing the handles frees libgit2's caches (0.3 ms for the client-go bench): another
    // worker does it while the caller goes on.
    rayon::spawn(move || drop(handles));
    Ok(Changes {
        base: base.to_string(),
        merge_base: merge_base.to_string(),
        head: head.to_string(),
        files,
        go_contents,
    })
}

/// A handle on the repository's objects only: bare (with a work tree, libgit2 looks up
/// .gitattributes in it for every file) and with an empty in-memory index (libgit2 would read the
/// index file to look up attributes in it).
fn objects_only(gitdir: &std::path::Path) -> Result<Repository, git2::Error> {
    let repo = Repository::open_bare(gitdir)?;
    repo.set_index(&mut git2::Index::new()?)?;
    Ok(repo)
}

/// An added or deleted file: path, blob and mode.
type Entry = (String, Oid, FileMode);

/// What the tree diff gives, before renames are found.
struct Deltas {
    /// Modified and type-changed files, each with the version it is compared with.
    modified: Vec<Job>,
    /// Deleted files, by path (bytewise, git's queue order).
    deleted: Vec<Entry>,
    /// Added files, by path.
    added: Vec<Entry>,
}

/// The tree diff between two commits: the modified files as jobs, the added and deleted ones
/// as candidates for rename detection.
fn deltas(repo: &Repository, from: Oid, to: Oid) -> Result<Deltas, git2::Error> {
    let old_tree = repo.find_commit(from)?.tree()?;
    let new_tree = repo.find_commit(to)?.tree()?;
    let mut opts = DiffOptions::new();
    // A type change stays one entry, as git keeps it out of rename detection.
    opts.include_typechange(true);
    let diff = repo.diff_tree_to_tree(Some(&old_tree), Some(&new_tree), Some(&mut opts))?;
    let path_of = |f: &git2::DiffFile<'_>| {
        f.path()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut out = Deltas {
        modified: Vec::new(),
        deleted: Vec::new(),
        added: Vec::new(),
    };
    for d in diff.deltas() {
        let (old, new) = (d.old_file(), d.new_file());
        match d.status() {
            Delta::Deleted => out.deleted.push((path_of(&old), old.id(), old.mode())),
            Delta::Added => out.added.push((path_of(&new), new.id(), new.mode())),
            Delta::Modified => out.modified.push(Job {
                path: path_of(&new),
                old: Some((old.id(), path_of(&old))),
                new: new.id(),
                new_mode: new.mode(),
                texts: Texts::default(),
            }),
            // git shows a type change as the old file deleted and the new one created.
            Delta::Typechange => out.modified.push(Job {
                path: path_of(&new),
                old: None,
                new: new.id(),
                new_mode: new.mode(),
                texts: Texts::default(),
            }),
            _ => {}
        }
    }
    // git's queue order: by path, bytewise.
    out.deleted.sort_by(|a, b| a.0.cmp(&b.0));
    out.added.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// The added lines of each job, in job order, on all cores.
fn diff_all<F: Fn() -> Result<Repository, git2::Error> + Sync>(
    handles: &Handles<F>,
    jobs: &[Job],
    numbering: Numbering,
    visit: Visit<'_>,
) -> Vec<Result<Added, FileError>> {
    jobs.par_iter()
        .map_init(
            || handles.take(),
            |h, job| {
                let repo = h.get().map_err(copy_err)?;
                added_lines(repo, job, numbering, visit)
            },
        )
        .collect()
}

/// What the rename search found, and the texts it read.
#[derive(Default)]
struct Renames {
    /// For each added file (by index) that git would call a rename: the deleted file (by index).
    pairs: HashMap<usize, usize>,
    /// Deleted files' texts, by index.
    src_texts: HashMap<usize, Vec<u8>>,
    /// Added files' texts, by index.
    dst_texts: HashMap<usize, Vec<u8>>,
}

/// Finds the renames among the deleted and added files (git's algorithm).
fn renames(repo: &Repository, deleted: &[Entry], added: &[Entry]) -> Result<Renames, git2::Error> {
    if deleted.is_empty() || added.is_empty() {
        return Ok(Renames::default());
    }
    // Sizes from the object headers; contents only for the pairs git would compare.
    let odb = repo.odb()?;
    let size = |(_, id, mode): &Entry| -> Result<usize, git2::Error> {
        if *mode == FileMode::Commit {
            // A submodule entry has no blob (and is never similar to anything).
            return Ok(0);
        }
        odb.read_header(*id).map(|(n, _)| n)
    };
    let src_sizes = deleted.iter().map(size).collect::<Result<Vec<_>, _>>()?;
    let dst_sizes = added.iter().map(size).collect::<Result<Vec<_>, _>>()?;
    let srcs: Vec<Side<'_>> = deleted.iter().zip(src_sizes).map(side).collect();
    let dsts: Vec<Side<'_>> = added.iter().zip(dst_sizes).map(side).collect();
    let mut error = None;
    let (mut src_texts, mut dst_texts) = (HashMap::new(), HashMap::new());
    let mut load = |which: Which, i: usize| {
        let (id, texts) = match which {
            Which::Source => (deleted[i].1, &mut src_texts),
            Which::Destination => (added[i].1, &mut dst_texts),
        };
        match repo.find_blob(id) {
            Ok(b) => {
                // Kept for the added files' diffs: a copy costs less than inflating again.
                texts.insert(i, b.content().to_vec());
                b.content().to_vec()
            }
            Err(e) => {
                error.get_or_insert(e);
                Vec::new()
            }
        }
    };
    let pairs = find_renames(&srcs, &dsts, &mut load);
    if let Some(e) = error {
        return Err(e);
    }
    Ok(Renames {
        pairs: pairs.into_iter().map(|(s, d)| (d, s)).collect(),
        src_texts,
        dst_texts,
    })
}

fn side<'a>(((path, id, mode), size): (&'a Entry, usize)) -> Side<'a> {
    Side {
        path: path.as_str(),
        oid: id.as_bytes(),
        mode: u32::from(*mode),
        size,
    }
}

/// git's `trim_common_tail` (xdiff-interface.c), which `git diff` applies before diffing when
/// it shows no context: identical 1024-byte blocks at the end of both sides are cut off, but for
/// the part up to the first line end in them. It changes which of several equally short diffs
/// xdiff picks, so the added lines match git's only with it.
fn trim_common_tail<'a>(a: &'a [u8], b: &'a [u8]) -> (&'a [u8], &'a [u8]) {
    const BLOCK: usize = 1024;
    let smaller = a.len().min(b.len());
    let mut trimmed = 0;
    while BLOCK + trimmed <= smaller
        && a[a.len() - trimmed - BLOCK..a.len() - trimmed]
            == b[b.len() - trimmed - BLOCK..b.len() - trimmed]
    {
        trimmed += BLOCK;
    }
    let start = a.len() - trimmed;
    let mut recovered = 0;
    while recovered < trimmed {
        recovered += 1;
        if a[start + recovered - 1] == b'\n' {
            break;
        }
    }
    let cut = trimmed - recovered;
    (&a[..a.len() - cut], &b[..b.len() - cut])
}

/// git's binary test: a NUL byte in the first 8000 bytes.
fn is_binary(content: &[u8]) -> bool {
    memchr::memchr(0, &content[..content.len().min(8000)]).is_some()
}

/// Added lines (sorted, unique) and, for a `.go` file, its content.
type Added = (Vec<u32>, Option<Vec<u8>>);

fn added_lines(
    repo: &Repository,
    job: &Job,
    numbering: Numbering,
    visit: Visit<'_>,
) -> Result<Added, FileError> {
    if job.new_mode == FileMode::Commit {
        // git prints a submodule change as one `+Subproject commit ...` line.
        return Ok((vec![1], None));
    }
    let new_blob;
    let new = match &job.texts.new {
        Some(text) => text.as_slice(),
        None => {
            new_blob = repo.find_blob(job.new)?;
            new_blob.content()
        }
    };
    let lines = lines_added(repo, job, new, numbering)?;
    let content =
        (job.path.ends_with(".go") && visit(&job.path, &lines, new)).then(|| new.to_vec());
    Ok((lines, content))
}

/// The added lines of one file, sorted and unique.
fn lines_added(
    repo: &Repository,
    job: &Job,
    new: &[u8],
    numbering: Numbering,
) -> Result<Vec<u32>, FileError> {
    let old_blob;
    let old = match (&job.old, &job.texts.old) {
        (Some(_), Some(text)) => Some(text.as_slice()),
        (Some((id, _)), None) => match repo.find_blob(*id) {
            Ok(b) => {
                old_blob = b;
                Some(old_blob.content())
            }
            // The old side was a submodule: compare with nothing.
            Err(e) if e.code() == git2::ErrorCode::NotFound => None,
            Err(e) => return Err(e.into()),
        },
        (None, _) => None,
    };
    if old.is_some_and(is_binary) || is_binary(new) {
        return Ok(Vec::new());
    }
    let Some(old) = old else {
        // A new file: every line is added (a final line without newline too).
        let lines = line_count(new);
        return Ok((1..=u32::try_from(lines).unwrap_or(u32::MAX)).collect());
    };
    diffed_lines(old, new, numbering).map_err(FileError::Lines)
}

/// The lines `new` adds to `old`, as `git diff -U0` shows them (git trims their common tail
/// first), numbered as asked; sorted and unique.
fn diffed_lines(old: &[u8], new: &[u8], numbering: Numbering) -> Result<Vec<u32>, XdiffError> {
    let (old, new) = trim_common_tail(old, new);
    let hunks = xdiff::hunks(old, new)?;
    // diff-cover's numbering: git prints `\ No newline at end of file` after a removed last
    // line without one, between the hunk's removed and added lines, and diff-cover counts it.
    let unterminated_end = (numbering == Numbering::DiffCover
        && old.last().is_some_and(|&b| b != b'\n'))
    .then(|| line_count(old));
    let mut out = Vec::new();
    for h in hunks {
        let shift = usize::from(h.old_len > 0 && unterminated_end == Some(h.old_start + h.old_len));
        let first = h.new_start + 1 + shift;
        out.extend((first..first + h.new_len).map(|l| u32::try_from(l).unwrap_or(u32::MAX)));
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The number of lines, a final one without newline included.
fn line_count(text: &[u8]) -> usize {
    memchr::memchr_iter(b'\n', text).count() + usize::from(text.last().is_some_and(|&b| b != b'\n'))
}

#[cfg(test)]
mod tests {
    use super::{Numbering, diffed_lines, trim_common_tail};
    use crate::source::xdiff::tests::libgit2_patch;
    use proptest::prelude::*;

    /// The added lines as libgit2's patch lists them, numbered as diff-cover reads `git diff`
    /// (every line that is not `+` or `-`, such as the end-of-file markers, advances it).
    fn patch_lines(old: &[u8], new: &[u8], numbering: Numbering) -> Vec<u32> {
        let (old, new) = trim_common_tail(old, new);
        let patch = libgit2_patch(old, new);
        let mut out = Vec::new();
        for h in 0..patch.num_hunks() {
            let (hunk, n) = patch.hunk(h).unwrap();
            let mut next = hunk.new_start();
            for l in 0..n {
                let line = patch.line_in_hunk(h, l).unwrap();
                match line.origin() {
                    '+' => {
                        out.push(match numbering {
                            Numbering::Exact => line.new_lineno().unwrap(),
                            Numbering::DiffCover => next,
                        });
                        next += 1;
                    }
                    '-' => {}
                    _ => next += 1,
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Two versions of a file: a few distinct lines each, maybe a long common tail (which git
    /// trims), each side ending with or without a newline.
    fn versions() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
        let line = prop::sample::select(vec!["}", "", "\tx := 1", "\t}", "func f() {", "a", "b"]);
        let lines = prop::collection::vec(line, 0..30);
        (
            lines.clone(),
            lines,
            0..80usize,
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(old, new, tail, old_end, new_end)| {
                let tail: String = (0..tail)
                    .map(|i| format!("\tline{i:03} = padding\n"))
                    .collect();
                let side = |lines: Vec<&str>, end: bool| {
                    let mut t = lines.join("\n");
                    if !t.is_empty() && (end || !tail.is_empty()) {
                        t.push('\n');
                    }
                    t.push_str(&tail);
                    if !end && t.ends_with('\n') {
                        t.pop();
                    }
                    t.into_bytes()
                };
                (side(old, old_end), side(new, new_end))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn added_lines_as_libgit2s_patch_lists_them((old, new) in versions()) {
            for numbering in [Numbering::Exact, Numbering::DiffCover] {
                prop_assert_eq!(
                    diffed_lines(&old, &new, numbering).unwrap(),
                    patch_lines(&old, &new, numbering)
                );
            }
        }
    }

    #[test]
    fn a_removed_unterminated_last_line_shifts_diff_covers_numbers() {
        let (old, new) = (b"a\nb".as_slice(), b"a\nc\nd\n".as_slice());
        assert_eq!(diffed_lines(old, new, Numbering::Exact).unwrap(), [2, 3]);
        assert_eq!(
            diffed_lines(old, new, Numbering::DiffCover).unwrap(),
            [3, 4]
        );
        assert_eq!(patch_lines(old, new, Numbering::DiffCover), [3, 4]);
    }

    #[test]
    fn trims_whole_blocks_and_keeps_up_to_a_line_end() {
        let tail: Vec<u8> = b"x\n".repeat(1024);
        let a = [b"old\n".as_slice(), &tail].concat();
        let b = [b"new\nnew\n".as_slice(), &tail].concat();
        let (ta, tb) = trim_common_tail(&a, &b);
        // Two 1024-byte blocks are identical; the cut keeps their first line ("x\n").
        assert_eq!(ta, [b"old\n".as_slice(), b"x\n"].concat());
        assert_eq!(tb, [b"new\nnew\n".as_slice(), b"x\n"].concat());
        let short = b"a\nb\n";
        assert_eq!(
            trim_common_tail(short, short),
            (short.as_slice(), short.as_slice())
        );
    }
}
