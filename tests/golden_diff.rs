//! Golden tests of `goc-adapter diff` against the classic pipeline it replaces:
//! `gocover-cobertura < profile > cov.xml && diff-cover cov.xml --compare-branch=BASE`
//! (gocover-cobertura v1.5.0 from tools/cover, diff-cover 11.0.1 from tools/requirements.txt).
//!
//! Each case builds a git repository in a temp dir (released versions of real modules from the
//! module proxy as base and head, or a small history with renames, deletions, new files and
//! merges), profiles the head with `go test`, runs both sides and compares measured lines,
//! violations, per-file percent, totals and the console layout.

mod common;
mod diffsupport;
mod tool_path;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use goc_adapter::source::changes::{Numbering, changed_lines};

use common::{copy_tree, download_module, git_commit_all, scratch, write};
use diffsupport::{
    assert_clean, assert_same_as_classic, diff_cover, git_in, go_test_profile, gocover_cobertura,
    lines_of, ours, ours_json, ours_unchecked, rev_parse,
};

/// Removes everything in `dir` but `.git`.
fn clear_work_tree(dir: &Path) {
    for entry in fs::read_dir(dir).expect("read repo dir") {
        let entry = entry.expect("read repo dir");
        if entry.file_name() == ".git" {
            continue;
        }
        let p = entry.path();
        if p.is_dir() {
            fs::remove_dir_all(&p).expect("remove dir");
        } else {
            fs::remove_file(&p).expect("remove file");
        }
    }
}

/// A repository with a profile of its head, ready for both pipelines.
struct Setup {
    repo: tempfile::TempDir,
    /// Scratch space for the profile and the reports.
    tmp: tempfile::TempDir,
    /// Where gocover-cobertura runs: the module, or the workspace root.
    moddir: PathBuf,
    profile: PathBuf,
    /// Whether the go tools run in workspace mode (go.work).
    workspace: bool,
}

impl Setup {
    fn r(&self) -> &Path {
        self.repo.path()
    }

    /// Runs the classic pipeline (diff-cover in each of `cwds`) and ours, and compares them.
    fn compare(&self, what: &str, cwds: &[&Path], base: &str) -> serde_json::Value {
        let tmp = self.tmp.path();
        let xml = gocover_cobertura(&self.moddir, &self.profile, tmp, self.workspace);
        let our_json = ours_json(self.r(), base, &self.profile, &[]);
        let our_text = ours(self.r(), base, &self.profile, "text", &[]);
        for cwd in cwds {
            let classic = diff_cover(cwd, &xml, base, tmp, &[]);
            assert_eq!(
                classic.status, 0,
                "{what}: diff-cover failed: {}",
                classic.stderr
            );
            assert_same_as_classic(
                &format!("{what} (diff-cover in {})", cwd.display()),
                &classic,
                &our_json,
                &our_text,
            );
        }
        our_json
    }
}

/// A repository whose branch `base` holds `module@v1` and whose HEAD holds `module@v2` (both in
/// `subdir`), with a profile of v2's tests in `mode`.
fn released(module: &str, v1: &str, v2: &str, subdir: &str, mode: &str) -> Setup {
    let old = download_module(&format!("{module}@{v1}"));
    let new = download_module(&format!("{module}@{v2}"));
    let repo = tempfile::Builder::new()
        .prefix("goc-adapter-diff-")
        .tempdir()
        .expect("temp dir");
    let moddir = repo.path().join(subdir);
    copy_tree(&old.dir, &moddir);
    write(&repo.path().join("README.md"), "vendored for a test\n");
    git_commit_all(repo.path(), &format!("{module} {v1}"));
    git_in(repo.path(), &["branch", "base"]);
    clear_work_tree(repo.path());
    copy_tree(&new.dir, &moddir);
    write(
        &repo.path().join("README.md"),
        "vendored for a test\nupdated\n",
    );
    let tmp = scratch();
    let profile = tmp.path().join("cover.out");
    go_test_profile(&moddir, mode, &profile, &["./..."], false);
    // go test may have completed go.sum: part of the head commit, so the work tree is clean.
    git_commit_all(repo.path(), &format!("{module} {v2}"));
    assert_clean(repo.path());
    Setup {
        repo,
        tmp,
        moddir,
        profile,
        workspace: false,
    }
}

