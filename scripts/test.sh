#!/usr/bin/env bash
# Runs every test: formatting, lints, unit tests, and the golden/end-to-end tests against the
# real tools (go tool cover, gocover-cobertura + diff-cover, goc). Installs what they need.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

echo "== formatting and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings

echo "== tests"
cargo test --locked -- "$@"
