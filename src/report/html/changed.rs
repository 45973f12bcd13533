//! Coverage of a file's changed lines, for the incremental view of the HTML report.
//!
//! A line is measured when some block spans it (start line to end line, as gocover-cobertura
//! lists lines), and covered when one of those blocks ran.

use crate::profile::Block;

/// A changed line no block spans.
pub const UNMEASURED: u8 = 0;
/// A changed line spanned only by blocks that never ran.
pub const UNCOVERED: u8 = 1;
/// A changed line spanned by a block that ran.
pub const COVERED: u8 = 2;

/// Changed lines of one file with their states and totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangedLines {
    /// The changed lines, ascending, each once.
    pub lines: Vec<u32>,
    /// State of each line: [`UNMEASURED`], [`UNCOVERED`] or [`COVERED`].
    pub states: Vec<u8>,
    /// Lines some block spans.
    pub measured: u64,
    /// Measured lines some block that ran spans.
    pub covered: u64,
}

/// Classifies `lines` against `blocks` (sorted by start, as in a normalized profile).
pub fn classify(blocks: &[Block], lines: &[u32]) -> ChangedLines {
    let mut lines = lines.to_vec();
    // The caller promises sorted lines; sorting again is cheap and makes the sweep safe.
    lines.sort_unstable();
    lines.dedup();
    let mut states = Vec::with_capacity(lines.len());
    let (mut measured, mut covered) = (0, 0);
    let mut next = 0;
    // Blocks that started at or before the current line: (end line, ran).
    let mut active: Vec<(u32, bool)> = Vec::new();
    for &l in &lines {
        while let Some(b) = blocks.get(next).filter(|b| b.start_line <= l) {
            active.push((b.end_line, b.count > 0));
            next += 1;
        }
        active.retain(|&(end, _)| end >= l);
        let state = if active.iter().any(|&(_, ran)| ran) {
            COVERED
        } else if active.is_empty() {
            UNMEASURED
        } else {
            UNCOVERED
        };
        measured += u64::from(state != UNMEASURED);
        covered += u64::from(state == COVERED);
        states.push(state);
    }
    ChangedLines {
        lines,
        states,
        measured,
        covered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(sl: u32, el: u32, c: u64) -> Block {
        Block {
            start_line: sl,
            start_col: 1,
            end_line: el,
            end_col: 2,
            num_stmt: 1,
            count: c,
        }
    }

    #[test]
    fn lines_are_classified_by_spanning_blocks() {
        let blocks = [
            block(3, 5, 1),
            block(5, 8, 0),
            block(10, 10, 0),
            block(12, 20, 2),
        ];
        let c = classify(&blocks, &[14, 1, 4, 5, 7, 9, 10, 7]);
        assert_eq!(c.lines, vec![1, 4, 5, 7, 9, 10, 14]);
        assert_eq!(
            c.states,
            vec![
                UNMEASURED, COVERED, COVERED, UNCOVERED, UNMEASURED, UNCOVERED, COVERED
            ]
        );
        assert_eq!((c.measured, c.covered), (5, 3));
    }
}
