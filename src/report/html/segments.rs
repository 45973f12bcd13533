//! Profile blocks turned into colored, non-overlapping text ranges of one source file.
//!
//! Block positions are 1-based line and byte column; the page's script slices a JavaScript
//! string, so ranges are given in UTF-16 code units of the (lossily decoded) source text.

use crate::profile::{Block, Mode};

/// One colored range of the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First UTF-16 code unit.
    pub start: u32,
    /// One past the last UTF-16 code unit.
    pub end: u32,
    /// Shading class as `go tool cover -html` names it: 0 uncovered, 1..=10 covered.
    pub class: u8,
    /// The block's hit count.
    pub count: u64,
}

/// The `covN` class `go tool cover -html` gives a block with `count` hits when the file's
/// highest count is `max`: 0 for uncovered, 8 when counts are only 0/1 (set mode), otherwise
/// `floor(9 * ln(count) / ln(max)) + 1`.
///
/// Rust's `ln` comes from the platform libm; Go's `math.Log` can differ by one ULP, which could
/// only move a count lying exactly on a shade boundary to the neighbouring shade.
pub fn class(mode: Mode, count: u64, max: u64) -> u8 {
    if count == 0 {
        0
    } else if mode == Mode::Set || max <= 1 {
        8
    } else {
        let norm = (count as f64).ln() / (max as f64).ln();
        // `count <= max` keeps norm in [0, 1]; the clamp guards a caller passing a smaller max.
        ((norm * 9.0).floor() as u8).min(9) + 1
    }
}

/// Where each line starts, in bytes and in UTF-16 code units of the decoded text.
struct Lines<'a> {
    text: &'a [u8],
    /// Per line: byte start, UTF-16 start, whether the line is ASCII.
    starts: Vec<(usize, u32, bool)>,
    /// Length of the whole text in UTF-16 code units.
    len16: u32,
}

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Lines<'a> {
        let mut starts = Vec::with_capacity(text.len() / 32 + 1);
        let mut at = 0usize;
        let mut at16 = 0u32;
        // Invalid UTF-8 never spans a '\n', so decoding line by line equals decoding the whole.
        // Lines end at each '\n' and at the end of the text (as `split` cuts them).
        let mut from = 0;
        for end in memchr::memchr_iter(b'\n', text).chain(std::iter::once(text.len())) {
            let line = &text[from..end];
            from = end + 1;
            let ascii = line.is_ascii();
            starts.push((at, at16, ascii));
            let len16 = if ascii {
                line.len()
            } else {
                utf16_len_lossy(line)
            };
            at += line.len() + 1;
            at16 = at16.saturating_add(len16 as u32).saturating_add(1);
        }
        // The last "line" has no '\n' after it.
        let len16 = at16.saturating_sub(1);
        Lines {
            text,
            starts,
            len16,
        }
    }

    /// The UTF-16 offset of 1-based `line`, byte `col`. A column past the line's end means the
    /// start of the next line, as in x/tools' `Boundaries` walk.
    fn offset(&self, line: u32, col: u32) -> u32 {
        let Some(&(start, start16, ascii)) = (line as usize)
            .checked_sub(1)
            .and_then(|i| self.starts.get(i))
        else {
            return if line == 0 { 0 } else { self.len16 };
        };
        // The line ends one byte before the next line starts (or at the end of the text).
        let end = self
            .starts
            .get(line as usize)
            .map_or(self.text.len(), |&(next, _, _)| next - 1);
        let k = (col.max(1) - 1) as usize;
        if k > end - start {
            // Past the newline: the next line's start (or the text's end).
            return self
                .starts
                .get(line as usize)
                .map_or(self.len16, |&(_, s16, _)| s16);
        }
        let prefix16 = if ascii {
            k
        } else {
            utf16_len_lossy(&self.text[start..start + k])
        };
        start16.saturating_add(prefix16 as u32).min(self.len16)
    }
}

/// UTF-16 length of `bytes` decoded as `String::from_utf8_lossy` would.
fn utf16_len_lossy(bytes: &[u8]) -> usize {
    bytes
        .utf8_chunks()
        .map(|c| {
            let valid: usize = c.valid().chars().map(char::len_utf16).sum();
            valid + usize::from(!c.invalid().is_empty())
        })
        .sum()
}

/// Colored ranges of `text` for `blocks` (sorted by start, as in a normalized profile), sorted
/// and non-overlapping. Where blocks overlap, the one that started last shows.
pub fn segments(text: &[u8], blocks: &[Block], mode: Mode) -> Vec<Segment> {
    let lines = Lines::new(text);
    let max = blocks.iter().map(|b| b.count).max().unwrap_or(0);
    let mut sweep = Sweep {
        out: Vec::with_capacity(blocks.len()),
        last_block: usize::MAX,
        active: Vec::new(),
        cur: 0,
    };
    for (i, b) in blocks.iter().enumerate() {
        let start = lines.offset(b.start_line, b.start_col);
        let end = lines.offset(b.end_line, b.end_col);
        if end <= start {
            continue;
        }
        sweep.close_until(start);
        sweep.emit_to(start);
        sweep.active.push(Open {
            end,
            block: i,
            class: class(mode, b.count, max),
            count: b.count,
        });
    }
    sweep.close_until(u32::MAX);
    sweep.out
}

/// A block open during the sweep.
struct Open {
    end: u32,
    block: usize,
    class: u8,
    count: u64,
}

