//! Finding the external tools the integration tests run (one definition, included by each
//! helper module with `#[path]`).

use std::path::PathBuf;

/// Finds `name` on PATH, or panics telling how to get it there.
pub fn require_tool(name: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "required tool `{name}` is not on PATH: run the tests through scripts/test.sh \
                 (or `source scripts/env.sh` first; it installs goc and the Go tools, and \
                 scripts/install-kube.sh builds etcd, kube-apiserver and helm)"
            )
        })
}
