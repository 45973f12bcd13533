//! The collector process: watches goc servers, keeps one state per registered name, syncs on
//! schedule or on demand. The pure decisions live in accumulate, liveness and schedule.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::{Mutex, Semaphore};

use super::accum_file::{self, AccumFileError};
use super::accumulate::{Accumulator, Observed};
use super::liveness::{self, Evidence, Liveness, MonitorAnswer, PodView};
use super::reports;
use super::schedule::next_pull;
use crate::goc::{GocClient, GocError};
use crate::metrics::{Metrics, NameLabels, OutcomeLabels};
use crate::profile::{self, Profile};
use crate::source::{self, Credentials};
use crate::store::{HistoryEntry, NameState, Store, StoreError};
use crate::target::{NameParts, Target};

/// Agents fetched at once per name.
const FETCH_PARALLELISM: usize = 16;
/// Names synced at once.
const SYNC_PARALLELISM: usize = 8;
/// How often the goc server's list is read.
const LIST_EVERY: Duration = Duration::from_secs(10);
/// Timeout of goc server calls.
const SERVER_TIMEOUT: Duration = Duration::from_secs(10);

/// A collector failure visible to API callers.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// No such registered name.
    #[error("unknown service {0:?}")]
    UnknownName(String),
    /// The name is known only from history; its target is gone.
    #[error("service {0:?} belongs to no configured target (served from history only)")]
    Orphan(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The goc server failed.
    #[error(transparent)]
    Goc(#[from] GocError),
    /// A profile could not be merged.
    #[error(transparent)]
    Profile(#[from] profile::ProfileError),
    /// The counts' state file could not be read or written.
    #[error(transparent)]
    AccumFile(#[from] AccumFileError),
    /// Something else, described.
    #[error("{0}")]
    Other(String),
}

/// One configured target with its goc client.
pub struct TargetRuntime {
    /// The validated target.
    pub target: Target,
    /// Client for its goc server.
    pub goc: GocClient,
}

/// One registered name.
pub struct NameEntry {
    /// The owning target, `None` for names known only from stored history.
    target: RwLock<Option<Arc<TargetRuntime>>>,
    /// The name's parts.
    pub parts: NameParts,
    inner: Mutex<Inner>,
    /// Last persisted state, for readers (never blocks on a running sync).
    view: RwLock<NameState>,
}

struct Inner {
    state: NameState,
    /// The counts; read from the state file on first use ([`Collector::load_counts`]).
    accum: Accumulator,
    /// Whether `accum` holds the counts yet.
    loaded: bool,
    /// Addresses in the latest goc list.
    registered: Vec<String>,
}

impl NameEntry {
    /// The owning target, `None` for names known only from stored history.
    pub fn target(&self) -> Option<Arc<TargetRuntime>> {
        match self.target.read() {
            Ok(t) => t.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_target(&self, t: Option<Arc<TargetRuntime>>) {
        match self.target.write() {
            Ok(mut g) => *g = t,
            Err(poisoned) => *poisoned.into_inner() = t,
        }
    }

    /// A copy of the latest persisted state.
    pub fn view(&self) -> NameState {
        match self.view.read() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn publish(&self, state: &NameState) {
        match self.view.write() {
            Ok(mut v) => *v = state.clone(),
            Err(poisoned) => *poisoned.into_inner() = state.clone(),
        }
    }
}

/// Something the collector did that the operator reports as a Kubernetes Event.
#[derive(Debug, Clone)]
pub enum CollectorEvent {
    /// An offline address was removed from the goc server.
    Removed {
        /// Target key.
        target: String,
        /// Registered name.
        name: String,
        /// The address.
        address: String,
        /// Why it was offline.
        reason: String,
    },
    /// A sync had errors.
    SyncFailed {
        /// Target key.
        target: String,
        /// Registered name.
        name: String,
        /// What failed.
        message: String,
    },
}

/// The collector.
pub struct Collector {
    store: Store,
    targets: RwLock<BTreeMap<String, Arc<TargetRuntime>>>,
    events: tokio::sync::broadcast::Sender<CollectorEvent>,
    /// False on a non-leader replica: no syncs, no removals.
    active: std::sync::atomic::AtomicBool,
    names: RwLock<BTreeMap<String, Arc<NameEntry>>>,
    syncs: Arc<Semaphore>,
    /// Metrics, shared with the API.
    pub metrics: Arc<Metrics>,
    /// Kubernetes' view of pod IPs (fed by the controller).
    pod_views: RwLock<HashMap<String, PodView>>,
    /// `namespace/pod` -> IP (fed by the controller).
    pod_ips: RwLock<HashMap<String, String>>,
    /// Names with a scheduled sync under way (so the loop does not queue the same one twice).
    running: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

fn add(t: jiff::Timestamp, d: Duration) -> jiff::Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|sd| t.checked_add(sd).ok())
        .unwrap_or(t)
}

impl Collector {
    /// Creates the collector and resumes every name with saved state.
    pub fn new(
        store: Store,
        targets: Vec<Target>,
        metrics: Arc<Metrics>,
    ) -> Result<Collector, CollectorError> {
        let c = Collector {
            store,
            targets: RwLock::new(BTreeMap::new()),
            events: tokio::sync::broadcast::channel(256).0,
            active: std::sync::atomic::AtomicBool::new(true),
            names: RwLock::new(BTreeMap::new()),
            syncs: Arc::new(Semaphore::new(SYNC_PARALLELISM)),
            metrics,
            pod_views: RwLock::new(HashMap::new()),
            pod_ips: RwLock::new(HashMap::new()),
            running: Arc::default(),
        };
        for t in targets {
            c.upsert_target(t)?;
        }
        for saved in c.store.saved_states() {
            match saved {
                Ok(state) => {
                    let target = c.target(&state.target);
                    c.insert(target, state, None);
                }
                Err(e) => tracing::error!(error = %e, "skipping unreadable saved state"),
            }
        }
        Ok(c)
    }

    /// Adds or replaces a target (the operator calls this on every reconcile; an unchanged spec
    /// is a no-op).
    pub fn upsert_target(&self, t: Target) -> Result<(), CollectorError> {
        let key = t.key();
        if let Some(old) = self.target(&key)
            && old.target.spec == t.spec
            && old.target.ssh_key_file == t.ssh_key_file
            && old.target.known_hosts_file == t.known_hosts_file
            && old.target.token_file == t.token_file
            && old.target.ca_file == t.ca_file
        {
            return Ok(());
        }
        let goc = GocClient::new(&t.goc_server, Duration::from_secs(3))?;
        let rt = Arc::new(TargetRuntime { target: t, goc });
        if let Ok(mut ts) = self.targets.write() {
            ts.insert(key.clone(), rt.clone());
        }
        for e in self.entries() {
            if e.view().target == key {
                e.set_target(Some(rt.clone()));
            }
        }
        Ok(())
    }

    /// Stops collecting for a target; its names stay served from history.
    pub fn remove_target(&self, key: &str) {
        if let Ok(mut ts) = self.targets.write() {
            ts.remove(key);
        }
        for e in self.entries() {
            if e.view().target == key {
                e.set_target(None);
            }
        }
    }

    /// A target by key.
    pub fn target(&self, key: &str) -> Option<Arc<TargetRuntime>> {
        self.targets.read().ok().and_then(|t| t.get(key).cloned())
    }

    /// Every configured target.
    pub fn targets(&self) -> Vec<Arc<TargetRuntime>> {
        self.targets
            .read()
            .map(|t| t.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Events for the operator.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<CollectorEvent> {
        self.events.subscribe()
    }

    /// Turns syncing on (leader) or off (standby replica serving reads only).
    pub fn set_active(&self, active: bool) {
        self.active
            .store(active, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether this replica syncs.
    pub fn is_active(&self) -> bool {
        self.active.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Reloads every name's state from disk (a standby replica picks up the leader's writes).
    pub fn reload_from_disk(&self) {
        for saved in self.store.saved_states().into_iter().flatten() {
            match self.entry(&saved.parts.name) {
                Some(e) => e.publish(&saved),
                None => {
                    let target = self.target(&saved.target);
                    self.insert(target, saved, None);
                }
            }
        }
    }

    /// Reads the name's counts on first use. Not at start: every name's counts loaded on the
    /// main thread, then replaced by syncs on the workers, left glibc's malloc arenas holding
    /// both (a restart with 3,000 agents peaked at 300 MiB instead of 170; bench-serve.sh).
    fn load_counts(&self, parts: &NameParts, inner: &mut Inner) -> Result<(), CollectorError> {
        if !inner.loaded {
            inner.accum = self.load_accum(parts)?;
            inner.loaded = true;
            if inner.accum == Accumulator::default() && inner.state.md5.is_some() {
                // The state says counts were stored, the counts file is gone (deleted, or a
                // restored backup without it): the next change rebuilds it from the agents'
                // snapshots; counts of processes that died before are lost.
                tracing::warn!(name = %parts.name, "accum.json missing: counts rebuilt from the live agents; earlier counts of dead processes are lost");
            }
        }
        Ok(())
    }

    fn load_accum(&self, parts: &NameParts) -> Result<Accumulator, CollectorError> {
        let value: Option<serde_json::Value> = self.store.load_json(parts, "accum.json")?;
        Ok(match value {
            Some(v) => accum_file::from_json(&format!("{} state accum.json", parts.name), v)?,
            None => Accumulator::default(),
        })
    }

    fn insert(
        &self,
        target: Option<Arc<TargetRuntime>>,
        state: NameState,
        accum: Option<Accumulator>,
    ) -> Arc<NameEntry> {
        let entry = Arc::new(NameEntry {
            target: RwLock::new(target),
            parts: state.parts.clone(),
            view: RwLock::new(state.clone()),
            inner: Mutex::new(Inner {
                registered: state.live_addresses(),
                state,
                loaded: accum.is_some(),
                accum: accum.unwrap_or_default(),
            }),
        });
        if let Ok(mut names) = self.names.write() {
            names.insert(entry.parts.name.clone(), entry.clone());
        }
        entry
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Every known name.
    pub fn entries(&self) -> Vec<Arc<NameEntry>> {
        self.names
            .read()
            .map(|n| n.values().cloned().collect())
            .unwrap_or_default()
    }

    /// One name.
    pub fn entry(&self, name: &str) -> Option<Arc<NameEntry>> {
        self.names.read().ok().and_then(|n| n.get(name).cloned())
    }

    /// Records Kubernetes' view of a pod IP (operator).
    pub fn set_pod_view(&self, ip: &str, view: Option<PodView>) {
        if let Ok(mut v) = self.pod_views.write() {
            match view {
                Some(view) => v.insert(ip.to_string(), view),
                None => v.remove(ip),
            };
        }
    }

    /// Records a pod's IP by name (operator), so hooks can name the pod.
    pub fn set_pod_ip(&self, namespace: &str, pod: &str, ip: Option<&str>) {
        if let Ok(mut m) = self.pod_ips.write() {
            let key = format!("{namespace}/{pod}");
            match ip {
                Some(ip) => m.insert(key, ip.to_string()),
                None => m.remove(&key),
            };
        }
    }

    /// A pod's IP by name; without a namespace, any namespace's pod of that name.
    pub fn pod_ip(&self, namespace: Option<&str>, pod: &str) -> Option<String> {
        let m = self.pod_ips.read().ok()?;
        match namespace {
            Some(ns) => m.get(&format!("{ns}/{pod}")).cloned(),
            None => m
                .iter()
                .find(|(k, _)| k.rsplit_once('/').is_some_and(|(_, n)| n == pod))
                .map(|(_, v)| v.clone()),
        }
    }

    /// Names with a live address on `ip`.
    pub fn entries_with_ip(&self, ip: &str) -> Vec<Arc<NameEntry>> {
        self.entries()
            .into_iter()
            .filter(|e| {
                e.view()
                    .live_addresses()
                    .iter()
                    .any(|a| address_ip(a) == ip)
            })
            .collect()
    }

    /// Runs forever: reads each target's goc list and syncs names when due.
    pub async fn run(self: Arc<Self>) {
        let mut last_list: HashMap<String, Instant> = HashMap::new();
        loop {
            if !self.is_active() {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            for t in self.targets() {
                let key = t.target.key();
                let due = last_list
                    .get(&key)
                    .is_none_or(|at| at.elapsed() >= LIST_EVERY);
                if due {
                    last_list.insert(key.clone(), Instant::now());
                    if let Err(e) = self.refresh(&t).await {
                        tracing::warn!(target = %key, error = %e, "goc server list failed");
                    }
                }
            }
            let now = now();
            for entry in self.entries() {
                if entry.target().is_none() {
                    continue;
                }
                let v = entry.view();
                if v.next_sync.is_none_or(|n| n <= now) && !v.live_addresses().is_empty() {
                    let fresh = self
                        .running
                        .lock()
                        .map(|mut r| r.insert(entry.parts.name.clone()))
                        .unwrap_or(false);
                    if !fresh {
                        continue;
                    }
                    // Every due name queues for a permit (FIFO), so a round runs at the pace of
                    // the work, not of this loop's ticks (which started at most
                    // SYNC_PARALLELISM syncs a tick).
                    let permits = self.syncs.clone();
                    let this = self.clone();
                    tokio::spawn(async move {
                        if let Ok(_permit) = permits.acquire_owned().await {
                            // Synced (forced) or deactivated while it waited: nothing to do.
                            let due = entry.view().next_sync.is_none_or(|n| n <= self::now());
                            if due
                                && this.is_active()
                                && let Err(e) = this.sync_entry(&entry, false).await
                            {
                                tracing::warn!(name = %entry.parts.name, error = %e, "sync failed");
                            }
                        }
                        if let Ok(mut r) = this.running.lock() {
                            r.remove(&entry.parts.name);
                        }
                    });
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Reads a target's goc list: new names and addresses appear; addresses that left the list
    /// (the agent deregistered on SIGTERM) are retired, their last counts kept.
    pub async fn refresh(&self, t: &Arc<TargetRuntime>) -> Result<(), CollectorError> {
        let list = t.goc.list(SERVER_TIMEOUT).await?;
        let mut seen = std::collections::BTreeSet::new();
        for (name, addresses) in list {
            if !t.target.owns(&name) {
                continue;
            }
            let Some(parts) = t.target.pattern.parse(&name) else {
                tracing::debug!(%name, "registered name does not match the name pattern");
                continue;
            };
            seen.insert(name.clone());
            let (entry, created) = match self.entry(&name) {
                Some(e) => (e, false),
                None => (
                    self.insert(
                        Some(t.clone()),
                        NameState::new(parts, &t.target.key()),
                        Some(Accumulator::default()),
                    ),
                    true,
                ),
            };
            let mut inner = entry.inner.lock().await;
            inner.registered = addresses.clone();
            let mut dirty = false;
            for a in &addresses {
                let st = inner.state.addresses.entry(a.clone()).or_default();
                if st.state.is_empty() || st.state == "offline" {
                    // New, or registered again after being removed (a pod reusing the IP:port).
                    st.state = "unknown".into();
                    st.failures = 0;
                    st.note = None;
                    dirty = true;
                }
            }
            if created {
                // Saved by its first sync: saving every new name here (two fsynced files each)
                // delayed a 1,000-name start by 10 s.
                entry.publish(&inner.state);
            } else if dirty {
                self.persist(&entry, &inner)?;
            }
            self.retire_missing(&entry, &mut inner).await?;
        }
        // Names that vanished from the list entirely: every address deregistered.
        for entry in self.entries() {
            let ours = entry.target().is_some_and(|et| Arc::ptr_eq(&et, t));
            if ours && !seen.contains(&entry.parts.name) {
                let mut inner = entry.inner.lock().await;
                inner.registered.clear();
                self.retire_missing(&entry, &mut inner).await?;
            }
        }
        Ok(())
    }

    async fn retire_missing(
        &self,
        entry: &NameEntry,
        inner: &mut Inner,
    ) -> Result<(), CollectorError> {
        let gone: Vec<String> = inner
            .state
            .addresses
            .iter()
            .filter(|(a, s)| s.state != "offline" && !inner.registered.contains(a))
            .map(|(a, _)| a.clone())
            .collect();
        if gone.is_empty() {
            return Ok(());
        }
        self.load_counts(&entry.parts, inner)?;
        for a in &gone {
            inner.accum.retire(a)?;
            if let Some(s) = inner.state.addresses.get_mut(a) {
                s.state = "offline".into();
                s.note = Some("deregistered from the goc server".into());
            }
            tracing::info!(name = %entry.parts.name, address = %a, "address left the goc list; last counts kept");
        }
        self.persist(entry, inner)?;
        Ok(())
    }

    fn persist(&self, entry: &NameEntry, inner: &Inner) -> Result<(), CollectorError> {
        // Counts first: if we crash after this, the state file is merely stale. Counts never
        // read are unchanged on disk.
        if inner.loaded {
            self.store.save_json(
                &entry.parts,
                "accum.json",
                &accum_file::to_file(&inner.accum)?,
            )?;
        }
        self.store
            .save_json(&entry.parts, "name.json", &inner.state)?;
        entry.publish(&inner.state);
        Ok(())
    }

    /// Syncs a name now (`POST .../sync`).
    pub async fn sync_now(&self, name: &str) -> Result<NameState, CollectorError> {
        let entry = self
            .entry(name)
            .ok_or_else(|| CollectorError::UnknownName(name.to_string()))?;
        if let Some(t) = entry.target() {
            // Pick up addresses registered since the last list.
            if let Err(e) = self.refresh(&t).await {
                tracing::warn!(error = %e, "goc list failed before a forced sync");
            }
        }
        self.sync_entry(&entry, true).await
    }

    /// Syncs just the given addresses, for whichever names have them (the preStop hook), and
    /// returns the names' new states once the snapshots are stored.
    pub async fn sync_addresses(
        &self,
        addresses: &[String],
    ) -> Result<Vec<NameState>, CollectorError> {
        let mut out = Vec::new();
        for entry in self.entries() {
            let live = entry.view().live_addresses();
            let mine: Vec<String> = addresses
                .iter()
                .filter(|a| live.contains(a))
                .cloned()
                .collect();
            if !mine.is_empty() {
                out.push(self.sync_entry_only(&entry, true, Some(&mine)).await?);
            }
        }
        Ok(out)
    }

    /// Live addresses on `ip` (any name).
    pub fn addresses_with_ip(&self, ip: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .entries()
            .iter()
            .flat_map(|e| e.view().live_addresses())
            .filter(|a| address_ip(a) == ip)
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Saves every live agent's counts, then zeroes the agents (`POST .../clear`). The saved
    /// counts stay in the accumulated base, so the merged total never drops.
    pub async fn clear(&self, name: &str) -> Result<NameState, CollectorError> {
        let entry = self
            .entry(name)
            .ok_or_else(|| CollectorError::UnknownName(name.to_string()))?;
        let Some(t) = entry.target() else {
            return Err(CollectorError::Orphan(name.to_string()));
        };
        // A fresh snapshot of everything first.
        self.sync_entry(&entry, true).await?;
        let mut inner = entry.inner.lock().await;
        self.load_counts(&entry.parts, &mut inner)?;
        let mut errors = Vec::new();
        for a in inner.state.live_addresses() {
            if !inner.accum.agents.contains_key(&a) {
                continue; // never fetched: nothing saved, so do not zero it
            }
            match t.goc.agent_clear(&a, t.target.probe_timeout).await {
                // Crash between the clear and the checkpoint is safe: the next fetch sees the
                // counters go down and folds the stored snapshot in, as for a restart.
                Ok(()) => {
                    inner.accum.checkpoint(&a)?;
                    if let Some(st) = inner.state.addresses.get_mut(&a) {
                        st.fingerprint = None;
                    }
                }
                Err(e) => errors.push(format!("{a}: {e}")),
            }
        }
        self.persist(&entry, &inner)?;
        if errors.is_empty() {
            Ok(inner.state.clone())
        } else {
            Err(CollectorError::Other(format!(
                "clear failed for {}",
                errors.join("; ")
            )))
        }
    }

    /// Fetches each address's profile text, with its fingerprint (not parsed yet: an idle
    /// agent's text never needs to be).
    async fn fetch_all(t: &TargetRuntime, addresses: &[String]) -> Vec<Fetched> {
        futures::stream::iter(addresses.iter().cloned())
            .map(|a| async move {
                let r = match t.goc.agent_profile(&a, t.target.probe_timeout).await {
                    Ok(bytes) => {
                        let print = profile::text_fingerprint(&bytes);
                        Ok((bytes, print))
                    }
                    Err(e) => Err(e.to_string()),
                };
                (a, r)
            })
            .buffer_unordered(FETCH_PARALLELISM)
            .collect()
            .await
    }

    async fn ask_monitor(t: &TargetRuntime, address: &str) -> Option<MonitorAnswer> {
        let pm = t.target.pod_monitor.as_ref()?;
        let ip = address_ip(address);
        if pm.url.contains("{pod}") {
            // Outside Kubernetes there is no pod name for an address.
            return None;
        }
        let url = pm.url.replace("{ip}", &ip);
        let answer = match t
            .goc
            .http()
            .get(&url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(resp) => {
                let status = resp.status().as_u16();
                match resp.bytes().await {
                    Ok(body) => liveness::interpret_monitor(
                        status,
                        &body,
                        &pm.status_pointer,
                        &pm.online_values,
                    ),
                    Err(e) => MonitorAnswer::Unknown(e.to_string()),
                }
            }
            Err(e) => MonitorAnswer::Unknown(e.to_string()),
        };
        Some(answer)
    }

    /// One sync of one name: fetch, decide liveness, accumulate, store, report, schedule.
    pub async fn sync_entry(
        &self,
        entry: &NameEntry,
        forced: bool,
    ) -> Result<NameState, CollectorError> {
        self.sync_entry_only(entry, forced, None).await
    }

    /// A sync that fetches only `only` (when given) of the name's live addresses.
    async fn sync_entry_only(
        &self,
        entry: &NameEntry,
        forced: bool,
        only: Option<&[String]>,
    ) -> Result<NameState, CollectorError> {
        let Some(t) = entry.target() else {
            return Err(CollectorError::Orphan(entry.parts.name.clone()));
        };
        let started = Instant::now();
        let mut inner = entry.inner.lock().await;
        let durable_before = inner.state.durable();
        let addresses: Vec<String> = inner
            .state
            .live_addresses()
            .into_iter()
            .filter(|a| only.is_none_or(|o| o.contains(a)))
            .collect();
        let fetched = Self::fetch_all(&t, &addresses).await;
        // Idle agents, the usual case: every snapshot is the one already held (same
        // fingerprint), so nothing is parsed and the counts are not loaded, merged, hashed or
        // saved.
        let unchanged = inner.state.md5.is_some()
            && !fetched.is_empty()
            && fetched.iter().all(|(a, r)| {
                r.as_ref().is_ok_and(|(_, print)| {
                    let held = inner.state.addresses.get(a);
                    held.and_then(|s| s.fingerprint.as_ref()) == Some(print)
                        && (!inner.loaded || inner.accum.agents.contains_key(a))
                })
            });
        if !unchanged {
            self.load_counts(&entry.parts, &mut inner)?;
        }
        let mut counts_changed = false;
        let mut errors = Vec::new();
        let mut to_remove = Vec::new();
        for (addr, result) in fetched {
            let parsed = match result {
                Ok(_) if unchanged => None,
                Ok((bytes, print)) => Some(
                    profile::parse(&addr, &bytes)
                        .map(|p| (p, print))
                        .map_err(|e| format!("malformed profile: {e}")),
                ),
                Err(e) => Some(Err(e)),
            };
            let ok = match parsed {
                None => Ok(()),
                Some(Ok((p, print))) => match inner.accum.observe(&addr, p) {
                    Ok(observed) => {
                        let st = inner.state.addresses.entry(addr.clone()).or_default();
                        // A snapshot the saved counts lacked is saved even with a known
                        // fingerprint (counts and state out of step: a lost counts file).
                        if observed == Observed::New || st.fingerprint.as_ref() != Some(&print) {
                            counts_changed = true;
                            st.fingerprint = Some(print);
                        }
                        Ok(())
                    }
                    Err(e) => Err(format!("rejected profile: {e}")),
                },
                Some(Err(e)) => Err(e),
            };
            let pod = self
                .pod_views
                .read()
                .ok()
                .and_then(|v| v.get(&address_ip(&addr)).copied());
            let failures = {
                let st = inner.state.addresses.entry(addr.clone()).or_default();
                match &ok {
                    Ok(()) => {
                        st.failures = 0;
                        st.note = None;
                        st.last_ok = Some(now());
                    }
                    Err(e) => {
                        st.failures += 1;
                        st.note = Some(e.clone());
                    }
                }
                st.failures
            };
            if let Err(e) = &ok {
                self.metrics.fetch_errors.inc();
                errors.push(format!("{addr}: {e}"));
            }
            // The monitor is asked only about addresses that stopped answering.
            let monitor = if ok.is_err() {
                Self::ask_monitor(&t, &addr).await
            } else {
                None
            };
            let verdict = liveness::decide(
                &Evidence {
                    fetched: ok.is_ok(),
                    failures,
                    pod,
                    monitor,
                },
                t.target.probe_failures,
            );
            let st = inner.state.addresses.entry(addr.clone()).or_default();
            match verdict {
                Liveness::Online => st.state = "online".into(),
                Liveness::Unknown => st.state = "unknown".into(),
                Liveness::Offline(why) => {
                    st.state = "offline".into();
                    st.note = Some(why.clone());
                    to_remove.push((addr.clone(), why));
                }
            }
        }
        for (addr, why) in &to_remove {
            self.load_counts(&entry.parts, &mut inner)?;
            counts_changed |= inner.accum.retire(addr)?;
            if let Some(st) = inner.state.addresses.get_mut(addr) {
                st.fingerprint = None;
            }
            match t.goc.remove_address(addr, SERVER_TIMEOUT).await {
                Ok(()) => {
                    self.metrics.removed_addresses.inc();
                    let _ = self.events.send(CollectorEvent::Removed {
                        target: t.target.key(),
                        name: entry.parts.name.clone(),
                        address: addr.clone(),
                        reason: why.clone(),
                    });
                    tracing::info!(name = %entry.parts.name, address = %addr, reason = %why, "offline: removed from the goc server");
                }
                Err(e) => {
                    tracing::warn!(address = %addr, error = %e, "removing an offline address failed; will retry")
                }
            }
        }
        // The normalized text is hashed here and, when it changed, stored as is.
        let (merged, md5) = if unchanged {
            (None, inner.state.md5.clone())
        } else {
            match inner.accum.merged()? {
                Some(profile) => {
                    let (text, md5) = profile.text_and_md5();
                    (Some((profile, text)), Some(md5))
                }
                None => (None, None),
            }
        };
        let changed = md5.is_some() && md5 != inner.state.md5;
        let stamp = now();
        inner.state.last_sync = Some(stamp);
        inner.state.last_error = (!errors.is_empty()).then(|| errors.join("; "));
        if let Some(message) = &inner.state.last_error {
            let _ = self.events.send(CollectorEvent::SyncFailed {
                target: t.target.key(),
                name: entry.parts.name.clone(),
                message: message.clone(),
            });
        }
        // Counts are durable before anything derived from them (the fingerprints in the state
        // included); unchanged counts (idle agents, the usual case) are on disk already.
        if counts_changed {
            let (store, parts, text) = (
                self.store.clone(),
                entry.parts.clone(),
                accum_file::to_file(&inner.accum)?,
            );
            blocking(move || store.save_json(&parts, "accum.json", &text)).await?;
        }
        if changed && let (Some((profile, text)), Some(md5)) = (merged, md5.clone()) {
            let change = Change { profile, text, md5 };
            self.store_change(&t, entry, &mut inner.state, change, stamp)
                .await?;
        }
        let random: f64 = rand::random();
        let next = next_pull(
            &t.target.schedule,
            inner.state.backoff_step,
            changed,
            forced,
            random,
        );
        inner.state.backoff_step = next.step;
        inner.state.next_sync = Some(add(stamp, next.delay));
        inner.state.syncs += 1;
        // Only times and the sync counter changed (idle agents): no crash-safe write for them.
        // After a restart such a name is simply due at once.
        if inner.state.durable() != durable_before {
            let (store, parts, state) =
                (self.store.clone(), entry.parts.clone(), inner.state.clone());
            blocking(move || store.save_json(&parts, "name.json", &state)).await?;
        }
        entry.publish(&inner.state);
        let labels = NameLabels {
            name: entry.parts.name.clone(),
            service: entry.parts.service.clone(),
        };
        let online = inner
            .state
            .addresses
            .values()
            .filter(|a| a.state == "online")
            .count();
        self.metrics
            .online_replicas
            .get_or_create(&labels)
            .set(i64::try_from(online).unwrap_or(i64::MAX));
        let outcome = if !errors.is_empty() {
            "error"
        } else if changed {
            "changed"
        } else {
            "unchanged"
        };
        self.metrics
            .syncs
            .get_or_create(&OutcomeLabels {
                outcome: outcome.into(),
            })
            .inc();
        self.metrics
            .sync_seconds
            .observe(started.elapsed().as_secs_f64());
        Ok(inner.state.clone())
    }

    async fn store_change(
        &self,
        t: &Arc<TargetRuntime>,
        entry: &NameEntry,
        state: &mut NameState,
        change: Change,
        stamp: jiff::Timestamp,
    ) -> Result<(), CollectorError> {
        let Change {
            profile: merged,
            text,
            md5,
        } = change;
        let (store, parts, keep) = (self.store.clone(), entry.parts.clone(), t.target.history);
        blocking(move || store.rotate_in_profile(&parts, text.as_bytes(), keep)).await?;
        state.md5 = Some(md5.clone());
        state.last_change = Some(stamp);
        let store = self.store.clone();
        let t2 = t.clone();
        let parts = entry.parts.clone();
        let resolved = state.resolved_commit.clone();
        let started = Instant::now();
        let built = tokio::task::spawn_blocking(move || {
            build_reports(&store, &t2.target, &parts, resolved, &merged)
        })
        .await
        .map_err(|e| CollectorError::Other(format!("report task failed: {e}")))?;
        self.metrics
            .report_seconds
            .observe(started.elapsed().as_secs_f64());
        let mut line = None;
        match built {
            Ok((commit, b)) => {
                state.resolved_commit = Some(commit);
                line = b.line_percent;
                state.line_percent = b.line_percent;
                state.diff_percent = b.diff_percent;
                let labels = NameLabels {
                    name: entry.parts.name.clone(),
                    service: entry.parts.service.clone(),
                };
                if let Some(l) = b.line_percent {
                    self.metrics.line_percent.get_or_create(&labels).set(l);
                }
                if let Some(d) = b.diff_percent {
                    self.metrics.diff_percent.get_or_create(&labels).set(d);
                }
            }
            Err(e) => {
                tracing::warn!(name = %entry.parts.name, error = %e, "reports not built");
                let prev = state.last_error.take();
                state.last_error = Some(match prev {
                    Some(p) => format!("{p}; reports: {e}"),
                    None => format!("reports: {e}"),
                });
            }
        }
        state.history.insert(
            0,
            HistoryEntry {
                time: stamp,
                md5,
                line_percent: line,
            },
        );
        state.history.truncate(t.target.history as usize + 1);
        Ok(())
    }
}

/// A changed merged profile: the profile, its normalized text and that text's md5.
struct Change {
    profile: Profile,
    text: String,
    md5: String,
}

/// An address and what fetching it gave: its profile text and that text's fingerprint, or why
/// not.
type Fetched = (String, Result<(Vec<u8>, String), String>);

/// Runs store writes on a blocking thread: their fsyncs must not stall the async workers (with
/// 8 syncs at once they held both workers of a 2-core host, and fetches stalled behind them).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, CollectorError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => Ok(r?),
        Err(e) => Err(CollectorError::Other(format!("storage task failed: {e}"))),
    }
}

/// Clones/fetches the repository, resolves the commit and builds every report.
fn build_reports(
    store: &Store,
    target: &Target,
    parts: &NameParts,
    resolved: Option<String>,
    merged: &Profile,
) -> Result<(String, reports::Built), String> {
    let creds = Credentials {
        ssh_key_file: target.ssh_key_file.as_ref().map(Into::into),
        known_hosts_file: target.known_hosts_file.as_ref().map(Into::into),
        token_file: target.token_file.as_ref().map(Into::into),
        ca_file: target.ca_file.as_ref().map(Into::into),
    };
    let dir = store.repo_dir(&parts.service).map_err(|e| e.to_string())?;
    let repo = source::ensure_clone(&target.repo_url, &dir, &creds).map_err(|e| e.to_string())?;
    let commit = match resolved {
        Some(c) => c,
        None => source::resolve_commit(&repo, &target.repo_url, &parts.commit, &creds)
            .map_err(|e| e.to_string())?,
    };
    // A shallow clone may lack the merge-base the incremental report needs. Failing to deepen
    // costs only that report, which says why itself.
    if let Err(e) = source::ensure_merge_base(
        &repo,
        &target.repo_url,
        &creds,
        &target.base_branch,
        &commit,
    ) {
        tracing::warn!(name = %parts.name, error = %e, "could not deepen the clone to the merge-base");
    }
    let built = reports::build(store, target, parts, repo, &dir, &commit, merged)
        .map_err(|e| e.to_string())?;
    Ok((commit, built))
}

/// The host part of an agent address (`http://10.0.0.5:8100` -> `10.0.0.5`).
pub fn address_ip(address: &str) -> String {
    let rest = address.split("://").nth(1).unwrap_or(address);
    let host = rest.split('/').next().unwrap_or(rest);
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6).to_string();
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h).to_string()
}

#[cfg(test)]
mod tests {
    use super::address_ip;

    #[test]
    fn ip_of_address() {
        assert_eq!(address_ip("http://10.0.0.5:8100"), "10.0.0.5");
        assert_eq!(address_ip("http://[::1]:80"), "::1");
        assert_eq!(address_ip("10.1.1.1"), "10.1.1.1");
    }
}
