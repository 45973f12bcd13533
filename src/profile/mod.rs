//! Go coverage profiles: the text format `go test -coverprofile` and goc agents produce.
//!
//! Pure: parse, normalize, merge and hash. No I/O beyond the bytes handed in.

mod merge;
mod merge_text;
mod parse;
#[cfg(test)]
mod tests;
mod text;

pub use merge::merge;
pub use merge_text::{MergedText, merged_text, parse_merged};
pub use parse::parse;
pub use text::text_fingerprint;

use std::fmt;

/// The profile's counting mode (`mode:` line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Counts are 0 or 1: was the block run at all.
    Set,
    /// Counts are hit counts (non-atomic increments).
    Count,
    /// Counts are hit counts (atomic increments).
    Atomic,
}

impl Mode {
    /// The word used on the `mode:` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Set => "set",
            Mode::Count => "count",
            Mode::Atomic => "atomic",
        }
    }

    fn from_word(word: &str) -> Option<Mode> {
        match word {
            "set" => Some(Mode::Set),
            "count" => Some(Mode::Count),
            "atomic" => Some(Mode::Atomic),
            _ => None,
        }
    }

    /// A count as this mode records it: 0 or 1 in set mode.
    fn clamp(self, count: u64) -> u64 {
        match self {
            Mode::Set => u64::from(count > 0),
            Mode::Count | Mode::Atomic => count,
        }
    }

    /// Combines two counts of the same block: OR in set mode, a sum otherwise.
    fn combine(self, a: u64, b: u64) -> Option<u64> {
        match self {
            Mode::Set => Some(u64::from(a > 0 || b > 0)),
            Mode::Count | Mode::Atomic => a.checked_add(b),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One basic block: a source range, its statement count and its hit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Block {
    /// 1-based line of the block's first byte.
    pub start_line: u32,
    /// 1-based byte column of the block's first byte.
    pub start_col: u32,
    /// 1-based line of the block's end.
    pub end_line: u32,
    /// 1-based byte column just past the block's end.
    pub end_col: u32,
    /// Number of statements in the block.
    pub num_stmt: u32,
    /// Times the block ran (0/1 in set mode).
    pub count: u64,
}

impl Block {
    /// A block from its six numbers, in the order the profile text writes them.
    pub const fn new(
        start_line: u32,
        start_col: u32,
        end_line: u32,
        end_col: u32,
        num_stmt: u32,
        count: u64,
    ) -> Block {
        Block {
            start_line,
            start_col,
            end_line,
            end_col,
            num_stmt,
            count,
        }
    }

    /// The four coordinates, which identify a block within its file.
    pub fn range(&self) -> (u32, u32, u32, u32) {
        (self.start_line, self.start_col, self.end_line, self.end_col)
    }
}

/// The blocks of one source file, sorted by range, no two with the same range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileProfile {
    /// The file's name as the profile spells it (an import path plus base name).
    pub name: String,
    /// Blocks sorted by (start line, start col, end line, end col).
    pub blocks: Vec<Block>,
}

impl FileProfile {
    /// Total statements and covered statements of this file's blocks.
    pub fn statements(&self) -> (u64, u64) {
        self.blocks.iter().fold((0, 0), |(t, c), b| {
            let n = u64::from(b.num_stmt);
            (t + n, if b.count > 0 { c + n } else { c })
        })
    }

    /// The highest count of any block (for shading hit counts).
    pub fn max_count(&self) -> u64 {
        self.blocks.iter().map(|b| b.count).max().unwrap_or(0)
    }
}

/// A normalized profile: files sorted by name, blocks sorted and de-duplicated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The counting mode.
    pub mode: Mode,
    /// Files sorted by name (byte order), each name once.
    pub files: Vec<FileProfile>,
}

impl Profile {
    /// Number of blocks over all files.
    pub fn block_count(&self) -> usize {
        self.files.iter().map(|f| f.blocks.len()).sum()
    }

    /// Looks a file up by its profile name.
    pub fn file(&self, name: &str) -> Option<&FileProfile> {
        self.files
            .binary_search_by(|f| f.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.files[i])
    }
}

/// What can be wrong with a profile or a set of profiles.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProfileError {
    /// The input has no `mode:` line at all.
    #[error("{input}: empty profile (no 'mode:' line)")]
    Empty {
        /// The input's name.
        input: String,
    },
    /// The first line is not a valid `mode: set|count|atomic` line.
    #[error(
        "{input}:{line}: bad mode line {text:?}: want 'mode: set', 'mode: count' or 'mode: atomic'"
    )]
    BadMode {
        /// The input's name.
        input: String,
        /// 1-based line number.
        line: usize,
        /// The offending text (shortened).
        text: String,
    },
    /// A block line that does not parse.
    #[error("{input}:{line}: {what} in {text:?}")]
    BadLine {
        /// The input's name.
        input: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
        /// The offending text (shortened).
        text: String,
    },
    /// Two blocks with the same range but different statement counts.
    #[error("{input}: {file}: block {range} has inconsistent statement counts {a} and {b}")]
    InconsistentNumStmt {
        /// The input's name.
        input: String,
        /// The source file.
        file: String,
        /// The block range, `L0.C0,L1.C1`.
        range: String,
        /// One statement count.
        a: u32,
        /// The other statement count.
        b: u32,
    },
    /// Profiles in different modes cannot be merged.
    #[error("{input}: mode {found} differs from mode {expected} of {first}")]
    ModeMismatch {
        /// The input with the different mode.
        input: String,
        /// Its mode.
        found: Mode,
        /// The first input's name.
        first: String,
        /// The first input's mode.
        expected: Mode,
    },
    /// The same file has different blocks in two profiles: different builds of different code.
    #[error("{input}: {file}: blocks differ from {first}: first mismatch at {detail}")]
    BlockMismatch {
        /// The input that disagrees.
        input: String,
        /// The earlier input it disagrees with.
        first: String,
        /// The source file.
        file: String,
        /// The first mismatching block, described.
        detail: String,
    },
    /// A count that does not fit in 64 bits after summing.
    #[error("{input}: {file}: count overflow at block {range}")]
    Overflow {
        /// The input's name.
        input: String,
        /// The source file.
        file: String,
        /// The block range.
        range: String,
    },
}

/// Formats a block's range the way the profile text does: `L0.C0,L1.C1`.
pub fn range_text(b: &Block) -> String {
    format!(
        "{}.{},{}.{}",
        b.start_line, b.start_col, b.end_line, b.end_col
    )
}
