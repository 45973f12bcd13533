//! Go sources read straight from git objects at a commit: no checkout, no working tree.
//!
//! Import paths in a profile map to repository files through the `module` line of every go.mod
//! in the tree at that commit (nested modules included, longest module path wins).

pub mod changes;
mod fetch;
mod gomod;
mod handles;
mod https;
mod locate;
mod renames;
mod session;
mod ssh;
mod xdiff;
#[cfg(xdl_hash_wrapped)]
mod xdiff_hash;

pub use fetch::{
    Credentials, FetchError, ensure_clone, ensure_merge_base, fetch, register_transports,
    resolve_commit,
};

pub use gomod::module_path;

use handles::Handles;

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use rayon::prelude::*;

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
    /// Every blob of the tree by repository path, from one walk: looking paths up here instead
    /// of descending the trees for each file made reading sources several times cheaper (trees
    /// over 4 KiB are not in libgit2's object cache, so each descent inflated them again).
    blobs: foldhash::HashMap<String, Oid>,
}

impl SourceTree {
    /// Opens `repo_dir` at `rev` (any revision git understands) and indexes its go.mod files.
    pub fn open(repo_dir: &Path, rev: &str) -> Result<SourceTree, SourceError> {
        let repo = Repository::open(repo_dir).map_err(|source| SourceError::Open {
            path: repo_dir.to_path_buf(),
            source,
        })?;
        Self::from_repository(repo, repo_dir, rev)
    }

    /// [`SourceTree::open`] with the repository at `repo_dir` already open (opening one reads
    /// git's config files: a few percent of a small service's report).
    pub fn from_repository(
        repo: Repository,
        repo_dir: &Path,
        rev: &str,
    ) -> Result<SourceTree, SourceError> {
        // Objects are read once per report; re-hashing every object on read (libgit2's default,
        // not git's) was a third of a func report's time. `git fsck` is the corruption check.
        git2::opts::strict_hash_verification(false);
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
            blobs: Default::default(),
            repo,
        };
        (st.modules, st.blobs) = st.index_tree()?;
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

