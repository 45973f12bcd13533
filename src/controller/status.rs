//! CoverageTarget status from the collector's state (pure). Stable: the same inputs give the
//! same status, and `lastTransitionTime` moves only when a condition's status really changes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

use crate::store::{NameState, ReportKind, Store};
use crate::target::{CoverageTargetStatus, ReportLocation, ServiceStatus, ThresholdsSpec};

/// Inputs of a status computation.
pub struct StatusInput<'a> {
    /// metadata.generation of the target.
    pub generation: Option<i64>,
    /// Why the spec is unusable, if it is.
    pub spec_error: Option<&'a str>,
    /// States of the names this target owns.
    pub states: &'a [NameState],
    /// Thresholds.
    pub thresholds: &'a ThresholdsSpec,
    /// The status currently stored (for transition times).
    pub previous: Option<&'a CoverageTargetStatus>,
    /// Now, used only for a condition whose status changes.
    pub now: jiff::Timestamp,
    /// The store (report paths).
    pub store: &'a Store,
}

fn condition(
    prev: Option<&CoverageTargetStatus>,
    now: jiff::Timestamp,
    type_: &str,
    status: &str,
    reason: &str,
    message: String,
    generation: Option<i64>,
) -> Condition {
    let last = prev
        .and_then(|p| p.conditions.iter().find(|c| c.type_ == type_))
        .filter(|c| c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message,
        last_transition_time: last,
        observed_generation: generation,
    }
}

fn pct(v: Option<f64>) -> Option<String> {
    v.map(|p| format!("{p:.1}%"))
}

