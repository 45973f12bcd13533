//! https (and http) repositories through goc-adapter's own smart-HTTP transport, against git's
//! real `git http-backend` behind a TLS server with a test CA and a token.

mod common;
mod gitserve;
mod tool_path;

use std::path::Path;

use common::{branched_history, git_text as git};
use goc_adapter::source::{
    Credentials, FetchError, ensure_clone, ensure_merge_base, resolve_commit,
};

const TOKEN: &str = "t0ken-5ecret";

fn creds(token: Option<&Path>, ca: Option<&Path>) -> Credentials {
    Credentials {
        token_file: token.map(Path::to_path_buf),
        ca_file: ca.map(Path::to_path_buf),
        ..Credentials::default()
    }
}

fn clone_err(url: &str, dir: &Path, creds: &Credentials) -> FetchError {
    match ensure_clone(url, dir, creds) {
        Ok(_) => panic!("{url}: the clone should fail"),
        Err(e) => e,
    }
}

#[test]
fn https_repositories_clone_shallow_with_token_and_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // master: 70 commits, more than a first clone fetches; feature forks off the 10th.
    let (fork, feature) = branched_history(&src, 70, 10, 1);
    let root = tmp.path().join("served");
    std::fs::create_dir(&root).unwrap();
    git(
        tmp.path(),
        &["clone", "-q", "--bare", "src", "served/repo.git"],
    );
    let server = gitserve::serve(&root, TOKEN);
    let (ca_pem, https, http, served) = (
        server.ca_pem.clone(),
        server.https_port,
        server.http_port,
        server.served.clone(),
    );
    let secrets = tmp.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    let ca = secrets.join("ca.crt");
    std::fs::write(&ca, &ca_pem).unwrap();
    let token = secrets.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let url = format!("https://oauth2@127.0.0.1:{https}/repo.git");
    let good = creds(Some(&token), Some(&ca));

    // Shallow clone, the feature tip, then the rest of the history for the merge-base.
    let repo = ensure_clone(&url, &home.join("a"), &good).expect("https clone");
    assert!(repo.is_shallow(), "cloned shallow over https");
    let full = resolve_commit(&repo, &url, &feature[..10], &good).expect("tip resolves");
    assert_eq!(full, feature);
    ensure_merge_base(&repo, &url, &good, "origin/master", &feature).expect("completed");
    assert!(!repo.is_shallow());
    let master = repo.revparse_single("origin/master").unwrap().id();
    let base = repo
        .merge_base(master, git2::Oid::from_str(&feature).unwrap())
        .unwrap();
    assert_eq!(base.to_string(), fork);

    // A redirected repository: the POSTs go where the refs came from.
    served.log.lock().unwrap().clear();
    let moved = format!("https://127.0.0.1:{https}/moved/repo.git");
    ensure_clone(&moved, &home.join("b"), &good).expect("redirected clone");
    let log = served.log.lock().unwrap().clone();
    assert!(
        log.contains(&"POST /repo.git/git-upload-pack".to_string())
            && !log.iter().any(|l| l.starts_with("POST /moved")),
        "{log:?}"
    );

    // As the collector fetches: on a blocking thread of the service's runtime (the transport
    // runs a runtime of its own there).
    let (u, d, c) = (url.clone(), home.join("j"), good.clone());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(rt.spawn_blocking(move || ensure_clone(&u, &d, &c).map(|_| ())))
        .unwrap()
        .expect("clone on a blocking thread of a runtime");

    // Plain http works the same (no CA needed).
    let plain = format!("http://127.0.0.1:{http}/repo.git");
    ensure_clone(&plain, &home.join("c"), &creds(Some(&token), None)).expect("http clone");

    // No token: the error says how to give one.
    let e = clone_err(&url, &home.join("d"), &creds(None, Some(&ca))).to_string();
    assert!(
        e.contains("asks for credentials") && e.contains("tokenFile"),
        "{e}"
    );
    // A wrong token: the error names its file, never its content.
    let wrong = secrets.join("wrong");
    std::fs::write(&wrong, "n0t-it").unwrap();
    let e = clone_err(&url, &home.join("e"), &creds(Some(&wrong), Some(&ca)));
    assert!(matches!(e, FetchError::Refused { .. }), "{e:?}");
    let e = e.to_string();
    assert!(
        e.contains("refused the token in") && e.contains("wrong"),
        "{e}"
    );
    assert!(!e.contains("n0t-it"), "the token is in the error: {e}");
    // The test CA not trusted: a certificate error.
    let e = clone_err(&url, &home.join("f"), &creds(Some(&token), None)).to_string();
    assert!(e.contains("certificate"), "{e}");
    assert!(!e.contains(TOKEN), "{e}");
    // No repository there: the server's answer.
    let missing = format!("https://127.0.0.1:{https}/nothing.git");
    let e = clone_err(&missing, &home.join("g"), &good).to_string();
    assert!(e.contains("404"), "{e}");
    // Unreadable settings name their file.
    let e = clone_err(
        &url,
        &home.join("h"),
        &creds(Some(&secrets.join("none")), None),
    );
    assert!(matches!(e, FetchError::Setup { .. }), "{e:?}");
    std::fs::write(secrets.join("bad.crt"), "not a certificate").unwrap();
    let e = clone_err(
        &url,
        &home.join("i"),
        &creds(Some(&token), Some(&secrets.join("bad.crt"))),
    )
    .to_string();
    assert!(
        e.contains("bad.crt") && e.contains("no PEM certificate"),
        "{e}"
    );
    // Nothing half-cloned is left by the failures.
    for d in ["d", "e", "f", "g", "h", "i"] {
        assert!(!home.join(d).exists(), "{d}");
    }
}
