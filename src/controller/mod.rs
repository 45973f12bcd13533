//! The Kubernetes operator: CoverageTargets drive the collector; Pods are liveness evidence;
//! status, events and a leader lease make it a well-behaved controller.

mod credentials;
pub mod pods;
mod reconcile;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client};

use crate::collector::liveness::PodView;
use crate::collector::{Collector, CollectorEvent};
use pods::PodState;
pub use reconcile::{Context, ReconcileError};

/// Finalizer that stops a deleted target's schedule.
pub const FINALIZER: &str = "coverage.goc-adapter.io/cleanup";
/// Server-side apply field manager of the status.
pub const FIELD_MANAGER: &str = "goc-adapter";

/// Failures that stop the controller.
#[derive(Debug, thiserror::Error)]
pub enum ControllerError {
    /// No usable Kubernetes configuration.
    #[error("kubernetes client: {0}")]
    Client(#[from] kube::Error),
    /// The lease manager failed to start.
    #[error("leader election: {0}")]
    Lease(String),
}

/// Where the lease lives and who we are.
pub struct LeaseOptions {
    /// Namespace of the Lease.
    pub namespace: String,
    /// Lease name.
    pub name: String,
    /// This replica's identity (pod name).
    pub identity: String,
}

/// Runs leader election, the Pod watch, the event forwarder and the CoverageTarget controller
/// until a shutdown signal. `writable` follows leadership (the API's write endpoints).
pub async fn run(
    client: Client,
    collector: Arc<Collector>,
    lease: LeaseOptions,
    writable: Arc<std::sync::atomic::AtomicBool>,
    namespace: Option<String>,
) -> Result<(), ControllerError> {
    let manager = kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &lease.name)
        .with_namespace(&lease.namespace)
        .with_identity(&lease.identity)
        .with_duration(15)
        .with_grace(5)
        .build()
        .await
        .map_err(|e| ControllerError::Lease(e.to_string()))?;
    let (leader, _lease_task) = manager.watch().await;
    collector.set_active(false);
    {
        let mut leader = leader.clone();
        let collector = collector.clone();
        let writable = writable.clone();
        let identity = lease.identity.clone();
        tokio::spawn(async move {
            loop {
                let is_leader = *leader.borrow_and_update();
                tracing::info!(%identity, leader = is_leader, "leadership");
                if is_leader {
                    // Pick up whatever the previous leader stored before taking over.
                    collector.reload_from_disk();
                }
                collector.set_active(is_leader);
                writable.store(is_leader, std::sync::atomic::Ordering::Relaxed);
                if leader.changed().await.is_err() {
                    collector.set_active(false);
                    writable.store(false, std::sync::atomic::Ordering::Relaxed);
                    return;
                }
            }
        });
    }
    // A standby serves reads from the shared volume: refresh its view now and then.
    {
        let collector = collector.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                if !collector.is_active() {
                    collector.reload_from_disk();
                }
            }
        });
    }
    let reporter = Reporter {
        controller: "goc-adapter".into(),
        instance: Some(lease.identity.clone()),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    tokio::spawn(forward_events(collector.clone(), recorder.clone()));
    let pods: Api<Pod> = match &namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    tokio::spawn(watch_pods(pods, collector.clone()));
    let ctx = Arc::new(Context {
        client: client.clone(),
        collector,
        recorder,
        leader,
    });
    let targets: Api<crate::target::CoverageTarget> = match &namespace {
        Some(ns) => Api::namespaced(client, ns),
        None => Api::all(client),
    };
    Controller::new(targets, watcher::Config::default().any_semantic())
        .shutdown_on_signal()
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|res| async move {
            if let Err(e) = res {
                tracing::debug!(error = %e, "reconcile error");
            }
        })
        .await;
    Ok(())
}

