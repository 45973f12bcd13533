//! Full coverage reports (func, JSON, HTML) built from a profile and the sources it names.
//!
//! Pure: the caller hands in the source bytes (read from git by [`crate::source`]).

pub mod diff;
pub mod diff_format;
pub mod func;
mod funcdecls;
pub mod html;
pub mod json;
mod tabwriter;
mod varfuncs;

use rayon::prelude::*;

use crate::profile::{Block, FileProfile, Mode, Profile};
use crate::syntax::{Extent, FuncDecl, SyntaxError};

/// The source of one profile file, as found in the repository.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path relative to the repository root.
    pub path: String,
    /// The file's bytes at the reported commit.
    pub text: Vec<u8>,
}

/// Statement counts: how many, how many ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Statements.
    pub statements: u64,
    /// Statements whose block ran at least once.
    pub covered: u64,
}

impl Counts {
    /// Percent as `go tool cover` computes it (0 statements counts as a denominator of 1).
    pub fn percent(&self) -> f64 {
        100.0 * self.covered as f64 / self.statements.max(1) as f64
    }

    fn add(&mut self, other: Counts) {
        self.statements += other.statements;
        self.covered += other.covered;
    }
}

/// Coverage of one function declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncCoverage {
    /// Bare function name.
    pub name: String,
    /// Where it is in the file.
    pub extent: Extent,
    /// Its statements (blocks overlapping its extent).
    pub counts: Counts,
}

/// Coverage of one file of the profile.
#[derive(Debug, Clone)]
pub struct FileCoverage {
    /// The name the profile uses (import path + base name).
    pub name: String,
    /// Repository path, when the file resolved.
    pub path: Option<String>,
    /// All blocks of the file (as `go tool cover -html` counts them).
    pub counts: Counts,
    /// Functions in source order (empty when unresolved).
    pub funcs: Vec<FuncCoverage>,
    /// Functions' statements summed (what `-func` totals).
    pub func_counts: Counts,
}

/// A full report's numbers.
#[derive(Debug, Clone)]
pub struct Coverage {
    /// The profile's mode.
    pub mode: Mode,
    /// Files in profile order (sorted by name).
    pub files: Vec<FileCoverage>,
    /// Sum over the functions of resolved files: the `-func` total.
    pub func_total: Counts,
    /// Sum over all blocks of all files (what `go test -cover` prints).
    pub block_total: Counts,
    /// Profile file names that did not resolve to a file in the repository.
    pub unresolved: Vec<String>,
}

/// Why a report could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The Go grammar could not be loaded.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// sources must line up with the profile's files.
    #[error("internal: {sources} sources for {files} profile files")]
    Misaligned {
        /// Number of source entries given.
        sources: usize,
        /// Number of profile files.
        files: usize,
    },
    /// A Go file tree-sitter could not parse.
    #[error("{path}: {source}")]
    Parse {
        /// The repository path.
        path: String,
        /// Why.
        source: SyntaxError,
    },
}

/// What the function-level numbers need of one resolved source file.
#[derive(Debug, Clone)]
pub struct FileDecls {
    /// Path relative to the repository root.
    pub path: String,
    /// Function declarations in source order.
    pub decls: Vec<FuncDecl>,
}

/// Finds the function declarations of one Go file (a lexical scan, at a fraction of a full
/// parse's cost; see funcdecls).
pub fn scan_decls(path: &str, text: &[u8]) -> FileDecls {
    FileDecls {
        path: path.to_string(),
        decls: funcdecls::scan(text),
    }
}

/// Scans every resolved source (in parallel) and computes per-function and per-file coverage.
///
/// `sources[i]` is the source of `profile.files[i]`, `None` when it did not resolve.
pub fn analyze(profile: &Profile, sources: &[Option<SourceFile>]) -> Result<Coverage, ReportError> {
    let decls: Vec<Option<FileDecls>> = sources
        .par_iter()
        .map(|src| src.as_ref().map(|s| scan_decls(&s.path, &s.text)))
        .collect();
    analyze_decls(profile, decls)
}

/// Per-function and per-file coverage from the declarations of each file ([`scan_decls`]).
///
/// `decls[i]` belongs to `profile.files[i]`, `None` when it did not resolve.
pub fn analyze_decls(
    profile: &Profile,
    decls: Vec<Option<FileDecls>>,
) -> Result<Coverage, ReportError> {
    if decls.len() != profile.files.len() {
        return Err(ReportError::Misaligned {
            sources: decls.len(),
            files: profile.files.len(),
        });
    }
    let mut files = Vec::with_capacity(profile.files.len());
    let mut unresolved = Vec::new();
    let mut func_total = Counts::default();
    let mut block_total = Counts::default();
    for (fp, file) in profile.files.iter().zip(decls) {
        let (statements, covered) = fp.statements();
        let counts = Counts {
            statements,
            covered,
        };
        block_total.add(counts);
        let (path, funcs) = match file {
            Some(file) => (Some(file.path), func_coverage(fp, file.decls)),
            None => {
                unresolved.push(fp.name.clone());
                (None, Vec::new())
            }
        };
        let mut func_counts = Counts::default();
        for f in &funcs {
            func_counts.add(f.counts);
        }
        func_total.add(func_counts);
        files.push(FileCoverage {
            name: fp.name.clone(),
            path,
            counts,
            funcs,
            func_counts,
        });
    }
    Ok(Coverage {
        mode: profile.mode,
        files,
        func_total,
        block_total,
        unresolved,
    })
}

