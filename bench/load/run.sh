#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Load benchmark (issue 6, "Load"): corun run to completion at sizes well
# past everyday use, with every task checked, and what memory it takes.
#
# Scenarios (each size run with --report, and the report checked: exit 0,
# every task ok, none failed, timed out, cancelled or skipped):
#   fetch  one gather of N fetches at "concurrency": C (default 1,000 and
#          10,000 at 1,000) against corun's own test server on 127.0.0.1:
#          9 in 10 GET /bytes?n=1024, every 10th GET /delay?ms=50 (so the
#          first C are all in flight at once; the server's count of
#          accepted connections is recorded to show it)
#   tasks  one gather of N/1000 gathers of 1,000 sleeps each (default
#          10,000 and 100,000 sleeps): 4 in 5 of 0 s (a yield), every 5th
#          of 1-4 ms (a timer)
# Each run is done twice: with --report (the checked run: the report is
# built and written, as a CI job would) and with -q alone (exit 0 is
# then the check: a gather whose child fails fails the run). Reported:
# wall time of the whole process, tasks/s, CPU, peak RSS (GNU time), as
# medians over -r repetitions (sizes interleaved); then, for "bounded
# memory", peak RSS growth per task between the smallest and the largest
# size of each scenario.
#
# Usage: bench/load/run.sh [-r REPEATS] [--fetches "1000 10000"]
#          [-c CONCURRENCY] [--tasks "10000 100000"] [--busy PCT]
#          [--rev REV] [--no-build] [--keep]
#   --busy PCT  before each timed run, wait (up to 60 s) until the CPUs are
#               at most PCT% busy (default 30; 100 turns it off)
#   --rev REV   benchmark the commit REV (git archive into the work
#               directory, built there) instead of the working tree, which
#               may hold someone's unfinished changes
#   --keep      keep the work directory (jobs, reports, raw samples)
# Env: CORUN=path (default build-rel/corun), HTTPD=path to a built
# corun-test-httpd (default: tests/server/httpd.c compiled here with cc).
# Needs: cmake, a C compiler, corun's build deps, GNU time (/usr/bin/time).
# The soft open-files limit is raised to what C connections need (both
# corun and the server hold C sockets); the report says what it was.
# Traffic goes to 127.0.0.1 only; the server is stopped by pid on exit.
# Results go to stdout as markdown; raw samples stay in $WORK (printed).
set -euo pipefail

repeats=3
fetch_sizes="1000 10000"
conc=1000
task_sizes="10000 100000"
busy_max=30
build=1
keep=0
rev=

while [ $# -gt 0 ]; do
  case "$1" in
  -r) repeats="$2"; shift 2 ;;
  --fetches) fetch_sizes="$2"; shift 2 ;;
  -c) conc="$2"; shift 2 ;;
  --tasks) task_sizes="$2"; shift 2 ;;
  --busy) busy_max="$2"; shift 2 ;;
  --rev) rev="$2"; shift 2 ;;
  --no-build) build=0; shift ;;
  --keep) keep=1; shift ;;
  -h | --help) sed -n '4,40p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
for n in $task_sizes; do
  if [ $((n % 1000)) != 0 ] || [ "$n" -le 0 ]; then
    echo "run.sh: task sizes must be multiples of 1000 (got $n)" >&2
    exit 2
  fi
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
root=$(cd "$here/../.." && pwd)
GNU_TIME=/usr/bin/time

if [ ! -x "$GNU_TIME" ] || ! "$GNU_TIME" -f %M true >/dev/null 2>&1; then
  echo "run.sh: needs GNU time at $GNU_TIME (apt-get install -y time)" >&2
  exit 2
fi

# ---- open files: C sockets in corun, and as many in the server ----

fd_need=$((conc + 256))
fd_soft=$(ulimit -Sn)
fd_hard=$(ulimit -Hn)
fd_note="soft open-files limit $fd_soft, enough for $conc connections"
if [ "$fd_soft" != unlimited ] && [ "$fd_soft" -lt "$fd_need" ]; then
  if [ "$fd_hard" != unlimited ] && [ "$fd_hard" -lt "$fd_need" ]; then
    echo "run.sh: $conc connections need $fd_need open files per process;" \
      "the hard limit is $fd_hard (raise it, or use -c)" >&2
    exit 2
  fi
  ulimit -Sn "$fd_need"
  fd_note="soft open-files limit raised from $fd_soft to $fd_need for $conc connections"
  echo "run.sh: $fd_note" >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corun-load-bench.XXXXXX")
