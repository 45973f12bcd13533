//! The self-contained HTML report: one file, no network. The numbers and sources travel as JSON
//! inside the page (an index plus one `<script type="application/json">` per file); the page's
//! script builds the file tree and renders only the selected file, so huge reports open fast.
//!
//! Embedded data (every `<` inside it written `\u003c`):
//! - `<script type="application/json" id="goc-data">`: `{title, commit, mode, files, dirs,
//!   changed}`. `files[i]` (profile order): `{name, path, dir, stmts, covered, pct, src, chg?}`
//!   where `pct` is the string `go tool cover -html` prints (`"83.3"`), `src` says whether the
//!   source is embedded and `chg` is `{lines, measured, covered, pct}` for files with changed
//!   lines. `dirs[0]` is the root; each dir is `{name, label, parent, dirs, files, stmts,
//!   covered, pct}` with children as indices. `changed` is null for a full report, else
//!   `{files, lines, measured, covered, pct}`.
//! - `<script type="application/json" id="goc-f{i}">` per resolved file: `{t, s, c?, cs?}`: the
//!   source text (lossy UTF-8), flat `[start, end, class, count, ...]` ranges in UTF-16 units
//!   of `t` (`class` is go tool cover's `covN`), changed lines and their states (0 unmeasured,
//!   1 uncovered, 2 covered).
//!
//! The body holds the file elements first, then the visible layout, the index and the script
//! (the elements render nothing): a page's elements can be written before its totals are known.
//!
//! The page opens `#file=<profile name>[&line=N]` (and go tool cover's `#fileN`).

mod changed;
mod segments;
mod tree;

use rayon::prelude::*;
use serde::Serialize;

use self::changed::ChangedLines;
use self::segments::Segment;
use super::{Counts, Coverage, SourceFile};
use crate::profile::{Block, Mode, Profile};

const CSS: &str = include_str!("html/report.css");
const JS: &str = include_str!("html/report.js");

/// The title [`render`] uses.
pub const DEFAULT_TITLE: &str = "Go coverage report";

/// What to show besides the coverage itself.
#[derive(Debug, Clone, Copy)]
pub struct HtmlOptions<'a> {
    /// The page title and heading.
    pub title: &'a str,
    /// The commit the sources come from.
    pub commit: Option<&'a str>,
    /// Per profile file (same indices as `profile.files`): sorted changed line numbers. `None`
    /// renders a full report; `Some` adds a "changed files" view and changed-line markers.
    pub changed: Option<&'a [Vec<u32>]>,
    /// Free-form lines shown under the heading.
    pub summary: &'a [String],
}

impl Default for HtmlOptions<'_> {
    fn default() -> Self {
        HtmlOptions {
            title: DEFAULT_TITLE,
            commit: None,
            changed: None,
            summary: &[],
        }
    }
}

/// Renders the full report as one HTML file.
///
/// `sources[i]` is the source of `profile.files[i]` (`None`: listed as "source not found").
pub fn render(
    cov: &Coverage,
    profile: &Profile,
    sources: &[Option<SourceFile>],
    commit: Option<&str>,
) -> String {
    render_with(
        cov,
        profile,
        sources,
        &HtmlOptions {
            commit,
            ..HtmlOptions::default()
        },
    )
}

/// Renders the report with options (title, commit, changed lines, summary lines).
///
/// `cov`, `profile.files`, `sources` and `opts.changed` line up by index, as [`super::analyze`]
/// builds them; entries missing from the shorter ones are treated as absent.
pub fn render_with(
    cov: &Coverage,
    profile: &Profile,
    sources: &[Option<SourceFile>],
    opts: &HtmlOptions<'_>,
) -> String {
    render_sharing(cov, profile, sources, None, opts)
}

/// Each file's element of a full report (`None`: no source), for [`render_sharing`]: the
/// collector renders the full and the incremental page from the same sources, and they differ
/// only in the files with changed lines.
pub fn full_scripts(
    cov: &Coverage,
    profile: &Profile,
    sources: &[Option<SourceFile>],
) -> Vec<Option<Vec<u8>>> {
    sources
        .par_iter()
        .take(cov.files.len())
        .enumerate()
        .map(|(i, src)| {
            let src = src.as_ref()?;
            Some(file_script(
                i,
                &src.text,
                blocks_of(profile, i),
                cov.mode,
                None,
            ))
        })
        .collect()
}

