#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Scheduler benchmark (issue 2, "Scale"): what one task costs in corun.
#
# For each N, a job of N one-second sleeps inside one gather is run with
# "corun -q", beside Python asyncio gathering N asyncio.sleep(1). Reported:
# wall time beyond the one second the sleeps take (parse, build, schedule,
# tear down) and peak RSS, medians over several runs. corun and Python runs
# alternate, so drift on a shared machine hits both alike. Then start-up:
# corun on a one-task "sleep 0" job against "curl --version".
#
# Usage: bench/sched/run.sh [-n "10000 100000 1000000"] [-r REPEATS]
#          [--py-big-repeats R] [--no-python-1m] [--no-python] [--no-build]
#          [--compare CORUN2]
# --compare runs a second corun binary (say, a build from before a change)
# in turn with the first, as one more row per N. -n "1000000 10000000"
# --no-python checks the million-task targets alone (10M needs about 2.5 GB
# of memory and a 300 MB job file, deleted after its runs).
# Needs: cmake, a C compiler, libuv and cJSON (as for corun), python3,
# GNU time (/usr/bin/time, Debian package "time"); hyperfine if present.
# Results go to stdout as markdown; raw samples stay in $WORK (printed).
set -euo pipefail

sizes="10000 100000 1000000"
repeats=5
py_big_repeats=2 # asyncio at 1M takes a minute a run; fewer is enough
py_1m=1
python=1
build=1
compare=

while [ $# -gt 0 ]; do
  case "$1" in
  -n) sizes="$2"; shift 2 ;;
  -r) repeats="$2"; shift 2 ;;
  --py-big-repeats) py_big_repeats="$2"; shift 2 ;;
  --no-python-1m) py_1m=0; shift ;;
  --no-python) python=0; shift ;;
  --no-build) build=0; shift ;;
  --compare) compare="$2"; shift 2 ;;
  -h | --help) sed -n '4,22p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
root=$(cd "$here/../.." && pwd)
PYTHON=${PYTHON:-python3}
GNU_TIME=/usr/bin/time

if [ ! -x "$GNU_TIME" ] || ! "$GNU_TIME" -f %M true >/dev/null 2>&1; then
  echo "run.sh: needs GNU time at $GNU_TIME (apt-get install -y time)" >&2
  exit 2
fi
command -v "$PYTHON" >/dev/null || {
  echo "run.sh: needs $PYTHON (set PYTHON=...)" >&2
  exit 2
}
# The interpreter itself, not a wrapper: a pyenv shim is a shell script
# that would add a few hundred milliseconds to every asyncio run.
PYTHON=$("$PYTHON" -c 'import sys; print(sys.executable)')

# Release, and without the tests, so Criterion is not needed to benchmark.
if [ "$build" = 1 ]; then
  cmake -S "$root" -B "$root/build-rel" -DCMAKE_BUILD_TYPE=Release \
    -DCORUN_TESTS=OFF -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$root/build-rel" -j2 --target corun >/dev/null
fi
CORUN=${CORUN:-$root/build-rel/corun}
[ -x "$CORUN" ] || { echo "run.sh: no corun at $CORUN" >&2; exit 2; }
if [ -n "$compare" ] && [ ! -x "$compare" ]; then
  echo "run.sh: no corun at $compare" >&2
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corun-bench.XXXXXX")

# measure OUTFILE CMD...: appends "wall_s peak_rss_kb cpu_s" to OUTFILE.
# Wall time from bash's clock around the process (GNU time's %e has only
# centiseconds); peak RSS from GNU time's %M (maximum resident set, KiB);
# CPU is user + system time, which other load on a shared machine inflates
# far less than wall time, so it is reported beside it.
measure() {
  local out=$1 t0 t1 stats
  shift
  t0=$EPOCHREALTIME
  if ! "$GNU_TIME" -f "%M %U %S" -o "$WORK/rss" "$@" >/dev/null \
    2>"$WORK/err"; then
    echo "run.sh: failed: $*" >&2
    cat "$WORK/err" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  stats=$(tail -n 1 "$WORK/rss")
  echo "$t0 $t1 $stats" |
    awk '{printf "%.4f %d %.2f\n", $2 - $1, $3, $4 + $5}' >>"$out"
}


