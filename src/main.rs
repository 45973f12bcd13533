//! The `goc-adapter` command line: wiring only; the work is in the library.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use goc_adapter::profile::{self, Profile};
use goc_adapter::report;
use goc_adapter::source::SourceTree;

#[derive(Parser)]
#[command(name = "goc-adapter", version, about = "Coverage of Go services under system test")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Merge profiles of the same build (set: OR, count/atomic: sum) into one normalized profile.
    Merge {
        /// Profile files (`-` for stdin).
        #[arg(required = true)]
        profiles: Vec<String>,
        /// Output file (default stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Full report of a profile against the sources of a commit.
    Report {
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
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Func,
    Html,
    Json,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("goc-adapter: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Merge { profiles, output } => {
            let merged = load_profiles(&profiles)?;
            write_output(output.as_deref(), merged.to_text().as_bytes())
        }
        Command::Report {
            repo,
            commit,
            profiles,
            format,
            output,
        } => {
            let merged = load_profiles(&profiles)?;
            let tree = SourceTree::open(&repo, &commit)?;
            let sources = tree.sources_for(&merged)?;
            let cov = report::analyze(&merged, &sources)?;
            for name in &cov.unresolved {
                tracing::warn!(file = %name, "not found in {} at {}: left out of the report", repo.display(), tree.commit_id());
            }
            let commit_id = tree.commit_id();
            let text = match format {
                ReportFormat::Func => report::func::render(&cov),
                ReportFormat::Json => report::json::render(&cov, Some(&commit_id)),
                ReportFormat::Html => report::html::render(&cov, &merged, &sources, Some(&commit_id)),
            };
            write_output(output.as_deref(), text.as_bytes())
        }
    }
}

/// Reads and merges profile files; `-` is stdin (once).
fn load_profiles(names: &[String]) -> Result<Profile> {
    let mut parsed = Vec::with_capacity(names.len());
    let mut stdin_used = false;
    for name in names {
        let data = if name == "-" {
            if stdin_used {
                bail!("`-` (stdin) given more than once");
            }
            stdin_used = true;
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading profile from stdin")?;
            buf
        } else {
            std::fs::read(name).with_context(|| format!("reading profile {name}"))?
        };
        parsed.push((name.as_str(), profile::parse(name, &data)?));
    }
    let refs: Vec<(&str, &Profile)> = parsed.iter().map(|(n, p)| (*n, p)).collect();
    match profile::merge(&refs)? {
        Some(p) => Ok(p),
        None => bail!("no profile given"),
    }
}

fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    match path {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes).context("writing to stdout")?;
            out.flush().context("writing to stdout")
        }
        Some(p) => goc_adapter::fsutil::write_atomic(p, bytes)
            .with_context(|| format!("writing {}", p.display())),
    }
}
