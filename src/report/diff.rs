//! Incremental coverage: which changed lines the profile measures and which of them ran.
//!
//! Pure: the caller hands in the changed lines (from git), where each profile file lives and the
//! sources it needs ([`Plan::todo`]). Two rules decide which changed lines are measured:
//!
//! - [`LineRule::DiffCover`] reproduces `gocover-cobertura` v1.5.0 piped into `diff-cover` 11:
//!   every function declaration and every package-level `var f = func() {...}` literal is a
//!   Cobertura "method"; each block overlapping it lists every line from its start line to its
//!   end line (comments and blank lines too), hits combined within the method. diff-cover then
//!   takes all line entries of all classes whose file name matches the changed path: a line is
//!   measured if any entry lists it and a violation if any entry has zero hits.
//! - [`LineRule::Statements`] measures only lines holding code tokens of a block (no comments,
//!   no blank lines, no lone brackets), each token belonging to the innermost block around it,
//!   and a line is covered when a block owning one of its tokens ran. All blocks count.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use rayon::prelude::*;

use super::{ReportError, overlapping, running_max_end};
use crate::profile::{Block, FileProfile, Profile};
use crate::syntax::{CodeToken, Extent, FuncDecl, GoParser};

/// The lines a change adds to one file, as the diff names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedFile {
    /// Repository path at the head commit.
    pub path: String,
    /// The path at the merge-base, when the file was renamed.
    pub old_path: Option<String>,
    /// Added or modified line numbers, sorted, unique.
    pub added: Vec<u32>,
}

/// Where a profile file lives in the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// Repository path of the file.
    pub path: String,
    /// Directory of the go.mod of the module that owns it ("" for the repository root); `None`
    /// when it resolved some other way (a vendored copy).
    pub module_dir: Option<String>,
}

/// Which changed lines are measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LineRule {
    /// Exactly the lines gocover-cobertura v1.5.0 lists for diff-cover 11.
    DiffCover,
    /// Only lines that hold statements of a block.
    Statements,
}

/// What to do with changed Go files the profile does not mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnmeasuredPolicy {
    /// List them, leave the totals as diff-cover computes them.
    List,
    /// List them and count every changed line of theirs as missing.
    Count,
}

/// Options of the computation.
#[derive(Debug, Clone, Copy)]
pub struct DiffOptions {
    /// Which changed lines are measured.
    pub lines: LineRule,
    /// What unmeasured files do to the totals.
    pub unmeasured: UnmeasuredPolicy,
}

/// The inputs that do not need source text.
#[derive(Debug, Clone, Copy)]
pub struct DiffInput<'a> {
    /// The (merged) profile.
    pub profile: &'a Profile,
    /// Where each profile file lives, aligned with `profile.files`; `None` when not in the repo.
    pub located: &'a [Option<Located>],
    /// The changed files, from [`crate::source::changes`].
    pub changes: &'a [ChangedFile],
}

/// Measured and violating changed lines of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Repository path.
    pub path: String,
    /// Changed lines the report measures, sorted.
    pub measured: Vec<u32>,
    /// Measured changed lines that did not run, sorted.
    pub violations: Vec<u32>,
}

impl FileDiff {
    /// Measured lines that ran, sorted.
    pub fn covered(&self) -> Vec<u32> {
        let v: BTreeSet<u32> = self.violations.iter().copied().collect();
        self.measured
            .iter()
            .copied()
            .filter(|l| !v.contains(l))
            .collect()
    }

    /// diff-cover's per-file figure: `100 - violations / measured * 100` in floating point.
    pub fn percent(&self) -> f64 {
        percent(self.measured.len(), self.violations.len())
    }
}

fn percent(measured: usize, violations: usize) -> f64 {
    if measured == 0 {
        return 100.0;
    }
    100.0 - violations as f64 / measured as f64 * 100.0
}

/// A changed Go file (not a test) that no profile file resolves to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UnmeasuredFile {
    /// Repository path.
    pub path: String,
    /// How many lines the change adds to it.
    pub changed_lines: usize,
}

/// The result: per file, totals, and what the profile does not see.
#[derive(Debug, Clone)]
pub struct DiffCoverage {
    /// The rule used.
    pub rule: LineRule,
    /// Files with at least one measured changed line, in diff-cover's order (case-insensitive).
    pub files: Vec<FileDiff>,
    /// Changed non-test Go files the profile does not mention, sorted by path.
    pub unmeasured: Vec<UnmeasuredFile>,
    /// Whether the unmeasured files' lines are counted as missing in the totals.
    pub unmeasured_counted: bool,
    /// Added lines over all changed files, Go or not (diff-cover's `num_changed_lines`).
    pub num_changed_lines: usize,
}

