//! HTTP client for the goc v1 server and its agents, with the timeouts goc itself lacks.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;

/// Largest profile accepted from one agent; anything bigger is a broken agent, not coverage.
pub const MAX_PROFILE_BYTES: usize = 256 * 1024 * 1024;

/// A goc server or agent call that failed.
#[derive(Debug, thiserror::Error)]
pub enum GocError {
    /// Connecting or reading timed out, or the connection failed.
    #[error("{url}: {what}")]
    Transport {
        /// The URL called.
        url: String,
        /// What happened.
        what: String,
    },
    /// A non-success HTTP status.
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        /// The URL called.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The answer could not be understood.
    #[error("{url}: unexpected answer: {what}")]
    Malformed {
        /// The URL called.
        url: String,
        /// What is wrong.
        what: String,
    },
    /// Refused locally: goc treats an empty filter as "everything".
    #[error("refusing to call {0} with an empty filter (goc would apply it to every address)")]
    EmptyFilter(&'static str),
}

/// Client for one goc server plus direct agent calls.
#[derive(Clone)]
pub struct GocClient {
    http: reqwest::Client,
    server: String,
}

fn transport(url: &str, e: reqwest::Error) -> GocError {
    let what = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        format!("connection failed: {e}")
    } else {
        e.to_string()
    };
    GocError::Transport {
        url: url.to_string(),
        what,
    }
}

fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(300)]);
    s.trim().to_string()
}

impl GocClient {
    /// A client for the server at `server` (no trailing slash); `connect_timeout` bounds every
    /// connection attempt, to the server and to agents.
    pub fn new(server: &str, connect_timeout: Duration) -> Result<GocClient, GocError> {
        // reqwest is built without a bundled crypto provider; install ring once (an error only
        // means one is installed already).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            // No idle connections kept: each agent is read once per sync, and a pooled
            // connection held a socket and its read buffer (~100 KB) per agent, 350 MB for
            // 3,000 agents (scripts/bench-serve.sh). The server is called every 10 s at most.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| transport(server, e))?;
        Ok(GocClient {
            http,
            server: server.trim_end_matches('/').to_string(),
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// `GET /v1/cover/list`: registered name -> addresses.
    pub async fn list(&self, timeout: Duration) -> Result<BTreeMap<String, Vec<String>>, GocError> {
        let url = format!("{}/v1/cover/list", self.server);
        let body = self.get(&url, timeout, 64 * 1024 * 1024).await?;
        serde_json::from_slice(&body).map_err(|e| GocError::Malformed {
            url,
            what: format!("not a JSON object of name -> [address]: {e}"),
        })
    }

    /// `POST /v1/cover/remove` for exactly one address.
    pub async fn remove_address(&self, address: &str, timeout: Duration) -> Result<(), GocError> {
        if address.trim().is_empty() {
            return Err(GocError::EmptyFilter("/v1/cover/remove"));
        }
        let url = format!("{}/v1/cover/remove", self.server);
        let resp = self
            .http
            .post(&url)
            .timeout(timeout)
            .json(&serde_json::json!({ "address": [address] }))
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(|e| transport(&url, e))?;
        // goc answers 200 with an appended JSON error when a step fails half-way.
        if !status.is_success() || body.windows(8).any(|w| w == b"\"error\":") {
            return Err(GocError::Status {
                url,
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        Ok(())
    }

    /// Fetches an agent's raw profile directly (`{address}/v1/cover/profile`).
    pub async fn agent_profile(
        &self,
        address: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, GocError> {
        let url = format!("{}/v1/cover/profile", address.trim_end_matches('/'));
        self.get(&url, timeout, MAX_PROFILE_BYTES).await
    }

    /// Zeroes an agent's counters (`{address}/v1/cover/clear`).
    pub async fn agent_clear(&self, address: &str, timeout: Duration) -> Result<(), GocError> {
        let url = format!("{}/v1/cover/clear", address.trim_end_matches('/'));
        let resp = self
            .http
            .post(&url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(&url, e))?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.bytes().await.unwrap_or_default();
            return Err(GocError::Status {
                url,
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        Ok(())
    }

    /// GET with a total timeout and a size cap, streaming so a huge answer is cut off early.
    pub async fn get(&self, url: &str, timeout: Duration, max: usize) -> Result<Vec<u8>, GocError> {
        let resp = self
            .http
            .get(url)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| transport(url, e))?;
        let status = resp.status();
        // Sized from the announced length: no regrowing copies of a large profile. Capped, since
        // an agent may announce anything; past the cap the buffer grows as the bytes arrive.
        const PRESIZE_MAX: usize = 8 << 20;
        let announced = resp.content_length().unwrap_or(0);
        let presize = usize::try_from(announced)
            .unwrap_or(max)
            .min(max)
            .min(PRESIZE_MAX);
        let mut body = Vec::with_capacity(presize);
        let mut stream = resp.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| transport(url, e))?;
            if body.len() + chunk.len() > max {
                return Err(GocError::Malformed {
                    url: url.to_string(),
                    what: format!("answer larger than {max} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(GocError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body: snippet(&body),
            });
        }
        Ok(body)
    }

    /// The underlying HTTP client (for the pod monitor).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}
