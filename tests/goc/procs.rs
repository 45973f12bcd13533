//! The real processes: `goc server`, goc-built echoserver replicas and `goc-adapter serve`.
//! Each is killed on drop; ports are picked free on 127.0.0.1 and a start that lost a port race
//! is retried.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use super::http::{self, Response};
use super::{free_port, wait_until, workspace};

const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Sends SIGTERM to `child` and waits (up to 10 s) for it to exit.
fn terminate(child: &mut Child, what: &str) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap_or_else(|e| panic!("cannot run `kill -TERM` on {what}: {e}"));
    assert!(status.success(), "`kill -TERM` on {what} failed");
    wait_until(
        &format!("{what} to exit after SIGTERM"),
        Duration::from_secs(10),
        || child.try_wait().ok().flatten(),
    );
}

/// SIGKILL and reap.
fn kill_hard(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn read_log(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn log_file(path: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(path).expect("creating a log file"))
}

/// A `goc server` on 127.0.0.1 in its own temp dir (it writes `_svrs_address.txt` and
/// `goc.log` into its working directory).
pub struct GocServer {
    dir: TempDir,
    child: Option<Child>,
    /// Its port.
    pub port: u16,
}

impl GocServer {
    /// Starts a server and waits until `/v1/cover/list` answers.
    pub fn start() -> Self {
        super::require_tool("goc");
        for _attempt in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let log = dir.path().join("server.out");
            let mut child = Command::new("goc")
                .args(["server", "--port", &format!("127.0.0.1:{port}")])
                .current_dir(dir.path())
                .env("GIN_MODE", "release")
                .stdin(Stdio::null())
                .stdout(log_file(&log))
                .stderr(log_file(&dir.path().join("server.err")))
                .spawn()
                .expect("starting `goc server`");
            let url = format!("http://127.0.0.1:{port}/v1/cover/list");
            let up = wait_until("goc server to answer /v1/cover/list", START_TIMEOUT, || {
                if let Ok(Some(_)) = child.try_wait() {
                    return Some(false);
                }
                http::request("GET", &url, None, Duration::from_secs(2))
                    .ok()
                    .filter(|r| r.status == 200)
                    .map(|_| true)
            });
            if up {
                return GocServer {
                    dir,
                    child: Some(child),
                    port,
                };
            }
            // Exited: most likely the port was taken meanwhile; try another.
            eprintln!(
                "goc server on port {port} exited at start: {}",
                read_log(&dir.path().join("server.err"))
            );
        }
        panic!("goc server did not start in 5 attempts");
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The echoserver built against this server.
    pub fn echoserver_binary(&self) -> PathBuf {
        workspace().binary_for(&self.url())
    }

    /// `GET /v1/cover/list`: name -> addresses.
    pub fn list(&self) -> BTreeMap<String, Vec<String>> {
        let r = http::get(&format!("{}/v1/cover/list", self.url()));
        assert_eq!(r.status, 200, "goc /v1/cover/list: {}", r.text());
        serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("goc /v1/cover/list is not a name map ({e}): {}", r.text()))
    }

    /// The addresses registered under `name` (empty when the name is gone).
    pub fn addresses(&self, name: &str) -> Vec<String> {
        self.list().remove(name).unwrap_or_default()
    }

    /// Registers `address` under `name` as is (`ip_revise=false`).
    pub fn register(&self, name: &str, address: &str) {
        let r = http::post_json(
            &format!("{}/v1/cover/register", self.url()),
            &serde_json::json!({"name": name, "address": address, "ip_revise": "false"}),
        );
        assert_eq!(
            r.status,
            200,
            "registering {address} as {name}: {}",
            r.text()
        );
    }

    /// Removes one address (never an empty filter: that would remove every address).
    pub fn remove_address(&self, address: &str) {
        assert!(!address.is_empty(), "refusing an empty remove filter");
        let r = http::post_json(
            &format!("{}/v1/cover/remove", self.url()),
            &serde_json::json!({"address": [address]}),
        );
        assert_eq!(r.status, 200, "removing {address}: {}", r.text());
    }

    /// The server's merged profile of `name` (its own server-side merge, as a reference).
    pub fn merged_profile(&self, name: &str) -> String {
        let r = http::post_json(
            &format!("{}/v1/cover/profile", self.url()),
            &serde_json::json!({"service": [name]}),
        );
        assert_eq!(r.status, 200, "goc profile of {name}: {}", r.text());
        r.text()
    }

    /// SIGKILL (the server keeps no state but its address file).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_hard(&mut c);
        }
    }

    /// The server's stdout (gin log), for failure messages.
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("server.out"))
    }
}

