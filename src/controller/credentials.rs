//! Git credentials from a Secret, written to files the git layer reads. Never logged.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;

/// Writes `ssh-privatekey` and `known_hosts` of a Secret under `dir` (mode 0600), returning the
/// key and known_hosts paths that exist. Files are rewritten only when their content changed.
pub fn materialize(
    dir: &Path,
    data: &BTreeMap<String, ByteString>,
) -> std::io::Result<(Option<PathBuf>, Option<PathBuf>)> {
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    let write = |key: &str, file: &str| -> std::io::Result<Option<PathBuf>> {
        let Some(v) = data.get(key) else {
            return Ok(None);
        };
        let path = dir.join(file);
        if std::fs::read(&path).ok().as_deref() != Some(&v.0[..]) {
            crate::fsutil::write_atomic_mode(&path, &v.0, 0o600)?;
        }
        Ok(Some(path))
    };
    let key = write("ssh-privatekey", "id_key")?;
    let hosts = write("known_hosts", "known_hosts")?;
    Ok((key, hosts))
}
