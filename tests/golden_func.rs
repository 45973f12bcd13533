//! Golden tests: `goc-adapter report --format func` must be byte-identical to
//! `go tool cover -func` on real profiles of real modules (downloaded through the module proxy)
//! and of our feature fixture, and `--format json` must agree with it.

mod common;
mod tool_path;

use std::path::Path;

use common::{
    assert_same_bytes, fixture, go, go_test, goc_adapter, module_repo, read, repo_from_dir, run,
    run_unchecked, scratch, write,
};

/// `go tool cover -func` on `profile`, run in `dir` (it needs `go list` there).
fn go_cover_func(dir: &Path, profile: &Path) -> Vec<u8> {
    let mut arg = std::ffi::OsString::from("-func=");
    arg.push(profile);
    run(go(dir).args(["tool", "cover"]).arg(arg)).stdout
}

/// Our func report on `profiles` against HEAD of `repo`; asserts success and returns stdout.
fn our_func(repo: &Path, profiles: &[&Path]) -> Vec<u8> {
    run(&mut report_cmd(repo, profiles, "func")).stdout
}

fn report_cmd(repo: &Path, profiles: &[&Path], format: &str) -> std::process::Command {
    let mut cmd = goc_adapter();
    cmd.arg("report").arg("--repo").arg(repo);
    for p in profiles {
        cmd.arg("--profile").arg(p);
    }
    cmd.args(["--format", format]);
    cmd
}

fn our_json(repo: &Path, profiles: &[&Path]) -> serde_json::Value {
    let out = run(&mut report_cmd(repo, profiles, "json"));
    serde_json::from_slice(&out.stdout).expect("report --format json prints JSON")
}

/// The JSON total must print as the func report's total line, and must be the sum of the
/// per-function figures.
fn assert_json_total_matches(repo: &Path, profiles: &[&Path], func_text: &[u8]) {
    let doc = our_json(repo, profiles);
    let total = &doc["total"];
    let pct = total["percent"]
        .as_f64()
        .expect("total.percent is a number");
    let text = String::from_utf8_lossy(func_text);
    let last = text.lines().last().expect("func report has a total line");
    assert!(last.starts_with("total:"), "last func line is {last:?}");
    let func_pct = last.rsplit('\t').next().unwrap_or_default();
    assert_eq!(
        format!("{pct:.1}%"),
        func_pct,
        "JSON total vs func total line"
    );
    let (mut stmts, mut covered) = (0, 0);
    for file in doc["files"].as_array().expect("files is an array") {
        for f in file["functions"].as_array().expect("functions is an array") {
            stmts += f["statements"].as_u64().expect("statements");
            covered += f["covered"].as_u64().expect("covered");
        }
    }
    assert_eq!(
        total["statements"].as_u64(),
        Some(stmts),
        "JSON total statements"
    );
    assert_eq!(
        total["covered"].as_u64(),
        Some(covered),
        "JSON total covered"
    );
}

/// Profiles `pkgs` of `module` with `go test -covermode=<mode> -coverpkg=./...` and compares.
fn golden_module(module: &str, mode: &str, pkgs: &[&str], min_blocks: usize) {
    let repo = module_repo(module);
    let tmp = scratch();
    let profile = tmp.path().join("cover.out");
    let mut args = vec![
        format!("-covermode={mode}"),
        "-coverpkg=./...".to_string(),
        format!("-coverprofile={}", profile.display()),
    ];
    args.extend(pkgs.iter().map(|p| p.to_string()));
    go_test(repo.path(), &args);
    let blocks = read(&profile)
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count()
        - 1;
    assert!(
        blocks >= min_blocks,
        "{module}: only {blocks} blocks in the profile"
    );

    let want = go_cover_func(repo.path(), &profile);
    let got = our_func(repo.path(), &[&profile]);
    assert_same_bytes(&format!("{module} ({mode}) func report"), &got, &want);
    assert_json_total_matches(repo.path(), &[&profile], &got);
}

#[test]
fn uuid_count() {
    golden_module("github.com/google/uuid@v1.6.0", "count", &["./..."], 200);
}

#[test]
fn uuid_set() {
    golden_module("github.com/google/uuid@v1.6.0", "set", &["./..."], 200);
}

#[test]
fn x_sync_count() {
    golden_module("golang.org/x/sync@v0.10.0", "count", &["./..."], 300);
}

#[test]
fn x_sync_set() {
    golden_module("golang.org/x/sync@v0.10.0", "set", &["./..."], 300);
}

/// The expirable package's example depends on timing (flaky on a loaded machine), so it is left
/// out (and with it its files: -coverpkg profiles only packages the tests link).
const LRU_PKGS: &[&str] = &[".", "./simplelru"];

#[test]
fn golang_lru_generics_count() {
    golden_module(
        "github.com/hashicorp/golang-lru/v2@v2.0.7",
        "count",
        LRU_PKGS,
        300,
    );
}

#[test]
fn golang_lru_generics_atomic() {
    golden_module(
        "github.com/hashicorp/golang-lru/v2@v2.0.7",
        "atomic",
        LRU_PKGS,
        300,
    );
}

