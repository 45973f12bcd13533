//! Keeping a local bare clone of a service's repository up to date (git2; ssh through
//! [`super::ssh`], https through [`super::https`], credentials from files).

use std::path::{Path, PathBuf};

use std::sync::Once;

use git2::{FetchOptions, RemoteCallbacks, Repository};

use super::{https, ssh};

/// Credentials for ssh and https remotes, as files. Their content is never logged.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// ssh private key file.
    pub ssh_key_file: Option<PathBuf>,
    /// ssh known_hosts file; when set, host keys not in it are refused.
    pub known_hosts_file: Option<PathBuf>,
    /// https: a file holding an access token, sent as the password of basic auth.
    pub token_file: Option<PathBuf>,
    /// https: PEM CA certificates to trust besides the system's.
    pub ca_file: Option<PathBuf>,
}

/// A clone or fetch that failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// git failed.
    #[error("{url}: {what}: {source}")]
    Git {
        /// The remote.
        url: String,
        /// The step.
        what: &'static str,
        /// git's reason.
        source: git2::Error,
    },
    /// The connection was refused on our side or the server's: an unknown host key, a refused
    /// ssh key.
    #[error("{url}: {reason}")]
    Refused {
        /// The remote.
        url: String,
        /// Why.
        reason: String,
    },
    /// The fetch could not be set up: an unreadable token or CA file, a malformed URL.
    #[error("{url}: {reason}")]
    Setup {
        /// The remote.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The commit is not in the repository even after fetching.
    #[error("{url}: commit {commit:?} not found (after fetching)")]
    UnknownCommit {
        /// The remote.
        url: String,
        /// The commit asked for.
        commit: String,
    },
}

/// Why a transport refused to go on (an unknown host key, a refused ssh key or token), for the
/// error: libgit2 rewords errors of its own steps.
pub(super) type Refusal = std::sync::Arc<std::sync::Mutex<Option<String>>>;

/// Fetch options with progress in the log. Credentials are not libgit2's business: ssh and
/// https go through this crate's transports, which take them from the fetch's session.
fn fetch_options() -> FetchOptions<'static> {
    let mut cb = RemoteCallbacks::new();
    let mut last = 0usize;
    cb.transfer_progress(move |p| {
        // Log about every 10% so a large clone shows progress without flooding.
        let total = p.total_objects().max(1);
        let pct = p.received_objects() * 100 / total;
        if pct >= last + 10 || p.received_objects() == p.total_objects() {
            last = pct;
            tracing::info!(
                received = p.received_objects(),
                total = p.total_objects(),
                "git fetch progress"
            );
        }
        true
    });
    let mut fo = FetchOptions::new();
    fo.remote_callbacks(cb);
    fo
}

