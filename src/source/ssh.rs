//! ssh remotes through the system's OpenSSH client, as git itself fetches them: `ssh host
//! git-upload-pack 'path'`, libgit2 speaking the git protocol over the pipes.
//!
//! Not libgit2's libssh2 transport: linking it pulled OpenSSL's libraries into every start of
//! the binary (0.8 ms of each `report`, 1.5 ms of each `merge`), and OpenSSH brings what
//! libssh2 lacks: hashed known_hosts entries, every key type, the agent, `~/.ssh/config`
//! (ProxyJump, per-host keys).

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};

use super::fetch::{Credentials, Refusal};

/// The URL scheme this transport is registered for. libgit2 picks a custom transport by URL
/// prefix, which scp-like URLs (`git@host:path`) do not have: a fetch of an ssh remote goes
/// through an anonymous remote whose URL is the remote's behind this prefix.
pub(super) const SCHEME: &str = "goc-adapter-ssh";

/// An ssh remote's parts.
#[derive(Debug, PartialEq)]
pub(super) struct SshUrl {
    /// The login, if the URL names one.
    pub user: Option<String>,
    /// Host name or address (without brackets).
    pub host: String,
    /// Port, if not the default.
    pub port: Option<u16>,
    /// The path as `git-upload-pack` receives it: absolute for `ssh://host/path`, as written
    /// (relative to the login's home) for `host:path`, `~user/...` kept.
    pub path: String,
}

/// Parses an ssh URL: `ssh://[user@]host[:port]/path` (also `ssh+git://`, `git+ssh://`) or
/// git's scp-like `[user@]host:path`. `None` for anything else (callers check local paths
/// first: `C:/x` or `./a:b` are paths).
pub(super) fn parse(url: &str) -> Option<SshUrl> {
    let split_user = |s: &str| match s.rsplit_once('@') {
        Some((u, h)) if !u.is_empty() => (Some(u.to_string()), h.to_string()),
        _ => (None, s.to_string()),
    };
    let lower = url.to_ascii_lowercase();
    for scheme in ["ssh://", "ssh+git://", "git+ssh://"] {
        if lower.starts_with(scheme) {
            let rest = &url[scheme.len()..];
            let (authority, path) = rest.split_at(rest.find('/')?);
            let (user, hostport) = split_user(authority);
            let (host, port) = match hostport.strip_prefix('[') {
                Some(v6) => {
                    let (h, after) = v6.split_once(']')?;
                    (h.to_string(), after.strip_prefix(':'))
                }
                None => match hostport.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), Some(p)),
                    None => (hostport.clone(), None),
                },
            };
            let port = match port {
                Some(p) if !p.is_empty() => Some(p.parse().ok()?),
                _ => None,
            };
            // `ssh://host/~user/x` means `~user/x`, as in git.
            let path = path
                .strip_prefix("/~")
                .map_or(path.to_string(), |p| format!("~{p}"));
            return valid(SshUrl {
                user,
                host,
                port,
                path,
            });
        }
    }
    if url.contains("://") {
        return None;
    }
    // scp-like: a colon before any slash, after the brackets of an IPv6 address.
    let colon = match url.find('[') {
        Some(open) if !url[..open].contains([':', '/']) => {
            let close = open + url[open..].find(']')?;
            url[close..].starts_with("]:").then_some(close + 1)?
        }
        _ => url.find(':')?,
    };
    if url[..colon].contains('/') {
        return None;
    }
    let (user, host) = split_user(&url[..colon]);
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .map_or(host.clone(), str::to_string);
    valid(SshUrl {
        user,
        host,
        port: None,
        path: url[colon + 1..].to_string(),
    })
}

/// Refuses what ssh would read as an option, as git does (`-oProxyCommand=...` as a host).
fn valid(u: SshUrl) -> Option<SshUrl> {
    let bad = |s: &str| s.is_empty() || s.starts_with('-');
    if bad(&u.host) || u.path.is_empty() || u.user.as_deref().is_some_and(bad) {
        return None;
    }
    Some(u)
}

/// `s` quoted for the remote shell: in single quotes, `'` and `!` outside them (git's rule).
fn shell_quote(s: &str) -> String {
    let mut q = String::from("'");
    for c in s.chars() {
        match c {
            '\'' | '!' => {
                q.push_str("'\\");
                q.push(c);
                q.push('\'');
            }
            c => q.push(c),
        }
    }
    q.push('\'');
    q
}

