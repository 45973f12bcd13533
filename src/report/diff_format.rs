//! The text, JSON and markdown renderings of an incremental coverage result.
//!
//! Text and JSON follow diff-cover 11 (console layout line for line, JSON keys), then add what
//! diff-cover does not say: the merge-base and the changed files the profile does not mention.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use super::diff::{DiffCoverage, FileDiff, LineRule, UnmeasuredFile};

/// What the result is about, for the headers.
#[derive(Debug, Clone, Copy)]
pub struct DiffMeta<'a> {
    /// What the coverage came from (the profile files).
    pub report_name: &'a str,
    /// The comparison as the user named it, `BASE...REV`.
    pub diff_name: &'a str,
    /// The base commit (full id).
    pub base: &'a str,
    /// The merge-base commit (full id).
    pub merge_base: &'a str,
    /// The head commit (full id).
    pub head: &'a str,
}

const RULE: &str = "-------------";

/// `[1, 2, 5, 6, 100]` -> `1-2,5-6,100`, as diff-cover's `combine_adjacent_lines`.
pub fn line_ranges(lines: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let start = lines[i];
        let mut end = start;
        while i + 1 < lines.len() && lines[i + 1] == end + 1 {
            i += 1;
            end = lines[i];
        }
        parts.push(if end > start {
            format!("{start}-{end}")
        } else {
            start.to_string()
        });
        i += 1;
    }
    parts.join(",")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "line" } else { "lines" }
}

/// The per-file figure as diff-cover prints it: `100%` when nothing is missing, else the
/// percent rounded to one decimal (Python's `round(x, 1)`: half to even on the binary value).
fn file_percent_text(f: &FileDiff) -> String {
    let p = f.percent();
    if p < 100.0 {
        format!("{p:.1}%")
    } else {
        "100%".to_string()
    }
}

fn rule_name(rule: LineRule) -> &'static str {
    match rule {
        LineRule::DiffCover => "diff-cover",
        LineRule::Statements => "statements",
    }
}

/// diff-cover's console report, then the merge-base and the unmeasured files.
pub fn text(d: &DiffCoverage, meta: &DiffMeta<'_>) -> String {
    let mut s = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(s, "{RULE}\nDiff Coverage\nDiff: {}\n{RULE}", meta.diff_name);
    if d.files.is_empty() && d.total_lines() == 0 {
        let _ = writeln!(
            s,
            "No lines with coverage information in this diff.\n{RULE}"
        );
    } else {
        for f in &d.files {
            if f.percent() < 100.0 {
                let _ = writeln!(
                    s,
                    "{} ({}): Missing lines {}",
                    f.path,
                    file_percent_text(f),
                    line_ranges(&f.violations)
                );
            } else {
                let _ = writeln!(s, "{} (100%)", f.path);
            }
        }
        let (total, missing) = (d.total_lines(), d.total_violations());
        let _ = writeln!(
            s,
            "{RULE}\nTotal:   {total} {}\nMissing: {missing} {}\nCoverage: {}%\n{RULE}",
            plural(total),
            plural(missing),
            d.total_percent()
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "Merge base: {} (base {}, head {})",
        meta.merge_base, meta.base, meta.head
    );
    let _ = writeln!(s, "Measured lines: {}", rule_name(d.rule));
    if d.unmeasured.is_empty() {
        let _ = writeln!(s, "Unmeasured files: none");
    } else {
        let lines: usize = d.unmeasured.iter().map(|u| u.changed_lines).sum();
        let _ = writeln!(
            s,
            "Unmeasured files (changed Go files the profile does not mention; {}): {} {}, {lines} {}",
            if d.unmeasured_counted {
                "counted as missing"
            } else {
                "not in the total"
            },
            d.unmeasured.len(),
            if d.unmeasured.len() == 1 {
                "file"
            } else {
                "files"
            },
            plural(lines)
        );
        for u in &d.unmeasured {
            let _ = writeln!(
                s,
                "  {} ({} {})",
                u.path,
                u.changed_lines,
                plural(u.changed_lines)
            );
        }
    }
    s
}

#[derive(Serialize)]
struct SrcStats {
    percent_covered: f64,
    violation_lines: Vec<u32>,
    covered_lines: Vec<u32>,
    /// diff-cover serializes `Violation(line, message=None)` tuples.
    violations: Vec<(u32, Option<String>)>,
}

#[derive(Serialize)]
struct JsonDoc<'a> {
    report_name: &'a str,
    diff_name: &'a str,
    src_stats: BTreeMap<&'a str, SrcStats>,
    total_num_lines: usize,
    total_num_violations: usize,
    total_percent_covered: u64,
    num_changed_lines: usize,
    base: &'a str,
    merge_base: &'a str,
    head: &'a str,
    lines: LineRule,
    unmeasured_files: &'a [UnmeasuredFile],
    unmeasured_counted: bool,
}

