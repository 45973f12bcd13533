//! Reading the profile texts a command is given (one or many) in one go: `merge`, `report` and
//! `diff`.
//!
//! Profiles of one build (`go test` runs, replicas of one binary, the packages of one `go test`
//! run concatenated) list each file's blocks in the same order with the same text; only the
//! counts differ. So the texts are summed line by line:
//! the largest input's lines are kept as they are (as slices of the input), and the other
//! inputs' lines are matched against them byte for byte, in order, so that only their counts are
//! parsed. When every line is also normalized already (canonical numbers, blocks in order, as
//! writers produce them), the merged text is the kept lines with the summed counts, and no
//! block is ever built. Parsing every input into its own profile and merging those took 2.5
//! times as long (every number of every line parsed, every block copied several times).
//!
//! Any irregularity (an error, a line that differs, a file listed again with other lines,
//! another mode) gives up and the caller runs the general path, which finds and words the error: errors
//! are the same on both paths by construction, and property tests check that results are too.

use foldhash::HashMap;
use foldhash::HashMapExt as _;

use super::parse::{normalize_blocks, parse_position};
use super::{Block, FileProfile, Mode, Profile, ProfileError, merge, parse};

/// Parses and merges named profile texts; `None` for an empty list. Same results and errors as
/// parsing each with [`parse`] and merging them with [`merge`].
pub fn parse_merged(inputs: &[(&str, &[u8])]) -> Result<Option<Profile>, ProfileError> {
    if inputs.is_empty() {
        return Ok(None);
    }
    if let Some(fast) = fast_path(inputs) {
        return Ok(Some(fast));
    }
    general_path(inputs)
}

/// Parse each, then merge: the path that words every error.
fn general_path(inputs: &[(&str, &[u8])]) -> Result<Option<Profile>, ProfileError> {
    use rayon::prelude::*;
    if let [(name, data)] = inputs {
        return parse(name, data).map(Some);
    }
    let parsed: Vec<Result<Profile, ProfileError>> = inputs
        .par_iter()
        .map(|&(name, data)| parse(name, data))
        .collect();
    // The first failing input in argument order, whichever thread finished first.
    let parsed = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<(&str, &Profile)> = inputs.iter().map(|&(n, _)| n).zip(&parsed).collect();
    merge(&refs)
}

/// `None` whenever the general path has to decide (errors, mismatches, inputs not of one build).
fn fast_path(inputs: &[(&str, &[u8])]) -> Option<Profile> {
    LineSum::of(inputs)?.into_profile()
}

/// Merged profile text, ready to be written.
pub struct MergedText<'a>(Merged<'a>);

enum Merged<'a> {
    /// Summed lines whose text is already normalized (checked).
    Lines(LineSum<'a>),
    /// Anything else, parsed.
    Parsed(Profile),
}

impl MergedText<'_> {
    /// Writes the normalized text of the merged profile, as [`Profile::write_text`] does.
    pub fn write(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        match &self.0 {
            Merged::Lines(sum) => sum.write_text(w),
            Merged::Parsed(profile) => profile.write_text(w),
        }
    }
}

/// Parses and merges named profile texts for writing the result out: the same text and errors
/// as [`parse_merged`] and [`Profile::write_text`], but when the inputs are of one build and
/// already normalized (as `go test` and goc agents write them), the lines are written as they
/// were read, with the summed counts: no block is built.
pub fn merged_text<'a>(
    inputs: &[(&str, &'a [u8])],
) -> Result<Option<MergedText<'a>>, ProfileError> {
    if let Some(mut sum) = LineSum::of(inputs) {
        if sum.is_normalized() {
            return Ok(Some(MergedText(Merged::Lines(sum))));
        }
        if let Some(profile) = sum.into_profile() {
            return Ok(Some(MergedText(Merged::Parsed(profile))));
        }
    }
    Ok(general_path(inputs)?.map(|p| MergedText(Merged::Parsed(p))))
}

