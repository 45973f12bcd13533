//! Golden test of the HTML report against `go tool cover -html` on a real Go module: every
//! file's percent must equal Go's, and every colored range (class, hit count, text) must equal
//! Go's spans. Needs `go` and `git` on PATH (scripts/env.sh) and the Go module proxy.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const MODULE: &str = "github.com/google/go-cmp@v0.6.0";

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        // Use the installed toolchain; never download another one.
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "-mod=mod")
        .output()
        .unwrap_or_else(|e| panic!("running {program} (is it on PATH?): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            // The module cache is read-only; the copy must not be.
            std::fs::write(&target, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
}

/// `go tool cover -html`'s `<option value="fileN">NAME (PCT%)</option>` entries: N -> (name, pct).
fn go_options(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("<option value=\"file") {
        rest = &rest[i..];
        let text_start = rest.find('>').unwrap() + 1;
        let text_end = rest.find("</option>").unwrap();
        let text = unescape(&rest[text_start..text_end]);
        let open = text.rfind(" (").unwrap();
        let name = text[..open].to_string();
        let pct = text[open + 2..].trim_end_matches(')').trim_end_matches('%');
        out.push((name, pct.to_string()));
        rest = &rest[text_end..];
    }
    out
}

/// Go's colored spans of file N: (class, title, text with tabs expanded as Go does).
fn go_spans(html: &str, n: usize) -> Vec<(u64, String, String)> {
    let open = format!("<pre class=\"file\" id=\"file{n}\" style=\"display: none\">");
    let start = html.find(&open).unwrap() + open.len();
    let body = &html[start..start + html[start..].find("</pre>").unwrap()];
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find("<span class=\"cov") {
        rest = &rest[i + "<span class=\"cov".len()..];
        let q = rest.find('"').unwrap();
        let class: u64 = rest[..q].parse().unwrap();
        let t0 = rest.find("title=\"").unwrap() + "title=\"".len();
        let t1 = t0 + rest[t0..].find('"').unwrap();
        let title = rest[t0..t1].to_string();
        let text_start = t1 + 2;
        let text_end = text_start + rest[text_start..].find("</span>").unwrap();
        let text = unescape(&rest[text_start..text_end]);
        if !text.is_empty() {
            out.push((class, title, text));
        }
        rest = &rest[text_end..];
    }
    out
}

/// The text of our `<script type="application/json" id="{id}">`.
fn script<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let open = format!("<script type=\"application/json\" id=\"{id}\">");
    let start = html.find(&open)? + open.len();
    Some(&html[start..start + html[start..].find("</script>")?])
}

/// Our colored ranges of file `i`, in the same shape as [`go_spans`].
fn our_spans(html: &str, i: usize) -> Vec<(u64, String, String)> {
    let data: serde_json::Value = serde_json::from_str(script(html, &format!("goc-f{i}")).unwrap())
        .expect("file data is JSON");
    let text: Vec<u16> = data["t"].as_str().unwrap().encode_utf16().collect();
    let s = data["s"].as_array().unwrap();
    s.chunks(4)
        .map(|c| {
            let (a, b) = (
                c[0].as_u64().unwrap() as usize,
                c[1].as_u64().unwrap() as usize,
            );
            let text = String::from_utf16(&text[a..b])
                .unwrap()
                .replace('\t', "        ");
            (c[2].as_u64().unwrap(), c[3].to_string(), text)
        })
        .collect()
}

#[test]
fn html_matches_go_tool_cover() {
    let tmp = tempfile::tempdir().unwrap();
    let info = run(tmp.path(), "go", &["mod", "download", "-json", MODULE]);
    let info: serde_json::Value = serde_json::from_str(&info).unwrap();
    let repo = tmp.path().join("repo");
    copy_tree(Path::new(info["Dir"].as_str().unwrap()), &repo);
    run(&repo, "git", &["init", "-q"]);
    run(&repo, "git", &["add", "."]);
    run(
        &repo,
        "git",
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "import",
        ],
    );
    run(
        &repo,
        "go",
        &["test", "-covermode=count", "-coverprofile=c.out", "./..."],
    );
    run(
        &repo,
        "go",
        &["tool", "cover", "-html=c.out", "-o", "go.html"],
    );
    let bin = env!("CARGO_BIN_EXE_goc-adapter");
    run(
        &repo,
        bin,
        &[
            "report",
            "--repo",
            ".",
            "--profile",
            "c.out",
            "--format",
            "html",
            "-o",
            "ours.html",
        ],
    );
    let go = std::fs::read_to_string(repo.join("go.html")).unwrap();
    let ours = std::fs::read_to_string(repo.join("ours.html")).unwrap();

    let index: serde_json::Value =
        serde_json::from_str(script(&ours, "goc-data").unwrap()).unwrap();
    let files = index["files"].as_array().unwrap();
    let our_pct: BTreeMap<&str, (usize, &str)> = files
        .iter()
        .enumerate()
        .map(|(i, f)| (f["name"].as_str().unwrap(), (i, f["pct"].as_str().unwrap())))
        .collect();
    let options = go_options(&go);
    assert!(options.len() > 20, "go.html lists {} files", options.len());
    assert_eq!(options.len(), files.len(), "file counts differ");
    let mut shaded = 0;
    for (n, (name, pct)) in options.iter().enumerate() {
        let &(i, ours_pct) = our_pct
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name} missing from our report"));
        assert_eq!(
            ours_pct, pct,
            "{name}: percent differs from go tool cover -html"
        );
        assert_eq!(files[i]["src"], true, "{name}: source not resolved");
        let (go_spans, our_spans) = (go_spans(&go, n), our_spans(&ours, i));
        assert_eq!(
            go_spans.len(),
            our_spans.len(),
            "{name}: number of colored ranges"
        );
        for (g, o) in go_spans.iter().zip(&our_spans) {
            assert_eq!(g, o, "{name}: colored range differs (class, count, text)");
        }
        shaded += our_spans.iter().filter(|s| s.0 != 0 && s.0 != 10).count();
    }
    // Count mode really exercised the shading, not just covered/uncovered.
    assert!(shaded > 100, "only {shaded} shaded ranges");
    // The page is self-contained: nothing is fetched.
    for needle in ["http://", "https://", "<link", " src="] {
        let outside_data = ours
            .split("<script type=\"application/json\"")
            .map(|part| part.split_once("</script>").map_or(part, |(_, tail)| tail))
            .any(|part| part.contains(needle));
        assert!(!outside_data, "page markup contains {needle:?}");
    }
}
