//! git's smart HTTP protocol (https and http remotes) for libgit2, over reqwest.
//!
//! libgit2's own https transport initialises OpenSSL when the library starts, decoding every
//! system CA certificate: it doubled the time of a `report`, which never fetches. This one costs
//! nothing until a fetch uses it. libgit2 runs the git protocol; this file only moves its bytes:
//! `GET <repo>/info/refs?service=git-upload-pack`, then one `POST <repo>/git-upload-pack` per
//! negotiation round (stateless RPC).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use reqwest::{Method, StatusCode, Url};

use super::fetch::{Credentials, Refusal};

/// The settings of one fetch, for the transport libgit2 creates during it. The token is sent as
/// basic auth and never logged.
pub(super) struct Session {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    /// User name and token.
    auth: Option<(String, String)>,
    /// Where the token came from, for errors.
    token_file: Option<PathBuf>,
    /// The repository's URL after the redirects of its first request (git does the same: the
    /// POSTs go where the refs came from, as a redirected POST would turn into a GET).
    base: Mutex<Option<String>>,
    refusal: Refusal,
}

/// Why a session could not be set up (unreadable token or CA file, a bad URL).
pub(super) type SetupError = String;

impl Session {
    /// The session for fetching `url` with `creds`; `refusal` receives the reason of a refused
    /// request (libgit2 rewords errors of its own steps).
    pub(super) fn new(
        url: &str,
        creds: &Credentials,
        refusal: Refusal,
    ) -> Result<Session, SetupError> {
        let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
        let auth = match &creds.token_file {
            Some(file) => {
                let token = read_token(file)?;
                // The URL's user name if it has one (GitLab wants `oauth2` for OAuth tokens);
                // hosts that ignore it (GitHub) accept any.
                let user = match parsed.username() {
                    "" => "git".to_string(),
                    u => u.to_string(),
                };
                Some((user, token))
            }
            None => None,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!(
                "git/2.0 (goc-adapter ",
                env!("CARGO_PKG_VERSION"),
                ")"
            ))
            .connect_timeout(Duration::from_secs(30))
            // No total timeout: a large clone takes as long as it takes. A server that stops
            // sending is an error after this.
            .read_timeout(Duration::from_secs(120));
        if let Some(file) = &creds.ca_file {
            builder = builder.tls_certs_merge(read_ca(file)?);
        }
        let client = builder
            .build()
            .map_err(|e| format!("setting up the HTTP client: {}", describe(&e)))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("starting the HTTP client's runtime: {e}"))?;
        Ok(Session {
            rt,
            client,
            auth,
            token_file: creds.token_file.clone(),
            base: Mutex::new(None),
            refusal,
        })
    }

    /// Sends one request; anything but a success with `content_type` is an error that says
    /// what the server answered.
    fn send(
        &self,
        method: Method,
        url: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> io::Result<reqwest::Response> {
        let mut req = self
            .client
            .request(method.clone(), url)
            .header(reqwest::header::ACCEPT, content_type);
        if method == Method::POST {
            req = req
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-git-upload-pack-request",
                )
                .body(body);
        }
        if let Some((user, token)) = &self.auth {
            req = req.basic_auth(user, Some(token));
        }
        let resp = self
            .rt
            // Inside the runtime: creating the request's future already needs its timer.
            .block_on(async move { req.send().await })
            .map_err(|e| io::Error::other(describe(&e)))?;
        let status = resp.status();
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            let why = match &self.token_file {
                None => format!(
                    "the server asks for credentials (HTTP {status}): give a token file (spec.repo.tokenFile, or `token` in the Secret)"
                ),
                Some(f) => format!(
                    "the server refused the token in {} (HTTP {status})",
                    f.display()
                ),
            };
            if let Ok(mut r) = self.refusal.lock() {
                *r = Some(why.clone());
            }
            return Err(io::Error::other(why));
        }
        if !status.is_success() {
            return Err(io::Error::other(format!(
                "{method} {} answered HTTP {status}",
                resp.url()
            )));
        }
        let got = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // The media type, whatever parameters follow it.
        if got.split(';').next().map(str::trim) != Some(content_type) {
            return Err(io::Error::other(format!(
                "{method} {} answered Content-Type {got:?}, not {content_type:?}: not a git server speaking the smart HTTP protocol",
                resp.url()
            )));
        }
        Ok(resp)
    }
}

/// Reads a token file: its content without surrounding white space (never logged).
fn read_token(file: &Path) -> Result<String, SetupError> {
    let text =
        std::fs::read_to_string(file).map_err(|e| format!("token file {}: {e}", file.display()))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(format!("token file {} is empty", file.display()));
    }
    Ok(token.to_string())
}

