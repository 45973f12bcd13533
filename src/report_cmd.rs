//! `goc-adapter report`: a full report of a profile against the sources of a commit.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::ValueEnum;

use goc_adapter::profile::Profile;
use goc_adapter::report;
use goc_adapter::source::SourceTree;

/// Arguments of `goc-adapter report`.
#[derive(clap::Args)]
pub struct ReportArgs {
    /// The git repository holding the sources.
    #[arg(long)]
    repo: PathBuf,
    /// The commit the profile was built from.
    #[arg(long, default_value = "HEAD")]
    commit: String,
    /// Profile files (`-` for stdin); several are merged.
    #[arg(long = "profile", required = true)]
    profiles: Vec<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Func)]
    format: ReportFormat,
    /// Output file (default stdout).
    #[arg(short, long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Func,
    Html,
    Json,
}

/// Runs `goc-adapter report`.
pub fn run(args: ReportArgs) -> Result<()> {
    // Parsing the profile and indexing the tree are independent: one core each.
    let (merged, tree) = rayon::join(
        || crate::load_profiles(&args.profiles),
        || SourceTree::open(&args.repo, &args.commit),
    );
    let (merged, tree) = (merged?, tree?);
    // Everything a report needs of a source is taken from its blob as it is inflated
    // (declarations; for HTML also the file's embedded element), on all cores, and the
    // text is dropped at once.
    let commit_id = tree.commit_id();
    let (cov, written) = match args.format {
        ReportFormat::Html => {
            // Written while the sources are read; an error leaves no file behind.
            let mut done = None;
            let written = crate::write_output_with(args.output.as_deref(), |w| {
                let result = html_streamed(&merged, &tree, &commit_id, w);
                let failed = result.is_err();
                done = Some(result);
                if failed {
                    // Stops the write (no file is left); the report's own error is returned.
                    return Err(std::io::Error::other("the report failed"));
                }
                Ok(())
            });
            match done {
                Some(Ok(cov)) => (cov, written),
                Some(Err(e)) => return Err(e),
                None => return written,
            }
        }
        ReportFormat::Func | ReportFormat::Json => {
            let decls =
                tree.map_sources(&merged, |_, path, text| report::scan_decls(path, text))?;
            let cov = report::analyze_decls(&merged, decls)?;
            let text = match args.format {
                ReportFormat::Func => report::func::render(&cov),
                _ => report::json::render(&cov, Some(&commit_id)),
            };
            let written = crate::write_output(args.output.as_deref(), text.as_bytes());
            (cov, written)
        }
    };
    for name in &cov.unresolved {
        tracing::warn!(file = %name, "not found in {} at {}: left out of the report", args.repo.display(), commit_id);
    }
    // The process ends here: freeing the profile, the tree index and the report's
    // structures (hundreds of thousands of allocations for a big module) is wasted time.
    std::mem::forget((merged, tree, cov));
    written
}

/// A full HTML report written to `w` while its sources are read: the pool builds each file's
/// element as its blob is inflated, and this thread writes them in profile order meanwhile
/// (writing 8 MB and waiting for its fsync took a quarter of a big report's time after the
/// reading). Then the totals, index and script, once the declarations are analysed.
fn html_streamed(
    merged: &Profile,
    tree: &SourceTree,
    commit: &str,
    w: &mut dyn Write,
) -> Result<report::Coverage> {
    // The blobs to read, on the pool (the tree itself cannot leave this thread).
    let sources = tree.sources(merged);
    let present = sources.present();
    report::html::write_start(w)?;
    let (tx, rx) = std::sync::mpsc::channel::<(usize, Vec<u8>)>();
    let decls = std::thread::scope(|s| -> Result<_> {
        let reader = s.spawn(move || {
            sources.map(|i, path, text| {
                let blocks = merged.files.get(i).map_or(&[][..], |f| &f.blocks[..]);
                let script = report::html::source_script(i, text, blocks, merged.mode);
                // The receiver lives until every element is sent (it drains on errors too).
                let _ = tx.send((i, script));
                report::scan_decls(path, text)
            })
        });
        // Elements that arrive before an earlier file's wait for it.
        let mut early = std::collections::BTreeMap::new();
        let mut next = 0;
        let mut failed = None;
        for (i, script) in rx {
            early.insert(i, script);
            while next < present.len() {
                if present[next] {
                    let Some(script) = early.remove(&next) else {
                        break;
                    };
                    if failed.is_none()
                        && let Err(e) = w.write_all(&script)
                    {
                        failed = Some(e);
                    }
                }
                next += 1;
            }
        }
        let decls = match reader.join() {
            Ok(read) => read?,
            Err(_) => bail!("reading the sources failed (a thread panicked)"),
        };
        match failed {
            Some(e) => Err(e.into()),
            None => Ok(decls),
        }
    })?;
    let cov = report::analyze_decls(merged, decls)?;
    report::html::write_end(&cov, &present, Some(commit), w)?;
    Ok(cov)
}
