#!/usr/bin/env bash
# Builds the Go tools the tests, demo and benchmarks use (goc v1, gocover-cobertura, gocovmerge,
# and our normprofile: x/tools' profile parser printing back what it read) from the pinned modules
# in tools/, into a cache keyed on their go.mod/go.sum and normprofile's source, and prints the
# bin dir.
# Usage: eval "$(scripts/install-tools.sh)"   (exports PATH)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
key=$(cat "$root"/tools/goc/go.sum "$root"/tools/goc/go.mod "$root"/tools/cover/go.sum "$root"/tools/cover/go.mod "$root"/tools/cover/cmd/normprofile/main.go | sha256sum | cut -c1-16)
bin="${HOME}/.cache/goc-adapter/gotools-${key}"
if [ ! -x "$bin/goc" ] || [ ! -x "$bin/gocover-cobertura" ] || [ ! -x "$bin/gocovmerge" ] || [ ! -x "$bin/normprofile" ]; then
  mkdir -p "$bin.tmp"
  # goc v1.4.5 cannot be `go install`ed: the proxy refuses its version list (deprecation check).
  (cd "$root/tools/goc" && go build -o "$bin.tmp/goc" github.com/qiniu/goc) >&2
  (cd "$root/tools/cover" && go build -o "$bin.tmp/" github.com/boumenot/gocover-cobertura github.com/wadey/gocovmerge ./cmd/normprofile) >&2
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
fi
echo "export PATH=\"$bin:\$PATH\""
