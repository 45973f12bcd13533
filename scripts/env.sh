# Sourced by the scripts: installs the test and demo prerequisites (idempotent, cached) and
# exports PATH and CARGO_TARGET_DIR. Caches live under $HOME/.cache, keyed on lock files.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache="${HOME}/.cache/goc-adapter"
mkdir -p "$cache"

# Go tools (goc v1, gocover-cobertura, gocovmerge), pinned in tools/*/go.mod.
eval "$("$root/scripts/install-tools.sh")"

# kube-apiserver, etcd and helm for the controller and chart tests, pinned in tools/kube and
# tools/helm (kubectl must be installed).
eval "$("$root/scripts/install-kube.sh")"

# diff-cover, pinned, in a virtualenv keyed on requirements.
req="$root/tools/requirements.txt"
venv="$cache/venv-$(sha256sum "$req" | cut -c1-16)"
if [ ! -f "$venv/.complete" ]; then
  # Built in place (venv scripts hard-code their path); the marker says it finished.
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r "$req" >&2
  touch "$venv/.complete"
fi
export PATH="$venv/bin:$PATH"

# Headless Chromium for the portal test (tests/e2e_portal.rs). Installed here only as root or in
# CI; elsewhere the test fails and says it is missing.
if ! command -v chromium >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y chromium >&2 || { apt-get update >&2 && apt-get install -y chromium >&2; }
  elif [ "${CI:-}" = "true" ]; then
    sudo apt-get install -y chromium >&2 || { sudo apt-get update >&2 && sudo apt-get install -y chromium >&2; }
  fi
fi

# cmake builds zlib-ng (git2's zlib-ng-compat: inflating sources is a large part of a report).
if ! command -v cmake >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y cmake >&2 || { apt-get update >&2 && apt-get install -y cmake >&2; }
  elif [ "${CI:-}" = "true" ]; then
    sudo apt-get install -y cmake >&2 || { sudo apt-get update >&2 && sudo apt-get install -y cmake >&2; }
  else
    echo "cmake is needed to build goc-adapter (zlib-ng): install it (e.g. apt-get install cmake)" >&2
  fi
fi

# Debian packages the tests need, installed when missing (as root or in CI): openssh-server
# for tests/ssh_clone.rs (a real sshd; the test starts its own on a free port), openssh-client
# for ssh repositories (goc-adapter runs `ssh`, as git does).
deb_need() { # PACKAGE TEST-ARGS...: installs PACKAGE unless `test TEST-ARGS` holds
  local package=$1
  shift
  test "$@" && return 0
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y "$package" >&2 || { apt-get update >&2 && apt-get install -y "$package" >&2; }
  elif [ "${CI:-}" = "true" ]; then
    sudo apt-get install -y "$package" >&2 || { sudo apt-get update >&2 && sudo apt-get install -y "$package" >&2; }
  else
    echo "$package is needed: install it (e.g. apt-get install $package)" >&2
  fi
}
deb_need openssh-client -x /usr/bin/ssh
deb_need openssh-server -x /usr/sbin/sshd

# Rust build cache keyed on Cargo.lock (CI starts from a clean clone).
if [ -z "${CARGO_TARGET_DIR:-}" ] && [ "${CI:-}" = "true" ]; then
  export CARGO_TARGET_DIR="$cache/target-$(sha256sum "$root/Cargo.lock" | cut -c1-16)"
  # Caches of other Cargo.lock versions are gigabytes each and never used again: a machine
  # that ran CI over a few dependency changes ran out of disk.
  for stale in "$cache"/target-*; do
    [ "$stale" = "$CARGO_TARGET_DIR" ] || rm -rf "$stale"
  done
fi
