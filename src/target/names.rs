//! Registered goc names (`staging_th_apa_goc_echoserver_master_518e0a570c`) and their parts.

use regex::Regex;

/// The default pattern: env, region and app without `_`, the service may contain `_`, then a
/// branch without `_` and a 7-40 hex commit.
pub const DEFAULT_NAME_PATTERN: &str = r"^(?P<env>[^_]+)_(?P<region>[^_]+)_(?P<app>[^_]+)_(?P<service>.+)_(?P<branch>[^_]+)_(?P<commit>[0-9a-fA-F]{7,40})$";

const GROUPS: [&str; 6] = ["env", "region", "app", "service", "branch", "commit"];

/// The parts of a registered name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NameParts {
    /// The whole registered name.
    pub name: String,
    /// Environment, e.g. `staging`.
    pub env: String,
    /// Region, e.g. `th`.
    pub region: String,
    /// Application, e.g. `apa`.
    pub app: String,
    /// Service, e.g. `goc_echoserver` (a directory under the home).
    pub service: String,
    /// Branch the build came from.
    pub branch: String,
    /// Commit (possibly abbreviated) the build came from.
    pub commit: String,
}

/// A compiled name pattern.
#[derive(Debug, Clone)]
pub struct NamePattern {
    re: Regex,
}

impl NamePattern {
    /// Compiles a pattern; it must have the six named groups.
    pub fn new(pattern: &str) -> Result<NamePattern, String> {
        let re = Regex::new(pattern).map_err(|e| format!("invalid regexp: {e}"))?;
        let names: Vec<&str> = re.capture_names().flatten().collect();
        let missing: Vec<&str> = GROUPS
            .iter()
            .copied()
            .filter(|g| !names.contains(g))
            .collect();
        if !missing.is_empty() {
            return Err(format!("missing named groups: {}", missing.join(", ")));
        }
        Ok(NamePattern { re })
    }

    /// Splits a registered name; `None` if it does not match or a part is not a safe path
    /// segment (names become directories, so they are checked before any use).
    pub fn parse(&self, name: &str) -> Option<NameParts> {
        let caps = self.re.captures(name)?;
        let get = |g: &str| caps.name(g).map(|m| m.as_str().to_string());
        let parts = NameParts {
            name: name.to_string(),
            env: get("env")?,
            region: get("region")?,
            app: get("app")?,
            service: get("service")?,
            branch: get("branch")?,
            commit: get("commit")?,
        };
        validate_path_segment(&parts.name).ok()?;
        validate_path_segment(&parts.service).ok()?;
        Some(parts)
    }
}

/// Checks that `s` can be used as one directory or file name component: 1-200 characters of
/// `[A-Za-z0-9._-]`, not `.` or `..`.
pub fn validate_path_segment(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 200 {
        return Err(format!("{s:?}: must be 1 to 200 characters"));
    }
    if s == "." || s == ".." {
        return Err(format!("{s:?}: not a usable name"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "{s:?}: character {c:?} is not allowed (use A-Z a-z 0-9 . _ -)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pattern_parses_the_seed_example() {
        let p = NamePattern::new(DEFAULT_NAME_PATTERN).unwrap();
        let n = p
            .parse("staging_th_apa_goc_echoserver_master_518e0a570c")
            .unwrap();
        assert_eq!(
            (n.env.as_str(), n.region.as_str(), n.app.as_str()),
            ("staging", "th", "apa")
        );
        assert_eq!(n.service, "goc_echoserver");
        assert_eq!(n.branch, "master");
        assert_eq!(n.commit, "518e0a570c");
    }

    #[test]
    fn rejects_unsafe_and_unmatched_names() {
        let p = NamePattern::new(DEFAULT_NAME_PATTERN).unwrap();
        assert!(p.parse("echoserver").is_none());
        assert!(p.parse("staging_th_apa_../x_master_518e0a570c").is_none());
        assert!(NamePattern::new("(?P<env>x)").is_err());
        assert!(validate_path_segment("..").is_err());
        assert!(validate_path_segment("a/b").is_err());
        assert!(validate_path_segment("ok_name-1.2").is_ok());
    }
}
