#!/usr/bin/env bash
# Benchmark (not a test, not run in CI) of `goc-adapter serve` against plain baselines, in one
# run, on N registered names x K agents (default 1,000 x 3): a real goc server; the agents
# simulated by tools/agentsim, each serving a real profile of a real module (gin, profiled by its
# own tests) with its file order shuffled per request and its counts varied per agent.
#
# 1. Sync rounds versus a plain parallel download of the same N*K profile URLs (agentsim
#    download: same parallelism as goc-adapter's round, bodies discarded, median of 5). A round
#    is the first round of a fresh goc-adapter process, timed from `listening on` to the end of
#    its last sync (the newest last_sync once its syncs counter in /metrics reaches N), then
#    checked: every name synced with that outcome, K agents
#    online, no error, profile and reports stored. Three rounds:
#      cold       empty home: every name new (goc list, one clone per service, fetch,
#                 accumulate, merge, store, build func/HTML/JSON/diff reports);
#      changed    restart with every name due; traffic on every agent first (SIGUSR1 to the
#                 simulator), so every name stores a new profile and rebuilds its reports;
#      unchanged  restart with every name due; idle agents: fetch, merge, compare, save state.
#    The target is a round within 2x of the download.
# 2. goc-adapter's peak RSS (VmHWM), target <= 256 MiB.
# 3. One cached HTML report served by goc-adapter versus nginx serving the same file from the
#    store: wrk -t2 -c32, alternating, best of two each; target >= 50% of nginx's requests/s.
#
# Usage: scripts/bench-serve.sh [--names N] [--agents K] [--duration 10s]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# shellcheck source=scripts/env.sh
source scripts/env.sh

names=1000
agents=3
duration=10s
while [ $# -gt 0 ]; do
  case "$1" in
    --names) names=$2; shift 2 ;;
    --agents) agents=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "usage: $0 [--names N] [--agents K] [--duration 10s]" >&2; exit 2 ;;
  esac
done

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null && ! [ -x "/usr/sbin/$tool" ]; then
    apt-get install -y "$tool" >&2
  fi
done
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
export GOTOOLCHAIN=local GOFLAGS="-mod=mod -buildvcs=false" GOWORK=off

