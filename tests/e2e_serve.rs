//! `goc-adapter serve` end to end with the real pieces: a goc server, replicas of a `goc build`
//! binary, the adapter as a separate process, a malformed agent and a pod-monitor double.
//! Syncs are driven through `POST .../sync` (the schedule interval is 1h).

mod goc;
mod tool_path;

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;
use tempfile::TempDir;

use goc::doubles::PodStatus;
use goc::{
    Adapter, FakeAgent, GocServer, PodMonitor, Replica, TargetOptions, http, parse_counts,
    wait_until, workspace, write_target,
};

/// A scratch dir with a target file for `goc` and the adapter's home beside it.
struct Scratch {
    dir: TempDir,
    target: PathBuf,
}

impl Scratch {
    fn new(goc: &GocServer, opts: &TargetOptions) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = write_target(dir.path(), &goc.url(), opts);
        Scratch { dir, target }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn adapter(&self) -> Adapter {
        Adapter::start(&self.target, &self.home())
    }
}

fn f64_field(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number in {v:#}"))
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("`{key}` is not a string in {v:#}"))
}

/// The summary's entry for `address`, if listed.
fn address_entry<'a>(summary: &'a Value, address: &str) -> Option<&'a Value> {
    summary["addresses"]
        .as_array()
        .unwrap_or_else(|| panic!("no `addresses` array in {summary:#}"))
        .iter()
        .find(|a| a["address"] == address)
}

/// GET a report URL from a summary (absolute or a path on the adapter).
fn get_link(adapter: &Adapter, url: &str) -> http::Response {
    let r = if url.starts_with("http://") {
        http::get(url)
    } else {
        adapter.get(url)
    };
    assert_eq!(r.status, 200, "GET {url}: {}", r.text());
    r
}

fn assert_content_type(r: &http::Response, want: &str, what: &str) {
    let ct = r.header("content-type").unwrap_or("");
    assert!(
        ct.starts_with(want),
        "{what}: content type {ct:?}, want {want}"
    );
}

