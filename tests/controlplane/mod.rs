//! A real Kubernetes control plane for the integration tests: etcd and kube-apiserver (built from
//! the pinned modules in tools/kube by scripts/install-kube.sh, found on PATH), started once per
//! test binary and shared by its tests (one namespace per test).
//!
//! Nothing else of a cluster runs: no scheduler, no kubelet, no controller-manager. Tests play
//! those parts themselves: they create Pods (bound to a node name that no kubelet serves) and
//! patch their status (phase, pod IP) through the status subresource.
//!
//! Authentication is a static token file (an admin in `system:masters`) and service-account
//! tokens (TokenRequest works: the apiserver has a signing key); authorization is RBAC, so a
//! test can check what a ServiceAccount may do. Every wait has a timeout and panics saying what
//! it waited for and where the etcd and apiserver logs are.
//!
//! The processes die with the test binary: a watchdog shell reads a pipe that only this process
//! holds open, and when it closes (normal exit, panic or kill) it stops both servers and removes
//! the temp dir, unless a test panicked (a panic hook marks the dir to be kept and prints where).

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::future::Future;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::json;

pub use crate::tool_path::require_tool;

/// How long etcd plus kube-apiserver may take to become ready (a few seconds when idle; CI
/// machines are shared).
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one kubectl call may take.
const KUBECTL_TIMEOUT: &str = "60s";
/// The node name test Pods are bound to: no kubelet serves it, so a graceful delete leaves the
/// Pod terminating until [`delete_pod`] finishes it, as a slow kubelet would.
pub const FAKE_NODE: &str = "controlplane-test-node";
/// The name of the CRD under test.
pub const CRD_NAME: &str = "coveragetargets.coverage.goc-adapter.io";

/// A running etcd + kube-apiserver pair and the files to reach it.
pub struct ControlPlane {
    dir: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    token: String,
    ca_file: PathBuf,
    etcd_log: PathBuf,
    apiserver_log: PathBuf,
    /// The watchdog's stdin: closing it (at process exit) stops the servers.
    _watchdog: ChildStdin,
    crd: OnceLock<()>,
    namespaces: AtomicU32,
}

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The control plane of this test binary, started on first use.
pub fn shared() -> &'static ControlPlane {
    let started = SHARED.get_or_init(|| {
        let begin = Instant::now();
        let cp = start()?;
        install_panic_hook(cp.dir.clone(), cp.logs());
        eprintln!(
            "test control plane ready in {:.1?} at {} ({})",
            begin.elapsed(),
            cp.server,
            cp.logs()
        );
        Ok(cp)
    });
    match started {
        Ok(cp) => cp,
        Err(msg) => panic!("the test control plane did not start: {msg}"),
    }
}

