//! Helpers shared by the integration tests: real Go modules from the module proxy, throw-away git
//! repositories, the go tool and our binary. Every helper panics with a message that says what
//! was run and why it failed, so a missing tool or a broken step is never a silent skip.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub use crate::tool_path::require_tool;

/// Path of the goc-adapter binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_goc-adapter"))
}

/// A command running our binary.
pub fn goc_adapter() -> Command {
    Command::new(bin())
}

/// The crate's root directory.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fixture directory under tests/fixtures.
pub fn fixture(name: &str) -> PathBuf {
    let dir = manifest_dir().join("tests/fixtures").join(name);
    assert!(dir.is_dir(), "fixture {} is missing", dir.display());
    dir
}

/// A one-line description of a command, for failure messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    if let Some(dir) = cmd.get_current_dir() {
        s.push_str(&format!("  (in {})", dir.display()));
    }
    s
}

/// Runs a command and returns its output whatever its exit status.
pub fn run_unchecked(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)))
}

/// Runs a command and asserts that it succeeded; its stderr is in the panic message.
pub fn run(cmd: &mut Command) -> Output {
    let out = run_unchecked(cmd);
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n--- stderr ---\n{}\n--- stdout (first 4 KiB) ---\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout[..out.stdout.len().min(4096)]),
    );
    out
}

/// A `go` command in `dir` that never downloads a toolchain and may update go.mod/go.sum.
pub fn go(dir: &Path) -> Command {
    require_tool("go");
    let mut cmd = Command::new("go");
    cmd.current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod -buildvcs=false")
        // Tests must not see a go.work of an enclosing directory.
        .env("GOWORK", "off");
    cmd
}

/// Runs `go test` with `args` in `dir` and asserts it passed.
pub fn go_test<S: AsRef<OsStr>>(dir: &Path, args: &[S]) -> Output {
    run(go(dir).arg("test").args(args))
}

/// A module version as the module proxy delivered it into the module cache.
#[derive(Debug, Clone)]
pub struct Downloaded {
    /// Module path.
    pub path: String,
    /// Its version.
    pub version: String,
    /// The extracted (read-only) module directory.
    pub dir: PathBuf,
    /// The go.mod the proxy serves (synthesized for modules without one).
    pub go_mod: PathBuf,
}

/// Downloads `path@version` through the module proxy (`go mod download -json`).
pub fn download_module(path_at_version: &str) -> Downloaded {
    let tmp = std::env::temp_dir();
    let out = run(go(&tmp).args(["mod", "download", "-json", path_at_version]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("go mod download -json {path_at_version}: bad JSON: {e}"));
    if let Some(err) = v.get("Error").and_then(|e| e.as_str()) {
        panic!("go mod download {path_at_version}: {err}");
    }
    let field = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_else(|| panic!("go mod download -json {path_at_version}: no {k} in {v}"))
            .to_string()
    };
    Downloaded {
        path: field("Path"),
        version: field("Version"),
        dir: PathBuf::from(field("Dir")),
        go_mod: PathBuf::from(field("GoMod")),
    }
}

