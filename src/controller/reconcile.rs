//! Reconciling one CoverageTarget: validate, hand it to the collector, write status.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::{Resource, ResourceExt};

use super::status::{StatusInput, build};
use super::{FIELD_MANAGER, FINALIZER};
use crate::collector::Collector;
use crate::target::{CoverageTarget, CoverageTargetStatus, Target};

/// Errors of a reconcile (retried by the error policy).
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The API server refused or failed.
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    /// The finalizer helper failed.
    #[error("finalizer: {0}")]
    Finalizer(String),
    /// The target has no namespace (it is namespaced; should not happen).
    #[error("target {0} has no namespace")]
    NoNamespace(String),
}

/// Shared state of reconciles.
pub struct Context {
    /// API client.
    pub client: kube::Client,
    /// The collector.
    pub collector: Arc<Collector>,
    /// Event recorder.
    pub recorder: Recorder,
    /// Whether this replica holds the lease.
    pub leader: tokio::sync::watch::Receiver<bool>,
}

/// How often a healthy target is looked at again (status refresh).
const REQUEUE: Duration = Duration::from_secs(15);

/// The reconcile entry point.
pub async fn reconcile(
    obj: Arc<CoverageTarget>,
    ctx: Arc<Context>,
) -> Result<Action, ReconcileError> {
    if !*ctx.leader.borrow() {
        // A standby replica leaves targets, finalizers and status to the leader.
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let ns = obj
        .namespace()
        .ok_or_else(|| ReconcileError::NoNamespace(obj.name_any()))?;
    let api: Api<CoverageTarget> = Api::namespaced(ctx.client.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalizer::Apply(t) => apply(t, ctx.clone()).await,
            Finalizer::Cleanup(t) => cleanup(t, ctx.clone()).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => ReconcileError::Finalizer(other.to_string()),
    })
}

/// Requeue policy on errors.
pub fn error_policy(obj: Arc<CoverageTarget>, err: &ReconcileError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(target = %obj.name_any(), error = %err, "reconcile failed");
    Action::requeue(Duration::from_secs(30))
}

async fn git_credentials(
    obj: &CoverageTarget,
    ns: &str,
    ctx: &Context,
    target: &mut Target,
) -> Result<(), String> {
    let Some(sr) = &obj.spec.repo.secret_ref else {
        return Ok(());
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let secret = secrets
        .get(&sr.name)
        .await
        .map_err(|e| format!("spec.repo.secretRef: Secret {ns}/{}: {e}", sr.name))?;
    let dir = ctx
        .collector
        .store()
        .home()
        .join(".credentials")
        .join(format!("{ns}_{}", target.name));
    let files = super::credentials::materialize(&dir, &secret.data.unwrap_or_default())
        .map_err(|e| format!("writing git credentials of {ns}/{}: {e}", target.name))?;
    let path = |p: Option<std::path::PathBuf>| p.map(|p| p.display().to_string());
    target.ssh_key_file = path(files.ssh_key);
    target.known_hosts_file = path(files.known_hosts);
    target.token_file = path(files.token);
    target.ca_file = path(files.ca);
    Ok(())
}

async fn apply(obj: Arc<CoverageTarget>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let ns = obj.namespace().unwrap_or_default();
    let name = obj.name_any();
    let key = format!("{ns}/{name}");
    let mut spec_error = None;
    match Target::from_spec(&name, Some(&ns), &obj.spec) {
        Ok(mut target) => match git_credentials(&obj, &ns, &ctx, &mut target).await {
            Ok(()) => {
                if let Err(e) = ctx.collector.upsert_target(target) {
                    spec_error = Some(e.to_string());
                }
            }
            Err(e) => spec_error = Some(e),
        },
        Err(e) => spec_error = Some(e.to_string()),
    }
    if spec_error.is_some() {
        ctx.collector.remove_target(&key);
    }
    let states: Vec<_> = ctx
        .collector
        .entries()
        .iter()
        .map(|e| e.view())
        .filter(|s| s.target == key)
        .collect();
    let previous = obj.status.as_ref();
    let thresholds = obj.spec.thresholds.clone().unwrap_or_default();
    let status = build(&StatusInput {
        generation: obj.metadata.generation,
        spec_error: spec_error.as_deref(),
        states: &states,
        thresholds: &thresholds,
        previous,
        now: jiff::Timestamp::now(),
        store: ctx.collector.store(),
    });
    if previous != Some(&status) {
        publish_transitions(&obj, previous, &status, &ctx).await;
        let api: Api<CoverageTarget> = Api::namespaced(ctx.client.clone(), &ns);
        let patch = serde_json::json!({
            "apiVersion": "coverage.goc-adapter.io/v1alpha1",
            "kind": "CoverageTarget",
            "status": status,
        });
        api.patch_status(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(patch),
        )
        .await?;
    }
    Ok(Action::requeue(if spec_error.is_some() {
        Duration::from_secs(300)
    } else {
        REQUEUE
    }))
}

async fn publish_transitions(
    obj: &CoverageTarget,
    prev: Option<&CoverageTargetStatus>,
    new: &CoverageTargetStatus,
    ctx: &Context,
) {
    let status_of = |s: Option<&CoverageTargetStatus>, t: &str| {
        s.and_then(|s| s.conditions.iter().find(|c| c.type_ == t))
            .map(|c| (c.status.clone(), c.message.clone()))
    };
    for (type_, reason_true, reason_false) in [
        ("ThresholdsMet", "ThresholdsMet", "ThresholdsMissed"),
        ("Ready", "SpecValid", "InvalidSpec"),
    ] {
        let before = status_of(prev, type_);
        let Some((after, message)) = status_of(Some(new), type_) else {
            continue;
        };
        if before.as_ref().map(|b| &b.0) == Some(&after) || after == "Unknown" {
            continue;
        }
        let ok = after == "True";
        let ev = Event {
            type_: if ok {
                EventType::Normal
            } else {
                EventType::Warning
            },
            reason: (if ok { reason_true } else { reason_false }).to_string(),
            note: Some(message),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, "publishing an event failed");
        }
    }
}