/// Whether a block overlaps an extent, exactly as cmd/cover's func.go decides it.
pub fn overlaps(b: &Block, e: &Extent) -> bool {
    let after_end =
        b.start_line > e.end_line || (b.start_line == e.end_line && b.start_col >= e.end_col);
    let before_start =
        b.end_line < e.start_line || (b.end_line == e.start_line && b.end_col <= e.start_col);
    !after_end && !before_start
}

/// Indices of the blocks overlapping `e`. Blocks are sorted by start; `max_end[i]` is the
/// greatest end position among `blocks[..=i]`, which lets us skip every block that ends before
/// the extent with one binary search instead of a scan.
fn overlapping<'a>(
    blocks: &'a [Block],
    max_end: &[(u32, u32)],
    e: &'a Extent,
) -> impl Iterator<Item = &'a Block> + 'a {
    let first = max_end.partition_point(|&end| end <= (e.start_line, e.start_col));
    blocks[first..]
        .iter()
        .take_while(move |b| (b.start_line, b.start_col) < (e.end_line, e.end_col))
        .filter(move |b| overlaps(b, e))
}

/// Running maximum of block end positions (see [`overlapping`]).
fn running_max_end(blocks: &[Block]) -> Vec<(u32, u32)> {
    let mut max = (0, 0);
    blocks
        .iter()
        .map(|b| {
            max = max.max((b.end_line, b.end_col));
            max
        })
        .collect()
}

/// Statement counts of the blocks overlapping `e`.
pub fn extent_counts(fp: &FileProfile, e: &Extent) -> Counts {
    let max_end = running_max_end(&fp.blocks);
    count_blocks(overlapping(&fp.blocks, &max_end, e))
}

fn count_blocks<'a>(blocks: impl Iterator<Item = &'a Block>) -> Counts {
    let mut c = Counts::default();
    for b in blocks {
        c.statements += u64::from(b.num_stmt);
        if b.count > 0 {
            c.covered += u64::from(b.num_stmt);
        }
    }
    c
}

fn func_coverage(fp: &FileProfile, funcs: Vec<FuncDecl>) -> Vec<FuncCoverage> {
    let max_end = running_max_end(&fp.blocks);
    funcs
        .into_iter()
        .map(|f| FuncCoverage {
            counts: count_blocks(overlapping(&fp.blocks, &max_end, &f.extent)),
            name: f.name,
            extent: f.extent,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(sl: u32, sc: u32, el: u32, ec: u32, n: u32, c: u64) -> Block {
        Block::new(sl, sc, el, ec, n, c)
    }

    #[test]
    fn overlap_matches_func_go_rules() {
        let e = Extent {
            start_line: 10,
            start_col: 1,
            end_line: 20,
            end_col: 2,
        };
        assert!(!overlaps(&block(20, 2, 21, 1, 1, 1), &e)); // starts at the end
        assert!(overlaps(&block(20, 1, 21, 1, 1, 1), &e));
        assert!(!overlaps(&block(5, 1, 10, 1, 1, 1), &e)); // ends at the start
        assert!(overlaps(&block(5, 1, 10, 2, 1, 1), &e));
        assert!(overlaps(&block(1, 1, 30, 1, 1, 1), &e)); // encloses
    }

    #[test]
    fn overlapping_equals_a_full_scan() {
        // An enclosing block that starts before the function must still be found.
        let fp = FileProfile {
            name: "x.go".into(),
            blocks: vec![
                block(1, 1, 3, 1, 1, 1),
                block(2, 1, 30, 1, 2, 0),
                block(4, 1, 5, 1, 3, 1),
                block(11, 1, 12, 1, 4, 1),
                block(25, 1, 26, 1, 5, 1),
            ],
        };
        let e = Extent {
            start_line: 10,
            start_col: 1,
            end_line: 20,
            end_col: 2,
        };
        let fast = extent_counts(&fp, &e);
        let slow = count_blocks(fp.blocks.iter().filter(|b| overlaps(b, &e)));
        assert_eq!(fast, slow);
        assert_eq!(
            fast,
            Counts {
                statements: 6,
                covered: 4
            }
        );
    }
}
