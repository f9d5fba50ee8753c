#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Pipeline benchmark (the pipeline issue, "Benchmark"): what an item costs
# in corun's pipeline, and corun as a GNU parallel.
#
# Items: N items from {"range": [0, N]} through a one-stage pipeline of
# no-op tasks ("sleep" 0) with "queue": Q, and through two such stages,
# beside Python asyncio.Queue(maxsize=Q) moving N ints from one producer
# to one consumer (bench/pipeline/asyncio_queue.py); plus the one-stage
# pipeline at FLAT_N items (default N/10), to see that memory is flat in
# the number of items. Reported: items/s = N / wall time of the whole
# process (start to exit, so corun's start-up and job load are in it),
# and beside it the in-process rate: corun's report, stages[0].items_per_s
# (corun -q --report FILE), and asyncio_queue.py's own clock; CPU (user +
# system) and peak RSS (GNU time's maximum resident set).
#
# Exec: a one-stage pipeline over EXEC_N lines (seq 1 EXEC_N, "lines"
# source) whose task is exec of a trivial command, workers = JOBS (default
# nproc), against GNU parallel -j JOBS and xargs -P JOBS -n 1 on the same
# file. Commands (EXEC_CMDS, default "true echo"):
#   true  corun argv ["true", "${item}"]; parallel true; xargs true
#   echo  corun argv ["echo", "${item}"] with "stream": true (lines tagged
#         "[id] "); parallel --tag --line-buffer echo (what the job file
#         spec names as stream's equivalent); xargs echo (untagged)
#         stdout goes to a file and must hold EXEC_N lines
# Reported: wall, CPU, peak RSS, and tool wall / corun wall as the median
# of the per-round ratios (each round runs every tool once).
#
# Every scenario runs RUNS times; a round runs each scenario of its group
# once, in an order rotated each round, so drift on a shared machine hits
# all alike. Medians are shown, with the range. Before each timed run the
# script waits (up to BUSY_WAIT s) until the CPUs are at most BUSY% busy.
#
# Usage: bench/pipeline/run.sh     (markdown report on stdout, progress on
#        stderr). Environment (defaults in brackets):
#   CORUN      corun binary [../../build/corun from this script]
#   N [1000000]  FLAT_N [N/10]  Q [1000]  RUNS [5]
#   EXEC_N [2000]  EXEC_RUNS [RUNS]  JOBS [nproc]  EXEC_CMDS ["true echo"]
#   ONLY       "items", "exec" or "items exec" [both]
#   PYTHON     [python3; the interpreter itself is used, not a pyenv shim]
#   BUSY [25]  BUSY_WAIT [30]   INSTALL [1]: apt-get install parallel if
#   missing (as root; the exec part runs without it if that fails)
#   KEEP [0]   1 keeps the work directory (jobs, raw samples)
# Needs: GNU time (/usr/bin/time), python3, xargs; GNU parallel optional.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
root=$(cd "$here/../.." && pwd)
CORUN=${CORUN:-$here/../../build/corun}
N=${N:-1000000}
FLAT_N=${FLAT_N:-$((N / 10))}
Q=${Q:-1000}
RUNS=${RUNS:-5}
EXEC_N=${EXEC_N:-2000}
EXEC_RUNS=${EXEC_RUNS:-$RUNS}
JOBS=${JOBS:-$(nproc)}
EXEC_CMDS=${EXEC_CMDS:-true echo}
ONLY=${ONLY:-items exec}
PYTHON=${PYTHON:-python3}
BUSY=${BUSY:-25}
BUSY_WAIT=${BUSY_WAIT:-30}
INSTALL=${INSTALL:-1}
KEEP=${KEEP:-0}
GNU_TIME=/usr/bin/time

case "${1:-}" in
-h | --help) sed -n '4,44p' "$0"; exit 0 ;;
"") ;;
*) echo "run.sh: no arguments; settings come from the environment (--help)" >&2
  exit 2 ;;
esac

if [ ! -x "$GNU_TIME" ] || ! "$GNU_TIME" -f %M true >/dev/null 2>&1; then
  echo "run.sh: needs GNU time at $GNU_TIME (apt-get install -y time)" >&2
  exit 2
