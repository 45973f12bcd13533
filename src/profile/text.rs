//! The normalized profile text and its md5, the change detector.

use std::fmt::Write as _;
use std::io::Write;

use md5::{Digest, Md5};

use super::Profile;

impl Profile {
    /// The normalized text: `mode:` line, then files by name and blocks by range.
    ///
    /// Agents print files in random order, so only this form is comparable between pulls.
    pub fn to_text(&self) -> String {
        let mut out = Vec::with_capacity(16 + self.block_count() * 64);
        // Writing to a Vec cannot fail, and names come from &str while the rest is ASCII.
        let _ = self.write_text(&mut out);
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Writes [`Profile::to_text`] to `w` without building it in memory first.
    pub fn write_text<W: Write + ?Sized>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"mode: ")?;
        w.write_all(self.mode.as_str().as_bytes())?;
        w.write_all(b"\n")?;
        // Hand-formatted into one line buffer: `format!` machinery was a quarter of a merge's
        // time.
        let mut line = Vec::with_capacity(256);
        let mut num = itoa::Buffer::new();
        for f in &self.files {
            for b in &f.blocks {
                line.clear();
                line.extend_from_slice(f.name.as_bytes());
                let fields = [
                    (b':', u64::from(b.start_line)),
                    (b'.', u64::from(b.start_col)),
                    (b',', u64::from(b.end_line)),
                    (b'.', u64::from(b.end_col)),
                    (b' ', u64::from(b.num_stmt)),
                    (b' ', b.count),
                ];
                for (sep, value) in fields {
                    line.push(sep);
                    line.extend_from_slice(num.format(value).as_bytes());
                }
                line.push(b'\n');
                w.write_all(&line)?;
            }
        }
        Ok(())
    }

    /// Hex md5 of [`Profile::to_text`].
    pub fn md5_hex(&self) -> String {
        self.text_and_md5().1
    }

    /// [`Profile::to_text`] and [`Profile::md5_hex`] from one rendering of the text.
    pub fn text_and_md5(&self) -> (String, String) {
        let text = self.to_text();
        let digest = Md5::digest(text.as_bytes());
        let md5 = digest.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        });
        (text, md5)
    }
}

/// A fingerprint of profile text, 128 bits in hex, computed without parsing it: the first
/// non-blank line (the mode line) in place, every other non-blank line as an unordered multiset
/// (`\r` before a newline ignored), which is all that [`super::parse`]'s result depends on. So
/// equal fingerprints mean equal parses (agents print their files in a random order, which does
/// not change it); a different text of the same profile only looks changed. It tells a
/// re-fetched snapshot that did not change at the cost of hashing its lines, several times
/// cheaper than parsing them. Not a stored identifier: a later build may compute other values,
/// which costs one full comparison, nothing else.
pub fn text_fingerprint(data: &[u8]) -> String {
    use std::hash::BuildHasher as _;
    const SEEDS: [u64; 2] = [0x676f_635f_6164_6170, 0x7465_725f_6670_7631];
    let hashers = SEEDS.map(foldhash::quality::FixedState::with_seed);
    let mut first: Option<[u64; 2]> = None;
    // Sums of the other lines' hashes: order does not change a sum.
    let mut sums = [0u64; 2];
    let mut lines = 0u64;
    for (_, line) in super::parse::lines(data) {
        let h = [hashers[0].hash_one(line), hashers[1].hash_one(line)];
        if first.is_none() {
            first = Some(h);
            continue;
        }
        sums[0] = sums[0].wrapping_add(h[0]);
        sums[1] = sums[1].wrapping_add(h[1]);
        lines += 1;
    }
    let first = first.unwrap_or_default();
    let [a, b] = [0, 1].map(|i| hashers[i].hash_one((first[i], sums[i], lines)));
    format!("{a:016x}{b:016x}")
}
