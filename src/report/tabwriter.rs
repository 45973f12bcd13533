//! The one configuration of Go's text/tabwriter that `go tool cover -func` uses:
//! minwidth 1, tabwidth 8, padding 1, padchar '\t', no flags.
//!
//! Every cell but the last of a row is tab-terminated in Go's terms, so a column is as wide as
//! its widest cell + 1, rounded up to a tab stop, over every row (one column block: all rows of
//! the report have the same shape).

const TAB_WIDTH: usize = 8;

/// How many tabs follow a cell `width` characters wide in a column whose widest cell is
/// `widest` characters wide.
pub fn tabs(width: usize, widest: usize) -> usize {
    let column = (widest + 1).div_ceil(TAB_WIDTH) * TAB_WIDTH;
    (column - width).div_ceil(TAB_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::tabs;

    #[test]
    fn pads_with_tabs_to_the_widest_cell() {
        // Widest 7 + 1 = 8 -> one tab stop: a 7-wide cell gets one tab, a 6-wide one too.
        assert_eq!(tabs(7, 7), 1);
        assert_eq!(tabs(6, 7), 1);
        // Widest 12 + 1 = 13 -> 16: a 3-wide cell needs two tabs, the 12-wide one one.
        assert_eq!(tabs(3, 12), 2);
        assert_eq!(tabs(12, 12), 1);
        // A cell exactly on a stop (widest 8 + 1 = 9 -> 16) still gets its padding tab.
        assert_eq!(tabs(8, 8), 1);
        assert_eq!(tabs(0, 8), 2);
    }
}
