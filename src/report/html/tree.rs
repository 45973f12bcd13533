//! The directory tree of a report's files, with single-child directory chains folded into one
//! node (`github.com/org/repo/pkg` rather than four levels) and statement sums per directory.

use crate::report::Counts;

/// One directory of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    /// The full directory path ("" for the root).
    pub path: String,
    /// What to show: the path relative to the parent, folded chains joined by '/'.
    pub label: String,
    /// The parent directory (None for the root).
    pub parent: Option<usize>,
    /// Child directories, sorted by path.
    pub dirs: Vec<usize>,
    /// Files directly in this directory (indices into the report's files), in report order.
    pub files: Vec<usize>,
    /// Statements of every file below this directory.
    pub counts: Counts,
}

/// The tree: `dirs[0]` is the root; `file_dir[i]` is the directory holding file `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tree {
    /// All directories, the root first.
    pub dirs: Vec<Dir>,
    /// The directory of each file.
    pub file_dir: Vec<usize>,
}

/// The directory part of a slash-separated name ("" when there is none).
fn parent_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// The last element of a slash-separated name.
fn last_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

struct RawDir<'a> {
    path: &'a str,
    dirs: Vec<usize>,
    files: Vec<usize>,
    counts: Counts,
    parent: usize,
}

/// Builds the tree of `files` (name and counts each). Iterative throughout, so absurdly deep
/// names cannot overflow the stack.
pub fn build<'a>(files: impl IntoIterator<Item = (&'a str, Counts)>) -> Tree {
    let mut raw = vec![RawDir {
        path: "",
        dirs: Vec::new(),
        files: Vec::new(),
        counts: Counts::default(),
        parent: 0,
    }];
    let mut index: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    let mut nfiles = 0;
    for (i, (name, counts)) in files.into_iter().enumerate() {
        nfiles = i + 1;
        // Find the nearest existing ancestor, then create the missing ones below it.
        let mut missing = Vec::new();
        let mut p = parent_of(name);
        let mut at = loop {
            if p.is_empty() {
                break 0;
            }
            if let Some(&d) = index.get(p) {
                break d;
            }
            missing.push(p);
            p = parent_of(p);
        };
        for path in missing.into_iter().rev() {
            let d = raw.len();
            raw.push(RawDir {
                path,
                dirs: Vec::new(),
                files: Vec::new(),
                counts: Counts::default(),
                parent: at,
            });
            raw[at].dirs.push(d);
            index.insert(path, d);
            at = d;
        }
        raw[at].files.push(i);
        let mut d = at;
        loop {
            raw[d].counts.add(counts);
            if d == 0 {
                break;
            }
            d = raw[d].parent;
        }
    }
    for i in 0..raw.len() {
        let mut kids = std::mem::take(&mut raw[i].dirs);
        kids.sort_by(|&a, &b| raw[a].path.cmp(raw[b].path));
        raw[i].dirs = kids;
    }

    let mut dirs = vec![Dir {
        path: String::new(),
        label: String::new(),
        parent: None,
        dirs: Vec::new(),
        files: Vec::new(),
        counts: raw[0].counts,
    }];
    let mut file_dir = vec![0; nfiles];
    let mut stack = vec![(0usize, 0usize)];
    while let Some((r, o)) = stack.pop() {
        let mut kids = Vec::with_capacity(raw[r].dirs.len());
        for &child in &raw[r].dirs {
            let mut c = child;
            let mut label = last_of(raw[c].path).to_string();
            while raw[c].files.is_empty() && raw[c].dirs.len() == 1 {
                c = raw[c].dirs[0];
                label.push('/');
                label.push_str(last_of(raw[c].path));
            }
            let id = dirs.len();
            dirs.push(Dir {
                path: raw[c].path.to_string(),
                label,
                parent: Some(o),
                dirs: Vec::new(),
                files: Vec::new(),
                counts: raw[c].counts,
            });
            kids.push((c, id));
        }
        dirs[o].dirs = kids.iter().map(|&(_, id)| id).collect();
        dirs[o].files.clone_from(&raw[r].files);
        for &f in &raw[r].files {
            file_dir[f] = o;
        }
        stack.extend(kids.into_iter().rev());
    }
    Tree { dirs, file_dir }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(statements: u64, covered: u64) -> Counts {
        Counts {
            statements,
            covered,
        }
    }

    #[test]
    fn folds_chains_and_sums_counts() {
        let t = build([
            ("example.com/m/a.go", c(4, 2)),
            ("example.com/m/pkg/x/b.go", c(6, 6)),
            ("example.com/m/pkg/y/c.go", c(10, 0)),
            ("top.go", c(1, 1)),
        ]);
        let root = &t.dirs[0];
        assert_eq!(root.counts, c(21, 9));
        assert_eq!(root.files, vec![3]);
        assert_eq!(root.dirs.len(), 1);
        let m = &t.dirs[root.dirs[0]];
        assert_eq!(m.label, "example.com/m");
        assert_eq!(m.counts, c(20, 8));
        assert_eq!(m.files, vec![0]);
        let pkg = &t.dirs[m.dirs[0]];
        assert_eq!(
            (pkg.label.as_str(), pkg.path.as_str()),
            ("pkg", "example.com/m/pkg")
        );
        let labels: Vec<&str> = pkg.dirs.iter().map(|&d| t.dirs[d].label.as_str()).collect();
        assert_eq!(labels, ["x", "y"]);
        assert_eq!(t.dirs[pkg.dirs[1]].counts, c(10, 0));
        assert_eq!(t.file_dir, vec![root.dirs[0], pkg.dirs[0], pkg.dirs[1], 0]);
    }

    #[test]
    fn odd_names_do_not_break_it() {
        let deep = format!("{}f.go", "d/".repeat(3_000));
        let t = build([
            ("/abs/x.go", c(1, 0)),
            ("a//b.go", c(1, 1)),
            (deep.as_str(), c(2, 1)),
        ]);
        assert_eq!(t.dirs[0].counts, c(4, 2));
        assert_eq!(t.file_dir.len(), 3);
        // The 3,000 nested single-child directories fold into one node.
        assert!(t.dirs.iter().any(|d| d.label.len() == 3_000 * 2 - 1));
    }
}
