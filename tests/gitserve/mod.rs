//! A git server over https and http for tests: git's real `git http-backend` as CGI behind an
//! axum server with a test CA (rcgen) and a token required as basic auth's password.

// Each test file uses a different part of it.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::io::AsyncWriteExt;

/// What the server serves and what it was asked.
pub struct Served {
    root: PathBuf,
    /// The password basic auth must carry.
    token: String,
    /// Request lines, `METHOD /path`.
    pub log: Mutex<Vec<String>>,
}

/// `/moved/...` redirects to `/...`; everything else needs the token as basic auth's password
/// and goes to `git http-backend` as CGI.
async fn handle(
    State(s): State<Arc<Served>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    if let Ok(mut log) = s.log.lock() {
        log.push(format!("{method} {path}"));
    }
    if let Some(rest) = path.strip_prefix("/moved") {
        let to = format!("{rest}?{query}");
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, to)]).into_response();
    }
    let password = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|up| up.split_once(':').map(|(_, p)| p.to_string()));
    if password.as_deref() != Some(s.token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"git\"")],
        )
            .into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", &s.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", method.as_str())
        .env("PATH_INFO", &path)
        .env("QUERY_STRING", &query)
        .env("CONTENT_TYPE", content_type)
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("git http-backend starts");
    if let Some(mut stdin) = child.stdin.take() {
        tokio::spawn(async move {
            let _ = stdin.write_all(&body).await;
        });
    }
    let out = child.wait_with_output().await.expect("http-backend runs");
    cgi_response(&out.stdout)
}

/// A CGI answer (headers, a blank line, the body) as an HTTP response.
fn cgi_response(out: &[u8]) -> Response {
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            out.windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .expect("CGI headers end");
    let head = String::from_utf8_lossy(&out[..split.0]);
    let mut builder = Response::builder();
    for line in head.lines() {
        let (name, value) = line.split_once(':').expect("a CGI header");
        let value = value.trim();
        if name.eq_ignore_ascii_case("Status") {
            let code = value.split(' ').next().unwrap_or("200");
            builder = builder.status(code.parse::<u16>().expect("a status code"));
        } else {
            builder = builder.header(name, value);
        }
    }
    builder
        .body(axum::body::Body::from(out[split.1..].to_vec()))
        .expect("a response")
}

/// Accepts TLS connections for axum; failed handshakes (a client that distrusts the
/// certificate) are skipped.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    tls: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(stream) = self.tls.accept(tcp).await {
                return (stream, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// A test CA (PEM) and a server certificate it signed for 127.0.0.1 and localhost.
fn certificates() -> (String, tokio_rustls::TlsAcceptor) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![cert.der().clone()],
        rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
    )
    .unwrap();
    (ca.pem(), tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// The running server (it lives as long as the test process).
pub struct GitServer {
    /// The test CA's certificate (PEM).
    pub ca_pem: String,
    /// Port of the https listener.
    pub https_port: u16,
    /// Port of the plain http listener.
    pub http_port: u16,
    /// What it serves and was asked.
    pub served: Arc<Served>,
}

/// Serves the repositories under `root` over https and http on free ports, on a thread of its
/// own (the fetches under test block), requiring `token` as basic auth's password.
pub fn serve(root: &Path, token: &str) -> GitServer {
    let served = Arc::new(Served {
        root: root.to_path_buf(),
        token: token.to_string(),
        log: Mutex::new(Vec::new()),
    });
    let (ca_pem, tls) = certificates();
    let (tx, rx) = std::sync::mpsc::channel();
    let state = served.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().expect("a runtime for the git server");
        rt.block_on(async move {
            let app = axum::Router::new().fallback(handle).with_state(state);
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            let plain = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("a port");
            let ports = (
                tcp.local_addr().expect("its address").port(),
                plain.local_addr().expect("its address").port(),
            );
            let _ = tx.send(ports);
            let https = axum::serve(TlsListener { tcp, tls }, app.clone());
            let http = axum::serve(plain, app);
            let _ = tokio::join!(https, http);
        });
    });
    let (https_port, http_port) = rx.recv().expect("the git server starts");
    GitServer {
        ca_pem,
        https_port,
        http_port,
        served,
    }
}
