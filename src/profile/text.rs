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

    /// A fingerprint of the normalized profile (mode, file names, blocks and counts), 128 bits
    /// in hex: equal profiles have equal fingerprints in every run of this build. Much cheaper
    /// than [`Profile::md5_hex`] (no text is built): it tells a re-fetched snapshot that did not
    /// change from one that did. Not a stored identifier: a later build may compute other values,
    /// which costs one full comparison, nothing else.
    pub fn fingerprint(&self) -> String {
        use std::hash::{BuildHasher as _, Hash as _, Hasher as _};
        let mut halves = [0u64; 2];
        for (seed, half) in [0x676f_635f_6164_6170, 0x7465_725f_6670_7631]
            .into_iter()
            .zip(&mut halves)
        {
            let mut h = foldhash::quality::FixedState::with_seed(seed).build_hasher();
            self.mode.hash(&mut h);
            for f in &self.files {
                f.name.hash(&mut h);
                f.blocks.hash(&mut h);
            }
            *half = h.finish();
        }
        format!("{:016x}{:016x}", halves[0], halves[1])
    }

    /// Hex md5 of [`Profile::to_text`].
    pub fn md5_hex(&self) -> String {
        let digest = Md5::digest(self.to_text().as_bytes());
        digest.iter().fold(String::with_capacity(32), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
    }
}
