//! Incremental reports of a changed profile against the target's base branch.

use crate::incremental;
use crate::profile::Profile;
use crate::report::diff::{DiffOptions, LineRule, UnmeasuredPolicy};
use crate::report::{self, Coverage, SourceFile, diff_format};
use crate::source::SourceTree;
use crate::store::{ReportKind, Store};
use crate::target::{NameParts, Target};

/// Writes the incremental reports (text, JSON, HTML, markdown); returns the diff percent, or
/// `None` (logged) when the base branch cannot be used. A missing base must not cost the full
/// reports, so this never fails the sync.
pub fn build(
    store: &Store,
    target: &Target,
    parts: &NameParts,
    tree: &SourceTree,
    profile: &Profile,
    cov: &Coverage,
    sources: &[Option<SourceFile>],
) -> Option<f64> {
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
    let html = report::html::render_with(
        cov,
        profile,
        sources,
        &report::html::HtmlOptions {
            title: &title,
            commit: Some(&inc.changes.head),
            changed: Some(&changed),
            summary: &summary,
        },
    );
    let files = [
        (ReportKind::DiffText, diff_format::text(&inc.result, &meta)),
        (ReportKind::DiffJson, diff_format::json(&inc.result, &meta)),
        (
            ReportKind::DiffMarkdown,
            diff_format::markdown(&inc.result, &meta),
        ),
        (ReportKind::DiffHtml, html),
    ];
    for (kind, text) in files {
        let written = store
            .report_path(parts, kind)
            .and_then(|p| store.write(&p, text.as_bytes()));
        if let Err(e) = written {
            tracing::warn!(name = %parts.name, error = %e, "writing an incremental report failed");
            return None;
        }
    }
    Some(inc.result.total_percent() as f64)
}
