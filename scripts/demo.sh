#!/usr/bin/env bash
# The demo, with the real pieces: a goc server, two replicas of a Go service built with
# `goc build` (examples/echoserver, in a throw-away git repo: master + a feature commit), some
# traffic, and `goc-adapter serve` collecting them and serving full and incremental reports.
# Runs until Ctrl-C, then stops everything it started and removes its work dir.
#
# Environment:
#   DEMO_PORT=8080            port of goc-adapter's HTTP API and portal (on 127.0.0.1); when
#                             unset and 8080 is taken, a free port is used
#   DEMO_EXIT_AFTER_SYNC=1    exit 0 as soon as the reports are ready (CI smoke test)
#   DEMO_RELEASE=1            run the release executable (scripts/build-release.sh)
#   DEMO_KEEP=1               keep the work dir (logs, repo, home) at exit
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
# Only the Go tools (goc) are needed here, not everything scripts/env.sh installs.
eval "$(scripts/install-tools.sh)"

say() { printf '== %s\n' "$*" >&2; }
die() {
  printf 'demo: %s\n' "$*" >&2
  exit 1
}
for tool in cargo go goc git curl python3; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/goc-adapter-demo.XXXXXX")
pids=()
ready=0

# Stops what we started, newest first (adapter, replicas, then the goc server, so replicas can
# still deregister), SIGTERM then SIGKILL after 5 s.
cleanup() {
  local status=$? i pid n
  trap - EXIT INT TERM
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
    pid=${pids[i]}
    kill "$pid" 2>/dev/null || continue
    for ((n = 0; n < 50; n++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "${DEMO_KEEP:-}" = 1 ]; then
    say "work dir kept: $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
# Ctrl-C is how a running demo ends: exit 0 then; before that it is an interruption.
trap 'if [ "$ready" = 1 ]; then exit 0; else exit 130; fi' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port_is_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
# wait_for DESCRIPTION SECONDS PID LOG COMMAND...: polls COMMAND every 0.2 s; fails naming
# DESCRIPTION (with the tail of LOG) on timeout or when PID has exited.
wait_for() {
  local what=$1 secs=$2 pid=$3 logf=$4 n
  shift 4
  for ((n = 0; n < secs * 5; n++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$logf" >&2 || true
      die "$what: the process exited (log above)"
    fi
    sleep 0.2
  done
  tail -n 30 "$logf" >&2 || true
  die "timed out after ${secs}s waiting for $what (log above)"
}
# Number of addresses registered under name $2 at goc server $1.
registered() {
  curl -sf "$1/v1/cover/list" |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin).get(sys.argv[1], [])))' "$2"
}
has_n_addresses() { [ "$(registered "$1" "$2")" = "$3" ]; }
# True when /api/v1/services shows service $2 with a line_percent.
synced() {
  curl -sf "$1/api/v1/services" | python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["services"] if x["name"] == sys.argv[1]]
sys.exit(0 if s and s[0].get("line_percent") is not None else 1)' "$2"
}

# 1. goc-adapter.
if [ "${DEMO_RELEASE:-}" = 1 ]; then
  say "building goc-adapter (release, as the image ships it)"
  adapter_bin=$(scripts/build-release.sh) || die "the release build failed"
else
  say "building goc-adapter (debug)"
  cargo build --bin goc-adapter >&2
  adapter_bin="${CARGO_TARGET_DIR:-$root/target}/debug/goc-adapter"
fi
[ -x "$adapter_bin" ] || die "no binary at $adapter_bin after cargo build"

# 2. The service's repository: master, then a feature commit changing some handlers.
say "creating the echoserver repository in $work/repo"
commit=$(examples/make-echoserver-repo.sh "$work/repo")
branch=feature
name="staging_th_apa_goc_echoserver_${branch}_${commit:0:10}"

# 3. goc server (it writes _svrs_address.txt and goc.log into its working directory).
goc_port=$(free_port)
goc_url="http://127.0.0.1:$goc_port"
mkdir -p "$work/goc-server"
(cd "$work/goc-server" && GIN_MODE=release exec goc server --port "127.0.0.1:$goc_port") \
  >"$work/goc-server.log" 2>&1 &
goc_pid=$!
pids+=("$goc_pid")
wait_for "goc server on $goc_url" 30 "$goc_pid" "$work/goc-server.log" curl -sf "$goc_url/v1/cover/list"
say "goc server: $goc_url"

