//! What the collector remembers about a registered name between syncs and restarts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::target::NameParts;

/// One address of a name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AddressState {
    /// `online`, `offline` or `unknown`.
    pub state: String,
    /// Consecutive failed fetches.
    pub failures: u32,
    /// Why it is offline, or the last fetch error.
    pub note: Option<String>,
    /// Last successful fetch.
    pub last_ok: Option<jiff::Timestamp>,
    /// [`crate::profile::text_fingerprint`] of the text of this address's snapshot held in the
    /// counts (saved before this state): a fetch with the same fingerprint changes nothing, so
    /// it is not parsed and the counts need not be loaded, merged or hashed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// One stored profile version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it was stored.
    pub time: jiff::Timestamp,
    /// md5 of the normalized profile.
    pub md5: String,
    /// Line coverage (the -func total).
    pub line_percent: Option<f64>,
}

/// Persistent state of one registered name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NameState {
    /// The name and its parts.
    pub parts: NameParts,
    /// The owning target.
    pub target: String,
    /// Full commit id, once resolved in the repository.
    pub resolved_commit: Option<String>,
    /// Addresses ever seen for this name.
    pub addresses: BTreeMap<String, AddressState>,
    /// Last sync attempt.
    pub last_sync: Option<jiff::Timestamp>,
    /// Last sync that found new data.
    pub last_change: Option<jiff::Timestamp>,
    /// Next scheduled pull.
    pub next_sync: Option<jiff::Timestamp>,
    /// Backoff ladder position.
    pub backoff_step: u32,
    /// md5 of the latest merged profile.
    pub md5: Option<String>,
    /// Line coverage of the latest profile.
    pub line_percent: Option<f64>,
    /// Incremental coverage of the latest profile.
    pub diff_percent: Option<f64>,
    /// The last error, if the last sync had one.
    pub last_error: Option<String>,
    /// Latest first: entry 0 describes `<name>.cov`, entry k describes `<name>_k.cov`.
    pub history: Vec<HistoryEntry>,
    /// Number of successful syncs.
    pub syncs: u64,
}

impl NameState {
    /// A fresh state for a newly seen name.
    pub fn new(parts: NameParts, target: &str) -> NameState {
        NameState {
            parts,
            target: target.to_string(),
            resolved_commit: None,
            addresses: BTreeMap::new(),
            last_sync: None,
            last_change: None,
            next_sync: None,
            backoff_step: 0,
            md5: None,
            line_percent: None,
            diff_percent: None,
            last_error: None,
            history: Vec::new(),
            syncs: 0,
        }
    }

    /// The state with the fields every sync changes (times, the sync counter) blanked: when this
    /// did not change, nothing worth a crash-safe write did.
    pub fn durable(&self) -> NameState {
        let mut s = self.clone();
        s.last_sync = None;
        s.next_sync = None;
        s.syncs = 0;
        for a in s.addresses.values_mut() {
            a.last_ok = None;
        }
        s
    }

    /// Addresses that are not offline.
    pub fn live_addresses(&self) -> Vec<String> {
        self.addresses
            .iter()
            .filter(|(_, a)| a.state != "offline")
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durable_ignores_times_and_the_sync_counter_only() {
        let parts = crate::target::NameParts {
            name: "s_r_a_svc_main_abc".into(),
            env: "s".into(),
            region: "r".into(),
            app: "a".into(),
            service: "svc".into(),
            branch: "main".into(),
            commit: "abc".into(),
        };
        let mut a = NameState::new(parts, "t");
        a.addresses
            .insert("10.0.0.1:7777".into(), AddressState::default());
        let mut b = a.clone();
        b.last_sync = Some(jiff::Timestamp::UNIX_EPOCH);
        b.next_sync = Some(jiff::Timestamp::UNIX_EPOCH);
        b.syncs = 7;
        if let Some(st) = b.addresses.get_mut("10.0.0.1:7777") {
            st.last_ok = Some(jiff::Timestamp::UNIX_EPOCH);
        }
        assert_eq!(a.durable(), b.durable());
        for change in [
            |s: &mut NameState| s.backoff_step = 1,
            |s: &mut NameState| s.md5 = Some("x".into()),
            |s: &mut NameState| s.last_error = Some("x".into()),
            |s: &mut NameState| {
                if let Some(st) = s.addresses.get_mut("10.0.0.1:7777") {
                    st.fingerprint = Some("x".into());
                }
            },
            |s: &mut NameState| {
                if let Some(st) = s.addresses.get_mut("10.0.0.1:7777") {
                    st.state = "offline".into();
                }
            },
        ] {
            let mut c = b.clone();
            change(&mut c);
            assert_ne!(a.durable(), c.durable());
        }
    }
}
