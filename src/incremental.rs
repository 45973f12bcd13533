//! The incremental (diff) pipeline end to end, shared by `goc-adapter diff` and the collector:
//! git changes since the merge-base, profile files located in the repo, then the pure engine.

use std::path::Path;

use git2::Repository;

use crate::profile::Profile;
use crate::report::diff::{self, DiffCoverage, DiffInput, DiffOptions, Located};
use crate::source::changes::{self, Changes, Numbering};
use crate::source::{SourceError, SourceTree};

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
    changes_in(tree.repository(), &tree.commit_id(), base, opts, &|_| true)
}

/// [`changed_lines`] for revision `head` of the repository at `repo_dir`, without a
/// [`SourceTree`]: a caller may index the head's tree meanwhile. Of the changed `.go` files'
/// contents it keeps those `keep` accepts (by path); the others are read again if needed.
pub fn changed_lines_at(
    repo_dir: &Path,
    head: &str,
    base: &str,
    opts: &DiffOptions,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Changes, IncrementalError> {
    let repo = Repository::open(repo_dir).map_err(|source| SourceError::Open {
        path: repo_dir.to_path_buf(),
        source,
    })?;
    changes_in(&repo, head, base, opts, keep)
}

fn changes_in(
    repo: &Repository,
    head: &str,
    base: &str,
    opts: &DiffOptions,
    keep: &(dyn Fn(&str) -> bool + Sync),
) -> Result<Changes, IncrementalError> {
    let numbering = match opts.lines {
        diff::LineRule::DiffCover => Numbering::DiffCover,
        diff::LineRule::Statements => Numbering::Exact,
    };
    Ok(changes::changed_lines(repo, base, head, numbering, keep)?)
}

/// [`compute`] with the changes already taken by [`changed_lines`] (same `opts`).
pub fn compute_with(
    tree: &SourceTree,
    changes: Changes,
    profile: &Profile,
    opts: &DiffOptions,
) -> Result<Incremental, IncrementalError> {
    compute_located(tree, changes, profile, tree.locate(profile), opts)
}

/// [`compute_with`] with the profile's files already located in `tree`
/// ([`SourceTree::locate`]): a caller may locate them while the diff is still being taken.
pub fn compute_located(
    tree: &SourceTree,
    mut changes: Changes,
    profile: &Profile,
    located: Vec<Option<Located>>,
    opts: &DiffOptions,
) -> Result<Incremental, IncrementalError> {
    let input = DiffInput {
        profile,
        located: &located,
        changes: &changes.files,
    };
    let plan = input.plan(*opts);
    let known = std::mem::take(&mut changes.go_contents);
    let texts = tree.read_located(&located, plan.needed(), known)?;
    let result = plan.compute(&texts)?;
    Ok(Incremental {
        result,
        changes,
        located,
    })
}