impl Drop for GocServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One replica of the goc-built echoserver.
pub struct Replica {
    dir: TempDir,
    child: Option<Child>,
    /// The name it registered as (GOC_SERVICE_NAME).
    pub name: String,
    /// Port of the echoserver's own HTTP API.
    pub http_port: u16,
    /// Port of the goc agent inside it (the registered address).
    pub agent_port: u16,
}

impl Replica {
    /// Starts a replica with free ports; waits until it is registered.
    pub fn start(goc: &GocServer, name: &str) -> Self {
        Self::start_on(goc, name, None)
    }

    /// Starts a replica whose agent listens on `agent_port` (when given: e.g. a restart on the
    /// same address), waiting until `http://127.0.0.1:<agent port>` is registered under `name`.
    ///
    /// The agent port is chosen through the file the goc agent reads at start
    /// (`<argv0>_profile_listen_addr`, its "previous address"), so one build serves every
    /// replica; the agent then listens on all interfaces.
    pub fn start_on(goc: &GocServer, name: &str, agent_port: Option<u16>) -> Self {
        let bin = goc.echoserver_binary();
        for _attempt in 0..3 {
            let dir = tempfile::tempdir().expect("temp dir");
            let exe = dir.path().join("echoserver");
            std::os::unix::fs::symlink(&bin, &exe).expect("linking the echoserver binary");
            let want_agent = agent_port.unwrap_or_else(free_port);
            let addr_file = dir.path().join("echoserver_profile_listen_addr");
            std::fs::write(&addr_file, format!("127.0.0.1:{want_agent}"))
                .expect("writing the agent address file");
            let http_port = free_port();
            let log = dir.path().join("replica.log");
            let mut child = Command::new(&exe)
                .args(["-addr", &format!("127.0.0.1:{http_port}")])
                .env("GOC_SERVICE_NAME", name)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(log_file(&dir.path().join("replica.out")))
                .stderr(log_file(&log))
                .spawn()
                .expect("starting the echoserver");
            let started = wait_until(
                &format!(
                    "replica of {name} to serve and register (log {})",
                    log.display()
                ),
                START_TIMEOUT,
                || {
                    if let Ok(Some(_)) = child.try_wait() {
                        return Some(None);
                    }
                    // The agent rewrites the file when it had to pick another port.
                    let text = std::fs::read_to_string(&addr_file).ok()?;
                    let port: u16 = text.rsplit(':').next()?.trim().parse().ok()?;
                    TcpStream::connect(("127.0.0.1", http_port)).ok()?;
                    let want = format!("http://127.0.0.1:{port}");
                    goc.addresses(name).contains(&want).then_some(Some(port))
                },
            );
            match started {
                Some(port) => {
                    if let Some(p) = agent_port {
                        assert_eq!(port, p, "agent port {p} was taken, the agent chose {port}");
                    }
                    return Replica {
                        dir,
                        child: Some(child),
                        name: name.to_string(),
                        http_port,
                        agent_port: port,
                    };
                }
                None => eprintln!("replica exited at start: {}", read_log(&log)),
            }
        }
        panic!("replica of {name} did not start in 3 attempts");
    }

    /// The registered address, `http://127.0.0.1:<agent port>`.
    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.agent_port)
    }

    /// A request to the echoserver's API (`path` with query), asserting 200.
    pub fn hit(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path} on the echoserver: {}", r.text());
        r.text()
    }

    /// A request to the echoserver's API, any status.
    pub fn get(&self, path: &str) -> Response {
        http::get(&format!("http://127.0.0.1:{}{path}", self.http_port))
    }

    /// The agent's raw profile, fetched directly.
    pub fn agent_profile(&self) -> String {
        let r = http::get(&format!("{}/v1/cover/profile", self.address()));
        assert_eq!(r.status, 200, "agent profile: {}", r.text());
        r.text()
    }

    /// Re-registers this replica's agent under another loopback IP (e.g. 127.0.0.2) and drops
    /// its 127.0.0.1 address, so a pod monitor asked by IP can tell it apart. The agent listens
    /// on all interfaces, so the new address reaches it. Returns the new address.
    pub fn rehost(&self, goc: &GocServer, ip: &str) -> String {
        let new = format!("http://{ip}:{}", self.agent_port);
        goc.register(&self.name, &new);
        goc.remove_address(&self.address());
        let addrs = goc.addresses(&self.name);
        assert!(
            addrs.contains(&new) && !addrs.contains(&self.address()),
            "rehosting to {new} left {addrs:?}"
        );
        new
    }

    /// SIGKILL: the agent cannot deregister, its address stays in goc.
    pub fn kill_hard(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_hard(&mut c);
        }
    }

    /// SIGTERM: the agent deregisters its addresses, then exits.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, "echoserver replica");
        }
    }

    /// The replica's stderr log.
    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("replica.log"))
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill_hard();
    }
}

