//! Go sources read straight from git objects at a commit: no checkout, no working tree.
//!
//! Import paths in a profile map to repository files through the `module` line of every go.mod
//! in the tree at that commit (nested modules included, longest module path wins).

mod gomod;

pub use gomod::module_path;

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};

/// What can go wrong reading sources from git.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The repository could not be opened.
    #[error("{path}: not a git repository: {source}")]
    Open {
        /// The directory given.
        path: PathBuf,
        /// git's reason.
        source: git2::Error,
    },
    /// The revision does not name a commit.
    #[error("{path}: revision {rev:?} does not name a commit: {source}")]
    Revision {
        /// The repository.
        path: PathBuf,
        /// The revision given.
        rev: String,
        /// git's reason.
        source: git2::Error,
    },
    /// Reading an object failed (a corrupt or partial repository).
    #[error("{path}: reading {what} at {commit}: {source}")]
    Read {
        /// The repository.
        path: PathBuf,
        /// The commit.
        commit: String,
        /// What was being read.
        what: String,
        /// git's reason.
        source: git2::Error,
    },
}

/// A Go module found in the tree: its module path and the directory of its go.mod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module path from the `module` line.
    pub path: String,
    /// The go.mod's directory, relative to the repository root ("" for the root).
    pub dir: String,
}

/// One commit of a repository, ready to map profile file names to sources.
pub struct SourceTree {
    repo: Repository,
    repo_path: PathBuf,
    commit: Oid,
    tree: Oid,
    modules: Vec<Module>,
}

impl SourceTree {
    /// Opens `repo_dir` at `rev` (any revision git understands) and indexes its go.mod files.
    pub fn open(repo_dir: &Path, rev: &str) -> Result<SourceTree, SourceError> {
        let repo = Repository::open(repo_dir).map_err(|source| SourceError::Open {
            path: repo_dir.to_path_buf(),
            source,
        })?;
        let revision_err = |source| SourceError::Revision {
            path: repo_dir.to_path_buf(),
            rev: rev.to_string(),
            source,
        };
        let (commit_id, tree) = {
            let commit = repo
                .revparse_single(rev)
                .and_then(|o| o.peel_to_commit())
                .map_err(revision_err)?;
            (commit.id(), commit.tree_id())
        };
        let mut st = SourceTree {
            repo_path: repo_dir.to_path_buf(),
            commit: commit_id,
            tree,
            modules: Vec::new(),
            repo,
        };
        st.modules = st.find_modules()?;
        Ok(st)
    }

    /// The full hex id of the commit.
    pub fn commit_id(&self) -> String {
        self.commit.to_string()
    }

    /// The repository this tree was read from.
    pub fn repository(&self) -> &Repository {
        &self.repo
    }

    /// The modules found, longest module path first.
    pub fn modules(&self) -> &[Module] {
        &self.modules
    }

    fn read_err(&self, what: &str, source: git2::Error) -> SourceError {
        SourceError::Read {
            path: self.repo_path.clone(),
            commit: self.commit.to_string(),
            what: what.to_string(),
            source,
        }
    }

    fn find_modules(&self) -> Result<Vec<Module>, SourceError> {
        let tree = self
            .repo
            .find_tree(self.tree)
            .map_err(|e| self.read_err("tree", e))?;
        let mut gomods: Vec<(String, Oid)> = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or("");
            if entry.kind() == Some(ObjectType::Tree) {
                // The go command ignores these directories; a go.mod inside one is not a module
                // any import path can name.
                if name == "vendor" || name == "testdata" || name.starts_with(['.', '_']) {
                    return TreeWalkResult::Skip;
                }
            } else if name == "go.mod" {
                gomods.push((dir.trim_end_matches('/').to_string(), entry.id()));
            }
            TreeWalkResult::Ok
        })
        .map_err(|e| self.read_err("tree", e))?;
        let mut modules = Vec::new();
        for (dir, oid) in gomods {
            let blob = self
                .repo
                .find_blob(oid)
                .map_err(|e| self.read_err(&format!("{dir}/go.mod"), e))?;
            if let Some(path) = module_path(blob.content()) {
                modules.push(Module { path, dir });
            }
        }
        modules.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.dir.cmp(&b.dir)));
        Ok(modules)
    }

    /// Maps a profile file name (import path + base name) to a repository path, if a module in
    /// the tree owns it and the file exists at this commit (the module's vendor directory is
    /// consulted too, as the go command would).
    pub fn resolve(&self, profile_name: &str) -> Option<String> {
        let tree = self.repo.find_tree(self.tree).ok()?;
        for m in &self.modules {
            let Some(rest) = profile_name
                .strip_prefix(m.path.as_str())
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let candidate = join(&m.dir, rest);
            if is_blob(&tree, &candidate) {
                return Some(candidate);
            }
        }
        for m in self.modules.iter().filter(|m| !m.dir.contains("vendor")) {
            let candidate = join(&join(&m.dir, "vendor"), profile_name);
            if is_blob(&tree, &candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// Reads a file at this commit; `Ok(None)` when it does not exist.
    pub fn read(&self, repo_path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        let tree = self
            .repo
            .find_tree(self.tree)
            .map_err(|e| self.read_err("tree", e))?;
        let entry = match tree.get_path(Path::new(repo_path)) {
            Ok(e) => e,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(self.read_err(repo_path, e)),
        };
        if entry.kind() != Some(ObjectType::Blob) {
            return Ok(None);
        }
        let blob = self
            .repo
            .find_blob(entry.id())
            .map_err(|e| self.read_err(repo_path, e))?;
        Ok(Some(blob.content().to_vec()))
    }
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}

fn is_blob(tree: &git2::Tree<'_>, path: &str) -> bool {
    tree.get_path(Path::new(path))
        .map(|e| e.kind() == Some(ObjectType::Blob))
        .unwrap_or(false)
}

impl SourceTree {
    /// Reads the source of every file of `profile`, aligned with `profile.files`; `None` where a
    /// file does not resolve.
    pub fn sources_for(
        &self,
        profile: &crate::profile::Profile,
    ) -> Result<Vec<Option<crate::report::SourceFile>>, SourceError> {
        let mut out = Vec::with_capacity(profile.files.len());
        for f in &profile.files {
            let src = match self.resolve(&f.name) {
                Some(path) => self
                    .read(&path)?
                    .map(|text| crate::report::SourceFile { path, text }),
                None => None,
            };
            out.push(src);
        }
        Ok(out)
    }
}