/// A block line of the sum: its text before the count (file, range and statements, as the
/// first input listing it spelled them) and the count so far.
struct SumLine<'a> {
    key: &'a [u8],
    count: u64,
}

/// A file of the sum: its lines are `lines[start..start + len]`, in the first listing input's
/// order.
struct SumFile<'a> {
    name: &'a [u8],
    start: usize,
    len: usize,
}

/// Profile texts of one build summed line by line.
///
/// Inputs of one build list a file's blocks in the same order with the same text; only the
/// counts differ. So the lines of a file already in the sum are matched by their bytes, in
/// place and in order, and only their counts are parsed; positions are parsed once per distinct
/// line, at the end. A line that differs, a file listed again with other lines,
/// anything malformed: `None`, and the general path decides (and words the error).
struct LineSum<'a> {
    mode: Mode,
    files: Vec<SumFile<'a>>,
    lines: Vec<SumLine<'a>>,
    /// Where each file is in `files`.
    index: HashMap<&'a [u8], usize>,
    /// Whether every line so far is normalized (see [`LineSum::is_normalized`]).
    normalized: bool,
}

/// Bytes per block line assumed when sizing the line list from the first input: shorter than
/// nearly every real line, and capacity never written is never touched.
const MIN_LINE: usize = 32;

/// Where the current run of an input's lines goes: a file of the sum, and whether the lines
/// are added to it (a file new to the sum) or matched against its lines from `cursor` on.
struct Run {
    file: usize,
    fresh: bool,
    cursor: usize,
    end: usize,
    /// In a new file: the range of its last line, if every line so far was normalized.
    last: Option<[u32; 4]>,
}

