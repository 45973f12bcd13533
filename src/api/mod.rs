//! The HTTP API and portal (axum). Reads are served from files already built; the only
//! writes are sync triggers, which go through the collector.

mod cache;
mod openapi;
mod portal;
mod summary;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use crate::collector::{Collector, CollectorError, NameEntry};
use crate::store::ReportKind;
use crate::target::validate_path_segment;

pub use cache::FileCache;
pub use summary::{Detail, Summary};

/// Shared state of the HTTP handlers.
pub struct ApiState {
    /// The collector (reads its stored state, triggers syncs).
    pub collector: Arc<Collector>,
    /// Set once targets are loaded and the first list was attempted.
    pub ready: AtomicBool,
    /// Bearer token required by write endpoints, when set.
    pub write_token: Option<String>,
    /// False on a replica that is not the leader: write endpoints answer 503.
    pub writable: Arc<AtomicBool>,
    /// Report and profile files in memory.
    pub files: FileCache,
}

/// Builds the router.
pub fn router(state: Arc<ApiState>) -> Router {
    Router::new()
        .route("/", get(portal_page))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/openapi.json", get(openapi_doc))
        .route("/api/v1/services", get(list_services))
        .route("/api/v1/services/{name}", get(service_detail))
        .route("/api/v1/services/{name}/report", get(report))
        .route("/api/v1/services/{name}/diff", get(diff))
        .route("/api/v1/services/{name}/profile", get(profile))
        .route("/api/v1/services/{name}/sync", post(sync))
        .route("/api/v1/services/{name}/clear", post(clear))
        .route("/api/v1/hooks/prestop", post(prestop))
        .with_state(state)
}

/// An API error: a status and a JSON `{"error": ...}` body.
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<CollectorError> for ApiError {
    fn from(e: CollectorError) -> ApiError {
        let status = match e {
            CollectorError::UnknownName(_) => StatusCode::NOT_FOUND,
            CollectorError::Orphan(_) => StatusCode::CONFLICT,
            CollectorError::Goc(_) => StatusCode::BAD_GATEWAY,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

fn lookup(st: &ApiState, name: &str) -> Result<Arc<NameEntry>, ApiError> {
    validate_path_segment(name)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, format!("invalid service name {e}")))?;
    st.collector
        .entry(name)
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("unknown service {name:?}")))
}

fn check_write(st: &ApiState, headers: &HeaderMap) -> Result<(), ApiError> {
    if !st.writable.load(Ordering::Relaxed) {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "this replica is not the leader; write requests go to the leader".into(),
        ));
    }
    let Some(token) = &st.write_token else {
        return Ok(());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    // Constant-time comparison: the token must not leak through timing.
    let ok = given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if ok {
        Ok(())
    } else {
        Err(ApiError(
            StatusCode::UNAUTHORIZED,
            "missing or wrong bearer token".into(),
        ))
    }
}

async fn readyz(State(st): State<Arc<ApiState>>) -> Response {
    if st.ready.load(Ordering::Relaxed) {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(st): State<Arc<ApiState>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.collector.metrics.encode(),
    )
        .into_response()
}

async fn openapi_doc() -> Response {
    axum::Json(openapi::document()).into_response()
}

async fn portal_page(State(st): State<Arc<ApiState>>) -> Response {
    let states: Vec<_> = st.collector.entries().iter().map(|e| e.view()).collect();
    axum::response::Html(portal::render(&states)).into_response()
}

async fn list_services(State(st): State<Arc<ApiState>>) -> Response {
    let services: Vec<Summary> = st
        .collector
        .entries()
        .iter()
        .map(|e| Summary::of(&e.view()))
        .collect();
    axum::Json(serde_json::json!({ "services": services })).into_response()
}

async fn service_detail(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let e = lookup(&st, &name)?;
    Ok(axum::Json(Detail::of(&e.view())).into_response())
}

#[derive(Deserialize)]
struct FormatQuery {
    format: Option<String>,
}

async fn serve_file(
    st: &ApiState,
    entry: &NameEntry,
    kind: ReportKind,
) -> Result<Response, ApiError> {
    let path = st
        .collector
        .store()
        .report_path(&entry.parts, kind)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.to_string()))?;
    match st.files.read(&path).await {
        Ok(bytes) => Ok((
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(kind.content_type()),
            )],
            bytes,
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "{} has no {} report yet",
                entry.parts.name,
                kind.suffix().trim_start_matches('_')
            ),
        )),
        Err(e) => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {e}", path.display()),
        )),
    }
}

/// Maps `?format=` (default `html`) to a report kind, or a 400 naming the choices.
fn pick_format(
    given: Option<&str>,
    choices: &[(&str, ReportKind)],
) -> Result<ReportKind, ApiError> {
    let want = given.unwrap_or("html");
    choices
        .iter()
        .find(|(name, _)| *name == want)
        .map(|(_, kind)| *kind)
        .ok_or_else(|| {
            let names: Vec<&str> = choices.iter().map(|(n, _)| *n).collect();
            ApiError(
                StatusCode::BAD_REQUEST,
                format!("format {want:?}: want one of {}", names.join(", ")),
            )
        })
}

