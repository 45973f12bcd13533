//! The home directory layout, crash-safe writes and history rotation.
//!
//! ```text
//! <home>/<service>/repo/                                  one bare clone per service
//! <home>/<service>/<name>/<name>.cov                      latest merged profile
//! <home>/<service>/<name>/cov_history/<name>_1.cov ...    older ones, _1 newest
//! <home>/<service>/<name>/<name>_report.{txt,html,json}   full reports
//! <home>/<service>/<name>/<name>_diff.{txt,json,html,md}  incremental reports
//! <home>/<service>/<name>/state/{name.json,accum.json}    collector state
//! ```
//! Every path component comes from a validated name part.

mod state;

pub use state::{AddressState, HistoryEntry, NameState};

use std::path::{Path, PathBuf};

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::fsutil::{link_atomic, write_atomic, write_atomic_all};
use crate::target::{NameParts, validate_path_segment};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A state file is corrupt.
    #[error("{path}: corrupt state file: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A name that cannot be a path component.
    #[error("invalid name {0}")]
    Name(String),
}

/// A report file kind and its file name suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// `go tool cover -func` text.
    Func,
    /// HTML.
    Html,
    /// JSON.
    Json,
    /// Incremental, diff-cover console text.
    DiffText,
    /// Incremental, JSON.
    DiffJson,
    /// Incremental, HTML.
    DiffHtml,
    /// Incremental, markdown.
    DiffMarkdown,
}

impl ReportKind {
    /// File name suffix after `<name>`.
    pub fn suffix(self) -> &'static str {
        match self {
            ReportKind::Func => "_report.txt",
            ReportKind::Html => "_report.html",
            ReportKind::Json => "_report.json",
            ReportKind::DiffText => "_diff.txt",
            ReportKind::DiffJson => "_diff.json",
            ReportKind::DiffHtml => "_diff.html",
            ReportKind::DiffMarkdown => "_diff.md",
        }
    }

    /// HTTP content type.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportKind::Func | ReportKind::DiffText => "text/plain; charset=utf-8",
            ReportKind::Html | ReportKind::DiffHtml => "text/html; charset=utf-8",
            ReportKind::Json | ReportKind::DiffJson => "application/json",
            ReportKind::DiffMarkdown => "text/markdown; charset=utf-8",
        }
    }
}

/// The home directory.
#[derive(Debug, Clone)]
pub struct Store {
    home: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Store {
    /// Uses (and creates) `home`.
    pub fn open(home: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(home).map_err(io(home))?;
        Ok(Store {
            home: home.to_path_buf(),
        })
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// `<home>/<service>/repo`.
    pub fn repo_dir(&self, service: &str) -> Result<PathBuf, StoreError> {
        validate_path_segment(service).map_err(StoreError::Name)?;
        Ok(self.home.join(service).join("repo"))
    }

    /// `<home>/<service>/<name>`.
    pub fn name_dir(&self, parts: &NameParts) -> Result<PathBuf, StoreError> {
        validate_path_segment(&parts.service).map_err(StoreError::Name)?;
        validate_path_segment(&parts.name).map_err(StoreError::Name)?;
        Ok(self.home.join(&parts.service).join(&parts.name))
    }

    /// Path of the latest merged profile.
    pub fn profile_path(&self, parts: &NameParts) -> Result<PathBuf, StoreError> {
        Ok(self.name_dir(parts)?.join(format!("{}.cov", parts.name)))
    }

    /// Path of history entry `n` (1 = newest older one).
    pub fn history_path(&self, parts: &NameParts, n: u32) -> Result<PathBuf, StoreError> {
        Ok(self
            .name_dir(parts)?
            .join("cov_history")
            .join(format!("{}_{n}.cov", parts.name)))
    }

    /// Path of a report file.
    pub fn report_path(&self, parts: &NameParts, kind: ReportKind) -> Result<PathBuf, StoreError> {
        Ok(self
            .name_dir(parts)?
            .join(format!("{}{}", parts.name, kind.suffix())))
    }

    fn state_path(&self, parts: &NameParts, file: &str) -> Result<PathBuf, StoreError> {
        Ok(self.name_dir(parts)?.join("state").join(file))
    }

    /// Writes `bytes` atomically, creating parent directories.
    pub fn write(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        write_atomic(path, bytes).map_err(io(path))
    }

    /// Writes several files atomically (each one is replaced whole; directories are fsynced once
    /// per batch), creating parent directories.
    pub fn write_all(&self, files: &[(PathBuf, &[u8])]) -> Result<(), StoreError> {
        for (path, _) in files {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
        }
        let refs: Vec<(&Path, &[u8])> = files.iter().map(|(p, b)| (p.as_path(), *b)).collect();
        write_atomic_all(&refs).map_err(|(path, e)| io(&path)(e))
    }

    /// Reads a file; `Ok(None)` when it does not exist.
    pub fn read(&self, path: &Path) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::read(path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(path)(e)),
        }
    }

