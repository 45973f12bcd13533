//! The one configuration of Go's text/tabwriter that `go tool cover -func` uses:
//! minwidth 1, tabwidth 8, padding 1, padchar '\t', no flags.

const TAB_WIDTH: usize = 8;

/// Lays out rows of cells. Every cell but the last of a row is tab-terminated in Go's terms, so
/// column `j` is as wide as its widest cell + 1, rounded up to a tab stop, over every row that has
/// a cell `j` followed by another cell (one column block: all our rows have the same shape).
pub fn render(rows: &[Vec<String>]) -> String {
    let columns = rows
        .iter()
        .map(|r| r.len().saturating_sub(1))
        .max()
        .unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (j, cell) in row.iter().take(row.len().saturating_sub(1)).enumerate() {
            widths[j] = widths[j].max(cell.chars().count() + 1);
        }
    }
    let mut out = String::new();
    for row in rows {
        let last = row.len().saturating_sub(1);
        for (j, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if j < last {
                let cell_w = widths[j].div_ceil(TAB_WIDTH) * TAB_WIDTH;
                let tabs = (cell_w - cell.chars().count()).div_ceil(TAB_WIDTH);
                out.extend(std::iter::repeat_n('\t', tabs));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn pads_with_tabs_to_the_widest_cell() {
        let rows = vec![
            vec![
                "a.go:5:".to_string(),
                "Inc".to_string(),
                "100.0%".to_string(),
            ],
            vec![
                "total:".to_string(),
                "(statements)".to_string(),
                "71.4%".to_string(),
            ],
        ];
        // Column 0: widest 7 + 1 = 8 -> one tab stop; column 1: 12 + 1 = 13 -> 16.
        assert_eq!(
            render(&rows),
            "a.go:5:\tInc\t\t100.0%\ntotal:\t(statements)\t71.4%\n"
        );
    }
}
