#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Start-up benchmark (issue 16, item 5): how long corun takes to start, run
# a job of one "sleep 0" task and exit, beside /bin/true (the floor: exec
# and exit) and "curl --version" (a program on libcurl). Also a job with
# one fetch loaded but not run (--check), which is where libcurl is loaded
# now that corun loads it at first use.
#
# Each round runs every command B times in a row (after one warm-up run)
# and takes the mean; the commands take turns, the order rotating each
# round, so drift on a shared machine hits all alike. Reported: the median
# over R rounds of each command's mean, and of the per-round ratio to
# /bin/true (the steadier figure on a machine whose load comes and goes).
#
# Usage: bench/startup/run.sh [-r ROUNDS] [-b BATCH] [--no-build]
# Env: CORUN=path (default build-rel/corun, built Release unless
# --no-build).
set -euo pipefail

rounds=9
batch=100
build=1
while [ $# -gt 0 ]; do
  case $1 in
  -r) rounds=$2; shift 2 ;;
  -b) batch=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  -h | --help) sed -n '4,18p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
CORUN=${CORUN:-$root/build-rel/corun}
if [ "$build" = 1 ] && [ -z "${CORUN_GIVEN:-}" ]; then
  build_release "$root" "$root/build-rel"
fi
need_tools curl

WORK=$(mktemp -d /tmp/corun-startup.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
printf '{"tasks": [{"id": "s", "kind": "sleep", "seconds": 0}]}\n' \
  >"$WORK/sleep.json"
printf '{"tasks": [{"id": "f", "kind": "fetch", "url": "http://127.0.0.1:9/"}]}\n' \
  >"$WORK/fetch.json"

names=(true corun-sleep corun-check-fetch curl-version)
run_one() { # name
  case $1 in
  true) /bin/true ;;
  corun-sleep) "$CORUN" -q "$WORK/sleep.json" ;;
  corun-check-fetch) "$CORUN" --check "$WORK/fetch.json" >/dev/null ;;
  curl-version) curl --version >/dev/null ;;
  esac
}
# batch NAME: mean seconds of one run over $batch runs.
batch_mean() {
  local i t0 t1
  run_one "$1"
  t0=$EPOCHREALTIME
  for ((i = 0; i < batch; i++)); do run_one "$1"; done
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" -v n="$batch" 'BEGIN {printf "%.6f\n", (b - a) / n}'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < rounds; r++)); do
  declare -A mean=()
  for ((k = 0; k < ${#names[@]}; k++)); do
    n=${names[$(((k + r) % ${#names[@]}))]}
    mean[$n]=$(batch_mean "$n")
    echo "${mean[$n]}" >>"$WORK/$n"
  done
  for n in "${names[@]}"; do
    awk -v a="${mean[$n]}" -v b="${mean[true]}" 'BEGIN {printf "%.4f\n", a / b}' \
      >>"$WORK/$n.ratio"
  done
  echo "round $((r + 1))/$rounds done" >&2
done

echo "## corun start-up"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs; $(uname -sr)"
echo "- corun: $("$CORUN" --version | head -1) ($CORUN); $(curl --version | head -1 | cut -d' ' -f1-2)"
echo "- load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $rounds rounds of $batch runs of each command (order rotated each round); medians of the rounds' means"
echo
echo "| command | one run | x /bin/true (median of rounds) |"
echo "|---|---:|---:|"
for n in "${names[@]}"; do
  printf '| %s | %.2f ms | %.2f |\n' "$n" \
    "$(awk '{print $1 * 1000}' <<<"$(median "$WORK/$n" 1)")" \
    "$(median "$WORK/$n.ratio" 1)"
done
ratio=$(median "$WORK/corun-sleep.ratio" 1)
echo
echo "Target (issue 16): a job without fetches starts in at most 2x /bin/true: $ratio, $(awk -v r="$ratio" 'BEGIN {print (r <= 2.0) ? "met" : "MISSED"}')"
