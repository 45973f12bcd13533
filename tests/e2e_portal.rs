//! The portal (`GET /`) in headless Chromium, on a real service: a goc server, one replica of the
//! goc-built echoserver, `goc-adapter serve`, two syncs with traffic between them (so the history
//! sparkline has two points). The screenshot is saved as a test artifact
//! (`<target dir>/test-artifacts/portal.png`); the rendered DOM must show the service, its
//! coverage bar, a working link to every report and an SVG sparkline, and the page must refer to
//! nothing outside the server. Chromium must be on PATH (scripts/env.sh installs it in CI).

mod goc;
mod tool_path;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use goc::{Adapter, GocServer, Replica, TargetOptions, require_tool, workspace, write_target};

const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(120);
const WINDOW: (u32, u32) = (1280, 800);

/// Runs headless Chromium on `url` with a fresh profile and `extra` flags; returns its stdout.
/// Killed (and the test failed) if it does not finish in time.
fn chromium(scratch: &Path, extra: &[String], url: &str) -> String {
    let bin = require_tool("chromium");
    let n = std::fs::read_dir(scratch).map(|d| d.count()).unwrap_or(0);
    let profile = scratch.join(format!("profile-{n}"));
    let stdout = scratch.join(format!("stdout-{n}"));
    let stderr = scratch.join(format!("stderr-{n}"));
    let file = |p: &Path| Stdio::from(std::fs::File::create(p).expect("creating a log file"));
    let mut child = Command::new(&bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={},{}", WINDOW.0, WINDOW.1))
        .args(extra)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(file(&stdout))
        .stderr(file(&stderr))
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting for chromium") {
            break s;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {extra:?} {url} did not finish in {CHROMIUM_TIMEOUT:?}:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status.success(),
        "chromium {extra:?} {url} failed ({status}):\n{}",
        std::fs::read_to_string(&stderr).unwrap_or_default()
    );
    std::fs::read_to_string(&stdout).expect("reading chromium's output")
}

/// The values of every `attr="..."` in serialized HTML.
fn attribute_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

/// Every absolute http(s) URL in `text`, up to the next quote, space or angle bracket.
fn absolute_urls(text: &str) -> Vec<&str> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for scheme in ["http://", "https://"] {
        for (i, _) in lower.match_indices(scheme) {
            let end = text[i..]
                .find(['"', '\'', ' ', '<', '>', ')'])
                .map_or(text.len(), |e| i + e);
            out.push(&text[i..end]);
        }
    }
    out
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(
        bytes.len() > 24 && bytes.starts_with(b"\x89PNG\r\n\x1a\n") && &bytes[12..16] == b"IHDR",
        "not a PNG ({} bytes)",
        bytes.len()
    );
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn artifacts_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is <target dir>/tmp, so this follows CARGO_TARGET_DIR.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("CARGO_TARGET_TMPDIR has a parent")
        .to_path_buf();
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("creating the test artifacts dir");
    dir
}

