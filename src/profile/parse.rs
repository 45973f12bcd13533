//! Parsing the profile text format, as x/tools' cover.ParseProfiles reads it.

// Keys are file names from the input: foldhash (randomly seeded) hashes them several times faster
// than SipHash.
use foldhash::HashMap;
use foldhash::HashMapExt as _;

use super::{Block, FileProfile, Mode, Profile, ProfileError, range_text};

/// Longest piece of an offending line quoted back in an error.
const QUOTE_MAX: usize = 120;

fn quote(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    if text.chars().count() > QUOTE_MAX {
        let cut: String = text.chars().take(QUOTE_MAX).collect();
        format!("{cut}...")
    } else {
        text.into_owned()
    }
}

/// Inputs at least this large are parsed in chunks on all cores (a merged profile of a big
/// service is megabytes; an agent's pull of a small one is not worth the threads).
const PARALLEL_MIN: usize = 1 << 20;

/// Parses profile text. `input` names the source in errors (a path, `-`, an agent address).
///
/// Accepts what Go's parser accepts, except that blank lines are skipped, the mode must be one of
/// `set`, `count`, `atomic`, and numbers must be plain digits that fit (u32 positions, u64 counts).
/// Set-mode counts are clamped to 0/1. Blocks with the same range are merged (OR in set mode,
/// sum otherwise); a differing statement count for the same range is an error.
pub fn parse(input: &str, data: &[u8]) -> Result<Profile, ProfileError> {
    if data.len() >= PARALLEL_MIN
        && let Some(profile) = parse_chunked(input, data)
    {
        return profile;
    }
    let (mode, files) = parse_lines(input, None, data)?;
    let Some(mode) = mode else {
        return Err(ProfileError::Empty {
            input: input.to_string(),
        });
    };
    finish(input, mode, vec![files])
}

/// Splits the block lines after the mode line into a few chunks per core and parses them in
/// parallel. `None` when a chunk has an error: the caller parses sequentially, which reports the
/// first error with its line number.
fn parse_chunked(input: &str, data: &[u8]) -> Option<Result<Profile, ProfileError>> {
    use rayon::prelude::*;
    // The mode line: the first non-blank line.
    let mut start = 0;
    let mode = loop {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        start = end + 1;
        if !line.is_empty() {
            break parse_mode(input, 1, line).ok()?;
        }
        if start >= data.len() {
            return None;
        }
    };
    let body = data.get(start..)?;
    // A few chunks per core: a report parses while another core indexes the tree, and that
    // core takes chunks over when it is done instead of idling.
    let chunks = rayon::current_num_threads().max(1) * 4;
    let mut bounds = vec![0];
    for i in 1..chunks {
        let at = (body.len() * i / chunks).max(*bounds.last()?);
        let cut = memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |j| at + j + 1);
        bounds.push(cut);
    }
    bounds.push(body.len());
    let parts: Vec<Chunk<'_>> = bounds
        .par_windows(2)
        .map(|w| parse_lines(input, Some(mode), &body[w[0]..w[1]]).map(|(_, chunk)| chunk))
        .collect::<Result<_, _>>()
        .ok()?;
    Some(finish(input, mode, parts))
}

/// One stretch of input parsed: every block in input order in one buffer, and which file each
/// run of consecutive blocks belongs to. One buffer sized from the input, not a growing list
/// per file: growing hundreds of lists by reallocation (and the worker threads' heaps with
/// them) was half of parsing a 5 MB profile.
struct Chunk<'a> {
    /// File names in order of first appearance in the chunk.
    names: Vec<&'a str>,
    blocks: Vec<Block>,
    /// (index into `names`, end in `blocks`): each run starts where the previous one ended.
    runs: Vec<(usize, usize)>,
}

/// Bytes per block line assumed when sizing a chunk's buffer: shorter than nearly every real
/// line, so the buffer rarely grows; capacity never written is never touched, so it costs no
/// memory.
const MIN_LINE: usize = 32;