impl<'a> LineSum<'a> {
    /// Sums the inputs, the largest first (it brings most lines; the others mostly add
    /// counts), and finds out whether the sum's text is normalized (see
    /// [`LineSum::is_normalized`]).
    fn of(inputs: &[(&str, &'a [u8])]) -> Option<LineSum<'a>> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].1.len()));
        let first = inputs[*order.first()?].1;
        let mut sum = LineSum {
            mode: mode_of(first)?,
            files: Vec::new(),
            lines: Vec::with_capacity(first.len() / MIN_LINE + 1),
            index: HashMap::new(),
            normalized: true,
        };
        for &i in &order {
            sum.add(inputs[i].1)?;
        }
        Some(sum)
    }

    /// Adds one input's counts.
    fn add(&mut self, data: &'a [u8]) -> Option<()> {
        let mut at = 0;
        if mode_of(next_line(data, &mut at)?)? != self.mode {
            return None;
        }
        let mut run: Option<Run> = None;
        loop {
            // The line the run expects next, compared in place: no line split, no search.
            if let Some(r) = run.as_mut()
                && !r.fresh
                && r.cursor < r.end
            {
                let held = &mut self.lines[r.cursor];
                let after = at + held.key.len();
                if data.get(at..after) == Some(held.key)
                    && data.get(after) == Some(&b' ')
                    && let Some((count, next)) = count_at(data, after + 1)
                {
                    held.count = self.mode.combine(held.count, self.mode.clamp(count))?;
                    r.cursor += 1;
                    at = next;
                    continue;
                }
            }
            // A new file's next line, read left to right after its name: the usual shape
            // (canonical numbers, in order) in one pass; anything else takes the general way.
            if let Some(r) = run.as_mut()
                && r.fresh
                && self.normalized
            {
                let name = self.files[r.file].name;
                let colon = at + name.len();
                if data.get(colon) == Some(&b':')
                    && data.get(at..colon) == Some(name)
                    && let Some((range, end)) = position_at(data, colon + 1)
                    && data.get(end) == Some(&b' ')
                    && let Some((count, next)) = count_at(data, end + 1)
                    && r.last.is_none_or(|last| last < range)
                {
                    r.last = Some(range);
                    let count = self.mode.clamp(count);
                    self.lines.push(SumLine {
                        key: &data[at..end],
                        count,
                    });
                    at = next;
                    continue;
                }
            }
            let Some(line) = next_line(data, &mut at) else {
                break;
            };
            let space = memchr::memrchr(b' ', line)?;
            let (key, digits) = (&line[..space], &line[space + 1..]);
            let count = self.mode.clamp(count_of(digits)?);
            match run.as_mut() {
                Some(r)
                    if r.fresh
                        && self
                            .lines
                            .get(self.files[r.file].start)
                            .is_some_and(|first| first.key == key) =>
                {
                    // The new file's lines begin again (profiles concatenated where one ends
                    // with the file the next begins with): from here on they are matched.
                    let f = &mut self.files[r.file];
                    f.len = self.lines.len() - f.start;
                    let held = &mut self.lines[f.start];
                    held.count = self.mode.combine(held.count, count)?;
                    *r = Run {
                        file: r.file,
                        fresh: false,
                        cursor: f.start + 1,
                        end: f.start + f.len,
                        last: None,
                    };
                }
                Some(r) if r.fresh && continues(self.files[r.file].name, key) => {
                    let name = self.files[r.file].name;
                    if self.normalized {
                        self.normalized = follows(r, &key[name.len() + 1..]);
                    }
                    self.lines.push(SumLine { key, count });
                }
                Some(r) if !r.fresh && r.cursor < r.end && self.lines[r.cursor].key == key => {
                    let held = &mut self.lines[r.cursor];
                    held.count = self.mode.combine(held.count, count)?;
                    r.cursor += 1;
                }
                _ => {
                    if let Some(r) = run.take() {
                        self.close(&r)?;
                    }
                    run = Some(self.open(line)?);
                    let r = run.as_mut()?;
                    if r.fresh {
                        let name = self.files[r.file].name;
                        if self.normalized {
                            self.normalized = std::str::from_utf8(name).is_ok()
                                && follows(r, key.get(name.len() + 1..)?);
                        }
                        self.lines.push(SumLine { key, count });
                    } else {
                        let held = self.lines.get_mut(r.cursor).filter(|h| h.key == key)?;
                        held.count = self.mode.combine(held.count, count)?;
                        r.cursor += 1;
                    }
                }
            }
        }
        match run {
            Some(r) => self.close(&r),
            None => Some(()),
        }
    }

    /// Starts the run of the file `line` belongs to.
    fn open(&mut self, line: &'a [u8]) -> Option<Run> {
        // The file name is what precedes the last colon before the count (names may hold `:`,
        // positions do not): what the right-to-left split finds whenever the line is valid,
        // which the position's parse (or the comparison with a line already parsed) checks.
        let key = &line[..memchr::memrchr(b' ', line)?];
        let name = &key[..memchr::memrchr(b':', key)?];
        if name.is_empty() {
            return None;
        }
        // A file listed again (by another input, or again by the same one, as concatenated
        // profiles do) must list the same lines: its counts are added.
        if let Some(&file) = self.index.get(name) {
            let f = &self.files[file];
            return Some(Run {
                file,
                fresh: false,
                cursor: f.start,
                end: f.start + f.len,
                last: None,
            });
        }
        self.files.push(SumFile {
            name,
            start: self.lines.len(),
            len: 0,
        });
        self.index.insert(name, self.files.len() - 1);
        Some(Run {
            file: self.files.len() - 1,
            fresh: true,
            cursor: 0,
            end: 0,
            last: None,
        })
    }

    /// Ends a run: a new file takes the lines pushed since it opened; a known one must have
    /// had all of its lines listed.
    fn close(&mut self, run: &Run) -> Option<()> {
        if run.fresh {
            let f = &mut self.files[run.file];
            f.len = self.lines.len() - f.start;
            return Some(());
        }
        (run.cursor == run.end).then_some(())
    }

    /// The position of a line of `file`: its key after the name and colon.
    fn position(file: &SumFile<'_>, line: &SumLine<'_>) -> Option<Block> {
        let mut block = parse_position(line.key.get(file.name.len() + 1..)?)?;
        block.count = line.count;
        Some(block)
    }

    /// Whether the lines are already what [`Profile::write_text`] writes, in its order (as
    /// checked when summed); sorts the files by name.
    fn is_normalized(&mut self) -> bool {
        self.files.sort_unstable_by(|a, b| a.name.cmp(b.name));
        self.normalized
    }

    /// The sum as a profile (positions parsed, blocks sorted and merged).
    fn into_profile(self) -> Option<Profile> {
        let mode = self.mode;
        let mut files = Vec::with_capacity(self.files.len());
        for f in &self.files {
            let name = std::str::from_utf8(f.name).ok()?;
            let mut blocks = self.lines[f.start..f.start + f.len]
                .iter()
                .map(|line| Self::position(f, line))
                .collect::<Option<Vec<Block>>>()?;
            normalize_blocks("", name, mode, &mut blocks).ok()?;
            files.push(FileProfile {
                name: name.to_string(),
                blocks,
            });
        }
        files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Some(Profile { mode, files })
    }

    /// Writes the lines with their sums; only after [`LineSum::is_normalized`] said yes.
    fn write_text(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        // One buffer filled line by line and handed over in large pieces.
        const FLUSH_AT: usize = 1 << 16;
        let mut buf = Vec::with_capacity(FLUSH_AT + 512);
        buf.extend_from_slice(b"mode: ");
        buf.extend_from_slice(self.mode.as_str().as_bytes());
        buf.push(b'\n');
        let mut num = itoa::Buffer::new();
        for f in &self.files {
            for line in &self.lines[f.start..f.start + f.len] {
                buf.extend_from_slice(line.key);
                buf.push(b' ');
                buf.extend_from_slice(num.format(line.count).as_bytes());
                buf.push(b'\n');
                if buf.len() >= FLUSH_AT {
                    w.write_all(&buf)?;
                    buf.clear();
                }
            }
        }
        w.write_all(&buf)
    }
}