/// [`render_with`], taking the element of every file without changed lines from `full` (made
/// by [`full_scripts`] for the same inputs) instead of building it again.
pub fn render_sharing(
    cov: &Coverage,
    profile: &Profile,
    sources: &[Option<SourceFile>],
    full: Option<&[Option<Vec<u8>>]>,
    opts: &HtmlOptions<'_>,
) -> String {
    let changed = classify_changed(cov, profile, opts);
    let changed_at = |i: usize| changed.get(i).and_then(Option::as_ref);
    let shared = |i: usize| full.filter(|_| changed_at(i).is_none());
    // Each file's element is independent of the others: build them on all cores.
    let own: Vec<Option<Vec<u8>>> = sources
        .par_iter()
        .take(cov.files.len())
        .enumerate()
        .map(|(i, src)| {
            if shared(i).is_some() {
                return None;
            }
            let src = src.as_ref()?;
            Some(file_script(
                i,
                &src.text,
                blocks_of(profile, i),
                cov.mode,
                changed_at(i),
            ))
        })
        .collect();
    let scripts: Vec<Option<&[u8]>> = (0..own.len())
        .map(|i| match shared(i) {
            Some(full) => full.get(i)?.as_deref(),
            None => own.get(i)?.as_deref(),
        })
        .collect();
    assemble(cov, &changed, &scripts, opts)
}

/// The `<script>` element that carries file `i`'s source and coloured ranges in a full report.
pub fn source_script(i: usize, text: &[u8], blocks: &[Block], mode: Mode) -> Vec<u8> {
    file_script(i, text, blocks, mode, None)
}

fn blocks_of(profile: &Profile, i: usize) -> &[Block] {
    profile.files.get(i).map_or(&[][..], |f| &f.blocks[..])
}

/// Changed lines of each file classified against its blocks (empty for a full report).
fn classify_changed(
    cov: &Coverage,
    profile: &Profile,
    opts: &HtmlOptions<'_>,
) -> Vec<Option<ChangedLines>> {
    let Some(all) = opts.changed else {
        return Vec::new();
    };
    (0..cov.files.len())
        .map(|i| {
            let lines = all.get(i)?;
            if lines.is_empty() {
                return None;
            }
            Some(changed::classify(blocks_of(profile, i), lines))
        })
        .collect()
}

fn file_script(
    i: usize,
    text: &[u8],
    blocks: &[Block],
    mode: Mode,
    changed: Option<&ChangedLines>,
) -> Vec<u8> {
    let segs = segments::segments(text, blocks, mode);
    let mut out = Vec::with_capacity(text.len() + text.len() / 8 + segs.len() * 16 + 64);
    put(&mut out, "<script type=\"application/json\" id=\"goc-f");
    put_u64(&mut out, i as u64);
    put(&mut out, "\">");
    // Sources are almost always valid UTF-8: the strict check is much faster than the lossy one.
    let decoded = match std::str::from_utf8(text) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(text),
    };
    file_json(&mut out, &decoded, &segs, changed);
    put(&mut out, "</script>\n");
    out
}

