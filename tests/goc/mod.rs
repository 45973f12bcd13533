//! End-to-end harness with the real goc v1 pieces: a `goc server`, the echoserver example built
//! with `goc build` (one build per goc server, since `goc build` bakes the server address into
//! the binary), replicas of it, `goc-adapter serve`, a malformed agent and a pod-monitor double.
//! Every wait has a timeout and panics saying what it waited for. Processes die on drop.
//!
//! Use from tests/e2e_*.rs as `mod goc;`. The tools (goc, go, git) must be on PATH
//! (`source scripts/env.sh`); a missing one is a failure, never a skip.

// Each test file uses a different subset of the harness.
#![allow(dead_code)]

pub mod doubles;
pub mod http;
pub mod procs;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub use crate::tool_path::require_tool;

#[allow(unused_imports)]
pub use doubles::{FakeAgent, PodMonitor};
#[allow(unused_imports)]
pub use procs::{Adapter, GocServer, Replica};

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A port that was free on 127.0.0.1 a moment ago (callers retry if it was taken meanwhile).
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding 127.0.0.1:0")
}

/// Runs a command, panicking with its output if it cannot start or fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
    );
    out
}

/// The crate's root directory.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The echoserver repository shared by all tests of one test binary.
pub struct Workspace {
    /// Scratch root of this process (removed by the next run once this process is gone).
    pub root: PathBuf,
    /// The git repository (work tree at the feature commit).
    pub repo: PathBuf,
    /// Full id of the feature commit the binaries are built from.
    pub commit: String,
    /// Full id of the master commit (the diff base).
    pub base_commit: String,
    /// Built binaries by goc server URL.
    builds: Mutex<HashMap<String, PathBuf>>,
}

/// The process-wide workspace: the echoserver repository made once by
/// examples/make-echoserver-repo.sh (master + feature commit).
pub fn workspace() -> &'static Workspace {
    static WS: OnceLock<Workspace> = OnceLock::new();
    WS.get_or_init(|| {
        require_tool("goc");
        require_tool("go");
        require_tool("git");
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        remove_stale_workspaces(&base);
        let root = base.join(format!("goc-e2e-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("creating the e2e workspace");
        let repo = root.join("repo");
        let out = run(Command::new("bash")
            .arg(manifest_dir().join("examples/make-echoserver-repo.sh"))
            .arg(&repo));
        let commit = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(
            commit.len(),
            40,
            "make-echoserver-repo.sh printed {commit:?}"
        );
        let base_out = run(Command::new("git")
            .args(["rev-parse", "master"])
            .current_dir(&repo));
        Workspace {
            root,
            repo,
            commit,
            base_commit: String::from_utf8_lossy(&base_out.stdout).trim().to_string(),
            builds: Mutex::new(HashMap::new()),
        }
    })
}

/// Removes workspaces left by earlier test processes that no longer run.
fn remove_stale_workspaces(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix("goc-e2e-")
            && !Path::new("/proc").join(pid).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

impl Workspace {
    /// The registered name of the feature build:
    /// `staging_th_apa_goc_echoserver_feature_<10-hex commit>`.
    pub fn service_name(&self) -> String {
        format!(
            "staging_th_apa_goc_echoserver_feature_{}",
            &self.commit[..10]
        )
    }

    /// The echoserver built by `goc build --center <center>` (count mode), built once per
    /// center. Builds run one at a time: goc derives its temp dir from the source path.
    pub fn binary_for(&self, center: &str) -> PathBuf {
        let mut builds = self.builds.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = builds.get(center) {
            return p.clone();
        }
        let n = builds.len();
        let dir = self.root.join(format!("build-{n}"));
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp).expect("creating a build dir");
        let bin = dir.join("echoserver");
        run(Command::new("goc")
            .args(["build", "--center", center, "--mode", "count", "-o"])
            .arg(&bin)
            .arg(".")
            .env("TMPDIR", &tmp)
            .current_dir(&self.repo));
        assert!(bin.is_file(), "goc build did not write {}", bin.display());
        builds.insert(center.to_string(), bin.clone());
        bin
    }

    /// The line where `func <name>` starts in `file` (relative to the repo) at the feature commit.
    pub fn func_line(&self, file: &str, name: &str) -> u32 {
        let text = std::fs::read_to_string(self.repo.join(file))
            .unwrap_or_else(|e| panic!("reading {file} in the echoserver repo: {e}"));
        let needle = format!("func {name}(");
        text.lines()
            .position(|l| l.starts_with(&needle))
            .map(|i| i as u32 + 1)
            .unwrap_or_else(|| panic!("no `{needle}` in {file}"))
    }

    /// `go tool cover -func` on `profile`, run in the repository.
    pub fn go_tool_cover_func(&self, profile: &str) -> String {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("merged.cov");
        std::fs::write(&path, profile).expect("writing a profile");
        let out = run(Command::new("go")
            .args(["tool", "cover"])
            .arg(format!("-func={}", path.display()))
            .current_dir(&self.repo));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The import path prefix of the echoserver's files in profiles.
pub const IMPORT_PATH: &str = "example.com/echoserver";

/// One block of a profile line: `file:l0.c0,l1.c1`.
pub type BlockKey = String;

/// A profile as block -> (statements, count); file order and duplicate lines do not matter
/// (duplicates are summed, as a count-mode merge does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The `mode:` value.
    pub mode: String,
    /// Blocks.
    pub blocks: BTreeMap<BlockKey, (u32, u64)>,
}

/// Parses profile text, panicking on anything that is not a profile.
pub fn parse_counts(text: &str) -> Counts {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let mode = lines
        .next()
        .and_then(|l| l.strip_prefix("mode: "))
        .unwrap_or_else(|| panic!("not a profile (no mode line): {text:.200}"))
        .to_string();
    let mut blocks = BTreeMap::new();
    for l in lines {
        let mut parts = l.rsplitn(3, ' ');
        let (count, stmts, key) = match (parts.next(), parts.next(), parts.next()) {
            (Some(c), Some(s), Some(k)) => (c, s, k),
            _ => panic!("bad profile line {l:?}"),
        };
        let count: u64 = count
            .parse()
            .unwrap_or_else(|_| panic!("bad count in {l:?}"));
        let stmts: u32 = stmts
            .parse()
            .unwrap_or_else(|_| panic!("bad stmts in {l:?}"));
        let e = blocks.entry(key.to_string()).or_insert((stmts, 0));
        e.1 += count;
    }
    Counts { mode, blocks }
}

impl Counts {
    /// The summed count of the block of `file` (e.g. `handlers.go`) that starts on `line`.
    pub fn count_at(&self, file: &str, line: u32) -> u64 {
        let prefix = format!("{IMPORT_PATH}/{file}:{line}.");
        let hits: Vec<u64> = self
            .blocks
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.1)
            .collect();
        assert!(!hits.is_empty(), "no block of {file} starts on line {line}");
        hits.iter().sum()
    }

    /// Sum of all counts of `file`.
    pub fn file_total(&self, file: &str) -> u64 {
        let prefix = format!("{IMPORT_PATH}/{file}:");
        self.blocks
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v.1)
            .sum()
    }

    /// Blocks whose count differs from `other`'s: (block, self, other).
    pub fn differences(&self, other: &Counts) -> Vec<(BlockKey, u64, u64)> {
        let mut keys: Vec<&BlockKey> = self.blocks.keys().chain(other.blocks.keys()).collect();
        keys.sort();
        keys.dedup();
        keys.into_iter()
            .filter_map(|k| {
                let a = self.blocks.get(k).map_or(0, |v| v.1);
                let b = other.blocks.get(k).map_or(0, |v| v.1);
                (a != b).then(|| (k.clone(), a, b))
            })
            .collect()
    }

    /// Element-wise sum with `other` (a count-mode merge of the same build).
    pub fn plus(&self, other: &Counts) -> Counts {
        let mut blocks = self.blocks.clone();
        for (k, (s, c)) in &other.blocks {
            blocks.entry(k.clone()).or_insert((*s, 0)).1 += c;
        }
        Counts {
            mode: self.mode.clone(),
            blocks,
        }
    }
}

