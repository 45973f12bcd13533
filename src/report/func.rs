//! The `-func` report: byte-identical to `go tool cover -func` when every file resolves.

use super::{Coverage, tabwriter};

/// Renders per-function coverage, files in profile order, functions in source order, then the
/// total. Unresolved files are left out (they are listed in [`Coverage::unresolved`]).
pub fn render(cov: &Coverage) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for file in &cov.files {
        for f in &file.funcs {
            rows.push(vec![
                format!("{}:{}:", file.name, f.extent.start_line),
                f.name.clone(),
                format!("{:.1}%", f.counts.percent()),
            ]);
        }
    }
    rows.push(vec![
        "total:".to_string(),
        "(statements)".to_string(),
        format!("{:.1}%", cov.func_total.percent()),
    ]);
    tabwriter::render(&rows)
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