httpd_pid=

cleanup() {
  local rc=$?
  stop_pid "$httpd_pid"
  drop_work "$keep"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- corun, Release ----

# Release, and without the tests, so Criterion is not needed to benchmark.
src=$root
if [ -n "$rev" ]; then
  src=$WORK/src
  mkdir -p "$src"
  git -C "$root" archive "$rev" | tar -x -C "$src"
  corun_what="Release build of $(git -C "$root" rev-parse --short "$rev")"
  cmake -S "$src" -B "$WORK/build-rel" -DCMAKE_BUILD_TYPE=Release \
    -DCORUN_TESTS=OFF -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$WORK/build-rel" -j2 --target corun >/dev/null
  CORUN=$WORK/build-rel/corun
elif [ -n "${CORUN:-}" ]; then
  corun_what="$CORUN"
else
  if [ "$build" = 1 ]; then
    cmake -S "$root" -B "$root/build-rel" -DCMAKE_BUILD_TYPE=Release \
      -DCORUN_TESTS=OFF -DBUILD_TESTING=OFF >/dev/null
    cmake --build "$root/build-rel" -j2 --target corun >/dev/null
  fi
  CORUN=$root/build-rel/corun
  corun_what="Release build of $(git -C "$root" describe --always --dirty 2>/dev/null || echo "an unknown tree")"
fi
[ -x "$CORUN" ] || { echo "run.sh: no corun at $CORUN" >&2; exit 2; }

# ---- the test server ----

# tests/server/httpd.c is one file with a header: compiled here, so the
# benchmark needs neither Criterion nor a tests-on build directory.
if [ -z "${HTTPD:-}" ]; then
  HTTPD=$WORK/corun-test-httpd
  "${CC:-cc}" -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
    -I"$src/tests/server" -o "$HTTPD" "$src/tests/server/httpd.c"
fi
[ -x "$HTTPD" ] || { echo "run.sh: no test server at $HTTPD" >&2; exit 2; }
start_httpd "$HTTPD"
base="http://127.0.0.1:$httpd_port"

# The server's count of accepted connections, asked through corun itself
# (no curl needed); the asking adds one.
echo "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"$base/conns\"}]}" \
  >"$WORK/conns.json"
server_conns() {
  "$CORUN" -q --report - "$WORK/conns.json" |
    sed -n 's/.*"body": *"\([0-9]*\)".*/\1/p' | head -n 1
}
[ -n "$(server_conns)" ] || { echo "run.sh: $base/conns fails" >&2; exit 1; }
echo "test server on $base (pid $httpd_pid)" >&2

# ---- jobs ----

gen_fetch() { # n concurrency
  awk -v base="$base" -v n="$1" -v c="$2" 'BEGIN {
    printf "{\"corun\": 1, \"name\": \"load-fetch-%d\", \"concurrency\": %d,\n", n, c
    printf "\"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
    for (i = 1; i <= n; i++) {
      u = (i % 10 == 0) ? "/delay?ms=50" : "/bytes?n=1024"
      printf "{\"kind\": \"fetch\", \"url\": \"%s%s\"}%s\n", base, u, i < n ? "," : ""
    }
    printf "]}]}\n"
  }'
}
gen_tasks() { # n (a multiple of 1000)
  awk -v n="$1" -v per=1000 'BEGIN {
    g = n / per
    printf "{\"corun\": 1, \"name\": \"load-tasks-%d\",\n", n
    printf "\"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
    for (j = 1; j <= g; j++) {
      printf "{\"kind\": \"gather\", \"tasks\": [\n"
      for (i = 1; i <= per; i++) {
        s = (i % 5) ? "0" : "\"" (i % 4 + 1) "ms\""
        printf "{\"kind\": \"sleep\", \"seconds\": %s}%s\n", s, i < per ? "," : ""
      }
      printf "]}%s\n", j < g ? "," : ""
    }
    printf "]}]}\n"
  }'
}
# Every task in a job, gathers included: what summary.ok must say.
declare -A total=() leaves=()
scen=()
for n in $fetch_sizes; do
  gen_fetch "$n" "$conc" >"$WORK/fetch-$n.json"
  leaves[fetch-$n]=$n
  total[fetch-$n]=$((n + 1))
  scen+=("fetch-$n")