/// The page: head, index and the file elements in profile order.
fn assemble(
    cov: &Coverage,
    changed: &[Option<ChangedLines>],
    scripts: &[Option<&[u8]>],
    opts: &HtmlOptions<'_>,
) -> String {
    let script_bytes: usize = scripts.iter().flatten().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(script_bytes + 64 * 1024);
    // Writing to a Vec cannot fail.
    let _ = assemble_to(cov, changed, scripts, opts, &mut out);
    // Every piece written came from a &str, so this never falls back.
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The beginning of a full report's page, up to its file elements: what is known before the
/// coverage is (title, styles). Then come the elements built by [`source_script`], written as
/// they are made (any that a file lacks left out), then [`write_end`]: the CLI writes a big
/// report while its sources are still being read.
pub fn write_start(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(CSS.len() + 512);
    page_start(&mut out, &HtmlOptions::default());
    w.write_all(&out)
}

/// The end of a full report's page after its file elements (see [`write_start`]): the heading
/// with the totals, the layout, the index and the script. `has_source[i]`: file `i`'s element
/// was written.
pub fn write_end(
    cov: &Coverage,
    has_source: &[bool],
    commit: Option<&str>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let opts = HtmlOptions {
        commit,
        ..HtmlOptions::default()
    };
    page_end(cov, &[], &|i| has_source.get(i) == Some(&true), &opts, w)
}

fn assemble_to(
    cov: &Coverage,
    changed: &[Option<ChangedLines>],
    scripts: &[Option<&[u8]>],
    opts: &HtmlOptions<'_>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut out = Vec::with_capacity(CSS.len() + 512);
    page_start(&mut out, opts);
    w.write_all(&out)?;
    for script in scripts.iter().take(cov.files.len()).flatten() {
        w.write_all(script)?;
    }
    let has_source = |i: usize| matches!(scripts.get(i), Some(Some(_)));
    page_end(cov, changed, &has_source, opts, w)
}

/// The page after the file elements. The visible layout comes after them in the document (the
/// data elements render nothing), so that they can be written before the totals are known.
fn page_end(
    cov: &Coverage,
    changed: &[Option<ChangedLines>],
    has_source: &dyn Fn(usize) -> bool,
    opts: &HtmlOptions<'_>,
    w: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let changed_at = |i: usize| changed.get(i).and_then(Option::as_ref);
    let tree = tree::build(cov.files.iter().map(|f| (f.name.as_str(), f.counts)));
    let index = Index {
        title: opts.title,
        commit: opts.commit,
        mode: cov.mode,
        files: cov
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| FileEntry {
                name: &f.name,
                path: f.path.as_deref(),
                dir: tree.file_dir[i],
                stmts: f.counts.statements,
                covered: f.counts.covered,
                pct: html_percent(f.counts),
                src: has_source(i),
                chg: changed_at(i).map(|c| ChangedFigures {
                    lines: c.lines.len(),
                    measured: c.measured,
                    covered: c.covered,
                    pct: changed_percent(c.measured, c.covered),
                }),
            })
            .collect(),
        dirs: tree
            .dirs
            .iter()
            .map(|d| DirEntry {
                name: &d.path,
                label: &d.label,
                parent: d.parent,
                dirs: &d.dirs,
                files: &d.files,
                stmts: d.counts.statements,
                covered: d.counts.covered,
                pct: html_percent(d.counts),
            })
            .collect(),
        changed: opts.changed.map(|_| {
            let files: Vec<usize> = (0..changed.len())
                .filter(|&i| changed[i].is_some())
                .collect();
            let sum = |f: fn(&ChangedLines) -> u64| changed.iter().flatten().map(f).sum::<u64>();
            let (measured, covered) = (sum(|c| c.measured), sum(|c| c.covered));
            ChangedIndex {
                files,
                lines: sum(|c| c.lines.len() as u64),
                measured,
                covered,
                pct: changed_percent(measured, covered),
            }
        }),
    };

    let mut out = Vec::with_capacity(64 * 1024);
    layout(&mut out, cov, opts);
    put(
        &mut out,
        "<script type=\"application/json\" id=\"goc-data\">",
    );
    put_json(&mut out, &index);
    put(&mut out, "</script>\n");
    w.write_all(&out)?;
    w.write_all(b"<script>\n")?;
    w.write_all(JS.as_bytes())?;
    w.write_all(b"</script>\n</body>\n</html>\n")
}

/// The page's index: everything but the sources.
#[derive(Serialize)]
struct Index<'a> {
    title: &'a str,
    commit: Option<&'a str>,
    mode: Mode,
    files: Vec<FileEntry<'a>>,
    /// `dirs[0]` is the root; children are listed by index.
    dirs: Vec<DirEntry<'a>>,
    /// Present only for an incremental report.
    changed: Option<ChangedIndex>,
}

