#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, the golden and end-to-end tests against the
# real tools (go tool cover, gocover-cobertura + diff-cover, goc, kube-apiserver + etcd, helm),
# a smoke run of the demo, and the release executable checked (scripts/check-release.sh).
# Installs what they need (cached under ~/.cache/goc-adapter).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
cargo test --locked --no-fail-fast -- "$@"

echo "== demo (README's run command), until the reports are served"
DEMO_EXIT_AFTER_SYNC=1 scripts/demo.sh

echo "== the release executable as the image ships it"
scripts/check-release.sh