impl ControlPlane {
    /// The kubeconfig file (admin token, the apiserver's CA, current namespace `default`).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The apiserver URL, `https://127.0.0.1:<port>`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The admin bearer token (group `system:masters`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The CA certificate that signed the apiserver's serving certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The control plane's temp dir (data, certs, logs, kubeconfigs).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the server logs are, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "etcd log: {}, kube-apiserver log: {}",
            self.etcd_log.display(),
            self.apiserver_log.display()
        )
    }

    /// A client for the admin kubeconfig, bound to the calling tokio runtime (create one per
    /// test: a client does not outlive the runtime that made it).
    pub async fn client(&self) -> Client {
        client_for(&self.kubeconfig).await
    }

    /// A `kubectl` command using the admin kubeconfig.
    pub fn kubectl_command(&self) -> Command {
        kubectl_with(&self.kubeconfig)
    }

    /// Runs kubectl with the admin kubeconfig, panics unless it succeeds, returns its stdout.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_stdin(args, "")
    }

    /// Like [`ControlPlane::kubectl`], feeding `stdin` to it (for `-f -`).
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> String {
        let mut cmd = self.kubectl_command();
        cmd.args(args);
        let out = run_with_stdin(&mut cmd, stdin);
        assert!(
            out.status.success(),
            "`{}` failed ({}):\n--- stderr ---\n{}\n--- stdout ---\n{}\n({})",
            describe(&cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout),
            self.logs()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs kubectl with the admin kubeconfig and returns its output whatever its exit status.
    pub fn kubectl_unchecked(&self, args: &[&str]) -> Output {
        self.kubectl_stdin_unchecked(args, "")
    }

    /// Like [`ControlPlane::kubectl_unchecked`], feeding `stdin` to it.
    pub fn kubectl_stdin_unchecked(&self, args: &[&str], stdin: &str) -> Output {
        let mut cmd = self.kubectl_command();
        cmd.args(args);
        run_with_stdin(&mut cmd, stdin)
    }

    /// Creates a fresh namespace `<prefix>-<n>` and returns its name. Namespaces are never
    /// deleted: without a controller-manager they would stay terminating anyway.
    pub fn namespace(&self, prefix: &str) -> String {
        let n = self.namespaces.fetch_add(1, Ordering::Relaxed);
        let name = format!("{prefix}-{n}");
        self.kubectl(&["create", "namespace", &name]);
        name
    }

    /// Applies crds/coveragetarget.yaml (once per process) and waits until it is established.
    pub fn apply_crd(&self) {
        self.crd.get_or_init(|| {
            let crd = crd_file();
            let crd = crd.to_string_lossy();
            self.kubectl(&["apply", "-f", &crd]);
            self.kubectl(&[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("crd/{CRD_NAME}"),
            ]);
        });
    }

    /// A token for ServiceAccount `namespace/name` (TokenRequest, valid one hour).
    pub fn service_account_token(&self, namespace: &str, name: &str) -> String {
        let token = self.kubectl(&["create", "token", name, "-n", namespace, "--duration=1h"]);
        token.trim().to_string()
    }

    /// Writes a kubeconfig authenticating as ServiceAccount `namespace/name` (which must
    /// exist), with `namespace` as its current namespace, and returns its path.
    pub fn service_account_kubeconfig(&self, namespace: &str, name: &str) -> PathBuf {
        let token = self.service_account_token(namespace, name);
        let path = self.dir.join(format!("kubeconfig-sa-{namespace}-{name}"));
        write_kubeconfig(&path, &self.server, &self.ca_file, &token, namespace);
        path
    }
}

/// A client for any kubeconfig file (e.g. one from
/// [`ControlPlane::service_account_kubeconfig`]).
pub async fn client_for(kubeconfig: &Path) -> Client {
    // kube uses rustls without picking a crypto provider; the binary installs ring, so do tests.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", kubeconfig.display()));
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {}: {e}", kubeconfig.display()));
    Client::try_from(config)
        .unwrap_or_else(|e| panic!("cannot build a client from {}: {e}", kubeconfig.display()))
}

/// A `kubectl` command using `kubeconfig`.
pub fn kubectl_with(kubeconfig: &Path) -> Command {
    let mut cmd = Command::new(require_tool("kubectl"));
    cmd.arg(format!("--kubeconfig={}", kubeconfig.display()))
        .arg(format!("--request-timeout={KUBECTL_TIMEOUT}"))
        .env_remove("KUBECONFIG");
    cmd
}

/// The CRD manifest generated by `goc-adapter crd`.
pub fn crd_file() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds/coveragetarget.yaml");
    assert!(
        path.is_file(),
        "{} is missing: generate it with `cargo run -- crd > crds/coveragetarget.yaml`",
        path.display()
    );
    path
}

/// Creates Pod `namespace/name` with `labels` and one container, bound to [`FAKE_NODE`]. It
/// stays `Pending` until a test sets its status with [`set_pod_status`].
pub async fn create_pod(
    client: &Client,
    namespace: &str,
    name: &str,
    labels: &[(&str, &str)],
) -> Pod {
    let labels: serde_json::Map<String, serde_json::Value> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let pod: Pod = serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": name, "namespace": namespace, "labels": labels },
        "spec": {
            "nodeName": FAKE_NODE,
            "containers": [{ "name": "app", "image": "registry.invalid/goc-agent:test" }],
        },
    }))
    .expect("a valid Pod");
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot create Pod {namespace}/{name}: {e} ({})",
                shared().logs()
            )
        })
}