done
for n in $task_sizes; do
  gen_tasks "$n" >"$WORK/tasks-$n.json"
  leaves[tasks-$n]=$n
  total[tasks-$n]=$((n + n / 1000 + 1))
  scen+=("tasks-$n")
done

# ---- measuring ----

# check_report FILE TOTAL: the summary must count TOTAL ok and nothing
# else. The summary is one line near the top of the report.
check_report() {
  local s want
  s=$(grep -o '"summary": *{[^}]*}' "$1" | head -n 1 | tr -d ' ')
  want="\"summary\":{\"ok\":$2,\"failed\":0,\"timeout\":0,\"cancelled\":0,\"skipped\":0}"
  if [ "$s" != "$want" ]; then
    echo "run.sh: report $1: $s (want $want)" >&2
    return 1
  fi
}

# run_one SCENARIO: the checked run with --report, then the -q one. A
# whole-run --timeout keeps a hang from stalling the benchmark (exit 124).
run_one() {
  local s=$1 c0 c1
  [ "${s%%-*}" = fetch ] && c0=$(server_conns)
  rm -f "$WORK/report.json"
  measure "$WORK/$s-report.txt" "$CORUN" -q --timeout 300 \
    --report "$WORK/report.json" "$WORK/$s.json"
  check_report "$WORK/report.json" "${total[$s]}" || exit 1
  if [ "${s%%-*}" = fetch ]; then
    c1=$(server_conns)
    echo "$((c1 - c0 - 1))" >>"$WORK/$s-conns.txt"
  fi
  wait_quiet
  runs=$((runs + 1))
  measure "$WORK/$s-q.txt" "$CORUN" -q --timeout 300 "$WORK/$s.json"
}

# The machine is shared (builds, test suites): wait for it to be quiet.
busy_runs=0
runs=0
wait_quiet() {
  local k b
  [ "$busy_max" -ge 100 ] && return 0
  for ((k = 0; k < 120; k++)); do
    b=$(cpu_busy)
    [ "$b" -le "$busy_max" ] && return 0
    [ "$k" = 0 ] && echo "  waiting: CPUs ${b}% busy" >&2
  done
  busy_runs=$((busy_runs + 1))
}

echo "corun load benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $repeats repetitions" >&2
echo "raw samples in $WORK" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# One untimed round first (page cache, the server's heap, the kernel's
# socket state), checked like the others.
for s in "${scen[@]}"; do
  echo "warm-up: $s" >&2
  run_one "$s"