async fn report(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let e = lookup(&st, &name)?;
    let kind = pick_format(
        q.format.as_deref(),
        &[
            ("func", ReportKind::Func),
            ("html", ReportKind::Html),
            ("json", ReportKind::Json),
        ],
    )?;
    serve_file(&st, &e, kind).await
}

async fn diff(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Query<FormatQuery>,
) -> Result<Response, ApiError> {
    let e = lookup(&st, &name)?;
    let kind = pick_format(
        q.format.as_deref(),
        &[
            ("text", ReportKind::DiffText),
            ("json", ReportKind::DiffJson),
            ("html", ReportKind::DiffHtml),
            ("markdown", ReportKind::DiffMarkdown),
        ],
    )?;
    serve_file(&st, &e, kind).await
}

#[derive(Deserialize)]
struct HistoryQuery {
    history: Option<u32>,
}

async fn profile(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Result<Response, ApiError> {
    let e = lookup(&st, &name)?;
    let store = st.collector.store();
    let path = match q.history {
        None | Some(0) => store.profile_path(&e.parts),
        Some(n) => store.history_path(&e.parts, n),
    }
    .map_err(|err| ApiError(StatusCode::BAD_REQUEST, err.to_string()))?;
    match st.files.read(&path).await {
        Ok(bytes) => {
            Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], bytes).into_response())
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!(
                "{name} has no stored profile{}",
                q.history.map(|n| format!(" #{n}")).unwrap_or_default()
            ),
        )),
        Err(err) => Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{}: {err}", path.display()),
        )),
    }
}

async fn sync(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_write(&st, &headers)?;
    lookup(&st, &name)?;
    let state = st.collector.sync_now(&name).await?;
    Ok(axum::Json(Summary::of(&state)).into_response())
}

async fn clear(
    State(st): State<Arc<ApiState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_write(&st, &headers)?;
    lookup(&st, &name)?;
    let state = st.collector.clear(&name).await?;
    Ok(axum::Json(Summary::of(&state)).into_response())
}

/// Who is about to stop: an agent address, a pod IP, or (operator) a pod name.
#[derive(Deserialize, Default)]
struct PrestopQuery {
    address: Option<String>,
    ip: Option<String>,
    pod: Option<String>,
    namespace: Option<String>,
}

/// Longest a preStop call waits for the snapshot: kubelet's grace period must exceed it.
const PRESTOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

async fn prestop(
    State(st): State<Arc<ApiState>>,
    Query(q): Query<PrestopQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    check_write(&st, &headers)?;
    // Parameters may come as a query string or a JSON body (whichever is easier from a hook).
    let q = if body.is_empty() {
        q
    } else {
        let b: PrestopQuery = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .map(|v| PrestopQuery {
                address: v
                    .get("address")
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
                ip: v.get("ip").and_then(|x| x.as_str()).map(str::to_string),
                pod: v.get("pod").and_then(|x| x.as_str()).map(str::to_string),
                namespace: v
                    .get("namespace")
                    .and_then(|x| x.as_str())
                    .map(str::to_string),
            })
            .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "body is not a JSON object".into()))?;
        PrestopQuery {
            address: b.address.or(q.address),
            ip: b.ip.or(q.ip),
            pod: b.pod.or(q.pod),
            namespace: b.namespace.or(q.namespace),
        }
    };
    let addresses = if let Some(a) = q.address.filter(|a| !a.is_empty()) {
        vec![a]
    } else if let Some(ip) = q.ip.filter(|i| !i.is_empty()) {
        st.collector.addresses_with_ip(&ip)
    } else if let Some(pod) = q.pod.filter(|p| !p.is_empty()) {
        let Some(ip) = st.collector.pod_ip(q.namespace.as_deref(), &pod) else {
            return Err(ApiError(
                StatusCode::NOT_FOUND,
                format!(
                    "pod {pod:?} is not known (pod names resolve only in the operator; send ip or address)"
                ),
            ));
        };
        st.collector.addresses_with_ip(&ip)
    } else {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            "give one of address, ip or pod".into(),
        ));
    };
    if addresses.is_empty() {
        return Err(ApiError(
            StatusCode::NOT_FOUND,
            "no live goc address matches".into(),
        ));
    }
    match tokio::time::timeout(PRESTOP_TIMEOUT, st.collector.sync_addresses(&addresses)).await {
        Ok(Ok(states)) => {
            let names: Vec<&str> = states.iter().map(|s| s.parts.name.as_str()).collect();
            Ok(
                axum::Json(serde_json::json!({ "synced": names, "addresses": addresses }))
                    .into_response(),
            )
        }
        Ok(Err(e)) => Err(e.into()),
        Err(_) => Err(ApiError(
            StatusCode::GATEWAY_TIMEOUT,
            format!(
                "snapshot of {} not stored within {}s",
                addresses.join(", "),
                PRESTOP_TIMEOUT.as_secs()
            ),
        )),
    }
}