fn target_ref(key: &str) -> ObjectReference {
    let (ns, name) = key.split_once('/').unwrap_or(("", key));
    ObjectReference {
        api_version: Some("coverage.goc-adapter.io/v1alpha1".into()),
        kind: Some("CoverageTarget".into()),
        name: Some(name.into()),
        namespace: Some(ns.into()),
        ..ObjectReference::default()
    }
}

/// Turns collector events into Kubernetes Events on the owning target.
async fn forward_events(collector: Arc<Collector>, recorder: Recorder) {
    let mut rx = collector.subscribe();
    loop {
        let ev = match rx.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(skipped = n, "events dropped");
                continue;
            }
            Err(_) => return,
        };
        let (key, event) = match ev {
            CollectorEvent::Removed {
                target,
                name,
                address,
                reason,
            } => (
                target,
                Event {
                    type_: EventType::Normal,
                    reason: "AddressRemoved".into(),
                    note: Some(format!(
                        "{name}: removed {address} from the goc server ({reason})"
                    )),
                    action: "Remove".into(),
                    secondary: None,
                },
            ),
            CollectorEvent::SyncFailed {
                target,
                name,
                message,
            } => (
                target,
                Event {
                    type_: EventType::Warning,
                    reason: "SyncFailed".into(),
                    note: Some(truncate(&format!("{name}: {message}"), 1000)),
                    action: "Sync".into(),
                    secondary: None,
                },
            ),
        };
        if let Err(e) = recorder.publish(&event, &target_ref(&key)).await {
            tracing::warn!(error = %e, "publishing an event failed");
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Watches Pods (pruned to what liveness needs) and feeds the collector.
async fn watch_pods(pods: Api<Pod>, collector: Arc<Collector>) {
    let stream = watcher(pods, watcher::Config::default().any_semantic())
        .default_backoff()
        .modify(|pod| {
            // Keep memory small: only metadata labels/deletion and status matter.
            pod.metadata.managed_fields = None;
            pod.metadata.annotations = None;
            pod.spec = None;
        });
    let mut stream = std::pin::pin!(stream);
    while let Some(ev) = stream.next().await {
        let (pod, deleted) = match ev {
            Ok(watcher::Event::Apply(p)) | Ok(watcher::Event::InitApply(p)) => (p, false),
            Ok(watcher::Event::Delete(p)) => (p, true),
            Ok(_) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "pod watch error (retrying with backoff)");
                continue;
            }
        };
        on_pod(&collector, &pod, deleted).await;
    }
}

async fn on_pod(collector: &Arc<Collector>, pod: &Pod, deleted: bool) {
    let selected = collector
        .targets()
        .iter()
        .any(|t| pods::selects(&t.target, pod));
    if !selected {
        return;
    }
    if let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) {
        let ip = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref());
        collector.set_pod_ip(ns, name, if deleted { None } else { ip });
    }
    match pods::pod_state(pod, deleted) {
        PodState::Running(ip) => collector.set_pod_view(&ip, Some(PodView::Running)),
        PodState::Terminating(ip) => {
            // Still answering: take its last counts now, ahead of the schedule.
            collector.set_pod_view(&ip, Some(PodView::Running));
            sync_ip(collector, &ip, "terminating");
        }
        PodState::Gone(ip) => {
            collector.set_pod_view(&ip, Some(PodView::Gone));
            sync_ip(collector, &ip, "gone");
        }
        PodState::Ignore => {}
    }
}

fn sync_ip(collector: &Arc<Collector>, ip: &str, why: &'static str) {
    if !collector.is_active() {
        return;
    }
    for entry in collector.entries_with_ip(ip) {
        let c = collector.clone();
        let ip = ip.to_string();
        tokio::spawn(async move {
            tracing::info!(name = %entry.parts.name, %ip, why, "pod event: syncing now");
            if let Err(e) = c.sync_entry(&entry, true).await {
                tracing::warn!(name = %entry.parts.name, error = %e, "pod-triggered sync failed");
            }
        });
    }
}
