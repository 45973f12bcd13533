//! The JSON shape of a service summary (one registered name), from its stored state.

use serde::Serialize;

use crate::store::NameState;

/// One address as the API shows it.
#[derive(Serialize)]
pub struct AddressView {
    /// The agent address.
    pub address: String,
    /// online, offline or unknown.
    pub state: String,
    /// Consecutive failed fetches.
    pub failures: u32,
    /// Why offline, or the last error.
    pub note: Option<String>,
}

/// URLs of a name's reports.
#[derive(Serialize)]
pub struct ReportUrls {
    /// func text.
    pub func: String,
    /// HTML.
    pub html: String,
    /// JSON.
    pub json: String,
    /// Incremental (JSON).
    pub diff: String,
    /// Merged profile.
    pub profile: String,
}

/// A registered name's summary.
#[derive(Serialize)]
pub struct Summary {
    /// Registered name.
    pub name: String,
    /// Owning target.
    pub target: String,
    /// Name parts.
    pub env: String,
    /// Name parts.
    pub region: String,
    /// Name parts.
    pub app: String,
    /// Name parts.
    pub service: String,
    /// Name parts.
    pub branch: String,
    /// Name parts.
    pub commit: String,
    /// Full commit id once resolved.
    pub resolved_commit: Option<String>,
    /// Every address seen.
    pub addresses: Vec<AddressView>,
    /// Last sync attempt.
    pub last_sync: Option<String>,
    /// Last change of data.
    pub last_change: Option<String>,
    /// Next scheduled pull.
    pub next_sync: Option<String>,
    /// Backoff ladder position.
    pub backoff_step: u32,
    /// md5 of the normalized merged profile.
    pub md5: Option<String>,
    /// Line coverage.
    pub line_percent: Option<f64>,
    /// Incremental coverage.
    pub diff_percent: Option<f64>,
    /// Last sync's error.
    pub last_error: Option<String>,
    /// Report URLs.
    pub reports: ReportUrls,
}

/// One history entry.
#[derive(Serialize)]
pub struct HistoryView {
    /// 0 = latest, k = `<name>_k.cov`.
    pub index: usize,
    /// When stored.
    pub time: String,
    /// md5.
    pub md5: String,
    /// Line coverage.
    pub line_percent: Option<f64>,
}

/// Summary plus history.
#[derive(Serialize)]
pub struct Detail {
    /// The summary fields.
    #[serde(flatten)]
    pub summary: Summary,
    /// Stored versions, latest first.
    pub history: Vec<HistoryView>,
}

impl Summary {
    /// Builds the summary of a state.
    pub fn of(s: &NameState) -> Summary {
        let base = format!("/api/v1/services/{}", s.parts.name);
        Summary {
            name: s.parts.name.clone(),
            target: s.target.clone(),
            env: s.parts.env.clone(),
            region: s.parts.region.clone(),
            app: s.parts.app.clone(),
            service: s.parts.service.clone(),
            branch: s.parts.branch.clone(),
            commit: s.parts.commit.clone(),
            resolved_commit: s.resolved_commit.clone(),
            addresses: s
                .addresses
                .iter()
                .map(|(a, st)| AddressView {
                    address: a.clone(),
                    state: st.state.clone(),
                    failures: st.failures,
                    note: st.note.clone(),
                })
                .collect(),
            last_sync: s.last_sync.map(|t| t.to_string()),
            last_change: s.last_change.map(|t| t.to_string()),
            next_sync: s.next_sync.map(|t| t.to_string()),
            backoff_step: s.backoff_step,
            md5: s.md5.clone(),
            line_percent: s.line_percent,
            diff_percent: s.diff_percent,
            last_error: s.last_error.clone(),
            reports: ReportUrls {
                func: format!("{base}/report?format=func"),
                html: format!("{base}/report?format=html"),
                json: format!("{base}/report?format=json"),
                diff: format!("{base}/diff?format=json"),
                profile: format!("{base}/profile"),
            },
        }
    }
}

impl Detail {
    /// Builds the detail of a state.
    pub fn of(s: &NameState) -> Detail {
        Detail {
            summary: Summary::of(s),
            history: s
                .history
                .iter()
                .enumerate()
                .map(|(i, h)| HistoryView {
                    index: i,
                    time: h.time.to_string(),
                    md5: h.md5.clone(),
                    line_percent: h.line_percent,
                })
                .collect(),
        }
    }
}