done
rm -f "$WORK"/*-report.txt "$WORK"/*-q.txt "$WORK"/*-conns.txt
busy_runs=0
runs=0

for ((i = 1; i <= repeats; i++)); do
  for s in "${scen[@]}"; do
    echo "rep $i/$repeats: $s" >&2
    wait_quiet
    runs=$((runs + 1))
    run_one "$s"
  done
done

# ---- report ----

fmt() { # awk format, value
  [ "$2" = nan ] && { echo "-"; return; }
  awk -v v="$2" -v f="$1" 'BEGIN {printf f, v}'
}
commas() { # integer (rounded) with thousands separators: 12,345
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v v="$1" 'BEGIN {printf "%.0f\n", v}' | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'
}
mb() { fmt '%.1f MB' "$(awk -v k="$1" 'BEGIN {print (k == "nan") ? "nan" : k * 1024 / 1e6}')"; }

declare -A rss_r=() rss_q=()
rows=()
for s in "${scen[@]}"; do
  n=${leaves[$s]}
  w=$(median "$WORK/$s-report.txt" 1)
  cpu=$(median "$WORK/$s-report.txt" 3)
  rss_r[$s]=$(median "$WORK/$s-report.txt" 2)
  wq=$(median "$WORK/$s-q.txt" 1)
  rss_q[$s]=$(median "$WORK/$s-q.txt" 2)
  case "$s" in
  fetch-*)
    what="$(commas "$n") fetches at $(commas "$conc") ($(commas "$(median "$WORK/$s-conns.txt" 1)") connections)"
    unit="fetches/s"
    ;;
  tasks-*)
    what="$(commas "$n") sleeps ($(commas $((n / 1000))) x 1,000)"
    unit="tasks/s"
    ;;
  esac
  rate=$(awk -v n="$n" -v w="$w" 'BEGIN {print (w == "nan") ? "nan" : n / w}')
  rows+=("| $what | $(fmt '%.3f s' "$w") | $(commas "$rate") $unit | $(fmt '%.2f s' "$cpu") | $(mb "${rss_r[$s]}") | $(fmt '%.3f s' "$wq") | $(mb "${rss_q[$s]}") |")
done

# Peak RSS growth per leaf task from each size of a scenario to the next:
# flat from one pair to the next means a bounded cost per task.
growth=()
for kind in fetch tasks; do
  sizes=$fetch_sizes
  [ "$kind" = tasks ] && sizes=$task_sizes
  lo=
  # shellcheck disable=SC2086 # a list of sizes, split on purpose
  for hi in $(printf '%s\n' $sizes | sort -n | uniq); do
    if [ -n "$lo" ]; then
      per_r=$(awk -v a="${rss_r[$kind-$lo]}" -v b="${rss_r[$kind-$hi]}" \
        -v d=$((hi - lo)) 'BEGIN {printf "%.0f", (b - a) * 1024 / d}')
      per_q=$(awk -v a="${rss_q[$kind-$lo]}" -v b="${rss_q[$kind-$hi]}" \
        -v d=$((hi - lo)) 'BEGIN {printf "%.0f", (b - a) * 1024 / d}')
      growth+=("| $kind, $(commas "$lo") to $(commas "$hi") | $(mb "${rss_r[$kind-$lo]}") to $(mb "${rss_r[$kind-$hi]}") | $(commas "$per_r") B | $(mb "${rss_q[$kind-$lo]}") to $(mb "${rss_q[$kind-$hi]}") | $(commas "$per_q") B |")
    fi
    lo=$hi
  done
done

cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF
## corun load benchmark

- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs, ${cpu_model:-unknown CPU}; $(uname -sr)
- corun: $("$CORUN" --version) ($corun_what); server: corun-test-httpd (tests/server/httpd.c, -O2) on 127.0.0.1, one poll() loop, keep-alive
- $fd_note
- load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)
- medians of $repeats repetitions (sizes interleaved) after one untimed warm-up round; each run started once the CPUs were at most ${busy_max}% busy (waiting up to 60 s): $busy_runs of $runs runs started busier
- every run with --report exited 0 and its report counted every task ok (gathers included) and none failed, timed out, cancelled or skipped; every run with -q exited 0
- wall = the whole process, start to exit (load, run, report, teardown); rate = leaf tasks / wall; CPU = user + system; peak RSS = GNU time's maximum resident set; "connections" = what the server accepted during the run (C means all C were open at once: corun reuses a connection once its transfer is done)
- fetch job: one gather of N fetches, "concurrency": $(commas "$conc"), 9 in 10 GET /bytes?n=1024 (text: each result keeps its body, as the spec says for bodies of at most 4 KiB of text), every 10th GET /delay?ms=50; task job: one gather of N/1000 gathers of 1,000 sleeps, 4 in 5 of 0 s, every 5th of 1-4 ms

| job | wall | rate | CPU | peak RSS | wall, -q | peak RSS, -q |
|---|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

Bounded memory: peak RSS growth per leaf task from each size to the next (results are kept until the run ends, so some growth per task is expected; it must be small and flat):

| scenario | peak RSS | per task | peak RSS, -q | per task, -q |
|---|---:|---:|---:|---:|
$(printf '%s\n' "${growth[@]}")
EOF
