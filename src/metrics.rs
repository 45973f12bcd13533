//! Prometheus metrics shared by the collector (writer) and the API (reader).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

/// Labels of per-name series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    /// Registered name.
    pub name: String,
    /// Service part.
    pub service: String,
}

/// Labels of sync outcome counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `changed`, `unchanged` or `error`.
    pub outcome: String,
}

/// Every metric the process exports.
pub struct Metrics {
    /// The registry `/metrics` encodes.
    pub registry: Registry,
    /// Line coverage percent per name.
    pub line_percent: Family<NameLabels, Gauge<f64, AtomicU64>>,
    /// Incremental coverage percent per name.
    pub diff_percent: Family<NameLabels, Gauge<f64, AtomicU64>>,
    /// Online replicas per name.
    pub online_replicas: Family<NameLabels, Gauge>,
    /// Syncs by outcome.
    pub syncs: Family<OutcomeLabels, Counter>,
    /// Addresses removed from the goc server.
    pub removed_addresses: Counter,
    /// Agent fetch failures.
    pub fetch_errors: Counter,
    /// Sync duration in seconds.
    pub sync_seconds: Histogram,
    /// Duration of building a changed name's reports (part of its sync; a first one includes
    /// the clone), in seconds.
    pub report_seconds: Histogram,
}

impl Metrics {
    /// Creates and registers every metric.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("goc_adapter");
        let line_percent = Family::<NameLabels, Gauge<f64, AtomicU64>>::default();
        let diff_percent = Family::<NameLabels, Gauge<f64, AtomicU64>>::default();
        let online_replicas = Family::<NameLabels, Gauge>::default();
        let syncs = Family::<OutcomeLabels, Counter>::default();
        let removed_addresses = Counter::default();
        let fetch_errors = Counter::default();
        let sync_seconds = Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0]);
        let report_seconds = Histogram::new([0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0, 120.0]);
        registry.register(
            "line_coverage_percent",
            "Line coverage (go tool cover -func total)",
            line_percent.clone(),
        );
        registry.register(
            "diff_coverage_percent",
            "Incremental coverage of changed lines",
            diff_percent.clone(),
        );
        registry.register(
            "online_replicas",
            "Replicas answering",
            online_replicas.clone(),
        );
        registry.register("syncs", "Syncs by outcome", syncs.clone());
        registry.register(
            "removed_addresses",
            "Offline addresses removed from the goc server",
            removed_addresses.clone(),
        );
        registry.register(
            "fetch_errors",
            "Failed agent profile fetches",
            fetch_errors.clone(),
        );
        registry.register(
            "sync_duration_seconds",
            "Duration of one name's sync",
            sync_seconds.clone(),
        );
        registry.register(
            "report_build_duration_seconds",
            "Duration of building one changed name's reports (with the clone or fetch they need), part of its sync",
            report_seconds.clone(),
        );
        Metrics {
            registry,
            line_percent,
            diff_percent,
            online_replicas,
            syncs,
            removed_addresses,
            fetch_errors,
            sync_seconds,
            report_seconds,
        }
    }

    /// The text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Encoding into a String only fails on a formatter error, which String never raises.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}
