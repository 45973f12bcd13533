//! Turning a CoverageTarget spec into a validated [`Target`] with defaults applied.

use std::path::Path;
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::names::{DEFAULT_NAME_PATTERN, NamePattern, validate_path_segment};
use super::spec::{CoverageTargetSpec, ThresholdsSpec};

/// API version accepted in target files.
pub const API_VERSION: &str = "coverage.goc-adapter.io/v1alpha1";

/// A target file or spec that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A document is not valid YAML or not a CoverageTarget.
    #[error("{input}: document {doc}: {what}")]
    Document {
        /// The file.
        input: String,
        /// 1-based document index.
        doc: usize,
        /// What is wrong.
        what: String,
    },
    /// A field has an unusable value.
    #[error("target {target}: {field}: {what}")]
    Field {
        /// The target's name.
        target: String,
        /// The field path, e.g. `spec.schedule.interval`.
        field: String,
        /// What is wrong.
        what: String,
    },
}

/// The pull schedule with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Interval while data changes.
    pub interval: Duration,
    /// Upper bound of the random extra delay.
    pub jitter: Duration,
    /// Ladder stepped through while data does not change.
    pub backoff: Vec<Duration>,
}

/// The pod monitor contract, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodMonitor {
    /// URL template with `{pod}` or `{ip}`.
    pub url: String,
    /// JSON pointer to the status value.
    pub status_pointer: String,
    /// Values meaning alive.
    pub online_values: Vec<String>,
}

/// A validated target with every default applied.
#[derive(Debug, Clone)]
pub struct Target {
    /// The target's name (`metadata.name`); a path segment.
    pub name: String,
    /// The namespace (operator) or `None` (serve).
    pub namespace: Option<String>,
    /// goc server base URL without a trailing slash.
    pub goc_server: String,
    /// Registered names this target owns.
    pub matcher: Option<Regex>,
    /// How names split into parts.
    pub pattern: NamePattern,
    /// Repository URL or path.
    pub repo_url: String,
    /// Base for incremental coverage.
    pub base_branch: String,
    /// ssh private key file.
    pub ssh_key_file: Option<String>,
    /// ssh known_hosts file.
    pub known_hosts_file: Option<String>,
    /// https access token file.
    pub token_file: Option<String>,
    /// https CA certificates file.
    pub ca_file: Option<String>,
    /// Pull timing.
    pub schedule: Schedule,
    /// Older merged profiles kept.
    pub history: u32,
    /// Consecutive failures before offline.
    pub probe_failures: u32,
    /// Timeout of one agent fetch.
    pub probe_timeout: Duration,
    /// Pod monitor, if any.
    pub pod_monitor: Option<PodMonitor>,
    /// Thresholds in percent.
    pub thresholds: ThresholdsSpec,
    /// The spec as given.
    pub spec: CoverageTargetSpec,
}

impl Target {
    /// `namespace/name` in the operator, `name` in serve mode: the key of the target's state.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{ns}/{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether this target owns a registered name.
    pub fn owns(&self, name: &str) -> bool {
        self.matcher.as_ref().is_none_or(|m| m.is_match(name))
    }