fi
command -v "$PYTHON" >/dev/null || {
  echo "run.sh: needs $PYTHON (set PYTHON=...)" >&2
  exit 2
}
# The interpreter itself: a pyenv shim is a shell script that would add
# tens of milliseconds to every asyncio run.
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')
[ -x "$CORUN" ] || {
  echo "run.sh: no corun at $CORUN (build it, or set CORUN=...)" >&2
  exit 2
}
CORUN=$(cd "$(dirname "$CORUN")" && pwd)/$(basename "$CORUN")

want() { case " $ONLY " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# GNU parallel: install it if missing and we may; without it the exec
# part still compares corun with xargs.
have_parallel=0
if want exec; then
  if ! command -v parallel >/dev/null 2>&1 && [ "$INSTALL" = 1 ] &&
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing GNU parallel (apt-get)" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel \
      >/dev/null 2>&1 ||
      { DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel \
          >/dev/null 2>&1; } ||
      echo "run.sh: could not install GNU parallel; going on without it" >&2
  fi
  # moreutils also has a "parallel": only GNU's will do.
  if command -v parallel >/dev/null 2>&1 &&
    parallel --version 2>/dev/null | grep -q 'GNU parallel'; then
    have_parallel=1
  else
    echo "run.sh: no GNU parallel: the exec part compares corun with xargs only" >&2
  fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corun-pipeline-bench.XXXXXX")
cleanup() {
  local rc=$?
  drop_work "$KEEP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- job files ----

# pipe_job FILE N STAGES: N items from a range through STAGES no-op stages.
pipe_job() {
  local file=$1 n=$2 stages=$3 st="" k
  for ((k = 0; k < stages; k++)); do
    [ -n "$st" ] && st+=","
    st+="{\"workers\":1,\"queue\":$Q,\"task\":{\"kind\":\"sleep\",\"seconds\":0}}"
  done
  printf '{"corun":1,"name":"pipeline-%s-%s","tasks":[{"id":"pipe","kind":"pipeline","source":{"range":[0,%s]},"stages":[%s]}]}\n' \
    "$stages" "$n" "$n" "$st" >"$file"
}
# exec_job FILE LINES CMD: one exec stage over the lines of LINES.
exec_job() {
  local file=$1 lines=$2 cmd=$3 extra=""
  [ "$cmd" = echo ] && extra=',"stream":true'
  # shellcheck disable=SC2016 # "${item}" is for corun, not the shell
  printf '{"corun":1,"name":"exec-%s","concurrency":%s,"tasks":[{"id":"p","kind":"pipeline","source":{"lines":"%s"},"stages":[{"workers":%s,"queue":%s,"task":{"kind":"exec","argv":["%s","${item}"]%s}}]}]}\n' \
    "$cmd" "$JOBS" "$lines" "$JOBS" "$((2 * JOBS))" "$cmd" "$extra" >"$file"
}

pipe_job "$WORK/one-$N.json" "$N" 1
pipe_job "$WORK/two-$N.json" "$N" 2
pipe_job "$WORK/one-$FLAT_N.json" "$FLAT_N" 1
seq 1 "$EXEC_N" >"$WORK/lines.txt"
seq 1 20 >"$WORK/lines-warm.txt"
for c in $EXEC_CMDS; do
  case "$c" in true | echo) ;; *)
    echo "run.sh: EXEC_CMDS: only true and echo, not '$c'" >&2; exit 2 ;;
  esac
  exec_job "$WORK/exec-$c.json" "$WORK/lines.txt" "$c"
  exec_job "$WORK/exec-$c-warm.json" "$WORK/lines-warm.txt" "$c"
done

# ---- measuring ----

# measure NAME CMD...: runs CMD with stdout to $WORK/NAME.out and appends
# "wall_s peak_rss_kb cpu_s" to $WORK/NAME.txt. Wall time from bash's
# clock around the process (GNU time's %e has only centiseconds), peak RSS
# from GNU time's %M (KiB), CPU = user + system.
measure() {
  local name=$1 t0 t1 stats
  shift
  t0=$EPOCHREALTIME
  if ! "$GNU_TIME" -f "%M %U %S" -o "$WORK/time" "$@" >"$WORK/$name.out" \
    2>"$WORK/err"; then
    echo "run.sh: failed: $*" >&2
    tail -n 20 "$WORK/err" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  stats=$(tail -n 1 "$WORK/time")
  echo "$t0 $t1 $stats" |
    awk '{printf "%.4f %d %.2f\n", $2 - $1, $3, $4 + $5}' >>"$WORK/$name.txt"
}

