//! The `goc-adapter` command line: wiring only; the work is in the library.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use goc_adapter::profile::{self, Profile};

mod diff_cmd;
mod heap;
mod report_cmd;

#[derive(Parser)]
#[command(
    name = "goc-adapter",
    version,
    about = "Coverage of Go services under system test"
)]
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
    Report(report_cmd::ReportArgs),
    /// Collect from goc servers and serve reports, without Kubernetes.
    Serve(ServeArgs),
    /// Incremental coverage of a change: the lines it adds since the merge-base with a base
    /// branch, measured as gocover-cobertura + diff-cover do (or by statements).
    Diff(Box<diff_cmd::DiffArgs>),
    /// Run as a Kubernetes operator: CoverageTargets from the cluster, Pods as liveness.
    Controller(ControllerArgs),
    /// Print the CoverageTarget CustomResourceDefinition (YAML).
    Crd,
}

#[derive(clap::Args)]
struct ControllerArgs {
    /// Address for the HTTP API and portal.
    #[arg(long, default_value = "0.0.0.0:8080")]
    listen: String,
    /// Storage directory, the PVC mount (else GOC_ADAPTER_HOME).
    #[arg(long, env = "GOC_ADAPTER_HOME")]
    home: PathBuf,
    /// File holding the bearer token that write endpoints require.
    #[arg(long, env = "GOC_ADAPTER_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Namespace of the leader-election Lease.
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// Name of the leader-election Lease.
    #[arg(long, default_value = "goc-adapter-leader")]
    lease_name: String,
    /// This replica's identity in the Lease (defaults to POD_NAME, else the host name).
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Watch CoverageTargets and Pods of this namespace only (default: all namespaces).
    #[arg(long, env = "WATCH_NAMESPACE")]
    namespace: Option<String>,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// CoverageTarget YAML file (one or more documents).
    #[arg(long)]
    config: PathBuf,
    /// Address for the HTTP API and portal.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// Storage directory (else GOC_ADAPTER_HOME).
    #[arg(long, env = "GOC_ADAPTER_HOME")]
    home: PathBuf,
    /// File holding the bearer token that write endpoints require (else GOC_ADAPTER_TOKEN_FILE).
    #[arg(long, env = "GOC_ADAPTER_TOKEN_FILE")]
    token_file: Option<PathBuf>,
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = run(Cli::parse()) {
        eprintln!("goc-adapter: {e:#}");
        std::process::exit(2);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Controller(args) => controller(args),
        Command::Crd => {
            use kube::CustomResourceExt as _;
            let crd = goc_adapter::target::CoverageTarget::crd();
            let yaml = serde_yaml_ng::to_string(&crd).context("serializing the CRD")?;
            write_output(None, yaml.as_bytes())
        }
        Command::Diff(args) => {
            heap::tune_for_batch();
            diff_cmd::run(*args)
        }
        Command::Merge { profiles, output } => {
            let inputs = read_profiles(&profiles)?;
            let merged =
                profile::merged_text(&named(&profiles, &inputs))?.context("no profile given")?;
            // Straight out: no copy of the whole text in memory.
            write_output_with(output.as_deref(), |w| merged.write(w))?;
            // The inputs (mapped or read) are left to process exit, like the report structures.
            std::mem::forget(merged);
            std::mem::forget(inputs);
            Ok(())
        }
        Command::Report(args) => {
            heap::tune_for_batch();
            report_cmd::run(args)
        }
    }
}

/// Reads and merges profile files; `-` is stdin (once).
fn load_profiles(names: &[String]) -> Result<Profile> {
    let inputs = read_profiles(names)?;
    let merged = profile::parse_merged(&named(names, &inputs))?.context("no profile given")?;
    // The inputs (mapped or read) are left to process exit, like the report structures.
    std::mem::forget(inputs);
    Ok(merged)
}

/// Each input's bytes with the name it was given as.
fn named<'a>(
    names: &'a [String],
    inputs: &'a [goc_adapter::fsutil::Input],
) -> Vec<(&'a str, &'a [u8])> {
    names
        .iter()
        .map(String::as_str)
        .zip(inputs.iter().map(|i| &i[..]))
        .collect()
}