/// Reads lines into a [`Chunk`]; `mode` is the mode line already read, if any.
fn parse_lines<'a>(
    input: &str,
    mut mode: Option<Mode>,
    data: &'a [u8],
) -> Result<(Option<Mode>, Chunk<'a>), ProfileError> {
    let mut chunk = Chunk {
        names: Vec::new(),
        blocks: Vec::with_capacity(data.len() / MIN_LINE + 1),
        runs: Vec::new(),
    };
    // Where each file is in `names`. Lines of one file come in runs, so the last file is checked
    // first: most lines need no hashing and no UTF-8 check.
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut last: Option<(&[u8], usize)> = None;
    for (lineno, line) in lines(data) {
        let Some(m) = mode else {
            mode = Some(parse_mode(input, lineno, line)?);
            continue;
        };
        // Most lines continue the previous line's file: parse them left to right after the
        // known name, which gives what the right-to-left split gives whenever it succeeds.
        if let Some((prev, _)) = last
            && let Some(mut block) = line
                .strip_prefix(prev)
                .and_then(|r| r.strip_prefix(b":"))
                .and_then(parse_coordinates)
        {
            if m == Mode::Set {
                block.count = u64::from(block.count > 0);
            }
            chunk.blocks.push(block);
            continue;
        }
        let bad = |what: &str| ProfileError::BadLine {
            input: input.to_string(),
            line: lineno,
            what: what.to_string(),
            text: quote(line),
        };
        if line.starts_with(b"mode: ") {
            return Err(bad("a second mode line"));
        }
        let (name, mut block) = parse_block(line).map_err(|e| bad(&e))?;
        if m == Mode::Set {
            block.count = u64::from(block.count > 0);
        }
        let at = match index.get(name) {
            Some(&at) => at,
            None => {
                let text = std::str::from_utf8(name).map_err(|_| bad("file name is not UTF-8"))?;
                chunk.names.push(text);
                index.insert(name, chunk.names.len() - 1);
                chunk.names.len() - 1
            }
        };
        // A new run: close the previous file's.
        if let Some((_, prev_at)) = last {
            chunk.runs.push((prev_at, chunk.blocks.len()));
        }
        last = Some((name, at));
        chunk.blocks.push(block);
    }
    if let Some((_, at)) = last {
        chunk.runs.push((at, chunk.blocks.len()));
    }
    Ok((mode, chunk))
}

/// The non-blank lines of profile text with their 1-based line numbers, without the `\r` of a
/// CRLF ending: what every reader of the format skips and strips.
pub(super) fn lines(data: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut start = 0;
    let mut lineno = 0;
    std::iter::from_fn(move || {
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
            let raw = &data[start..end];
            start = end + 1;
            lineno += 1;
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if !line.is_empty() {
                return Some((lineno, line));
            }
        }
        None
    })
}

/// A file across chunks: its name, its block count, and its runs as (chunk, start, end).
type Slot<'a> = (&'a str, usize, Vec<(usize, usize, usize)>);

/// Joins the runs of each file (in input order: chunk by chunk, run by run) into one list sized
/// exactly, then sorts and merges each file's blocks. Files are handled by name, so the first
/// error reported is the same however the input was chunked.
fn finish(input: &str, mode: Mode, chunks: Vec<Chunk<'_>>) -> Result<Profile, ProfileError> {
    use rayon::prelude::*;
    let mut slots: Vec<Slot<'_>> = Vec::new();
    let mut slot_of: HashMap<&str, usize> = HashMap::new();
    for (c, chunk) in chunks.iter().enumerate() {
        // This chunk's name index -> slot.
        let mut slot_at = Vec::with_capacity(chunk.names.len());
        for &name in &chunk.names {
            let slot = *slot_of.entry(name).or_insert_with(|| {
                slots.push((name, 0, Vec::new()));
                slots.len() - 1
            });
            slot_at.push(slot);
        }
        let mut start = 0;
        for &(at, end) in &chunk.runs {
            let slot = &mut slots[slot_at[at]];
            slot.1 += end - start;
            slot.2.push((c, start, end));
            start = end;
        }
    }
    slots.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let build = |(name, count, runs): Slot<'_>| {
        let mut blocks = Vec::with_capacity(count);
        for (c, start, end) in runs {
            blocks.extend_from_slice(&chunks[c].blocks[start..end]);
        }
        normalize_blocks(input, name, mode, &mut blocks).map(|()| FileProfile {
            name: name.to_string(),
            blocks,
        })
    };
    let results: Vec<Result<FileProfile, ProfileError>> = if slots.len() > 64 {
        slots.into_par_iter().map(build).collect()
    } else {
        slots.into_iter().map(build).collect()
    };
    // The first error by name, not whichever thread failed first.
    let files = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Profile { mode, files })
}

