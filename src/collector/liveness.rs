//! Is an address offline? (pure). Only a definite answer makes it so.

/// What Kubernetes says about the pod behind an address (operator only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodView {
    /// The pod exists and runs.
    Running,
    /// The pod is deleted, Succeeded or Failed.
    Gone,
}

/// What the pod monitor said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorAnswer {
    /// Status is one of the online values.
    Online,
    /// Status is something else (e.g. `Terminated`).
    NotRunning(String),
    /// HTTP 404: the monitor does not know the pod any more.
    Gone,
    /// Could not ask (unreachable, timeout, malformed answer): says nothing.
    Unknown(String),
}

/// Everything known about one address right now.
#[derive(Debug, Clone, Default)]
pub struct Evidence {
    /// The latest fetch succeeded.
    pub fetched: bool,
    /// Consecutive failed fetches, the latest included.
    pub failures: u32,
    /// Kubernetes' view, if it has one.
    pub pod: Option<PodView>,
    /// The pod monitor's answer, if asked.
    pub monitor: Option<MonitorAnswer>,
}

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Liveness {
    /// Answering.
    Online,
    /// Not answering now, but nothing definite: keep it.
    Unknown,
    /// Definitely gone: take a last snapshot if possible, then remove it from goc.
    Offline(String),
}

/// Decides liveness: a definite source (Kubernetes, the monitor) saying gone wins; otherwise
/// `threshold` consecutive failures with no source saying alive; otherwise not offline.
pub fn decide(e: &Evidence, threshold: u32) -> Liveness {
    if e.pod == Some(PodView::Gone) {
        return Liveness::Offline("pod deleted or finished".into());
    }
    match &e.monitor {
        Some(MonitorAnswer::Gone) => return Liveness::Offline("pod monitor: pod not found".into()),
        Some(MonitorAnswer::NotRunning(s)) => {
            return Liveness::Offline(format!("pod monitor: status {s}"));
        }
        _ => {}
    }
    if e.fetched {
        return Liveness::Online;
    }
    let alive_elsewhere =
        e.pod == Some(PodView::Running) || e.monitor == Some(MonitorAnswer::Online);
    if e.failures >= threshold.max(1) && !alive_elsewhere {
        return Liveness::Offline(format!("{} consecutive failed fetches", e.failures));
    }
    Liveness::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_definite_answers_are_offline() {
        let failing = |n| Evidence {
            failures: n,
            ..Evidence::default()
        };
        assert_eq!(decide(&failing(2), 3), Liveness::Unknown);
        assert!(matches!(decide(&failing(3), 3), Liveness::Offline(_)));
        let mut e = failing(5);
        e.monitor = Some(MonitorAnswer::Online);
        assert_eq!(decide(&e, 3), Liveness::Unknown);
        e.monitor = Some(MonitorAnswer::Unknown("timeout".into()));
        assert!(matches!(decide(&e, 3), Liveness::Offline(_)));
        let mut e = failing(1);
        e.monitor = Some(MonitorAnswer::Unknown("refused".into()));
        assert_eq!(decide(&e, 3), Liveness::Unknown);
        e.monitor = Some(MonitorAnswer::Gone);
        assert!(matches!(decide(&e, 3), Liveness::Offline(_)));
        let e = Evidence {
            fetched: true,
            pod: Some(PodView::Gone),
            ..Evidence::default()
        };
        assert!(matches!(decide(&e, 3), Liveness::Offline(_)));
        let e = Evidence {
            failures: 9,
            pod: Some(PodView::Running),
            ..Evidence::default()
        };
        assert_eq!(decide(&e, 3), Liveness::Unknown);
    }
}

/// Reads a pod monitor answer per the contract: 404 = gone; 2xx = JSON whose value at
/// `pointer` is online when it is one of `online`; anything else says nothing.
pub fn interpret_monitor(
    status: u16,
    body: &[u8],
    pointer: &str,
    online: &[String],
) -> MonitorAnswer {
    if status == 404 {
        return MonitorAnswer::Gone;
    }
    if !(200..300).contains(&status) {
        return MonitorAnswer::Unknown(format!("HTTP {status}"));
    }
    let json: serde_json::Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return MonitorAnswer::Unknown(format!("answer is not JSON: {e}")),
    };
    let value = match json.pointer(pointer) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => {
            return MonitorAnswer::Unknown(format!("no value at {pointer}"));
        }
        Some(other) => other.to_string(),
    };
    if online.contains(&value) {
        MonitorAnswer::Online
    } else {
        MonitorAnswer::NotRunning(value)
    }
}

#[cfg(test)]
mod monitor_tests {
    use super::*;

    #[test]
    fn contract() {
        let on = vec!["Running".to_string()];
        assert_eq!(
            interpret_monitor(404, b"", "/status", &on),
            MonitorAnswer::Gone
        );
        assert_eq!(
            interpret_monitor(200, br#"{"status":"Running"}"#, "/status", &on),
            MonitorAnswer::Online
        );
        assert_eq!(
            interpret_monitor(200, br#"{"pod":{"phase":"Failed"}}"#, "/pod/phase", &on),
            MonitorAnswer::NotRunning("Failed".into())
        );
        assert!(matches!(
            interpret_monitor(500, b"", "/status", &on),
            MonitorAnswer::Unknown(_)
        ));
        assert!(matches!(
            interpret_monitor(200, b"<html>", "/status", &on),
            MonitorAnswer::Unknown(_)
        ));
        assert!(matches!(
            interpret_monitor(200, b"{}", "/status", &on),
            MonitorAnswer::Unknown(_)
        ));
    }
}
