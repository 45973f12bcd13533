//! A remote repository is cloned shallow and completed only when a report needs more: served by a
//! real `git daemon` (libgit2's local transport cannot fetch shallow, so a path would not do).

mod common;
mod tool_path;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{branched_history, git_text as git};
use goc_adapter::source::{Credentials, ensure_clone, ensure_merge_base, resolve_commit};

/// `git daemon` serving the bare repositories under a directory; killed on drop.
struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(base: &Path) -> (Daemon, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    // The daemon binary itself: `git daemon` runs it as a child, which killing `git` would
    // leave running.
    let exec_path = git(base, &["--exec-path"]);
    let child = Command::new(Path::new(&exec_path).join("git-daemon"))
        .arg("--reuseaddr")
        .arg("--export-all")
        .arg("--listen=127.0.0.1")
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("git-daemon starts (Debian's git package has it)");
    let daemon = Daemon(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "git daemon did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, port)
}

fn commits_reachable(repo: &git2::Repository, rev: &str) -> usize {
    let mut walk = repo.revwalk().unwrap();
    walk.push(repo.revparse_single(rev).unwrap().id()).unwrap();
    walk.count()
}

#[test]
fn remote_clones_are_shallow_and_completed_on_demand() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // master: 150 commits; feature branches off the 20th and adds 3.
    let (fork, feature) = branched_history(&src, 150, 20, 3);
    let old = git(&src, &["rev-parse", "master~120"]);
    let served = tmp.path().join("served");
    std::fs::create_dir(&served).unwrap();
    git(
        tmp.path(),
        &["clone", "-q", "--bare", "src", "served/repo.git"],
    );
    let (_daemon, port) = serve(&served);
    let url = format!("git://127.0.0.1:{port}/repo.git");
    let creds = Credentials::default();

    let dir = tmp.path().join("home").join("repo");
    std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
    let repo = ensure_clone(&url, &dir, &creds).expect("shallow clone");
    assert!(repo.is_shallow(), "a remote is cloned shallow");
    let held = commits_reachable(&repo, "origin/master");
    assert!(held < 150, "only part of master's history: {held} commits");

    // The feature tip is there; its merge-base with master (130 commits below master's tip) is
    // not, until the rest of the history is fetched.
    let full = resolve_commit(&repo, &url, &feature[..10], &creds).expect("tip resolves");
    assert_eq!(full, feature);
    let merge_base = |r: &git2::Repository| {
        let a = r.revparse_single("origin/master").unwrap().id();
        let b = r.revparse_single(&feature).unwrap().id();
        r.merge_base(a, b).ok().map(|o| o.to_string())
    };
    assert_eq!(merge_base(&repo), None, "not in the first fetch");
    ensure_merge_base(&repo, &url, &creds, "origin/master", &feature).expect("completed");
    assert!(!repo.is_shallow(), "the whole history, not a deeper cut");
    // The handle that was open meanwhile sees the new history (the collector builds the
    // reports with it), as does a new one.
    assert_eq!(merge_base(&repo), Some(fork.clone()));
    let reopened = git2::Repository::open_bare(&dir).unwrap();
    assert_eq!(merge_base(&reopened), Some(fork));

    // A commit deep in master's history (an old deployment) resolves by completing it too.
    let fresh = tmp.path().join("home").join("repo2");
    let repo2 = ensure_clone(&url, &fresh, &creds).expect("second shallow clone");
    assert!(repo2.is_shallow());
    // A new commit on the remote: a plain fetch brings it, and the clone stays shallow.
    git(&src, &["commit", "-q", "--allow-empty", "-m", "m151"]);
    let newest = git(&src, &["rev-parse", "HEAD"]);
    git(
        tmp.path(),
        &["-C", "src", "push", "-q", "../served/repo.git", "master"],
    );
    let got = resolve_commit(&repo2, &url, &newest[..10], &creds).expect("new commit resolves");
    assert_eq!(got, newest);
    assert!(repo2.is_shallow(), "a plain fetch keeps the clone shallow");
    assert!(
        repo2.revparse_single(&old).is_err(),
        "not in the first fetch"
    );
    let found = resolve_commit(&repo2, &url, &old[..10], &creds).expect("old commit resolves");
    assert_eq!(found, old);

    // A local path (here a working repository) is cloned whole: libgit2 cannot fetch it
    // shallow; its objects are linked, as `git clone` does.
    let local = tmp.path().join("home").join("repo3");
    let repo3 = ensure_clone(src.to_str().unwrap(), &local, &creds).unwrap();
    assert!(!repo3.is_shallow());
    assert_eq!(commits_reachable(&repo3, "origin/master"), 151);
    assert_eq!(commits_reachable(&repo3, "origin/feature"), 23);
    // Only remote-tracking branches, as for a remote: no local branch frozen at clone time.
    let locals = |r: &git2::Repository| r.references_glob("refs/heads/*").unwrap().count();
    assert_eq!(locals(&repo3), 0);
    assert_eq!(locals(&repo), 0);
}
