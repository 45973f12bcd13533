//! Property tests of the profile engine: parsing is total (never panics), normalization is a
//! fixed point, merging is order-independent, and the md5 ignores input order.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn mode() -> impl Strategy<Value = Mode> {
    prop_oneof![Just(Mode::Set), Just(Mode::Count), Just(Mode::Atomic)]
}

/// File names, including the characters Go's right-to-left split must tolerate (`:`, `,`, `.`,
/// spaces).
fn file_name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_./:, é-]{1,24}".prop_filter("a file named like a mode line", |s| {
        !s.starts_with("mode: ")
    })
}

/// A block; its statement count is a function of its range so that repeated ranges agree.
fn block() -> impl Strategy<Value = Block> {
    (1u32..400, 1u32..120, 0u32..30, 1u32..120, 0u64..1000).prop_map(|(sl, sc, dl, ec, count)| {
        Block {
            start_line: sl,
            start_col: sc,
            end_line: sl + dl,
            end_col: ec,
            num_stmt: (sl + sc + ec) % 9,
            count,
        }
    })
}

/// Raw profile content: a mode and block lines (file, block), possibly repeating ranges.
fn raw_lines() -> impl Strategy<Value = (Mode, Vec<(String, Block)>)> {
    (
        mode(),
        prop::collection::vec(file_name(), 1..5),
        prop::collection::vec((any::<prop::sample::Index>(), block()), 0..60),
    )
        .prop_map(|(m, names, blocks)| {
            let lines = blocks
                .into_iter()
                .map(|(i, b)| (i.get(&names).clone(), b))
                .collect();
            (m, lines)
        })
}

fn line_text(name: &str, b: &Block) -> String {
    format!(
        "{name}:{}.{},{}.{} {} {}",
        b.start_line, b.start_col, b.end_line, b.end_col, b.num_stmt, b.count
    )
}

fn to_text(m: Mode, lines: &[(String, Block)], eol: &str) -> String {
    let mut s = format!("mode: {m}{eol}");
    for (name, b) in lines {
        s.push_str(&line_text(name, b));
        s.push_str(eol);
    }
    s
}

/// Blocks of one file by range.
type ByRange = BTreeMap<(u32, u32, u32, u32), Block>;

/// The obvious model of normalization: per file, per range, counts combined in input order.
fn model(m: Mode, lines: &[(String, Block)]) -> Profile {
    let mut files: BTreeMap<&str, ByRange> = BTreeMap::new();
    for (name, b) in lines {
        let mut b = *b;
        if m == Mode::Set {
            b.count = u64::from(b.count > 0);
        }
        files
            .entry(name)
            .or_default()
            .entry(b.range())
            .and_modify(|x| x.count = m.combine(x.count, b.count).unwrap())
            .or_insert(b);
    }
    Profile {
        mode: m,
        files: files
            .into_iter()
            .map(|(name, blocks)| FileProfile {
                name: name.to_string(),
                blocks: blocks.into_values().collect(),
            })
            .collect(),
    }
}

/// Runs `parse` and checks that a failure still produces a readable error.
fn parse_total(data: &[u8]) -> Result<Profile, ProfileError> {
    let r = parse("input", data);
    if let Err(e) = &r {
        assert!(
            e.to_string().starts_with("input"),
            "error names the input: {e}"
        );
    }
    r
}

