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
        // Hand-formatted: `format!` machinery was a quarter of a merge's time.
        for f in &self.files {
            for b in &f.blocks {
                out.push_str(&f.name);
                out.push(':');
                push_number(&mut out, b.start_line.into());
                out.push('.');
                push_number(&mut out, b.start_col.into());
                out.push(',');
                push_number(&mut out, b.end_line.into());
                out.push('.');
                push_number(&mut out, b.end_col.into());
                out.push(' ');
                push_number(&mut out, b.num_stmt.into());
                out.push(' ');
                push_number(&mut out, b.count);
                out.push('\n');
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

/// Appends the decimal digits of `v`.
fn push_number(out: &mut String, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend(digits[i..].iter().map(|&d| char::from(d)));
}