fn parse_mode(input: &str, lineno: usize, line: &[u8]) -> Result<Mode, ProfileError> {
    line.strip_prefix(b"mode: ")
        .and_then(|w| std::str::from_utf8(w).ok())
        .and_then(|w| Mode::from_word(w.trim()))
        .ok_or_else(|| ProfileError::BadMode {
            input: input.to_string(),
            line: lineno,
            text: quote(line),
        })
}

/// Sorts blocks by range and merges those with the same range.
pub(super) fn normalize_blocks(
    input: &str,
    file: &str,
    mode: Mode,
    blocks: &mut Vec<Block>,
) -> Result<(), ProfileError> {
    // Agents and `go test` write a file's blocks in order; one pass checks that, and only a
    // profile with repeated or shuffled runs (concatenated outputs) pays for the sort.
    if !blocks.is_sorted_by_key(Block::range) {
        // Stable sort: it finds the sorted runs that concatenated profiles consist of and merges
        // them, several times faster than sorting from scratch.
        blocks.sort_by_key(Block::range);
    }
    if blocks.windows(2).all(|w| w[0].range() != w[1].range()) {
        // Profiles live long in the collector (every agent's last snapshot): no spare capacity.
        blocks.shrink_to_fit();
        return Ok(());
    }
    // In place: a merged profile is megabytes of blocks, and fresh pages are what costs.
    let mut error = None;
    blocks.dedup_by(|b, last| {
        if last.range() != b.range() {
            return false;
        }
        if error.is_none() {
            if last.num_stmt != b.num_stmt {
                error = Some(ProfileError::InconsistentNumStmt {
                    input: input.to_string(),
                    file: file.to_string(),
                    range: range_text(b),
                    a: last.num_stmt,
                    b: b.num_stmt,
                });
            } else if let Some(sum) = mode.combine(last.count, b.count) {
                last.count = sum;
            } else {
                error = Some(ProfileError::Overflow {
                    input: input.to_string(),
                    file: file.to_string(),
                    range: range_text(b),
                });
            }
        }
        true
    });
    blocks.shrink_to_fit();
    error.map_or(Ok(()), Err)
}

/// Splits `name:L0.C0,L1.C1 N C` from the right, as Go's parser does, so that the file name may
/// itself contain `:`, `,`, `.` or spaces.
fn parse_block(line: &[u8]) -> Result<(&[u8], Block), String> {
    let (rest, count) = split_last(line, b' ', "missing count")?;
    let (rest, num_stmt) = split_last(rest, b' ', "missing statement count")?;
    let (rest, end_col) = split_last(rest, b'.', "missing end column")?;
    let (rest, end_line) = split_last(rest, b',', "missing end line")?;
    let (rest, start_col) = split_last(rest, b'.', "missing start column")?;
    let (name, start_line) = split_last(rest, b':', "missing start line")?;
    if name.is_empty() {
        return Err("empty file name".to_string());
    }
    let block = Block {
        start_line: number(start_line, "start line")?,
        start_col: number(start_col, "start column")?,
        end_line: number(end_line, "end line")?,
        end_col: number(end_col, "end column")?,
        num_stmt: number(num_stmt, "statement count")?,
        count: number(count, "count")?,
    };
    Ok((name, block))
}

/// Parses `L0.C0,L1.C1 N C` left to right; `None` on anything else (including numbers that do not
/// fit), so that the caller falls back to [`parse_block`] and its precise errors.
fn parse_coordinates(s: &[u8]) -> Option<Block> {
    coordinates(s, true)
}

/// `L0.C0,L1.C1 N` (a block line without its name and count) as a block with count 0; `None`
/// where [`parse_coordinates`] would fail.
pub(super) fn parse_position(s: &[u8]) -> Option<Block> {
    coordinates(s, false)
}