impl DiffCoverage {
    /// Measured changed lines (plus the unmeasured files' lines when they are counted).
    pub fn total_lines(&self) -> usize {
        self.files.iter().map(|f| f.measured.len()).sum::<usize>() + self.counted_unmeasured()
    }

    /// Measured lines that did not run (plus the unmeasured files' lines when counted).
    pub fn total_violations(&self) -> usize {
        self.files.iter().map(|f| f.violations.len()).sum::<usize>() + self.counted_unmeasured()
    }

    fn counted_unmeasured(&self) -> usize {
        if self.unmeasured_counted {
            self.unmeasured.iter().map(|u| u.changed_lines).sum()
        } else {
            0
        }
    }

    /// diff-cover's total: `int(covered / total * 100)`, truncated; 100 when nothing is measured.
    pub fn total_percent(&self) -> u64 {
        let total = self.total_lines();
        if total == 0 {
            return 100;
        }
        let covered = total - self.total_violations();
        // Truncation toward zero of a value in [0, 100], as Python's int() does.
        (covered as f64 / total as f64 * 100.0) as u64
    }

    /// Whether the total meets `--fail-under` the way diff-cover compares it (integer total
    /// against the float threshold).
    pub fn meets(&self, fail_under: f64) -> bool {
        self.total_percent() as f64 >= fail_under
    }
}

/// Directory names the go command never builds from: changed files below them cannot be in any
/// profile, so they are not reported as unmeasured.
fn go_ignores(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').collect();
    parts.pop();
    parts
        .iter()
        .any(|p| *p == "testdata" || *p == "vendor" || p.starts_with(['.', '_']))
}

/// A file that counts towards "unmeasured" when no profile file is there.
fn is_go_source(path: &str) -> bool {
    path.ends_with(".go") && !path.ends_with("_test.go") && !go_ignores(path)
}

/// The profile's files by where they live: which of them answer for a changed path. Built
/// from where the files are alone, so it can be ready before the changes are known.
#[derive(Debug, Clone)]
pub struct FileIndex {
    rule: LineRule,
    /// Profile file indices by repository path (the paths some profile file resolves to).
    by_path: foldhash::HashMap<String, Vec<usize>>,
    /// Profile file indices by path relative to their module root (diff-cover rule only).
    by_module_rel: foldhash::HashMap<String, Vec<usize>>,
    /// The module roots, sorted (diff-cover rule only).
    sources: Vec<String>,
    /// Whether every file answers only for the changed file at its own path.
    direct: bool,
}

impl FileIndex {
    /// Indexes `located` (aligned with the profile's files) for `rule`.
    pub fn new(located: &[Option<Located>], rule: LineRule) -> Self {
        let mut by_path: foldhash::HashMap<String, Vec<usize>> = Default::default();
        // gocover-cobertura names each class file relative to its module root and lists every
        // module root as a <source>; diff-cover then accepts a class for a changed path when
        // <any source>/<class file name> is that path.
        let mut by_module_rel: foldhash::HashMap<String, Vec<usize>> = Default::default();
        let mut sources: BTreeSet<&str> = BTreeSet::new();
        let mut under_own_root = true;
        for (i, loc) in located.iter().enumerate() {
            let Some(loc) = loc else { continue };
            by_path.entry(loc.path.clone()).or_default().push(i);
            if let Some(dir) = &loc.module_dir {
                sources.insert(dir);
                let rel = strip_dir(&loc.path, dir);
                under_own_root &= rel.is_some();
                if rule == LineRule::DiffCover {
                    let rel = rel.unwrap_or(&loc.path);
                    by_module_rel.entry(rel.to_string()).or_default().push(i);
                }
            }
        }
        // With one module root, and every file under it, <root>/<path in module> is the file's
        // own path again.
        let direct = rule == LineRule::Statements || (sources.len() <= 1 && under_own_root);
        let sources = match rule {
            LineRule::DiffCover => sources.into_iter().map(str::to_string).collect(),
            LineRule::Statements => Vec::new(),
        };
        FileIndex {
            rule,
            by_path,
            by_module_rel,
            sources,
            direct,
        }
    }

