//! The classic incremental pipeline (`gocover-cobertura < profile > cov.xml && diff-cover cov.xml
//! --compare-branch=BASE`) and `goc-adapter diff`, run side by side and compared.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::common::{describe, goc_adapter, require_tool, run, run_unchecked};

/// What the classic pipeline printed.
pub struct Classic {
    /// diff-cover's JSON report.
    pub json: Value,
    /// diff-cover's console report (stdout).
    pub console: String,
    /// diff-cover's exit status.
    pub status: i32,
    /// diff-cover's stderr.
    pub stderr: String,
}

/// Environment for the go tools that keeps them off the network's toolchains and off an
/// enclosing go.work (unless the test itself is about a workspace).
fn go_env(cmd: &mut Command, workspace: bool) {
    cmd.env("GOTOOLCHAIN", "local");
    if workspace {
        // -mod=mod is refused in workspace mode.
        cmd.env("GOFLAGS", "-buildvcs=false");
    } else {
        cmd.env("GOFLAGS", "-mod=mod -buildvcs=false")
            .env("GOWORK", "off");
    }
}

/// git as diff-cover runs it, without the user's or the system's configuration.
fn git_env(cmd: &mut Command) {
    cmd.env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
}

/// `gocover-cobertura < profile > out_dir/cov.xml`, run in `module_dir`; returns the XML's path.
pub fn gocover_cobertura(
    module_dir: &Path,
    profile: &Path,
    out_dir: &Path,
    workspace: bool,
) -> PathBuf {
    let tool = require_tool("gocover-cobertura");
    let stdin =
        std::fs::File::open(profile).unwrap_or_else(|e| panic!("open {}: {e}", profile.display()));
    let mut cmd = Command::new(tool);
    cmd.current_dir(module_dir).stdin(stdin);
    go_env(&mut cmd, workspace);
    let out = run(&mut cmd);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("skipping profile"),
        "gocover-cobertura skipped files:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = out_dir.join("cov.xml");
    std::fs::write(&xml, &out.stdout).unwrap_or_else(|e| panic!("write {}: {e}", xml.display()));
    xml
}