/// Copies a directory tree, making everything writable (module cache files are read-only).
pub fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap_or_else(|e| panic!("mkdir {}: {e}", dst.display()));
    let entries = fs::read_dir(src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let ty = entry
            .file_type()
            .unwrap_or_else(|e| panic!("stat {}: {e}", from.display()));
        if ty.is_dir() {
            copy_tree(&from, &to);
        } else if ty.is_file() {
            fs::copy(&from, &to)
                .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
            let mode = if fs::metadata(&from)
                .map(|m| m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
            {
                0o755
            } else {
                0o644
            };
            fs::set_permissions(&to, fs::Permissions::from_mode(mode))
                .unwrap_or_else(|e| panic!("chmod {}: {e}", to.display()));
        }
        // Symlinks are not part of module zips; anything else is skipped.
    }
    fs::set_permissions(dst, fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", dst.display()));
}

/// A `git` command in `dir` that ignores the user's and system's git configuration.
pub fn git(dir: &Path) -> Command {
    require_tool("git");
    let mut cmd = Command::new("git");
    cmd.current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=goc-adapter tests",
            "-c",
            "user.email=tests@goc-adapter.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ]);
    cmd
}

/// Runs git in `dir` with `args`, asserting success; its stdout, trimmed.
pub fn git_text(dir: &Path, args: &[&str]) -> String {
    let out = run(git(dir).args(args));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Makes `dir` a repository whose `master` has `commits` commits (each rewrites a.txt) and whose
/// `feature` branch forks off the `fork_at`-th of them with `feature_commits` of its own
/// (rewriting b.txt); `master` is left checked out. Returns the fork point and feature's tip.
pub fn branched_history(
    dir: &Path,
    commits: usize,
    fork_at: usize,
    feature_commits: usize,
) -> (String, String) {
    git_text(dir, &["init", "-q", "-b", "master"]);
    let commit = |file: &str, i: usize, message: String| {
        write(&dir.join(file), format!("{i}\n"));
        git_text(dir, &["add", file]);
        git_text(dir, &["commit", "-q", "-m", &message]);
    };
    for i in 1..=commits {
        commit("a.txt", i, format!("m{i}"));
        if i == fork_at {
            git_text(dir, &["branch", "feature"]);
        }
    }
    git_text(dir, &["checkout", "-q", "feature"]);
    for i in 1..=feature_commits {
        commit("b.txt", i, format!("f{i}"));
    }
    git_text(dir, &["checkout", "-q", "master"]);
    (
        git_text(dir, &["rev-parse", &format!("feature~{feature_commits}")]),
        git_text(dir, &["rev-parse", "feature"]),
    )
}

/// Commits everything in `dir` (which becomes a repository if it is not one yet); returns the
/// new commit's id.
pub fn git_commit_all(dir: &Path, message: &str) -> String {
    if !dir.join(".git").exists() {
        run(git(dir).args(["init", "-q"]));
    }
    // -f: a module's own .gitignore must not hide files the profile names.
    run(git(dir).args(["add", "-A", "-f", "."]));
    run(git(dir).args(["commit", "-q", "--allow-empty", "-m", message]));
    let out = run(git(dir).args(["rev-parse", "HEAD"]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A fresh git repository holding a copy of `src`, committed once.
pub fn repo_from_dir(src: &Path) -> TempDir {
    let tmp = tempfile::Builder::new()
        .prefix("goc-adapter-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir: {e}"));
    copy_tree(src, tmp.path());
    git_commit_all(tmp.path(), "import");
    tmp
}

/// A fresh git repository holding `path@version` from the module proxy, committed once. A module
/// without its own go.mod gets the one the proxy synthesizes.
pub fn module_repo(path_at_version: &str) -> TempDir {
    let m = download_module(path_at_version);
    let tmp = tempfile::Builder::new()
        .prefix("goc-adapter-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir: {e}"));
    copy_tree(&m.dir, tmp.path());
    let go_mod = tmp.path().join("go.mod");
    if !go_mod.exists() {
        fs::copy(&m.go_mod, &go_mod)
            .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", m.go_mod.display(), go_mod.display()));
        fs::set_permissions(&go_mod, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", go_mod.display()));
    }
    git_commit_all(tmp.path(), &format!("import {path_at_version}"));
    tmp
}

/// A scratch directory for profiles and outputs (kept apart from the repositories).
pub fn scratch() -> TempDir {
    tempfile::Builder::new()
        .prefix("goc-adapter-scratch-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir: {e}"))
}

/// Reads a file, panicking with its name on failure.
pub fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Writes a file, panicking with its name on failure.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()))
}

/// Asserts two outputs are byte-identical; on failure shows the first differing line.
pub fn assert_same_bytes(what: &str, got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let g = String::from_utf8_lossy(got);
    let w = String::from_utf8_lossy(want);
    let (gl, wl): (Vec<&str>, Vec<&str>) = (g.split('\n').collect(), w.split('\n').collect());
    let i = gl
        .iter()
        .zip(&wl)
        .position(|(a, b)| a != b)
        .unwrap_or(gl.len().min(wl.len()));
    panic!(
        "{what}: outputs differ at line {}:\n  got:  {:?}\n  want: {:?}\n({} vs {} lines)\n--- got ---\n{g}\n--- want ---\n{w}",
        i + 1,
        gl.get(i).copied().unwrap_or("<end>"),
        wl.get(i).copied().unwrap_or("<end>"),
        gl.len(),
        wl.len(),
    );
}