// Inlined into both callers, so each gets a loop without the flag's tests.
#[inline(always)]
fn coordinates(s: &[u8], with_count: bool) -> Option<Block> {
    let mut at = 0;
    let mut field = |sep: Option<u8>| -> Option<u64> {
        let digits = s[at..].iter().take_while(|b| b.is_ascii_digit()).count();
        // 19 digits always fit in a u64; longer numbers take the slow path.
        if digits == 0 || digits > 19 {
            return None;
        }
        let v = s[at..at + digits]
            .iter()
            .fold(0u64, |v, &b| v * 10 + u64::from(b - b'0'));
        at += digits;
        match sep {
            Some(c) if s.get(at) == Some(&c) => at += 1,
            None if at == s.len() => {}
            _ => return None,
        }
        Some(v)
    };
    let start_line = u32::try_from(field(Some(b'.'))?).ok()?;
    let start_col = u32::try_from(field(Some(b','))?).ok()?;
    let end_line = u32::try_from(field(Some(b'.'))?).ok()?;
    let end_col = u32::try_from(field(Some(b' '))?).ok()?;
    let (num_stmt, count) = if with_count {
        (u32::try_from(field(Some(b' '))?).ok()?, field(None)?)
    } else {
        (u32::try_from(field(None)?).ok()?, 0)
    };
    Some(Block::new(
        start_line, start_col, end_line, end_col, num_stmt, count,
    ))
}

fn split_last<'a>(s: &'a [u8], sep: u8, missing: &str) -> Result<(&'a [u8], &'a [u8]), String> {
    let pos = s
        .iter()
        .rposition(|&b| b == sep)
        .ok_or_else(|| missing.to_string())?;
    Ok((&s[..pos], &s[pos + 1..]))
}

fn number<T: TryFrom<u64>>(digits: &[u8], what: &str) -> Result<T, String> {
    let not_a_number = || format!("{what} is not a non-negative integer");
    let too_large = || format!("{what} is too large");
    if digits.is_empty() {
        return Err(not_a_number());
    }
    let mut v: u64 = 0;
    let mut overflow = false;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return Err(not_a_number());
        }
        // Keep scanning after an overflow: a non-digit further on is the better message.
        match v.checked_mul(10).and_then(|x| x.checked_add(u64::from(d))) {
            Some(x) => v = x,
            None => overflow = true,
        }
    }
    if overflow {
        return Err(too_large());
    }
    T::try_from(v).map_err(|_| too_large())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile over PARALLEL_MIN: 40 files whose runs repeat (as concatenated `go test`
    /// outputs do), with duplicate blocks, in set mode to check the clamp too.
    fn big_profile() -> String {
        let mut s = String::from("mode: set\n");
        let mut round = 0;
        while s.len() < 2 * PARALLEL_MIN {
            for f in 0..40 {
                for b in 0..30 {
                    let (line, count) = (b * 3 + 1, (b + f + round) % 3);
                    s.push_str(&format!(
                        "example.com/m/pkg{f}/file.go:{line}.2,{}.9 {} {count}\n",
                        line + 1,
                        b % 4 + 1
                    ));
                }
            }
            round += 1;
        }
        s
    }

    fn sequential(data: &[u8]) -> Result<Profile, ProfileError> {
        let (mode, files) = parse_lines("x", None, data)?;
        finish(
            "x",
            mode.ok_or(ProfileError::Empty { input: "x".into() })?,
            vec![files],
        )
    }

    #[test]
    fn chunked_parse_equals_the_sequential_one() {
        let text = big_profile();
        assert!(text.len() >= PARALLEL_MIN);
        // Straight from the chunked path: a fallback to the sequential parse would hide a bad cut.
        let chunked = parse_chunked("x", text.as_bytes())
            .expect("valid input is parsed in chunks")
            .unwrap();
        assert_eq!(chunked, sequential(text.as_bytes()).unwrap());
        assert_eq!(parse("x", text.as_bytes()).unwrap(), chunked);
        assert_eq!(chunked.files.len(), 40);
        assert!(chunked.files.iter().all(|f| f.blocks.len() == 30));
        assert!(chunked.files[0].blocks.iter().any(|b| b.count == 1));
    }

    #[test]
    fn chunked_parse_reports_the_first_error_with_its_line() {
        let mut text = big_profile();
        let lines = text.lines().count();
        // A bad line late in the input (in the last chunk) and a second one after it.
        text.push_str("example.com/m/pkg0/file.go:1.2,x.9 1 1\nnot a block\n");
        assert!(
            parse_chunked("x", text.as_bytes()).is_none(),
            "errors fall back"
        );
        let err = parse("x", text.as_bytes()).unwrap_err();
        match err {
            ProfileError::BadLine { line, .. } => assert_eq!(line, lines + 1),
            other => panic!("want a bad line error, got {other:?}"),
        }
    }
}
