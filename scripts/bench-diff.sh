#!/usr/bin/env bash
# Benchmark (not a test, not run in CI): `goc-adapter diff` against the classic incremental
# pipeline `gocover-cobertura < profile > cov.xml && diff-cover cov.xml --compare-branch=base`,
# whole process, timed with hyperfine, on a real change in a large module: k8s.io/client-go
# v0.30.0 (branch `base`) -> v0.31.0 (HEAD), about 1,150 changed non-test files, with a profile of
# v0.31.0's tests (-coverpkg=./..., so every package is in it). Before timing, both sides' JSON
# reports are compared (files, measured and missing lines, totals).
#
# The prepared work dir is cached under ~/.cache/goc-adapter/bench/, so only the first run pays
# for `go test`. scripts/bench.sh calls this script; it also runs on its own.
#
# Usage: scripts/bench-diff.sh [--runs N] [--warmup N] [--bin PATH]
# Without --runs, hyperfine's own policy: at least 10 runs and 3 seconds of each command.
# The last line printed is a one-line summary (bench.sh collects it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

runs=""
warmup=1
ours=""
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --bin) ours=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--warmup N] [--bin PATH]" >&2; exit 2 ;;
  esac
done

module=k8s.io/client-go
old=v0.30.0
new=v0.31.0
# Test packages whose -coverpkg=./... profiles make the profile (a subset of bench.sh's).
packages=(./kubernetes/fake ./rest ./tools/clientcmd)

if ! command -v hyperfine >/dev/null; then
  apt-get install -y hyperfine >&2
fi
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off
# git as diff-cover runs it, without the user's configuration.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null

if [ -z "$ours" ]; then
  echo "== building goc-adapter (release, as the image ships it)" >&2
  ours=$("$root/scripts/build-release.sh" --quiet)
fi

work="${HOME}/.cache/goc-adapter/bench/diff-${module//\//_}@${old}..${new}"
repo="$work/repo"
profile="$work/cover.out"

git_() {
  git -c user.name=bench -c user.email=bench@goc-adapter.invalid -c commit.gpgsign=false "$@"
}

prepare() {
  echo "== preparing $module $old..$new in $work (first run only: takes minutes)" >&2
  rm -rf "$work"
  mkdir -p "$repo"
  local d_old d_new
  d_old=$(cd /tmp && go mod download -json "$module@$old" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  d_new=$(cd /tmp && go mod download -json "$module@$new" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$d_old/." "$repo"
  chmod -R u+w "$repo"
  (cd "$repo" && git_ init -q -b main && git_ add -A -f . && git_ commit -q -m "$module $old" &&
    git_ branch base)
  find "$repo" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf {} +
  cp -r "$d_new/." "$repo"
  chmod -R u+w "$repo"
  local pkg i=0
  {
    echo "mode: count"
    for pkg in "${packages[@]}"; do
      i=$((i + 1))
      echo "   go test $pkg" >&2
      # A failing test still leaves a complete profile; the timing does not depend on it.
      (cd "$repo" && go test -short -covermode=count -coverpkg=./... \
        -coverprofile="$work/p$i.out" "$pkg" >"$work/p$i.log" 2>&1) ||
        echo "   ($pkg had failing tests; its profile is still used)" >&2
      tail -n +2 "$work/p$i.out"
    done
  } >"$profile"
  # go test may have completed go.sum: part of the head commit, so the work tree stays clean
  # (diff-cover also reads staged and unstaged changes).
  (cd "$repo" && git_ add -A -f . && git_ commit -q -m "$module $new")
  touch "$work/.complete"
}

[ -f "$work/.complete" ] || prepare
# Packed, as a clone is: both sides read the same objects either way, but thousands of loose
# objects make every read a file open.
if [ "$(cd "$repo" && git count-objects | cut -d' ' -f1)" != 0 ]; then
  (cd "$repo" && git gc -q)
fi
if [ -n "$(cd "$repo" && git status --porcelain)" ]; then
  echo "bench-diff: $repo has local changes; remove $work to prepare it again" >&2
  exit 1
fi

changed=$(cd "$repo" && git diff --name-only base...HEAD | wc -l)
changed_go=$(cd "$repo" && git diff --name-only --diff-filter=d base...HEAD -- '*.go' | grep -vc '_test\.go$' || true)
blocks=$(($(wc -l <"$profile") - 1))
files=$(tail -n +2 "$profile" | cut -d: -f1 | sort -u | wc -l)
echo "== $module $old..$new: $changed changed files ($changed_go non-test .go); profile: $blocks block lines in $files files" >&2

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
classic="gocover-cobertura < $profile > $out/cov.xml && diff-cover $out/cov.xml --compare-branch=base"

echo "== checking: goc-adapter diff --format json == gocover-cobertura | diff-cover --format json" >&2
(cd "$repo" && "$ours" diff --repo . --base base --profile "$profile" --format json -o "$out/ours.json")
(cd "$repo" && bash -c "$classic --format json:$out/ref.json" >/dev/null)
check=$(python3 - "$out/ours.json" "$out/ref.json" <<'EOF'
import json, sys
ours, ref = (json.load(open(p)) for p in sys.argv[1:3])
keys = ["src_stats", "total_num_lines", "total_num_violations", "total_percent_covered", "num_changed_lines"]
bad = [k for k in keys if ours[k] != ref[k]]
print("MISMATCH in " + ", ".join(bad) if bad else
      f"identical ({len(ref['src_stats'])} files, {ref['total_num_lines']} lines measured, "
      f"{ref['total_num_violations']} missing, {ref['total_percent_covered']}%)")
EOF
)
echo "   $check" >&2

echo "== timing (hyperfine, ${runs:-its default number of} runs, $warmup warmup)" >&2
# Both print their console report into a file: ours through hyperfine's --output (no shell in
# between), the reference through the shell's redirection (bash itself prints nothing into the
# --output file). With `-o FILE` ours would also fsync the file and its directory before the
# rename (about 1 ms here), which the pipeline's redirection does not do.
(cd "$repo" && hyperfine -N --warmup "$warmup" ${runs:+--runs "$runs"} --style basic \
  --export-json "$work/results.json" --output "$out/ours.txt" \
  -n "goc-adapter" "$ours diff --repo . --base base --profile $profile" \
  -n "reference" "bash -c '$classic > $out/ref.txt'") >&2
python3 - "$work/results.json" "$check" <<'EOF'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
o, f = r["goc-adapter"], r["reference"]
print(f"{'diff':<14} goc-adapter {o['mean']*1000:9.1f} ms ± {o['stddev']*1000:6.1f}   "
      f"reference {f['mean']*1000:9.1f} ms ± {f['stddev']*1000:6.1f}   ratio {f['mean']/o['mean']:6.1f}x"
      f"   (medians {o['median']*1000:.1f} / {f['median']*1000:.1f} ms: {f['median']/o['median']:.1f}x;"
      f" runs {len(o['times'])} / {len(f['times'])}; output {sys.argv[2].split(' (')[0]})")
EOF
