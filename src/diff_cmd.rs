//! `goc-adapter diff`: incremental coverage of a change, wiring only.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::ValueEnum;

use goc_adapter::incremental;
use goc_adapter::report::{self, diff, diff_format};
use goc_adapter::source::SourceTree;

/// Arguments of `goc-adapter diff`.
#[derive(clap::Args)]
pub struct DiffArgs {
    /// The git repository (only its objects are read; the work tree is ignored).
    #[arg(long)]
    repo: PathBuf,
    /// The commit the profile was built from (the head of the change).
    #[arg(long, default_value = "HEAD")]
    commit: String,
    /// The branch or commit the change is compared with (through their merge-base).
    #[arg(long)]
    base: String,
    /// Profile files (`-` for stdin); several are merged.
    #[arg(long = "profile", required = true)]
    profiles: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Text)]
    format: DiffFormat,
    /// Exit 1 when the total (an integer, as diff-cover computes it) is below this percent.
    #[arg(long, value_name = "PCT")]
    fail_under: Option<f64>,
    /// Which changed lines are measured: as gocover-cobertura + diff-cover do, or only lines
    /// holding statements.
    #[arg(long, value_enum, default_value_t = Lines::DiffCover)]
    lines: Lines,
    /// Changed Go files the profile does not mention: only list them, or also count their
    /// changed lines as missing.
    #[arg(long, value_enum, default_value_t = Unmeasured::List)]
    unmeasured: Unmeasured,
    /// Output file (default stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum DiffFormat {
    Text,
    Json,
    Html,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum Lines {
    DiffCover,
    Statements,
}

#[derive(Clone, Copy, ValueEnum)]
enum Unmeasured {
    List,
    Count,
}

/// Runs the command; exits 1 itself when `--fail-under` is not met (after writing the report).
pub fn run(args: DiffArgs) -> Result<()> {
    // The objects come from the user's own repository; re-hashing every one read (libgit2's
    // default) costs more than the diff itself.
    git2::opts::strict_hash_verification(false);
    let opts = diff::DiffOptions {
        lines: match args.lines {
            Lines::DiffCover => diff::LineRule::DiffCover,
            Lines::Statements => diff::LineRule::Statements,
        },
        unmeasured: match args.unmeasured {
            Unmeasured::List => diff::UnmeasuredPolicy::List,
            Unmeasured::Count => diff::UnmeasuredPolicy::Count,
        },
    };
    // Three independent reads: the diff since the merge-base starts at once on one core; the
    // profile and the head's tree index take the other, which locates the profile's files in
    // the tree and then helps with the files' diffs. From then on (usually before most files
    // are diffed) each diffed file's profile files are analyzed right there.
    let early = incremental::EarlyAnalysis::new(&opts);
    let visit = |path: &str, added: &[u32], text: &[u8]| early.visit(path, added, text);
    let (read, changes) = rayon::join(
        || -> Result<_> {
            let (profile, tree) = rayon::join(
                || crate::load_profiles(&args.profiles),
                || SourceTree::open(&args.repo, &args.commit),
            );
            let (profile, tree) = (Arc::new(profile?), tree?);
            let located = tree.locate(&profile);
            early.ready(Arc::clone(&profile), &located);
            Ok((profile, tree, located))
        },
        || incremental::changed_lines_at(&args.repo, &args.commit, &args.base, &opts, &visit),
    );
    let ((profile, tree, located), changes) = (read?, changes?);
    // Each side resolved the revision itself: a branch moved in between would mix two commits.
    if changes.head != tree.commit_id() {
        anyhow::bail!(
            "{} moved while it was read (it resolved to {} and to {}): run again",
            args.commit,
            tree.commit_id(),
            changes.head
        );
    }
    let done = early.finish()?;
    let inc = incremental::compute_located(&tree, changes, &profile, located, &opts, done)?;
    let unresolved = inc.located.iter().filter(|l| l.is_none()).count();
    if unresolved > 0 {
        tracing::warn!(
            "{unresolved} profile file(s) not found in {} at {}: not measured",
            args.repo.display(),
            inc.changes.head
        );
    }
    let (result, changes) = (&inc.result, &inc.changes);
    let report_name = args.profiles.join(", ");
    let diff_name = format!("{}...{}", args.base, args.commit);
    let meta = diff_format::DiffMeta {
        report_name: &report_name,
        diff_name: &diff_name,
        base: &changes.base,
        merge_base: &changes.merge_base,
        head: &changes.head,
    };
    let out = match args.format {
        DiffFormat::Text => diff_format::text(result, &meta),
        DiffFormat::Json => diff_format::json(result, &meta),
        DiffFormat::Markdown => diff_format::markdown(result, &meta),
        DiffFormat::Html => {
            let sources = tree.sources_for(&profile)?;
            let cov = report::analyze(&profile, &sources)?;
            // Changed lines per profile file, for the markers and the "changed files" view.
            let changed = inc.changed_per_file();
            let summary = diff_format::summary_lines(result, &meta);
            let title = format!("Diff coverage {diff_name}");
            report::html::render_with(
                &cov,
                &profile,
                &sources,
                &report::html::HtmlOptions {
                    title: &title,
                    commit: Some(&changes.head),
                    changed: Some(&changed),
                    summary: &summary,
                },
            )
        }
    };
    crate::write_output(args.output.as_deref(), out.as_bytes())?;
    if let Some(threshold) = args.fail_under
        && !result.meets(threshold)
    {
        eprintln!(
            "goc-adapter: Failure. Coverage is below {threshold}%: diff coverage is {}%",
            result.total_percent()
        );
        std::process::exit(1);
    }
    // The process ends here: freeing the profile, the tree index and the changes piecemeal
    // (1.3 ms for a change of a thousand files) is wasted time.
    std::mem::forget((profile, tree, inc));
    Ok(())
}
