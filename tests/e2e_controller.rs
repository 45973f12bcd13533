//! The operator against a real kube-apiserver + etcd (tests/controlplane) and the real goc
//! pieces (tests/goc): CoverageTargets in, status and goc removals out; Pods play their
//! lifecycle by status patches (no kubelet).

mod controlplane;
mod gitserve;
mod goc;
mod tool_path;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

use controlplane::{create_pod, delete_pod, set_pod_status, terminate_pod};
use goc::{GocServer, Replica, workspace};

/// `goc-adapter controller` with the test control plane's kubeconfig.
struct Controller {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
    _home: Option<tempfile::TempDir>,
}

impl Controller {
    fn start(
        identity: &str,
        lease_ns: &str,
        home: &std::path::Path,
        keep: Option<tempfile::TempDir>,
    ) -> Controller {
        let cp = controlplane::shared();
        let port = goc::free_port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_goc-adapter"))
            .args(["controller", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--home")
            .arg(home)
            // Each test watches its own namespace, so parallel tests do not share targets.
            .args([
                "--lease-namespace",
                lease_ns,
                "--namespace",
                lease_ns,
                "--identity",
                identity,
            ])
            .env("KUBECONFIG", cp.kubeconfig())
            .env("RUST_LOG", "info,kube=warn")
            .env_remove("GOC_ADAPTER_HOME")
            .env_remove("POD_NAME")
            .env_remove("POD_NAMESPACE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start goc-adapter controller");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("stderr");
        let log2 = log.clone();
        let tag = identity.to_string();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{tag}] {line}");
                log2.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let c = Controller {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _home: keep,
        };
        goc::wait_until("controller to listen", Duration::from_secs(60), || {
            c.log
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("listening on"))
                .then_some(())
        });
        c
    }

    fn leader(&self) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|l| l.contains("leadership"))
            .is_some_and(|l| l.contains("leader=true"))
    }

    fn get(&self, path: &str) -> goc::http::Response {
        goc::http::get(&format!("{}{path}", self.url))
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn target_json(name: &str, ns: &str, goc: &str, line_threshold: f64) -> serde_json::Value {
    json!({
        "apiVersion": "coverage.goc-adapter.io/v1alpha1",
        "kind": "CoverageTarget",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "gocServer": goc,
            "services": {"match": "^staging_"},
            "repo": {"url": workspace().repo.to_string_lossy(), "baseBranch": "origin/master"},
            "schedule": {"interval": "1h", "jitter": "1s"},
            "probe": {"failures": 3, "timeout": "5s"},
            "pods": {"selector": {"matchLabels": {"app": "echo"}}},
            "thresholds": {"line": line_threshold}
        }
    })
}

async fn status(api: &Api<goc_adapter::target::CoverageTarget>, name: &str) -> serde_json::Value {
    let t = api.get(name).await.expect("get target");
    serde_json::to_value(t.status.unwrap_or_default()).expect("status json")
}