#[test]
fn sync_serves_reports_equal_to_go_tool_cover() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let r1 = Replica::start(&goc, &name);
    let r2 = Replica::start(&goc, &name);
    r1.hit("/echo?msg=hello&upper=1");
    r1.hit("/reverse?s=abc");
    r2.hit("/echo?msg=x&repeat=3");
    r2.hit("/calc?a=7&b=2&op=mod");
    assert_eq!(r2.get("/calc?a=1&b=0&op=div").status, 400);

    let scratch = Scratch::new(&goc, &TargetOptions::default());
    let adapter = scratch.adapter();
    assert_eq!(adapter.get_ok("/healthz").text().trim(), "ok");
    adapter.get_ok("/readyz");
    adapter.get_ok("/api/openapi.json").json();
    let s = adapter.sync(&name);

    assert_eq!(s["name"], name.as_str());
    assert_eq!(s["env"], "staging");
    assert_eq!(s["service"], "goc_echoserver");
    assert_eq!(s["branch"], "feature");
    assert_eq!(s["commit"], &ws.commit[..10]);
    let line = f64_field(&s, "line_percent");
    assert!(line > 0.0 && line < 100.0, "line_percent {line}");
    assert_eq!(str_field(&s, "md5").len(), 32, "{s:#}");
    for r in [&r1, &r2] {
        let a = address_entry(&s, &r.address())
            .unwrap_or_else(|| panic!("{} missing from {s:#}", r.address()));
        assert_eq!(a["state"], "online", "{a}");
    }

    // The merged profile is the block-wise sum of the two agents (and of goc's own merge).
    let profile = adapter.profile(&name);
    let merged = parse_counts(&profile);
    assert_eq!(merged.mode, "count");
    let agents = parse_counts(&r1.agent_profile()).plus(&parse_counts(&r2.agent_profile()));
    assert_eq!(merged.differences(&agents), vec![]);
    assert_eq!(
        merged.differences(&parse_counts(&goc.merged_profile(&name))),
        vec![]
    );

    // func is byte-identical to `go tool cover -func` on that profile, in the source repo.
    let func = adapter.report(&name, "func");
    assert_content_type(&func, "text/plain", "func report");
    let want = ws.go_tool_cover_func(&profile);
    assert_eq!(func.text(), want);
    let total: f64 = want
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().last())
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no total in {want}"));
    assert!(
        (line - total).abs() <= 0.05 + 1e-9,
        "line_percent {line} vs go tool cover total {total}%"
    );

    let html = adapter.report(&name, "html");
    assert_content_type(&html, "text/html", "html report");
    assert!(
        html.text().contains("reverse.go"),
        "html report lacks reverse.go"
    );
    let json = adapter.report(&name, "json");
    assert_content_type(&json, "application/json", "json report");
    json.json();

    // Incremental coverage against origin/master: the feature commit's lines, partly hit.
    let diff = f64_field(&s, "diff_percent");
    assert!(diff > 0.0 && diff < 100.0, "diff_percent {diff}");
    for (format, ct) in [
        ("json", "application/json"),
        ("html", "text/html"),
        ("text", "text/plain"),
        ("markdown", "text/"),
    ] {
        let r = adapter.get_ok(&format!("/api/v1/services/{name}/diff?format={format}"));
        assert_content_type(&r, ct, &format!("diff {format}"));
        assert!(
            r.text().contains("reverse.go"),
            "diff {format} lacks reverse.go"
        );
    }

    // The summary's links work, the list shows the service, unknown names are 404.
    for key in ["func", "html", "json", "diff", "profile"] {
        let url = s["reports"][key]
            .as_str()
            .unwrap_or_else(|| panic!("no reports.{key} in {s:#}"));
        get_link(&adapter, url);
    }
    let list = adapter.get_ok("/api/v1/services").json();
    let listed = list["services"]
        .as_array()
        .unwrap_or_else(|| panic!("no services array: {list}"))
        .iter()
        .find(|x| x["name"] == name.as_str())
        .unwrap_or_else(|| panic!("{name} not listed: {list:#}"));
    assert_eq!(listed["line_percent"], s["line_percent"]);
    let missing = adapter.get("/api/v1/services/staging_th_apa_goc_nothing_master_0000000000");
    assert_eq!(missing.status, 404);
    assert!(missing.json()["error"].is_string());
    let metrics = adapter.get_ok("/metrics").text();
    assert!(
        metrics.contains("# TYPE"),
        "not Prometheus text: {metrics:.300}"
    );
    // The sync stored a new profile, so it built reports, and said how long that took.
    let report_builds = metrics
        .lines()
        .find_map(|l| l.strip_prefix("goc_adapter_report_build_duration_seconds_count "))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert!(
        report_builds.is_some_and(|n| n >= 1),
        "no report build counted: {report_builds:?}"
    );
    let portal = adapter.get_ok("/");
    assert_content_type(&portal, "text/html", "portal");
    assert!(portal.text().contains(&name), "portal does not list {name}");

    // The store layout of the contract.
    let dir = scratch.home().join("goc_echoserver").join(&name);
    for f in [format!("{name}.cov"), format!("{name}_report.txt")] {
        assert!(dir.join(&f).is_file(), "{} missing", dir.join(f).display());
    }
    assert_eq!(
        std::fs::read_to_string(dir.join(format!("{name}.cov"))).expect("reading the .cov"),
        profile
    );
}

#[test]
fn dead_replicas_keep_their_counts_and_leave_goc() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let mut r1 = Replica::start(&goc, &name);
    let mut r2 = Replica::start(&goc, &name);
    r1.hit("/reverse?s=only-r1");
    r2.hit("/echo?msg=r2");
    let scratch = Scratch::new(
        &goc,
        &TargetOptions {
            failures: 1,
            ..TargetOptions::default()
        },
    );
    let adapter = scratch.adapter();
    adapter.sync(&name);
    let before = parse_counts(&adapter.profile(&name));
    let rev = ws.func_line("reverse.go", "handleReverse");
    assert_eq!(before.count_at("reverse.go", rev), 1);

    // r1 dies without deregistering; a new replica takes traffic.
    r1.kill_hard();
    let r3 = Replica::start(&goc, &name);
    r3.hit("/calc?a=6&b=3&op=div");
    let s2 = adapter.sync(&name);
    let after = parse_counts(&adapter.profile(&name));
    assert_eq!(
        after.differences(&before.plus(&parse_counts(&r3.agent_profile()))),
        vec![],
        "after r1 died: want the old counts plus r3's"
    );
    assert_eq!(after.count_at("reverse.go", rev), 1);

    // probe.failures = 1: one failed fetch makes r1 offline, so its address leaves goc.
    wait_until(
        &format!("{} to be removed from goc", r1.address()),
        Duration::from_secs(10),
        || (!goc.addresses(&name).contains(&r1.address())).then_some(()),
    );
    let left = goc.addresses(&name);
    assert!(
        left.contains(&r2.address()) && left.contains(&r3.address()),
        "live addresses must stay: {left:?}\n{s2:#}"
    );

    // r2 stops gracefully (deregisters itself): its counts stay too, nothing doubles.
    r2.terminate();
    assert!(!goc.addresses(&name).contains(&r2.address()));
    let s3 = adapter.sync(&name);
    let last = parse_counts(&adapter.profile(&name));
    assert_eq!(last.differences(&after), vec![]);
    assert_eq!(s3["md5"], s2["md5"]);
}

