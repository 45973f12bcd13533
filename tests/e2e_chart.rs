//! The Helm chart (charts/goc-adapter) and the manifest rendered from it (deploy/): helm lint,
//! server-side dry runs against the real test apiserver, the RBAC it grants, and that the copies
//! of generated files are current.

mod controlplane;
mod tool_path;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use controlplane::{describe, require_tool};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn chart() -> PathBuf {
    root().join("charts/goc-adapter")
}

/// A helm command with its config, cache and data dirs in `home` (nothing under $HOME).
fn helm(home: &Path) -> Command {
    let mut cmd = Command::new(require_tool("helm"));
    cmd.env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env_remove("KUBECONFIG");
    cmd
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    assert!(
        out.status.success(),
        "`{}` failed ({}):\n--- stderr ---\n{}\n--- stdout ---\n{}",
        describe(cmd),
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `helm template <release> charts/goc-adapter -n <namespace> <extra>`.
fn render(release: &str, namespace: &str, extra: &[&str]) -> String {
    let home = tempfile::tempdir().expect("temp dir");
    let mut cmd = helm(home.path());
    cmd.args(["template", release])
        .arg(chart())
        .args(["--namespace", namespace])
        .args(extra);
    run(&mut cmd)
}

/// The rendered documents as YAML values.
fn documents(rendered: &str) -> Vec<serde_yaml_ng::Value> {
    rendered
        .split("\n---")
        .filter_map(|doc| serde_yaml_ng::from_str::<serde_yaml_ng::Value>(doc).ok())
        .filter(|v| !v.is_null())
        .collect()
}

fn kinds(rendered: &str) -> Vec<String> {
    let mut kinds: Vec<String> = documents(rendered)
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or("?").to_string())
        .collect();
    kinds.sort();
    kinds
}

#[test]
fn helm_lint_passes_for_default_and_optional_values() {
    let home = tempfile::tempdir().expect("temp dir");
    let variants: [&[&str]; 3] = [
        &[],
        &[
            "--set=serviceMonitor.enabled=true",
            "--set=writeToken.value=s3cret",
            "--set=replicaCount=2",
        ],
        &[
            "--set=writeToken.existingSecret=tok",
            "--set=persistence.existingClaim=data",
            "--set=persistence.storageClass=-",
            "--set=serviceAccount.create=false",
            "--set=serviceAccount.name=existing",
        ],
    ];
    for extra in variants {
        let mut cmd = helm(home.path());
        cmd.args(["lint", "--strict"]).arg(chart()).args(extra);
        let out = run(&mut cmd);
        assert!(out.contains("0 chart(s) failed"), "{out}");
    }
}

#[test]
fn optional_objects_follow_the_values() {
    let default = render("rel", "ns", &[]);
    assert_eq!(
        kinds(&default),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PersistentVolumeClaim",
            "Role",
            "RoleBinding",
            "Service",
            "ServiceAccount",
        ]
    );
    // No token by default: nothing mounted, no env.
    assert!(!default.contains("GOC_ADAPTER_TOKEN_FILE"));

    let full = render(
        "rel",
        "ns",
        &[
            "--set=serviceMonitor.enabled=true",
            "--set=writeToken.value=s3cret",
        ],
    );
    assert_eq!(
        kinds(&full),
        [
            "ClusterRole",
            "ClusterRoleBinding",
            "Deployment",
            "PersistentVolumeClaim",
            "Role",
            "RoleBinding",
            "Secret",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
        ]
    );
    let docs = documents(&full);
    let secret = docs.iter().find(|d| d["kind"] == "Secret").expect("Secret");
    assert_eq!(secret["data"]["token"], "czNjcmV0", "base64 of the value");
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let env = container["env"].as_sequence().expect("env");
    let token_file = env
        .iter()
        .find(|e| e["name"] == "GOC_ADAPTER_TOKEN_FILE")
        .expect("GOC_ADAPTER_TOKEN_FILE");
    assert_eq!(token_file["value"], "/etc/goc-adapter/write-token/token");
    let secret_volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == "write-token")
        .expect("write-token volume");
    assert_eq!(
        secret_volume["secret"]["secretName"],
        "rel-goc-adapter-write-token"
    );

    // An existing Secret is used as is: no Secret rendered, no PVC for an existing claim.
    let existing = render(
        "rel",
        "ns",
        &[
            "--set=writeToken.existingSecret=tok",
            "--set=persistence.existingClaim=data",
        ],
    );
    assert!(!kinds(&existing).contains(&"Secret".to_string()));
    assert!(!kinds(&existing).contains(&"PersistentVolumeClaim".to_string()));
    assert!(existing.contains("secretName: tok"));
    assert!(existing.contains("claimName: data"));
}

#[test]
fn the_deployment_runs_the_controller_locked_down() {
    let docs = documents(&render("rel", "ns", &[]));
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 1);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "rel-goc-adapter");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    let args: Vec<&str> = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .filter_map(|a| a.as_str())
        .collect();
    assert_eq!(args, ["controller", "--listen", "0.0.0.0:8080"]);
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    let home = c["env"]
        .as_sequence()
        .expect("env")
        .iter()
        .find(|e| e["name"] == "GOC_ADAPTER_HOME")
        .expect("GOC_ADAPTER_HOME");
    assert_eq!(home["value"], "/data");
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert_eq!(mounts, ["/data", "/tmp"]);
    let data = &pod["volumes"][0];
    assert_eq!(
        data["persistentVolumeClaim"]["claimName"],
        "rel-goc-adapter"
    );
}

