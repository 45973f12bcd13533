//! Incremental reports of a changed profile against the target's base branch.

use crate::profile::Profile;
use crate::report::{Coverage, SourceFile};
use crate::source::SourceTree;
use crate::store::Store;
use crate::target::{NameParts, Target};

/// Writes the incremental reports; returns the diff percent, or `None` (logged) when the base
/// branch cannot be used.
pub fn build(
    _store: &Store,
    _target: &Target,
    _parts: &NameParts,
    _tree: &SourceTree,
    _profile: &Profile,
    _cov: &Coverage,
    _sources: &[Option<SourceFile>],
) -> Option<f64> {
    None
}