/// The ssh command that runs `git-upload-pack` for `url` with the target's key and known_hosts.
pub(super) fn command(url: &SshUrl, creds: &Credentials) -> Command {
    let mut cmd = Command::new("ssh");
    // No prompts (BatchMode), no X11 or tty; an unknown host key is refused, never accepted;
    // a dead connection ends in two minutes.
    cmd.args([
        "-x",
        "-T",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
    ])
    .args(["-o", "ConnectTimeout=30"])
    .args([
        "-o",
        "ServerAliveInterval=30",
        "-o",
        "ServerAliveCountMax=4",
    ]);
    if let Some(key) = &creds.ssh_key_file {
        cmd.arg("-i").arg(key).args(["-o", "IdentitiesOnly=yes"]);
    }
    if let Some(kh) = &creds.known_hosts_file {
        cmd.arg("-o")
            .arg(format!("UserKnownHostsFile=\"{}\"", kh.display()))
            .args(["-o", "GlobalKnownHostsFile=/dev/null"]);
    }
    if let Some(port) = url.port {
        cmd.arg("-p").arg(port.to_string());
    }
    // Without a login in the URL: `git`, the convention of git hosts.
    let user = url.user.as_deref().unwrap_or("git");
    cmd.arg("-l").arg(user).arg("--").arg(&url.host);
    cmd.arg(format!("git-upload-pack {}", shell_quote(&url.path)));
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// The settings of one fetch, for the transport libgit2 creates during it.
pub(super) struct Session {
    creds: Credentials,
    refusal: Refusal,
}

impl Session {
    /// The session for a fetch with `creds`; `refusal` receives why ssh refused.
    pub(super) fn new(creds: &Credentials, refusal: Refusal) -> Session {
        Session {
            creds: creds.clone(),
            refusal,
        }
    }
}

thread_local! {
    /// This transport's sessions ([`super::session`]).
    static ACTIVE: RefCell<Option<Arc<Session>>> = const { RefCell::new(None) };
}

/// Runs `f` (a fetch) with `session` for its connections.
pub(super) fn with_session<T>(session: Session, f: impl FnOnce() -> T) -> T {
    super::session::with(&ACTIVE, session, f)
}

/// libgit2's factory for [`SCHEME`] URLs.
pub(super) fn factory(remote: &git2::Remote<'_>) -> Result<Transport, git2::Error> {
    let session = super::session::current(&ACTIVE, "ssh")?;
    // Stateful: one connection carries the whole negotiation.
    Transport::smart(remote, false, Ssh { session })
}

struct Ssh {
    session: Arc<Session>,
}

impl SmartSubtransport for Ssh {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        if action != Service::UploadPackLs {
            // UploadPack reuses this connection (git2 does not ask again for a stateful
            // transport); receive-pack is pushing.
            return Err(git2::Error::from_str(
                "goc-adapter only fetches; pushing is not supported",
            ));
        }
        let original = url
            .strip_prefix(SCHEME)
            .and_then(|u| u.strip_prefix("://"))
            .unwrap_or(url);
        let parsed = parse(original)
            .ok_or_else(|| git2::Error::from_str(&format!("{original}: not an ssh URL")))?;
        let mut child = command(&parsed, &self.session.creds).spawn().map_err(|e| {
            git2::Error::from_str(&format!(
                "cannot run ssh (the OpenSSH client must be on PATH): {e}"
            ))
        })?;
        let (Some(stdin), Some(stdout), Some(mut stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(git2::Error::from_str("ssh started without its pipes"));
        };
        // Read ssh's complaints as they come, so that it never blocks on a full pipe.
        let complaints = Arc::new(Mutex::new(String::new()));
        let sink = complaints.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            if let Ok(mut s) = sink.lock() {
                *s = text;
            }
        });
        Ok(Box::new(Channel {
            child,
            stdin: Some(stdin),
            stdout,
            complaints,
            host: parsed.host,
            session: self.session.clone(),
        }))
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

/// The pipes of one ssh process.
struct Channel {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    complaints: Arc<Mutex<String>>,
    host: String,
    session: Arc<Session>,
}

impl Channel {
    /// Why ssh ended, in our words where it refused (recorded for the error) and in its own
    /// otherwise; `None` when it ended well.
    fn failure(&mut self) -> Option<io::Error> {
        let status = self.child.wait().ok();
        if status.is_some_and(|s| s.success()) {
            return None;
        }
        // The stderr reader ends with the process; give it a moment to hand the text over.
        let mut said = String::new();
        for _ in 0..100 {
            said = self
                .complaints
                .lock()
                .map(|s| s.clone())
                .unwrap_or_default();
            if !said.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let creds = &self.session.creds;
        let key = creds.ssh_key_file.as_ref().map(|k| k.display().to_string());
        let refused = if let Some(key) = key.as_ref().filter(|_| said.contains("are too open")) {
            // ssh skips such a key and then reports only "Permission denied".
            Some(format!(
                "ssh ignores the key {key}: others may read it (chmod 600 it)"
            ))
        } else if let Some(key) = key.as_ref().filter(|_| said.contains("not accessible")) {
            Some(format!("the ssh key {key} cannot be read"))
        } else if said.contains("Host key verification failed")
            || said.contains("host key is not known")
        {
            let file = creds.known_hosts_file.as_ref().map_or_else(
                || "~/.ssh/known_hosts (give spec.repo.knownHostsFile)".to_string(),
                |f| f.display().to_string(),
            );
            Some(format!("the host key of {} is not in {file}", self.host))
        } else if said.contains("Permission denied") {
            Some(match &key {
                Some(key) => format!("the server refused the ssh key {key}"),
                None => "the server refused the ssh agent's and default keys".to_string(),
            })
        } else {
            None
        };
        if let Some(why) = refused {
            if let Ok(mut r) = self.session.refusal.lock() {
                *r = Some(why.clone());
            }
            return Some(io::Error::other(why));
        }
        let status = status.map_or_else(|| "?".to_string(), |s| s.to_string());
        Some(io::Error::other(format!(
            "ssh ended ({status}): {}",
            said.trim()
        )))
    }
}

impl Read for Channel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.stdout.read(buf)?;
        // The end of the output: ssh is done; if it failed, say why.
        if n == 0
            && !buf.is_empty()
            && let Some(e) = self.failure()
        {
            return Err(e);
        }
        Ok(n)
    }
}

