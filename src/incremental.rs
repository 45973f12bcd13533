//! The incremental (diff) pipeline end to end, shared by `goc-adapter diff` and the collector:
//! git changes since the merge-base, profile files located in the repo, then the pure engine.

use std::cell::RefCell;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use git2::Repository;

use crate::profile::Profile;
use crate::report::ReportError;
use crate::report::diff::{
    self, DiffCoverage, DiffInput, DiffOptions, Done, FileIndex, LineRule, Located, PathLines,
};
use crate::source::changes::{self, Changes, Numbering, Visit};
use crate::source::{SourceError, SourceTree};
use crate::syntax::GoParser;

/// Why the incremental report could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum IncrementalError {
    /// The diff could not be taken (unknown base, no merge-base).
    #[error(transparent)]
    Changes(#[from] changes::ChangesError),
    /// Sources could not be read.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The engine refused the inputs.
    #[error(transparent)]
    Diff(#[from] crate::report::ReportError),
}

/// Everything the formats need.
pub struct Incremental {
    /// The numbers.
    pub result: DiffCoverage,
    /// Base, merge-base, head and the changed lines.
    pub changes: Changes,
    /// Where each profile file lives, aligned with `profile.files`.
    pub located: Vec<Option<Located>>,
}

impl Incremental {
    /// Changed lines per profile file (for the HTML report's markers).
    pub fn changed_per_file(&self) -> Vec<Vec<u32>> {
        let by_path: std::collections::HashMap<&str, &Vec<u32>> = self
            .changes
            .files
            .iter()
            .map(|c| (c.path.as_str(), &c.added))
            .collect();
        self.located
            .iter()
            .map(|loc| {
                loc.as_ref()
                    .and_then(|l| by_path.get(l.path.as_str()))
                    .map(|a| a.to_vec())
                    .unwrap_or_default()
            })
            .collect()
    }
}

/// Computes incremental coverage of `tree`'s commit against `base` (through their merge-base).
pub fn compute(
    tree: &SourceTree,
    base: &str,
    profile: &Profile,
    opts: &DiffOptions,
) -> Result<Incremental, IncrementalError> {
    let changes = changed_lines(tree, base, opts)?;
    compute_with(tree, changes, profile, opts)
}

/// The lines `tree`'s commit adds since its merge-base with `base`, numbered as `opts` needs.
/// Independent of the profile: a caller may take it while the profile is still being read.
pub fn changed_lines(
    tree: &SourceTree,
    base: &str,
    opts: &DiffOptions,
) -> Result<Changes, IncrementalError> {
    changes_in(
        tree.repository(),
        &tree.commit_id(),
        base,
        opts,
        &|_, _, _| true,
    )
}

/// [`changed_lines`] for revision `head` of the repository at `repo_dir`, without a
/// [`SourceTree`]: a caller may index the head's tree meanwhile. Each changed `.go` file is
/// handed to `visit` (an [`EarlyAnalysis`]'s, say); of their contents it keeps those `visit`
/// asks for; the others are read again if needed.
pub fn changed_lines_at(
    repo_dir: &Path,
    head: &str,
    base: &str,
    opts: &DiffOptions,
    visit: Visit<'_>,
) -> Result<Changes, IncrementalError> {
    let repo = Repository::open(repo_dir).map_err(|source| SourceError::Open {
        path: repo_dir.to_path_buf(),
        source,
    })?;
    changes_in(&repo, head, base, opts, visit)
}

fn changes_in(
    repo: &Repository,
    head: &str,
    base: &str,
    opts: &DiffOptions,
    visit: Visit<'_>,
) -> Result<Changes, IncrementalError> {
    let numbering = match opts.lines {
        diff::LineRule::DiffCover => Numbering::DiffCover,
        diff::LineRule::Statements => Numbering::Exact,
    };
    Ok(changes::changed_lines(repo, base, head, numbering, visit)?)
}

/// [`compute`] with the changes already taken by [`changed_lines`] (same `opts`).
pub fn compute_with(
    tree: &SourceTree,
    changes: Changes,
    profile: &Profile,
    opts: &DiffOptions,
) -> Result<Incremental, IncrementalError> {
    compute_located(
        tree,
        changes,
        profile,
        tree.locate(profile),
        opts,
        Analyzed::default(),
    )
}

/// [`compute_with`] with the profile's files already located in `tree`
/// ([`SourceTree::locate`]): a caller may locate them while the diff is still being taken.
/// `early` holds what an [`EarlyAnalysis`] did during the diff: paths worked out (their files'
/// texts are not read again) and the index of `located`.
pub fn compute_located(
    tree: &SourceTree,
    mut changes: Changes,
    profile: &Profile,
    located: Vec<Option<Located>>,
    opts: &DiffOptions,
    early: Analyzed,
) -> Result<Incremental, IncrementalError> {
    let input = DiffInput {
        profile,
        located: &located,
        changes: &changes.files,
    };
    let Analyzed { done, index } = early;
    let plan = match index {
        Some(index) => input.plan_indexed(index, *opts),
        None => input.plan(*opts),
    };
    let known = std::mem::take(&mut changes.go_contents);
    let needed = plan.todo(&done);
    let texts = tree.read_located(&located, &needed, known)?;
    let result = plan.compute_with(&texts, done)?;
    Ok(Incremental {
        result,
        changes,
        located,
    })
}

/// Analyses of profile files run inside the diff, each as soon as its file is diffed, on the
/// worker that diffed it: the text is hot there and no copy of it is kept, and the serial steps
/// after the diff are left with nothing to wait for. It starts once the profile's files are
/// located ([`EarlyAnalysis::ready`]); a file diffed before that keeps its text for the plain
/// path. Only where each profile file answers for its own path alone ([`FileIndex::direct`]);
/// otherwise it keeps just the located files' texts.
pub struct EarlyAnalysis {
    rule: LineRule,
    ready: OnceLock<Ready>,
    done: Mutex<Vec<(String, Result<PathLines, ReportError>)>>,
}

struct Ready {
    profile: Arc<Profile>,
    index: FileIndex,
}

/// What an [`EarlyAnalysis`] leaves for [`compute_located`].
#[derive(Default)]
pub struct Analyzed {
    /// The changed paths worked out.
    done: Done,
    /// The index of the located files, once built.
    index: Option<FileIndex>,
}

thread_local! {
    /// A parser per worker thread for the statements rule (made when first needed).
    static PARSER: RefCell<Option<GoParser>> = const { RefCell::new(None) };
}

impl EarlyAnalysis {
    /// Nothing analyzed yet; files diffed now keep their texts.
    pub fn new(opts: &DiffOptions) -> Self {
        EarlyAnalysis {
            rule: opts.lines,
            ready: OnceLock::new(),
            done: Mutex::new(Vec::new()),
        }
    }

    /// The profile and where its files are: files diffed from now on are analyzed at once.
    pub fn ready(&self, profile: Arc<Profile>, located: &[Option<Located>]) {
        let index = FileIndex::new(located, self.rule);
        let _ = self.ready.set(Ready { profile, index });
    }

    /// The [`Visit`] for [`changed_lines_at`]: analyzes the profile files at `path` when it may,
    /// and answers whether the diff keeps `text` for later.
    pub fn visit(&self, path: &str, added: &[u32], text: &[u8]) -> bool {
        let Some(ready) = self.ready.get() else {
            return true;
        };
        let files = ready.index.files_at(path);
        if !ready.index.direct() {
            return !files.is_empty();
        }
        // Without added lines, or without a profile file there, the path measures nothing: no
        // analysis, no text needed.
        if added.is_empty() || files.is_empty() {
            return false;
        }
        let analyses = files
            .iter()
            .filter_map(|&i| ready.profile.files.get(i))
            .map(|fp| {
                PARSER.with_borrow_mut(|parser| {
                    diff::analyze_file(fp, path, text, added, self.rule, parser)
                })
            })
            .collect::<Result<Vec<_>, _>>();
        let result = analyses.map(|a| diff::path_lines(added, &a.iter().collect::<Vec<_>>()));
        self.done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((path.to_string(), result));
        false
    }

    /// What was done, for [`compute_located`]; the first error if an analysis failed.
    pub fn finish(self) -> Result<Analyzed, ReportError> {
        let done = self
            .done
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
            .into_iter()
            .map(|(path, r)| r.map(|lines| (path, lines)))
            .collect::<Result<_, _>>()?;
        Ok(Analyzed {
            done,
            index: self.ready.into_inner().map(|r| r.index),
        })
    }
}