proptest! {
    #[test]
    fn parse_never_panics_on_random_bytes(data in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = parse_total(&data);
    }

    #[test]
    fn parse_never_panics_on_profile_like_noise(
        data in prop::collection::vec(
            prop::sample::select(b"mode: setcount\n\r:,. 0123456789abc".to_vec()), 0..400)
    ) {
        let _ = parse_total(&data);
    }

    #[test]
    fn parse_agrees_with_the_model((m, lines) in raw_lines()) {
        let p = parse_total(to_text(m, &lines, "\n").as_bytes()).unwrap();
        prop_assert_eq!(p, model(m, &lines));
    }

    #[test]
    fn truncated_input_never_panics((m, lines) in raw_lines(), cut in any::<prop::sample::Index>()) {
        let text = to_text(m, &lines, "\n");
        let at = cut.index(text.len() + 1);
        let _ = parse_total(&text.as_bytes()[..at]);
    }

    #[test]
    fn truncated_line_in_the_middle_never_panics(
        (m, lines) in raw_lines(),
        which in any::<prop::sample::Index>(),
        cut in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!lines.is_empty());
        let i = which.index(lines.len());
        let mut text = format!("mode: {m}\n");
        for (j, (name, b)) in lines.iter().enumerate() {
            let l = line_text(name, b);
            if j == i {
                text.push_str(&l[..l.floor_char_boundary(cut.index(l.len()))]);
            } else {
                text.push_str(&l);
            }
            text.push('\n');
        }
        let _ = parse_total(text.as_bytes());
    }

    #[test]
    fn numbers_beyond_u64_are_errors(
        (m, lines) in raw_lines(),
        field in 0usize..6,
        digits in "[1-9][0-9]{20,40}",
    ) {
        let (name, b) = lines.first().cloned().unwrap_or(("a.go".to_string(), Block {
            start_line: 1, start_col: 1, end_line: 1, end_col: 2, num_stmt: 1, count: 1,
        }));
        let mut nums: Vec<String> = [
            u64::from(b.start_line), u64::from(b.start_col), u64::from(b.end_line),
            u64::from(b.end_col), u64::from(b.num_stmt), b.count,
        ].iter().map(u64::to_string).collect();
        nums[field] = digits;
        let line = format!("{name}:{}.{},{}.{} {} {}", nums[0], nums[1], nums[2], nums[3], nums[4], nums[5]);
        let text = format!("{}{line}\n", to_text(m, &lines, "\n"));
        let err = parse_total(text.as_bytes()).unwrap_err();
        prop_assert!(matches!(err, ProfileError::BadLine { .. }), "{:?}", err);
        prop_assert!(err.to_string().contains("too large"), "{}", err);
    }

    #[test]
    fn a_second_mode_line_is_an_error(
        (m, lines) in raw_lines(),
        at in any::<prop::sample::Index>(),
        second in mode(),
    ) {
        let mut all: Vec<String> = lines.iter().map(|(n, b)| line_text(n, b)).collect();
        all.insert(at.index(all.len() + 1), format!("mode: {second}"));
        let text = format!("mode: {m}\n{}\n", all.join("\n"));
        let err = parse_total(text.as_bytes()).unwrap_err();
        prop_assert!(err.to_string().contains("second mode line"), "{}", err);
    }

    #[test]
    fn crlf_reads_like_lf((m, lines) in raw_lines()) {
        let lf = parse_total(to_text(m, &lines, "\n").as_bytes()).unwrap();
        let crlf = parse_total(to_text(m, &lines, "\r\n").as_bytes()).unwrap();
        prop_assert_eq!(lf, crlf);
    }

    #[test]
    fn to_text_round_trips((m, lines) in raw_lines()) {
        let p = parse_total(to_text(m, &lines, "\n").as_bytes()).unwrap();
        let text = p.to_text();
        let again = parse_total(text.as_bytes()).unwrap();
        prop_assert_eq!(&again, &p);
        prop_assert_eq!(again.to_text(), text);
    }

    #[test]
    fn md5_ignores_the_order_of_lines(
        (m, lines) in raw_lines(),
        seed in any::<u64>(),
    ) {
        // A deterministic shuffle (xorshift) keeps the case reproducible from its inputs.
        let mut shuffled = lines.clone();
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let (text_a, text_b) = (to_text(m, &lines, "\n"), to_text(m, &shuffled, "\r\n"));
        let a = parse_total(text_a.as_bytes()).unwrap();
        let b = parse_total(text_b.as_bytes()).unwrap();
        prop_assert_eq!(a.md5_hex(), b.md5_hex());
        prop_assert_eq!(text_fingerprint(text_a.as_bytes()), text_fingerprint(text_b.as_bytes()));
        prop_assert_eq!(a, b);
    }

    #[test]
    fn merge_is_commutative_and_combines_counts(
        (m, lines) in raw_lines(),
        counts in prop::collection::vec(0u64..1_000_000, 60),
        keep in prop::collection::vec(any::<bool>(), 5),
    ) {
        let p = parse_total(to_text(m, &lines, "\n").as_bytes()).unwrap();
        // q: the same build, other counts, and only some of the files.
        let mut q = p.clone();
        let mut k = 0;
        for f in &mut q.files {
            for b in &mut f.blocks {
                b.count = counts[k % counts.len()];
                if m == Mode::Set {
                    b.count = u64::from(b.count > 0);
                }
                k += 1;
            }
        }
        let mut i = 0;
        q.files.retain(|_| { i += 1; keep[(i - 1) % keep.len()] });

        let pq = merge(&[("p", &p), ("q", &q)]).unwrap().unwrap();
        let qp = merge(&[("q", &q), ("p", &p)]).unwrap().unwrap();
        prop_assert_eq!(&pq, &qp);
        prop_assert_eq!(pq.files.len(), p.files.len());
        for f in &pq.files {
            let pf = p.file(&f.name).unwrap();
            match q.file(&f.name) {
                None => prop_assert_eq!(f, pf),
                Some(qf) => {
                    for ((a, b), c) in pf.blocks.iter().zip(&qf.blocks).zip(&f.blocks) {
                        prop_assert_eq!(c.range(), a.range());
                        prop_assert_eq!(c.count, m.combine(a.count, b.count).unwrap());
                    }
                }
            }
        }
        // Merging in one go equals merging the parts (associativity) with a third input.
        let ppq = merge(&[("p", &p), ("p", &p), ("q", &q)]).unwrap().unwrap();
        let p_pq = merge(&[("p", &p), ("pq", &pq)]).unwrap().unwrap();
        prop_assert_eq!(ppq, p_pq);
    }
}