    /// The profile files located at `path`.
    pub fn files_at(&self, path: &str) -> &[usize] {
        self.by_path
            .get(path)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Whether each file answers only for the changed file at its own path
    /// ([`FileIndex::files_at`]): then a file's analysis needs only that path's added lines and
    /// text, and may run as soon as that file is diffed ([`analyze_file`]).
    pub fn direct(&self) -> bool {
        self.direct
    }

    /// The profile files that answer for a changed `path`, sorted.
    fn answering(&self, path: &str) -> Vec<usize> {
        let mut idx: Vec<usize> = self.files_at(path).to_vec();
        if self.direct {
            // The module-relative match finds the same files (`new`); `files_at` is sorted.
            return idx;
        }
        for dir in &self.sources {
            if let Some(v) = strip_dir(path, dir).and_then(|r| self.by_module_rel.get(r)) {
                idx.extend(v);
            }
        }
        idx.sort_unstable();
        idx.dedup();
        idx
    }
}

impl<'a> DiffInput<'a> {
    /// Matches the profile files with the changed paths once, for [`Plan::todo`] and
    /// [`Plan::compute`].
    pub fn plan(self, opts: DiffOptions) -> Plan<'a> {
        let index = FileIndex::new(self.located, opts.lines);
        self.plan_indexed(index, opts)
    }

    /// [`DiffInput::plan`] with the [`FileIndex`] of `self.located` already built (one built
    /// for the other rule is built again).
    pub fn plan_indexed(self, index: FileIndex, opts: DiffOptions) -> Plan<'a> {
        let index = if index.rule == opts.lines {
            index
        } else {
            FileIndex::new(self.located, opts.lines)
        };
        let per_change: Vec<Vec<usize>> = self
            .changes
            .iter()
            .map(|c| index.answering(&c.path))
            .collect();
        let mut needed: Vec<usize> = Vec::new();
        for (c, idx) in self.changes.iter().zip(&per_change) {
            if !c.added.is_empty() {
                needed.extend(idx);
            }
        }
        needed.sort_unstable();
        needed.dedup();
        Plan {
            input: self,
            opts,
            index,
            per_change,
            needed,
        }
    }
}

/// An input with its profile files matched to the changed paths: what to read, then compute.
pub struct Plan<'a> {
    input: DiffInput<'a>,
    opts: DiffOptions,
    index: FileIndex,
    /// Profile file indices per changed path index.
    per_change: Vec<Vec<usize>>,
    /// The profile files that answer for a changed path with added lines (sorted).
    needed: Vec<usize>,
}

fn strip_dir<'p>(path: &'p str, dir: &str) -> Option<&'p str> {
    if dir.is_empty() {
        Some(path)
    } else {
        path.strip_prefix(dir).and_then(|r| r.strip_prefix('/'))
    }
}

/// What one profile file says about its changed lines, under a rule ([`analyze_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileLines(Lines);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Lines {
    /// Per Cobertura method: line -> ran.
    Methods(Vec<BTreeMap<u32, bool>>),
    /// Per statement line: ran.
    Statements(BTreeMap<u32, bool>),
}

/// Computes the incremental coverage ([`Plan::compute`] of `input.plan(*opts)`).
pub fn compute(
    input: &DiffInput<'_>,
    texts: &[Option<Vec<u8>>],
    opts: &DiffOptions,
) -> Result<DiffCoverage, ReportError> {
    input.plan(*opts).compute(texts)
}