# 4. The service built with goc (the server address is baked into the binary).
say "goc build of the echoserver at ${commit:0:10} ($branch)"
mkdir -p "$work/bin" "$work/tmp"
(cd "$work/repo" && TMPDIR="$work/tmp" goc build --center="$goc_url" --mode count -o "$work/bin/echoserver" .) \
  >"$work/goc-build.log" 2>&1 || {
  cat "$work/goc-build.log" >&2
  die "goc build failed"
}

# 5. Two replicas registered as $name. Each runs from its own directory: the goc agent takes
# its port from <binary>_profile_listen_addr beside the binary (it listens on all interfaces).
http_ports=()
for i in 1 2; do
  dir="$work/replica-$i"
  mkdir -p "$dir"
  ln -s "$work/bin/echoserver" "$dir/echoserver"
  agent_port=$(free_port)
  printf '127.0.0.1:%s' "$agent_port" >"$dir/echoserver_profile_listen_addr"
  hp=$(free_port)
  (cd "$dir" && GOC_SERVICE_NAME="$name" exec "$dir/echoserver" -addr "127.0.0.1:$hp") \
    >"$dir/replica.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_for "replica $i to register" 30 "$pid" "$dir/replica.log" has_n_addresses "$goc_url" "$name" "$i"
  wait_for "replica $i to serve" 30 "$pid" "$dir/replica.log" curl -sf "http://127.0.0.1:$hp/health"
  http_ports+=("$hp")
done
say "replicas of $name: http://127.0.0.1:${http_ports[0]} and http://127.0.0.1:${http_ports[1]}"

# 6. Some traffic, spread over the replicas (not every branch: the reports show partial coverage).
r1="http://127.0.0.1:${http_ports[0]}"
r2="http://127.0.0.1:${http_ports[1]}"
for url in "$r1/echo?msg=hello" "$r1/echo?msg=hi&repeat=2" "$r1/reverse?s=goc-adapter" \
  "$r2/calc?a=7&b=3&op=mod" "$r2/calc?a=1&b=0&op=div" "$r2/slow?ms=20" "$r2/echo?msg=x&upper=1"; do
  curl -s -o /dev/null "$url"
done

# 7. The target and goc-adapter serve.
sed -e "s|@GOC_SERVER@|$goc_url|" -e "s|@REPO@|$work/repo|" examples/demo-target.yaml >"$work/target.yaml"
if [ -n "${DEMO_PORT:-}" ]; then
  port=$DEMO_PORT
  port_is_free "$port" || die "DEMO_PORT=$port is in use on 127.0.0.1"
else
  port=8080
  if ! port_is_free "$port"; then
    port=$(free_port)
    say "port 8080 is in use: using $port (set DEMO_PORT to choose)"
  fi
fi
base="http://127.0.0.1:$port"
say "starting goc-adapter serve on $base (log: $work/adapter.log)"
"$adapter_bin" serve --config "$work/target.yaml" --home "$work/home" --listen "127.0.0.1:$port" \
  >"$work/adapter.log" 2>&1 &
adapter_pid=$!
pids+=("$adapter_pid")
wait_for "goc-adapter to listen" 60 "$adapter_pid" "$work/adapter.log" grep -q "listening on" "$work/adapter.log"

# 8. First sync now rather than at the first scheduled pull.
wait_for "goc-adapter to discover $name" 60 "$adapter_pid" "$work/adapter.log" \
  curl -sf "$base/api/v1/services/$name"
curl -s -o /dev/null -X POST "$base/api/v1/services/$name/sync" || true
wait_for "a synced $name" 120 "$adapter_pid" "$work/adapter.log" synced "$base" "$name"

summary=$(curl -sf "$base/api/v1/services/$name")
percent() { python3 -c 'import json,sys; v=json.load(sys.stdin).get(sys.argv[1]); print("n/a" if v is None else "%.1f%%" % v)' "$1"; }
api="$base/api/v1/services/$name"
cat <<EOF

goc-adapter is serving $name
  line coverage:         $(percent line_percent <<<"$summary")
  incremental coverage:  $(percent diff_percent <<<"$summary")   (feature vs origin/master)

  portal          $base/
  func report     $api/report?format=func
  html report     $api/report?format=html
  json report     $api/report?format=json
  diff report     $api/diff?format=html
  merged profile  $api/profile
  summary (JSON)  $api

More traffic, then a sync (or wait for the 30s schedule):
  curl '$r1/reverse?s=more' && curl -X POST $api/sync

EOF
if [ "${DEMO_EXIT_AFTER_SYNC:-}" = 1 ]; then
  exit 0
fi
ready=1
say "running; Ctrl-C stops everything"
while kill -0 "$adapter_pid" 2>/dev/null; do
  sleep 1
done
tail -n 30 "$work/adapter.log" >&2 || true
die "goc-adapter exited (log above)"