#[test]
fn released_versions_module_at_the_root_set_mode() {
    let s = released("github.com/google/uuid", "v1.3.0", "v1.6.0", "", "set");
    let doc = s.compare("uuid v1.3.0..v1.6.0", &[s.r()], "base");
    assert!(
        doc["total_num_lines"].as_u64().unwrap() > 50,
        "a real change: {doc}"
    );
    assert!(
        doc["total_num_violations"].as_u64().unwrap() > 0,
        "some lines missed: {doc}"
    );
    // node_js.go (`//go:build js`) changed but is not built here: diff-cover says nothing of it.
    let unmeasured = doc["unmeasured_files"].as_array().unwrap();
    assert!(
        unmeasured.iter().any(|u| u["path"] == "node_js.go"),
        "node_js.go is unmeasured: {doc}"
    );
}

#[test]
fn released_versions_module_in_a_subdirectory_count_mode() {
    let s = released(
        "github.com/spf13/pflag",
        "v1.0.3",
        "v1.0.6",
        "third_party/pflag",
        "count",
    );
    // diff-cover finds the classes through gocover-cobertura's <source> (the module directory)
    // whether it runs at the repository root or in the module.
    let doc = s.compare("pflag v1.0.3..v1.0.6", &[s.r(), &s.moddir], "base");
    assert!(doc["src_stats"].as_object().unwrap().len() > 10, "{doc}");
    assert!(
        doc["src_stats"]
            .as_object()
            .unwrap()
            .keys()
            .all(|k| k.starts_with("third_party/pflag/")),
        "paths are repository paths: {doc}"
    );
}

#[test]
fn released_versions_atomic_mode() {
    let s = released("github.com/gorilla/mux", "v1.7.4", "v1.8.1", "", "atomic");
    let doc = s.compare("mux v1.7.4..v1.8.1", &[s.r()], "base");
    assert!(doc["total_num_lines"].as_u64().unwrap() > 10, "{doc}");
}

const CALC_V0: &str = r#"package calc

import "errors"

// Acc accumulates.
type Acc struct{ n int }

// Add adds.
func (a *Acc) Add(x int) int {
	a.n += x
	return a.n
}

// Div divides.
func Div(a, b int) (int, error) {
	if b == 0 {
		return 0, errors.New("div by zero")
	}
	return a / b, nil
}

// Double is a package-level literal.
var Double = func(x int) int {
	return 2 * x
}

var initial = func() int {
	return 1
}()
"#;

const CALC_TEST_V0: &str = r#"package calc

import "testing"

func TestDiv(t *testing.T) {
	if v, err := Div(4, 2); err != nil || v != 2 {
		t.Fatal(v, err)
	}
	var a Acc
	if a.Add(2) != 2 {
		t.Fatal()
	}
	if Legacy(3) != 3 {
		t.Fatal()
	}
}
"#;

const LEGACY: &str = r#"package calc

// Legacy is an old helper.
func Legacy(x int) int {
	if x > 100 {
		return 100
	}
	if x < 0 {
		return 0
	}
	// keep as is
	return x
}

// Other is another old helper.
func Other(s string) string {
	switch s {
	case "a":
		return "A"
	case "b":
		return "B"
	}
	return s
}
"#;