impl Plan<'_> {
    /// Computes the incremental coverage. `texts[i]` is the source of `profile.files[i]`; it
    /// must be given for every index `todo(&Done::default())` returns ([`Plan::todo`]; others
    /// are ignored, may be `None`).
    pub fn compute(&self, texts: &[Option<Vec<u8>>]) -> Result<DiffCoverage, ReportError> {
        self.compute_with(texts, Done::default())
    }

    /// [`Plan::compute`] with some changed paths' lines already worked out ([`path_lines`] of
    /// [`analyze_file`] for each profile file at a path, where [`FileIndex::direct`] lets each
    /// answer for its own path alone): only [`Plan::todo`]'s texts need be given.
    pub fn compute_with(
        &self,
        texts: &[Option<Vec<u8>>],
        done: Done,
    ) -> Result<DiffCoverage, ReportError> {
        let analyzed = self.analyze(texts, &done)?;
        Ok(self.collect(&analyzed, done))
    }

    /// The profile files [`Plan::compute_with`] still analyzes, given what is `done`: those
    /// that answer for a changed path with added lines that is not done.
    pub fn todo(&self, done: &Done) -> Vec<usize> {
        if done.is_empty() {
            return self.needed.clone();
        }
        let mut todo: Vec<usize> = Vec::new();
        for (c, idx) in self.input.changes.iter().zip(&self.per_change) {
            if !c.added.is_empty() && !done.contains_key(&c.path) {
                todo.extend(idx);
            }
        }
        todo.sort_unstable();
        todo.dedup();
        todo
    }

    /// What each file of [`Plan::todo`] says about its wanted lines, by profile file index.
    fn analyze(
        &self,
        texts: &[Option<Vec<u8>>],
        done: &Done,
    ) -> Result<HashMap<usize, FileLines>, ReportError> {
        let (input, opts) = (&self.input, &self.opts);
        let files = &input.profile.files;
        if texts.len() != files.len() || input.located.len() != files.len() {
            return Err(ReportError::Misaligned {
                sources: texts.len().min(input.located.len()),
                files: files.len(),
            });
        }
        let todo = self.todo(done);
        if todo.is_empty() {
            return Ok(HashMap::new());
        }
        // Which lines each needed file's analysis must look at: the added lines of every
        // changed path it answers for (several paths in the cross-module case).
        let mut wanted: foldhash::HashMap<usize, Vec<u32>> = Default::default();
        for (c, idx) in input.changes.iter().zip(&self.per_change) {
            for &i in idx {
                wanted.entry(i).or_default().extend(&c.added);
            }
        }
        for lines in wanted.values_mut() {
            lines.sort_unstable();
            lines.dedup();
        }
        todo.par_iter()
            // A tree-sitter parser only for the statements rule (one per rayon split, made when
            // first needed): the diff-cover rule scans lexically.
            .map_init(
                || None::<GoParser>,
                |parser, &i| {
                    let Some(text) = &texts[i] else {
                        return Ok((i, FileLines(Lines::Statements(BTreeMap::new()))));
                    };
                    let lines: &[u32] = wanted.get(&i).map(Vec::as_slice).unwrap_or_default();
                    let path = input.located[i].as_ref().map_or("", |l| l.path.as_str());
                    let fl = analyze_file(&files[i], path, text, lines, opts.lines, parser)?;
                    Ok((i, fl))
                },
            )
            .collect()
    }

    /// The per-file figures and totals from the analyzed files.
    fn collect(&self, by_file: &HashMap<usize, FileLines>, mut done: Done) -> DiffCoverage {
        let (input, opts) = (&self.input, &self.opts);
        let mut out_files = Vec::new();
        let mut unmeasured = Vec::new();
        let mut num_changed_lines = 0;
        for (c, idx) in input.changes.iter().zip(&self.per_change) {
            num_changed_lines += c.added.len();
            if c.added.is_empty() {
                continue;
            }
            let PathLines {
                measured,
                violations,
            } = match done.remove(&c.path) {
                Some(lines) => lines,
                None => {
                    let files: Vec<&FileLines> =
                        idx.iter().filter_map(|i| by_file.get(i)).collect();
                    path_lines(&c.added, &files)
                }
            };
            if !measured.is_empty() {
                out_files.push(FileDiff {
                    path: c.path.clone(),
                    measured,
                    violations,
                });
            } else if is_go_source(&c.path) && self.index.files_at(&c.path).is_empty() {
                unmeasured.push(UnmeasuredFile {
                    path: c.path.clone(),
                    changed_lines: c.added.len(),
                });
            }
        }
        out_files.sort_by_cached_key(|f| (f.path.to_lowercase(), f.path.clone()));
        unmeasured.sort_by(|a, b| a.path.cmp(&b.path));
        DiffCoverage {
            rule: opts.lines,
            files: out_files,
            unmeasured,
            unmeasured_counted: opts.unmeasured == UnmeasuredPolicy::Count,
            num_changed_lines,
        }
    }
}

/// What profile file `fp` (at repository `path`, named in errors) says about `lines`, its
/// changed lines (sorted, unique), given its source `text`. `parser` is made when the
/// statements rule first needs one, and reused.
pub fn analyze_file(
    fp: &FileProfile,
    path: &str,
    text: &[u8],
    lines: &[u32],
    rule: LineRule,
    parser: &mut Option<GoParser>,
) -> Result<FileLines, ReportError> {
    Ok(FileLines(match rule {
        // A file whose blocks span none of its changed lines measures none: its declarations
        // need no scan (most files of a large change).
        LineRule::DiffCover if !spans_any(fp, lines) => Lines::Methods(vec![]),
        LineRule::DiffCover => {
            let funcs = super::funcdecls::scan(text);
            let mut extents: Vec<Extent> = funcs.iter().map(|f| f.extent).collect();
            // Package-level literals lie outside every declaration: blocks inside declarations
            // cannot overlap them.
            if !inside_extents(fp, lines, &extents) {
                extents.extend(var_func_literals(text, &funcs));
            }
            Lines::Methods(method_lines(fp, &extents, lines))
        }
        LineRule::Statements => {
            let parser = match parser {
                Some(p) => p,
                None => parser.insert(GoParser::new()?),
            };
            let tokens = parser
                .code_tokens(text)
                .map_err(|source| ReportError::Parse {
                    path: path.to_string(),
                    source,
                })?;
            Lines::Statements(statement_lines(fp, &tokens, lines))
        }
    }))
}

