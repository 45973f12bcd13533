//! Golden tests of `goc-adapter merge` against the merge of duplicate blocks that Go's own profile
//! parser (golang.org/x/tools/cover.ParseProfiles, through tools/cover/cmd/normprofile) does, on
//! real `go test` profiles; and the merge's refusals (exit status, message, nothing written).

mod common;
mod tool_path;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{
    assert_same_bytes, go_test, goc_adapter, module_repo, read, require_tool, run, run_unchecked,
    scratch, write,
};
use tempfile::TempDir;

/// A generics-heavy module with quick, deterministic tests in two packages: with
/// `-coverpkg=./...` each test binary reports every package, so one profile repeats blocks.
const MODULE: &str = "github.com/hashicorp/golang-lru/v2@v2.0.7";
const PKGS: &[&str] = &[".", "./simplelru"];

/// Two real profiles of the same build: all tests, and a subset (so counts differ).
struct Profiles {
    _repo: TempDir,
    dir: TempDir,
    full: PathBuf,
    subset: PathBuf,
}

fn profiles(mode: &str) -> Profiles {
    let repo = module_repo(MODULE);
    let dir = scratch();
    let full = dir.path().join("full.out");
    let subset = dir.path().join("subset.out");
    for (profile, run_filter) in [(&full, None), (&subset, Some("TestLRU|Test2Q$"))] {
        let mut args = vec![
            format!("-covermode={mode}"),
            "-coverpkg=./...".to_string(),
            format!("-coverprofile={}", profile.display()),
        ];
        if let Some(f) = run_filter {
            args.push(format!("-run={f}"));
        }
        args.extend(PKGS.iter().map(|p| p.to_string()));
        go_test(repo.path(), &args);
    }
    Profiles {
        _repo: repo,
        dir,
        full,
        subset,
    }
}

fn normprofile(path: &Path) -> Vec<u8> {
    require_tool("normprofile");
    run(Command::new("normprofile").arg(path)).stdout
}

fn merge_cmd(inputs: &[&Path], out: &Path) -> Command {
    let mut cmd = goc_adapter();
    cmd.arg("merge").args(inputs).arg("-o").arg(out);
    cmd
}

/// Block lines (without the mode line) of a profile's text.
fn block_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// `name:range` of a block line.
fn block_key(line: &str) -> &str {
    let mut it = line.rsplitn(3, ' ');
    it.nth(2).unwrap_or(line)
}

/// The profile's mode line followed by the block lines of all `inputs`, one after the other.
fn concatenate(inputs: &[&Path], out: &Path) {
    let first = read(inputs[0]);
    let mode_line = String::from_utf8_lossy(&first)
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let mut text = format!("{mode_line}\n");
    for p in inputs {
        for l in block_lines(&read(p)) {
            text.push_str(&l);
            text.push('\n');
        }
    }
    write(out, text);
}

fn has_duplicate_blocks(text: &[u8]) -> bool {
    let lines = block_lines(text);
    let mut keys: Vec<&str> = lines.iter().map(|l| block_key(l)).collect();
    let n = keys.len();
    keys.sort_unstable();
    keys.dedup();
    keys.len() < n
}

fn check_duplicates_within_one_profile(mode: &str) {
    let p = profiles(mode);
    assert!(
        has_duplicate_blocks(&read(&p.full)),
        "the -coverpkg profile repeats blocks (else this test tests nothing)"
    );
    let out = p.dir.path().join("merged.out");
    run(&mut merge_cmd(&[&p.full], &out));
    assert_same_bytes(
        &format!("merge of one {mode} profile"),
        &read(&out),
        &normprofile(&p.full),
    );
}

fn check_concatenated_profiles(mode: &str) {
    let p = profiles(mode);
    let cat = p.dir.path().join("concatenated.out");
    concatenate(&[&p.full, &p.subset, &p.full], &cat);
    let want = normprofile(&cat);

    let out = p.dir.path().join("merged-cat.out");
    run(&mut merge_cmd(&[&cat], &out));
    assert_same_bytes(
        &format!("merge of concatenated {mode} profiles"),
        &read(&out),
        &want,
    );

    // Merging the separate files is the same as Go's parser merging their concatenation.
    let out2 = p.dir.path().join("merged-files.out");
    run(&mut merge_cmd(&[&p.full, &p.subset, &p.full], &out2));
    assert_same_bytes(
        &format!("merge of three {mode} profiles"),
        &read(&out2),
        &want,
    );
}

#[test]
fn duplicates_within_one_profile_set() {
    check_duplicates_within_one_profile("set");
}

#[test]
fn duplicates_within_one_profile_count() {
    check_duplicates_within_one_profile("count");
}

#[test]
fn concatenated_profiles_set() {
    check_concatenated_profiles("set");
}