#[derive(Serialize)]
struct FileEntry<'a> {
    name: &'a str,
    path: Option<&'a str>,
    dir: usize,
    stmts: u64,
    covered: u64,
    /// As `go tool cover -html` prints it, without the `%`.
    pct: String,
    /// Whether the page holds the source (`goc-f<index>`).
    src: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    chg: Option<ChangedFigures>,
}

#[derive(Serialize)]
struct ChangedFigures {
    lines: usize,
    measured: u64,
    covered: u64,
    /// None when no changed line is measured.
    pct: Option<String>,
}

#[derive(Serialize)]
struct DirEntry<'a> {
    name: &'a str,
    label: &'a str,
    parent: Option<usize>,
    dirs: &'a [usize],
    files: &'a [usize],
    stmts: u64,
    covered: u64,
    pct: String,
}

#[derive(Serialize)]
struct ChangedIndex {
    /// Files with changed lines, in report order.
    files: Vec<usize>,
    lines: u64,
    measured: u64,
    covered: u64,
    pct: Option<String>,
}

/// A file's (or directory's) percent exactly as `go tool cover -html` computes and prints it:
/// `covered / total * 100` (in that order, which can round differently from `100 * c / t`),
/// 0 for no statements, `%.1f`.
fn html_percent(c: Counts) -> String {
    let p = if c.statements == 0 {
        0.0
    } else {
        c.covered as f64 / c.statements as f64 * 100.0
    };
    format!("{p:.1}")
}

fn changed_percent(measured: u64, covered: u64) -> Option<String> {
    (measured > 0).then(|| {
        html_percent(Counts {
            statements: measured,
            covered,
        })
    })
}

/// The document up to the start of its body: head and styles.
fn page_start(out: &mut Vec<u8>, opts: &HtmlOptions<'_>) {
    put(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
    );
    put_escaped(out, opts.title);
    put(out, "</title>\n<style>\n");
    put(out, CSS);
    put(out, "</style>\n</head>\n<body>\n");
}

/// The visible page: heading with the totals, file list and source view (filled by the script).
fn layout(out: &mut Vec<u8>, cov: &Coverage, opts: &HtmlOptions<'_>) {
    put(out, "<header id=\"top\">\n<h1>");
    put_escaped(out, opts.title);
    put(out, "</h1>\n<div class=\"meta\">");
    if let Some(commit) = opts.commit {
        put(out, "<span>commit <code>");
        put_escaped(out, commit);
        put(out, "</code></span>");
    }
    put(out, "<span>mode <b>");
    put(out, cov.mode.as_str());
    put(out, "</b></span>");
    figures(
        out,
        "Statements in functions, as go tool cover -func totals them",
        "total",
        cov.func_total,
    );
    figures(
        out,
        "Statements of all blocks, as go test -cover counts them",
        "all blocks",
        cov.block_total,
    );
    put(out, "<span>");
    put_u64(out, cov.files.len() as u64);
    put(out, " files");
    if !cov.unresolved.is_empty() {
        put(out, ", ");
        put_u64(out, cov.unresolved.len() as u64);
        put(out, " without source");
    }
    put(out, "</span></div>\n");
    if !opts.summary.is_empty() {
        put(out, "<ul class=\"summary\">");
        for line in opts.summary {
            put(out, "<li>");
            put_escaped(out, line);
            put(out, "</li>");
        }
        put(out, "</ul>\n");
    }
    put(out, "<div class=\"legend\">");
    if cov.mode == Mode::Set {
        put(
            out,
            "<span class=\"cov0\">not covered</span><span class=\"cov8\">covered</span>",
        );
    } else {
        put(
            out,
            "<span class=\"cov0\">no coverage</span><span class=\"cov1\">low</span>",
        );
        for n in 2..=9 {
            put(out, "<span class=\"cov");
            put_u64(out, n);
            put(out, "\">&nbsp;</span>");
        }
        put(out, "<span class=\"cov10\">high coverage</span>");
    }
    put(
        out,
        "<span class=\"plain\">not tracked</span></div>\n</header>\n",
    );
    put(
        out,
        "<div id=\"main\">\n<nav id=\"side\">\n\
         <input id=\"filter\" type=\"search\" placeholder=\"Filter files (press /)\" \
         autocomplete=\"off\" spellcheck=\"false\">\n<div id=\"tabs\"></div>\n\
         <div id=\"lists\"><div id=\"changed\"></div><div id=\"tree\"></div></div>\n\
         <div id=\"keys\"><b>j</b>/<b>k</b> next/previous file · <b>/</b> filter · \
         <b>u</b>/<b>U</b> next/previous uncovered",
    );
    if opts.changed.is_some() {
        put(
            out,
            " · <b>c</b>/<b>C</b> next/previous changed line · <b>t</b> changed/all files",
        );
    }
    put(
        out,
        "</div>\n</nav>\n<section id=\"view\"><div id=\"filehead\"></div><div id=\"src\">\
         <noscript>This report needs JavaScript to show sources.</noscript></div></section>\n\
         </div>\n",
    );
}