/// Whether `key` (a line's text before its count) continues the file `name`.
fn continues(name: &[u8], key: &[u8]) -> bool {
    key.len() > name.len() && key.starts_with(name) && key[name.len()] == b':'
}

/// Whether a new file's next line, at `position`, keeps it normalized: spelled canonically and
/// after the previous line. Records its range in `run`.
fn follows(run: &mut Run, position: &[u8]) -> bool {
    let Some(range) = canonical_range(position) else {
        return false;
    };
    let ordered = run.last.is_none_or(|last| last < range);
    run.last = Some(range);
    ordered
}

/// The range of a position `L0.C0,L1.C1 N` spelled as the writer spells it (no leading zeros,
/// numbers that fit); `None` for anything else, including a valid but other spelling.
fn canonical_range(position: &[u8]) -> Option<[u32; 4]> {
    position_at(position, 0)
        .filter(|&(_, end)| end == position.len())
        .map(|(range, _)| range)
}

/// A position `L0.C0,L1.C1 N` spelled canonically from `at` on: its range and where it ends.
fn position_at(data: &[u8], mut at: usize) -> Option<([u32; 4], usize)> {
    let mut range = [0; 4];
    for (value, sep) in range.iter_mut().zip([b'.', b',', b'.', b' ']) {
        *value = number_at(data, &mut at)?;
        if data.get(at) != Some(&sep) {
            return None;
        }
        at += 1;
    }
    number_at(data, &mut at)?;
    Some((range, at))
}