/// Reads a PEM bundle of CA certificates to trust besides the system's.
fn read_ca(file: &Path) -> Result<Vec<reqwest::Certificate>, SetupError> {
    let pem = std::fs::read(file).map_err(|e| format!("CA file {}: {e}", file.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| format!("CA file {}: {}", file.display(), describe(&e)))?;
    if certs.is_empty() {
        return Err(format!(
            "CA file {} holds no PEM certificate",
            file.display()
        ));
    }
    Ok(certs)
}

/// An error with its causes: reqwest's own message leaves out the one that says what failed
/// (an unknown certificate issuer, a refused connection).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let c_text = c.to_string();
        if !text.contains(&c_text) {
            text.push_str(": ");
            text.push_str(&c_text);
        }
        cause = c.source();
    }
    text
}

thread_local! {
    /// This transport's sessions ([`super::session`]).
    static ACTIVE: RefCell<Option<Arc<Session>>> = const { RefCell::new(None) };
}

/// Runs `f` (a fetch) with `session` for its connections.
pub(super) fn with_session<T>(session: Session, f: impl FnOnce() -> T) -> T {
    super::session::with(&ACTIVE, session, f)
}

/// libgit2's factory for `https://` and `http://` URLs.
pub(super) fn factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let session = super::session::current(&ACTIVE, "http(s)")?;
    Transport::smart(remote, true, Http { session })
}

/// The subtransport: one exchange per action.
struct Http {
    session: Arc<Session>,
}

/// The repository URL without credentials or a trailing slash.
fn base_of(url: &str) -> Result<String, git2::Error> {
    let mut u = Url::parse(url).map_err(|e| git2::Error::from_str(&format!("{url}: {e}")))?;
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok(u.as_str().trim_end_matches('/').to_string())
}

impl SmartSubtransport for Http {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let s = &self.session;
        let io = |e: io::Error| git2::Error::from_str(&e.to_string());
        match action {
            Service::UploadPackLs => {
                let base = base_of(url)?;
                let resp = s
                    .send(
                        Method::GET,
                        &format!("{base}/info/refs?service=git-upload-pack"),
                        Vec::new(),
                        "application/x-git-upload-pack-advertisement",
                    )
                    .map_err(io)?;
                // Followed redirects move the repository for the rest of the fetch.
                let mut moved = resp.url().clone();
                moved.set_query(None);
                let moved = moved.as_str();
                if let Some(b) = moved.strip_suffix("/info/refs")
                    && let Ok(mut held) = s.base.lock()
                {
                    *held = Some(b.to_string());
                }
                Ok(Box::new(Exchange::answered(s.clone(), resp)))
            }
            Service::UploadPack => {
                let base = match s.base.lock().ok().and_then(|b| b.clone()) {
                    Some(b) => b,
                    None => base_of(url)?,
                };
                Ok(Box::new(Exchange::post(
                    s.clone(),
                    format!("{base}/git-upload-pack"),
                )))
            }
            Service::ReceivePackLs | Service::ReceivePack => Err(git2::Error::from_str(
                "goc-adapter only fetches; pushing is not supported",
            )),
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// One HTTP request and its answer: what libgit2 writes is the POST's body, sent at its first
/// read; the answer is read as it arrives.
struct Exchange {
    session: Arc<Session>,
    /// The POST still to send: its URL and body.
    request: Option<(String, Vec<u8>)>,
    response: Option<reqwest::Response>,
    chunk: Bytes,
}

impl Exchange {
    fn answered(session: Arc<Session>, response: reqwest::Response) -> Exchange {
        Exchange {
            session,
            request: None,
            response: Some(response),
            chunk: Bytes::new(),
        }
    }

    fn post(session: Arc<Session>, url: String) -> Exchange {
        Exchange {
            session,
            request: Some((url, Vec::new())),
            response: None,
            chunk: Bytes::new(),
        }
    }
}

impl Write for Exchange {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.request {
            Some((_, body)) => {
                body.extend_from_slice(buf);
                Ok(buf.len())
            }
            None => Err(io::Error::other("the request was already sent")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for Exchange {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((url, body)) = self.request.take() {
            self.response = Some(self.session.send(
                Method::POST,
                &url,
                body,
                "application/x-git-upload-pack-result",
            )?);
        }
        let Some(resp) = self.response.as_mut() else {
            return Ok(0);
        };
        while self.chunk.is_empty() {
            match self.session.rt.block_on(resp.chunk()) {
                Ok(Some(c)) => self.chunk = c,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(describe(&e))),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk.split_to(n));
        Ok(n)
    }
}