echo "== building goc-adapter (release) and agentsim"
ours=$(scripts/build-release.sh --quiet)
sim_key=$(cat tools/agentsim/go.mod tools/agentsim/*.go | sha256sum | cut -c1-16)
sim="${HOME}/.cache/goc-adapter/agentsim-${sim_key}"
if [ ! -x "$sim" ]; then
  (cd tools/agentsim && go build -o "$sim.tmp" .)
  mv "$sim.tmp" "$sim"
fi

# The module and its profile: gin is a typical small web service (about 1,400 blocks in 43
# files), so an agent's profile is about 80 KB.
module=github.com/gin-gonic/gin
version=v1.7.7
work="${HOME}/.cache/goc-adapter/bench-serve/${module//\//_}@${version}"
prepare() {
  echo "== preparing $module@$version in $work (first run only)"
  rm -rf "$work"
  mkdir -p "$work"
  local dir
  dir=$(cd /tmp && go mod download -json "$module@$version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
  cp -r "$dir" "$work/repo"
  chmod -R u+w "$work/repo"
  (
    cd "$work/repo"
    git init -q -b master
    git add -A -f .
    git -c user.name=bench -c user.email=bench@goc-adapter.invalid -c commit.gpgsign=false \
      commit -q -m "import $module@$version"
  )
  # A failing test still leaves a complete profile.
  (cd "$work/repo" && go test -vet=off -short -covermode=count -coverpkg=./... \
    -coverprofile="$work/profile.out" ./... >"$work/test.log" 2>&1) ||
    echo "   (some tests failed; the profile is still complete)" >&2
  touch "$work/.complete"
}
[ -f "$work/.complete" ] || prepare
commit=$(git -C "$work/repo" rev-parse HEAD)
short=${commit:0:10}

run=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$run"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_for WHAT SECONDS CMD...: polls CMD every $poll seconds.
poll=0.2
wait_for() {
  local what=$1 limit=$2
  shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out after ${limit}s waiting for $what" >&2
      exit 1
    fi
    sleep "$poll"
  done
}
now() { date +%s.%N; }

echo "== goc server and $names names x $agents simulated agents"
mkdir -p "$run/goc"
goc_port=$(free_port)
(cd "$run/goc" && exec env GIN_MODE=release goc server --port "127.0.0.1:$goc_port" >server.log 2>&1) &
pids+=($!)
goc_url="http://127.0.0.1:$goc_port"
wait_for "the goc server" 30 curl -sf "$goc_url/v1/cover/list"
"$sim" serve -server "$goc_url" -names "$names" -agents "$agents" -profile "$work/profile.out" \
  -commit "$short" -urls "$run/urls.txt" >"$run/sim.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)
wait_for "the simulator to register every agent" 300 grep -q '^ready' "$run/sim.log"
cat "$run/sim.log"
registered=$(curl -sf "$goc_url/v1/cover/list" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(len(d), sum(len(v) for v in d.values()))')
echo "   goc server lists (names, addresses): $registered"

# The baseline's parallelism is what goc-adapter uses in a round: SYNC_PARALLELISM names at once
# (src/collector/service.rs), each fetching its K agents at once.
sync_parallelism=$(sed -n 's/^const SYNC_PARALLELISM: usize = \([0-9]*\);/\1/p' src/collector/service.rs)
parallel=$((sync_parallelism * agents))
echo "== plain parallel download of the same $((names * agents)) URLs ($parallel at a time)"
download=$("$sim" download -urls "$run/urls.txt" -parallel "$parallel" -repeat 5)
echo "   $download"
download_s=$(sed -n 's/.*median_seconds=\([0-9.]*\).*/\1/p' <<<"$download")
download_bytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' <<<"$download")

cat >"$run/target.yaml" <<EOF
apiVersion: coverage.goc-adapter.io/v1alpha1
kind: CoverageTarget
metadata:
  name: bench
spec:
  gocServer: $goc_url
  services:
    match: "^bench_"
  repo:
    url: $work/repo
    baseBranch: origin/master
  schedule:
    interval: 1h
    jitter: 1s
  retention:
    history: 5
  probe:
    failures: 3
    timeout: 10s
EOF

api_port=$(free_port)
api="http://127.0.0.1:$api_port"
adapter_pid=
# start_adapter LOG: starts goc-adapter serve on the home and waits for `listening on` (saved
# state is loaded before that, so a round's clock starts there).
start_adapter() {
  "$ours" serve --config "$run/target.yaml" --home "$run/home" --listen "127.0.0.1:$api_port" \
    2>"$1" &
  adapter_pid=$!
  pids+=($adapter_pid)
  wait_for "goc-adapter to listen" 120 grep -q 'listening on' "$1"
}
stop_adapter() {
  kill "$adapter_pid"
  wait "$adapter_pid" 2>/dev/null || true
  local p kept=()
  for p in "${pids[@]}"; do [ "$p" = "$adapter_pid" ] || kept+=("$p"); done
  pids=("${kept[@]}")
}
synced() {
  local n
  n=$(curl -sf "$api/metrics" | awk '/^goc_adapter_syncs_total/ {s += $NF} END {print s + 0}')
  [ "${n:-0}" -ge "$names" ]
}
# check_services OUTCOME: every name synced in this round with that outcome, its agents online,
# no error, its profile and reports stored.
check_services() {
  curl -sf "$api/api/v1/services" >"$run/services.json"
  curl -sf "$api/metrics" >"$run/metrics.txt"
  python3 - "$run/services.json" "$run/metrics.txt" "$names" "$agents" "$1" <<'EOF'
import json, re, sys
s = json.load(open(sys.argv[1]))["services"]
metrics = open(sys.argv[2]).read()
names, agents, want = int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
outcomes = dict(re.findall(r'^goc_adapter_syncs_total\{outcome="(\w+)"\} (\d+)', metrics, re.M))
bad = [x["name"] for x in s if not (x["last_sync"] and x["md5"] and x["line_percent"] is not None
       and x["last_error"] is None and len(x["addresses"]) == agents
       and all(a["state"] == "online" for a in x["addresses"]))]
lp = sorted(x["line_percent"] for x in s if x["line_percent"] is not None)
print(f"   {len(s)} services, {len(s) - len(bad)} complete (agents online, profile and reports "
      f"stored, no error); syncs by outcome: {outcomes}"
      + (f"; line coverage {lp[0]:.1f}..{lp[-1]:.1f}%" if lp else ""))
if len(s) != names or bad or int(outcomes.get(want, 0)) != names:
    print(f"   FAILED: want {names} complete services and {names} '{want}' syncs; "
          f"incomplete: {bad[:5]}", file=sys.stderr)
    sys.exit(1)
EOF
}
# round LABEL OUTCOME: times the first round of a fresh goc-adapter process, from `listening on`
# until N syncs are done, then checks them.
declare -A round_s hwm_kib
round() {
  local label=$1 outcome=$2 start
  start_adapter "$run/adapter-$label.log"
  start=$(now)
  wait_for "$names syncs ($label round)" 900 synced
  # The round ends with its last sync (the newest last_sync of any name): polling /metrics
  # faster to see the end would load the adapter (1,000 names of series) and slow the round,
  # polling slower rounds a sub-second round up by up to 0.2 s.
  round_s[$label]=$(curl -sf "$api/api/v1/services" | python3 -c "
import datetime, json, sys
s = json.load(sys.stdin)['services']
end = max(datetime.datetime.fromisoformat(x['last_sync'].replace('Z', '+00:00')).timestamp()
          for x in s if x['last_sync'])
print(f'{end - $start:.2f}')")
  hwm_kib[$label]=$(awk '/VmHWM/ {print $2}' "/proc/$adapter_pid/status")
  echo "   $label round: ${round_s[$label]} s; peak RSS $((hwm_kib[$label] / 1024)) MiB"
  # Where the syncs' time went (durations summed over names; up to SYNC_PARALLELISM overlap).
  curl -sf "$api/metrics" | awk '
    /^goc_adapter_sync_duration_seconds_sum/ {sync = $NF}
    /^goc_adapter_report_build_duration_seconds_sum/ {rep = $NF}
    /^goc_adapter_report_build_duration_seconds_count/ {n = $NF}
    END {printf "   summed over names: sync %.1f s, of which building reports %.1f s (%d names)\n", sync, rep, n}'
  check_services "$outcome"
}
# Each name's state file says when it is due; clearing that makes every name due at the next
# start, so a restart runs one full round over names that are already synced and cloned.
make_all_due() {
  python3 - "$run/home" <<'EOF'
import glob, json, os, sys
for path in glob.glob(os.path.join(sys.argv[1], "*", "*", "state", "name.json")):
    with open(path) as f:
        state = json.load(f)
    state["next_sync"] = None
    with open(path, "w") as f:
        json.dump(state, f)
EOF
}

echo "== round 1 (cold): empty home, every name new: clone, fetch, merge, store, build reports"
round cold changed
stop_adapter

echo "== round 2 (changed): restart, clones present; traffic on every agent, so every name"
echo "   stores a new profile and rebuilds its reports"
kill -USR1 "$sim_pid"
wait_for "the simulated traffic" 10 grep -q '^traffic: generation 1' "$run/sim.log"
make_all_due
round changed changed
stop_adapter

echo "== round 3 (unchanged): restart, idle agents: fetch, merge, compare, save state"
make_all_due
round unchanged unchanged

first="bench_th_app_svc0000_master_$short"
html="$run/home/svc0000/$first/${first}_report.html"
[ -f "$html" ] || { echo "no HTML report at $html" >&2; exit 1; }
html_kb=$(($(stat -c %s "$html") / 1024))

echo "== serving the cached HTML report ($html_kb KiB): wrk -t2 -c32 -d$duration"
mkdir -p "$run/nginx"
nginx_port=$(free_port)
cat >"$run/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $run/nginx/nginx.pid;
error_log $run/nginx/error.log;
$( [ "$(id -u)" = 0 ] && echo "user $(id -un) $(id -gn);" )
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  client_body_temp_path $run/nginx/body;
  proxy_temp_path $run/nginx/proxy;
  fastcgi_temp_path $run/nginx/fastcgi;
  uwsgi_temp_path $run/nginx/uwsgi;
  scgi_temp_path $run/nginx/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    location = /report.html {
      alias $html;
      default_type "text/html; charset=utf-8";
    }
  }
}
EOF
"$nginx_bin" -e "$run/nginx/error.log" -p "$run/nginx" -c "$run/nginx/nginx.conf" &
pids+=($!)
nginx_url="http://127.0.0.1:$nginx_port/report.html"
ours_url="$api/api/v1/services/$first/report?format=html"
wait_for "nginx" 10 curl -sf "$nginx_url"
cmp -s <(curl -sf "$nginx_url") <(curl -sf "$ours_url") ||
  { echo "nginx and goc-adapter serve different bytes" >&2; exit 1; }
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$1"; }
# Alternating runs, best of two each: on a shared host interference only ever lowers a figure.
for i in 1 2; do
  echo "-- goc-adapter ($i/2): $ours_url"
  wrk -t2 -c32 -d"$duration" "$ours_url" | tee "$run/wrk-ours-$i.txt"
  echo "-- nginx $("$nginx_bin" -v 2>&1 | cut -d/ -f2) ($i/2): $nginx_url"
  wrk -t2 -c32 -d"$duration" "$nginx_url" | tee "$run/wrk-nginx-$i.txt"