/// `diff-cover cov.xml --compare-branch=BASE --format json:...` run in `cwd`, plus `extra` args.
pub fn diff_cover(cwd: &Path, xml: &Path, base: &str, out_dir: &Path, extra: &[&str]) -> Classic {
    let tool = require_tool("diff-cover");
    require_tool("git");
    let json_path = out_dir.join("diff-cover.json");
    let _ = std::fs::remove_file(&json_path);
    let mut cmd = Command::new(tool);
    cmd.current_dir(cwd)
        .arg(xml)
        .arg(format!("--compare-branch={base}"))
        .arg("--format")
        .arg(format!("json:{}", json_path.display()))
        .args(extra);
    git_env(&mut cmd);
    let out = run_unchecked(&mut cmd);
    let status = out.status.code().unwrap_or(-1);
    assert!(
        status == 0 || status == 1,
        "`{}` failed ({}):\n{}",
        describe(&cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_slice(&crate::common::read(&json_path))
        .unwrap_or_else(|e| panic!("diff-cover JSON: {e}"));
    Classic {
        json,
        console: String::from_utf8_lossy(&out.stdout).into_owned(),
        status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `goc-adapter diff --repo REPO --base BASE --profile P --format F` plus `extra`; not checked.
pub fn ours_unchecked(
    repo: &Path,
    base: &str,
    profile: &Path,
    format: &str,
    extra: &[&str],
) -> Output {
    let mut cmd = goc_adapter();
    cmd.arg("diff")
        .arg("--repo")
        .arg(repo)
        .arg("--base")
        .arg(base)
        .arg("--profile")
        .arg(profile)
        .args(["--format", format])
        .args(extra);
    run_unchecked(&mut cmd)
}

/// Our report in `format`, asserting success.
pub fn ours(repo: &Path, base: &str, profile: &Path, format: &str, extra: &[&str]) -> String {
    let out = ours_unchecked(repo, base, profile, format, extra);
    assert!(
        out.status.success(),
        "goc-adapter diff --format {format} {extra:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Our JSON report.
pub fn ours_json(repo: &Path, base: &str, profile: &Path, extra: &[&str]) -> Value {
    serde_json::from_str(&ours(repo, base, profile, "json", extra))
        .expect("goc-adapter diff --format json prints JSON")
}

/// The keys whose values must be equal to diff-cover's (report_name and diff_name name things
/// differently on purpose).
const SAME_KEYS: [&str; 5] = [
    "src_stats",
    "total_num_lines",
    "total_num_violations",
    "total_percent_covered",
    "num_changed_lines",
];

/// Asserts that our JSON and text reports say what the classic pipeline says.
pub fn assert_same_as_classic(what: &str, classic: &Classic, our_json: &Value, our_text: &str) {
    for key in SAME_KEYS {
        let (want, got) = (&classic.json[key], &our_json[key]);
        if want != got {
            if key == "src_stats" {
                explain_src_stats(what, want, got);
            }
            panic!("{what}: {key} differs:\n  diff-cover: {want}\n  ours:       {got}");
        }
    }
    // The console report, line for line; only the diff's name differs: we read commits, never
    // the index or the work tree, and say so.
    let want = classic
        .console
        .replacen(", staged and unstaged changes\n", "\n", 1);
    if !our_text.starts_with(&want) {
        crate::common::assert_same_bytes(
            &format!("{what}: console report"),
            &our_text.as_bytes()[..want.len().min(our_text.len())],
            want.as_bytes(),
        );
    }
}

fn explain_src_stats(what: &str, want: &Value, got: &Value) {
    let (Some(w), Some(g)) = (want.as_object(), got.as_object()) else {
        return;
    };
    for (path, ws) in w {
        match g.get(path) {
            None => eprintln!("{what}: {path} only in diff-cover: {ws}"),
            Some(gs) if gs != ws => {
                eprintln!("{what}: {path}:\n  diff-cover: {ws}\n  ours:       {gs}")
            }
            _ => {}
        }
    }
    for path in g.keys().filter(|p| !w.contains_key(*p)) {
        eprintln!("{what}: {path} only in ours: {}", g[path]);
    }
}

/// Asserts the work tree of `repo` is clean (diff-cover adds staged and unstaged changes).
pub fn assert_clean(repo: &Path) {
    let mut cmd = crate::common::git(repo);
    let out = run(cmd.args(["status", "--porcelain", "--untracked-files=no"]));
    assert!(
        out.stdout.is_empty(),
        "work tree of {} is not clean:\n{}",
        repo.display(),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The full id of `rev` in `repo`.
pub fn rev_parse(repo: &Path, rev: &str) -> String {
    let mut cmd = crate::common::git(repo);
    let out = run(cmd.args(["rev-parse", rev]));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Runs a git command in `repo`, asserting success.
pub fn git_in(repo: &Path, args: &[&str]) {
    let mut cmd = crate::common::git(repo);
    run(cmd.args(args));
}

/// Line numbers of a src_stats entry's `key` (e.g. `covered_lines`), empty if absent.
pub fn lines_of(doc: &Value, path: &str, key: &str) -> Vec<u64> {
    doc["src_stats"][path][key]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default()
}

/// `go test -covermode=MODE -coverprofile=PROFILE PKGS` in `dir` (in workspace mode if asked).
pub fn go_test_profile(dir: &Path, mode: &str, profile: &Path, pkgs: &[&str], workspace: bool) {
    require_tool("go");
    let mut cmd = Command::new("go");
    cmd.current_dir(dir)
        .arg("test")
        .arg("-count=1")
        .arg(format!("-covermode={mode}"))
        .arg(format!("-coverprofile={}", profile.display()))
        .args(pkgs);
    go_env(&mut cmd, workspace);
    run(&mut cmd);
}