/// The shop repository: module example.com/shop in svc/.
///
/// ```text
/// c0 ── t1 (topic)            feature: m1 ── f1 (HEAD)
///   \      \
///    ────── m1 (merge topic) ── m2 (main moved on)
/// ```
/// f1 edits calc.go (new branch, a package-level literal, an untested method, two functions on
/// one line), renames legacy.go to modern.go with a small edit, deletes gone.go, rewrites the end
/// of noeol.go (which had no final newline), adds fresh.go (tested package, never called) and
/// extra/extra.go (a package the profile leaves out), and edits README.md.
fn shop() -> Setup {
    let repo = tempfile::Builder::new()
        .prefix("goc-adapter-shop-")
        .tempdir()
        .expect("temp dir");
    let r = repo.path();
    let svc = r.join("svc");
    fs::create_dir_all(svc.join("calc")).unwrap();
    write(&r.join("README.md"), "# shop\n");
    write(&svc.join("go.mod"), "module example.com/shop\n\ngo 1.22\n");
    write(&svc.join("calc/calc.go"), CALC_V0);
    write(&svc.join("calc/calc_test.go"), CALC_TEST_V0);
    write(&svc.join("calc/legacy.go"), LEGACY);
    write(
        &svc.join("calc/gone.go"),
        "package calc\n\nfunc gone() int { return 7 }\n",
    );
    write(
        &svc.join("calc/noeol.go"),
        "package calc\n\nfunc NoEOL(x int) int {\n\treturn x + 1\n}\n\nfunc Last() int { return 5 }",
    );
    git_commit_all(r, "c0");
    git_in(r, &["checkout", "-q", "-b", "topic"]);
    write(
        &svc.join("calc/topic.go"),
        "package calc\n\n// Topic is from a topic branch.\nfunc Topic() int {\n\treturn 42\n}\n",
    );
    git_commit_all(r, "t1");
    git_in(r, &["checkout", "-q", "main"]);
    git_in(r, &["merge", "-q", "--no-ff", "-m", "merge topic", "topic"]);
    git_in(r, &["checkout", "-q", "-b", "feature"]);

    let calc = CALC_V0
        .replace(
            "\t\treturn 0, errors.New(\"div by zero\")\n\t}\n",
            "\t\treturn 0, errors.New(\"div by zero\")\n\t}\n\tif b < 0 {\n\t\t// negative divisor: flip signs\n\t\ta, b = -a, -b\n\t}\n",
        )
        .replace(
            "var Double = func(x int) int {\n",
            "var Double = func(x int) int {\n\tif x > 1000 {\n\t\treturn 0\n\t}\n",
        )
        + "\n// Sub subtracts; never tested.\nfunc (a *Acc) Sub(x int) int {\n\ta.n -= x\n\n\treturn a.n\n}\n\nfunc One() int { return 1 }; func Two() int { return 2 }\n";
    write(&svc.join("calc/calc.go"), calc);
    write(
        &svc.join("calc/calc_test.go"),
        CALC_TEST_V0.replace(
            "\tif Legacy(3) != 3 {",
            "\tif Double(2) != 4 || One() != 1 || NoEOL(1) != 2 {\n\t\tt.Fatal()\n\t}\n\tif Legacy(3) != 3 {",
        ),
    );
    fs::remove_file(svc.join("calc/legacy.go")).unwrap();
    write(
        &svc.join("calc/modern.go"),
        LEGACY.replace(
            "\t// keep as is\n",
            "\t// keep as is, but log\n\tx = x + 0\n",
        ),
    );
    fs::remove_file(svc.join("calc/gone.go")).unwrap();
    write(
        &svc.join("calc/noeol.go"),
        "package calc\n\nfunc NoEOL(x int) int {\n\tif x < 0 {\n\t\treturn 0\n\t}\n\treturn x + 1\n}\n\nfunc Last() int { return 6 }\n",
    );
    fs::create_dir_all(svc.join("extra")).unwrap();
    write(
        &svc.join("extra/extra.go"),
        "package extra\n\n// Hello is untested.\nfunc Hello() string {\n\treturn \"hi\"\n}\n",
    );
    write(
        &svc.join("calc/fresh.go"),
        "package calc\n\n// Fresh is new.\nfunc Fresh(x int) int {\n\tif x > 0 {\n\t\treturn x\n\t}\n\treturn -x\n}\n",
    );
    write(&r.join("README.md"), "# shop\n\nNow with more.\n");
    git_commit_all(r, "f1");

    git_in(r, &["checkout", "-q", "main"]);
    write(
        &svc.join("calc/mainonly.go"),
        "package calc\n\n// MainOnly moved on.\nfunc MainOnly() int {\n\treturn 3\n}\n",
    );
    write(
        &svc.join("calc/calc.go"),
        CALC_V0.replace("// Add adds.", "// Add adds x."),
    );
    git_commit_all(r, "m2");
    git_in(r, &["checkout", "-q", "feature"]);

    let tmp = scratch();
    let profile = tmp.path().join("cover.out");
    // Only the calc package is profiled: extra/ is a changed package the profile never mentions.
    go_test_profile(&svc, "set", &profile, &["./calc/"], false);
    assert_clean(r);
    Setup {
        repo,
        tmp,
        moddir: svc,
        profile,
        workspace: false,
    }
}