done
ours_rps=$(python3 -c "print(max($(rps "$run/wrk-ours-1.txt"), $(rps "$run/wrk-ours-2.txt")))")
nginx_rps=$(python3 -c "print(max($(rps "$run/wrk-nginx-1.txt"), $(rps "$run/wrk-nginx-2.txt")))")
hwm_end=$(awk '/VmHWM/ {print $2}' "/proc/$adapter_pid/status")

echo
echo "== summary: $names names x $agents agents, $module@$version profiles;" \
  "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - <<EOF
download_s, mb = $download_s, $download_bytes / 1e6
rounds = [("cold", ${round_s[cold]}, "clone + reports"),
          ("changed", ${round_s[changed]}, "reports rebuilt"),
          ("unchanged", ${round_s[unchanged]}, "no reports")]
hwm = max(${hwm_kib[cold]}, ${hwm_kib[changed]}, ${hwm_kib[unchanged]}, $hwm_end) / 1024
ours, nginx = $ours_rps, $nginx_rps
rows = []
for label, s, what in rounds:
    rows.append((f"sync round, {label} ({what})", f"{s:.2f} s", f"download {download_s:.2f} s",
                 f"{s / download_s:.1f}x", "<= 2x", s / download_s <= 2))
rows.append(("peak RSS of goc-adapter (max over rounds and wrk)", f"{hwm:.0f} MiB", "", "",
             "<= 256 MiB", hwm <= 256))
rows.append(("cached HTML report ($html_kb KiB), wrk -t2 -c32 -d$duration", f"{ours:.0f} req/s",
             f"nginx {nginx:.0f} req/s", f"{ours / nginx:.0%}", ">= 50%", ours / nginx >= 0.5))
print(f"download: {$names * $agents} profiles, {mb:.0f} MB, $parallel at a time (agentsim download, median of 5)")
print(f"{'measure':<56} {'goc-adapter':>12} {'baseline':>20} {'ratio':>6} {'target':>11}  met")
for m, o, b, r, t, ok in rows:
    print(f"{m:<56} {o:>12} {b:>20} {r:>6} {t:>11}  {'yes' if ok else 'NO'}")
EOF
