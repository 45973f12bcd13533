//! https (and http) repositories through goc-adapter's own smart-HTTP transport, against git's
//! real `git http-backend` behind a TLS server with a test CA and a token.

mod common;
mod tool_path;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use common::{branched_history, git_text as git};
use goc_adapter::source::{
    Credentials, FetchError, ensure_clone, ensure_merge_base, resolve_commit,
};
use tokio::io::AsyncWriteExt;

const TOKEN: &str = "t0ken-5ecret";

/// What the server serves and what it was asked.
struct Served {
    root: PathBuf,
    /// Request lines, `METHOD /path`.
    log: Mutex<Vec<String>>,
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
    if password.as_deref() != Some(TOKEN) {
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

/// Serves `root` over https and http on free ports, on a thread of its own (the fetches under
/// test block); returns the CA, both ports and the request log.
fn serve(root: &Path) -> (String, u16, u16, Arc<Served>) {
    let served = Arc::new(Served {
        root: root.to_path_buf(),
        log: Mutex::new(Vec::new()),
    });
    let (ca, tls) = certificates();
    let (tx, rx) = std::sync::mpsc::channel();
    let state = served.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().fallback(handle).with_state(state);
            let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let ports = (
                tcp.local_addr().unwrap().port(),
                plain.local_addr().unwrap().port(),
            );
            tx.send(ports).unwrap();
            let https = axum::serve(TlsListener { tcp, tls }, app.clone());
            let http = axum::serve(plain, app);
            let _ = tokio::join!(https, http);
        });
    });
    let (https, http) = rx.recv().expect("the server starts");
    (ca, https, http, served)
}

fn creds(token: Option<&Path>, ca: Option<&Path>) -> Credentials {
    Credentials {
        token_file: token.map(Path::to_path_buf),
        ca_file: ca.map(Path::to_path_buf),
        ..Credentials::default()
    }
}

fn clone_err(url: &str, dir: &Path, creds: &Credentials) -> FetchError {
    match ensure_clone(url, dir, creds) {
        Ok(_) => panic!("{url}: the clone should fail"),
        Err(e) => e,
    }
}

#[test]
fn https_repositories_clone_shallow_with_token_and_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // master: 70 commits, more than a first clone fetches; feature forks off the 10th.
    let (fork, feature) = branched_history(&src, 70, 10, 1);
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    git(
        tmp.path(),
        &["clone", "-q", "--bare", "src", "served/repo.git"],
    );
    let (ca_pem, https, http, served) = serve(&root);
    let secrets = tmp.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let ca = secrets.join("ca.crt");
    std::fs::write(&ca, &ca_pem).unwrap();
    let token = secrets.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let url = format!("https://oauth2@127.0.0.1:{https}/repo.git");
    let good = creds(Some(&token), Some(&ca));

    // Shallow clone, the feature tip, then the rest of the history for the merge-base.
    let repo = ensure_clone(&url, &home.join("a"), &good).expect("https clone");
    assert!(repo.is_shallow(), "cloned shallow over https");
    let full = resolve_commit(&repo, &url, &feature[..10], &good).expect("tip resolves");
    assert_eq!(full, feature);
    ensure_merge_base(&repo, &url, &good, "origin/master", &feature).expect("completed");
    assert!(!repo.is_shallow());
    let master = repo.revparse_single("origin/master").unwrap().id();
    let base = repo
        .merge_base(master, git2::Oid::from_str(&feature).unwrap())
        .unwrap();
    assert_eq!(base.to_string(), fork);

    // A redirected repository: the POSTs go where the refs came from.
    served.log.lock().unwrap().clear();
    let moved = format!("https://127.0.0.1:{https}/moved/repo.git");
    ensure_clone(&moved, &home.join("b"), &good).expect("redirected clone");
    let log = served.log.lock().unwrap().clone();
    assert!(
        log.contains(&"POST /repo.git/git-upload-pack".to_string())
            && !log.iter().any(|l| l.starts_with("POST /moved")),
        "{log:?}"
    );

    // As the collector fetches: on a blocking thread of the service's runtime (the transport
    // runs a runtime of its own there).
    let (u, d, c) = (url.clone(), home.join("j"), good.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(rt.spawn_blocking(move || ensure_clone(&u, &d, &c).map(|_| ())))
        .unwrap()
        .expect("clone on a blocking thread of a runtime");

    // Plain http works the same (no CA needed).
    let plain = format!("http://127.0.0.1:{http}/repo.git");
    ensure_clone(&plain, &home.join("c"), &creds(Some(&token), None)).expect("http clone");

    // No token: the error says how to give one.
    let e = clone_err(&url, &home.join("d"), &creds(None, Some(&ca))).to_string();
    assert!(
        e.contains("asks for credentials") && e.contains("tokenFile"),
        "{e}"
    );
    // A wrong token: the error names its file, never its content.
    let wrong = secrets.join("wrong");
    std::fs::write(&wrong, "n0t-it").unwrap();
    let e = clone_err(&url, &home.join("e"), &creds(Some(&wrong), Some(&ca)));
    assert!(matches!(e, FetchError::Refused { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("refused the token in") && e.contains("wrong"),
        "{e}"
    );
    assert!(!e.contains("n0t-it"), "the token is in the error: {e}");
    // The test CA not trusted: a certificate error.
    let e = clone_err(&url, &home.join("f"), &creds(Some(&token), None)).to_string();
    assert!(e.contains("certificate"), "{e}");
    assert!(!e.contains(TOKEN), "{e}");
    // No repository there: the server's answer.
    let missing = format!("https://127.0.0.1:{https}/nothing.git");
    let e = clone_err(&missing, &home.join("g"), &good).to_string();
    assert!(e.contains("404"), "{e}");
    // Unreadable settings name their file.
    let e = clone_err(
        &url,
        &home.join("h"),
        &creds(Some(&secrets.join("none")), None),
    );
    assert!(matches!(e, FetchError::Setup { .. }), "{e:?}");
    std::fs::write(secrets.join("bad.crt"), "not a certificate").unwrap();
    let e = clone_err(
        &url,
        &home.join("i"),
        &creds(Some(&token), Some(&secrets.join("bad.crt"))),
    )
    .to_string();
    assert!(
        e.contains("bad.crt") && e.contains("no PEM certificate"),
        "{e}"
    );
    // Nothing half-cloned is left by the failures.
    for d in ["d", "e", "f", "g", "h", "i"] {
        assert!(!home.join(d).exists(), "{d}");
    }
}