#[test]
fn the_chart_crd_is_the_generated_crd() {
    let generated = fs::read_to_string(controlplane::crd_file()).expect("read crds/");
    let copy = chart().join("crds/coveragetarget.yaml");
    let chart_copy =
        fs::read_to_string(&copy).unwrap_or_else(|e| panic!("cannot read {}: {e}", copy.display()));
    assert!(
        generated == chart_copy,
        "{} differs from crds/coveragetarget.yaml: copy it over",
        copy.display()
    );
}

#[test]
fn the_deploy_manifest_is_a_fresh_render() {
    let dir = tempfile::tempdir().expect("temp dir");
    let fresh = dir.path().join("goc-adapter.yaml");
    let mut cmd = Command::new(root().join("scripts/render-deploy.sh"));
    cmd.arg(&fresh)
        .env("HELM_CONFIG_HOME", dir.path().join("config"))
        .env("HELM_CACHE_HOME", dir.path().join("cache"))
        .env("HELM_DATA_HOME", dir.path().join("data"));
    run(&mut cmd);
    let committed = fs::read_to_string(root().join("deploy/goc-adapter.yaml"))
        .expect("read deploy/goc-adapter.yaml");
    let fresh = fs::read_to_string(&fresh).expect("read the fresh render");
    assert!(
        committed == fresh,
        "deploy/goc-adapter.yaml is stale: run scripts/render-deploy.sh"
    );
}

#[test]
fn rendered_chart_passes_a_server_side_dry_run() {
    let cp = controlplane::shared();
    cp.apply_crd();
    for (i, extra) in [
        &[][..],
        &[
            "--set=writeToken.value=s3cret",
            "--set=replicaCount=2",
            "--set=persistence.storageClass=-",
        ][..],
        &["--set=persistence.enabled=false"][..],
    ]
    .into_iter()
    .enumerate()
    {
        let ns = cp.namespace("dryrun");
        let rendered = render(&format!("dry{i}"), &ns, extra);
        let out = cp.kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], &rendered);
        assert!(
            out.contains("deployment.apps/") && out.contains("(server dry run)"),
            "{out}"
        );
    }
}

#[test]
fn the_deploy_manifest_passes_a_server_side_dry_run() {
    let cp = controlplane::shared();
    // The dry run creates nothing, so the namespaced objects need their Namespace for real.
    let exists = cp.kubectl_unchecked(&["get", "namespace", "goc-adapter"]);
    if !exists.status.success() {
        cp.kubectl(&["create", "namespace", "goc-adapter"]);
    }
    let manifest = root().join("deploy/goc-adapter.yaml");
    let out = cp.kubectl(&[
        "apply",
        "--dry-run=server",
        "-f",
        &manifest.to_string_lossy(),
    ]);
    for object in [
        "customresourcedefinition.apiextensions.k8s.io/coveragetargets.coverage.goc-adapter.io",
        "deployment.apps/goc-adapter",
        "clusterrole.rbac.authorization.k8s.io/goc-adapter",
        "persistentvolumeclaim/goc-adapter",
        "service/goc-adapter",
    ] {
        assert!(out.contains(object), "{object} missing from:\n{out}");
    }
}

#[test]
fn the_service_account_gets_exactly_the_controllers_permissions() {
    let cp = controlplane::shared();
    cp.apply_crd();
    let ns = cp.namespace("rbac-chart");
    let rendered = render("rbac", &ns, &[]);
    cp.kubectl_stdin(&["apply", "-f", "-"], &rendered);

    let sa = format!("system:serviceaccount:{ns}:rbac-goc-adapter");
    // (verb, resource, subresource, namespace)
    let can = |(verb, resource, sub, namespace): &(&str, &str, &str, &str)| -> bool {
        let mut args = vec!["auth", "can-i", verb, resource, "-n", namespace];
        let sub = format!("--subresource={sub}");
        if !sub.ends_with('=') {
            args.push(&sub);
        }
        let as_sa = format!("--as={sa}");
        args.push(&as_sa);
        let out = cp.kubectl_unchecked(&args);
        String::from_utf8_lossy(&out.stdout).trim() == "yes"
    };
    let other = "some-other-namespace";
    let own = ns.as_str();
    let cts = "coveragetargets.coverage.goc-adapter.io";
    let leases = "leases.coordination.k8s.io";
    let allowed = [
        ("get", cts, "", other),
        ("list", cts, "", other),
        ("watch", cts, "", other),
        ("patch", cts, "", other),
        ("update", cts, "", other),
        ("patch", cts, "status", other),
        ("update", cts, "status", other),
        ("update", cts, "finalizers", other),
        ("get", "pods", "", other),
        ("list", "pods", "", other),
        ("watch", "pods", "", other),
        ("get", "secrets", "", other),
        ("create", "events.events.k8s.io", "", other),
        ("patch", "events.events.k8s.io", "", other),
        ("get", leases, "", own),
        ("create", leases, "", own),
        ("update", leases, "", own),
    ];
    let denied = [
        ("create", cts, "", other),
        ("delete", cts, "", other),
        ("list", "secrets", "", other),
        ("watch", "secrets", "", other),
        ("create", "pods", "", other),
        ("delete", "pods", "", other),
        ("patch", "pods", "status", other),
        ("create", leases, "", other),
        ("create", "deployments.apps", "", own),
        ("get", "configmaps", "", own),
    ];
    let wrong: Vec<String> = allowed
        .iter()
        .filter(|q| !can(q))
        .map(|q| format!("cannot {q:?}"))
        .chain(
            denied
                .iter()
                .filter(|q| can(q))
                .map(|q| format!("may {q:?}")),
        )
        .collect();
    assert!(wrong.is_empty(), "{sa}: {wrong:#?}");
}
