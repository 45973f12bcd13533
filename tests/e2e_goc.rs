//! The goc v1 behaviour the collector relies on, checked on the real pieces (goc server and a
//! `goc build` binary), and the harness in tests/goc checked with them: registration, what
//! SIGTERM and SIGKILL leave behind, that reading an agent does not change its counts, and the
//! server's own merge as a reference.

mod goc;
mod tool_path;

use goc::doubles::PodStatus;
use goc::{FakeAgent, GocServer, PodMonitor, Replica, http, parse_counts, workspace};

#[test]
fn replicas_register_and_serve_stable_profiles() {
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    assert!(
        name.starts_with("staging_th_apa_goc_echoserver_feature_") && name.len() == 48,
        "{name}"
    );
    let r1 = Replica::start(&goc, &name);
    let r2 = Replica::start(&goc, &name);
    let mut addrs = goc.addresses(&name);
    addrs.sort();
    let mut want = vec![r1.address(), r2.address()];
    want.sort();
    assert_eq!(addrs, want);

    assert_eq!(r1.hit("/echo?msg=hi&repeat=2"), "hi\nhi\n");
    assert_eq!(r2.hit("/reverse?s=abc"), "cba\n");

    // Reading an agent does not count anything: two reads give the same blocks and counts.
    let a = parse_counts(&r1.agent_profile());
    assert_eq!(a.mode, "count");
    assert_eq!(a, parse_counts(&r1.agent_profile()));
    let b = parse_counts(&r2.agent_profile());
    let rev = ws.func_line("reverse.go", "handleReverse");
    assert_eq!(a.count_at("reverse.go", rev), 0);
    assert_eq!(b.count_at("reverse.go", rev), 1);

    // The server's own merge is the block-wise sum.
    let server = parse_counts(&goc.merged_profile(&name));
    assert_eq!(server.differences(&a.plus(&b)), vec![]);

    // go tool cover understands the agents' profiles in the repository.
    let func = ws.go_tool_cover_func(&r2.agent_profile());
    assert!(
        func.contains("reverse.go") && func.contains("total:"),
        "{func}"
    );
}

#[test]
fn sigterm_deregisters_sigkill_does_not() {
    let goc = GocServer::start();
    let name = workspace().service_name();
    let mut r1 = Replica::start(&goc, &name);
    let mut r2 = Replica::start(&goc, &name);
    let (a1, a2) = (r1.address(), r2.address());
    r1.terminate();
    assert_eq!(goc.addresses(&name), vec![a2.clone()]);
    r2.kill_hard();
    assert_eq!(goc.addresses(&name), vec![a2.clone()]);
    assert!(!goc.addresses(&name).contains(&a1));
    // A restart on the same agent port keeps the same address and starts from zero.
    let r3 = Replica::start_on(&goc, &name, Some(r2.agent_port));
    assert_eq!(goc.addresses(&name), vec![a2]);
    let line = workspace().func_line("handlers.go", "handleHealth");
    assert_eq!(
        parse_counts(&r3.agent_profile()).count_at("handlers.go", line),
        0
    );
}

#[test]
fn doubles_follow_their_contracts() {
    let goc = GocServer::start();
    let name = workspace().service_name();

    let fake = FakeAgent::start("not a profile");
    fake.register(&goc, &name);
    assert_eq!(goc.addresses(&name), vec![fake.address()]);
    let r = http::get(&format!("{}/v1/cover/profile", fake.address()));
    assert_eq!((r.status, r.text().as_str()), (200, "not a profile"));
    fake.set_body(500, "boom");
    assert_eq!(
        http::get(&format!("{}/v1/cover/profile", fake.address())).status,
        500
    );
    assert_eq!(fake.hits(), 2);

    // A real replica moved to another loopback IP is still reachable there.
    let r1 = Replica::start(&goc, &name);
    let moved = r1.rehost(&goc, "127.0.0.2");
    let p = http::get(&format!("{moved}/v1/cover/profile"));
    assert_eq!(p.status, 200);
    assert!(p.text().starts_with("mode: count"));

    let pm = PodMonitor::start();
    let url = |ip: &str| pm.url_template().replace("{ip}", ip);
    pm.running("127.0.0.1");
    pm.set("127.0.0.3", PodStatus::Status("Terminating".into()));
    let r = http::get(&url("127.0.0.1"));
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["status"], "Running");
    assert_eq!(http::get(&url("127.0.0.3")).json()["status"], "Terminating");
    assert_eq!(http::get(&url("127.0.0.9")).status, 404);
    pm.set("127.0.0.1", PodStatus::Gone);
    assert_eq!(http::get(&url("127.0.0.1")).status, 404);
    assert_eq!(
        pm.asked(),
        ["127.0.0.1", "127.0.0.3", "127.0.0.9", "127.0.0.1"]
    );
}