/// Reads profile files (large ones mapped); `-` is stdin (once).
fn read_profiles(names: &[String]) -> Result<Vec<goc_adapter::fsutil::Input>> {
    if names.iter().filter(|n| *n == "-").count() > 1 {
        bail!("`-` (stdin) given more than once");
    }
    let inputs: Vec<goc_adapter::fsutil::Input> = names
        .iter()
        .map(|name| {
            if name == "-" {
                let mut buf = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut buf)
                    .context("reading profile from stdin")?;
                Ok(goc_adapter::fsutil::Input::Read(buf))
            } else {
                goc_adapter::fsutil::read_input(Path::new(name))
                    .with_context(|| format!("reading profile {name}"))
            }
        })
        .collect::<Result<_>>()?;
    Ok(inputs)
}

fn write_output(path: Option<&Path>, bytes: &[u8]) -> Result<()> {
    write_output_with(path, |w| w.write_all(bytes))
}

/// Writes what `fill` produces to `path` (crash-safe) or stdout.
fn write_output_with(
    path: Option<&Path>,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    match path {
        None => {
            let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
            fill(&mut out)
                .and_then(|()| out.flush())
                .context("writing to stdout")
        }
        // A device or pipe (`-o /dev/null`, `-o /dev/stdout`) is written to, never renamed over.
        Some(p) if std::fs::metadata(p).is_ok_and(|m| !m.is_file()) => std::fs::OpenOptions::new()
            .write(true)
            .open(p)
            .and_then(|f| {
                let mut w = std::io::BufWriter::with_capacity(1 << 16, f);
                fill(&mut w)?;
                w.flush()
            })
            .with_context(|| format!("writing {}", p.display())),
        Some(p) => goc_adapter::fsutil::write_atomic_with(p, 0o644, fill)
            .with_context(|| format!("writing {}", p.display())),
    }
}

fn read_token(path: Option<&Path>) -> Result<Option<String>> {
    let Some(p) = path else { return Ok(None) };
    let token = std::fs::read_to_string(p)
        .with_context(|| format!("reading token file {}", p.display()))?
        .trim()
        .to_string();
    Ok(Some(token).filter(|t| !t.is_empty()))
}

/// Everything `serve` and `controller` share: store, collector, API.
struct Service {
    collector: std::sync::Arc<goc_adapter::collector::Collector>,
    api: std::sync::Arc<goc_adapter::api::ApiState>,
    writable: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

fn service(
    home: &Path,
    targets: Vec<goc_adapter::target::Target>,
    token: Option<String>,
) -> Result<Service> {
    let store = goc_adapter::store::Store::open(home)?;
    let metrics = std::sync::Arc::new(goc_adapter::metrics::Metrics::new());
    let collector = std::sync::Arc::new(goc_adapter::collector::Collector::new(
        store, targets, metrics,
    )?);
    let writable = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let api = std::sync::Arc::new(goc_adapter::api::ApiState {
        collector: collector.clone(),
        ready: true.into(),
        write_token: token,
        writable: writable.clone(),
        files: goc_adapter::api::FileCache::default(),
    });
    Ok(Service {
        collector,
        api,
        writable,
    })
}

async fn serve_http(listen: &str, api: std::sync::Arc<goc_adapter::api::ApiState>) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    eprintln!("listening on http://{local}");
    axum::serve(listener, goc_adapter::api::router(api))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("HTTP server")
}

fn serve(args: ServeArgs) -> Result<()> {
    let targets = goc_adapter::target::load_file(&args.config)?;
    let token = read_token(args.token_file.as_deref())?;
    // Before any thread fetches: libgit2's list of transports is not locked.
    goc_adapter::source::register_transports();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let svc = service(&args.home, targets, token)?;
        tokio::spawn(svc.collector.clone().run());
        serve_http(&args.listen, svc.api).await
    })
}

fn controller(args: ControllerArgs) -> Result<()> {
    let token = read_token(args.token_file.as_deref())?;
    let identity = match args.identity {
        Some(i) => i,
        None => std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| format!("goc-adapter-{}", std::process::id())),
    };
    goc_adapter::source::register_transports();
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = kube::Client::try_default()
            .await
            .context("connecting to Kubernetes")?;
        let svc = service(&args.home, Vec::new(), token)?;
        svc.writable
            .store(false, std::sync::atomic::Ordering::Relaxed);
        tokio::spawn(svc.collector.clone().run());
        let http = tokio::spawn({
            let api = svc.api.clone();
            let listen = args.listen.clone();
            async move { serve_http(&listen, api).await }
        });
        let lease = goc_adapter::controller::LeaseOptions {
            namespace: args.lease_namespace,
            name: args.lease_name,
            identity,
        };
        goc_adapter::controller::run(client, svc.collector, lease, svc.writable, args.namespace)
            .await?;
        http.abort();
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM (what Kubernetes sends).
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
}
