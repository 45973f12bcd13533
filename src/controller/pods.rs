//! Pods as liveness evidence: which targets select a Pod, and what its state says about the
//! goc addresses on its IP (pure mapping; the watch loop is in `mod.rs`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::core::{Selector, SelectorExt};

use crate::target::Target;

/// What a Pod event means for the addresses on its IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodState {
    /// Running and not terminating.
    Running(String),
    /// Marked for deletion (or a container is terminating): sync now, while it still answers.
    Terminating(String),
    /// Deleted, Succeeded or Failed: its addresses are offline.
    Gone(String),
    /// No IP yet, or nothing to act on.
    Ignore,
}

/// Interprets a Pod (`deleted` = the watch reported its deletion).
pub fn pod_state(pod: &Pod, deleted: bool) -> PodState {
    let Some(status) = &pod.status else {
        return PodState::Ignore;
    };
    let Some(ip) = status.pod_ip.clone().filter(|ip| !ip.is_empty()) else {
        return PodState::Ignore;
    };
    if deleted {
        return PodState::Gone(ip);
    }
    match status.phase.as_deref() {
        Some("Succeeded") | Some("Failed") => return PodState::Gone(ip),
        _ => {}
    }
    let terminating_container = status.container_statuses.iter().flatten().any(|c| {
        c.state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .is_some()
    });
    if pod.metadata.deletion_timestamp.is_some() || terminating_container {
        return PodState::Terminating(ip);
    }
    if status.phase.as_deref() == Some("Running") {
        PodState::Running(ip)
    } else {
        PodState::Ignore
    }
}

/// Whether `target` selects `pod` (same namespace, label selector matches).
pub fn selects(target: &Target, pod: &Pod) -> bool {
    let Some(pods) = &target.spec.pods else {
        return false;
    };
    if target.namespace.as_deref() != pod.metadata.namespace.as_deref() {
        return false;
    }
    let Ok(selector) = Selector::try_from(pods.selector.clone()) else {
        return false;
    };
    let empty = BTreeMap::new();
    selector.matches(pod.metadata.labels.as_ref().unwrap_or(&empty))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::PodStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};

    fn pod(phase: &str, ip: Option<&str>) -> Pod {
        let mut p = Pod::default();
        p.metadata.namespace = Some("ns".into());
        p.metadata.labels = Some([("app".to_string(), "echo".to_string())].into());
        p.status = Some(PodStatus {
            phase: Some(phase.into()),
            pod_ip: ip.map(str::to_string),
            ..PodStatus::default()
        });
        p
    }

    #[test]
    fn states() {
        assert_eq!(
            pod_state(&pod("Running", Some("10.0.0.1")), false),
            PodState::Running("10.0.0.1".into())
        );
        assert_eq!(
            pod_state(&pod("Running", Some("10.0.0.1")), true),
            PodState::Gone("10.0.0.1".into())
        );
        assert_eq!(
            pod_state(&pod("Failed", Some("10.0.0.1")), false),
            PodState::Gone("10.0.0.1".into())
        );
        assert_eq!(pod_state(&pod("Pending", None), false), PodState::Ignore);
        let mut p = pod("Running", Some("10.0.0.1"));
        p.metadata.deletion_timestamp = Some(Time(jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(
            pod_state(&p, false),
            PodState::Terminating("10.0.0.1".into())
        );
    }

    #[test]
    fn selection() {
        let spec: crate::target::CoverageTargetSpec = serde_json::from_value(serde_json::json!({
            "gocServer": "http://goc:7777", "repo": {"url": "/r"},
            "pods": {"selector": {"matchLabels": {"app": "echo"}}}
        }))
        .unwrap();
        let t = Target::from_spec("t", Some("ns"), &spec).unwrap();
        assert!(selects(&t, &pod("Running", None)));
        let mut other = pod("Running", None);
        other.metadata.namespace = Some("other".into());
        assert!(!selects(&t, &other));
        let mut t2 = t.clone();
        t2.spec.pods = Some(crate::target::PodsSpec {
            selector: LabelSelector::default(),
        });
        assert!(selects(&t2, &pod("Running", None)));
    }
}
