//! Building every report file of a changed profile (runs on a blocking thread: git + CPU).

use crate::profile::Profile;
use crate::report;
use crate::source::SourceTree;
use crate::store::{ReportKind, Store, StoreError};
use crate::target::{NameParts, Target};

/// A report build that failed.
#[derive(Debug, thiserror::Error)]
pub enum ReportsError {
    /// Reading sources failed.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The engine failed.
    #[error(transparent)]
    Report(#[from] report::ReportError),
    /// Writing a report failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Numbers of a freshly built report set.
#[derive(Debug, Clone, Copy, Default)]
pub struct Built {
    /// Line coverage (the -func total).
    pub line_percent: Option<f64>,
    /// Incremental coverage, when the base branch resolved.
    pub diff_percent: Option<f64>,
}

/// Writes func, HTML and JSON reports (and the incremental ones) for `profile` at `commit`.
pub fn build(
    store: &Store,
    target: &Target,
    parts: &NameParts,
    repo_dir: &std::path::Path,
    commit: &str,
    profile: &Profile,
) -> Result<Built, ReportsError> {
    let tree = SourceTree::open(repo_dir, commit)?;
    let sources = tree.sources_for(profile)?;
    let cov = report::analyze(profile, &sources)?;
    if !cov.unresolved.is_empty() {
        tracing::warn!(name = %parts.name, unresolved = cov.unresolved.len(), first = %cov.unresolved[0], "profile files not found in the repository");
    }
    let commit_id = tree.commit_id();
    let func = report::func::render(&cov);
    let json = report::json::render(&cov, Some(&commit_id));
    let html = report::html::render(&cov, profile, &sources, Some(&commit_id));
    store.write(
        &store.report_path(parts, ReportKind::Func)?,
        func.as_bytes(),
    )?;
    store.write(
        &store.report_path(parts, ReportKind::Json)?,
        json.as_bytes(),
    )?;
    store.write(
        &store.report_path(parts, ReportKind::Html)?,
        html.as_bytes(),
    )?;
    let diff_percent =
        super::diff_reports::build(store, target, parts, &tree, profile, &cov, &sources);
    Ok(Built {
        line_percent: Some(cov.func_total.percent()),
        diff_percent,
    })
}