#[test]
fn portal_in_headless_chromium() {
    require_tool("chromium");
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let replica = Replica::start(&goc, &name);
    let scratch = tempfile::tempdir().expect("temp dir");
    let target = write_target(scratch.path(), &goc.url(), &TargetOptions::default());
    // Traffic before the adapter starts: its scheduled first sync and ours then see the same
    // counts, so they make one history point whichever runs first.
    replica.hit("/echo?msg=hi&repeat=2");
    let adapter = Adapter::start(&target, &scratch.path().join("home"));
    let first = adapter.sync(&name);
    replica.hit("/reverse?s=abc");
    let second = adapter.sync(&name);
    assert_ne!(first["md5"], second["md5"], "the traffic changed nothing");
    let detail = adapter.summary(&name);
    let history = detail["history"].as_array().expect("history array");
    assert_eq!(history.len(), 2, "two stored versions: {detail:#}");
    let line = second["line_percent"]
        .as_f64()
        .unwrap_or_else(|| panic!("no line coverage after the sync: {second:#}"));

    // The page as served: plain HTML, nothing fetched from elsewhere.
    let page = adapter.get_ok("/");
    assert!(
        page.header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "content type {:?}",
        page.header("content-type")
    );
    let raw = page.text();
    for url in absolute_urls(&raw) {
        assert!(url.starts_with(&adapter.url), "the page refers to {url}");
    }
    for thing in ["<script", "url(", "@import", "<link", "<img", "<iframe"] {
        assert!(!raw.contains(thing), "the page has {thing}:\n{raw}");
    }

    let browser = tempfile::tempdir().expect("temp dir");
    let portal = format!("{}/", adapter.url);

    // The DOM Chromium rendered.
    let dom = chromium(browser.path(), &["--dump-dom".to_string()], &portal);
    assert!(
        dom.contains(&name),
        "the service name is not on the page:\n{dom}"
    );
    let bar = format!("width:{line:.1}%");
    assert!(
        dom.contains("class=\"bar\"") && dom.contains(&bar),
        "no coverage bar at {line:.1}% ({bar}):\n{dom}"
    );
    assert!(
        dom.contains(&format!("{line:.1}%</span>")),
        "the bar does not say {line:.1}%:\n{dom}"
    );
    let hrefs = attribute_values(&dom, "href");
    let base = format!("/api/v1/services/{name}");
    let reports = [
        format!("{base}/report?format=html"),
        format!("{base}/report?format=func"),
        format!("{base}/report?format=json"),
        format!("{base}/diff?format=html"),
        format!("{base}/diff?format=markdown"),
        format!("{base}/profile"),
    ];
    for link in &reports {
        assert!(
            hrefs.contains(&link.as_str()),
            "no link to {link}; links: {hrefs:?}"
        );
    }
    for href in &hrefs {
        assert!(
            href.starts_with('/') && !href.starts_with("//"),
            "link {href:?} leaves the server"
        );
        let r = adapter.get(href);
        assert_eq!(r.status, 200, "GET {href} from the portal: {}", r.text());
    }
    // The HTML reports work in a browser: their script builds the file tree from the index
    // and shows the first file's source with coloured statements (the data elements come
    // before the layout in the document).
    for page in [&reports[0], &reports[3]] {
        let dom = chromium(
            browser.path(),
            &["--dump-dom".to_string()],
            &format!("{}{page}", adapter.url),
        );
        assert!(
            dom.contains("<ul class=\"tree\">") && dom.contains("class=\"ln"),
            "{page}: no file tree or no source lines after the script ran:\n{}",
            &dom[..dom.len().min(4000)]
        );
        assert!(
            dom.contains("<span class=\"cov"),
            "{page}: no coloured statement"
        );
    }
    let srcs = attribute_values(&dom, "src");
    assert!(srcs.is_empty(), "the page loads {srcs:?}");
    for url in absolute_urls(&dom) {
        assert!(url.starts_with(&adapter.url), "the DOM refers to {url}");
    }
    let svg_at = dom
        .find("<svg")
        .unwrap_or_else(|| panic!("no <svg> sparkline:\n{dom}"));
    let svg = &dom[svg_at
        ..dom[svg_at..]
            .find("</svg>")
            .map_or(dom.len(), |e| svg_at + e)];
    let d = attribute_values(svg, "d");
    assert_eq!(d.len(), 1, "one path in the sparkline: {svg}");
    let points = d[0].matches(['M', 'L']).count();
    assert_eq!(points, 2, "two history points in the sparkline: {svg}");
    // The newest point is marked beside the line (not swallowed by an unclosed <path>).
    assert!(
        svg.contains("</path><circle"),
        "no end marker after the line: {svg}"
    );

    // The screenshot, kept for people to look at.
    let png = artifacts_dir().join("portal.png");
    let _ = std::fs::remove_file(&png);
    chromium(
        browser.path(),
        &[format!("--screenshot={}", png.display())],
        &portal,
    );
    let bytes = std::fs::read(&png)
        .unwrap_or_else(|e| panic!("chromium wrote no screenshot at {}: {e}", png.display()));
    assert_eq!(png_size(&bytes), WINDOW, "screenshot size");
    // A blank 1280x800 page compresses to about 5 KB; text, bars and the sparkline make more.
    assert!(
        bytes.len() > 15_000,
        "the screenshot looks empty ({} bytes)",
        bytes.len()
    );
    println!("portal screenshot: {}", png.display());
    eprintln!("portal screenshot: {}", png.display());
}