#[test]
fn history_with_rename_delete_new_files_and_a_merged_base() {
    let s = shop();
    let (r, svc, profile, tmp) = (s.r(), &s.moddir, &s.profile, &s.tmp);
    let doc = s.compare("shop", &[r, svc], "main");

    let stats = doc["src_stats"].as_object().unwrap();
    let mut files: Vec<&str> = stats.keys().map(String::as_str).collect();
    files.sort();
    assert_eq!(
        files,
        [
            "svc/calc/calc.go",
            "svc/calc/fresh.go",
            "svc/calc/modern.go",
            "svc/calc/noeol.go"
        ]
    );
    // The rename is followed: only the edited lines of modern.go count, not the whole file (the
    // edited comment on line 11 precedes its block).
    assert_eq!(lines_of(&doc, "svc/calc/modern.go", "covered_lines"), [12]);
    assert_eq!(
        lines_of(&doc, "svc/calc/modern.go", "violation_lines"),
        Vec::<u64>::new()
    );
    // Comment and blank lines inside blocks count in diff-cover's rule (line 20 is a comment).
    assert!(lines_of(&doc, "svc/calc/calc.go", "violation_lines").contains(&20));
    // The package the profile leaves out is reported, not silently dropped.
    assert_eq!(
        doc["unmeasured_files"],
        serde_json::json!([{"path": "svc/extra/extra.go", "changed_lines": 6}])
    );
    assert_eq!(doc["num_changed_lines"], 42);

    // --unmeasured count: the 6 lines join the total as missing.
    let counted = ours_json(r, "main", profile, &["--unmeasured", "count"]);
    assert_eq!(
        counted["total_num_lines"].as_u64().unwrap(),
        doc["total_num_lines"].as_u64().unwrap() + 6
    );
    assert_eq!(
        counted["total_num_violations"].as_u64().unwrap(),
        doc["total_num_violations"].as_u64().unwrap() + 6
    );
    assert_eq!(counted["src_stats"], doc["src_stats"]);

    // --lines statements: a subset of diff-cover's lines, without comments, blanks and braces,
    // and with true line numbers after noeol.go's missing final newline.
    let st = ours_json(r, "main", profile, &["--lines", "statements"]);
    assert_eq!(
        lines_of(&st, "svc/calc/calc.go", "violation_lines"),
        [21, 29, 40, 42]
    );
    assert_eq!(
        lines_of(&st, "svc/calc/noeol.go", "violation_lines"),
        [5, 10]
    );
    assert_eq!(lines_of(&st, "svc/calc/noeol.go", "covered_lines"), [4]);
    // diff-cover numbers the lines after `\ No newline at end of file` one too high: the
    // rewritten last line 10 becomes line 11, past the end of the file, so it is not measured.
    assert_eq!(
        lines_of(&doc, "svc/calc/noeol.go", "violation_lines"),
        [5, 6]
    );
    for (path, s) in st["src_stats"].as_object().unwrap() {
        let dc: Vec<u64> = [
            lines_of(&doc, path, "covered_lines"),
            lines_of(&doc, path, "violation_lines"),
        ]
        .concat();
        let ours_st: Vec<u64> = [
            lines_of(&st, path, "covered_lines"),
            lines_of(&st, path, "violation_lines"),
        ]
        .concat();
        if path != "svc/calc/noeol.go" {
            assert!(ours_st.iter().all(|l| dc.contains(l)), "{path}: {s}");
        }
    }

    // --fail-under agrees with diff-cover's, both ways around the total.
    let total = doc["total_percent_covered"].as_u64().unwrap();
    let xml = tmp.path().join("cov.xml");
    for (threshold, want) in [(format!("{total}"), 0), (format!("{total}.5"), 1)] {
        let classic = diff_cover(r, &xml, "main", tmp.path(), &["--fail-under", &threshold]);
        assert_eq!(classic.status, want, "diff-cover --fail-under {threshold}");
        let out = ours_unchecked(r, "main", profile, "text", &["--fail-under", &threshold]);
        assert_eq!(
            out.status.code(),
            Some(want),
            "goc-adapter --fail-under {threshold}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.contains("Coverage is below"),
            want == 1,
            "stderr: {stderr}"
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("-------------\nDiff Coverage\n"));
    }

    // Every format names the merge-base.
    let mb = rev_parse(r, "main~1");
    let text = ours(r, "main", profile, "text", &[]);
    assert!(text.contains(&format!("Merge base: {mb}")), "{text}");
    assert!(text.contains("  svc/extra/extra.go (6 lines)"), "{text}");
    let md = ours(r, "main", profile, "markdown", &[]);
    assert!(md.contains(&mb[..12]), "{md}");
    assert!(md.contains("| `svc/calc/fresh.go` | 0.0% | 4-8 |"), "{md}");
    assert!(md.contains("`svc/extra/extra.go` (6 lines)"), "{md}");
    let html = ours(r, "main", profile, "html", &[]);
    assert!(html.contains(&mb), "HTML names the merge-base");
    assert!(
        html.contains("svc/extra/extra.go"),
        "HTML lists the unmeasured file"
    );
}