#[test]
fn pod_monitor_decides_when_a_silent_agent_is_gone() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let pm = PodMonitor::start();
    pm.running("127.0.0.1");
    pm.running("127.0.0.2");
    let r1 = Replica::start(&goc, &name);
    let mut r2 = Replica::start(&goc, &name);
    // Both replicas run on 127.0.0.1; r2 is registered as 127.0.0.2 so the monitor, asked by
    // IP, can tell them apart.
    let r2_addr = r2.rehost(&goc, "127.0.0.2");
    r2.hit("/reverse?s=pod");
    r1.hit("/health");
    let scratch = Scratch::new(
        &goc,
        &TargetOptions {
            failures: 1,
            pod_monitor: Some(pm.url_template()),
            ..TargetOptions::default()
        },
    );
    let adapter = scratch.adapter();
    let s1 = adapter.sync(&name);
    let entry = address_entry(&s1, &r2_addr).unwrap_or_else(|| panic!("{r2_addr} in {s1:#}"));
    assert_eq!(entry["state"], "online", "{entry}");
    let rev = ws.func_line("reverse.go", "handleReverse");
    let before = parse_counts(&adapter.profile(&name));
    assert_eq!(before.count_at("reverse.go", rev), 1);

    // r2 dies, but the monitor still says Running: a source says it is alive, so it stays
    // registered even though probe.failures (1) is reached.
    r2.kill_hard();
    let s2 = adapter.sync(&name);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        goc.addresses(&name).contains(&r2_addr),
        "removed although the pod monitor says Running:\n{s2:#}"
    );
    if let Some(e) = address_entry(&s2, &r2_addr) {
        assert_ne!(e["state"], "offline", "{e}");
    }

    // The monitor answers 404 (pod gone): offline, removed; r1 stays; counts stay.
    pm.set("127.0.0.2", PodStatus::Gone);
    adapter.sync(&name);
    wait_until(
        &format!("{r2_addr} to be removed from goc"),
        Duration::from_secs(10),
        || (!goc.addresses(&name).contains(&r2_addr)).then_some(()),
    );
    assert_eq!(goc.addresses(&name), vec![r1.address()]);
    let after = parse_counts(&adapter.profile(&name));
    assert_eq!(after.differences(&before), vec![]);
    assert!(
        pm.asked().iter().any(|ip| ip == "127.0.0.2"),
        "the monitor was never asked: {:?}",
        pm.asked()
    );
}