/// diff-cover's JSON report keys plus `base`, `merge_base`, `head`, `lines`,
/// `unmeasured_files` and `unmeasured_counted`.
pub fn json(d: &DiffCoverage, meta: &DiffMeta<'_>) -> String {
    let doc = JsonDoc {
        report_name: meta.report_name,
        diff_name: meta.diff_name,
        src_stats: d
            .files
            .iter()
            .map(|f| {
                (
                    f.path.as_str(),
                    SrcStats {
                        percent_covered: f.percent(),
                        violation_lines: f.violations.clone(),
                        covered_lines: f.covered(),
                        violations: f.violations.iter().map(|&l| (l, None)).collect(),
                    },
                )
            })
            .collect(),
        total_num_lines: d.total_lines(),
        total_num_violations: d.total_violations(),
        total_percent_covered: d.total_percent(),
        num_changed_lines: d.num_changed_lines,
        base: meta.base,
        merge_base: meta.merge_base,
        head: meta.head,
        lines: d.rule,
        unmeasured_files: &d.unmeasured,
        unmeasured_counted: d.unmeasured_counted,
    };
    // Plain strings and numbers: serializing cannot fail.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}

fn md_code(s: &str) -> String {
    format!("`{}`", s.replace('|', "\\|").replace('`', "'"))
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A compact table for a pull / merge request comment.
pub fn markdown(d: &DiffCoverage, meta: &DiffMeta<'_>) -> String {
    let mut s = String::new();
    let (total, missing) = (d.total_lines(), d.total_violations());
    let _ = writeln!(
        s,
        "### Diff coverage: {}%\n\n{total} changed {} measured, {missing} missing · {} · merge base {} · head {} · lines: {}\n",
        d.total_percent(),
        plural(total),
        md_code(meta.diff_name),
        md_code(short(meta.merge_base)),
        md_code(short(meta.head)),
        rule_name(d.rule)
    );
    if d.files.is_empty() {
        let _ = writeln!(s, "No lines with coverage information in this diff.\n");
    } else {
        let _ = writeln!(
            s,
            "| File | Coverage | Missing lines |\n| --- | ---: | --- |"
        );
        for f in &d.files {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                md_code(&f.path),
                file_percent_text(f),
                line_ranges(&f.violations)
            );
        }
        s.push('\n');
    }
    if !d.unmeasured.is_empty() {
        let _ = writeln!(
            s,
            "**Unmeasured files** (changed Go files the profile does not mention; {}):\n",
            if d.unmeasured_counted {
                "counted as missing"
            } else {
                "not in the total"
            }
        );
        for u in &d.unmeasured {
            let _ = writeln!(
                s,
                "- {} ({} {})",
                md_code(&u.path),
                u.changed_lines,
                plural(u.changed_lines)
            );
        }
    }
    s
}

/// One-line summaries for the HTML report's header.
pub fn summary_lines(d: &DiffCoverage, meta: &DiffMeta<'_>) -> Vec<String> {
    let mut out = vec![
        format!("Diff: {}", meta.diff_name),
        format!("Merge base: {}", meta.merge_base),
        format!(
            "Diff coverage: {}% ({} lines measured, {} missing; lines: {})",
            d.total_percent(),
            d.total_lines(),
            d.total_violations(),
            rule_name(d.rule)
        ),
    ];
    for f in &d.files {
        out.push(if f.percent() < 100.0 {
            format!(
                "{} ({}): Missing lines {}",
                f.path,
                file_percent_text(f),
                line_ranges(&f.violations)
            )
        } else {
            format!("{} (100%)", f.path)
        });
    }
    for u in &d.unmeasured {
        out.push(format!(
            "Unmeasured: {} ({} changed {})",
            u.path,
            u.changed_lines,
            plural(u.changed_lines)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::diff::{FileDiff, LineRule};

    fn sample(files: Vec<FileDiff>, unmeasured: Vec<UnmeasuredFile>) -> DiffCoverage {
        DiffCoverage {
            rule: LineRule::DiffCover,
            files,
            unmeasured,
            unmeasured_counted: false,
            num_changed_lines: 12,
        }
    }

    const META: DiffMeta<'static> = DiffMeta {
        report_name: "cover.out",
        diff_name: "origin/main...HEAD",
        base: "b",
        merge_base: "m",
        head: "h",
    };

    #[test]
    fn ranges_combine_like_diff_cover() {
        assert_eq!(line_ranges(&[1, 2, 5, 6, 100]), "1-2,5-6,100");
        assert_eq!(line_ranges(&[39, 40, 46]), "39-40,46");
        assert_eq!(line_ranges(&[7]), "7");
    }

    #[test]
    fn console_layout() {
        let d = sample(
            vec![
                FileDiff {
                    path: "pkg/a.go".into(),
                    measured: vec![39, 40, 41, 46],
                    violations: vec![39, 40, 46],
                },
                FileDiff {
                    path: "pkg/b.go".into(),
                    measured: vec![1],
                    violations: vec![],
                },
            ],
            vec![UnmeasuredFile {
                path: "pkg/new.go".into(),
                changed_lines: 1,
            }],
        );
        let want = "-------------
Diff Coverage
Diff: origin/main...HEAD
-------------
pkg/a.go (25.0%): Missing lines 39-40,46
pkg/b.go (100%)
-------------
Total:   5 lines
Missing: 3 lines
Coverage: 40%
-------------

Merge base: m (base b, head h)
Measured lines: diff-cover
Unmeasured files (changed Go files the profile does not mention; not in the total): 1 file, 1 line
  pkg/new.go (1 line)
";
        assert_eq!(text(&d, &META), want);
    }

    #[test]
    fn console_without_measured_lines() {
        let d = sample(vec![], vec![]);
        assert!(text(&d, &META).starts_with(
            "-------------\nDiff Coverage\nDiff: origin/main...HEAD\n-------------\n\
             No lines with coverage information in this diff.\n-------------\n\n"
        ));
    }

    #[test]
    fn json_has_diff_cover_keys() {
        let d = sample(
            vec![FileDiff {
                path: "a.go".into(),
                measured: vec![1, 2, 3],
                violations: vec![2],
            }],
            vec![],
        );
        let v: serde_json::Value = serde_json::from_str(&json(&d, &META)).unwrap();
        assert_eq!(v["src_stats"]["a.go"]["percent_covered"], 66.66666666666667);
        assert_eq!(
            v["src_stats"]["a.go"]["violations"],
            serde_json::json!([[2, null]])
        );
        assert_eq!(
            v["src_stats"]["a.go"]["covered_lines"],
            serde_json::json!([1, 3])
        );
        assert_eq!(v["total_percent_covered"], 66);
        assert_eq!(v["num_changed_lines"], 12);
        assert_eq!(v["merge_base"], "m");
        assert_eq!(v["lines"], "diff-cover");
    }
}