/// Computes the status.
pub fn build(input: &StatusInput<'_>) -> CoverageTargetStatus {
    let StatusInput {
        generation,
        spec_error,
        states,
        thresholds,
        previous,
        now,
        store,
    } = *input;
    let mut conditions = Vec::new();
    if let Some(err) = spec_error {
        conditions.push(condition(
            previous,
            now,
            "Ready",
            "False",
            "InvalidSpec",
            err.to_string(),
            generation,
        ));
        return CoverageTargetStatus {
            observed_generation: generation,
            phase: Some("Invalid".into()),
            conditions,
            ..CoverageTargetStatus::default()
        };
    }
    conditions.push(condition(
        previous,
        now,
        "Ready",
        "True",
        "SpecValid",
        "target is being collected".into(),
        generation,
    ));
    let synced: Vec<&NameState> = states.iter().filter(|s| s.last_sync.is_some()).collect();
    let failing: Vec<&NameState> = states.iter().filter(|s| s.last_error.is_some()).collect();
    let (sync_status, sync_reason, sync_msg) = if states.is_empty() {
        (
            "Unknown",
            "NoServices",
            "no registered name matches this target yet".to_string(),
        )
    } else if !failing.is_empty() {
        (
            "False",
            "SyncErrors",
            format!(
                "{} of {} services had errors; first: {}: {}",
                failing.len(),
                states.len(),
                failing[0].parts.name,
                failing[0].last_error.clone().unwrap_or_default()
            ),
        )
    } else if synced.len() < states.len() {
        (
            "Unknown",
            "Pending",
            format!("{} of {} services synced", synced.len(), states.len()),
        )
    } else {
        (
            "True",
            "AllSynced",
            format!("{} services synced", states.len()),
        )
    };
    conditions.push(condition(
        previous,
        now,
        "Synced",
        sync_status,
        sync_reason,
        sync_msg,
        generation,
    ));
    let min_line = states
        .iter()
        .filter_map(|s| s.line_percent)
        .reduce(f64::min);
    let min_diff = states
        .iter()
        .filter_map(|s| s.diff_percent)
        .reduce(f64::min);
    let mut misses = Vec::new();
    if let (Some(want), Some(have)) = (thresholds.line, min_line)
        && have < want
    {
        misses.push(format!("line {have:.1}% < {want:.1}%"));
    }
    if let (Some(want), Some(have)) = (thresholds.diff, min_diff)
        && have < want
    {
        misses.push(format!("diff {have:.1}% < {want:.1}%"));
    }
    let has_thresholds = thresholds.line.is_some() || thresholds.diff.is_some();
    let measured = (thresholds.line.is_none() || min_line.is_some())
        && (thresholds.diff.is_none() || min_diff.is_some());
    let (t_status, t_reason, t_msg) = if !has_thresholds {
        (
            "True",
            "NoThresholds",
            "no thresholds configured".to_string(),
        )
    } else if !misses.is_empty() {
        ("False", "BelowThreshold", misses.join(", "))
    } else if !measured {
        (
            "Unknown",
            "NotMeasured",
            "no coverage measured yet".to_string(),
        )
    } else {
        (
            "True",
            "AboveThreshold",
            "coverage meets the thresholds".to_string(),
        )
    };
    conditions.push(condition(
        previous,
        now,
        "ThresholdsMet",
        t_status,
        t_reason,
        t_msg,
        generation,
    ));
    let phase = match sync_status {
        "True" => "Ready",
        "False" => "Degraded",
        _ => "Pending",
    };
    let services = states
        .iter()
        .map(|s| {
            let base = format!("/api/v1/services/{}", s.parts.name);
            let loc = |kind: ReportKind, url: String| ReportLocation {
                kind: kind.suffix().trim_start_matches('_').to_string(),
                path: store
                    .report_path(&s.parts, kind)
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                url,
            };
            ServiceStatus {
                name: s.parts.name.clone(),
                branch: s.parts.branch.clone(),
                commit: s.parts.commit.clone(),
                online_replicas: u32::try_from(
                    s.addresses.values().filter(|a| a.state == "online").count(),
                )
                .unwrap_or(u32::MAX),
                total_replicas: u32::try_from(s.addresses.len()).unwrap_or(u32::MAX),
                last_change: s.last_change.map(|t| t.to_string()),
                next_sync: s.next_sync.map(|t| t.to_string()),
                backoff_step: s.backoff_step,
                md5: s.md5.clone(),
                line_percent: s.line_percent.map(|p| (p * 10.0).round() / 10.0),
                diff_percent: s.diff_percent.map(|p| (p * 10.0).round() / 10.0),
                reports: vec![
                    loc(ReportKind::Func, format!("{base}/report?format=func")),
                    loc(ReportKind::Html, format!("{base}/report?format=html")),
                    loc(ReportKind::Json, format!("{base}/report?format=json")),
                    loc(ReportKind::DiffJson, format!("{base}/diff?format=json")),
                    loc(ReportKind::DiffHtml, format!("{base}/diff?format=html")),
                ],
            }
        })
        .collect();
    CoverageTargetStatus {
        observed_generation: generation,
        phase: Some(phase.into()),
        service_count: Some(u32::try_from(states.len()).unwrap_or(u32::MAX)),
        line_percent: pct(min_line),
        diff_percent: pct(min_diff),
        last_sync: states
            .iter()
            .filter_map(|s| s.last_change)
            .max()
            .map(|t| t.to_string()),
        conditions,
        services,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::NameParts;

    fn state(line: Option<f64>, err: Option<&str>) -> NameState {
        let mut s = NameState::new(
            NameParts {
                name: "staging_th_apa_svc_master_abcdef1".into(),
                env: "staging".into(),
                region: "th".into(),
                app: "apa".into(),
                service: "svc".into(),
                branch: "master".into(),
                commit: "abcdef1".into(),
            },
            "ns/t",
        );
        s.line_percent = line;
        s.last_sync = Some(jiff::Timestamp::UNIX_EPOCH);
        s.last_error = err.map(str::to_string);
        s
    }

    #[test]
    fn stable_and_thresholds_flip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let th = ThresholdsSpec {
            line: Some(50.0),
            diff: None,
        };
        let t0 = jiff::Timestamp::UNIX_EPOCH;
        let t1 = t0 + jiff::SignedDuration::from_secs(60);
        let states = [state(Some(40.0), None)];
        let mk = |prev, now, states: &[NameState]| {
            build(&StatusInput {
                generation: Some(1),
                spec_error: None,
                states,
                thresholds: &th,
                previous: prev,
                now,
                store: &store,
            })
        };
        let a = mk(None, t0, &states);
        assert_eq!(a.phase.as_deref(), Some("Ready"));
        assert_eq!(a.line_percent.as_deref(), Some("40.0%"));
        let cond = |s: &CoverageTargetStatus, t: &str| {
            s.conditions.iter().find(|c| c.type_ == t).unwrap().clone()
        };
        assert_eq!(cond(&a, "ThresholdsMet").status, "False");
        // Same inputs later: identical status (no reconcile-time timestamps).
        let b = mk(Some(&a), t1, &states);
        assert_eq!(a, b);
        // Coverage rises: ThresholdsMet flips, and only its transition time moves.
        let states2 = [state(Some(60.0), None)];
        let c = mk(Some(&b), t1, &states2);
        assert_eq!(cond(&c, "ThresholdsMet").status, "True");
        assert_eq!(cond(&c, "ThresholdsMet").last_transition_time, Time(t1));
        assert_eq!(cond(&c, "Ready").last_transition_time, Time(t0));
        let d = mk(Some(&c), t1, &[state(Some(60.0), Some("boom"))]);
        assert_eq!(d.phase.as_deref(), Some("Degraded"));
    }

    #[test]
    fn invalid_spec_is_a_condition() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let s = build(&StatusInput {
            generation: Some(3),
            spec_error: Some("spec.gocServer: bad"),
            states: &[],
            thresholds: &ThresholdsSpec::default(),
            previous: None,
            now: jiff::Timestamp::UNIX_EPOCH,
            store: &store,
        });
        assert_eq!(s.phase.as_deref(), Some("Invalid"));
        assert_eq!(s.conditions[0].reason, "InvalidSpec");
        assert_eq!(s.observed_generation, Some(3));
    }
}