/// A number spelled canonically (digits, no leading zero) that fits a u32, from `at` on;
/// moves `at` past it.
fn number_at(data: &[u8], at: &mut usize) -> Option<u32> {
    let start = *at;
    let mut value: u32 = 0;
    while let Some(&b) = data.get(*at).filter(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u32::from(b - b'0'))?;
        *at += 1;
    }
    let digits = *at - start;
    (digits == 1 || (digits > 1 && data[start] != b'0')).then_some(value)
}

/// The next non-blank line from `at` on (without a CRLF's `\r`), moving `at` past it.
fn next_line<'a>(data: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    while *at < data.len() {
        let rest = &data[*at..];
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        *at += end + 1;
        let raw = &rest[..end];
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !line.is_empty() {
            return Some(line);
        }
    }
    None
}

/// The count whose digits start at `at`, if the line ends right after them (`\n`, `\r\n` or
/// the end of the text), and where the next line starts.
fn count_at(data: &[u8], at: usize) -> Option<(u64, usize)> {
    let mut end = at;
    let mut count: u64 = 0;
    // Up to 19 digits cannot overflow, so there is no check per digit; longer counts take the
    // general way (which checks).
    while let Some(&b) = data.get(end).filter(|b| b.is_ascii_digit()) {
        if end - at == 19 {
            return None;
        }
        count = count * 10 + u64::from(b - b'0');
        end += 1;
    }
    if end == at {
        return None;
    }
    let next = match &data[end..] {
        [] | [b'\r'] => data.len(),
        [b'\n', ..] => end + 1,
        [b'\r', b'\n', ..] => end + 2,
        _ => return None,
    };
    Some((count, next))
}

/// The mode a `mode:` line names.
fn mode_of(line_or_text: &[u8]) -> Option<Mode> {
    let mut at = 0;
    let line = next_line(line_or_text, &mut at)?;
    let word = line.strip_prefix(b"mode: ")?;
    Mode::from_word(std::str::from_utf8(word).ok()?.trim())
}