    /// Walks the tree once: the modules (go.mod files outside the directories the go command
    /// ignores) and every blob by path.
    fn index_tree(&self) -> Result<(Vec<Module>, foldhash::HashMap<String, Oid>), SourceError> {
        let tree = self
            .repo
            .find_tree(self.tree)
            .map_err(|e| self.read_err("tree", e))?;
        let mut gomods: Vec<(String, Oid)> = Vec::new();
        let mut blobs = foldhash::HashMap::default();
        tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
            let name = entry.name().unwrap_or("");
            match entry.kind() {
                // The go command ignores these directories: no import path names a file there.
                Some(ObjectType::Tree) if name == "testdata" || name.starts_with(['.', '_']) => {
                    return TreeWalkResult::Skip;
                }
                Some(ObjectType::Blob) => {
                    // A go.mod under vendor/ is not a module of this tree; vendored files are
                    // still indexed (resolve looks there).
                    let in_vendor = dir.starts_with("vendor/") || dir.contains("/vendor/");
                    if name == "go.mod" && !in_vendor {
                        gomods.push((dir.trim_end_matches('/').to_string(), entry.id()));
                    }
                    blobs.insert(format!("{dir}{name}"), entry.id());
                }
                _ => {}
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
        Ok((modules, blobs))
    }

    /// Maps a profile file name (import path + base name) to a repository path, if a module in
    /// the tree owns it and the file exists at this commit (the module's vendor directory is
    /// consulted too, as the go command would).
    pub fn resolve(&self, profile_name: &str) -> Option<String> {
        for m in &self.modules {
            let Some(rest) = profile_name
                .strip_prefix(m.path.as_str())
                .and_then(|r| r.strip_prefix('/'))
            else {
                continue;
            };
            let candidate = join(&m.dir, rest);
            if self.blobs.contains_key(&candidate) {
                return Some(candidate);
            }
        }
        for m in self.modules.iter().filter(|m| !m.dir.contains("vendor")) {
            let candidate = join(&join(&m.dir, "vendor"), profile_name);
            if self.blobs.contains_key(&candidate) {
                return Some(candidate);
            }
        }
        None
    }

    /// Reads a file at this commit; `Ok(None)` when it does not exist.
    pub fn read(&self, repo_path: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if let Some(&oid) = self.blobs.get(repo_path) {
            let blob = self
                .repo
                .find_blob(oid)
                .map_err(|e| self.read_err(repo_path, e))?;
            return Ok(Some(blob.content().to_vec()));
        }
        // Not indexed (a directory the go command ignores, or another spelling): descend.
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

impl SourceTree {
    /// Reads the source of every file of `profile`, aligned with `profile.files`; `None` where a
    /// file does not resolve.
    pub fn sources_for(
        &self,
        profile: &crate::profile::Profile,
    ) -> Result<Vec<Option<crate::report::SourceFile>>, SourceError> {
        self.map_sources(profile, |_, path, text| crate::report::SourceFile {
            path: path.to_string(),
            text: text.to_vec(),
        })
    }

    /// The repository path and blob of a profile file name, if it resolves.
    fn blob_of(&self, name: &str) -> Option<(String, Oid)> {
        let path = self.resolve(name)?;
        let oid = *self.blobs.get(&path)?;
        Some((path, oid))
    }

    /// Applies `f` to the index in `profile.files`, repository path and bytes of every file of
    /// `profile` that resolves, in parallel; the results are aligned with `profile.files`. The
    /// bytes are only borrowed: a caller that needs less than the whole text (the `-func` report
    /// needs the declarations) never copies them.
    pub fn map_sources<T, F>(
        &self,
        profile: &crate::profile::Profile,
        f: F,
    ) -> Result<Vec<Option<T>>, SourceError>
    where
        T: Send,
        F: Fn(usize, &str, &[u8]) -> T + Sync,
    {
        self.sources(profile).map(f)
    }

    /// The blobs of `profile`'s files, to be read on another thread ([`Sources::map`]).
    pub fn sources(&self, profile: &crate::profile::Profile) -> Sources {
        Sources {
            wanted: profile
                .files
                .iter()
                .map(|f| self.blob_of(&f.name))
                .collect(),
            repo_path: self.repo_path.clone(),
            commit: self.commit.to_string(),
        }
    }
}

/// The repository paths and blobs of a profile's files ([`SourceTree::sources`]): unlike the
/// tree, it can move to another thread.
pub struct Sources {
    wanted: Vec<Option<(String, Oid)>>,
    repo_path: PathBuf,
    commit: String,
}

impl Sources {
    /// Whether each file resolves to a source, aligned with `profile.files`: the files
    /// [`Sources::map`] calls its function for.
    pub fn present(&self) -> Vec<bool> {
        self.wanted.iter().map(Option::is_some).collect()
    }

    /// [`SourceTree::map_sources`].
    pub fn map<T, F>(&self, f: F) -> Result<Vec<Option<T>>, SourceError>
    where
        T: Send,
        F: Fn(usize, &str, &[u8]) -> T + Sync,
    {
        // Inflating the blobs is most of the work: spread it over threads, each reading through
        // its own handle (a Repository cannot be shared between threads).
        let repo_path = &self.repo_path;
        let commit = &self.commit;
        let read_err = |what: &str, source: git2::Error| SourceError::Read {
            path: repo_path.clone(),
            commit: commit.clone(),
            what: what.to_string(),
            source,
        };
        let handles = Handles::new(|| Repository::open(repo_path));
        // Taken in profile order, each thread the next file when it is done with one (not the
        // halves of the list rayon would split): a caller writing results as they come (the
        // HTML report) gets them nearly in order.
        let mut read: Vec<(usize, Option<T>)> = self
            .wanted
            .iter()
            .enumerate()
            .par_bridge()
            .map_init(
                || handles.take(),
                |handle, (i, want)| {
                    let Some((path, oid)) = want else {
                        return Ok((i, None));
                    };
                    let repo = handle.get().map_err(|e| SourceError::Open {
                        path: repo_path.clone(),
                        source: handles::copy_err(e),
                    })?;
                    let blob = repo.find_blob(*oid).map_err(|e| read_err(path, e))?;
                    Ok((i, Some(f(i, path, blob.content()))))
                },
            )
            .collect::<Result<_, SourceError>>()?;
        read.sort_unstable_by_key(|(i, _)| *i);
        Ok(read.into_iter().map(|(_, t)| t).collect())
    }
}
