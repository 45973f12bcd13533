//! The `-func` report: byte-identical to `go tool cover -func` when every file resolves.

use std::fmt::Write as _;

use super::{Coverage, tabwriter};

/// Renders per-function coverage, files in profile order, functions in source order, then the
/// total. Unresolved files are left out (they are listed in [`Coverage::unresolved`]).
pub fn render(cov: &Coverage) -> String {
    const TOTAL: &str = "total:";
    const STATEMENTS: &str = "(statements)";
    // Column widths first (the layout is Go's tabwriter's), then one pass writing the rows
    // straight into the output: no cell is built as a string of its own.
    let (mut widest0, mut widest1, mut rows) = (TOTAL.len(), STATEMENTS.len(), 1);
    for file in &cov.files {
        let name_width = file.name.chars().count();
        for f in &file.funcs {
            widest0 = widest0.max(name_width + digits(f.extent.start_line) + 2);
            widest1 = widest1.max(f.name.chars().count());
            rows += 1;
        }
    }
    let mut out = String::with_capacity(rows * (widest0 + widest1 + 16));
    let mut line = itoa::Buffer::new();
    for file in &cov.files {
        let name_width = file.name.chars().count();
        for f in &file.funcs {
            let number = line.format(f.extent.start_line);
            out.push_str(&file.name);
            out.push(':');
            out.push_str(number);
            out.push(':');
            push_tabs(&mut out, name_width + number.len() + 2, widest0);
            out.push_str(&f.name);
            push_tabs(&mut out, f.name.chars().count(), widest1);
            push_percent(&mut out, f.counts.percent());
        }
    }
    out.push_str(TOTAL);
    push_tabs(&mut out, TOTAL.len(), widest0);
    out.push_str(STATEMENTS);
    push_tabs(&mut out, STATEMENTS.len(), widest1);
    push_percent(&mut out, cov.func_total.percent());
    out
}

fn push_tabs(out: &mut String, width: usize, widest: usize) {
    out.extend(std::iter::repeat_n('\t', tabwriter::tabs(width, widest)));
}

/// `{:.1}%` and the end of the row, as Go's `%.1f%%\n` prints it.
fn push_percent(out: &mut String, percent: f64) {
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{percent:.1}%");
}

fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_decimal_rounds_half_to_even_like_go() {
        // Go's %.1f rounds the exact binary value, ties to even; Rust's formatter does too.
        assert_eq!(format!("{:.1}", 0.25), "0.2");
        assert_eq!(format!("{:.1}", 0.75), "0.8");
        assert_eq!(format!("{:.1}", 100.0 * 1.0 / 8.0), "12.5");
        assert_eq!(format!("{:.1}", 100.0 * 1.0 / 16.0), "6.2");
        assert_eq!(format!("{:.1}", 100.0 * 3.0 / 16.0), "18.8");
    }
}