# stages_rate REPORT N: checks every stage processed N items, prints
# stages[0].items_per_s of the pipeline task.
stages_rate() {
  "$PYTHON" -c '
import json, sys
r = json.load(open(sys.argv[1]))
res = r["tasks"][0]["result"]
n = int(sys.argv[2])
assert r["status"] == "ok" and res["ok"] == n, (r["status"], res)
assert all(s["processed"] == n for s in res["stages"]), res["stages"]
print(res["stages"][0]["items_per_s"])' "$1" "$2"
}

# The machine is shared: wait for it to be quiet, up to BUSY_WAIT s.
busy_runs=0
all_runs=0
wait_quiet() {
  local k b
  all_runs=$((all_runs + 1))
  for ((k = 0; k < BUSY_WAIT * 2; k++)); do
    b=$(cpu_busy)
    [ "$b" -le "$BUSY" ] && return 0
  done
  busy_runs=$((busy_runs + 1))
}

# run_scenario KEY [warm]: one run of one scenario.
run_scenario() {
  local key=$1 warm=${2:-} sfx="" cmd tool lines n
  [ -n "$warm" ] && sfx=-warm
  case "$key" in
  one | two | flat)
    case "$key" in
    one) n=$N; job="$WORK/one-$N.json" ;;
    two) n=$N; job="$WORK/two-$N.json" ;;
    flat) n=$FLAT_N; job="$WORK/one-$FLAT_N.json" ;;
    esac
    [ -z "$warm" ] && wait_quiet
    measure "$key$sfx" "$CORUN" -q --report "$WORK/report.json" "$job"
    stages_rate "$WORK/report.json" "$n" >>"$WORK/$key$sfx.ips"
    ;;
  asyncio)
    [ -z "$warm" ] && wait_quiet
    measure "asyncio$sfx" "$PYTHON" "$here/asyncio_queue.py" "$N" "$Q"
    cat "$WORK/asyncio$sfx.out" >>"$WORK/asyncio$sfx.ips"
    ;;
  *:*)
    tool=${key%%:*} cmd=${key#*:}
    lines="$WORK/lines$sfx.txt"
    n=$(wc -l <"$lines")
    [ -z "$warm" ] && wait_quiet
    case "$tool" in
    corun) measure "$key$sfx" "$CORUN" -q "$WORK/exec-$cmd$sfx.json" ;;
    parallel)
      if [ "$cmd" = echo ]; then
        measure "$key$sfx" parallel --will-cite -j "$JOBS" --tag \
          --line-buffer -a "$lines" echo
      else
        measure "$key$sfx" parallel --will-cite -j "$JOBS" -a "$lines" "$cmd"
      fi
      ;;
    xargs) measure "$key$sfx" xargs -a "$lines" -P "$JOBS" -n 1 "$cmd" ;;
    esac
    if [ "$cmd" = echo ]; then
      local got
      got=$(wc -l <"$WORK/$key$sfx.out")
      if [ "$got" != "$n" ]; then
        echo "run.sh: $key printed $got lines, not $n" >&2
        exit 1
      fi
    fi
    ;;
  esac
}

