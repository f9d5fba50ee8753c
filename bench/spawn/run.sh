#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Starting commands (issue 16, item 4): N runs of `true`, as a pipeline
# stage of exec tasks over N lines with 2 and with 64 workers, beside
# `xargs -P 2 -n 1 true` and `xargs -P 64 -n 1 true` over the same lines,
# and beside bench/spawn/floor.c, the least any runner can do per command
# (its own session, stdout and stderr on pipes), once with fork() and
# once with posix_spawn().
#
# Everything is CPU-bound: most of a run's CPU time is the children's
# exec of `true` (page faults, the dynamic loader), which every tool pays
# alike; what differs is what starting one costs. The tools take turns
# (order rotated each repetition). Reported: wall time and CPU (the
# process and its children) as medians, and xargs' time over each tool's
# (the targets: corun at least 1.0x xargs at 2, 1.3x at 64).
#
# Usage: bench/spawn/run.sh [-r REPEATS] [-n RUNS] [--no-build]
#          [--compare CORUN2]
# --compare runs a second corun binary (say, a build from before a change)
# in turn with the others, as one more row per concurrency.
# Needs: cmake and a C compiler (as for corun), xargs, GNU time.
set -euo pipefail

repeats=5
n=2000
build=1
compare=
while [ $# -gt 0 ]; do
  case $1 in
  -r) repeats=$2; shift 2 ;;
  -n) n=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  --compare) compare=$2; shift 2 ;;
  -h | --help) sed -n '4,22p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
CORUN=${CORUN:-$root/build-rel/corun}
GNU_TIME=${GNU_TIME:-/usr/bin/time}
need_tools gcc xargs "$GNU_TIME"
if [ -n "$compare" ] && [ ! -x "$compare" ]; then
  echo "run.sh: no corun at $compare" >&2
  exit 1
fi
if [ "$build" = 1 ]; then
  build_release "$root" "$root/build-rel"
fi

WORK=$(mktemp -d /tmp/corun-spawn.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
gcc -O2 -o "$WORK/floor" "$root/bench/spawn/floor.c"
seq "$n" >"$WORK/lines.txt"
for c in 2 64; do
  cat >"$WORK/job$c.json" <<JOB
{"corun": 1, "name": "spawn", "tasks": [{"id": "p", "kind": "pipeline",
 "source": {"lines": "$WORK/lines.txt"},
 "stages": [{"workers": $c, "queue": 128,
             "task": {"kind": "exec", "argv": ["true", "\${item}"]}}]}]}
JOB
done

run_tool() { # tool concurrency
  local c=$2 out="$WORK/$2-$1.txt"
  case $1 in
  corun) measure "$out" "$CORUN" -q "$WORK/job$c.json" ;;
  compared) measure "$out" "$compare" -q "$WORK/job$c.json" ;;
  xargs) measure "$out" xargs -P "$c" -n 1 true <"$WORK/lines.txt" ;;
  floor-fork) measure "$out" "$WORK/floor" fork "$n" "$c" true ;;
  floor-spawn) measure "$out" "$WORK/floor" spawn "$n" "$c" true ;;
  esac
}
tools=(corun xargs floor-fork floor-spawn)
[ -n "$compare" ] && tools=(corun compared xargs floor-fork floor-spawn)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < repeats; r++)); do
  for c in 2 64; do
    for ((k = 0; k < ${#tools[@]}; k++)); do
      run_tool "${tools[$(((k + r) % ${#tools[@]}))]}" "$c"
    done
    # xargs' time over each tool's, this repetition.
    for t in "${tools[@]}"; do
      paste <(tail -n 1 "$WORK/$c-xargs.txt") <(tail -n 1 "$WORK/$c-$t.txt") |
        awk '{printf "%.4f %.4f\n", $1 / $4, $3 / $6}' >>"$WORK/$c-$t-pair.txt"
    done
  done
  echo "repetition $((r + 1))/$repeats done" >&2
done

echo "## Starting commands: corun, xargs and the floor"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs; $(uname -sr); $(ldd --version | head -n 1)"
echo "- corun: $("$CORUN" --version) ($CORUN)"
[ -n "$compare" ] && echo "- compared: $("$compare" --version) ($compare)"
echo "- load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $n runs of \`true\`; medians of $repeats repetitions, tools interleaved"
echo
echo "| at a time | tool | wall | CPU | xargs/tool wall | paired | xargs/tool CPU |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for c in 2 64; do
  xw=$(median "$WORK/$c-xargs.txt" 1)
  xc=$(median "$WORK/$c-xargs.txt" 3)
  for t in "${tools[@]}"; do
    w=$(median "$WORK/$c-$t.txt" 1)
    cpu=$(median "$WORK/$c-$t.txt" 3)
    printf '| %s | %s | %.2f s | %.2f s | %.2f | %.2f | %.2f |\n' "$c" "$t" \
      "$w" "$cpu" "$(awk -v a="$xw" -v b="$w" 'BEGIN {print a / b}')" \
      "$(median "$WORK/$c-$t-pair.txt" 1)" \
      "$(awk -v a="$xc" -v b="$cpu" 'BEGIN {print a / b}')"
  done
done
echo
echo "xargs/tool wall: the ratio of the medians; paired: the median of each"
echo "repetition's ratio. Targets for corun: >= 1.0 at 2, >= 1.3 at 64."