/// Sets Pod `namespace/name`'s status as a kubelet would: `phase` (`Pending`, `Running`,
/// `Succeeded`, `Failed`), pod IP (`podIP` and `podIPs`) and the Ready condition (true only
/// while Running). Returns the Pod as stored.
pub async fn set_pod_status(
    client: &Client,
    namespace: &str,
    name: &str,
    phase: &str,
    pod_ip: Option<&str>,
) -> Pod {
    let ready = if phase == "Running" { "True" } else { "False" };
    let now = jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let ips = pod_ip.map(|ip| json!([{ "ip": ip }]));
    let patch = json!({
        "status": {
            "phase": phase,
            "podIP": pod_ip,
            "podIPs": ips,
            "hostIP": "127.0.0.1",
            "conditions": [
                { "type": "Ready", "status": ready, "lastTransitionTime": now },
                { "type": "ContainersReady", "status": ready, "lastTransitionTime": now },
            ],
        }
    });
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "cannot set Pod {namespace}/{name} to {phase} {pod_ip:?}: {e} ({})",
                shared().logs()
            )
        })
}

/// Starts a graceful delete of Pod `namespace/name`: it gets a deletionTimestamp and, with no
/// kubelet to confirm, stays terminating until [`delete_pod`].
pub async fn terminate_pod(client: &Client, namespace: &str, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.delete(name, &DeleteParams::default().grace_period(30))
        .await
        .unwrap_or_else(|e| panic!("cannot terminate Pod {namespace}/{name}: {e}"));
}

/// Deletes Pod `namespace/name` at once (grace period 0) and waits until it is gone.
pub async fn delete_pod(client: &Client, namespace: &str, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
    api.delete(name, &DeleteParams::default().grace_period(0))
        .await
        .unwrap_or_else(|e| panic!("cannot delete Pod {namespace}/{name}: {e}"));
    let what = format!("Pod {namespace}/{name} to be gone");
    wait_until(&what, Duration::from_secs(30), || {
        let api = api.clone();
        async move {
            match api.get_opt(name).await {
                Ok(None) => Some(()),
                _ => None,
            }
        }
    })
    .await;
}