    /// Makes `text` the latest profile, shifting the previous latest into history
    /// (`_1` newest, at most `keep` entries). At every instant a complete latest profile exists.
    pub fn rotate_in_profile(
        &self,
        parts: &NameParts,
        text: &[u8],
        keep: u32,
    ) -> Result<(), StoreError> {
        let latest = self.profile_path(parts)?;
        if keep > 0 && latest.exists() {
            for n in (1..keep).rev() {
                let from = self.history_path(parts, n)?;
                if from.exists() {
                    let to = self.history_path(parts, n + 1)?;
                    std::fs::rename(&from, &to).map_err(io(&from))?;
                }
            }
            let first = self.history_path(parts, 1)?;
            if let Some(dir) = first.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            // The previous latest is on disk already (written crash-safe and never modified in
            // place): a hard link keeps it without rewriting its bytes.
            if !link_atomic(&latest, &first).map_err(io(&first))?
                && let Some(previous) = self.read(&latest)?
            {
                self.write(&first, &previous)?;
            }
        }
        self.write(&latest, text)
    }

    /// Loads a JSON state file of a name.
    pub fn load_json<T: DeserializeOwned>(
        &self,
        parts: &NameParts,
        file: &str,
    ) -> Result<Option<T>, StoreError> {
        let path = self.state_path(parts, file)?;
        match self.read(&path)? {
            None => Ok(None),
            Some(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt {
                        path,
                        what: e.to_string(),
                    })
            }
        }
    }

    /// Saves a JSON state file of a name atomically.
    pub fn save_json<T: Serialize>(
        &self,
        parts: &NameParts,
        file: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let path = self.state_path(parts, file)?;
        let bytes = serde_json::to_vec_pretty(value).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            what: e.to_string(),
        })?;
        self.write(&path, &bytes)
    }

    /// Every name with saved state (to resume after a restart and to serve offline names).
    pub fn saved_states(&self) -> Vec<Result<NameState, StoreError>> {
        let mut out = Vec::new();
        let Ok(services) = std::fs::read_dir(&self.home) else {
            return out;
        };
        for svc in services.flatten() {
            let Ok(names) = std::fs::read_dir(svc.path()) else {
                continue;
            };
            for n in names.flatten() {
                let path = n.path().join("state").join("name.json");
                if !path.is_file() {
                    continue;
                }
                out.push(match std::fs::read(&path) {
                    Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        path,
                        what: e.to_string(),
                    }),
                    Err(e) => Err(io(&path)(e)),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts() -> NameParts {
        NameParts {
            name: "staging_th_apa_svc_master_abcdef1".into(),
            env: "staging".into(),
            region: "th".into(),
            app: "apa".into(),
            service: "svc".into(),
            branch: "master".into(),
            commit: "abcdef1".into(),
        }
    }

    #[test]
    fn rotation_keeps_n_newest() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let p = parts();
        for i in 0..8 {
            s.rotate_in_profile(&p, format!("v{i}").as_bytes(), 5)
                .unwrap();
        }
        assert_eq!(
            s.read(&s.profile_path(&p).unwrap()).unwrap().unwrap(),
            b"v7"
        );
        for n in 1..=5 {
            let h = s.read(&s.history_path(&p, n).unwrap()).unwrap().unwrap();
            assert_eq!(h, format!("v{}", 7 - n).as_bytes());
        }
        assert!(s.read(&s.history_path(&p, 6).unwrap()).unwrap().is_none());
    }

    #[test]
    fn names_are_validated_before_paths() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut p = parts();
        p.service = "../etc".into();
        assert!(s.name_dir(&p).is_err());
        assert!(s.repo_dir("a/b").is_err());
    }
}
