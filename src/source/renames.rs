//! Rename detection as `git diff` does it (git 2.39's diffcore-rename, renames only, default
//! 50% similarity), so that a change's added lines are the ones `git diff -M` — and thus
//! diff-cover — reports. libgit2's own detection scores similarity differently and pairs other
//! files near the threshold.
//!
//! Pure: paths, object ids, modes and sizes in, contents on demand (only for pairs whose sizes
//! are close enough, as git reads them); pairs out. The steps, in git's order:
//! 1. exact renames (same blob), preferring an unused source with the same basename;
//! 2. among the rest, a source and a destination whose basename is unique on both sides pair up
//!    when at least 75% similar;
//! 3. every remaining destination keeps its 4 best sources by score (ties: same basename first,
//!    then the earlier source); all candidates are sorted, best first, and paired greedily if at
//!    least 50% similar. Skipped when destinations × sources exceeds 1000².

use std::collections::HashMap;

/// git's similarity scale.
const MAX_SCORE: f64 = 60000.0;
/// `-M` default: 50%.
const MIN_SCORE: f64 = 30000.0;
/// diff.renameLimit default.
const RENAME_LIMIT: usize = 1000;
/// Candidates kept per destination in the inexact pass.
const CANDIDATES: usize = 4;
/// git's spanhash modulus.
const HASHBASE: u32 = 107927;

/// One side of a possible rename: a deleted file (source) or an added file (destination).
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// Repository path.
    pub path: &'a str,
    /// The blob's object id, raw bytes.
    pub oid: &'a [u8],
    /// The git file mode (0o100644, 0o100755, 0o120000, ...).
    pub mode: u32,
    /// The blob's size in bytes.
    pub size: usize,
}

fn is_regular(mode: u32) -> bool {
    mode & 0o170000 == 0o100000
}

/// Whether two paths end in the same file name (git's `basename_same`).
fn basename_same(a: &str, b: &str) -> bool {
    a.rsplit('/').next() == b.rsplit('/').next()
}

fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Byte counts per chunk hash, sorted by hash: chunks end at a newline or after 64 bytes (a
/// trailing partial chunk is not counted), CR of CRLF ignored in text. git's `hash_chars`.
fn spans(content: &[u8]) -> Vec<(u32, u64)> {
    let is_text = memchr::memchr(0, &content[..content.len().min(8000)]).is_none();
    let mut chunks: Vec<(u32, u64)> = Vec::with_capacity(content.len() / 24 + 1);
    if is_text && memchr::memchr(b'\r', content).is_some() {
        chunks_with_crlf(content, &mut chunks);
    } else {
        chunks_of(content, &mut chunks);
    }
    chunks.sort_unstable_by_key(|&(h, _)| h);
    // One entry per hash, its bytes summed.
    let mut out: Vec<(u32, u64)> = Vec::with_capacity(chunks.len());
    for (h, n) in chunks {
        match out.last_mut() {
            Some((last, total)) if *last == h => *total += n,
            _ => out.push((h, n)),
        }
    }
    out
}

/// One byte into git's chunk state. git keeps two 32-bit accumulators and shifts each left by 7
/// taking the other's top 7 bits: together (`accum1` high, `accum2` low) that is a 64-bit
/// rotation, and the byte is added to `accum1` (wrapping in its 32 bits, as a carry out of the
/// top does). Two dependent instructions a byte instead of git's three.
fn step(state: u64, byte: u8) -> u64 {
    state.rotate_left(7).wrapping_add(u64::from(byte) << 32)
}

/// git's chunk hash from the state.
fn chunk_hash(state: u64) -> u32 {
    let (accum1, accum2) = ((state >> 32) as u32, state as u32);
    accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE
}

/// The end of the chunk starting at `from`: just past its newline, or 64 bytes on; `None` for
/// a trailing partial chunk.
fn chunk_end(content: &[u8], from: usize) -> Option<usize> {
    let window = content.get(from..(from + 64).min(content.len()))?;
    match memchr::memchr(b'\n', window) {
        Some(i) => Some(from + i + 1),
        None if window.len() == 64 => Some(from + 64),
        None => None,
    }
}

/// The chunks of a content without CRLF to skip: found with memchr, hashed two at a time (the
/// two states' instructions interleave, as one chunk's cannot).
fn chunks_of(content: &[u8], out: &mut Vec<(u32, u64)>) {
    let mut pos = 0;
    while let Some(end_a) = chunk_end(content, pos) {
        let a = &content[pos..end_a];
        let Some(end_b) = chunk_end(content, end_a) else {
            out.push((
                chunk_hash(a.iter().fold(0, |s, &c| step(s, c))),
                a.len() as u64,
            ));
            break;
        };
        let b = &content[end_a..end_b];
        let both = a.len().min(b.len());
        let (mut x, mut y) = (0u64, 0u64);
        for (&ca, &cb) in a[..both].iter().zip(&b[..both]) {
            x = step(x, ca);
            y = step(y, cb);
        }
        x = a[both..].iter().fold(x, |s, &c| step(s, c));
        y = b[both..].iter().fold(y, |s, &c| step(s, c));
        out.push((chunk_hash(x), a.len() as u64));
        out.push((chunk_hash(y), b.len() as u64));
        pos = end_b;
    }
}

/// git's loop as it is, for text with a CR before some newline (which it skips, counting
/// neither its byte nor its hash).
fn chunks_with_crlf(content: &[u8], out: &mut Vec<(u32, u64)>) {
    let (mut state, mut n) = (0u64, 0u64);
    for (i, &c) in content.iter().enumerate() {
        if c == b'\r' && content.get(i + 1) == Some(&b'\n') {
            continue;
        }
        state = step(state, c);
        n += 1;
        if n < 64 && c != b'\n' {
            continue;
        }
        out.push((chunk_hash(state), n));
        n = 0;
        state = 0;
    }
}

/// Bytes of the source found in the destination: per hash, the smaller of the two counts
/// (both sorted by hash).
fn copied(src: &[(u32, u64)], dst: &[(u32, u64)]) -> u64 {
    let (mut i, mut j, mut sum) = (0, 0, 0);
    // No branch on the comparison: the hashes are random, so a branch mispredicts half the
    // time (the client-go bench's rename search: 8.4 -> 7.7 ms).
    while let (Some(&(a, na)), Some(&(b, nb))) = (src.get(i), dst.get(j)) {
        sum += if a == b { na.min(nb) } else { 0 };
        i += usize::from(a <= b);
        j += usize::from(a >= b);
    }
    sum
}

/// Which side a content is wanted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// A deleted file (`srcs[i]`).
    Source,
    /// An added file (`dsts[i]`).
    Destination,
}

/// Chunk counts of the sources and destinations, computed when first needed.
struct SpanCache<'l> {
    load: &'l mut dyn FnMut(Which, usize) -> Vec<u8>,
    src: Vec<Option<Vec<(u32, u64)>>>,
    dst: Vec<Option<Vec<(u32, u64)>>>,
}

/// Whether git compares a source with a destination at all for `min_score`, and if so the
/// larger size, which the bytes in common are scored against (`estimate_similarity`'s checks).
fn comparable(src: &Side<'_>, dst: &Side<'_>, min_score: f64) -> Option<f64> {
    if !is_regular(src.mode) || !is_regular(dst.mode) {
        return None;
    }
    let (s, d) = (src.size as f64, dst.size as f64);
    let (max, min) = if s > d { (s, d) } else { (d, s) };
    // Edits that change the size this much are not considered.
    if max * (MAX_SCORE - min_score) < (max - min) * MAX_SCORE {
        return None;
    }
    (dst.size != 0).then_some(max)
}

/// git's 0..60000 score of `common` bytes against the larger size.
fn score(common: u64, max: f64) -> u32 {
    (common as f64 * MAX_SCORE / max) as u32
}