/// `goc-adapter serve` on a free 127.0.0.1 port. Its stderr is kept (and echoed to the test's
/// stderr) for failure messages.
pub struct Adapter {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Adapter {
    /// Starts `goc-adapter serve --config <config> --home <home>`; waits for `listening on`.
    pub fn start(config: &Path, home: &Path) -> Self {
        Self::start_with(config, home, &[])
    }

    /// [`Adapter::start`] with extra arguments (e.g. `--token-file`).
    pub fn start_with(config: &Path, home: &Path, extra: &[&str]) -> Self {
        for _attempt in 0..3 {
            let port = free_port();
            let mut child = Command::new(env!("CARGO_BIN_EXE_goc-adapter"))
                .arg("serve")
                .arg("--config")
                .arg(config)
                .arg("--home")
                .arg(home)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .args(extra)
                .env_remove("GOC_ADAPTER_HOME")
                .env_remove("GOC_ADAPTER_TOKEN_FILE")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("starting goc-adapter serve");
            let log = Arc::new(Mutex::new(Vec::new()));
            let stderr = child.stderr.take().expect("piped stderr");
            let log2 = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    eprintln!("[goc-adapter:{port}] {line}");
                    log2.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
            let mut adapter = Adapter {
                child: None,
                url: format!("http://127.0.0.1:{port}"),
                log,
            };
            let listening = wait_until(
                "goc-adapter serve to print `listening on`",
                START_TIMEOUT,
                || {
                    if let Ok(Some(_)) = child.try_wait() {
                        return Some(false);
                    }
                    adapter
                        .log_lines()
                        .iter()
                        .any(|l| l.contains("listening on"))
                        .then_some(true)
                },
            );
            if listening {
                adapter.child = Some(child);
                return adapter;
            }
            // Let the reader thread drain the last lines.
            std::thread::sleep(Duration::from_millis(200));
            let tail = adapter.log_tail();
            if !tail.to_ascii_lowercase().contains("in use") {
                panic!("goc-adapter serve exited at start:\n{tail}");
            }
            eprintln!("goc-adapter lost a port race, retrying:\n{tail}");
        }
        panic!("goc-adapter serve did not start in 3 attempts");
    }

    /// All stderr lines so far.
    pub fn log_lines(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The last 40 stderr lines, for failure messages.
    pub fn log_tail(&self) -> String {
        let lines = self.log_lines();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// GET a path (any status).
    pub fn get(&self, path: &str) -> Response {
        http::get(&format!("{}{path}", self.url))
    }

    /// GET a path, asserting 200; the adapter's log is in the panic message.
    pub fn get_ok(&self, path: &str) -> Response {
        let r = self.get(path);
        assert_eq!(
            r.status,
            200,
            "GET {path}: {}\n--- goc-adapter log ---\n{}",
            r.text(),
            self.log_tail()
        );
        r
    }

    /// The service's summary (GET /api/v1/services/{name}).
    pub fn summary(&self, name: &str) -> serde_json::Value {
        self.get_ok(&format!("/api/v1/services/{name}")).json()
    }

    /// Waits until the adapter knows `name` (it learns names from the goc server list).
    pub fn wait_known(&self, name: &str) {
        wait_until(
            &format!("goc-adapter to list {name}"),
            Duration::from_secs(60),
            || (self.get(&format!("/api/v1/services/{name}")).status == 200).then_some(()),
        );
    }

    /// POST /api/v1/services/{name}/sync (any status).
    pub fn sync_raw(&self, name: &str) -> Response {
        http::post_empty(&format!("{}/api/v1/services/{name}/sync", self.url))
    }

    /// Waits until `name` is known, syncs it, asserts 200 and returns the new summary.
    pub fn sync(&self, name: &str) -> serde_json::Value {
        self.wait_known(name);
        let r = self.sync_raw(name);
        assert_eq!(
            r.status,
            200,
            "sync of {name}: {}\n--- goc-adapter log ---\n{}",
            r.text(),
            self.log_tail()
        );
        r.json()
    }

    /// The merged normalized profile (GET .../profile).
    pub fn profile(&self, name: &str) -> String {
        self.get_ok(&format!("/api/v1/services/{name}/profile"))
            .text()
    }

    /// A report (`func`, `html` or `json`).
    pub fn report(&self, name: &str, format: &str) -> Response {
        self.get_ok(&format!("/api/v1/services/{name}/report?format={format}"))
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            kill_hard(&mut c);
        }
    }

    /// SIGTERM and wait.
    pub fn terminate(&mut self) {
        if let Some(mut c) = self.child.take() {
            terminate(&mut c, "goc-adapter serve");
        }
    }
}

impl Drop for Adapter {
    fn drop(&mut self) {
        self.kill();
    }
}
