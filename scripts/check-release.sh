#!/usr/bin/env bash
# Checks the executable the image ships (scripts/build-release.sh), not only the debug build
# the tests use: on Linux with glibc it is static; the demo runs on it (a real goc server and
# goc-built service, reports served); and on the demo's merged profile its `report --format
# func` equals `go tool cover -func` and its `diff` equals the incremental report the service
# stored. Called by scripts/test.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

fail() {
  echo "check-release: $*" >&2
  exit 1
}

bin=$(scripts/build-release.sh --quiet)
case "$(rustc -vV | sed -n 's/^host: //p')" in
  *-linux-gnu*)
    if ldd "$bin" >/dev/null 2>&1; then
      fail "$bin is dynamically linked; build-release.sh links it statically"
    fi
    ;;
esac

log=$(mktemp)
trap 'rm -f "$log"' EXIT
DEMO_RELEASE=1 DEMO_EXIT_AFTER_SYNC=1 DEMO_KEEP=1 scripts/demo.sh >/dev/null 2>"$log" ||
  { cat "$log" >&2; fail "the demo failed on the release executable"; }
work=$(sed -n 's/^== work dir kept: //p' "$log")
[ -d "$work" ] || { cat "$log" >&2; fail "the demo did not say where its work dir is"; }
trap 'rm -f "$log"; rm -rf "$work"' EXIT

names=("$work"/home/*/*/*.cov)
[ ${#names[@]} -eq 1 ] && [ -f "${names[0]}" ] || fail "expected one merged profile, found: ${names[*]}"
cov=${names[0]}
stored=${cov%.cov}

# The demo's service repository: master, then the feature commit checked out.
ours_func=$("$bin" report --repo "$work/repo" --commit feature --profile "$cov" --format func)
ref_func=$(cd "$work/repo" && go tool cover -func="$cov")
[ "$ours_func" = "$ref_func" ] ||
  fail "report --format func differs from go tool cover -func:
$(diff <(echo "$ref_func") <(echo "$ours_func") || true)"

"$bin" diff --repo "$work/repo" --commit feature --base master --profile "$cov" --format json \
  >"$work/diff.json"
python3 - "$work/diff.json" "${stored}_diff.json" <<'EOF'
import json, sys
ours, stored = (json.load(open(p)) for p in sys.argv[1:])
keys = ["src_stats", "total_num_lines", "total_num_violations", "total_percent_covered",
        "num_changed_lines", "merge_base", "head", "unmeasured_files"]
bad = [k for k in keys if k not in ours or k not in stored or ours[k] != stored[k]]
if bad:
    sys.exit(f"check-release: diff differs from the service's stored report in {bad}")
if not ours["src_stats"]:
    sys.exit("check-release: the diff measured no file")
EOF
echo "release executable: static, demo served, func equals go tool cover, diff equals the service's"
