//! Test doubles served from the test process: a malformed goc agent and the pod monitor.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::http::TestServer;
use super::procs::GocServer;

/// A fake goc agent: registers itself with the goc server like a real one would (as given, no
/// IP revision) and answers `/v1/cover/profile` with whatever body the test sets.
pub struct FakeAgent {
    server: TestServer,
    body: Arc<Mutex<(u16, Vec<u8>)>>,
    hits: Arc<Mutex<usize>>,
}

impl FakeAgent {
    /// Starts serving `body` (status 200) on 127.0.0.1.
    pub fn start(body: &str) -> Self {
        let body = Arc::new(Mutex::new((200, body.as_bytes().to_vec())));
        let hits = Arc::new(Mutex::new(0));
        let (b, h) = (Arc::clone(&body), Arc::clone(&hits));
        let server = TestServer::start("127.0.0.1", move |req| {
            if req.target.starts_with("/v1/cover/profile") {
                *h.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                let (status, bytes) = b.lock().unwrap_or_else(|e| e.into_inner()).clone();
                (status, "text/plain; charset=utf-8", bytes)
            } else {
                (404, "text/plain", b"404 page not found".to_vec())
            }
        });
        FakeAgent { server, body, hits }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        self.server.url()
    }

    /// Registers this agent's address under `name`.
    pub fn register(&self, goc: &GocServer, name: &str) {
        goc.register(name, &self.address());
    }

    /// Changes what `/v1/cover/profile` answers.
    pub fn set_body(&self, status: u16, body: &str) {
        *self.body.lock().unwrap_or_else(|e| e.into_inner()) = (status, body.as_bytes().to_vec());
    }

    /// How many profile requests arrived.
    pub fn hits(&self) -> usize {
        *self.hits.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What the pod monitor double says about an IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodStatus {
    /// `{"status": "<value>"}` with 200.
    Status(String),
    /// HTTP 404: the pod is gone.
    Gone,
}

/// The pod monitor contract of serve-spec.md: `GET /pods/{ip}` answers
/// `{"status": "...", "ip": "..."}`, or 404 when the pod is gone. Answers are set per IP at run
/// time; an IP never set is gone.
pub struct PodMonitor {
    server: TestServer,
    statuses: Arc<Mutex<HashMap<String, PodStatus>>>,
    asked: Arc<Mutex<Vec<String>>>,
}

impl PodMonitor {
    /// Starts the double on 127.0.0.1.
    pub fn start() -> Self {
        let statuses: Arc<Mutex<HashMap<String, PodStatus>>> = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, a) = (Arc::clone(&statuses), Arc::clone(&asked));
        let server = TestServer::start("127.0.0.1", move |req| {
            let Some(key) = req.target.strip_prefix("/pods/") else {
                return (
                    404,
                    "application/json",
                    br#"{"error":"no such route"}"#.to_vec(),
                );
            };
            let key = key.split('?').next().unwrap_or(key).to_string();
            a.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(key.clone());
            let status = s
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&key)
                .cloned();
            match status {
                Some(PodStatus::Status(v)) => (
                    200,
                    "application/json",
                    serde_json::json!({"status": v, "ip": key})
                        .to_string()
                        .into_bytes(),
                ),
                Some(PodStatus::Gone) | None => (
                    404,
                    "application/json",
                    serde_json::json!({"error": format!("no pod with ip {key}")})
                        .to_string()
                        .into_bytes(),
                ),
            }
        });
        PodMonitor {
            server,
            statuses,
            asked,
        }
    }

    /// The URL template for the target: `http://127.0.0.1:PORT/pods/{ip}`.
    pub fn url_template(&self) -> String {
        format!("{}/pods/{{ip}}", self.server.url())
    }

    /// Sets the answer for `ip`.
    pub fn set(&self, ip: &str, status: PodStatus) {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(ip.to_string(), status);
    }

    /// Shorthand for `set(ip, PodStatus::Status("Running"))`.
    pub fn running(&self, ip: &str) {
        self.set(ip, PodStatus::Status("Running".to_string()));
    }

    /// The IPs asked about so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