impl Write for Channel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.stdin.as_mut() {
            Some(stdin) => match stdin.write(buf) {
                Ok(n) => Ok(n),
                // The other end is gone: say why, not "broken pipe".
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(self.failure().unwrap_or(e)),
                Err(e) => Err(e),
            },
            None => Err(io::Error::other("the connection was closed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.stdin.as_mut() {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Channel {
    fn drop(&mut self) {
        // Closing stdin ends upload-pack; ssh exits with it. A fetch that stopped halfway
        // leaves nothing running.
        self.stdin.take();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn url(user: Option<&str>, host: &str, port: Option<u16>, path: &str) -> Option<SshUrl> {
        Some(SshUrl {
            user: user.map(str::to_string),
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    #[test]
    fn parses_the_url_forms_git_accepts() {
        assert_eq!(
            parse("git@github.com:team/repo.git"),
            url(Some("git"), "github.com", None, "team/repo.git")
        );
        assert_eq!(
            parse("ssh://deploy@git.example.com:2222/srv/repo.git"),
            url(
                Some("deploy"),
                "git.example.com",
                Some(2222),
                "/srv/repo.git"
            )
        );
        assert_eq!(
            parse("ssh://git.example.com/~alice/repo.git"),
            url(None, "git.example.com", None, "~alice/repo.git")
        );
        assert_eq!(
            parse("git+ssh://[::1]:22/r"),
            url(None, "::1", Some(22), "/r")
        );
        assert_eq!(parse("[::1]:r.git"), url(None, "::1", None, "r.git"));
        assert_eq!(parse("host:r.git"), url(None, "host", None, "r.git"));
        for not_ssh in [
            "https://host/r.git",
            "git://host/r.git",
            "/srv/repo.git",
            "./dir:x",
            "file:///srv/r",
            "ssh://host",
            "ssh://host:port/r",
            "-oProxyCommand=evil:r",
            "ssh://-oProxyCommand=evil/r",
            "host:",
        ] {
            assert_eq!(parse(not_ssh), None, "{not_ssh}");
        }
    }

    #[test]
    fn the_command_quotes_the_path_and_pins_the_files() {
        let creds = Credentials {
            ssh_key_file: Some(PathBuf::from("/s/id key")),
            known_hosts_file: Some(PathBuf::from("/s/known hosts")),
            ..Credentials::default()
        };
        let u = parse("ssh://h:2222/it's!/r.git").unwrap();
        let cmd = command(&u, &creds);
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let joined = args.join(" ");
        assert!(
            joined.contains("-i /s/id key -o IdentitiesOnly=yes"),
            "{joined}"
        );
        assert!(
            joined.contains("UserKnownHostsFile=\"/s/known hosts\""),
            "{joined}"
        );
        assert!(joined.contains("-p 2222 -l git -- h"), "{joined}");
        assert_eq!(
            args.last().map(String::as_str),
            Some("git-upload-pack '/it'\\''s'\\!'/r.git'")
        );
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        for s in ["plain", "it's", "a!b", "sp ace", "$HOME", "`x`", "\"q\""] {
            let out = Command::new("sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell_quote(s)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }
}