/// Registers this crate's transports with libgit2, once per process: https and http
/// ([`https`]), ssh ([`ssh`]). The binary calls it at start: libgit2 does not lock its list of
/// transports, so it must not change while other threads fetch. Fetches call it too (a no-op
/// then), for library users.
pub fn register_transports() {
    static ONCE: Once = Once::new();
    type Factory = fn(&git2::Remote<'_>) -> Result<git2::transport::Transport, git2::Error>;
    ONCE.call_once(|| {
        let all: [(&str, Factory); 3] = [
            ("https", https::factory),
            ("http", https::factory),
            (ssh::SCHEME, ssh::factory),
        ];
        for (scheme, factory) in all {
            // SAFETY: once per process, before the binary's threads fetch (see above).
            if let Err(e) = unsafe { git2::transport::register(scheme, factory) } {
                tracing::error!(%scheme, error = %e, "registering a git transport failed");
            }
        }
    });
}

/// Every branch of `origin`, under `refs/remotes/origin/` (so `origin/master` names the base).
const REFSPEC: &str = "+refs/heads/*:refs/remotes/origin/*";

/// Commits per branch that a first clone of a remote repository fetches. A report needs the
/// name's commit and its merge-base with the base branch, usually among a branch's last
/// commits: a service's repository with years of history is not downloaded whole for that.
/// When the history at hand lacks either, the rest is fetched ([`UNSHALLOW`]). Not in steps:
/// a fetch with a depth sets the history to that depth from today's tips, which can also cut
/// history another name of the service needs (a step below what is held), and then names
/// would take turns cutting and fetching.
const FIRST_DEPTH: i32 = 50;

/// libgit2's depth that asks for the whole history of a shallow clone.
const UNSHALLOW: i32 = i32::MAX;

/// Whether `url` is an http(s) URL, fetched through [`super::https`].
fn is_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

/// Whether libgit2 reaches `url` through its local transport (a `file://` URL or a path that
/// exists), which cannot fetch shallow.
fn is_local(url: &str) -> bool {
    url.starts_with("file://") || Path::new(url).exists()
}

/// Opens the bare clone at `dir`, creating it (remote `origin` = `url`, branches under
/// `refs/remotes/origin/`) and fetching when it does not exist yet: shallow
/// ([`FIRST_DEPTH`] commits per branch) unless `url` is local.
pub fn ensure_clone(url: &str, dir: &Path, creds: &Credentials) -> Result<Repository, FetchError> {
    let git = |what: &'static str| {
        move |source| FetchError::Git {
            url: url.to_string(),
            what,
            source,
        }
    };
    if let Ok(repo) = Repository::open_bare(dir) {
        return Ok(repo);
    }
    tracing::info!(%url, dir = %dir.display(), "cloning");
    // Clone into a temp sibling, then rename: a crash never leaves a half clone in place.
    let tmp = dir.with_extension("partial");
    let _ = std::fs::remove_dir_all(&tmp);
    if is_local(url) {
        // As `git clone` does for a path: the object files are hard-linked (copied across
        // filesystems), then the refs fetched; the pack protocol would compress every object
        // into a pack only to unpack it again (most of a small repository's clone time).
        let mut fo = fetch_options();
        fo.download_tags(git2::AutotagOption::All);
        git2::build::RepoBuilder::new()
            .bare(true)
            .clone_local(git2::build::CloneLocal::Local)
            .fetch_options(fo)
            .remote_create(|repo, name, url| repo.remote_with_fetch(name, url, REFSPEC))
            .clone(url, &tmp)
            .map_err(git("clone"))?;
        // The clone made a local branch for the remote's HEAD, which no fetch would ever move:
        // a base branch named without `origin/` would silently resolve to it. Only
        // `refs/remotes/origin/*` is kept, as for a remote.
        let repo = Repository::open_bare(&tmp).map_err(git("open"))?;
        let locals: Vec<String> = repo
            .references_glob("refs/heads/*")
            .map_err(git("list branches"))?
            .filter_map(|r| r.ok().and_then(|r| r.name().ok().map(str::to_string)))
            .collect();
        for name in locals {
            repo.find_reference(&name)
                .and_then(|mut r| r.delete())
                .map_err(git("drop local branch"))?;
        }
    } else {
        let repo = Repository::init_bare(&tmp).map_err(git("init"))?;
        repo.remote_with_fetch("origin", url, REFSPEC)
            .map_err(git("add remote"))?;
        fetch_depth(&repo, url, creds, FIRST_DEPTH)?;
    }
    std::fs::rename(&tmp, dir).map_err(|e| FetchError::Git {
        url: url.to_string(),
        what: "rename clone into place",
        source: git2::Error::from_str(&e.to_string()),
    })?;
    Repository::open_bare(dir).map_err(git("open"))
}

/// Fetches every branch (and tags) from `origin`. A shallow clone stays shallow: new commits
/// are fetched down to the history already held.
pub fn fetch(repo: &Repository, url: &str, creds: &Credentials) -> Result<(), FetchError> {
    fetch_depth(repo, url, creds, 0)
}