/// Options of the CoverageTarget written by [`write_target`].
#[derive(Debug, Clone)]
pub struct TargetOptions {
    /// `spec.probe.failures`.
    pub failures: u32,
    /// `spec.podMonitor.url` (status at `/status`, online value `Running`).
    pub pod_monitor: Option<String>,
    /// `spec.schedule.interval`; long so the tests drive syncs themselves.
    pub interval: String,
}

impl Default for TargetOptions {
    fn default() -> Self {
        TargetOptions {
            failures: 3,
            pod_monitor: None,
            interval: "1h".to_string(),
        }
    }
}

/// Writes `dir/target.yaml`: one CoverageTarget for `goc_server` and the workspace repo.
pub fn write_target(dir: &Path, goc_server: &str, opts: &TargetOptions) -> PathBuf {
    let q = |s: &str| serde_json::Value::from(s).to_string();
    let mut y = String::new();
    let _ = write!(
        y,
        "apiVersion: coverage.goc-adapter.io/v1alpha1\n\
         kind: CoverageTarget\n\
         metadata:\n  name: e2e\n\
         spec:\n\
         \x20 gocServer: {}\n\
         \x20 services:\n    match: \"^staging_\"\n\
         \x20 repo:\n    url: {}\n    baseBranch: origin/master\n\
         \x20 schedule:\n    interval: {}\n    jitter: 1s\n\
         \x20 retention:\n    history: 5\n\
         \x20 probe:\n    failures: {}\n    timeout: 5s\n",
        q(goc_server),
        q(&workspace().repo.to_string_lossy()),
        q(&opts.interval),
        opts.failures,
    );
    if let Some(url) = &opts.pod_monitor {
        let _ = write!(
            y,
            "  podMonitor:\n    url: {}\n    statusPointer: /status\n    onlineValues: [Running]\n",
            q(url)
        );
    }
    let path = dir.join("target.yaml");
    std::fs::write(&path, y).expect("writing the target file");
    path
}