fn condition(st: &serde_json::Value, type_: &str) -> String {
    st["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == type_))
        .and_then(|c| c["status"].as_str())
        .unwrap_or("")
        .to_string()
}

async fn wait_status(
    api: &Api<goc_adapter::target::CoverageTarget>,
    name: &str,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    controlplane::wait_until(what, Duration::from_secs(90), || async {
        let st = status(api, name).await;
        ok(&st).then_some(st)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn target_status_pod_lifecycle_thresholds_and_kubectl() {
    let cp = controlplane::shared();
    cp.apply_crd();
    let client = cp.client().await;
    let ns = cp.namespace("ctl");
    let ws = workspace();
    let goc = GocServer::start();
    let name = ws.service_name();
    // Two replicas, each "in" a Pod: their agents are re-registered on the Pods' IPs.
    let r1 = Replica::start(&goc, &name);
    let r2 = Replica::start(&goc, &name);
    let a1 = r1.rehost(&goc, "127.0.0.11");
    let a2 = r2.rehost(&goc, "127.0.0.12");
    r1.hit("/echo?msg=one");
    r2.hit("/health");
    for (pod, ip) in [("echo-1", "127.0.0.11"), ("echo-2", "127.0.0.12")] {
        create_pod(&client, &ns, pod, &[("app", "echo")]).await;
        set_pod_status(&client, &ns, pod, "Running", Some(ip)).await;
    }
    let home = tempfile::tempdir().expect("home");
    let ctl = Controller::start("ctl-a", &ns, home.path(), None);
    let api: Api<goc_adapter::target::CoverageTarget> = Api::namespaced(client.clone(), &ns);
    let obj: goc_adapter::target::CoverageTarget =
        serde_json::from_value(target_json("echo", &ns, &goc.url(), 100.0)).expect("target");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create target");

    // Status fills with the service and its coverage.
    let st = wait_status(&api, "echo", "status with a synced service", |st| {
        st["services"][0]["linePercent"]
            .as_f64()
            .is_some_and(|p| p > 0.0)
    })
    .await;
    assert_eq!(st["serviceCount"], 1);
    assert_eq!(st["services"][0]["name"], name.as_str());
    assert_eq!(st["services"][0]["onlineReplicas"], 2, "{st}");
    assert_eq!(condition(&st, "Ready"), "True");
    assert_eq!(
        condition(&st, "ThresholdsMet"),
        "False",
        "100% line coverage is not met: {st}"
    );
    let profile_before = ctl.get(&format!("/api/v1/services/{name}/profile")).text();
    assert!(profile_before.contains("mode: count"));

    // Thresholds flip ThresholdsMet.
    api.patch(
        "echo",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"thresholds": {"line": 1.0}}})),
    )
    .await
    .expect("patch thresholds");
    wait_status(&api, "echo", "ThresholdsMet=True", |st| {
        condition(st, "ThresholdsMet") == "True"
    })
    .await;

    // kubectl get coverage prints the printer columns.
    // A fresh discovery cache: the one kubectl kept from before the CRD was applied lacks it.
    let cache = tempfile::tempdir().expect("cache dir");
    let cache_flag = format!("--cache-dir={}", cache.path().display());
    let out = cp.kubectl(&["get", "coverage", "-n", &ns, &cache_flag]);
    let header = out.lines().next().unwrap_or("");
    for col in [
        "NAME",
        "PHASE",
        "SERVICES",
        "LINE",
        "DIFF",
        "LAST SYNC",
        "AGE",
    ] {
        assert!(header.contains(col), "column {col} missing in:\n{out}");
    }
    assert!(out.contains("echo") && out.contains("Ready"), "{out}");

    // Pod marked for deletion: synced at once, while its agent still answers (issue: the last
    // counts of a pod that goes away are never lost).
    r1.hit("/echo?msg=last-words");
    let before_term =
        goc::parse_counts(&ctl.get(&format!("/api/v1/services/{name}/profile")).text());
    terminate_pod(&client, &ns, "echo-1").await;
    let after_term = goc::wait_until(
        "terminating pod's hits to be synced",
        Duration::from_secs(60),
        || {
            let c = goc::parse_counts(&ctl.get(&format!("/api/v1/services/{name}/profile")).text());
            (c.differences(&before_term)
                .iter()
                .any(|(_, new, old)| new > old))
            .then_some(c)
        },
    );
    // Then the pod dies: SIGKILL (no deregistration), Pod deleted -> its address is removed
    // from goc, exactly that one, and the coverage stays.
    let mut r1 = r1;
    r1.kill_hard();
    delete_pod(&client, &ns, "echo-1").await;
    goc::wait_until(
        "the dead pod's address to leave goc",
        Duration::from_secs(60),
        || {
            let addrs = goc.addresses(&name);
            (!addrs.contains(&a1)).then_some(())
        },
    );
    assert!(
        goc.addresses(&name).contains(&a2),
        "the live replica must stay registered"
    );
    let kept = goc::parse_counts(&ctl.get(&format!("/api/v1/services/{name}/profile")).text());
    assert!(
        kept.differences(&after_term)
            .iter()
            .all(|(_, new, old)| new >= old),
        "coverage went down after the pod died"
    );
    drop(r2);
    drop(ctl);
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_lease_holder_writes() {
    let cp = controlplane::shared();
    cp.apply_crd();
    let client = cp.client().await;
    let ns = cp.namespace("lease");
    let home = tempfile::tempdir().expect("home");
    let a = Controller::start("replica-a", &ns, home.path(), None);
    let b = Controller::start("replica-b", &ns, home.path(), None);
    let (leader, standby) = goc::wait_until("one leader", Duration::from_secs(60), || {
        match (a.leader(), b.leader()) {
            (true, false) => Some((&a, &b)),
            (false, true) => Some((&b, &a)),
            _ => None,
        }
    });
    // The Lease names the leader.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), &ns);
    let lease = leases.get("goc-adapter-leader").await.expect("lease");
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    let leader_id = if std::ptr::eq(leader, &a) {
        "replica-a"
    } else {
        "replica-b"
    };
    assert_eq!(holder, leader_id);
    // The standby refuses writes; both serve reads.
    let r = goc::http::post_empty(&format!("{}/api/v1/services/x/sync", standby.url));
    assert_eq!(r.status, 503, "standby must refuse writes: {}", r.text());
    assert_eq!(standby.get("/api/v1/services").status, 200);
    // A target is reconciled (status written) by the leader alone: exactly one field manager.
    let goc = GocServer::start();
    let api: Api<goc_adapter::target::CoverageTarget> = Api::namespaced(client.clone(), &ns);
    let obj: goc_adapter::target::CoverageTarget =
        serde_json::from_value(target_json("solo", &ns, &goc.url(), 0.0)).expect("target");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create");
    wait_status(&api, "solo", "status from the leader", |st| {
        st["phase"].is_string()
    })
    .await;
    let t = api.get("solo").await.expect("get");
    let managers: Vec<String> = t
        .metadata
        .managed_fields
        .unwrap_or_default()
        .iter()
        .filter(|m| m.subresource.as_deref() == Some("status"))
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(
        managers,
        ["goc-adapter"],
        "status written by one field manager"
    );
    let standby_log = standby.log.lock().unwrap().join("\n");
    assert!(
        !standby_log.contains("pod event: syncing"),
        "the standby must not sync"
    );
}

/// An https repository with its token and CA from the target's Secret: the operator writes
/// them to private files and the collector clones through them.
#[tokio::test(flavor = "multi_thread")]
async fn https_repository_with_the_token_and_ca_of_a_secret() {
    use std::os::unix::fs::PermissionsExt;

    let cp = controlplane::shared();
    cp.apply_crd();
    let client = cp.client().await;
    let ns = cp.namespace("https");
    let ws = workspace();
    let token = "s3cret-t0ken";
    let (root, dir) = (
        ws.repo.parent().expect("the repository's parent"),
        ws.repo.file_name().expect("its name").to_string_lossy(),
    );
    let git = gitserve::serve(root, token);
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client.clone(), &ns);
    let secret = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "git", "namespace": ns},
        "stringData": {"token": token, "ca.crt": git.ca_pem},
    }))
    .expect("secret");
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .expect("create secret");
    let goc = GocServer::start();
    let name = ws.service_name();
    let replica = Replica::start(&goc, &name);
    replica.hit("/echo?msg=https");
    let home = tempfile::tempdir().expect("home");
    let ctl = Controller::start("ctl-https", &ns, home.path(), None);
    let mut target = target_json("echo", &ns, &goc.url(), 1.0);
    target["spec"]["repo"] = json!({
        "url": format!("https://git@127.0.0.1:{}/{dir}", git.https_port),
        "baseBranch": "origin/master",
        "secretRef": {"name": "git"},
    });
    let api: Api<goc_adapter::target::CoverageTarget> = Api::namespaced(client.clone(), &ns);
    let obj: goc_adapter::target::CoverageTarget = serde_json::from_value(target).expect("target");
    api.create(&PostParams::default(), &obj)
        .await
        .expect("create target");

    // The func report exists only if the sources were cloned.
    let report = goc::wait_until("a func report", Duration::from_secs(90), || {
        let r = ctl.get(&format!("/api/v1/services/{name}/report?format=func"));
        (r.status == 200).then(|| r.text())
    });
    assert!(report.contains("total:"), "{report}");
    let log = git.served.log.lock().expect("the request log").clone();
    assert!(
        log.iter()
            .any(|l| l == &format!("POST /{dir}/git-upload-pack")),
        "not fetched over https: {log:?}"
    );
    // The Secret's keys are private files under the home.
    let files = home.path().join(".credentials").join(format!("{ns}_echo"));
    for f in ["token", "ca.crt"] {
        let mode = std::fs::metadata(files.join(f))
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{f}");
    }
    let logged = ctl.log.lock().expect("the controller's log").join("\n");
    assert!(!logged.contains(token), "the token is in the log");
    drop(replica);
    drop(ctl);
}