#[test]
fn restarts_lose_and_double_nothing() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let mut r1 = Replica::start(&goc, &name);
    let r2 = Replica::start(&goc, &name);
    r1.hit("/echo?msg=a");
    r2.hit("/calc?a=2&b=3&op=mul");
    let scratch = Scratch::new(&goc, &TargetOptions::default());
    let mut adapter = scratch.adapter();
    let s1 = adapter.sync(&name);
    let p1 = adapter.profile(&name);

    // goc-adapter killed and started again on the same home.
    adapter.kill();
    let adapter = scratch.adapter();
    adapter.wait_known(&name);
    assert_eq!(adapter.profile(&name), p1, "profile served after restart");
    let saved = state_files(&scratch.home());
    assert_eq!(saved.len(), 2, "accum.json and name.json: {saved:?}");
    let s2 = adapter.sync(&name);
    assert_eq!(s2["md5"], s1["md5"], "no new traffic, same md5");
    assert_eq!(
        state_files(&scratch.home()),
        saved,
        "an idle sync (same fingerprints) rewrites no state file"
    );
    let p2 = adapter.profile(&name);
    assert_eq!(p2, p1);

    // One request more is exactly one count more.
    r1.hit("/health");
    adapter.sync(&name);
    let p3 = parse_counts(&adapter.profile(&name));
    let diffs = p3.differences(&parse_counts(&p2));
    let health = format!(
        "{}/handlers.go:{}.",
        goc::IMPORT_PATH,
        ws.func_line("handlers.go", "handleHealth")
    );
    assert!(
        diffs.len() == 1 && diffs[0].0.starts_with(&health) && diffs[0].1 == diffs[0].2 + 1,
        "want only handleHealth +1, got {diffs:?}"
    );

    // A replica restarted on the same address starts from zero: its old counts are kept.
    let port = r1.agent_port;
    r1.kill_hard();
    let r1b = Replica::start_on(&goc, &name, Some(port));
    r1b.hit("/echo?msg=b");
    adapter.sync(&name);
    let p4 = parse_counts(&adapter.profile(&name));
    assert_eq!(
        p4.differences(&p3.plus(&parse_counts(&r1b.agent_profile()))),
        vec![],
        "after a restart on the same address: old counts plus the new process's"
    );
}

/// The counts file as an older build wrote it (version 1) is read and upgraded without losing
/// or doubling a count; a lost one is rebuilt from every agent's snapshot at the next change.
#[test]
fn old_and_lost_counts_files_are_recovered() {
    use goc_adapter::collector::accum_file::{self, AccumulatorText};
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let r1 = Replica::start(&goc, &name);
    let r2 = Replica::start(&goc, &name);
    r1.hit("/echo?msg=a");
    r2.hit("/calc?a=2&b=3&op=mul");
    let scratch = Scratch::new(&goc, &TargetOptions::default());
    let mut adapter = scratch.adapter();
    adapter.sync(&name);
    let p1 = parse_counts(&adapter.profile(&name));
    let (accum, _, bytes) = state_files(&scratch.home())
        .into_iter()
        .find(|(p, _, _)| p.ends_with("accum.json"))
        .expect("accum.json written");
    let read =
        |bytes: &[u8]| -> Value { serde_json::from_slice(bytes).expect("accum.json is JSON") };
    assert_eq!(read(&bytes)["version"], 2);

    // Rewritten as version 1 (one profile text per snapshot) while the adapter is down.
    adapter.kill();
    let held = accum_file::from_json("test", read(&bytes)).expect("version 2 reads back");
    assert_eq!(held.agents.len(), 2);
    let v1 = AccumulatorText {
        base: held.base.as_ref().map(|p| p.to_text()),
        agents: held
            .agents
            .iter()
            .map(|(a, p)| (a.clone(), p.to_text()))
            .collect(),
    };
    std::fs::write(&accum, serde_json::to_vec(&v1).unwrap()).unwrap();
    let mut adapter = scratch.adapter();
    adapter.wait_known(&name);
    r1.hit("/health");
    adapter.sync(&name);
    let p2 = parse_counts(&adapter.profile(&name));
    let health = format!(
        "{}/handlers.go:{}.",
        goc::IMPORT_PATH,
        ws.func_line("handlers.go", "handleHealth")
    );
    let diffs = p2.differences(&p1);
    assert!(
        diffs.len() == 1 && diffs[0].0.starts_with(&health) && diffs[0].1 == diffs[0].2 + 1,
        "after the upgrade want only handleHealth +1, got {diffs:?}"
    );
    assert_eq!(
        read(&std::fs::read(&accum).unwrap())["version"],
        2,
        "saved as version 2"
    );

    // Lost while the adapter is down: the next change stores every live agent's counts again.
    adapter.kill();
    std::fs::remove_file(&accum).unwrap();
    let adapter = scratch.adapter();
    adapter.wait_known(&name);
    r2.hit("/health");
    adapter.sync(&name);
    let p3 = parse_counts(&adapter.profile(&name));
    let live = parse_counts(&r1.agent_profile()).plus(&parse_counts(&r2.agent_profile()));
    assert_eq!(p3.differences(&live), vec![], "rebuilt from both agents");
    let rebuilt = read(&std::fs::read(&accum).expect("accum.json rebuilt"));
    assert_eq!(rebuilt["agents"].as_object().map(|a| a.len()), Some(2));
}

