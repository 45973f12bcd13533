//! The normalized profile text and its md5, the change detector.

use std::fmt::Write as _;

use md5::{Digest, Md5};

use super::Profile;

impl Profile {
    /// The normalized text: `mode:` line, then files by name and blocks by range.
    ///
    /// Agents print files in random order, so only this form is comparable between pulls.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(16 + self.block_count() * 64);
        out.push_str("mode: ");
        out.push_str(self.mode.as_str());
        out.push('\n');
        for f in &self.files {
            for b in &f.blocks {
                // Writing into a String cannot fail.
                let _ = writeln!(
                    out,
                    "{}:{}.{},{}.{} {} {}",
                    f.name, b.start_line, b.start_col, b.end_line, b.end_col, b.num_stmt, b.count
                );
            }
        }
        out
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
