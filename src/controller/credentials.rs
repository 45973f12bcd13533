//! Git credentials from a Secret, written to files the git layer reads. Never logged.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;

/// The credential files written from a Secret; `None` where the Secret lacks the key.
#[derive(Debug, Default, PartialEq)]
pub struct GitFiles {
    /// `ssh-privatekey`.
    pub ssh_key: Option<PathBuf>,
    /// `known_hosts`.
    pub known_hosts: Option<PathBuf>,
    /// `token` (https).
    pub token: Option<PathBuf>,
    /// `ca.crt` (https).
    pub ca: Option<PathBuf>,
}

/// Writes the git keys of a Secret (`ssh-privatekey`, `known_hosts`, `token`, `ca.crt`) under
/// `dir` (mode 0600). Files are rewritten only when their content changed; a key the Secret no
/// longer has loses its file.
pub fn materialize(dir: &Path, data: &BTreeMap<String, ByteString>) -> std::io::Result<GitFiles> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let write = |key: &str, file: &str| -> std::io::Result<Option<PathBuf>> {
        let path = dir.join(file);
        let Some(v) = data.get(key) else {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => return Ok(None),
            }
        };
        if std::fs::read(&path).ok().as_deref() != Some(&v.0[..]) {
            crate::fsutil::write_atomic_mode(&path, &v.0, 0o600)?;
        }
        Ok(Some(path))
    };
    Ok(GitFiles {
        ssh_key: write("ssh-privatekey", "id_key")?,
        known_hosts: write("known_hosts", "known_hosts")?,
        token: write("token", "token")?,
        ca: write("ca.crt", "ca.crt")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_present_keys_private_and_removes_dropped_ones() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("ns_t");
        let mut data = BTreeMap::new();
        data.insert("token".to_string(), ByteString(b"t0ken\n".to_vec()));
        data.insert("known_hosts".to_string(), ByteString(b"h k v\n".to_vec()));
        let files = materialize(&creds, &data).unwrap();
        assert_eq!(files.token, Some(creds.join("token")));
        assert_eq!(files.known_hosts, Some(creds.join("known_hosts")));
        assert_eq!((files.ssh_key, files.ca), (None, None));
        assert_eq!(std::fs::read(creds.join("token")).unwrap(), b"t0ken\n");
        let mode = std::fs::metadata(creds.join("token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        data.remove("token");
        let files = materialize(&creds, &data).unwrap();
        assert_eq!(files.token, None);
        assert!(!creds.join("token").exists());
    }
}
