//! The last counts of a pod that goes away are never lost: the preStop hook, the write token,
//! and clear — with the real goc server and goc-built replicas.

mod goc;
mod tool_path;

use std::time::Duration;

use goc::http::{Response, request_with_headers};
use goc::{Adapter, Counts, GocServer, Replica, TargetOptions, parse_counts, workspace};

const TOKEN: &str = "s3cret-token-for-tests";

fn total(c: &Counts) -> u64 {
    c.blocks.values().map(|v| v.1).sum()
}

fn post(url: &str, token: Option<&str>) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    request_with_headers("POST", url, &headers, None, Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("POST {url}: {e}"))
}

struct Setup {
    goc: GocServer,
    adapter: Adapter,
    name: String,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let ws = workspace();
    let goc = GocServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let config = goc::write_target(dir.path(), &goc.url(), &TargetOptions::default());
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).expect("token file");
    let home = dir.path().join("home");
    let token_arg = token_file.to_string_lossy().into_owned();
    let adapter = Adapter::start_with(&config, &home, &["--token-file", &token_arg]);
    Setup {
        goc,
        adapter,
        name: ws.service_name(),
        _dir: dir,
    }
}

fn sync(s: &Setup) -> serde_json::Value {
    let r = post(
        &format!("{}/api/v1/services/{}/sync", s.adapter.url, s.name),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "sync: {}", r.text());
    r.json()
}

#[test]
fn prestop_hook_stores_the_last_hits_before_sigterm() {
    let s = setup();
    let mut r1 = Replica::start(&s.goc, &s.name);
    let _r2 = Replica::start(&s.goc, &s.name);
    s.adapter.wait_known(&s.name);
    sync(&s);
    // Hits between two scheduled pulls (the interval is 1h).
    for _ in 0..3 {
        r1.hit("/calc?a=2&b=3&op=add");
    }
    let r1_last = parse_counts(&r1.agent_profile());
    let hook = post(
        &format!(
            "{}/api/v1/hooks/prestop?address={}",
            s.adapter.url,
            r1.address()
        ),
        Some(TOKEN),
    );
    assert_eq!(hook.status, 200, "prestop: {}", hook.text());
    assert!(hook.text().contains(&s.name), "{}", hook.text());
    // Kubernetes sends SIGTERM after the hook: the agent deregisters and exits.
    r1.terminate();
    let stored = parse_counts(&s.adapter.profile(&s.name));
    for (k, (_, c)) in &r1_last.blocks {
        let merged = stored.blocks.get(k).map_or(0, |v| v.1);
        assert!(
            merged >= *c,
            "{k}: merged {merged} < the dead replica's last {c}"
        );
    }
    // The next sync sees the address gone from goc and keeps its counts.
    let after = sync(&s);
    let gone = after["addresses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["address"] == r1.address().as_str())
        .expect("the dead address is still listed");
    assert_eq!(gone["state"], "offline", "{after}");
    let kept = parse_counts(&s.adapter.profile(&s.name));
    assert!(
        total(&kept) >= total(&stored),
        "coverage dropped after SIGTERM"
    );
}

#[test]
fn write_endpoints_need_the_token_and_reads_do_not() {
    let s = setup();
    let r1 = Replica::start(&s.goc, &s.name);
    s.adapter.wait_known(&s.name);
    // The first scheduled sync happens on sight; the next one is an hour away.
    let first = goc::wait_until("the first scheduled sync", Duration::from_secs(60), || {
        let v = s.adapter.summary(&s.name);
        (!v["last_sync"].is_null()).then(|| v["last_sync"].clone())
    });
    let base = format!("{}/api/v1", s.adapter.url);
    for url in [
        format!("{base}/hooks/prestop?address={}", r1.address()),
        format!("{base}/services/{}/sync", s.name),
        format!("{base}/services/{}/clear", s.name),
    ] {
        assert_eq!(post(&url, None).status, 401, "{url} without a token");
        assert_eq!(
            post(&url, Some("wrong")).status,
            401,
            "{url} with a wrong token"
        );
    }
    // Nothing was synced by the refused calls.
    let summary = s.adapter.summary(&s.name);
    assert_eq!(
        summary["last_sync"], first,
        "a refused call synced: {summary}"
    );
    assert_eq!(
        s.adapter.get("/api/v1/services").status,
        200,
        "reads stay open"
    );
    assert!(
        s.adapter.log_tail().find(TOKEN).is_none(),
        "the token must never be logged"
    );
}

#[test]
fn clear_saves_counts_first_and_the_total_never_drops() {
    let s = setup();
    let r1 = Replica::start(&s.goc, &s.name);
    s.adapter.wait_known(&s.name);
    for _ in 0..4 {
        r1.hit("/echo?msg=hello");
    }
    sync(&s);
    let before = parse_counts(&s.adapter.profile(&s.name));
    assert!(total(&before) > 0);
    let r = post(
        &format!("{}/api/v1/services/{}/clear", s.adapter.url, s.name),
        Some(TOKEN),
    );
    assert_eq!(r.status, 200, "clear: {}", r.text());
    assert_eq!(
        total(&parse_counts(&r1.agent_profile())),
        0,
        "the agent was zeroed"
    );
    let after_clear = parse_counts(&s.adapter.profile(&s.name));
    assert_eq!(
        after_clear, before,
        "clear must not change the merged counts"
    );
    // New traffic adds exactly what the agent counted since the clear: nothing twice.
    r1.hit("/health");
    let fresh = parse_counts(&r1.agent_profile());
    sync(&s);
    let now = parse_counts(&s.adapter.profile(&s.name));
    assert_eq!(
        now,
        before.plus(&fresh),
        "merged = saved counts + counts since the clear"
    );
}
