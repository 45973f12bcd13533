//! The test control plane itself (tests/controlplane): a real etcd + kube-apiserver where tests
//! create Pods and play the kubelet by patching their status, and where the CoverageTarget CRD
//! installs and serves.

mod controlplane;
mod tool_path;

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use controlplane::{create_pod, delete_pod, set_pod_status, terminate_pod, wait_until};

#[tokio::test]
async fn pods_play_their_lifecycle_without_a_kubelet() {
    let cp = controlplane::shared();
    let client = cp.client().await;
    let ns = cp.namespace("smoke");

    let created = create_pod(&client, &ns, "agent-1", &[("app", "echo")]).await;
    assert_eq!(
        created.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Pending"),
        "a new Pod is Pending until its status is set"
    );

    let running = set_pod_status(&client, &ns, "agent-1", "Running", Some("127.0.0.5")).await;
    let status = running.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("127.0.0.5"));

    // Read back through a label selector, as the controller's Pod watch will.
    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pods = api
        .list(&ListParams::default().labels("app=echo"))
        .await
        .expect("list pods");
    assert_eq!(pods.items.len(), 1);
    let status = pods.items[0].status.as_ref().expect("status");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some("127.0.0.5"));
    let ips: Vec<_> = status
        .pod_ips
        .iter()
        .flatten()
        .map(|ip| ip.ip.as_str())
        .collect();
    assert_eq!(ips, ["127.0.0.5"]);
    let ready = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status.as_str());
    assert_eq!(ready, Some("True"));

    // kubectl sees the same.
    let ip = cp.kubectl(&[
        "get",
        "pod",
        "agent-1",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.podIP}",
    ]);
    assert_eq!(ip, "127.0.0.5");

    let failed = set_pod_status(&client, &ns, "agent-1", "Failed", Some("127.0.0.5")).await;
    assert_eq!(
        failed.status.and_then(|s| s.phase).as_deref(),
        Some("Failed")
    );

    delete_pod(&client, &ns, "agent-1").await;
    assert!(api.get_opt("agent-1").await.expect("get").is_none());
}

#[tokio::test]
async fn a_graceful_delete_leaves_the_pod_terminating() {
    let cp = controlplane::shared();
    let client = cp.client().await;
    let ns = cp.namespace("terminating");

    create_pod(&client, &ns, "agent-2", &[("app", "echo")]).await;
    set_pod_status(&client, &ns, "agent-2", "Running", Some("127.0.0.6")).await;
    terminate_pod(&client, &ns, "agent-2").await;

    let api: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let pod = api
        .get("agent-2")
        .await
        .expect("a terminating Pod is still there");
    assert!(pod.metadata.deletion_timestamp.is_some());
    assert_eq!(pod.status.and_then(|s| s.phase).as_deref(), Some("Running"));

    delete_pod(&client, &ns, "agent-2").await;
}

#[tokio::test]
async fn rbac_is_enforced_for_service_accounts() {
    let cp = controlplane::shared();
    let client = cp.client().await;
    let ns = cp.namespace("rbac");
    cp.kubectl(&["create", "serviceaccount", "reader", "-n", &ns]);
    let kubeconfig = cp.service_account_kubeconfig(&ns, "reader");
    let sa_client = controlplane::client_for(&kubeconfig).await;
    let sa_pods: Api<Pod> = Api::namespaced(sa_client, &ns);

    let denied = sa_pods.list(&ListParams::default()).await;
    assert!(
        matches!(&denied, Err(kube::Error::Api(s)) if s.code == 403),
        "an unbound ServiceAccount must be forbidden, got {denied:?}"
    );

    cp.kubectl(&[
        "create",
        "role",
        "pod-reader",
        "-n",
        &ns,
        "--verb=get,list,watch",
        "--resource=pods",
    ]);
    cp.kubectl(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        &ns,
        "--role=pod-reader",
        &format!("--serviceaccount={ns}:reader"),
    ]);
    create_pod(&client, &ns, "agent-3", &[]).await;
    // RBAC changes reach the authorizer's cache within moments.
    let names = wait_until(
        "the RoleBinding to take effect",
        Duration::from_secs(30),
        || {
            let sa_pods = sa_pods.clone();
            async move { sa_pods.list(&ListParams::default()).await.ok() }
        },
    )
    .await;
    assert_eq!(names.items.len(), 1);
}

#[test]
fn the_coveragetarget_crd_installs_and_serves() {
    let cp = controlplane::shared();
    cp.apply_crd();
    let ns = cp.namespace("crd");

    let names = cp.kubectl(&[
        "get",
        "crd",
        controlplane::CRD_NAME,
        "-o",
        "jsonpath={.spec.names.shortNames} {.spec.names.categories} {.spec.scope}",
    ]);
    assert_eq!(names, r#"["covt","cov"] ["coverage"] Namespaced"#);

    let target = format!(
        "apiVersion: coverage.goc-adapter.io/v1alpha1
kind: CoverageTarget
metadata:
  name: echo
  namespace: {ns}
spec:
  gocServer: http://goc-server:7777
  repo:
    url: https://example.invalid/echo.git
"
    );
    cp.kubectl_stdin(&["apply", "-f", "-"], &target);

    // The short name, the category and the kind all list it.
    for resource in ["coverage", "covt", "cov", "coveragetargets"] {
        let out = cp.kubectl(&["get", resource, "-A", "-o", "name"]);
        assert!(
            out.lines()
                .any(|l| l == "coveragetarget.coverage.goc-adapter.io/echo"),
            "`kubectl get {resource} -A` does not list the target:\n{out}"
        );
    }

    // The schema rejects a target without its required fields.
    let bad = format!(
        "apiVersion: coverage.goc-adapter.io/v1alpha1
kind: CoverageTarget
metadata:
  name: bad
  namespace: {ns}
spec:
  repo:
    url: x
"
    );
    let out = cp.kubectl_stdin_unchecked(&["apply", "-f", "-"], &bad);
    assert!(
        !out.status.success(),
        "a target without gocServer was accepted"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("gocServer"), "unexpected error: {stderr}");
}