fmt_beyond() { # seconds of wall minus the 1 s sleep
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v w="$1" 'BEGIN {printf "%.3f s", w - 1}'
}
fmt_s() {
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v s="$1" 'BEGIN {printf "%.2f s", s}'
}
fmt_mb() {
  [ "$1" = nan ] && { echo "-"; return; }
  awk -v k="$1" 'BEGIN {printf "%.0f MB", k * 1024 / 1e6}'
}

echo "corun scheduler benchmark, $(date -u +%Y-%m-%dT%H:%MZ)" >&2
echo "raw samples in $WORK" >&2
# Wall times mean little on a busy machine; say how busy it was.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

rows=()
verdicts=()
for n in $sizes; do
  job="$WORK/sched-$n.json"
  "$PYTHON" "$here/gen.py" "$n" "$job"
  : >"$WORK/corun-$n.txt"
  : >"$WORK/cmp-$n.txt"
  : >"$WORK/py-$n.txt"
  py_reps=$repeats
  [ "$n" -ge 1000000 ] && py_reps=$py_big_repeats
  if [ "$python" = 0 ] || { [ "$n" -ge 1000000 ] && [ "$py_1m" = 0 ]; }; then
    py_reps=0
  fi
  for ((i = 1; i <= repeats; i++)); do
    echo "N=$n run $i/$repeats: corun" >&2
    measure "$WORK/corun-$n.txt" "$CORUN" -q "$job"
    if [ -n "$compare" ]; then
      echo "N=$n run $i/$repeats: corun to compare" >&2
      measure "$WORK/cmp-$n.txt" "$compare" -q "$job"
    fi
    if [ "$i" -le "$py_reps" ]; then
      echo "N=$n run $i/$repeats: asyncio" >&2
      measure "$WORK/py-$n.txt" "$PYTHON" "$here/asyncio_sleep.py" "$n"
    fi
  done
  cw=$(median "$WORK/corun-$n.txt" 1)
  cr=$(median "$WORK/corun-$n.txt" 2)
  pw=$(median "$WORK/py-$n.txt" 1)
  pr=$(median "$WORK/py-$n.txt" 2)
  cc=$(median "$WORK/corun-$n.txt" 3)
  pc=$(median "$WORK/py-$n.txt" 3)
  rows+=("| $n | $(fmt_beyond "$cw") | $(fmt_s "$cc") | $(fmt_mb "$cr") | $(fmt_beyond "$pw") | $(fmt_s "$pc") | $(fmt_mb "$pr") | $repeats / $py_reps |")
  if [ -n "$compare" ]; then
    xw=$(median "$WORK/cmp-$n.txt" 1)
    xr=$(median "$WORK/cmp-$n.txt" 2)
    xc=$(median "$WORK/cmp-$n.txt" 3)
    rows+=("| $n (compared) | $(fmt_beyond "$xw") | $(fmt_s "$xc") | $(fmt_mb "$xr") | - | - | - | $repeats / 0 |")
  fi
  # The targets: at 1M, 0.5 s past the sleep and 200 MB; at 10M, 5 s and 2 GB.
  case $n in
  1000000) lim_s=0.5 lim_b=200e6 ;;
  10000000) lim_s=5 lim_b=2e9 ;;
  *) lim_s= ;;
  esac
  if [ -n "$lim_s" ]; then
    v_time=$(awk -v w="$cw" -v l="$lim_s" 'BEGIN {print (w - 1 <= l) ? "met" : "MISSED"}')
    v_rss=$(awk -v k="$cr" -v l="$lim_b" 'BEGIN {print (k * 1024 <= l) ? "met" : "MISSED"}')
    verdicts+=("N=$n at most $lim_s s beyond the sleep: $v_time; at most $(fmt_mb "$(awk -v l="$lim_b" 'BEGIN {print l / 1024}')") peak RSS: $v_rss")
  fi
  # A 10M job file is 300 MB: the samples are what is worth keeping.
  rm -f "$job"