/// The measured and violating lines of one changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathLines {
    /// Changed lines some profile file measures, sorted.
    pub measured: Vec<u32>,
    /// Of those, the lines no block that ran covers, sorted.
    pub violations: Vec<u32>,
}

/// Changed paths whose lines are worked out already ([`Plan::compute_with`]).
pub type Done = foldhash::HashMap<String, PathLines>;

/// The lines of a changed path with `added` lines, from the analyses of every profile file that
/// answers for it: a line is measured when some file measures it, and a violation when one
/// of them has it unrun (diff-cover's rule across classes and methods).
pub fn path_lines(added: &[u32], files: &[&FileLines]) -> PathLines {
    // Sorted as ChangedFile promises; sorted here otherwise (no wrong answer either way).
    let added: std::borrow::Cow<'_, [u32]> = if added.is_sorted() {
        added.into()
    } else {
        let mut v = added.to_vec();
        v.sort_unstable();
        v.into()
    };
    let mut measured: Vec<u32> = Vec::new();
    let mut violations: Vec<u32> = Vec::new();
    let mut note = |line: u32, ran: bool| {
        if added.binary_search(&line).is_ok() {
            measured.push(line);
            if !ran {
                violations.push(line);
            }
        }
    };
    for f in files {
        match &f.0 {
            Lines::Methods(methods) => methods
                .iter()
                .flatten()
                .for_each(|(&line, &ran)| note(line, ran)),
            Lines::Statements(lines) => lines.iter().for_each(|(&line, &ran)| note(line, ran)),
        }
    }
    for v in [&mut measured, &mut violations] {
        v.sort_unstable();
        v.dedup();
    }
    PathLines {
        measured,
        violations,
    }
}

/// Whether every block of `fp` that spans one of `lines` lies inside one of `extents`.
fn inside_extents(fp: &FileProfile, lines: &[u32], extents: &[Extent]) -> bool {
    let start = |e: &Extent| (e.start_line, e.start_col);
    let sorted = extents.is_sorted_by_key(start);
    fp.blocks
        .iter()
        .filter(|b| !within(lines, b.start_line, b.end_line).is_empty())
        .all(|b| {
            let (from, to) = ((b.start_line, b.start_col), (b.end_line, b.end_col));
            let contains = |e: &Extent| start(e) <= from && to <= (e.end_line, e.end_col);
            if sorted {
                // Declarations do not nest: only the last one starting before the block can.
                let n = extents.partition_point(|e| start(e) <= from);
                n > 0 && contains(&extents[n - 1])
            } else {
                extents.iter().any(contains)
            }
        })
}

/// The part of the sorted `lines` from `first` to `last`, inclusive.
fn within(lines: &[u32], first: u32, last: u32) -> &[u32] {
    let from = lines.partition_point(|&l| l < first);
    let to = lines.partition_point(|&l| l <= last);
    lines.get(from..to).unwrap_or_default()
}

/// Whether some block of `fp` spans (start line to end line) one of `lines`.
fn spans_any(fp: &FileProfile, lines: &[u32]) -> bool {
    fp.blocks
        .iter()
        .any(|b| !within(lines, b.start_line, b.end_line).is_empty())
}

/// The package-level `var f = func() {...}` literals of a file: a scan of the text outside the
/// function declarations.
fn var_func_literals(text: &[u8], funcs: &[FuncDecl]) -> Vec<Extent> {
    let mut line_starts = vec![0usize];
    line_starts.extend(memchr::memchr_iter(b'\n', text).map(|i| i + 1));
    let offset = |line: u32, col: u32| {
        let start = line_starts
            .get(line.saturating_sub(1) as usize)
            .copied()
            .unwrap_or(text.len());
        (start + col.saturating_sub(1) as usize).min(text.len())
    };
    let skip: Vec<(usize, usize)> = funcs
        .iter()
        .map(|f| {
            (
                offset(f.extent.start_line, f.extent.start_col),
                offset(f.extent.end_line, f.extent.end_col),
            )
        })
        .collect();
    super::varfuncs::scan(text, &skip)
}

/// gocover-cobertura's methods: for each extent, the wanted lines that some overlapping block
/// spans (start line to end line), and whether any of those blocks ran.
fn method_lines(fp: &FileProfile, extents: &[Extent], wanted: &[u32]) -> Vec<BTreeMap<u32, bool>> {
    let max_end = running_max_end(&fp.blocks);
    extents
        .iter()
        .map(|e| {
            let mut lines: BTreeMap<u32, bool> = BTreeMap::new();
            for b in overlapping(&fp.blocks, &max_end, e) {
                for &l in within(wanted, b.start_line, b.end_line) {
                    *lines.entry(l).or_insert(false) |= b.count > 0;
                }
            }
            lines
        })
        .collect()
}