    /// Validates a spec and applies defaults.
    pub fn from_spec(
        name: &str,
        namespace: Option<&str>,
        spec: &CoverageTargetSpec,
    ) -> Result<Target, TargetError> {
        let field = |field: &str, what: String| TargetError::Field {
            target: name.to_string(),
            field: field.to_string(),
            what,
        };
        validate_path_segment(name).map_err(|e| field("metadata.name", e))?;
        let goc = spec.goc_server.trim().trim_end_matches('/').to_string();
        if !(goc.starts_with("http://") || goc.starts_with("https://")) || goc.len() < 10 {
            return Err(field(
                "spec.gocServer",
                format!("{goc:?} is not an http(s) URL"),
            ));
        }
        let matcher = match &spec.services.match_ {
            Some(m) => Some(
                Regex::new(m)
                    .map_err(|e| field("spec.services.match", format!("invalid regexp: {e}")))?,
            ),
            None => None,
        };
        let pattern = NamePattern::new(
            spec.services
                .name_pattern
                .as_deref()
                .unwrap_or(DEFAULT_NAME_PATTERN),
        )
        .map_err(|e| field("spec.services.namePattern", e))?;
        let url = spec.repo.url.trim();
        if url.is_empty() {
            return Err(field("spec.repo.url", "must not be empty".into()));
        }
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("https://") || lower.starts_with("http://") {
            // The URL is logged and shown in status and errors; so is not a password in it.
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| field("spec.repo.url", format!("not a URL: {e}")))?;
            if parsed.password().is_some() {
                return Err(field(
                    "spec.repo.url",
                    "holds a password, which would be logged: put the token in spec.repo.tokenFile (the operator: `token` in the Secret)".into(),
                ));
            }
        } else {
            for (name, set) in [
                ("spec.repo.tokenFile", &spec.repo.token_file),
                ("spec.repo.caFile", &spec.repo.ca_file),
            ] {
                if set.is_some() {
                    return Err(field(name, "applies to http(s) URLs only".into()));
                }
            }
        }
        let sched = spec.schedule.clone().unwrap_or_default();
        let dur = |f: &str, v: &str| {
            humantime::parse_duration(v)
                .map_err(|e| field(f, format!("{v:?} is not a duration like 30s, 15m, 2h: {e}")))
        };
        let interval = match &sched.interval {
            Some(v) => dur("spec.schedule.interval", v)?,
            None => Duration::from_secs(15 * 60),
        };
        if interval.is_zero() {
            return Err(field(
                "spec.schedule.interval",
                "must be more than 0".into(),
            ));
        }
        let jitter = match &sched.jitter {
            Some(v) => dur("spec.schedule.jitter", v)?,
            None => interval / 10,
        };
        let backoff = match &sched.backoff {
            Some(list) => list
                .iter()
                .map(|v| dur("spec.schedule.backoff", v))
                .collect::<Result<Vec<_>, _>>()?,
            None => [15, 60, 120, 240]
                .iter()
                .map(|m| Duration::from_secs(m * 60))
                .collect(),
        };
        let probe = spec.probe.clone().unwrap_or_default();
        let probe_timeout = match &probe.timeout {
            Some(v) => dur("spec.probe.timeout", v)?,
            None => Duration::from_secs(10),
        };
        let pod_monitor = match &spec.pod_monitor {
            Some(pm) => {
                if !(pm.url.contains("{pod}") || pm.url.contains("{ip}")) {
                    return Err(field(
                        "spec.podMonitor.url",
                        format!("{:?} has neither {{pod}} nor {{ip}}", pm.url),
                    ));
                }
                if !(pm.status_pointer.is_empty() || pm.status_pointer.starts_with('/')) {
                    return Err(field(
                        "spec.podMonitor.statusPointer",
                        format!(
                            "{:?} is not a JSON pointer (starts with /)",
                            pm.status_pointer
                        ),
                    ));
                }
                Some(PodMonitor {
                    url: pm.url.clone(),
                    status_pointer: pm.status_pointer.clone(),
                    online_values: pm.online_values.clone(),
                })
            }
            None => None,
        };
        Ok(Target {
            name: name.to_string(),
            namespace: namespace.map(str::to_string),
            goc_server: goc,
            matcher,
            pattern,
            repo_url: spec.repo.url.trim().to_string(),
            base_branch: spec
                .repo
                .base_branch
                .clone()
                .unwrap_or_else(|| "origin/master".to_string()),
            ssh_key_file: spec.repo.ssh_key_file.clone(),
            known_hosts_file: spec.repo.known_hosts_file.clone(),
            token_file: spec.repo.token_file.clone(),
            ca_file: spec.repo.ca_file.clone(),
            schedule: Schedule {
                interval,
                jitter,
                backoff,
            },
            history: spec.retention.as_ref().and_then(|r| r.history).unwrap_or(5),
            probe_failures: probe.failures.unwrap_or(3).max(1),
            probe_timeout,
            pod_monitor,
            thresholds: spec.thresholds.clone().unwrap_or_default(),
            spec: spec.clone(),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document {
    api_version: String,
    kind: String,
    metadata: Metadata,
    spec: CoverageTargetSpec,
}

#[derive(Deserialize)]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
}

/// Parses one or more YAML CoverageTarget documents; `input` names the source in errors.
pub fn parse_documents(input: &str, text: &str) -> Result<Vec<Target>, TargetError> {
    let mut out = Vec::new();
    for (i, de) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let doc_err = |what: String| TargetError::Document {
            input: input.to_string(),
            doc: i + 1,
            what,
        };
        let value = serde_yaml_ng::Value::deserialize(de).map_err(|e| doc_err(e.to_string()))?;
        if value.is_null() {
            continue; // an empty document, e.g. a trailing `---`
        }
        let doc: Document = serde_yaml_ng::from_value(value).map_err(|e| doc_err(e.to_string()))?;
        if doc.api_version != API_VERSION || doc.kind != "CoverageTarget" {
            return Err(doc_err(format!(
                "want apiVersion {API_VERSION} kind CoverageTarget, got {} {}",
                doc.api_version, doc.kind
            )));
        }
        if out.iter().any(|t: &Target| t.name == doc.metadata.name) {
            return Err(doc_err(format!(
                "target {:?} defined twice",
                doc.metadata.name
            )));
        }
        out.push(Target::from_spec(
            &doc.metadata.name,
            doc.metadata.namespace.as_deref(),
            &doc.spec,
        )?);
    }
    if out.is_empty() {
        return Err(TargetError::Document {
            input: input.to_string(),
            doc: 0,
            what: "no CoverageTarget document".into(),
        });
    }
    Ok(out)
}

/// Reads and parses a target file.
pub fn load_file(path: &Path) -> Result<Vec<Target>, TargetError> {
    let text = std::fs::read_to_string(path).map_err(|source| TargetError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse_documents(&path.display().to_string(), &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "apiVersion: coverage.goc-adapter.io/v1alpha1\nkind: CoverageTarget\nmetadata:\n  name: demo\nspec:\n  gocServer: http://127.0.0.1:7777/\n  services:\n    match: ^staging_\n  repo:\n    url: /tmp/repo\n  schedule:\n    interval: 30s\n    backoff: [1m, 2h]\n";

    #[test]
    fn defaults_and_values() {
        let t = parse_documents("t.yaml", DOC).unwrap();
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!(t.goc_server, "http://127.0.0.1:7777");
        assert_eq!(t.schedule.interval, Duration::from_secs(30));
        assert_eq!(t.schedule.jitter, Duration::from_secs(3));
        assert_eq!(
            t.schedule.backoff,
            [Duration::from_secs(60), Duration::from_secs(7200)]
        );
        assert_eq!(t.base_branch, "origin/master");
        assert_eq!(t.history, 5);
        assert_eq!(t.probe_failures, 3);
        assert!(t.owns("staging_a"));
        assert!(!t.owns("prod_a"));
    }

    #[test]
    fn errors_name_the_input_and_field() {
        let bad = DOC.replace("30s", "thirty");
        let e = parse_documents("t.yaml", &bad).unwrap_err().to_string();
        assert!(
            e.contains("spec.schedule.interval") && e.contains("thirty"),
            "{e}"
        );
        let e = parse_documents("t.yaml", "kind: X\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.yaml: document 1:"), "{e}");
        let e = parse_documents("t.yaml", &DOC.replace("demo", "../x"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("metadata.name"), "{e}");
    }

    #[test]
    fn https_urls_hold_no_password_and_token_files_need_them() {
        let https = DOC.replace(
            "url: /tmp/repo",
            "url: https://oauth2@git.example.com/team/repo.git\n    tokenFile: /s/token\n    caFile: /s/ca.crt",
        );
        let t = &parse_documents("t.yaml", &https).unwrap()[0];
        assert_eq!(t.token_file.as_deref(), Some("/s/token"));
        assert_eq!(t.ca_file.as_deref(), Some("/s/ca.crt"));
        let e = parse_documents(
            "t.yaml",
            &DOC.replace("/tmp/repo", "https://u:s3cret@git.example.com/r.git"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("spec.repo.url") && e.contains("tokenFile"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "the error shows the password: {e}");
        let e = parse_documents(
            "t.yaml",
            &DOC.replace("url: /tmp/repo", "url: /tmp/repo\n    tokenFile: /s/token"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("spec.repo.tokenFile"), "{e}");
    }
}