#[test]
fn base_branch_moved_on_counts_only_the_change_since_the_merge_base() {
    let s = shop();
    let (r, profile) = (s.r(), &s.profile);
    let merge_base = rev_parse(r, "main~1");
    let doc = ours_json(r, "main", profile, &[]);
    assert_eq!(doc["merge_base"], merge_base.as_str());
    assert_eq!(doc["base"], rev_parse(r, "main").as_str());
    assert_eq!(doc["head"], rev_parse(r, "HEAD").as_str());
    // main's own later work is not part of the change.
    let text = serde_json::to_string(&doc).unwrap();
    assert!(!text.contains("mainonly.go"), "{text}");
    // calc.go's comment edited on main (line 8) is not a changed line of the feature.
    assert!(!lines_of(&doc, "svc/calc/calc.go", "covered_lines").contains(&8));
    assert!(!lines_of(&doc, "svc/calc/calc.go", "violation_lines").contains(&8));
    // Comparing with the merge-base itself gives the same lines.
    let direct = ours_json(r, &merge_base, profile, &[]);
    assert_eq!(direct["src_stats"], doc["src_stats"]);
    assert_eq!(direct["merge_base"], merge_base.as_str());
    // And diff-cover agrees.
    s.compare("shop, base moved on", &[&s.moddir], "main");
    // A base that names nothing is an error (exit 2) that says which revision.
    let out = ours_unchecked(r, "no-such-branch", profile, "text", &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\"no-such-branch\""), "{stderr}");
}