impl SpanCache<'_> {
    fn src_spans(&mut self, si: usize) -> &[(u32, u64)] {
        let load = &mut *self.load;
        self.src[si].get_or_insert_with(|| spans(&load(Which::Source, si)))
    }

    fn dst_spans(&mut self, di: usize) -> &[(u32, u64)] {
        let load = &mut *self.load;
        self.dst[di].get_or_insert_with(|| spans(&load(Which::Destination, di)))
    }

    /// Similarity of a source and a destination on git's 0..60000 scale
    /// (`estimate_similarity`).
    fn similarity(
        &mut self,
        srcs: &[Side<'_>],
        dsts: &[Side<'_>],
        si: usize,
        di: usize,
        min_score: f64,
    ) -> u32 {
        let Some(max) = comparable(&srcs[si], &dsts[di], min_score) else {
            return 0;
        };
        self.src_spans(si);
        self.dst_spans(di);
        match (&self.src[si], &self.dst[di]) {
            (Some(s), Some(d)) => score(copied(s, d), max),
            _ => 0,
        }
    }
}

/// Sources' chunk counts by hash: one pass over a destination's chunks gives its bytes in
/// common with every source at once (what [`copied`] gives one pair at a time). Most chunk
/// hashes are one file's own lines, so a destination meets few sources per hash, where a
/// pairwise merge walks both chunk lists for every pair (3,468 pairs on client-go v0.30 ->
/// v0.31).
struct SourceChunks {
    /// `(source, bytes)` per hash, grouped by hash.
    entries: Vec<(usize, u64)>,
    /// Each hash's range in `entries`.
    ranges: foldhash::HashMap<u32, (usize, usize)>,
}

impl SourceChunks {
    fn new(sources: Vec<(usize, &[(u32, u64)])>) -> Self {
        let mut all: Vec<(u32, usize, u64)> = sources
            .into_iter()
            .flat_map(|(si, spans)| spans.iter().map(move |&(h, n)| (h, si, n)))
            .collect();
        all.sort_unstable_by_key(|&(h, si, _)| (h, si));
        let mut ranges: foldhash::HashMap<u32, (usize, usize)> = Default::default();
        for (i, &(h, _, _)) in all.iter().enumerate() {
            ranges
                .entry(h)
                .and_modify(|r| r.1 = i + 1)
                .or_insert((i, i + 1));
        }
        SourceChunks {
            entries: all.into_iter().map(|(_, si, n)| (si, n)).collect(),
            ranges,
        }
    }

    /// Adds to `common[si]` the bytes destination `dst` has in common with each source `si`:
    /// per hash, the smaller of the two counts.
    fn add_common(&self, dst: &[(u32, u64)], common: &mut [u64]) {
        for (h, nb) in dst {
            if let Some(&(from, to)) = self.ranges.get(h) {
                for &(si, na) in &self.entries[from..to] {
                    common[si] += na.min(*nb);
                }
            }
        }
    }
}

/// A candidate pair of the inexact pass.
#[derive(Debug, Clone, Copy)]
struct Score {
    src: usize,
    /// `None`: an empty slot.
    dst: Option<usize>,
    score: u32,
    name_score: bool,
}

/// git's `score_compare`: empty slots last, then higher score, then same basename first.
fn score_order(a: &Score, b: &Score) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a.dst, b.dst) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        _ => b
            .score
            .cmp(&a.score)
            .then_with(|| b.name_score.cmp(&a.name_score)),
    }
}

