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

/// Parses profile text. `input` names the source in errors (a path, `-`, an agent address).
///
/// Accepts what Go's parser accepts, except that blank lines are skipped, the mode must be one of
/// `set`, `count`, `atomic`, and numbers must be plain digits that fit (u32 positions, u64 counts).
/// Set-mode counts are clamped to 0/1. Blocks with the same range are merged (OR in set mode,
/// sum otherwise); a differing statement count for the same range is an error.
pub fn parse(input: &str, data: &[u8]) -> Result<Profile, ProfileError> {
    let mut mode: Option<Mode> = None;
    // Files in order of first appearance, and where each is in `files`. Lines of one file come
    // in runs, so the last file is checked first: most lines need no hashing and no UTF-8 check.
    let mut files: Vec<(&str, Vec<Block>)> = Vec::new();
    let mut index: HashMap<&[u8], usize> = HashMap::new();
    let mut last: Option<(&[u8], usize)> = None;
    let mut start = 0;
    let mut lineno = 0;
    while start < data.len() {
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let raw = &data[start..end];
        start = end + 1;
        lineno += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.is_empty() {
            continue;
        }
        let Some(m) = mode else {
            mode = Some(parse_mode(input, lineno, line)?);
            continue;
        };
        // Most lines continue the previous line's file: parse them left to right after the
        // known name, which gives what the right-to-left split gives whenever it succeeds.
        if let Some((prev, at)) = last
            && let Some(mut block) = line
                .strip_prefix(prev)
                .and_then(|r| r.strip_prefix(b":"))
                .and_then(parse_coordinates)
        {
            if m == Mode::Set {
                block.count = u64::from(block.count > 0);
            }
            files[at].1.push(block);
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
                files.push((text, Vec::new()));
                index.insert(name, files.len() - 1);
                files.len() - 1
            }
        };
        last = Some((name, at));
        files[at].1.push(block);
    }
    let Some(mode) = mode else {
        return Err(ProfileError::Empty {
            input: input.to_string(),
        });
    };
    let mut out: Vec<FileProfile> = Vec::with_capacity(files.len());
    for (name, mut blocks) in files {
        normalize_blocks(input, name, mode, &mut blocks)?;
        out.push(FileProfile {
            name: name.to_string(),
            blocks,
        });
    }
    out.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Ok(Profile { mode, files: out })
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
        blocks.sort_unstable_by_key(Block::range);
    }
    if blocks.windows(2).all(|w| w[0].range() != w[1].range()) {
        return Ok(());
    }
    let mut out: Vec<Block> = Vec::with_capacity(blocks.len());
    for b in blocks.drain(..) {
        match out.last_mut() {
            Some(last) if last.range() == b.range() => {
                if last.num_stmt != b.num_stmt {
                    return Err(ProfileError::InconsistentNumStmt {
                        input: input.to_string(),
                        file: file.to_string(),
                        range: range_text(&b),
                        a: last.num_stmt,
                        b: b.num_stmt,
                    });
                }
                last.count =
                    mode.combine(last.count, b.count)
                        .ok_or_else(|| ProfileError::Overflow {
                            input: input.to_string(),
                            file: file.to_string(),
                            range: range_text(&b),
                        })?;
            }
            _ => out.push(b),
        }
    }
    *blocks = out;
    Ok(())
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
    let num_stmt = u32::try_from(field(Some(b' '))?).ok()?;
    let count = field(None)?;
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
