//! The serialized shape of a CoverageTarget (camelCase, as in YAML and in the cluster).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What to collect: which goc server, which registered names, which repository.
// Several printer columns share a type; clippy mistakes that for a repeated attribute.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[kube(
    group = "coverage.goc-adapter.io",
    version = "v1alpha1",
    kind = "CoverageTarget",
    namespaced,
    status = "CoverageTargetStatus",
    shortname = "covt",
    shortname = "cov",
    category = "coverage",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(
        name = "Services",
        type_ = "integer",
        json_path = ".status.serviceCount"
    ),
    printcolumn(name = "Line", type_ = "string", json_path = ".status.linePercent"),
    printcolumn(name = "Diff", type_ = "string", json_path = ".status.diffPercent"),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSync"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct CoverageTargetSpec {
    /// Base URL of the goc server (v1 API), e.g. `http://goc-server:7777`.
    pub goc_server: String,
    /// Which registered names this target owns and how to split them into parts.
    #[serde(default)]
    pub services: ServicesSpec,
    /// Where the services' source lives.
    pub repo: RepoSpec,
    /// When to pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// How much history to keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,
    /// Agent probing (offline after N consecutive failed fetches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<ProbeSpec>,
    /// The company's pod monitor service, asked whether a pod is still alive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_monitor: Option<PodMonitorSpec>,
    /// The service's Pods in the target's namespace (operator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods: Option<PodsSpec>,
    /// Coverage thresholds in percent (operator condition ThresholdsMet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thresholds: Option<ThresholdsSpec>,
}

/// Registered names owned by a target.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServicesSpec {
    /// Regexp on registered names; unset means every name that parses.
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none")]
    pub match_: Option<String>,
    /// Regexp with named groups env, region, app, service, branch, commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_pattern: Option<String>,
}

/// The source repository.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RepoSpec {
    /// ssh (`git@host:path`, `ssh://`), https (`https://[user@]host/path`, no password), `git://`
    /// or a local path.
    pub url: String,
    /// Base for incremental coverage; default `origin/master`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_branch: Option<String>,
    /// Private key file for ssh (serve mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key_file: Option<String>,
    /// known_hosts file for ssh (serve mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts_file: Option<String>,
    /// File holding an access token for https, sent as basic auth with the URL's user name
    /// (default `git`) (serve mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// PEM CA certificates to trust for https besides the system's (serve mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// Secret with `ssh-privatekey` and `known_hosts`, or `token` and `ca.crt` (operator mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
}

/// A Secret in the target's namespace.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
pub struct SecretRef {
    /// The Secret's name.
    pub name: String,
}

/// Pull timing. Durations like `30s`, `15m`, `2h`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleSpec {
    /// Pull interval while data changes; default 15m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Random extra delay added to every pull, up to this; default 10% of the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter: Option<String>,
    /// Intervals to step through while data does not change; default 15m, 60m, 2h, 4h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backoff: Option<Vec<String>>,
}

/// History retention.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
pub struct RetentionSpec {
    /// Older merged profiles kept beside the latest; default 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<u32>,
}

/// Agent probing.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProbeSpec {
    /// Consecutive failed fetches before an address counts as offline; default 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
    /// Total timeout of one agent fetch; default 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// The pod monitor contract: GET `url` (with `{pod}` or `{ip}`), read the JSON value at
/// `statusPointer`; online when it is one of `onlineValues`; HTTP 404 means the pod is gone.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    /// URL template with `{pod}` or `{ip}`.
    pub url: String,
    /// JSON pointer (RFC 6901) to the status value, e.g. `/status`.
    pub status_pointer: String,
    /// Status values meaning the pod is alive.
    pub online_values: Vec<String>,
}

/// The service's Pods.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
pub struct PodsSpec {
    /// Label selector in the target's namespace.
    pub selector: LabelSelector,
}

/// Coverage thresholds in percent.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
pub struct ThresholdsSpec {
    /// Minimum line (statement) coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<f64>,
    /// Minimum incremental coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<f64>,
}

/// Observed state, written by the controller.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CoverageTargetStatus {
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pending, Syncing, Ready or Error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Number of registered names owned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_count: Option<u32>,
    /// Lowest line coverage among the names, one decimal, e.g. `71.4%`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_percent: Option<String>,
    /// Lowest incremental coverage among the names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_percent: Option<String>,
    /// Most recent sync that found new data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<String>,
    /// Ready, Synced, ThresholdsMet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Per registered name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<ServiceStatus>,
}

/// Status of one registered name.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// The registered name.
    pub name: String,
    /// Branch part of the name.
    pub branch: String,
    /// Commit part of the name.
    pub commit: String,
    /// Addresses currently answering.
    pub online_replicas: u32,
    /// Addresses known.
    pub total_replicas: u32,
    /// Last sync that found new data (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_change: Option<String>,
    /// Next scheduled pull (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_sync: Option<String>,
    /// Position on the backoff ladder.
    pub backoff_step: u32,
    /// md5 of the normalized merged profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Line coverage percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_percent: Option<f64>,
    /// Incremental coverage percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_percent: Option<f64>,
    /// Report files on the volume and API URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reports: Vec<ReportLocation>,
}

/// Where one report is.
#[derive(Deserialize, Serialize, Clone, Debug, Default, JsonSchema, PartialEq)]
pub struct ReportLocation {
    /// func, html, json, diff-json, diff-html.
    pub kind: String,
    /// Path on the volume.
    pub path: String,
    /// API URL path.
    pub url: String,
}