fn figures(out: &mut Vec<u8>, tip: &str, label: &str, c: Counts) {
    put(out, "<span title=\"");
    put_escaped(out, tip);
    put(out, "\">");
    put(out, label);
    put(out, " <b>");
    put(out, &format!("{:.1}%", c.percent()));
    put(out, "</b> (");
    put_u64(out, c.covered);
    put(out, "/");
    put_u64(out, c.statements);
    put(out, " statements)</span>");
}

/// One file's data: `{"t": text, "s": [start, end, class, count, ...], "c": [line, ...],
/// "cs": [state, ...]}`, offsets in UTF-16 code units of `t`.
fn file_json(out: &mut Vec<u8>, text: &str, segs: &[Segment], changed: Option<&ChangedLines>) {
    put(out, "{\"t\":");
    put_json_str(out, text);
    put(out, ",\"s\":[");
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        put_u64(out, u64::from(s.start));
        out.push(b',');
        put_u64(out, u64::from(s.end));
        out.push(b',');
        put_u64(out, u64::from(s.class));
        out.push(b',');
        // JavaScript numbers are exact only up to 2^53: larger counts travel as strings.
        if s.count > 1 << 53 {
            out.push(b'"');
            put_u64(out, s.count);
            out.push(b'"');
        } else {
            put_u64(out, s.count);
        }
    }
    out.push(b']');
    if let Some(c) = changed {
        put(out, ",\"c\":[");
        for (i, &l) in c.lines.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            put_u64(out, u64::from(l));
        }
        put(out, "],\"cs\":[");
        for (i, &s) in c.states.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            put_u64(out, u64::from(s));
        }
        out.push(b']');
    }
    out.push(b'}');
}

fn put(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn put_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Text and attribute escaping for the static parts of the page.
fn put_escaped(out: &mut Vec<u8>, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep: &[u8] = match b {
            b'&' => b"&amp;",
            b'<' => b"&lt;",
            b'>' => b"&gt;",
            b'"' => b"&quot;",
            b'\'' => b"&#39;",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[last..i]);
        out.extend_from_slice(rep);
        last = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[last..]);
}

/// JSON safe to place inside a `<script>` element: every `<` (which can only occur inside
/// strings) is written `\u003c`, so no `</script>` or `<!--` can appear.
fn put_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, ScriptSafe);
    // Our plain structs, strings and numbers always serialize; `null` keeps the page parseable.
    if value.serialize(&mut ser).is_err() {
        put(out, "null");
    }
}

/// How [`put_json_str`] writes each byte: 0 as it is, `u` as `\u00XX`, else `\` and the byte.
const JSON_ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = b'u';
        b += 1;
    }
    t[0x08] = b'b';
    t[0x09] = b't';
    t[0x0a] = b'n';
    t[0x0c] = b'f';
    t[0x0d] = b'r';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[b'<' as usize] = b'u';
    t
};

/// A JSON string safe inside `<script>`, byte for byte what [`put_json`] writes for a string
/// (serde_json's escapes, `<` as `\u003c`), without serde's per-fragment calls: a source has
/// an escape (tab, newline, quote) every few bytes, and going through the serializer was the
/// largest single cost of an HTML report.
fn put_json_str(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + bytes.len() / 8 + 2);
    out.push(b'"');
    let mut last = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc = JSON_ESCAPE[usize::from(b)];
        if esc == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[last..i]);
        if esc == b'u' {
            out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]);
        } else {
            out.extend_from_slice(&[b'\\', esc]);
        }
        last = i + 1;
    }
    out.extend_from_slice(&bytes[last..]);
    out.push(b'"');
}

