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

/// Writes func, HTML and JSON reports (and the incremental ones) for `profile` at `commit`, in
/// one batch of crash-safe writes.
pub fn build(
    store: &Store,
    target: &Target,
    parts: &NameParts,
    repo: git2::Repository,
    repo_dir: &std::path::Path,
    commit: &str,
    profile: &Profile,
) -> Result<Built, ReportsError> {
    let tree = SourceTree::from_repository(repo, repo_dir, commit)?;
    let sources = tree.sources_for(profile)?;
    let cov = report::analyze(profile, &sources)?;
    if !cov.unresolved.is_empty() {
        tracing::warn!(name = %parts.name, unresolved = cov.unresolved.len(), first = %cov.unresolved[0], "profile files not found in the repository");
    }
    let commit_id = tree.commit_id();
    let mut files = vec![
        (ReportKind::Func, report::func::render(&cov)),
        (
            ReportKind::Json,
            report::json::render(&cov, Some(&commit_id)),
        ),
    ];
    // The incremental page shares the full page's elements of files without changed lines.
    let scripts = report::html::full_scripts(&cov, profile, &sources);
    let full_opts = report::html::HtmlOptions {
        commit: Some(&commit_id),
        ..report::html::HtmlOptions::default()
    };
    files.push((
        ReportKind::Html,
        report::html::render_sharing(&cov, profile, &sources, Some(&scripts), &full_opts),
    ));
    let page = super::diff_reports::Page {
        profile,
        cov: &cov,
        sources: &sources,
        scripts: &scripts,
    };
    let diff_percent =
        super::diff_reports::build(target, parts, &tree, &page).map(|(percent, diff_files)| {
            files.extend(diff_files);
            percent
        });
    // One batch: the report files share a directory, which is then fsynced once.
    let batch = files
        .iter()
        .map(|(kind, text)| Ok((store.report_path(parts, *kind)?, text.as_bytes())))
        .collect::<Result<Vec<_>, StoreError>>()?;
    store.write_all(&batch)?;
    Ok(Built {
        line_percent: Some(cov.func_total.percent()),
        diff_percent,
    })
}