#[test]
fn x_exp_slices_maps_count() {
    golden_module(
        "golang.org/x/exp@v0.0.0-20241210194714-1829a127f884",
        "count",
        &["./slices", "./maps"],
        500,
    );
}

#[test]
fn x_exp_slices_maps_set() {
    golden_module(
        "golang.org/x/exp@v0.0.0-20241210194714-1829a127f884",
        "set",
        &["./slices", "./maps"],
        500,
    );
}

/// Profiles the features fixture's root module into `dir/name`.
fn profile_features(repo: &Path, dir: &Path, mode: &str) -> std::path::PathBuf {
    let profile = dir.join(format!("features-{mode}.out"));
    go_test(
        repo,
        &[
            format!("-covermode={mode}"),
            "-coverpkg=./...".to_string(),
            format!("-coverprofile={}", profile.display()),
            "./...".to_string(),
        ],
    );
    profile
}

#[test]
fn features_fixture_count_and_set() {
    let repo = repo_from_dir(&fixture("features"));
    let tmp = scratch();
    for mode in ["count", "set"] {
        let profile = profile_features(repo.path(), tmp.path(), mode);
        let want = go_cover_func(repo.path(), &profile);
        let got = our_func(repo.path(), &[&profile]);
        assert_same_bytes(&format!("features ({mode}) func report"), &got, &want);
        assert_json_total_matches(repo.path(), &[&profile], &got);
    }
}

#[test]
fn nested_module_merged_with_our_merge() {
    let repo = repo_from_dir(&fixture("features"));
    let tmp = scratch();
    let root_profile = profile_features(repo.path(), tmp.path(), "count");
    let nested_profile = tmp.path().join("nested.out");
    go_test(
        &repo.path().join("nested"),
        &[
            "-covermode=count".to_string(),
            "-coverpkg=./...".to_string(),
            format!("-coverprofile={}", nested_profile.display()),
            "./...".to_string(),
        ],
    );
    assert!(
        String::from_utf8_lossy(&read(&nested_profile)).contains("example.com/features/nested/"),
        "the nested module's profile names its files"
    );
    let merged = tmp.path().join("merged.out");
    run(goc_adapter()
        .arg("merge")
        .arg(&root_profile)
        .arg(&nested_profile)
        .arg("-o")
        .arg(&merged));

    // go tool cover resolves files with `go list`, which sees both modules only in a workspace.
    // The go.work is written after the commit: our tool reads the commit, not the work tree.
    write(
        &repo.path().join("go.work"),
        "go 1.22\n\nuse (\n\t.\n\t./nested\n)\n",
    );
    let mut arg = std::ffi::OsString::from("-func=");
    arg.push(&merged);
    let want = run(go(repo.path())
        .env("GOWORK", repo.path().join("go.work"))
        .env("GOFLAGS", "-buildvcs=false")
        .args(["tool", "cover"])
        .arg(arg))
    .stdout;
    assert!(
        String::from_utf8_lossy(&want).contains("nested/nested.go:5:"),
        "go tool cover lists the nested module's functions"
    );
    let got = our_func(repo.path(), &[&merged]);
    assert_same_bytes("features + nested (merged) func report", &got, &want);
    // Merging on the fly gives the same report.
    let got2 = our_func(repo.path(), &[&root_profile, &nested_profile]);
    assert_same_bytes(
        "features + nested (two --profile) func report",
        &got2,
        &want,
    );
    assert_json_total_matches(repo.path(), &[&merged], &got);
}

#[test]
fn unresolved_file_is_left_out_and_named() {
    let repo = repo_from_dir(&fixture("features"));
    let tmp = scratch();
    let profile = profile_features(repo.path(), tmp.path(), "count");
    let want = go_cover_func(repo.path(), &profile);

    let elsewhere = "example.com/elsewhere/x.go";
    let mut text = read(&profile);
    text.extend_from_slice(format!("{elsewhere}:1.1,2.2 1 1\n").as_bytes());
    let extended = tmp.path().join("extended.out");
    write(&extended, &text);

    let out = run_unchecked(&mut report_cmd(repo.path(), &[&extended], "func"));
    assert!(
        out.status.success(),
        "report with an unresolved file exits 0: {out:?}"
    );
    assert_same_bytes(
        "func report without the unresolved file",
        &out.stdout,
        &want,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(elsewhere),
        "stderr names {elsewhere}: {stderr}"
    );

    let doc = our_json(repo.path(), &[&extended]);
    assert_eq!(
        doc["unresolved"],
        serde_json::json!([elsewhere]),
        "JSON unresolved list"
    );
    assert_json_total_matches(repo.path(), &[&extended], &want);
}

#[test]
fn json_total_equals_func_total_line() {
    let repo = repo_from_dir(&fixture("features"));
    let tmp = scratch();
    let profile = profile_features(repo.path(), tmp.path(), "set");
    let func = our_func(repo.path(), &[&profile]);
    assert_json_total_matches(repo.path(), &[&profile], &func);
    // And the func total is go tool cover's.
    let want = go_cover_func(repo.path(), &profile);
    let want_total = String::from_utf8_lossy(&want)
        .lines()
        .last()
        .map(str::to_string);
    let got_total = String::from_utf8_lossy(&func)
        .lines()
        .last()
        .map(str::to_string);
    assert_eq!(got_total, want_total);
}