#[test]
fn a_malformed_agent_is_rejected_and_changes_nothing() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    let r1 = Replica::start(&goc, &name);
    r1.hit("/echo?msg=a");
    let fake = FakeAgent::start("this is not a coverage profile\n");
    fake.register(&goc, &name);
    let scratch = Scratch::new(&goc, &TargetOptions::default());
    let adapter = scratch.adapter();

    let good = parse_counts(&r1.agent_profile());
    let check = |s: &Value, what: &str| {
        assert!(fake.hits() > 0, "{what}: the fake agent was never asked");
        let flagged = address_entry(s, &fake.address()).is_some_and(|e| {
            e["state"] != "online" || e["failures"].as_u64().is_some_and(|n| n > 0)
        });
        let mentioned = s["last_error"].as_str().is_some_and(|e| {
            e.contains(&fake.address()) || e.contains(&fake_port(&fake.address()))
        });
        assert!(
            flagged || mentioned,
            "{what}: neither the address state nor last_error shows the rejection:\n{s:#}"
        );
        let merged = parse_counts(&adapter.profile(&name));
        assert_eq!(
            merged.differences(&good),
            vec![],
            "{what}: the stored profile must be the good agent's alone"
        );
    };

    let s1 = adapter.sync(&name);
    check(&s1, "garbage");
    let md5 = s1["md5"].clone();
    assert!(md5.is_string(), "the good agent's data is stored: {s1:#}");

    // Well-formed, but a different build of the same file: must not merge.
    fake.set_body(
        200,
        &format!(
            "mode: count\n{}/handlers.go:1.1,2.2 1 5\n",
            goc::IMPORT_PATH
        ),
    );
    let s2 = sync_any(&adapter, &name);
    check(&s2, "conflicting build");
    assert_eq!(s2["md5"], md5);

    // An agent answering 500.
    fake.set_body(500, "boom");
    let s3 = sync_any(&adapter, &name);
    check(&s3, "HTTP 500");
    assert_eq!(s3["md5"], md5);
}

/// Every `accum.json` and `name.json` under `dir` with its modification time and bytes.
fn state_files(dir: &std::path::Path) -> Vec<(PathBuf, std::time::SystemTime, Vec<u8>)> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else if path.ends_with("accum.json") || path.ends_with("name.json") {
                let modified = e.metadata().unwrap().modified().unwrap();
                out.push((path.clone(), modified, std::fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn fake_port(address: &str) -> String {
    address.rsplit(':').next().unwrap_or(address).to_string()
}

/// A sync that may report an error status; returns the summary afterwards.
fn sync_any(adapter: &Adapter, name: &str) -> Value {
    let r = adapter.sync_raw(name);
    assert!(
        r.status == 200 || r.status >= 500,
        "sync answered {}: {}",
        r.status,
        r.text()
    );
    adapter.summary(name)
}

#[test]
fn reports_are_served_from_disk_without_goc_server() {
    let ws = workspace();
    let mut goc = GocServer::start();
    let name = ws.service_name();
    let r1 = Replica::start(&goc, &name);
    r1.hit("/reverse?s=disk");
    let scratch = Scratch::new(&goc, &TargetOptions::default());
    let mut adapter = scratch.adapter();
    adapter.sync(&name);
    let reports = |a: &Adapter| -> Vec<String> {
        ["func", "html", "json"]
            .iter()
            .map(|f| a.report(&name, f).text())
            .chain([
                a.profile(&name),
                a.get_ok(&format!("/api/v1/services/{name}/diff?format=json"))
                    .text(),
            ])
            .collect()
    };
    let before = reports(&adapter);

    goc.kill();
    let s = sync_any(&adapter, &name);
    assert!(
        s["last_error"].is_string() || s["md5"].is_string(),
        "summary after a sync without goc server: {s:#}"
    );
    assert_eq!(
        reports(&adapter),
        before,
        "reports changed without new data"
    );

    // A fresh process on the same home serves them too, goc server still down.
    adapter.kill();
    let adapter = scratch.adapter();
    adapter.wait_known(&name);
    assert_eq!(reports(&adapter), before, "reports after restart");
    assert!(adapter.get_ok("/api/v1/services").text().contains(&name));
}