done

# Start-up: a one-task job that does nothing, against curl --version.
echo '{"tasks": [{"kind": "sleep", "seconds": 0}]}' >"$WORK/sleep0.json"
startup_rows=()
if command -v hyperfine >/dev/null; then
  # -N: no shell in between, so the figures are the programs' own.
  hyperfine -N --warmup 20 --runs 300 --export-json "$WORK/startup.json" \
    "$CORUN -q $WORK/sleep0.json" "curl --version" >/dev/null 2>&1
  read -r c_mean c_sd c_med u_mean u_sd u_med < <("$PYTHON" - "$WORK/startup.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
print(" ".join("%.3f" % (x * 1e3) for t in r
               for x in (t["mean"], t["stddev"], t["median"])))
EOF
)
  how="hyperfine -N, 300 runs after 20 warm-up"
else
  # Without hyperfine: 100 runs each, interleaved, total time / 100.
  c_tot=0 u_tot=0
  for ((i = 0; i < 100; i++)); do
    t0=$EPOCHREALTIME; "$CORUN" -q "$WORK/sleep0.json" >/dev/null 2>&1
    t1=$EPOCHREALTIME; curl --version >/dev/null 2>&1; t2=$EPOCHREALTIME
    c_tot=$(awk -v a="$c_tot" -v x="$t0" -v y="$t1" 'BEGIN {print a + y - x}')
    u_tot=$(awk -v a="$u_tot" -v x="$t1" -v y="$t2" 'BEGIN {print a + y - x}')
  done
  c_mean=$(awk -v t="$c_tot" 'BEGIN {printf "%.3f", t * 10}')
  u_mean=$(awk -v t="$u_tot" 'BEGIN {printf "%.3f", t * 10}')
  c_sd=- u_sd=- c_med=$c_mean u_med=$u_mean
  how="a loop of 100 runs each (install hyperfine for better figures)"
fi
ratio=$(awk -v c="$c_med" -v u="$u_med" 'BEGIN {printf "%.2f", c / u}')
verdict_start=$(awk -v r="$ratio" 'BEGIN {print (r <= 1.0) ? "met" : "MISSED"}')

cpu=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF
## corun scheduler benchmark

- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs, ${cpu:-unknown CPU}; $(uname -sr)
- corun: $("$CORUN" --version) (Release build of $(git -C "$root" describe --always --dirty 2>/dev/null || echo "an unknown tree")); Python: $("$PYTHON" --version 2>&1); $(curl --version | head -n 1 | cut -d' ' -f1-2)
- load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)
- job: one gather of N sleep tasks of 1 s; "beyond 1 s" = median wall time of the whole process minus 1 s; CPU = median user + system time; peak RSS = median of GNU time's maximum resident set

| N | corun beyond 1 s | corun CPU | corun peak RSS | asyncio beyond 1 s | asyncio CPU | asyncio peak RSS | runs (corun / asyncio) |
|---:|---:|---:|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

Start-up ($how):

| command | mean | ± sd | median |
|---|---:|---:|---:|
| corun -q sleep0.json | $c_mean ms | $c_sd ms | $c_med ms |
| curl --version | $u_mean ms | $u_sd ms | $u_med ms |

corun / curl (medians): $ratio

Targets: $(if [ ${#verdicts[@]} -gt 0 ]; then printf '%s; ' "${verdicts[@]}"; else printf 'N=1M and N=10M not run; '; fi)start-up no slower than curl --version: $verdict_start.
EOF
