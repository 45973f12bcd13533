//! Parsing and merging many profile texts in one go, for `goc-adapter merge`.
//!
//! Parsing every input into its own profile and then merging them copies every block several
//! times, and fresh memory (page faults, heap growth) was most of a 10-profile merge's time.
//! Here each group of inputs parses its largest input and then adds the others' counts straight
//! into it, block by block, allocating only for files it has not seen. Any irregularity (an
//! error, a block the first input lacks, a different mode) gives up and the caller runs the
//! general path, which finds and words the error: errors are the same on both paths by
//! construction, and a property test checks that results are too.

use foldhash::HashMap;
use foldhash::HashMapExt as _;

use super::parse::{block_line, lines, normalize_blocks};
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
    let parsed: Vec<Result<Profile, ProfileError>> = inputs
        .par_iter()
        .map(|&(name, data)| parse(name, data))
        .collect();
    // The first failing input in argument order, whichever thread finished first.
    let parsed = parsed.into_iter().collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<(&str, &Profile)> = inputs.iter().map(|&(n, _)| n).zip(&parsed).collect();
    merge(&refs)
}

/// `None` whenever the general path has to decide (errors, mismatches) or a group gave up;
/// `inputs` is not empty.
fn fast_path(inputs: &[(&str, &[u8])]) -> Option<Profile> {
    use rayon::prelude::*;
    if inputs.len() == 1 {
        return parse(inputs[0].0, inputs[0].1).ok();
    }
    // One group per thread, balanced by size (largest first onto the lightest group), so the
    // threads add up their inputs independently; the groups' sums are merged at the end.
    let mut order: Vec<usize> = (0..inputs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(inputs[i].1.len()));
    let groups_wanted = rayon::current_num_threads().clamp(1, inputs.len());
    let mut groups: Vec<(usize, Vec<usize>)> = vec![(0, Vec::new()); groups_wanted];
    for i in order {
        let lightest = groups.iter_mut().min_by_key(|g| g.0)?;
        lightest.0 += inputs[i].1.len();
        lightest.1.push(i);
    }
    let sums: Vec<Option<Profile>> = groups
        .into_par_iter()
        .filter(|(_, members)| !members.is_empty())
        .map(|(_, members)| add_up(inputs, &members))
        .collect();
    let sums: Vec<Profile> = sums.into_iter().collect::<Option<_>>()?;
    let named: Vec<(&str, &Profile)> = sums.iter().map(|p| ("", p)).collect();
    match named.len() {
        1 => sums.into_iter().next(),
        _ => merge(&named).ok().flatten(),
    }
}

/// A file of the running sum: its blocks and, per block, the last input that hit it.
struct SumFile {
    blocks: Vec<Block>,
    /// Input number (1-based) that last hit each block; counts each block once per input.
    hit_by: Vec<u32>,
    /// Distinct blocks the current input hit, and which input that is.
    hits: (u32, u32),
    /// Where the next line of this file is expected (inputs list blocks in order).
    cursor: usize,
}

/// Parses the group's first (largest) input and adds the others into it.
fn add_up(inputs: &[(&str, &[u8])], members: &[usize]) -> Option<Profile> {
    let (&first, rest) = members.split_first()?;
    let base = parse(inputs[first].0, inputs[first].1).ok()?;
    let mode = base.mode;
    // Names apart from the sums: an input's name index borrows them while its counts are added.
    let mut names = Vec::with_capacity(base.files.len());
    let mut files = Vec::with_capacity(base.files.len());
    for f in base.files {
        names.push(f.name);
        files.push(SumFile {
            hit_by: vec![0; f.blocks.len()],
            blocks: f.blocks,
            hits: (0, 0),
            cursor: 0,
        });
    }
    for (n, &i) in rest.iter().enumerate() {
        let input_no = u32::try_from(n + 1).ok()?;
        add_input(&mut names, &mut files, mode, input_no, inputs[i].1)?;
    }
    let mut files: Vec<FileProfile> = names
        .into_iter()
        .zip(files)
        .map(|(name, f)| FileProfile {
            name,
            blocks: f.blocks,
        })
        .collect();
    files.sort_unstable_by(|a, b| a.name.cmp(&b.name));
    Some(Profile { mode, files })
}