#[test]
fn empty_input_and_blank_lines() {
    assert!(matches!(parse("x", b""), Err(ProfileError::Empty { .. })));
    assert!(matches!(
        parse("x", b"\n\r\n"),
        Err(ProfileError::Empty { .. })
    ));
    let p = parse("x", b"mode: set\r\n\r\na.go:1.1,2.2 1 5\r\n").unwrap();
    assert_eq!(p.files[0].blocks[0].count, 1, "set mode clamps counts");
}

#[test]
fn a_name_that_extends_the_previous_name_is_its_own_file() {
    // The fast path parses after the previous line's name; a longer name with that prefix (Go
    // splits from the right, so names may hold `:` and digits) must still be read as Go reads it.
    let text = b"mode: count\na.go:1.2,3.4 1 1\na.go:1.2,3.4 1 2\na.go:7.1,8.2 1 3\n\
                 a.go:1.2,3.4 5 6:9.1,9.5 2 1\n";
    let p = parse("x", text).unwrap();
    let names: Vec<&str> = p.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a.go", "a.go:1.2,3.4 5 6"]);
    assert_eq!(
        p.files[0].blocks,
        [Block::new(1, 2, 3, 4, 1, 3), Block::new(7, 1, 8, 2, 1, 3)]
    );
    assert_eq!(p.files[1].blocks, [Block::new(9, 1, 9, 5, 2, 1)]);
}

#[test]
fn text_fingerprints_tell_counts_modes_names_and_lines_apart() {
    let texts: [&[u8]; 7] = [
        b"mode: count\na.go:1.1,2.2 1 5\nb.go:1.1,2.2 2 0\n",
        b"mode: count\na.go:1.1,2.2 1 6\nb.go:1.1,2.2 2 0\n",
        b"mode: atomic\na.go:1.1,2.2 1 5\nb.go:1.1,2.2 2 0\n",
        b"mode: count\na.go:1.1,2.2 1 5\nc.go:1.1,2.2 2 0\n",
        b"mode: count\na.go:1.1,2.2 1 5\n",
        // A repeated line is counted again (its counts add up in the parse).
        b"mode: count\na.go:1.1,2.2 1 5\nb.go:1.1,2.2 2 0\nb.go:1.1,2.2 2 0\n",
        // The mode line is not just another line: moved, it is another (malformed) text.
        b"a.go:1.1,2.2 1 5\nmode: count\nb.go:1.1,2.2 2 0\n",
    ];
    let prints: Vec<String> = texts.iter().map(|t| text_fingerprint(t)).collect();
    for (i, p) in prints.iter().enumerate() {
        assert_eq!(p.len(), 32);
        assert!(
            !prints[i + 1..].contains(p),
            "fingerprint {i} repeats: {prints:?}"
        );
    }
    // Stable within a build, and blind to line order, blank lines and CRLF.
    let again = text_fingerprint(b"\nmode: count\r\nb.go:1.1,2.2 2 0\n\na.go:1.1,2.2 1 5");
    assert_eq!(again, prints[0]);
}