/// Left-to-right sweep over block boundaries; real profiles never overlap, so `active` holds
/// at most one block and the linear scans below stay trivial.
struct Sweep {
    out: Vec<Segment>,
    /// The block the last segment came from, to extend it rather than split it.
    last_block: usize,
    /// Open blocks in start order: the last one shows.
    active: Vec<Open>,
    /// Everything before this offset has been emitted.
    cur: u32,
}

impl Sweep {
    /// Emits the range from `cur` to `to` in the showing block's color, if any.
    fn emit_to(&mut self, to: u32) {
        if to <= self.cur {
            return;
        }
        if let Some(top) = self.active.last() {
            match self.out.last_mut() {
                Some(last) if self.last_block == top.block && last.end == self.cur => last.end = to,
                _ => {
                    self.out.push(Segment {
                        start: self.cur,
                        end: to,
                        class: top.class,
                        count: top.count,
                    });
                    self.last_block = top.block;
                }
            }
        }
        self.cur = to;
    }

    /// Closes every open block that ends at or before `limit`.
    fn close_until(&mut self, limit: u32) {
        while let Some(next_end) = self.active.iter().map(|a| a.end).min() {
            if next_end > limit {
                break;
            }
            self.emit_to(next_end);
            self.active.retain(|a| a.end > next_end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(sl: u32, sc: u32, el: u32, ec: u32, c: u64) -> Block {
        Block {
            start_line: sl,
            start_col: sc,
            end_line: el,
            end_col: ec,
            num_stmt: 1,
            count: c,
        }
    }

    fn seg(start: u32, end: u32, class: u8, count: u64) -> Segment {
        Segment {
            start,
            end,
            class,
            count,
        }
    }

    #[test]
    fn classes_follow_go_tool_cover() {
        assert_eq!(class(Mode::Count, 0, 100), 0);
        assert_eq!(class(Mode::Set, 1, 1), 8);
        assert_eq!(class(Mode::Count, 1, 1), 8);
        assert_eq!(class(Mode::Count, 1, 100), 1);
        assert_eq!(class(Mode::Count, 100, 100), 10);
        assert_eq!(class(Mode::Atomic, 10, 100), 5); // 9 * 0.5 = 4.5 -> 4, + 1
        assert_eq!(class(Mode::Count, 3, 4), 8); // 9 * ln3/ln4 = 7.13 -> 7, + 1
        assert_eq!(class(Mode::Count, 7, 3), 10); // a count above max stays in range
    }

    #[test]
    fn ascii_blocks_map_to_offsets() {
        let text = b"package p\n\nfunc f() {\n\tx()\n}\n";
        // Body block from the `{` (line 3 col 10) to just after `}` (line 5 col 2).
        let s = segments(text, &[block(3, 10, 5, 2, 3)], Mode::Count);
        let start = "package p\n\nfunc f() ".len() as u32;
        let end = "package p\n\nfunc f() {\n\tx()\n}".len() as u32;
        // The only block has the file's highest count: the darkest shade.
        assert_eq!(s, vec![seg(start, end, 10, 3)]);
    }

    #[test]
    fn multibyte_and_invalid_bytes_count_utf16_units() {
        // 'é' is 2 bytes / 1 unit, '😀' 4 bytes / 2 units, 0xff one invalid byte -> U+FFFD.
        let mut text = "é😀".as_bytes().to_vec();
        text.push(0xff);
        text.extend_from_slice(b"ab\nxy");
        let s = segments(
            &text,
            &[block(1, 8, 1, 10, 1), block(2, 1, 2, 2, 0)],
            Mode::Set,
        );
        let decoded = String::from_utf8_lossy(&text);
        let units: Vec<u16> = decoded.encode_utf16().collect();
        assert_eq!(s, vec![seg(4, 6, 8, 1), seg(7, 8, 0, 0)]);
        assert_eq!(String::from_utf16_lossy(&units[4..6]), "ab");
        assert_eq!(String::from_utf16_lossy(&units[7..8]), "x");
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let text = b"ab\ncd";
        let s = segments(
            text,
            &[
                block(1, 2, 1, 99, 1),
                block(2, 1, 9, 9, 0),
                block(0, 0, 0, 0, 1),
            ],
            Mode::Set,
        );
        // Column 99 on line 1 ends at the start of line 2; line 9 is past the end.
        assert_eq!(s, vec![seg(1, 3, 8, 1), seg(3, 5, 0, 0)]);
    }

    #[test]
    fn nested_blocks_show_the_inner_one() {
        let text = b"0123456789";
        let s = segments(
            text,
            &[
                block(1, 1, 1, 11, 0),
                block(1, 3, 1, 5, 4),
                block(1, 4, 1, 8, 2),
            ],
            Mode::Count,
        );
        assert_eq!(
            s,
            vec![
                seg(0, 2, 0, 0),
                seg(2, 3, 10, 4),
                seg(3, 7, 5, 2),
                seg(7, 10, 0, 0),
            ]
        );
    }

    proptest::proptest! {
        #[test]
        fn segments_are_ordered_disjoint_and_in_range(
            text in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            raw in proptest::collection::vec((0u32..12, 0u32..30, 0u32..12, 0u32..30, 0u64..5), 0..20),
        ) {
            let mut blocks: Vec<Block> = raw
                .into_iter()
                .map(|(sl, sc, el, ec, c)| block(sl, sc, el, ec, c))
                .collect();
            blocks.sort();
            let len16 = String::from_utf8_lossy(&text).encode_utf16().count() as u32;
            let segs = segments(&text, &blocks, Mode::Count);
            let mut at = 0;
            for s in &segs {
                proptest::prop_assert!(s.start >= at && s.start < s.end && s.end <= len16);
                proptest::prop_assert!(s.class <= 10);
                at = s.end;
            }
        }
    }
}
