#!/usr/bin/env bash
# Builds the release executable as the image ships it and prints its path.
#
#   scripts/build-release.sh [--quiet]
#   GOC_ADAPTER_PIE=1 scripts/build-release.sh    # a position-independent executable
#
# On Linux with glibc the executable is linked statically (glibc's static libraries), at a fixed
# address: no dynamic loader runs at start, no shared library is mapped or relocated, and the
# dynamic loader's relocation of its own read-only data is gone too. Every command's start goes
# from about 1.1 to 0.7 ms, the bench's 10-profile merge from 4.0 to 3.3 ms (README,
# Performance). Host names are still resolved by glibc, with /etc/nsswitch.conf and
# /etc/resolv.conf: its `files` and `dns` sources (the image's, and a cluster's) are built in;
# any other source listed there (mdns, systemd, sss) is loaded from the system's glibc, which
# works where it is the glibc of the build, as in the image.
#
# The flags go to the executable's crate only (`cargo rustc`): a static C runtime cannot build
# proc-macro crates, so they cannot be set for the whole build. A plain `cargo build --release`
# still works and links dynamically (and non-PIE, build.rs); it relinks the executable, as
# this script does after it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

quiet=()
case "${1:-}" in
  --quiet) quiet=(--quiet) ;;
  "") ;;
  *) echo "usage: $0 [--quiet]" >&2; exit 2 ;;
esac

host=$(rustc -vV | sed -n 's/^host: //p')
flags=()
case "$host" in
  *-linux-gnu*)
    flags=(-C target-feature=+crt-static)
    # Without PIE, the fixed address needs the static relocation model for the final link
    # (build.rs's -no-pie alone would mix it with the static-PIE start-up code).
    [ "${GOC_ADAPTER_PIE:-}" = 1 ] || flags+=(-C relocation-model=static)
    ;;
esac

if [ ${#flags[@]} -gt 0 ]; then
  cargo rustc --release --locked "${quiet[@]}" --bin goc-adapter -- "${flags[@]}" >&2
else
  cargo build --release --locked "${quiet[@]}" --bin goc-adapter >&2
fi

bin="${CARGO_TARGET_DIR:-$root/target}/release/goc-adapter"
[ -x "$bin" ] || { echo "no executable at $bin after the build" >&2; exit 1; }
echo "$bin"