/// Finds the renames among deleted files (`srcs`) and added files (`dsts`), both in git's path
/// order. Returns `(source index, destination index)` pairs.
/// `load` gives the content of a source or destination by index.
pub fn find_renames(
    srcs: &[Side<'_>],
    dsts: &[Side<'_>],
    load: &mut dyn FnMut(Which, usize) -> Vec<u8>,
) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    if srcs.is_empty() || dsts.is_empty() {
        return pairs;
    }
    let mut src_used = vec![false; srcs.len()];
    let mut dst_done = vec![false; dsts.len()];

    // 1. Exact renames: sources with the same blob, the first unused one with the same basename
    // preferred (git stops looking after 100 candidates).
    let mut by_oid: HashMap<&[u8], Vec<usize>> = HashMap::new();
    for (i, s) in srcs.iter().enumerate() {
        by_oid.entry(s.oid).or_default().push(i);
    }
    for (di, d) in dsts.iter().enumerate() {
        let Some(candidates) = by_oid.get(d.oid) else {
            continue;
        };
        let mut best: Option<(usize, u8)> = None;
        let mut budget = 100;
        for &si in candidates {
            let s = &srcs[si];
            if (!is_regular(s.mode) || !is_regular(d.mode)) && s.mode != d.mode {
                continue;
            }
            if src_used[si] {
                continue;
            }
            let score = 1 + u8::from(basename_same(s.path, d.path));
            if best.is_none_or(|(_, b)| score > b) {
                best = Some((si, score));
                if score == 2 {
                    break;
                }
            }
            budget -= 1;
            if budget == 0 {
                break;
            }
        }
        if let Some((si, _)) = best {
            src_used[si] = true;
            dst_done[di] = true;
            pairs.push((si, di));
        }
    }

    let mut cache = SpanCache {
        load,
        src: vec![None; srcs.len()],
        dst: vec![None; dsts.len()],
    };
    // 2. Unique basenames on both sides, at least 75% similar.
    let min_basename = MIN_SCORE + (0.5 * (MAX_SCORE - MIN_SCORE)).trunc();
    let mut src_by_base: HashMap<&str, Option<usize>> = HashMap::new();
    for (i, s) in srcs.iter().enumerate().filter(|(i, _)| !src_used[*i]) {
        src_by_base
            .entry(basename(s.path))
            .and_modify(|v| *v = None)
            .or_insert(Some(i));
    }
    let mut dst_by_base: HashMap<&str, Option<usize>> = HashMap::new();
    for (i, d) in dsts.iter().enumerate().filter(|(i, _)| !dst_done[*i]) {
        dst_by_base
            .entry(basename(d.path))
            .and_modify(|v| *v = None)
            .or_insert(Some(i));
    }
    for si in 0..srcs.len() {
        if src_used[si] {
            continue;
        }
        let base = basename(srcs[si].path);
        let (Some(Some(s)), Some(Some(di))) = (src_by_base.get(base), dst_by_base.get(base)) else {
            continue;
        };
        let di = *di;
        if *s != si || dst_done[di] {
            continue;
        }
        let score = cache.similarity(srcs, dsts, si, di, min_basename);
        if f64::from(score) < min_basename {
            continue;
        }
        src_used[si] = true;
        dst_done[di] = true;
        pairs.push((si, di));
    }

    // 3. The inexact matrix over what is left.
    let left_src: Vec<usize> = (0..srcs.len()).filter(|&i| !src_used[i]).collect();
    let left_dst: Vec<usize> = (0..dsts.len()).filter(|&i| !dst_done[i]).collect();
    if left_src.is_empty()
        || left_dst.is_empty()
        || left_src.len().saturating_mul(left_dst.len()) > RENAME_LIMIT * RENAME_LIMIT
    {
        return pairs;
    }
    // The chunks of the sources some destination is compared with (the contents git reads).
    let pairable: Vec<usize> = left_src
        .iter()
        .copied()
        .filter(|&si| {
            left_dst
                .iter()
                .any(|&di| comparable(&srcs[si], &dsts[di], MIN_SCORE).is_some())
        })
        .collect();
    for &si in &pairable {
        cache.src_spans(si);
    }
    let source_chunks = SourceChunks::new(
        pairable
            .iter()
            .filter_map(|&si| cache.src[si].as_deref().map(|s| (si, s)))
            .collect(),
    );
    let mut common = vec![0u64; srcs.len()];
    let mut matrix: Vec<Score> = Vec::with_capacity(left_dst.len() * CANDIDATES);
    for &di in &left_dst {
        let mut best = [Score {
            src: 0,
            dst: None,
            score: 0,
            name_score: false,
        }; CANDIDATES];
        let maxes: Vec<Option<f64>> = left_src
            .iter()
            .map(|&si| comparable(&srcs[si], &dsts[di], MIN_SCORE))
            .collect();
        if maxes.iter().any(Option::is_some) {
            for &si in &pairable {
                common[si] = 0;
            }
            source_chunks.add_common(cache.dst_spans(di), &mut common);
        }
        for (&si, max) in left_src.iter().zip(&maxes) {
            let candidate = Score {
                src: si,
                dst: Some(di),
                score: max.map_or(0, |max| score(common[si], max)),
                name_score: basename_same(srcs[si].path, dsts[di].path),
            };
            // Replace the worst kept candidate if this one sorts strictly before it.
            let mut worst = 0;
            for k in 1..CANDIDATES {
                if score_order(&best[k], &best[worst]).is_gt() {
                    worst = k;
                }
            }
            if score_order(&best[worst], &candidate).is_gt() {
                best[worst] = candidate;
            }
        }
        matrix.extend(best);
    }
    matrix.sort_by(score_order);
    for m in matrix {
        let Some(di) = m.dst else { break };
        if f64::from(m.score) < MIN_SCORE {
            break;
        }
        if dst_done[di] || src_used[m.src] {
            continue;
        }
        src_used[m.src] = true;
        dst_done[di] = true;
        pairs.push((m.src, di));
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn side<'a>(path: &'a str, oid: &'a [u8], content: &'a [u8]) -> (Side<'a>, &'a [u8]) {
        (
            Side {
                path,
                oid,
                mode: 0o100644,
                size: content.len(),
            },
            content,
        )
    }

    /// Runs find_renames over sides that carry their contents.
    fn renames(srcs: &[(Side<'_>, &[u8])], dsts: &[(Side<'_>, &[u8])]) -> Vec<(usize, usize)> {
        let s: Vec<Side<'_>> = srcs.iter().map(|x| x.0).collect();
        let d: Vec<Side<'_>> = dsts.iter().map(|x| x.0).collect();
        find_renames(&s, &d, &mut |w, i| match w {
            Which::Source => srcs[i].1.to_vec(),
            Which::Destination => dsts[i].1.to_vec(),
        })
    }

    fn lines(n: usize, tag: &str) -> Vec<u8> {
        (0..n)
            .map(|i| format!("line {i:03} of the {tag} file, long enough to matter\n"))
            .collect::<String>()
            .into_bytes()
    }

    #[test]
    fn exact_renames_prefer_the_same_basename() {
        let c = b"package x\n";
        let srcs = [side("a/one.go", b"1", c), side("b/two.go", b"1", c)];
        let dsts = [side("c/two.go", b"1", c)];
        assert_eq!(renames(&srcs, &dsts), [(1, 0)]);
    }

    #[test]
    fn inexact_renames_need_half_the_content() {
        let old = lines(20, "old");
        let mut half = lines(10, "old");
        half.extend(lines(10, "new").iter());
        let mut less = lines(9, "old");
        less.extend(lines(11, "new").iter());
        let srcs = [side("x/a.go", b"1", &old)];
        assert_eq!(renames(&srcs, &[side("y/b.go", b"2", &half)]), [(0, 0)]);
        assert_eq!(renames(&srcs, &[side("y/b.go", b"2", &less)]), []);
    }

    #[test]
    fn unique_basenames_need_three_quarters() {
        // 70% similar: not enough for the basename pass, enough for the matrix.
        let old = lines(20, "old");
        let mut new = lines(14, "old");
        new.extend(lines(6, "new").iter());
        let srcs = [side("x/a.go", b"1", &old)];
        assert_eq!(renames(&srcs, &[side("y/a.go", b"2", &new)]), [(0, 0)]);
    }

    #[test]
    fn best_pairs_win() {
        let old = lines(20, "old");
        let mut close = lines(18, "old");
        close.extend(lines(2, "new").iter());
        let mut far = lines(12, "old");
        far.extend(lines(8, "new").iter());
        let srcs = [side("x/a.go", b"1", &old)];
        let dsts = [
            side("y/far.go", b"2", &far),
            side("y/close.go", b"3", &close),
        ];
        assert_eq!(renames(&srcs, &dsts), [(0, 1)]);
    }

    #[test]
    fn spans_count_whole_chunks_only() {
        let s = spans(b"ab\ncd");
        // "ab\n" is a chunk; the unterminated "cd" is not counted.
        assert_eq!(s.iter().map(|&(_, n)| n).sum::<u64>(), 3);
        let long = vec![b'x'; 130];
        // Two 64-byte chunks with the same hash: one entry.
        assert_eq!(spans(&long), [(spans(&long)[0].0, 128)]);
    }

    /// git's `hash_chars` as diffcore-delta.c writes it, byte by byte with two accumulators.
    fn git_spans(content: &[u8]) -> Vec<(u32, u64)> {
        let is_text = !content[..content.len().min(8000)].contains(&0);
        let mut chunks: BTreeMap<u32, u64> = BTreeMap::new();
        let (mut accum1, mut accum2, mut n) = (0u32, 0u32, 0u64);
        for (i, &c) in content.iter().enumerate() {
            if is_text && c == b'\r' && content.get(i + 1) == Some(&b'\n') {
                continue;
            }
            let old1 = accum1;
            accum1 = (accum1 << 7) ^ (accum2 >> 25);
            accum2 = (accum2 << 7) ^ (old1 >> 25);
            accum1 = accum1.wrapping_add(u32::from(c));
            n += 1;
            if n < 64 && c != b'\n' {
                continue;
            }
            let hash = accum1.wrapping_add(accum2.wrapping_mul(0x61)) % HASHBASE;
            *chunks.entry(hash).or_default() += n;
            (n, accum1, accum2) = (0, 0, 0);
        }
        chunks.into_iter().collect()
    }

    proptest::proptest! {
        #[test]
        fn spans_are_gits(
            lines in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(b"ab\t{}\r\n\x00\xff zq".to_vec()),
                    0..150,
                ),
                0..40,
            ),
            crlf in proptest::bool::ANY,
        ) {
            let mut content: Vec<u8> = Vec::new();
            for l in &lines {
                content.extend(l.iter().filter(|&&b| crlf || b != b'\r'));
                content.extend(if crlf { b"\r\n".as_slice() } else { b"\n" });
            }
            // Also without the last line end, and without the NULs that make it binary.
            for c in [content.clone(), content[..content.len().saturating_sub(1)].to_vec()] {
                proptest::prop_assert_eq!(spans(&c), git_spans(&c));
                let text: Vec<u8> = c.iter().copied().filter(|&b| b != 0).collect();
                proptest::prop_assert_eq!(spans(&text), git_spans(&text));
            }
        }

        #[test]
        fn source_chunks_give_each_pairs_bytes_in_common(
            sources in proptest::collection::vec(
                proptest::collection::btree_map(0u32..60, 1u64..100, 0..40),
                1..6,
            ),
            dst in proptest::collection::btree_map(0u32..60, 1u64..100, 0..40),
        ) {
            let sources: Vec<Vec<(u32, u64)>> =
                sources.into_iter().map(|m| m.into_iter().collect()).collect();
            let dst: Vec<(u32, u64)> = dst.into_iter().collect();
            // Source 0 is left out of the index, as a source no destination is compared with.
            let chunks = SourceChunks::new(
                sources.iter().enumerate().skip(1).map(|(i, s)| (i, s.as_slice())).collect(),
            );
            let mut common = vec![0; sources.len()];
            chunks.add_common(&dst, &mut common);
            proptest::prop_assert_eq!(common[0], 0);
            for (i, s) in sources.iter().enumerate().skip(1) {
                proptest::prop_assert_eq!(common[i], copied(s, &dst));
            }
        }

        #[test]
        fn copied_sums_the_smaller_count_of_each_shared_hash(
            a in proptest::collection::btree_map(0u32..200, 1u64..100, 0..60),
            b in proptest::collection::btree_map(0u32..200, 1u64..100, 0..60),
        ) {
            let expected: u64 = a.iter().filter_map(|(h, n)| b.get(h).map(|m| *n.min(m))).sum();
            let (a, b): (Vec<_>, Vec<_>) = (a.into_iter().collect(), b.into_iter().collect());
            proptest::prop_assert_eq!(copied(&a, &b), expected);
        }
    }
}
