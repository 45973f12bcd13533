#!/usr/bin/env bash
# Builds the Kubernetes tools the controller and chart tests use: kube-apiserver and etcd (pinned
# in tools/kube) and helm (pinned in tools/helm), from the Go module proxy, into a cache keyed on
# those modules' go.mod/go.sum and this script, and prints the bin dir. The first build takes
# about 12 CPU-minutes. kubectl is not built: it must already be installed (checked here, so a
# machine without it fails now rather than in the middle of a test).
# Usage: eval "$(scripts/install-kube.sh)"   (exports PATH)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v kubectl >/dev/null 2>&1; then
  echo "install-kube.sh: kubectl is not installed (the controller and chart tests need it)" >&2
  exit 1
fi
if ! command -v openssl >/dev/null 2>&1; then
  echo "install-kube.sh: openssl is not installed (the test control plane signs tokens with a key it makes)" >&2
  exit 1
fi

# Keyed on the pins and on this script (its build flags end up in the binaries).
key=$(cat "$root"/tools/kube/go.mod "$root"/tools/kube/go.sum "$root"/tools/helm/go.mod "$root"/tools/helm/go.sum "$root"/scripts/install-kube.sh | sha256sum | cut -c1-16)
bin="${HOME}/.cache/goc-adapter/kube-${key}"
built() { [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ] && [ -x "$bin/helm" ]; }
if ! built; then
  # Scripts sourcing env.sh may run at once: one builds, the others wait for it.
  mkdir -p "$(dirname "$bin")"
  exec 9>"$bin.lock"
  flock 9
fi
if ! built; then
  start=$(date +%s)
  echo "install-kube.sh: building kube-apiserver, etcd and helm into $bin (takes minutes once)" >&2
  rm -rf "$bin.tmp"
  mkdir -p "$bin.tmp"
  # `go install mod@version` cannot be used: the proxy refuses some modules' version lists.
  # -trimpath and stripped symbols make the binaries smaller and the link faster.
  # Stamp the apiserver's version as the release scripts do, else /version says v0.0.0-master.
  k8s=$(cd "$root/tools/kube" && go list -m -f '{{.Version}}' k8s.io/kubernetes)
  minor=${k8s#v1.}
  minor=${minor%%.*}
  v=k8s.io/component-base/version
  stamp="-X $v.gitVersion=$k8s -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
  (cd "$root/tools/kube" && go build -trimpath "-ldflags=-s -w $stamp" -o "$bin.tmp/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) >&2
  # etcd 3.6's server module is itself the etcd main package.
  (cd "$root/tools/kube" && go build -trimpath "-ldflags=-s -w" -o "$bin.tmp/etcd" go.etcd.io/etcd/server/v3) >&2
  # Likewise helm's version and the Kubernetes version `helm template` and `helm lint` assume
  # (else 1.20), as its Makefile does: from the client-go it is built with.
  helm_v=$(cd "$root/tools/helm" && go list -m -f '{{.Version}}' helm.sh/helm/v3)
  client=$(cd "$root/tools/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)
  kminor=${client#v0.}
  kminor=${kminor%%.*}
  h=helm.sh/helm/v3
  stamp="-X $h/internal/version.version=$helm_v -X $h/internal/version.gitTreeState=clean"
  for p in pkg/chartutil pkg/lint/rules; do
    stamp="$stamp -X $h/$p.k8sVersionMajor=1 -X $h/$p.k8sVersionMinor=$kminor"
  done
  (cd "$root/tools/helm" && go build -trimpath "-ldflags=-s -w $stamp" -o "$bin.tmp/helm" helm.sh/helm/v3/cmd/helm) >&2
  rm -rf "$bin" && mv "$bin.tmp" "$bin"
  echo "install-kube.sh: built in $(( $(date +%s) - start ))s" >&2
fi
echo "export PATH=\"$bin:\$PATH\""
