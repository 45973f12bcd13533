//! Cloning over ssh with the target's key and known_hosts files, against a real OpenSSH server
//! started for the test (scripts/env.sh installs openssh-server in CI).

use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use goc_adapter::source::{Credentials, ensure_clone};

fn run(dir: &Path, program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn keygen(dir: &Path, name: &str) -> PathBuf {
    run(
        dir,
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-C", name, "-f", name],
    );
    dir.join(name)
}

/// sshd on a free port, accepting only `client`'s key; killed on drop.
struct Sshd {
    child: Child,
    port: u16,
    host_pub: String,
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sshd(dir: &Path, client: &Path) -> Sshd {
    let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("sshd is installed (scripts/env.sh installs openssh-server)");
    // sshd refuses to start without its privilege separation directory.
    let _ = std::fs::create_dir_all("/run/sshd");
    let host = keygen(dir, "host_key");
    let authorized = dir.join("authorized_keys");
    std::fs::copy(client.with_extension("pub"), &authorized).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let config = dir.join("sshd_config");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
             PidFile {}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
             PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nStrictModes no\n\
             UsePAM no\n",
            host.display(),
            authorized.display(),
            dir.join("sshd.pid").display()
        ),
    )
    .unwrap();
    let child = Command::new(sshd)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sshd starts");
    let server = Sshd {
        child,
        port,
        host_pub: std::fs::read_to_string(host.with_extension("pub")).unwrap(),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "sshd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// A known_hosts file with `key_line` (`type base64 comment`) for the server's address.
fn known_hosts(dir: &Path, name: &str, port: u16, key_line: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("[127.0.0.1]:{port} {key_line}")).unwrap();
    path
}

/// The target's key and known_hosts files.
fn files(ssh_key_file: Option<PathBuf>, known_hosts_file: Option<PathBuf>) -> Credentials {
    Credentials {
        ssh_key_file,
        known_hosts_file,
        ..Credentials::default()
    }
}

/// Runs `f` on a thread and fails the test if it takes longer than a minute (a refused key or
/// host must end the attempt, not hang it).
fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("finished within a minute")
}

/// The error of a clone that must be refused (within a minute).
fn refused(url: &str, dir: &Path, creds: Credentials) -> String {
    let (url, dir) = (url.to_string(), dir.to_path_buf());
    within_a_minute(move || ensure_clone(&url, &dir, &creds).map(|_| ()))
        .expect_err("the clone is refused")
        .to_string()
}

#[test]
fn clones_over_ssh_with_the_key_and_known_hosts_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    run(&src, "git", &["init", "-q", "-b", "master"]);
    for i in 1..=3 {
        std::fs::write(src.join("a.txt"), format!("{i}\n")).unwrap();
        run(&src, "git", &["add", "a.txt"]);
        run(
            &src,
            "git",
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@example.invalid",
                "commit",
                "-q",
                "-m",
                &format!("c{i}"),
            ],
        );
    }
    run(dir, "git", &["clone", "-q", "--bare", "src", "repo.git"]);
    let head = run(&src, "git", &["rev-parse", "HEAD"]);
    let client = keygen(dir, "client_key");
    let stranger = keygen(dir, "stranger_key");
    let server = sshd(dir, &client);
    let user = std::env::var("USER").unwrap_or_else(|_| "root".to_string());
    let url = format!(
        "ssh://{user}@127.0.0.1:{}{}",
        server.port,
        dir.join("repo.git").display()
    );
    let good_hosts = known_hosts(dir, "known_hosts", server.port, &server.host_pub);
    let other_host = std::fs::read_to_string(stranger.with_extension("pub")).unwrap();
    let bad_hosts = known_hosts(dir, "other_hosts", server.port, &other_host);
    let key_text = std::fs::read_to_string(&client).unwrap();

    // The right key, the server's host key known: cloned, branches under origin/.
    let creds = files(Some(client.clone()), Some(good_hosts.clone()));
    let (u, d) = (url.clone(), dir.join("clone1"));
    let repo = within_a_minute(move || ensure_clone(&u, &d, &creds).map(|r| r.path().to_owned()))
        .expect("cloned over ssh");
    let repo = git2::Repository::open_bare(repo).unwrap();
    let tip = repo
        .revparse_single("origin/master")
        .unwrap()
        .id()
        .to_string();
    assert_eq!(tip, head);

    // A new commit on the server: a fetch over the same transport brings it.
    let who = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"];
    let commit = [&who[..], &["commit", "-q", "--allow-empty", "-m", "c4"]].concat();
    run(&src, "git", &commit);
    let newer = run(&src, "git", &["rev-parse", "HEAD"]);
    run(&src, "git", &["push", "-q", "../repo.git", "master"]);
    let creds = files(Some(client.clone()), Some(good_hosts.clone()));
    let (u, p) = (url.clone(), repo.path().to_owned());
    within_a_minute(move || {
        let repo = git2::Repository::open_bare(p).unwrap();
        goc_adapter::source::fetch(&repo, &u, &creds)
    })
    .expect("fetched over ssh");
    let tip = repo
        .revparse_single("origin/master")
        .unwrap()
        .id()
        .to_string();
    assert_eq!(tip, newer);

    // A host key that is not in known_hosts: refused, and the error says why.
    let creds = files(Some(client.clone()), Some(bad_hosts));
    let err = refused(&url, &dir.join("clone2"), creds);
    assert!(
        err.contains("is not in") && err.contains("other_hosts"),
        "{err}"
    );
    assert!(!dir.join("clone2").exists(), "no half clone left: {err}");

    // No known_hosts file given: ssh checks ~/.ssh/known_hosts, which does not list this
    // server (a fresh port), so it is refused too, never accepted blindly.
    let creds = files(Some(client.clone()), None);
    let err = refused(&url, &dir.join("clone4"), creds);
    assert!(err.contains("~/.ssh/known_hosts"), "{err}");

    // known_hosts with hashed host names (`ssh-keygen -H`, what ssh writes with
    // HashKnownHosts).
    let hashed = known_hosts(dir, "hashed_hosts", server.port, &server.host_pub);
    run(dir, "ssh-keygen", &["-q", "-H", "-f", "hashed_hosts"]);
    assert!(
        !std::fs::read_to_string(&hashed)
            .unwrap()
            .contains("127.0.0.1")
    );
    let creds = files(Some(client.clone()), Some(hashed));
    let (u, d) = (url.clone(), dir.join("clone5"));
    within_a_minute(move || ensure_clone(&u, &d, &creds).map(|_| ()))
        .expect("cloned with a hashed known_hosts");

    // A key the server does not accept: an error that names the key file, never its content.
    let creds = files(Some(stranger), Some(good_hosts.clone()));
    let err = refused(&url, &dir.join("clone3"), creds);
    assert!(err.contains("refused the ssh key"), "{err}");
    // The right key, readable by others: ssh skips it; the error says so.
    let open_key = dir.join("open_key");
    std::fs::copy(&client, &open_key).unwrap();
    std::fs::set_permissions(&open_key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let creds = files(Some(open_key), Some(good_hosts.clone()));
    let err = refused(&url, &dir.join("clone6"), creds);
    assert!(err.contains("chmod 600"), "{err}");
    // A key file that is not there.
    let creds = files(Some(dir.join("no_such_key")), Some(good_hosts.clone()));
    let err = refused(&url, &dir.join("clone7"), creds);
    assert!(err.contains("no_such_key cannot be read"), "{err}");
    assert!(
        !err.contains(key_text.trim()),
        "the key never appears in errors"
    );
}