/// Adds one input's counts into `files`; `None` on anything the general path must look at.
fn add_input(
    names: &mut Vec<String>,
    files: &mut Vec<SumFile>,
    mode: Mode,
    input_no: u32,
    data: &[u8],
) -> Option<()> {
    let index: HashMap<&[u8], usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_bytes(), i))
        .collect();
    // Files this input brings that the sum lacks, in order of first appearance.
    let mut new_files: Vec<(&[u8], Vec<Block>)> = Vec::new();
    let mut new_index: HashMap<&[u8], usize> = HashMap::new();
    let mut touched: Vec<usize> = Vec::new();
    // Where the previous line's file is: in the sum, or among the new files.
    #[derive(Clone, Copy)]
    enum At {
        Sum(usize),
        New(usize),
    }
    let mut last: Option<(&[u8], At)> = None;
    let mut seen_mode = false;
    for (_, line) in lines(data) {
        if !seen_mode {
            let word = line.strip_prefix(b"mode: ")?;
            let m = Mode::from_word(std::str::from_utf8(word).ok()?.trim())?;
            if m != mode {
                return None;
            }
            seen_mode = true;
            continue;
        }
        let (name, mut block) = block_line(line, last.map(|(n, _)| n))?;
        if mode == Mode::Set {
            block.count = u64::from(block.count > 0);
        }
        // `block_line` hands the previous name back when the line continues its file.
        let at = match last {
            Some((prev, at)) if std::ptr::eq(prev, name) => at,
            _ => {
                let at = if let Some(&i) = index.get(name) {
                    At::Sum(i)
                } else if let Some(&i) = new_index.get(name) {
                    At::New(i)
                } else {
                    std::str::from_utf8(name).ok()?;
                    new_files.push((name, Vec::new()));
                    new_index.insert(name, new_files.len() - 1);
                    At::New(new_files.len() - 1)
                };
                last = Some((name, at));
                at
            }
        };
        match at {
            At::New(i) => new_files[i].1.push(block),
            At::Sum(i) => {
                let f = &mut files[i];
                let pos = if f.blocks.get(f.cursor).map(Block::range) == Some(block.range()) {
                    f.cursor
                } else {
                    f.blocks
                        .binary_search_by(|b| b.range().cmp(&block.range()))
                        .ok()?
                };
                let held = &mut f.blocks[pos];
                if held.num_stmt != block.num_stmt {
                    return None;
                }
                held.count = mode.combine(held.count, block.count)?;
                f.cursor = pos + 1;
                if f.hits.1 != input_no {
                    f.hits = (0, input_no);
                    touched.push(i);
                }
                if f.hit_by[pos] != input_no {
                    f.hit_by[pos] = input_no;
                    f.hits.0 += 1;
                }
            }
        }
    }
    if !seen_mode {
        return None;
    }
    // A file the input lists must have exactly the sum's blocks (a subset means another build).
    for &i in &touched {
        let f = &mut files[i];
        if usize::try_from(f.hits.0).ok()? != f.blocks.len() {
            return None;
        }
        f.cursor = 0;
    }
    drop(index);
    for (name, mut blocks) in new_files {
        let name = std::str::from_utf8(name).ok()?;
        normalize_blocks("", name, mode, &mut blocks).ok()?;
        names.push(name.to_string());
        files.push(SumFile {
            hit_by: vec![0; blocks.len()],
            blocks,
            hits: (0, 0),
            cursor: 0,
        });
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Profile texts of one build: a fixed set of files and blocks, of which each input lists a
    /// subset of files, in shuffled order, sometimes with a block repeated, with random counts.
    fn inputs_of_one_build() -> impl Strategy<Value = (String, Vec<String>)> {
        let mode = prop_oneof![Just("set"), Just("count"), Just("atomic")];
        let file = prop::collection::vec((1u32..4, 0u64..5), 1..6);
        (
            mode,
            prop::collection::vec(file, 1..6),
            prop::collection::vec(
                (
                    prop::collection::vec(any::<bool>(), 6),
                    any::<u64>(),
                    any::<bool>(),
                ),
                1..6,
            ),
        )
            .prop_map(|(mode, files, inputs)| {
                let texts = inputs
                    .into_iter()
                    .map(|(present, seed, repeat)| {
                        let mut lines = Vec::new();
                        for (f, blocks) in files.iter().enumerate() {
                            if !present[f % present.len()] {
                                continue;
                            }
                            for (b, &(stmts, count)) in blocks.iter().enumerate() {
                                let line = 3 * b + 1;
                                let c = count.wrapping_add(seed.wrapping_mul(b as u64 + 1)) % 7;
                                lines.push(format!(
                                    "example.com/m/f{f}.go:{line}.2,{}.3 {stmts} {c}",
                                    line + 1
                                ));
                            }
                        }
                        if repeat && let Some(l) = lines.first().cloned() {
                            lines.push(l);
                        }
                        // A deterministic shuffle of the lines.
                        let k = lines.len();
                        if k > 1 {
                            let step = (seed as usize % (k - 1)) + 1;
                            lines.rotate_left(step);
                        }
                        format!("mode: {mode}\n{}\n", lines.join("\n"))
                    })
                    .collect();
                (mode.to_string(), texts)
            })
    }

    proptest! {
        #[test]
        fn equals_parse_then_merge((_, texts) in inputs_of_one_build()) {
            let names: Vec<String> = (0..texts.len()).map(|i| format!("in{i}")).collect();
            let inputs: Vec<(&str, &[u8])> =
                names.iter().map(String::as_str).zip(texts.iter().map(|t| t.as_bytes())).collect();
            let general = general_path(&inputs);
            // Inputs of one build never need the general path: the fast one is what is tested.
            prop_assert_eq!(fast_path(&inputs).is_some(), general.is_ok());
            prop_assert_eq!(parse_merged(&inputs), general);
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
                    "\\PC{0,80}",
                ],
                1..5,
            )
        ) {
            let names: Vec<String> = (0..texts.len()).map(|i| format!("in{i}")).collect();
            let inputs: Vec<(&str, &[u8])> =
                names.iter().map(String::as_str).zip(texts.iter().map(|t| t.as_bytes())).collect();
            prop_assert_eq!(parse_merged(&inputs), general_path(&inputs));
        }
    }

    #[test]
    fn no_input_is_no_profile() {
        assert_eq!(parse_merged(&[]), Ok(None));
    }

    #[test]
    fn a_file_with_fewer_blocks_is_the_general_paths_mismatch_error() {
        let a = "mode: set\na.go:1.1,2.2 1 1\na.go:3.1,4.2 1 0\n";
        let b = "mode: set\na.go:1.1,2.2 1 1\n";
        let inputs = [("a.cov", a.as_bytes()), ("b.cov", b.as_bytes())];
        assert!(fast_path(&inputs).is_none());
        let err = parse_merged(&inputs).unwrap_err();
        assert!(matches!(err, ProfileError::BlockMismatch { .. }), "{err}");
    }

    #[test]
    fn counts_add_up_across_groups_and_new_files() {
        let a = "mode: count\na.go:1.1,2.2 1 1\na.go:3.1,4.2 2 0\n";
        let b = "mode: count\nb.go:1.1,2.2 1 5\na.go:3.1,4.2 2 3\na.go:1.1,2.2 1 1\n";
        let c = "mode: count\nb.go:1.1,2.2 1 1\n";
        let inputs = [
            ("a", a.as_bytes()),
            ("b", b.as_bytes()),
            ("c", c.as_bytes()),
        ];
        let merged = parse_merged(&inputs).unwrap().unwrap();
        assert_eq!(
            merged.to_text(),
            "mode: count\na.go:1.1,2.2 1 2\na.go:3.1,4.2 2 3\nb.go:1.1,2.2 1 6\n"
        );
    }
}
