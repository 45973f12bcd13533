#!/usr/bin/env bash
# Benchmark (not a test, not run in CI): goc-adapter against the reference tools on real, large
# profiles of a large real module, timed with hyperfine in one run:
#   report --format func   vs  go tool cover -func      (also checked byte-identical)
#   report --format html   vs  go tool cover -html
#   merge of 10 profiles   vs  gocovmerge of the same 10
# and the ratios (reference mean / ours). More comparisons go in extra_comparisons below.
#
# The prepared work dir (module copy in a git repo + profiles) is cached under
# ~/.cache/goc-adapter/bench/<module>@<version>, so only the first run pays for `go test`.
#
# Usage: scripts/bench.sh [--runs N] [--warmup N]
# Without --runs, hyperfine's own policy decides: at least 10 runs and at least 3 seconds of
# each command, so a 20 ms command runs about 150 times (the VM's noise averages out) and a
# 2 s one 10 times.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

runs=""
warmup=2
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--warmup N]" >&2; exit 2 ;;
  esac
done

# The module and the test packages that make the profiles. k8s.io/client-go is large (about
# 2,000 files, 29k blocks) and mostly generated code, like a big service; each package's tests
# with -coverpkg=./... cover every client-go package they link.
module=k8s.io/client-go
version=v0.31.0
# (./tools/cache is left out: its tests take minutes even with -short.)
packages=(
  ./kubernetes/fake ./tools/watch ./kubernetes/typed/core/v1/fake ./scale ./tools/clientcmd
  ./testing ./discovery ./dynamic ./tools/record ./rest
)

if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >&2
fi
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off

echo "== building goc-adapter (release, as the image ships it)"
ours=$(scripts/build-release.sh --quiet)

work="${HOME}/.cache/goc-adapter/bench/${module//\//_}@${version}"
repo="$work/repo"
profiles="$work/profiles"

prepare() {
  echo "== preparing $module@$version in $work (first run only: takes minutes)"
  rm -rf "$work"
  mkdir -p "$work" "$profiles"
  local dir
  dir=$(cd /tmp && go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$dir" "$repo"
  chmod -R u+w "$repo"
  (
    cd "$repo"
    git init -q
    git add -A -f .
    git -c user.name=bench -c user.email=bench@goc-adapter.invalid -c commit.gpgsign=false \
      commit -q -m "import $module@$version"
    # Packed, as a cloned repository is (a fresh commit leaves one loose object per file).
    git gc -q
  )
  local i=0 pkg
  for pkg in "${packages[@]}"; do
    i=$((i + 1))
    local name
    name="$profiles/p$(printf %02d "$i")"
    echo "   go test $pkg" >&2
    # A failing test still leaves a complete profile; the timing does not depend on it.
    (cd "$repo" && go test -short -covermode=count -coverpkg=./... \
      -coverprofile="$name.out" "$pkg" >"$name.log" 2>&1) ||
      echo "   ($pkg had failing tests; its profile is still used)" >&2
  done
  # The big profile is what `go test -coverpkg=./... <the 10 packages>` writes: the 10 profiles'
  # blocks one after the other under one mode line (duplicates included).
  {
    echo "mode: count"
    for p in "$profiles"/p??.out; do tail -n +2 "$p"; done
  } >"$profiles/all.out"
  touch "$work/.complete"
}

[ -f "$work/.complete" ] || prepare

big="$profiles/all.out"
mapfile -t ten < <(ls "$profiles"/p??.out)
lines=$(($(wc -l <"$big") - 1))
distinct=$(tail -n +2 "$big" | cut -d' ' -f1 | sort -u | wc -l)
files=$(tail -n +2 "$big" | cut -d: -f1 | sort -u | wc -l)
echo "== profile: $lines block lines ($distinct distinct blocks in $files files); merge inputs: ${#ten[@]} profiles"

results="$work/results"
mkdir -p "$results"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
summary=()

# compare NAME OURS_CMD REFERENCE_CMD: times both (commands run in the repo, no shell) and
# records the ratio reference/ours.
compare() {
  local name=$1 ours_cmd=$2 ref_cmd=$3
  echo
  echo "== $name"
  (cd "$repo" && hyperfine -N --warmup "$warmup" ${runs:+--runs "$runs"} --style basic \
    --export-json "$results/$name.json" -n "goc-adapter" "$ours_cmd" -n "reference" "$ref_cmd")
  summary+=("$(python3 - "$results/$name.json" "$name" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
o, f = r["goc-adapter"], r["reference"]
print(f"{sys.argv[2]:<14} goc-adapter {o['mean']*1000:9.1f} ms ± {o['stddev']*1000:6.1f}   "
      f"reference {f['mean']*1000:9.1f} ms ± {f['stddev']*1000:6.1f}   ratio {f['mean']/o['mean']:6.1f}x"
      f"   (medians {o['median']*1000:.1f} / {f['median']*1000:.1f} ms: {f['median']/o['median']:.1f}x;"
      f" runs {len(o['times'])} / {len(f['times'])})")
EOF
  )")
}

echo
echo "== checking: report --format func == go tool cover -func (byte for byte)"
(cd "$repo" && "$ours" report --repo . --profile "$big" --format func >"$out/ours.func")
(cd "$repo" && go tool cover -func="$big" >"$out/ref.func")
if cmp -s "$out/ours.func" "$out/ref.func"; then
  echo "   identical ($(wc -l <"$out/ref.func") lines)"
  func_check="identical"
else
  echo "   MISMATCH: first differences:"
  diff "$out/ours.func" "$out/ref.func" | head -20 || true
  func_check="MISMATCH"
fi

compare func \
  "$ours report --repo . --profile $big --format func" \
  "go tool cover -func=$big"
compare html \
  "$ours report --repo . --profile $big --format html -o $out/ours.html" \
  "go tool cover -html=$big -o $out/ref.html"
# Both print to stdout (with -o ours also fsyncs the file and its directory: crash-safe writes).
compare merge \
  "$ours merge ${ten[*]}" \
  "gocovmerge ${ten[*]}"

# More comparisons go here (for example the incremental report against gocover-cobertura |
# diff-cover): call `compare NAME OURS_CMD REFERENCE_CMD` with commands that run in "$repo".
extra_comparisons() {
  # The incremental report against gocover-cobertura | diff-cover, on a change between two
  # client-go releases (its own repo and profile); it prints its summary line last.
  echo
  echo "== diff (scripts/bench-diff.sh)"
  summary+=("$("$root/scripts/bench-diff.sh" ${runs:+--runs "$runs"} --warmup "$warmup" --bin "$ours" | tail -n 1)")
}
extra_comparisons

echo
echo "== summary ($module@$version; $lines block lines, $distinct distinct; $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'))"
echo "func output vs go tool cover -func: $func_check"
printf '%s\n' "${summary[@]}"
