//! Incremental reports of a changed profile against the target's base branch.

use crate::incremental;
use crate::profile::Profile;
use crate::report::diff::{DiffOptions, LineRule, UnmeasuredPolicy};
use crate::report::{self, Coverage, SourceFile, diff_format};
use crate::source::SourceTree;
use crate::store::ReportKind;
use crate::target::{NameParts, Target};

/// What the full report was built from, and its page's file elements (shared with this page).
#[derive(Clone, Copy)]
pub struct Page<'a> {
    /// The merged profile.
    pub profile: &'a Profile,
    /// Its analysis against the sources.
    pub cov: &'a Coverage,
    /// The sources, by profile file.
    pub sources: &'a [Option<SourceFile>],
    /// The full page's file elements ([`report::html::full_scripts`]).
    pub scripts: &'a [Option<Vec<u8>>],
}

/// The incremental reports (text, JSON, HTML, markdown) to write, with the diff percent, or
/// `None` (logged) when the base branch cannot be used. A missing base must not cost the full
/// reports, so this never fails the sync.
pub fn build(
    target: &Target,
    parts: &NameParts,
    tree: &SourceTree,
    page: &Page<'_>,
) -> Option<(f64, Vec<(ReportKind, String)>)> {
    let Page {
        profile,
        cov,
        sources,
        scripts,
    } = *page;
    let opts = DiffOptions {
        lines: LineRule::DiffCover,
        unmeasured: UnmeasuredPolicy::List,
    };
    let inc = match incremental::compute(tree, &target.base_branch, profile, &opts) {
        Ok(inc) => inc,
        Err(e) => {
            tracing::warn!(name = %parts.name, base = %target.base_branch, error = %e, "incremental report not built");
            return None;
        }
    };
    let report_name = format!("{}.cov", parts.name);
    let diff_name = format!("{}...{}", target.base_branch, parts.commit);
    let meta = diff_format::DiffMeta {
        report_name: &report_name,
        diff_name: &diff_name,
        base: &inc.changes.base,
        merge_base: &inc.changes.merge_base,
        head: &inc.changes.head,
    };
    let changed = inc.changed_per_file();
    let summary = diff_format::summary_lines(&inc.result, &meta);
    let title = format!("Diff coverage {} ({diff_name})", parts.name);
    let html = report::html::render_sharing(
        cov,
        profile,
        sources,
        Some(scripts),
        &report::html::HtmlOptions {
            title: &title,
            commit: Some(&inc.changes.head),
            changed: Some(&changed),
            summary: &summary,
        },
    );
    let files = vec![
        (ReportKind::DiffText, diff_format::text(&inc.result, &meta)),
        (ReportKind::DiffJson, diff_format::json(&inc.result, &meta)),
        (
            ReportKind::DiffMarkdown,
            diff_format::markdown(&inc.result, &meta),
        ),
        (ReportKind::DiffHtml, html),
    ];
    Some((inc.result.total_percent() as f64, files))
}
