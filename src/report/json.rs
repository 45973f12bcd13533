//! The JSON report: totals, files and functions with statements, covered and percent.

use serde::Serialize;

use super::{Counts, Coverage};
use crate::profile::Mode;

#[derive(Serialize)]
struct Figures {
    statements: u64,
    covered: u64,
    percent: f64,
}

impl From<Counts> for Figures {
    fn from(c: Counts) -> Figures {
        Figures {
            statements: c.statements,
            covered: c.covered,
            percent: c.percent(),
        }
    }
}

#[derive(Serialize)]
struct Func<'a> {
    name: &'a str,
    start_line: u32,
    end_line: u32,
    #[serde(flatten)]
    figures: Figures,
}

#[derive(Serialize)]
struct File<'a> {
    name: &'a str,
    path: Option<&'a str>,
    #[serde(flatten)]
    figures: Figures,
    functions: Vec<Func<'a>>,
}

#[derive(Serialize)]
struct Doc<'a> {
    commit: Option<&'a str>,
    mode: Mode,
    total: Figures,
    all_blocks: Figures,
    files: Vec<File<'a>>,
    unresolved: &'a [String],
}

/// Renders the report as pretty JSON with a fixed key order (documented in README).
pub fn render(cov: &Coverage, commit: Option<&str>) -> String {
    let doc = Doc {
        commit,
        mode: cov.mode,
        total: cov.func_total.into(),
        all_blocks: cov.block_total.into(),
        files: cov
            .files
            .iter()
            .map(|f| File {
                name: &f.name,
                path: f.path.as_deref(),
                figures: f.counts.into(),
                functions: f
                    .funcs
                    .iter()
                    .map(|g| Func {
                        name: &g.name,
                        start_line: g.extent.start_line,
                        end_line: g.extent.end_line,
                        figures: g.counts.into(),
                    })
                    .collect(),
            })
            .collect(),
        unresolved: &cov.unresolved,
    };
    // Serializing plain structs of strings and numbers cannot fail.
    let mut s = serde_json::to_string_pretty(&doc).unwrap_or_default();
    s.push('\n');
    s
}