#[test]
fn workspace_modules_with_the_same_file_name() {
    // gocover-cobertura names classes relative to their module and lists every module as a
    // <source>; diff-cover joins every source with every class file name, so a change to b/x.go
    // also takes a/x.go's line entries. We reproduce that in the diff-cover rule.
    let repo = tempfile::Builder::new()
        .prefix("goc-adapter-ws-")
        .tempdir()
        .expect("temp dir");
    let r = repo.path();
    write(&r.join("go.work"), "go 1.22\n\nuse (\n\t./a\n\t./b\n)\n");
    for m in ["a", "b"] {
        fs::create_dir_all(r.join(m)).unwrap();
        write(
            &r.join(m).join("go.mod"),
            format!("module example.com/{m}\n\ngo 1.22\n"),
        );
    }
    write(
        &r.join("a/x.go"),
        "package a\n\n// F is a's.\nfunc F(x int) int {\n\tif x > 0 {\n\t\treturn 1\n\t}\n\treturn 0\n}\n\n// G is never called.\nfunc G() int {\n\treturn 7\n}\n",
    );
    write(
        &r.join("a/x_test.go"),
        "package a\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { F(1) }\n",
    );
    write(
        &r.join("b/x.go"),
        "package b\n\n// H is b's.\nfunc H(x int) int {\n\treturn x\n}\n",
    );
    write(
        &r.join("b/x_test.go"),
        "package b\n\nimport \"testing\"\n\nfunc TestH(t *testing.T) { H(1) }\n",
    );
    git_commit_all(r, "c0");
    git_in(r, &["checkout", "-q", "-b", "feature"]);
    write(
        &r.join("b/x.go"),
        "package b\n\n// H is b's.\nfunc H(x int) int {\n\tif x > 5 {\n\t\treturn 5\n\t}\n\tif x < -5 {\n\t\treturn -5\n\t}\n\treturn x\n}\n",
    );
    git_commit_all(r, "f1");
    let tmp = scratch();
    let profile = tmp.path().join("cover.out");
    go_test_profile(r, "set", &profile, &["./a/...", "./b/..."], true);
    assert_clean(r);
    let s = Setup {
        moddir: r.to_path_buf(),
        repo,
        tmp,
        profile,
        workspace: true,
    };
    let doc = s.compare("workspace", &[s.r()], "main");
    // Line 8 of b/x.go ran, but a/x.go's line 8 did not: diff-cover calls it missing.
    assert_eq!(
        lines_of(&doc, "b/x.go", "violation_lines"),
        [6, 7, 8, 9, 10]
    );
    // The statements rule looks at b/x.go alone.
    let st = ours_json(s.r(), "main", &s.profile, &["--lines", "statements"]);
    assert_eq!(lines_of(&st, "b/x.go", "violation_lines"), [6, 9]);
}

/// The added lines per file of `git diff -U0 <base>...HEAD`, parsed as diff-cover 11 parses
/// them (a `\ No newline at end of file` marker advances the line counter too).
fn git_added_lines(repo: &Path, base: &str) -> BTreeMap<String, Vec<u32>> {
    let out = {
        let mut cmd = common::git(repo);
        common::run(
            cmd.args(["diff", "--no-color", "--no-ext-diff", "-U0"])
                .arg(format!("{base}...HEAD")),
        )
        .stdout
    };
    let text = String::from_utf8_lossy(&out);
    let mut files: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    let mut path: Option<String> = None;
    let mut in_hunk = false;
    let mut next = 0u32;
    for line in text.split('\n') {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            assert!(!rest.contains('"'), "quoted path in {line:?}");
            path = rest.rsplit_once(" b/").map(|(_, p)| p.to_string());
            in_hunk = false;
        } else if line.starts_with("@@") {
            in_hunk = true;
            let plus = line.split(' ').nth(2).expect("hunk header");
            next = plus[1..].split(',').next().unwrap().parse().unwrap();
        } else if in_hunk && line.starts_with('+') {
            files.entry(path.clone().unwrap()).or_default().push(next);
            next += 1;
        } else if in_hunk && !line.starts_with('-') {
            next += 1;
        }
    }
    files
}

/// What the diff handed over for one file: its added lines and its head text.
type Visited = (Vec<u32>, Vec<u8>);