/// Polls `probe` every 100 ms until it returns `Some`, or panics after `timeout` naming `what`
/// and the server logs.
pub async fn wait_until<T, F, Fut>(what: &str, timeout: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        if Instant::now() > deadline {
            let logs = SHARED
                .get()
                .and_then(|r| r.as_ref().ok())
                .map(ControlPlane::logs)
                .unwrap_or_default();
            panic!("timed out after {timeout:?} waiting for {what} ({logs})");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A one-line description of a command, for failure messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn run_with_stdin(cmd: &mut Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", describe(cmd)));
    let mut pipe = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_owned();
    // Written from a thread: a large input could otherwise fill the pipe while kubectl waits
    // for us to read its output.
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("cannot wait for `{}`: {e}", describe(cmd)));
    let _ = writer.join();
    out
}

/// Why one start attempt failed: a server exiting early may be a lost race for a free port,
/// worth another try; anything else is not.
enum StartError {
    Exited(String),
    Fatal(String),
}

fn start() -> Result<ControlPlane, String> {
    let mut attempt = 1;
    loop {
        let dir = tempfile::Builder::new()
            .prefix("goc-adapter-controlplane-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?
            .keep();
        match start_once(&dir) {
            Ok(cp) => return Ok(cp),
            Err(StartError::Exited(_)) if attempt < 3 => {
                let _ = fs::remove_dir_all(&dir);
                attempt += 1;
            }
            Err(StartError::Exited(msg) | StartError::Fatal(msg)) => {
                // Keep the logs (the watchdog, if started, honours the marker); etcd's
                // preallocated WAL is 100+ MB of nothing useful.
                let _ = fs::write(dir.join("keep"), b"");
                let _ = fs::remove_dir_all(dir.join("etcd"));
                return Err(format!(
                    "{msg}\n(etcd log: {}, kube-apiserver log: {})",
                    dir.join("etcd.log").display(),
                    dir.join("kube-apiserver.log").display()
                ));
            }
        }
    }
}

/// The servers started so far, with their names and logs; kills them if startup fails
/// half-way.
struct Guard(Vec<(&'static str, Child, PathBuf)>);

impl Drop for Guard {
    fn drop(&mut self) {
        for (_, child, _) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_once(dir: &Path) -> Result<ControlPlane, StartError> {
    use StartError::Fatal;
    let etcd_bin = require_tool("etcd");
    let apiserver_bin = require_tool("kube-apiserver");
    let openssl = require_tool("openssl");
    require_tool("kubectl");
    let dir = dir.to_path_buf();
    let etcd_log = dir.join("etcd.log");
    let apiserver_log = dir.join("kube-apiserver.log");

    // Service-account tokens need a signing key; the admin authenticates with a static token.
    let sa_key = dir.join("sa.key");
    let out = Command::new(&openssl)
        .args(["genrsa", "-out"])
        .arg(&sa_key)
        .arg("2048")
        .output()
        .map_err(|e| Fatal(format!("cannot run openssl: {e}")))?;
    if !out.status.success() {
        return Err(Fatal(format!(
            "openssl genrsa failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let token = random_hex(32).map_err(Fatal)?;
    let tokens = dir.join("tokens.csv");
    fs::write(&tokens, format!("{token},admin,admin,\"system:masters\"\n"))
        .map_err(|e| Fatal(format!("cannot write {}: {e}", tokens.display())))?;

    let [etcd_port, peer_port, api_port] = free_ports().map_err(Fatal)?;
    let etcd_url = format!("http://127.0.0.1:{etcd_port}");
    let peer_url = format!("http://127.0.0.1:{peer_port}");
    let mut guard = Guard(Vec::new());

    let etcd = spawn_logged(
        Command::new(&etcd_bin)
            .arg("--name=test")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls={etcd_url}"))
            .arg(format!("--advertise-client-urls={etcd_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            // Throw-away data: skip fsync, which dominates on a busy shared disk.
            .arg("--unsafe-no-fsync")
            .arg("--log-level=warn"),
        &etcd_log,
    )
    .map_err(Fatal)?;
    guard.0.push(("etcd", etcd, etcd_log.clone()));
    wait_for("etcd to report healthy", &mut guard, || {
        http_get_ok(etcd_port, "/health").then_some(())
    })?;

    let cert_dir = dir.join("certs");
    let apiserver = spawn_logged(
        Command::new(&apiserver_bin)
            .arg(format!("--etcd-servers={etcd_url}"))
            .arg("--bind-address=127.0.0.1")
            .arg("--advertise-address=127.0.0.1")
            .arg(format!("--secure-port={api_port}"))
            // No --tls-cert-file: the apiserver makes a self-signed CA and serving cert here.
            .arg(format!("--cert-dir={}", cert_dir.display()))
            .arg(format!("--token-auth-file={}", tokens.display()))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc.cluster.local")
            .arg(format!("--service-account-key-file={}", sa_key.display()))
            .arg(format!(
                "--service-account-signing-key-file={}",
                sa_key.display()
            ))
            .arg("--service-cluster-ip-range=10.0.0.0/24")
            // ServiceAccount admission wants each namespace's `default` ServiceAccount, which
            // only the controller-manager (not running here) creates.
            .arg("--disable-admission-plugins=ServiceAccount")
            // The `kubernetes` Service endpoints would point at 127.0.0.1, which is rejected.
            .arg("--endpoint-reconciler-type=none")
            .arg("--profiling=false")
            .arg("--v=1"),
        &apiserver_log,
    )
    .map_err(Fatal)?;
    guard
        .0
        .push(("kube-apiserver", apiserver, apiserver_log.clone()));

    // From here on the watchdog owns cleanup at process exit.
    let watchdog = spawn_watchdog(&dir, guard.0.iter().map(|(_, c, _)| c.id())).map_err(Fatal)?;

    let server = format!("https://127.0.0.1:{api_port}");
    let kubeconfig = dir.join("kubeconfig");
    let ca_file = dir.join("ca.crt");
    let serving_cert = cert_dir.join("apiserver.crt");
    wait_for("kube-apiserver /readyz", &mut guard, || {
        // The CA is the last certificate of the bundle the apiserver writes; re-read it each
        // time, since the file may be caught half-written.
        // kubectl is costly to start; ask it only once the port accepts connections.
        TcpStream::connect(("127.0.0.1", api_port)).ok()?;
        let pem = fs::read_to_string(&serving_cert).ok()?;
        let ca = last_pem_certificate(&pem)?;
        fs::write(&ca_file, ca).ok()?;
        write_kubeconfig(&kubeconfig, &server, &ca_file, &token, "default");
        let out = kubectl_with(&kubeconfig)
            .args(["get", "--raw=/readyz", "--request-timeout=5s"])
            .output()
            .ok()?;
        (out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "ok").then_some(())
    })?;

    // The servers now live until the watchdog stops them.
    std::mem::take(&mut guard.0);
    Ok(ControlPlane {
        dir,
        kubeconfig,
        server,
        token,
        ca_file,
        etcd_log,
        apiserver_log,
        _watchdog: watchdog,
        crd: OnceLock::new(),
        namespaces: AtomicU32::new(0),
    })
}

/// Polls `probe` every 100 ms until it succeeds, a server exits, or [`START_TIMEOUT`] passes.
fn wait_for(
    what: &str,
    guard: &mut Guard,
    mut probe: impl FnMut() -> Option<()>,
) -> Result<(), StartError> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if probe().is_some() {
            return Ok(());
        }
        for (name, child, log) in &mut guard.0 {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(StartError::Exited(format!(
                    "{name} exited ({status}) while waiting for {what}; its log ends:\n{}",
                    log_tail(log, 15)
                )));
            }
        }
        if Instant::now() > deadline {
            return Err(StartError::Fatal(format!(
                "timed out after {START_TIMEOUT:?} waiting for {what}"
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn spawn_logged(cmd: &mut Command, log: &Path) -> Result<Child, String> {
    let out = fs::File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot reopen {}: {e}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", describe(cmd)))
}

/// Starts a shell that waits for its stdin to close (this process exited, however it ended),
/// then kills the servers and removes `dir` (all but the logs and certs if a `keep` file is in
/// it: etcd's data is 100+ MB of preallocated WAL).
fn spawn_watchdog(dir: &Path, servers: impl Iterator<Item = u32>) -> Result<ChildStdin, String> {
    // SIGKILL at once: the data is thrown away, and a graceful apiserver shutdown takes seconds.
    const SCRIPT: &str = r#"
read -r _ || true
kill -KILL "$@" 2>/dev/null
sleep 1
rm -rf "$CONTROLPLANE_DIR/etcd"
[ -e "$CONTROLPLANE_DIR/keep" ] || rm -rf "$CONTROLPLANE_DIR"
"#;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg("controlplane-watchdog")
        .args(servers.map(|pid| pid.to_string()))
        .env("CONTROLPLANE_DIR", dir)
        .stdin(Stdio::piped())
        // Not our stdout: a pipe reader (cargo, tee) would otherwise wait for the watchdog.
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start the watchdog shell: {e}"))?;
    child
        .stdin
        .take()
        .ok_or_else(|| "the watchdog has no stdin".to_string())
}

/// After any panic in this test binary, keep the control plane's dir and say where it is.
fn install_panic_hook(dir: PathBuf, logs: String) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = fs::write(dir.join("keep"), b"");
        previous(info);
        eprintln!("test control plane kept in {} ({logs})", dir.display());
    }));
}

/// The last `lines` lines of a log file.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn write_kubeconfig(path: &Path, server: &str, ca: &Path, token: &str, namespace: &str) {
    let yaml = format!(
        "apiVersion: v1
kind: Config
clusters:
- name: controlplane
  cluster:
    server: {server}
    certificate-authority: {ca}
users:
- name: user
  user:
    token: {token}
contexts:
- name: controlplane
  context:
    cluster: controlplane
    user: user
    namespace: {namespace}
current-context: controlplane
",
        ca = ca.display()
    );
    fs::write(path, yaml).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn last_pem_certificate(pem: &str) -> Option<String> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let start = pem.rfind(BEGIN)?;
    let end = pem[start..].find(END)? + start + END.len();
    Some(format!("{}\n", &pem[start..end]))
}

/// Three distinct ports that were free a moment ago (a lost race shows as a server exiting,
/// and startup is retried).
fn free_ports() -> Result<[u16; 3], String> {
    let listeners = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot bind a free port: {e}"))?;
    let port = |l: &TcpListener| l.local_addr().map(|a| a.port()).unwrap_or(0);
    Ok([
        port(&listeners[0]),
        port(&listeners[1]),
        port(&listeners[2]),
    ])
}

/// A plain HTTP GET on 127.0.0.1; true on status 200.
fn http_get_ok(port: u16, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200")
}

fn random_hex(bytes: usize) -> Result<String, String> {
    let mut buf = vec![0u8; bytes];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| format!("cannot read /dev/urandom: {e}"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}
