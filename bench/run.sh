#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Entry point of `make bench`: ./bench/run.sh BUILD_DIR
#
# Installs the peers that are missing (Debian: supervisor, s6, wrk; npm: pm2 into
# bench/.node), then runs bench/harness.py: the whole suite twice, results in
# bench/results/<date>.{md,json}, and the latest table in README.md's "## Performance"
# section. BENCH_QUICK=1 makes a ~3-minute smoke run with smaller N (results in
# bench/results/<date>-quick.*, README untouched unless BENCH_README=1).
#
# Then bench/procfile_bench.py (issue 14): `gaffer start` against foreman (ruby-foreman,
# apt) and node-foreman (npm foreman into bench/.node), results in
# bench/results/<date>-procfile[-quick].{md,json}.
#
# Environment: BENCH_QUICK=1, BENCH_RUNS=N, BENCH_PEERS=raw,gafferd,supervisord,pm2,s6,
# BENCH_README=0|1, BENCH_NICE=-10 (the niceness of the whole run, when allowed; 0 = as is),
# BENCH_PROCFILE=1|0|only (run the Procfile bench too (default), not, or only it),
# BENCH_LOOKUPD=1|0|only (the same for the lookupd bench, bench/lookupd_bench.py: 1000 jobs
# x 5 processes registered by 10 nodes; results in bench/results/<date>-lookupd.*).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
build="${1:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac

if [ ! -x "$build/daemon/gafferd" ]; then
  echo "bench: $build/daemon/gafferd is not built (make build, or meson setup + ninja)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then SUDO=sudo; fi

# --- Debian peers: apt-get update once, only when something is missing.
missing=()
command -v supervisord >/dev/null 2>&1 || missing+=(supervisor)
command -v s6-svscan >/dev/null 2>&1 || missing+=(s6)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
# The Procfile bench's peer (Debian 12 has ruby-foreman; honcho is not packaged).
if [ "${BENCH_PROCFILE:-1}" != 0 ]; then
  command -v foreman >/dev/null 2>&1 || missing+=(ruby-foreman)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  # policy-rc.d may refuse to start supervisor's service: harmless, the bench starts its own.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

# --- npm packages, locally in bench/.node (never global): npm_local PACKAGE PEER_NAME
npm_local() {
  [ -f "$here/.node/node_modules/$1/package.json" ] && return 0
  if command -v npm >/dev/null 2>&1; then
    echo "bench: installing $1 into bench/.node" >&2
    npm install --prefix "$here/.node" --no-audit --no-fund --loglevel=error "$1" >&2 ||
      echo "bench: npm install $1 failed; $2 will be reported as missing" >&2
  else
    echo "bench: npm not found; $2 will be reported as missing" >&2
  fi
}
npm_local pm2 PM2
# node-foreman (npm `foreman`, its `nf`) for the Procfile bench.
[ "${BENCH_PROCFILE:-1}" != 0 ] && npm_local foreman node-foreman

args=(--build "$build" --out "$here/results")
if [ "${BENCH_QUICK:-0}" = 1 ]; then
  args+=(--quick)
  [ "${BENCH_README:-0}" = 1 ] && args+=(--readme "$root/README.md")
else
  [ "${BENCH_README:-1}" = 1 ] && args+=(--readme "$root/README.md")
fi
[ -n "${BENCH_RUNS:-}" ] && args+=(--runs "$BENCH_RUNS")
[ -n "${BENCH_PEERS:-}" ] && args+=(--peers "$BENCH_PEERS")

# The machine is shared: a higher priority keeps background builds from dominating the
# latencies. Only when allowed (root or CAP_SYS_NICE); the report records the niceness.
nice_cmd=()
want_nice="${BENCH_NICE:--10}"
if [ "$want_nice" != 0 ] && nice -n "$want_nice" true 2>/dev/null &&
   [ "$(nice -n "$want_nice" nice)" = "$(( $(nice) + want_nice ))" ]; then
  nice_cmd=(nice -n "$want_nice")
fi

# The supervisor suite (harness.py), then the Procfile bench (procfile_bench.py: gaffer
# start against foreman and node-foreman; results in bench/results/<date>-procfile.*).
# BENCH_PROCFILE=0 skips the latter, BENCH_PROCFILE=only runs only it.
status=0
if [ "${BENCH_LOOKUPD:-1}" = only ]; then
  largs=(--build "$build" --out "$here/results")
  [ "${BENCH_QUICK:-0}" = 1 ] && largs+=(--quick)
  exec "${nice_cmd[@]}" python3 "$here/lookupd_bench.py" "${largs[@]}"
fi
if [ "${BENCH_PROCFILE:-1}" != only ]; then
  "${nice_cmd[@]}" python3 "$here/harness.py" "${args[@]}" || status=$?
fi
if [ "${BENCH_LOOKUPD:-1}" != 0 ] && [ "${BENCH_PROCFILE:-1}" != only ]; then
  largs=(--build "$build" --out "$here/results")
  [ "${BENCH_QUICK:-0}" = 1 ] && largs+=(--quick)
  "${nice_cmd[@]}" python3 "$here/lookupd_bench.py" "${largs[@]}" || status=$?
fi
if [ "${BENCH_PROCFILE:-1}" != 0 ]; then
  pargs=(--build "$build" --out "$here/results")
  [ "${BENCH_QUICK:-0}" = 1 ] && pargs+=(--quick)
  "${nice_cmd[@]}" python3 "$here/procfile_bench.py" "${pargs[@]}" || status=$?
fi
exit "$status"