/// A count: plain digits that fit a u64.
fn count_of(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 20 {
        return None;
    }
    digits.iter().try_fold(0u64, |v, &b| {
        b.is_ascii_digit()
            .then(|| v.checked_mul(10)?.checked_add(u64::from(b - b'0')))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Profile texts of one build, as writers produce them: a fixed set of files and blocks, of
    /// which each input lists a subset of files, in its own order, each file's blocks in order,
    /// with random counts. The blocks of a file sometimes start at the same line (ranges sorted
    /// by column, then by end).
    fn inputs_of_one_build() -> impl Strategy<Value = (String, Vec<String>)> {
        let mode = prop_oneof![Just("set"), Just("count"), Just("atomic")];
        let file = prop::collection::vec((1u32..4, 0u64..5, any::<bool>()), 1..6);
        let input = (prop::collection::vec(any::<bool>(), 6), any::<u64>());
        (
            mode,
            prop::collection::vec(file, 1..6),
            prop::collection::vec(input, 1..6),
        )
            .prop_map(|(mode, files, inputs)| {
                let texts = inputs
                    .into_iter()
                    .map(|(present, seed)| {
                        let mut groups: Vec<Vec<String>> = Vec::new();
                        for (f, blocks) in files.iter().enumerate() {
                            if !present[f % present.len()] {
                                continue;
                            }
                            let mut lines = Vec::new();
                            let (mut line, mut col) = (1, 2);
                            for (b, &(stmts, count, same_line)) in blocks.iter().enumerate() {
                                let c = count.wrapping_add(seed.wrapping_mul(b as u64 + 1)) % 7;
                                lines.push(format!(
                                    "example.com/m/f{f}.go:{line}.{col},{}.3 {stmts} {c}",
                                    line + 1
                                ));
                                // The next block starts on this line, further right, or below.
                                (line, col) = if same_line {
                                    (line, col + 10)
                                } else {
                                    (line + 3, 2)
                                };
                            }
                            groups.push(lines);
                        }
                        // Files in this input's own order.
                        let k = groups.len();
                        if k > 1 {
                            groups.rotate_left(seed as usize % k);
                        }
                        let lines: Vec<String> = groups.concat();
                        format!("mode: {mode}\n{}\n", lines.join("\n"))
                    })
                    .collect();
                (mode.to_string(), texts)
            })
    }

    /// The inputs of one build, each changed in one way the fast path does not expect: lines
    /// rotated (a file's lines split in two runs), a line repeated, CRLF endings and blank
    /// lines, a leading zero, two lines swapped, another statement count.
    fn irregular_inputs() -> impl Strategy<Value = Vec<String>> {
        (
            inputs_of_one_build(),
            prop::collection::vec((0u8..7, any::<usize>()), 6),
        )
            .prop_map(|((_, texts), changes)| {
                texts
                    .into_iter()
                    .zip(changes)
                    .map(|(text, (how, at))| {
                        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                        let n = lines.len() - 1;
                        let i = 1 + at % n.max(1);
                        match how {
                            1 if n > 1 => lines[1..].rotate_left(at % n),
                            2 if n > 0 => lines.insert(i, lines[i].clone()),
                            3 => return format!("\r\n{}\r\n\r\n", lines.join("\r\n\r\n")),
                            4 if n > 0 => lines[i] = lines[i].replacen(":", ":0", 1),
                            5 if n > 1 && i < n => lines.swap(i, i + 1),
                            6 if n > 0 => lines[i] = lines[i].replacen(".3 ", ".3 9", 1),
                            _ => {}
                        }
                        format!("{}\n", lines.join("\n"))
                    })
                    .collect()
            })
    }

    fn named(texts: &[String]) -> (Vec<String>, Vec<&[u8]>) {
        let names = (0..texts.len()).map(|i| format!("in{i}")).collect();
        (names, texts.iter().map(|t| t.as_bytes()).collect())
    }

    /// What [`merged_text`] writes, or its error.
    fn written(inputs: &[(&str, &[u8])]) -> Result<Option<String>, ProfileError> {
        Ok(merged_text(inputs)?.map(|m| {
            let mut out = Vec::new();
            m.write(&mut out).unwrap();
            String::from_utf8(out).unwrap()
        }))
    }

    /// What the general path's profile writes, or its error.
    fn general_text(inputs: &[(&str, &[u8])]) -> Result<Option<String>, ProfileError> {
        general_path(inputs).map(|p| p.map(|p| p.to_text()))
    }

    proptest! {
        #[test]
        fn equals_parse_then_merge((_, texts) in inputs_of_one_build()) {
            let (names, data) = named(&texts);
            let inputs: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(data).collect();
            let general = general_path(&inputs);
            prop_assert!(general.is_ok());
            // Inputs of one build never need the general path: the fast one is what is tested.
            prop_assert!(fast_path(&inputs).is_some());
            if inputs.len() > 1 {
                let mut sum = LineSum::of(&inputs).unwrap();
                prop_assert!(sum.is_normalized());
            }
            prop_assert_eq!(parse_merged(&inputs), general);
            prop_assert_eq!(written(&inputs), general_text(&inputs));
            // The inputs concatenated under one mode line, as `go test` writes the profile of
            // several packages: one input listing files again, still the line path.
            let mut concat = texts[0].lines().next().unwrap_or_default().to_string();
            for t in &texts {
                for line in t.lines().skip(1) {
                    concat.push('\n');
                    concat.push_str(line);
                }
            }
            let one = [("all", concat.as_bytes())];
            prop_assert!(fast_path(&one).is_some());
            prop_assert_eq!(parse_merged(&one), parse("all", concat.as_bytes()).map(Some));
            prop_assert_eq!(written(&one), general_text(&one));
        }

        #[test]
        fn irregular_inputs_give_the_general_paths_answer(texts in irregular_inputs()) {
            let (names, data) = named(&texts);
            let inputs: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(data).collect();
            prop_assert_eq!(parse_merged(&inputs), general_path(&inputs));
            prop_assert_eq!(written(&inputs), general_text(&inputs));
        }

        #[test]
        fn garbage_gives_the_general_paths_answer(
            texts in prop::collection::vec(
                prop_oneof![
                    Just("mode: set\na.go:1.1,2.2 1 1\n".to_string()),
                    Just("mode: count\na.go:1.1,2.2 1 1\n".to_string()),
                    Just("mode: set\na.go:1.1,2.2 2 1\n".to_string()),
                    Just("mode: set\na.go:1.1,3.2 1 0\nb.go:1.1,2.2 1 1\n".to_string()),
                    Just("mode: count\na.go:1.1,2.2 1 18446744073709551615\n".to_string()),
                    Just("mode: count\na:b.go:1.1,2.2 1 1\na.go:1.1,2.2 1 1\n".to_string()),
                    "\\PC{0,80}",
                ],
                1..5,
            )
        ) {
            let (names, data) = named(&texts);
            let inputs: Vec<(&str, &[u8])> = names.iter().map(String::as_str).zip(data).collect();
            prop_assert_eq!(parse_merged(&inputs), general_path(&inputs));
            prop_assert_eq!(written(&inputs), general_text(&inputs));
        }
    }

    #[test]
    fn no_input_is_no_profile() {
        assert_eq!(parse_merged(&[]), Ok(None));
        assert!(merged_text(&[]).unwrap().is_none());
    }

    #[test]
    fn a_file_with_fewer_blocks_is_the_general_paths_mismatch_error() {
        let a = "mode: set\na.go:1.1,2.2 1 1\na.go:3.1,4.2 1 0\n";
        let b = "mode: set\na.go:1.1,2.2 1 1\n";
        let inputs = [("a.cov", a.as_bytes()), ("b.cov", b.as_bytes())];
        assert!(fast_path(&inputs).is_none());
        let err = parse_merged(&inputs).unwrap_err();
        assert!(matches!(err, ProfileError::BlockMismatch { .. }), "{err}");
        assert!(matches!(
            merged_text(&inputs),
            Err(ProfileError::BlockMismatch { .. })
        ));
    }

    #[test]
    fn counts_add_up_across_inputs_and_new_files() {
        let a = "mode: count\na.go:1.1,2.2 1 1\na.go:3.1,4.2 2 0\n";
        let b = "mode: count\nb.go:1.1,2.2 1 5\na.go:1.1,2.2 1 1\na.go:3.1,4.2 2 3\n";
        let c = "mode: count\nb.go:1.1,2.2 1 1\n";
        let inputs = [
            ("a", a.as_bytes()),
            ("b", b.as_bytes()),
            ("c", c.as_bytes()),
        ];
        let want = "mode: count\na.go:1.1,2.2 1 2\na.go:3.1,4.2 2 3\nb.go:1.1,2.2 1 6\n";
        assert_eq!(parse_merged(&inputs).unwrap().unwrap().to_text(), want);
        assert!(LineSum::of(&inputs).unwrap().is_normalized());
        assert_eq!(written(&inputs).unwrap().unwrap(), want);
    }

    /// Lines of a new file that are valid but not as the writer spells or orders them are
    /// written normalized (through the parsed profile).
    #[test]
    fn unnormalized_lines_are_written_normalized() {
        let a = "mode: set\na.go:3.1,4.2 1 1\na.go:01.1,2.2 1 0\n";
        let b = "mode: set\na.go:3.1,4.2 1 0\na.go:01.1,2.2 1 1\n";
        let inputs = [("a", a.as_bytes()), ("b", b.as_bytes())];
        assert!(!LineSum::of(&inputs).unwrap().is_normalized());
        assert_eq!(
            written(&inputs).unwrap().unwrap(),
            "mode: set\na.go:1.1,2.2 1 1\na.go:3.1,4.2 1 1\n"
        );
    }
}