async fn cleanup(obj: Arc<CoverageTarget>, ctx: Arc<Context>) -> Result<Action, ReconcileError> {
    let key = format!("{}/{}", obj.namespace().unwrap_or_default(), obj.name_any());
    // Stop the schedule; keep every stored profile and report (served from history).
    ctx.collector.remove_target(&key);
    tracing::info!(target = %key, "target deleted: collection stopped, data kept");
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    //! Reconcile against a mocked API server (tower-test), as kube-rs' controller-rs does.
    use super::*;
    use http::{Request, Response};
    use kube::client::Body;
    use kube::runtime::events::Reporter;

    type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

    fn target(spec: serde_json::Value) -> CoverageTarget {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "coverage.goc-adapter.io/v1alpha1",
            "kind": "CoverageTarget",
            "metadata": {"name": "t", "namespace": "ns", "generation": 2,
                          "finalizers": [FINALIZER], "uid": "u1", "resourceVersion": "1"},
            "spec": spec
        }))
        .unwrap()
    }

    async fn body_json(req: Request<Body>) -> serde_json::Value {
        let bytes = req.into_body().collect_bytes().await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn context(client: kube::Client, home: &std::path::Path) -> Arc<Context> {
        let store = crate::store::Store::open(home).unwrap();
        let collector = Arc::new(Collector::new(store, vec![], Default::default()).unwrap());
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: "test".into(),
                instance: None,
            },
        );
        let (_tx, leader) = tokio::sync::watch::channel(true);
        // Keep the sender alive for the test's duration by leaking it (the value never changes).
        std::mem::forget(_tx);
        Arc::new(Context {
            client,
            collector,
            recorder,
            leader,
        })
    }

    /// Answers event POSTs until the status patch comes, then checks and answers it.
    async fn expect_event_then_status(mut handle: Handle, check: impl FnOnce(&serde_json::Value)) {
        let mut events = 0;
        let (req, send) = loop {
            let (req, send) = handle.next_request().await.expect("a request");
            if req.method() != http::Method::POST {
                break (req, send);
            }
            assert!(req.uri().path().contains("/events"), "{}", req.uri());
            events += 1;
            let ev = body_json(req).await;
            send.send_response(
                Response::builder()
                    .status(201)
                    .body(Body::from(serde_json::to_vec(&ev).unwrap()))
                    .unwrap(),
            );
        };
        assert!(events >= 1, "a condition change publishes an event");
        assert_eq!(req.method(), http::Method::PATCH);
        assert_eq!(
            req.uri().path(),
            "/apis/coverage.goc-adapter.io/v1alpha1/namespaces/ns/coveragetargets/t/status"
        );
        let q = req.uri().query().unwrap_or("").to_string();
        assert!(
            q.contains("fieldManager=goc-adapter") && q.contains("force=true"),
            "{q}"
        );
        let patch = body_json(req).await;
        check(&patch);
        let mut obj = serde_json::to_value(target(
            serde_json::json!({"gocServer": "http://x:1", "repo": {"url": "/r"}}),
        ))
        .unwrap();
        obj["status"] = patch["status"].clone();
        send.send_response(
            Response::builder()
                .body(Body::from(serde_json::to_vec(&obj).unwrap()))
                .unwrap(),
        );
    }

    #[tokio::test]
    async fn invalid_spec_becomes_a_condition_not_a_stall() {
        let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(svc, "default");
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(client, dir.path());
        let server = tokio::spawn(expect_event_then_status(handle, |patch| {
            assert_eq!(patch["status"]["phase"], "Invalid");
            let c = &patch["status"]["conditions"][0];
            assert_eq!(
                (
                    c["type"].as_str(),
                    c["status"].as_str(),
                    c["reason"].as_str()
                ),
                (Some("Ready"), Some("False"), Some("InvalidSpec"))
            );
            assert!(c["message"].as_str().unwrap().contains("spec.gocServer"));
            assert_eq!(patch["status"]["observedGeneration"], 2);
        }));
        let obj = Arc::new(target(
            serde_json::json!({"gocServer": "not a url", "repo": {"url": "/r"}}),
        ));
        let action = reconcile(obj, ctx).await.expect("reconcile");
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("timeout")
            .expect("server");
    }

    #[tokio::test]
    async fn valid_spec_registers_the_target_and_reports_no_services_yet() {
        let (svc, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(svc, "default");
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(client, dir.path());
        let server = tokio::spawn(expect_event_then_status(handle, |patch| {
            assert_eq!(patch["status"]["phase"], "Pending");
            assert_eq!(patch["status"]["serviceCount"], 0);
            let types: Vec<&str> = patch["status"]["conditions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["type"].as_str().unwrap())
                .collect();
            assert_eq!(types, ["Ready", "Synced", "ThresholdsMet"]);
        }));
        let obj = Arc::new(target(
            serde_json::json!({"gocServer": "http://127.0.0.1:1", "repo": {"url": "/r"}}),
        ));
        let action = reconcile(obj, ctx.clone()).await.expect("reconcile");
        assert_eq!(action, Action::requeue(REQUEUE));
        assert!(ctx.collector.target("ns/t").is_some());
        tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("timeout")
            .expect("server");
    }
}