#[test]
fn concatenated_profiles_count() {
    check_concatenated_profiles("count");
}

#[test]
fn concatenated_profiles_atomic() {
    check_concatenated_profiles("atomic");
}

/// Runs a merge that must fail: non-zero exit, and neither a new nor an existing -o file touched.
fn assert_merge_refused(inputs: &[&Path], dir: &Path) -> String {
    let fresh = dir.join("never-written.out");
    let out: Output = run_unchecked(&mut merge_cmd(inputs, &fresh));
    assert!(!out.status.success(), "merge should fail: {out:?}");
    assert!(
        !fresh.exists(),
        "a failed merge created {}",
        fresh.display()
    );

    let existing = dir.join("existing.out");
    write(&existing, "keep me\n");
    let out2 = run_unchecked(&mut merge_cmd(inputs, &existing));
    assert!(!out2.status.success(), "merge should fail: {out2:?}");
    assert_eq!(read(&existing), b"keep me\n", "a failed merge overwrote -o");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn inconsistent_num_stmt_is_refused() {
    let p = profiles("count");
    let text = read(&p.subset);
    let lines = block_lines(&text);
    let victim = &lines[lines.len() / 2];
    let key = block_key(victim);
    let (file, range) = key.rsplit_once(':').expect("name:range");
    let stmts: u32 = victim
        .rsplit(' ')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("NumStmt");
    let mut bad = String::from_utf8_lossy(&text).into_owned();
    bad.push_str(&format!("{key} {} 1\n", stmts + 1));
    let bad_path = p.dir.path().join("bad-numstmt.out");
    write(&bad_path, bad);

    // Go's parser refuses it too.
    require_tool("normprofile");
    let go = run_unchecked(Command::new("normprofile").arg(&bad_path));
    assert!(
        !go.status.success(),
        "normprofile accepted inconsistent NumStmt"
    );

    let stderr = assert_merge_refused(&[&p.full, &bad_path], p.dir.path());
    assert!(stderr.contains(file), "stderr names {file}: {stderr}");
    assert!(
        stderr.contains(range),
        "stderr names block {range}: {stderr}"
    );
    assert!(
        stderr.contains("bad-numstmt.out"),
        "stderr names the input: {stderr}"
    );

    // The same block with another NumStmt in a second profile is refused as well.
    let changed: String = String::from_utf8_lossy(&text)
        .lines()
        .map(|l| {
            if l == victim {
                format!("{key} {} 1\n", stmts + 1)
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let changed_path = p.dir.path().join("changed-numstmt.out");
    write(&changed_path, changed);
    let stderr = assert_merge_refused(&[&p.full, &changed_path], p.dir.path());
    assert!(stderr.contains(file), "stderr names {file}: {stderr}");
    assert!(
        stderr.contains(range),
        "stderr names block {range}: {stderr}"
    );
    assert!(
        stderr.contains("changed-numstmt.out"),
        "stderr names the input: {stderr}"
    );
}

#[test]
fn different_modes_are_refused() {
    let set = profiles("set");
    let count = profiles("count");
    let stderr = assert_merge_refused(&[&set.full, &count.full], set.dir.path());
    assert!(
        stderr.contains("count") && stderr.contains("set"),
        "stderr names both modes: {stderr}"
    );
    assert!(
        stderr.contains(&count.full.display().to_string()),
        "stderr names the input: {stderr}"
    );
}

#[test]
fn different_blocks_for_the_same_file_are_refused() {
    let p = profiles("set");
    let text = read(&p.subset);
    // Move the end of one block by a column: a different build of the same file.
    let lines = block_lines(&text);
    let idx = lines.len() / 3;
    let victim = lines[idx].clone();
    let key = block_key(&victim).to_string();
    let (file, range) = key.rsplit_once(':').expect("name:range");
    let (start, end) = range.split_once(',').expect("start,end");
    let (end_line, end_col) = end.split_once('.').expect("line.col");
    let moved = format!(
        "{start},{end_line}.{}",
        end_col.parse::<u32>().expect("col") + 1
    );
    let tail = &victim[key.len()..];
    let altered = format!("{file}:{moved}{tail}");
    let other: String = String::from_utf8_lossy(&text)
        .lines()
        .map(|l| {
            if l == victim {
                altered.clone()
            } else {
                l.to_string()
            }
        })
        .map(|l| l + "\n")
        .collect();
    let other_path = p.dir.path().join("other-build.out");
    write(&other_path, other);

    let stderr = assert_merge_refused(&[&p.full, &other_path], p.dir.path());
    assert!(stderr.contains(file), "stderr names {file}: {stderr}");
    assert!(
        stderr.contains(&moved) && stderr.contains(range),
        "stderr names the first mismatching block ({range} / {moved}): {stderr}"
    );
}