# rounds RUNS KEY...: RUNS rounds over the KEYs, order rotated each round,
# after one untimed warm-up run of each.
rounds() {
  local runs=$1 i j k m
  shift
  local keys=("$@")
  m=${#keys[@]}
  for k in "${keys[@]}"; do run_scenario "$k" warm; done
  for ((i = 0; i < runs; i++)); do
    for ((j = 0; j < m; j++)); do
      k=${keys[$(((i + j) % m))]}
      echo "round $((i + 1))/$runs: $k" >&2
      run_scenario "$k"
    done
  done
}

# ---- statistics and formatting ----

# range FILE COLUMN: "min-max"
range() {
  [ -s "$1" ] || { echo "-"; return; }
  sort -g -k"$2","$2" "$1" | awk -v c="$2" 'NR == 1 {lo = $c} {hi = $c}
    END {printf "%.3f-%.3f s", lo, hi}'
}
# ratio_median A B: median over rounds of wall(A) / wall(B); the files
# hold one line per round, in round order.
ratio_median() {
  if [ ! -s "$WORK/$1.txt" ] || [ ! -s "$WORK/$2.txt" ]; then
    echo nan
    return
  fi
  paste -d' ' "$WORK/$1.txt" "$WORK/$2.txt" |
    awk '{print $1 / $4}' >"$WORK/ratio"
  median "$WORK/ratio" 1
}
fmt_rate() { # items/s
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v r="$1" 'BEGIN {printf "%.2fM/s", r / 1e6}'
}
fmt_s() {
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v s="$1" 'BEGIN {printf "%.3f s", s}'
}
fmt_cpu() { # GNU time has centiseconds
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v s="$1" 'BEGIN {printf "%.2f s", s}'
}
fmt_mb() { # KiB -> MB
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v k="$1" 'BEGIN {printf "%.1f MB", k * 1024 / 1e6}'
}
fmt_x() {
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v x="$1" 'BEGIN {printf "%.2fx", x}'
}
num() { # thousands separators
  awk -v n="$1" 'BEGIN {s = sprintf("%d", n); o = ""
    while (length(s) > 3) {o = "," substr(s, length(s) - 2) o
      s = substr(s, 1, length(s) - 3)}
    print s o}'
}

# ---- the runs ----

echo "corun pipeline benchmark, $(date -u +%Y-%m-%dT%H:%MZ); work: $WORK" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
date_start=$(date -u)
# The tree as the runs start (others may commit while they go); whether
# $CORUN was built from it is for the caller to know.
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git -C "$root" status --porcelain -- lib cmd 2>/dev/null | head -n 1)

if want items; then
  rounds "$RUNS" one two asyncio flat
fi
exec_keys=()
if want exec; then
  for c in $EXEC_CMDS; do
    exec_keys+=("corun:$c" "xargs:$c")
    [ "$have_parallel" = 1 ] && exec_keys+=("parallel:$c")
  done
  rounds "$EXEC_RUNS" "${exec_keys[@]}"
fi

# ---- the report ----

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF
## corun pipeline benchmark

- date: $date_start; host: $(nproc) CPUs, ${cpu:-unknown CPU}; $(uname -sr)
- corun: $("$CORUN" --version 2>/dev/null | head -n 1) at $CORUN; source tree at the start: $rev${dirty:+ (lib/ or cmd/ modified)}; $("$PYTHON" --version 2>&1)
- load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg); $busy_runs of $all_runs timed runs started with the CPUs more than $BUSY% busy (after waiting up to $BUSY_WAIT s)
EOF

if want items; then
  cat <<EOF
- items: $RUNS rounds of (corun 1 stage, corun 2 stages, asyncio, corun 1 stage at $(num "$FLAT_N")), order rotated each round, after one untimed warm-up round; medians
- "items/s, whole process" = items / wall time from process start to exit (corun: start-up, job load, run, report, exit); "in-process" = corun's report, stages[0].items_per_s (\`corun -q --report FILE\`), and asyncio_queue.py's own clock around asyncio.run
- corun job: {"range": [0, N]} through 1 or 2 stages of {"workers": 1, "queue": $Q, "task": {"kind": "sleep", "seconds": 0}}; asyncio: one producer putting range(N) into asyncio.Queue(maxsize=$Q), one consumer getting them

| scenario | items | items/s, whole process | items/s, in-process | wall | wall range | CPU | peak RSS |
|---|---:|---:|---:|---:|---:|---:|---:|
EOF
  for k in one two asyncio flat; do
    case "$k" in
    one) label="corun, 1 stage"; n=$N ;;
    two) label="corun, 2 stages"; n=$N ;;
    asyncio) label="Python asyncio.Queue"; n=$N ;;
    flat) label="corun, 1 stage"; n=$FLAT_N ;;
    esac
    w=$(median "$WORK/$k.txt" 1)
    r=$(median "$WORK/$k.txt" 2)
    c=$(median "$WORK/$k.txt" 3)
    ips=$(median "$WORK/$k.ips" 1)
    rate=$(awk -v n="$n" -v w="$w" 'BEGIN {print n / w}')
    echo "| $label | $(num "$n") | $(fmt_rate "$rate") | $(fmt_rate "$ips") | $(fmt_s "$w") | $(range "$WORK/$k.txt" 1) | $(fmt_cpu "$c") | $(fmt_mb "$r") |"
  done
  one_w=$(median "$WORK/one.txt" 1)
  one_r=$(median "$WORK/one.txt" 2)
  two_r=$(median "$WORK/two.txt" 2)
  flat_r=$(median "$WORK/flat.txt" 2)
  py_r=$(median "$WORK/asyncio.txt" 2)
  one_ips=$(median "$WORK/one.ips" 1)
  one_rate=$(awk -v n="$N" -v w="$one_w" 'BEGIN {print n / w}')
  x1=$(ratio_median asyncio one)
  x2=$(ratio_median asyncio two)
  cat <<EOF