#[test]
fn added_lines_and_renames_match_git_on_large_real_changes() {
    // client-go v0.30.0 -> v0.31.0: ~1,300 changed files and 35 renames, several at 51-52%
    // similarity, where libgit2's own rename scoring pairs other files than git; grpc v1.58.0 ->
    // v1.62.0: ~340 files, among them one whose added lines git finds only after trimming the
    // common tail of both versions (as `git diff -U0` does), libgit2 otherwise.
    for (module, old, new) in [
        ("k8s.io/client-go", "v0.30.0", "v0.31.0"),
        ("google.golang.org/grpc", "v1.58.0", "v1.62.0"),
    ] {
        let what = format!("{module} {old}..{new}");
        let old = download_module(&format!("{module}@{old}"));
        let new = download_module(&format!("{module}@{new}"));
        let repo = tempfile::Builder::new()
            .prefix("goc-adapter-changes-")
            .tempdir()
            .expect("temp dir");
        let r = repo.path();
        copy_tree(&old.dir, r);
        git_commit_all(r, "old");
        git_in(r, &["branch", "base"]);
        clear_work_tree(r);
        copy_tree(&new.dir, r);
        git_commit_all(r, "new");

        let want = git_added_lines(r, "base");
        let git_repo = git2::Repository::open(r).expect("open repo");
        // Every changed Go file is handed over with its added lines and head text; the texts
        // are kept only where the visitor asks (here: paths of even length). The added lines do
        // not depend on it.
        let keep = |path: &str| path.len().is_multiple_of(2);
        let visited: Mutex<BTreeMap<String, Visited>> = Mutex::default();
        let visit = |path: &str, added: &[u32], text: &[u8]| {
            let seen = visited
                .lock()
                .unwrap()
                .insert(path.to_string(), (added.to_vec(), text.to_vec()));
            assert!(seen.is_none(), "{path} visited twice");
            keep(path)
        };
        let changes = changed_lines(&git_repo, "base", "HEAD", Numbering::DiffCover, &visit)
            .expect("changed lines");
        let visited = visited.into_inner().unwrap();
        let go_files: BTreeMap<&str, &Vec<u32>> = changes
            .files
            .iter()
            .filter(|f| f.path.ends_with(".go"))
            .map(|f| (f.path.as_str(), &f.added))
            .collect();
        let visited_lines: BTreeMap<&str, &Vec<u32>> =
            visited.iter().map(|(p, (a, _))| (p.as_str(), a)).collect();
        assert_eq!(
            visited_lines, go_files,
            "{what}: visited files and their lines"
        );
        let kept: BTreeSet<&str> = changes.go_contents.keys().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = go_files.keys().copied().filter(|p| keep(p)).collect();
        assert_eq!(kept, wanted, "{what}: kept texts");
        assert!(wanted.len() > 50, "{what}: {} texts kept", wanted.len());
        let head = git_repo
            .head()
            .and_then(|h| h.peel_to_tree())
            .expect("head tree");
        for (path, (_, text)) in &visited {
            let blob = head
                .get_path(Path::new(path))
                .and_then(|e| e.to_object(&git_repo))
                .and_then(|o| o.peel_to_blob())
                .expect("head blob");
            assert_eq!(blob.content(), &text[..], "{what}: {path}: visited text");
            if let Some(kept) = changes.go_contents.get(path) {
                assert_eq!(kept, text, "{what}: {path}: kept text");
            }
        }
        let got: BTreeMap<String, Vec<u32>> = changes
            .files
            .iter()
            .filter(|f| !f.added.is_empty())
            .map(|f| (f.path.clone(), f.added.clone()))
            .collect();
        assert!(
            want.len() > 300,
            "{what}: {} files with added lines",
            want.len()
        );
        if got != want {
            for (p, l) in &want {
                if got.get(p) != Some(l) {
                    eprintln!("{what}: {p}:\n  git  {l:?}\n  ours {:?}", got.get(p));
                }
            }
            for p in got.keys().filter(|p| !want.contains_key(*p)) {
                eprintln!("{what}: {p}: only ours");
            }
            panic!("{what}: added lines differ from git's");
        }

        // The whole command agrees with diff-cover on the count (an empty profile measures
        // nothing, so every changed Go file is listed as unmeasured).
        let tmp = scratch();
        let profile = tmp.path().join("empty.out");
        write(&profile, "mode: set\n");
        let doc = ours_json(r, "base", &profile, &[]);
        let xml = gocover_cobertura(r, &profile, tmp.path(), false);
        let classic = diff_cover(r, &xml, "base", tmp.path(), &[]);
        assert_eq!(
            classic.json["num_changed_lines"], doc["num_changed_lines"],
            "{what}"
        );
        let total: usize = want.values().map(Vec::len).sum();
        assert_eq!(
            doc["num_changed_lines"].as_u64(),
            Some(total as u64),
            "{what}"
        );
        let unmeasured = doc["unmeasured_files"].as_array().unwrap();
        assert!(
            unmeasured.len() > 100,
            "{what}: {} unmeasured",
            unmeasured.len()
        );
        for u in unmeasured {
            let path = u["path"].as_str().unwrap();
            assert_eq!(
                u["changed_lines"].as_u64(),
                want.get(path).map(|l| l.len() as u64),
                "{what}: {path}"
            );
        }
    }
}