/// [`fetch`] with a depth: 0 for no limit, else that many commits from each branch tip
/// ([`UNSHALLOW`]: everything).
fn fetch_depth(
    repo: &Repository,
    url: &str,
    creds: &Credentials,
    depth: i32,
) -> Result<(), FetchError> {
    if depth > 0 {
        tracing::info!(%url, depth = if depth == UNSHALLOW { "all".to_string() } else { depth.to_string() }, "fetching history");
    }
    let git = |what: &'static str| {
        move |source| FetchError::Git {
            url: url.to_string(),
            what,
            source,
        }
    };
    register_transports();
    let refusal = Refusal::default();
    let mut fo = fetch_options();
    fo.download_tags(git2::AutotagOption::All);
    fo.depth(depth);
    let fetched = if is_http(url) {
        let mut remote = repo.find_remote("origin").map_err(git("find remote"))?;
        let session = https::Session::new(url, creds, refusal.clone()).map_err(|reason| {
            FetchError::Setup {
                url: url.to_string(),
                reason,
            }
        })?;
        https::with_session(session, || remote.fetch(&[REFSPEC], Some(&mut fo), None))
    } else if ssh::parse(url).is_some() {
        // Under the ssh transport's scheme: libgit2 finds custom transports by URL prefix, which
        // `git@host:path` lacks. The refspec names where the branches go, as for `origin`.
        let mut remote = repo
            .remote_anonymous(&format!("{}://{url}", ssh::SCHEME))
            .map_err(git("open remote"))?;
        let session = ssh::Session::new(creds, refusal.clone());
        ssh::with_session(session, || remote.fetch(&[REFSPEC], Some(&mut fo), None))
    } else {
        let mut remote = repo.find_remote("origin").map_err(git("find remote"))?;
        remote.fetch(&[REFSPEC], Some(&mut fo), None)
    };
    fetched.map_err(|source| {
        let why = refusal.lock().ok().and_then(|mut r| r.take());
        match why {
            Some(reason) => FetchError::Refused {
                url: url.to_string(),
                reason,
            },
            None => FetchError::Git {
                url: url.to_string(),
                what: "fetch",
                source,
            },
        }
    })
}

/// Resolves a (possibly abbreviated) commit to its full id, fetching once if it is unknown.
pub fn resolve_commit(
    repo: &Repository,
    url: &str,
    short: &str,
    creds: &Credentials,
) -> Result<String, FetchError> {
    let find = |repo: &Repository| {
        repo.revparse_single(short)
            .and_then(|o| o.peel_to_commit())
            .map(|c| c.id().to_string())
            .ok()
    };
    if let Some(id) = find(repo) {
        return Ok(id);
    }
    fetch(repo, url, creds)?;
    // A commit older than a shallow clone's history (a deployment of an older commit).
    if find(repo).is_none()
        && let Some(depth) = deeper(repo)
    {
        fetch_depth(repo, url, creds, depth)?;
    }
    find(repo).ok_or_else(|| FetchError::UnknownCommit {
        url: url.to_string(),
        commit: short.to_string(),
    })
}

/// The deepening left for `repo`: the whole history, or nothing for a complete clone.
fn deeper(repo: &Repository) -> Option<i32> {
    repo.is_shallow().then_some(UNSHALLOW)
}

/// Fetches the rest of a shallow clone's history when `base` (a revision, e.g. `origin/master`)
/// and `commit` have no merge-base in it, which the incremental report needs. A complete clone
/// is left alone (whether they have a merge-base is then the report's business).
pub fn ensure_merge_base(
    repo: &Repository,
    url: &str,
    creds: &Credentials,
    base: &str,
    commit: &str,
) -> Result<(), FetchError> {
    // libgit2 rereads the list of shallow commits when it changes: the open handle sees what a
    // deepening fetched (tests/shallow_clone.rs checks it).
    let has_merge_base = || {
        let (Ok(a), Ok(b)) = (
            repo.revparse_single(base).and_then(|o| o.peel_to_commit()),
            repo.revparse_single(commit)
                .and_then(|o| o.peel_to_commit()),
        ) else {
            return false;
        };
        repo.merge_base(a.id(), b.id()).is_ok()
    };
    if let Some(depth) = deeper(repo)
        && !has_merge_base()
    {
        fetch_depth(repo, url, creds, depth)?;
    }
    Ok(())
}