Ratios (medians of the per-round ratios of wall times, same N):
- items/s, corun 1 stage / asyncio.Queue: $(fmt_x "$x1"); corun 2 stages / asyncio.Queue: $(fmt_x "$x2")
- peak RSS, corun 1 stage / asyncio.Queue: $(awk -v a="$one_r" -v b="$py_r" 'BEGIN {printf "%.2f", a / b}')
- flatness: peak RSS at $(num "$N") items $(fmt_mb "$one_r"), at $(num "$FLAT_N") $(fmt_mb "$flat_r") ($(awk -v a="$one_r" -v b="$flat_r" 'BEGIN {printf "%+.1f MB, %.2fx", (a - b) * 1024 / 1e6, a / b}'))

Targets:
- at least 3M items/s through one stage: $(awk -v r="$one_rate" 'BEGIN {print (r >= 3e6) ? "met" : "MISSED"}') by the whole process ($(fmt_rate "$one_rate")), $(awk -v r="$one_ips" 'BEGIN {print (r >= 3e6) ? "met" : "MISSED"}') in-process ($(fmt_rate "$one_ips"))
- peak RSS under 50 MB: $(awk -v a="$one_r" -v b="$two_r" 'BEGIN {print (a * 1024 < 50e6 && b * 1024 < 50e6) ? "met" : "MISSED"}') (1 stage $(fmt_mb "$one_r"), 2 stages $(fmt_mb "$two_r"))
- flat in the number of items (RSS at $(num "$N") within 10% of RSS at $(num "$FLAT_N")): $(awk -v a="$one_r" -v b="$flat_r" 'BEGIN {print (a <= 1.1 * b) ? "met" : "MISSED"}')
EOF
fi

if want exec; then
  cat <<EOF

- exec: $(num "$EXEC_N") items ("lines" source over seq 1 $EXEC_N), $JOBS at a time; $EXEC_RUNS rounds over (${exec_keys[*]}), order rotated each round, after an untimed warm-up of each on 20 lines; stdout to a file
- corun: one stage {"workers": $JOBS, "queue": $((2 * JOBS)), "task": {"kind": "exec", "argv": [CMD, "\${item}"]}}, job "concurrency": $JOBS, \`corun -q\`; echo: with "stream": true
- parallel: \`parallel --will-cite -j $JOBS -a FILE CMD\` (echo: with --tag --line-buffer, the spec's equivalent of stream); xargs: \`xargs -a FILE -P $JOBS -n 1 CMD\`
- "vs corun": the tool's wall time / corun's, median of the per-round ratios (above 1: corun is faster)

| command | tool | wall | wall range | CPU | peak RSS | items/s | vs corun |
|---|---|---:|---:|---:|---:|---:|---:|
EOF
  for k in "${exec_keys[@]}"; do
    tool=${k%%:*} c=${k#*:}
    w=$(median "$WORK/$k.txt" 1)
    r=$(median "$WORK/$k.txt" 2)
    cp=$(median "$WORK/$k.txt" 3)
    rate=$(awk -v n="$EXEC_N" -v w="$w" 'BEGIN {printf "%.0f", n / w}')
    if [ "$tool" = corun ]; then
      x="1.00x"
    else
      x=$(fmt_x "$(ratio_median "$k" "corun:$c")")
    fi
    echo "| $c | $tool | $(fmt_s "$w") | $(range "$WORK/$k.txt" 1) | $(fmt_cpu "$cp") | $(fmt_mb "$r") | $rate | $x |"
  done
fi