struct ScriptSafe;

impl serde_json::ser::Formatter for ScriptSafe {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut last = 0;
        for (i, _) in fragment.match_indices('<') {
            writer.write_all(&fragment.as_bytes()[last..i])?;
            writer.write_all(b"\\u003c")?;
            last = i + 1;
        }
        writer.write_all(&fragment.as_bytes()[last..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{Block, FileProfile};
    use crate::report::FileCoverage;

    fn block(sl: u32, sc: u32, el: u32, ec: u32, n: u32, c: u64) -> Block {
        Block::new(sl, sc, el, ec, n, c)
    }

    /// The fast string writer is byte for byte the serializer's, on every byte value that
    /// can occur in a `str`.
    #[test]
    fn json_string_matches_the_serializer() {
        let mut text: String = (0u8..0x80).map(char::from).collect();
        text.push_str("\u{80}é\u{2028}\u{fffd}😀 </script><!-- \"q\" \\ end");
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        put_json_str(&mut fast, &text);
        put_json(&mut slow, &text);
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            String::from_utf8(slow).unwrap()
        );
    }

    /// What [`render_with`] takes.
    type Inputs = (Coverage, Profile, Vec<Option<SourceFile>>);

    /// One fixture file: profile name, blocks, source (None: unresolved).
    type FileSpec<'a> = (&'a str, Vec<Block>, Option<&'a [u8]>);

    /// A report over `files` with counts summed from the blocks.
    fn fixture(mode: Mode, files: Vec<FileSpec<'_>>) -> Inputs {
        let mut covs = Vec::new();
        let mut fps = Vec::new();
        let mut srcs = Vec::new();
        let mut total = Counts::default();
        let mut unresolved = Vec::new();
        for (name, blocks, src) in files {
            let fp = FileProfile {
                name: name.into(),
                blocks,
            };
            let (statements, covered) = fp.statements();
            let counts = Counts {
                statements,
                covered,
            };
            total.add(counts);
            let path = src.map(|_| name.rsplit('/').next().unwrap_or(name).to_string());
            if src.is_none() {
                unresolved.push(name.to_string());
            }
            covs.push(FileCoverage {
                name: name.into(),
                path: path.clone(),
                counts,
                funcs: Vec::new(),
                func_counts: Counts::default(),
            });
            srcs.push(src.map(|s| SourceFile {
                path: path.unwrap_or_default(),
                text: s.to_vec(),
            }));
            fps.push(fp);
        }
        let cov = Coverage {
            mode,
            files: covs,
            func_total: total,
            block_total: total,
            unresolved,
        };
        (cov, Profile { mode, files: fps }, srcs)
    }

    /// The text of `<script type="application/json" id="{id}">`.
    fn script<'a>(html: &'a str, id: &str) -> &'a str {
        let open = format!("<script type=\"application/json\" id=\"{id}\">");
        let start = html.find(&open).expect("script present") + open.len();
        let len = html[start..].find("</script>").expect("script closed");
        &html[start..start + len]
    }

    fn index(html: &str) -> serde_json::Value {
        serde_json::from_str(script(html, "goc-data")).expect("index is JSON")
    }

    #[test]
    fn script_end_in_sources_and_names_cannot_break_out() {
        let src =
            b"package p\n\n// </script><script>alert(1)</script> <!-- x\nvar s = \"</SCRIPT>\"\n";
        let name = "example.com/</script>/p.go";
        let (cov, profile, sources) = fixture(
            Mode::Set,
            vec![(name, vec![block(4, 1, 4, 20, 1, 1)], Some(src))],
        );
        let title = "a <b> & \"c\"";
        let summary = vec!["x < y".to_string()];
        let html = render_with(
            &cov,
            &profile,
            &sources,
            &HtmlOptions {
                title,
                commit: Some("<abc>"),
                changed: None,
                summary: &summary,
            },
        );
        // Only our own script elements open, and each closes exactly once.
        let opens = html.matches("<script").count();
        assert_eq!(opens, 3);
        assert_eq!(html.to_ascii_lowercase().matches("</script>").count(), 3);
        assert!(!html.contains("<!-- x"));
        assert!(html.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"));
        assert!(html.contains("<code>&lt;abc&gt;</code>"));
        assert!(html.contains("<li>x &lt; y</li>"));
        // The data round-trips exactly.
        let file: serde_json::Value =
            serde_json::from_str(script(&html, "goc-f0")).expect("file data is JSON");
        assert_eq!(file["t"].as_str(), Some(std::str::from_utf8(src).unwrap()));
        assert_eq!(index(&html)["files"][0]["name"].as_str(), Some(name));
        assert_eq!(index(&html)["title"].as_str(), Some(title));
    }

    #[test]
    fn file_and_directory_percents_match_go_tool_cover() {
        let src: &[u8] = b"package p\n";
        let (cov, profile, sources) = fixture(
            Mode::Set,
            vec![
                // 2 of 3 statements: go tool cover -html prints 66.7.
                (
                    "m/a/x.go",
                    vec![block(1, 1, 1, 2, 2, 1), block(1, 2, 1, 3, 1, 0)],
                    Some(src),
                ),
                // 1 of 1 block but 0 statements: 0.0, as go prints it.
                ("m/a/y.go", vec![block(1, 1, 1, 2, 0, 1)], Some(src)),
                ("m/b/z.go", vec![block(1, 1, 1, 2, 5, 5)], Some(src)),
            ],
        );
        let html = render(&cov, &profile, &sources, None);
        let idx = index(&html);
        let pcts: Vec<&str> = idx["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["pct"].as_str().unwrap())
            .collect();
        assert_eq!(pcts, ["66.7", "0.0", "100.0"]);
        let dirs = idx["dirs"].as_array().unwrap();
        let pct_of = |name: &str| {
            dirs.iter()
                .find(|d| d["name"] == name)
                .map(|d| d["pct"].as_str().unwrap().to_string())
        };
        assert_eq!(pct_of("m/a").as_deref(), Some("66.7"));
        assert_eq!(pct_of("m").as_deref(), Some("87.5")); // 7 of 8
        assert_eq!(
            idx["files"][2]["dir"],
            serde_json::json!(dirs.iter().position(|d| d["name"] == "m/b").unwrap())
        );
        assert!(html.contains("total <b>87.5%</b> (7/8 statements)"));
    }

    #[test]
    fn go_order_of_operations_is_kept() {
        // 23/80: c / t * 100 = 28.749999999999996 (go tool cover -html prints 28.7), while
        // 100 * c / t = 28.75 exactly, which prints 28.8.
        let counts = Counts {
            statements: 80,
            covered: 23,
        };
        assert_eq!(html_percent(counts), "28.7");
        assert_eq!(format!("{:.1}", counts.percent()), "28.8");
    }

    #[test]
    fn count_mode_segments_carry_classes_and_counts() {
        let src: &[u8] = b"package p\nfunc f() {\n\ta()\n\tb()\n\tc()\n}\n";
        let (cov, profile, sources) = fixture(
            Mode::Count,
            vec![(
                "m/p.go",
                vec![
                    block(2, 10, 3, 5, 1, 100),
                    block(3, 5, 4, 5, 1, 10),
                    block(4, 5, 5, 5, 1, 0),
                ],
                Some(src),
            )],
        );
        let html = render(&cov, &profile, &sources, None);
        let file: serde_json::Value = serde_json::from_str(script(&html, "goc-f0")).unwrap();
        let s: Vec<u64> = file["s"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        // Offsets: line 2 starts at 10, its `{` at 19; line 3 at 21, line 4 at 26, line 5 at 31.
        assert_eq!(s, [19, 25, 10, 100, 25, 30, 5, 10, 30, 35, 0, 0]);
        assert_eq!(index(&html)["mode"], "count");
        assert!(html.contains("<span class=\"cov10\">high coverage</span>"));
    }

    #[test]
    fn unresolved_files_are_listed_without_source() {
        let src: &[u8] = b"package p\n";
        let (cov, profile, sources) = fixture(
            Mode::Set,
            vec![
                ("m/found.go", vec![block(1, 1, 1, 2, 1, 1)], Some(src)),
                (
                    "m/lost.go",
                    vec![block(1, 1, 1, 2, 3, 1), block(2, 1, 2, 2, 1, 0)],
                    None,
                ),
            ],
        );
        let html = render(&cov, &profile, &sources, Some("abc123"));
        let idx = index(&html);
        assert_eq!(idx["files"][1]["src"], false);
        assert_eq!(idx["files"][1]["pct"], "75.0");
        assert_eq!(idx["files"][1]["path"], serde_json::Value::Null);
        assert_eq!(idx["commit"], "abc123");
        assert!(html.contains("id=\"goc-f0\""));
        assert!(!html.contains("id=\"goc-f1\""));
        assert!(html.contains("1 without source"));
        assert!(JS.contains("source not found"));
    }

    #[test]
    fn changed_lines_are_marked_and_summed() {
        let src: &[u8] = b"package p\nfunc f() {\n\ta()\n\tb()\n}\n";
        let (cov, profile, sources) = fixture(
            Mode::Set,
            vec![
                (
                    "m/a.go",
                    vec![block(2, 10, 3, 5, 1, 1), block(4, 2, 5, 2, 1, 0)],
                    Some(src),
                ),
                ("m/b.go", vec![block(2, 10, 3, 5, 1, 1)], Some(src)),
            ],
        );
        let changed = vec![vec![1, 3, 4], vec![]];
        let html = render_with(
            &cov,
            &profile,
            &sources,
            &HtmlOptions {
                changed: Some(&changed),
                ..HtmlOptions::default()
            },
        );
        // Sharing the full page's elements gives the same pages.
        let full = full_scripts(&cov, &profile, &sources);
        let opts = HtmlOptions {
            changed: Some(&changed),
            ..HtmlOptions::default()
        };
        assert_eq!(
            render_sharing(&cov, &profile, &sources, Some(&full), &opts),
            html
        );
        assert_eq!(
            render_sharing(
                &cov,
                &profile,
                &sources,
                Some(&full),
                &HtmlOptions::default()
            ),
            render_with(&cov, &profile, &sources, &HtmlOptions::default())
        );
        let idx = index(&html);
        assert_eq!(idx["changed"]["files"], serde_json::json!([0]));
        assert_eq!(idx["changed"]["measured"], 2);
        assert_eq!(idx["changed"]["covered"], 1);
        assert_eq!(idx["changed"]["pct"], "50.0");
        assert_eq!(idx["files"][0]["chg"]["lines"], 3);
        assert!(idx["files"][1].get("chg").is_none());
        let file: serde_json::Value = serde_json::from_str(script(&html, "goc-f0")).unwrap();
        assert_eq!(file["c"], serde_json::json!([1, 3, 4]));
        assert_eq!(file["cs"], serde_json::json!([0, 2, 1]));
        // The page script turns these into marked rows.
        assert!(JS.contains("' chg chg'"));
        // A full report has no changed view.
        let full = render(&cov, &profile, &sources, None);
        assert_eq!(index(&full)["changed"], serde_json::Value::Null);
    }

    #[test]
    fn invalid_utf8_is_decoded_lossily() {
        let src: &[u8] = b"package p\n// \xff\xfe caf\xc3\xa9\nvar x = 1\n";
        let (cov, profile, sources) = fixture(
            Mode::Set,
            vec![("m/p.go", vec![block(3, 1, 3, 10, 1, 1)], Some(src))],
        );
        let html = render(&cov, &profile, &sources, None);
        let file: serde_json::Value = serde_json::from_str(script(&html, "goc-f0")).unwrap();
        let t = file["t"].as_str().unwrap();
        assert_eq!(t, "package p\n// \u{fffd}\u{fffd} café\nvar x = 1\n");
        let start = t[..t.find("var").unwrap()].encode_utf16().count() as u64;
        assert_eq!(start, 21);
        assert_eq!(file["s"], serde_json::json!([start, start + 9, 8, 1]));
    }
}