/// Statement lines among `wanted`: lines a code token of some block is on, and whether a block
/// owning a token on that line ran. A token belongs to the innermost block containing its start.
fn statement_lines(fp: &FileProfile, tokens: &[CodeToken], wanted: &[u32]) -> BTreeMap<u32, bool> {
    let max_end = running_max_end(&fp.blocks);
    let mut out: BTreeMap<u32, bool> = BTreeMap::new();
    for t in tokens {
        if within(wanted, t.line, t.end_line).is_empty() {
            continue;
        }
        let Some(b) = innermost(&fp.blocks, &max_end, (t.line, t.col)) else {
            continue;
        };
        for &l in within(wanted, t.line, t.end_line.min(b.end_line)) {
            *out.entry(l).or_insert(false) |= b.count > 0;
        }
    }
    out
}

/// The block with the latest start among those containing `pos` (blocks only nest for function
/// literals, whose blocks start after the enclosing one's start).
fn innermost<'b>(
    blocks: &'b [Block],
    max_end: &[(u32, u32)],
    pos: (u32, u32),
) -> Option<&'b Block> {
    let upto = blocks.partition_point(|b| (b.start_line, b.start_col) <= pos);
    for j in (0..upto).rev() {
        if max_end[j] <= pos {
            return None; // no block at or before j reaches pos
        }
        let b = &blocks[j];
        if (b.end_line, b.end_col) > pos {
            return Some(b);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Mode;

    fn block(sl: u32, sc: u32, el: u32, ec: u32, n: u32, c: u64) -> Block {
        Block::new(sl, sc, el, ec, n, c)
    }

    fn options(lines: LineRule) -> DiffOptions {
        DiffOptions {
            lines,
            unmeasured: UnmeasuredPolicy::List,
        }
    }

    fn located(path: &str, dir: &str) -> Option<Located> {
        Some(Located {
            path: path.into(),
            module_dir: Some(dir.into()),
        })
    }

    fn changed(path: &str, added: &[u32]) -> ChangedFile {
        ChangedFile {
            path: path.into(),
            old_path: None,
            added: added.to_vec(),
        }
    }

    const SRC: &str = "package p

// F does things.
func F(x int) int {
\tif x > 0 {
\t\t// positive

\t\treturn 1
\t}
\treturn 0
}

var G = func() {
\tprintln()
}

var H = func() int { return 2 }()
";

    fn profile() -> Profile {
        Profile {
            mode: Mode::Set,
            files: vec![FileProfile {
                name: "m/p/a.go".into(),
                blocks: vec![
                    block(4, 19, 5, 11, 1, 1),
                    block(5, 11, 9, 3, 1, 0),
                    block(10, 2, 10, 10, 1, 1),
                    block(13, 16, 15, 2, 1, 0),
                    block(17, 20, 17, 30, 1, 1),
                ],
            }],
        }
    }

    fn run(rule: LineRule, changes: &[ChangedFile], policy: UnmeasuredPolicy) -> DiffCoverage {
        let p = profile();
        let loc = vec![located("p/a.go", "")];
        let input = DiffInput {
            profile: &p,
            located: &loc,
            changes,
        };
        let texts = vec![Some(SRC.as_bytes().to_vec())];
        compute(
            &input,
            &texts,
            &DiffOptions {
                lines: rule,
                unmeasured: policy,
            },
        )
        .unwrap()
    }

    #[test]
    fn diff_cover_rule_lists_every_block_line() {
        let all: Vec<u32> = (1..=18).collect();
        let d = run(
            LineRule::DiffCover,
            &[changed("p/a.go", &all), changed("README", &[1, 2])],
            UnmeasuredPolicy::List,
        );
        assert_eq!(d.files.len(), 1);
        // Blocks of F span 4..=10 (comment and blank lines included); G's literal 13..=15;
        // H's called literal is not a method.
        assert_eq!(d.files[0].measured, [4, 5, 6, 7, 8, 9, 10, 13, 14, 15]);
        // Line 5 is in a covered and an uncovered block of the same method: covered.
        assert_eq!(d.files[0].violations, [6, 7, 8, 9, 13, 14, 15]);
        assert_eq!(d.num_changed_lines, 20);
        assert_eq!(d.total_percent(), 30);
    }

    #[test]
    fn each_changed_line_alone_is_measured_as_in_the_whole_change() {
        // One line at a time takes the shortcuts (no block spans it; only blocks inside
        // declarations do, so no scan for literals) that a whole-file change does not.
        let all: Vec<u32> = (1..=18).collect();
        for rule in [LineRule::DiffCover, LineRule::Statements] {
            let whole = run(rule, &[changed("p/a.go", &all)], UnmeasuredPolicy::List);
            for line in all.iter().copied() {
                let d = run(rule, &[changed("p/a.go", &[line])], UnmeasuredPolicy::List);
                let at_line = |v: &[u32]| {
                    v.iter()
                        .copied()
                        .filter(|&l| l == line)
                        .collect::<Vec<u32>>()
                };
                let (measured, violations): (Vec<u32>, Vec<u32>) = d
                    .files
                    .first()
                    .map(|f| (f.measured.clone(), f.violations.clone()))
                    .unwrap_or_default();
                assert_eq!(measured, at_line(&whole.files[0].measured), "line {line}");
                assert_eq!(
                    violations,
                    at_line(&whole.files[0].violations),
                    "line {line}"
                );
            }
        }
    }

    #[test]
    fn statements_rule_skips_comments_blanks_and_braces() {
        let all: Vec<u32> = (1..=18).collect();
        let d = run(
            LineRule::Statements,
            &[changed("p/a.go", &all)],
            UnmeasuredPolicy::List,
        );
        // Line 4 holds only the block's `{`; 6, 7, 9, 11, 13 and 15 hold a comment, nothing, or
        // braces; on 17 only `return 2` is in a block.
        assert_eq!(d.files[0].measured, [5, 8, 10, 14, 17]);
        assert_eq!(d.files[0].violations, [8, 14]);
    }

    #[test]
    fn unmeasured_files_are_listed_and_optionally_counted() {
        let changes = [
            changed("p/a.go", &[10]),
            changed("p/new.go", &[1, 2, 3]),
            changed("p/new_test.go", &[1]),
            changed("p/testdata/x.go", &[1]),
            changed("p/gone.go", &[]),
        ];
        let d = run(LineRule::DiffCover, &changes, UnmeasuredPolicy::List);
        assert_eq!(
            d.unmeasured,
            [UnmeasuredFile {
                path: "p/new.go".into(),
                changed_lines: 3
            }]
        );
        assert_eq!(
            (d.total_lines(), d.total_violations(), d.total_percent()),
            (1, 0, 100)
        );
        let d = run(LineRule::DiffCover, &changes, UnmeasuredPolicy::Count);
        assert_eq!(
            (d.total_lines(), d.total_violations(), d.total_percent()),
            (4, 3, 25)
        );
        assert!(d.meets(25.0));
        assert!(!d.meets(25.5));
    }

    #[test]
    fn a_line_uncovered_in_one_method_is_a_violation() {
        // Two one-line functions on the same line: diff-cover sees two entries for line 3.
        let src = "package p\n\nfunc A() { a() }; func B() { b() }\n";
        let p = Profile {
            mode: Mode::Set,
            files: vec![FileProfile {
                name: "m/a.go".into(),
                blocks: vec![block(3, 10, 3, 17, 1, 1), block(3, 28, 3, 35, 1, 0)],
            }],
        };
        let loc = vec![located("a.go", "")];
        let changes = [changed("a.go", &[3])];
        let input = DiffInput {
            profile: &p,
            located: &loc,
            changes: &changes,
        };
        let opts = DiffOptions {
            lines: LineRule::DiffCover,
            unmeasured: UnmeasuredPolicy::List,
        };
        let d = compute(&input, &[Some(src.as_bytes().to_vec())], &opts).unwrap();
        assert_eq!(d.files[0].violations, [3]);
    }

    #[test]
    fn classes_match_through_every_module_root() {
        // Two modules with a same-named file: diff-cover joins every <source> with every class
        // file name, so a change to b/x.go also picks up a/x.go's lines.
        let src = "package p\n\nfunc F() {\n\tf()\n}\n";
        let p = Profile {
            mode: Mode::Set,
            files: vec![
                FileProfile {
                    name: "ma/x.go".into(),
                    blocks: vec![block(3, 10, 5, 2, 1, 0)],
                },
                FileProfile {
                    name: "mb/x.go".into(),
                    blocks: vec![block(3, 10, 4, 5, 1, 1)],
                },
            ],
        };
        let loc = vec![located("a/x.go", "a"), located("b/x.go", "b")];
        let changes = [changed("b/x.go", &[4, 5])];
        let input = DiffInput {
            profile: &p,
            located: &loc,
            changes: &changes,
        };
        assert_eq!(
            input
                .plan(options(LineRule::DiffCover))
                .todo(&Done::default()),
            [0, 1]
        );
        assert_eq!(
            input
                .plan(options(LineRule::Statements))
                .todo(&Done::default()),
            [1]
        );
        let texts = vec![Some(src.as_bytes().to_vec()), Some(src.as_bytes().to_vec())];
        let opts = DiffOptions {
            lines: LineRule::DiffCover,
            unmeasured: UnmeasuredPolicy::List,
        };
        let d = compute(&input, &texts, &opts).unwrap();
        assert_eq!(d.files[0].measured, [4, 5]);
        assert_eq!(d.files[0].violations, [4, 5]);
    }

    #[test]
    fn files_analyzed_early_give_the_whole_computation() {
        // A path worked out on its own (its profile file analyzed with the path's added lines
        // and text, as the diff hands them over) counts as the plan's own analysis would,
        // under both rules; the file's text is not needed again.
        let p = profile();
        let loc = vec![located("p/a.go", "")];
        let all: Vec<u32> = (1..=18).collect();
        for added in [all.clone(), vec![5, 8, 14], vec![2]] {
            let changes = [changed("p/a.go", &added), changed("p/new.go", &[1])];
            let input = DiffInput {
                profile: &p,
                located: &loc,
                changes: &changes,
            };
            for rule in [LineRule::DiffCover, LineRule::Statements] {
                let index = FileIndex::new(&loc, rule);
                assert!(index.direct());
                assert_eq!(index.files_at("p/a.go"), [0]);
                let whole = input
                    .plan(options(rule))
                    .compute(&[Some(SRC.as_bytes().to_vec())])
                    .unwrap();
                let mut parser = None;
                let early = analyze_file(
                    &p.files[0],
                    "p/a.go",
                    SRC.as_bytes(),
                    &added,
                    rule,
                    &mut parser,
                )
                .unwrap();
                let done: Done = [("p/a.go".to_string(), path_lines(&added, &[&early]))]
                    .into_iter()
                    .collect();
                let plan = input.plan_indexed(index, options(rule));
                assert_eq!(plan.todo(&Done::default()), [0]);
                assert!(plan.todo(&done).is_empty());
                let d = plan.compute_with(&[None], done).unwrap();
                assert_eq!(d.files, whole.files, "{rule:?} {added:?}");
                assert_eq!(whole.files.is_empty(), added == [2], "{rule:?} {added:?}");
                assert_eq!(d.unmeasured, whole.unmeasured, "{rule:?} {added:?}");
                assert!(!whole.unmeasured.is_empty());
            }
        }
    }

    #[test]
    fn files_answer_for_their_own_path_alone_with_one_module_root() {
        let one = [located("a/x.go", "a"), None, located("a/y/z.go", "a")];
        assert!(FileIndex::new(&one, LineRule::DiffCover).direct());
        let root = [located("x.go", ""), located("y/z.go", "")];
        assert!(FileIndex::new(&root, LineRule::DiffCover).direct());
        // Two roots: b/x.go also answers for a change to a/x.go under the diff-cover rule.
        let two = [located("a/x.go", "a"), located("b/x.go", "b")];
        assert!(!FileIndex::new(&two, LineRule::DiffCover).direct());
        assert!(FileIndex::new(&two, LineRule::Statements).direct());
        // A file outside its root answers for <root>/<its path>.
        let outside = [located("x.go", "a")];
        assert!(!FileIndex::new(&outside, LineRule::DiffCover).direct());
        let vendored = [
            located("a/x.go", "a"),
            Some(Located {
                path: "vendor/v/x.go".into(),
                module_dir: None,
            }),
        ];
        assert!(FileIndex::new(&vendored, LineRule::DiffCover).direct());
    }

    #[test]
    fn percent_matches_python_arithmetic() {
        let f = FileDiff {
            path: "x".into(),
            measured: vec![1, 2, 3],
            violations: vec![1],
        };
        assert_eq!(f.percent(), 66.66666666666667);
        assert_eq!(f.covered(), [2, 3]);
    }

    #[test]
    fn innermost_block_wins_for_literals() {
        // An outer block enclosing a func literal's body block.
        let blocks = vec![
            block(1, 1, 10, 1, 2, 1),
            block(3, 5, 5, 2, 1, 0),
            block(7, 1, 8, 1, 1, 1),
        ];
        let max_end = running_max_end(&blocks);
        assert_eq!(
            innermost(&blocks, &max_end, (4, 1)).map(|b| b.count),
            Some(0)
        );
        assert_eq!(
            innermost(&blocks, &max_end, (6, 1)).map(|b| b.count),
            Some(1)
        );
        assert_eq!(innermost(&blocks, &max_end, (12, 1)), None);
    }
}
