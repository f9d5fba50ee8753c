#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Fetch benchmark (issue 3, "Benchmark"): corun's fetch kind against
# curl --parallel, Python asyncio + aiohttp, and wrk as the ceiling, all
# on one local nginx, in one run, side by side.
#
# Scenarios (GETs, concurrency):
#   a  20,000 x 1 KiB file at 64
#   b   2,000 x 100 KiB file at 16
#   c     640 x a URL that answers after 100 ms, at 64 (ideal: 1.0 s)
#   d  10,000 x 1 KiB file at 1,000 (issue 16: 1,000 connections)
#   e 100,000 x 1 KiB file at 1,000
# d and e are not run by default (--only "d e"); each brings its
# reference, the same requests at 64 (d64, e64), run in the same
# repetitions, and the report gives corun's rate at 1,000 over its rate
# at 64 (target: at least 0.8), paired per repetition.
# Reported per scenario and tool: requests/s of the whole process (N over
# wall clock, from start to exit), wall time, CPU (user + system) and peak
# RSS (GNU time), medians over -r repetitions. The tools take turns, and
# the order rotates each repetition, so drift on a shared machine hits all
# of them alike. wrk is time-based (-d): its own requests/s is reported.
# Beside the ratio of the medians, the "paired" ratios take each
# repetition's two runs (made one after the other) as a pair and give the
# median (and range) of the pairs' ratios: on a machine whose load comes
# and goes, that is the steadier figure.
#
# Usage: bench/fetch/run.sh [-r REPEATS] [--only "a b c"] [--wrk-seconds S]
#          [--payload text|binary|json] [--checks] [--baseline BIN]
#          [--tools "corun curl ..."] [--profile] [--no-build]
#          [--no-install] [--keep]
#   --payload     text (default): the files are ASCII text, so corun keeps
#                 each body (at most 4 KiB of text) in its result, as the
#                 spec says; binary: random bytes, so it keeps none; json:
#                 one JSON object each ({"id": 7, "ok": true, "pad": ...})
#   --checks      one more tool, "corun+checks": the same job with, on
#                 every fetch, an expect.json check ("/ok" is true) and a
#                 capture ("/id"), so the whole body is parsed; implies
#                 --payload json (issue 14: at least 1.5x curl's req/s on
#                 scenario a, and plain corun unchanged)
#   --baseline BIN  one more tool, "baseline": another corun binary (an
#                 older build) on the plain job, so a change is measured
#                 against what it changed in the same interleaved runs;
#                 reported as corun/baseline, paired per repetition
#   --tools LIST  run only these of corun, curl, aiohttp, wrk (and
#                 corun+checks, baseline when asked for), or floor and
#                 floor-perform: libcurl's floor (bench/floor/floor.c,
#                 event-driven as corun is, and with curl_multi_perform),
#                 so that d and e show what libcurl itself keeps of its
#                 rate at 1,000 connections; the ratios to a tool left
#                 out are "-"
#   --profile     instead of the benchmark, profile corun on scenario a
#                 (or the one scenario --only names, say d):
#                 syscalls and page faults per request beside curl's
#                 (perf stat), and where its CPU time goes (perf record,
#                 split by bench/fetch/perf_split.py); needs linux-perf
#   --busy PCT    before each timed run, wait (up to 60 s) until the
#                 machine's CPUs are at most PCT% busy (default 15), so
#                 other work (a build, a test suite) does not skew a run;
#                 the report says how many runs started busier than that
#   --no-install  never call apt-get (fail if something is missing)
#   --keep        keep the work directory (jobs, configs, raw samples)
# Env: CORUN=path (default build-rel/corun), PYTHON=interpreter with
# aiohttp (default /usr/bin/python3, where Debian's python3-aiohttp is).
# Needs root to install what is missing (Debian 12): nginx-light (or
# nginx), wrk, python3-aiohttp, curl, time, gcc, cmake, corun's build deps.
# Traffic goes to 127.0.0.1 only; every server started here is stopped by
# pid on exit.
set -euo pipefail

repeats=7
only="a b c"
only_given=0
wrk_secs=3
build=1
install=1
keep=0
payload=text
profile=0
checks=0
busy_max=15
baseline=
tools_only=

while [ $# -gt 0 ]; do
  case "$1" in
  -r) repeats="$2"; shift 2 ;;
  --only) only="$2"; only_given=1; shift 2 ;;
  --wrk-seconds) wrk_secs="$2"; shift 2 ;;
  --no-build) build=0; shift ;;
  --no-install) install=0; shift ;;
  --keep) keep=1; shift ;;
  --payload) payload="$2"; shift 2 ;;
  --profile) profile=1; shift ;;
  --checks) checks=1; shift ;;
  --busy) busy_max="$2"; shift 2 ;;
  --baseline) baseline="$2"; shift 2 ;;
  --tools) tools_only="$2"; shift 2 ;;
  -h | --help) sed -n '4,64p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done
if [ "$checks" = 1 ]; then
  # The checks read the body as JSON: any other payload would fail them.
  case "$payload" in
  text) payload=json ;;
  json) ;;
  *) echo "run.sh: --checks needs --payload json" >&2; exit 2 ;;
  esac
fi

# 1,000 connections at once (d, e) take more than the usual 1,024
# descriptors, in each client and in nginx: raise the soft limit towards
# the hard one (nginx raises its own with worker_rlimit_nofile).
nofile=$(ulimit -n)
if [ "$nofile" != unlimited ] && [ "$nofile" -lt 8192 ]; then
  hard=$(ulimit -Hn)
  if [ "$hard" = unlimited ] || [ "$hard" -ge 8192 ]; then
    ulimit -n 8192
  else
    ulimit -n "$hard"
  fi
  nofile=$(ulimit -n)
fi
case " $only " in
*" d"* | *" e"*)
  if [ "$nofile" != unlimited ] && [ "$nofile" -lt 2048 ]; then
    echo "run.sh: d and e need 'ulimit -n' of 2048 or more (the hard limit is $(ulimit -Hn))" >&2
    exit 2
  fi
  ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../lib.sh
. "$here/../lib.sh"
root=$(cd "$here/../.." && pwd)
# Debian's python3-aiohttp is for Debian's python3; a pyenv or venv
# python3 earlier on PATH would not see it.
PYTHON=${PYTHON:-/usr/bin/python3}
GNU_TIME=/usr/bin/time

# ---- what the benchmark needs, from Debian's packages ----

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have nginx || [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
have wrk || missing+=(wrk)
have curl || missing+=(curl)
[ -x "$GNU_TIME" ] || missing+=(time)
have gcc || missing+=(gcc)
if [ "$profile" = 1 ]; then
  have perf || missing+=(linux-perf)
  have cmake || missing+=(cmake)
fi
"$PYTHON" -c 'import aiohttp' >/dev/null 2>&1 || missing+=(python3-aiohttp)
if [ "$build" = 1 ]; then
  have cmake || missing+=(cmake)
  have pkg-config || missing+=(pkg-config)
  pkg-config --exists libuv 2>/dev/null || missing+=(libuv1-dev)
  pkg-config --exists libcjson 2>/dev/null || missing+=(libcjson-dev)
  pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
fi

made_policy=0
restore_policy() {
  if [ "$made_policy" = 1 ]; then
    rm -f /usr/sbin/policy-rc.d
    made_policy=0
  fi
}

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$install" = 0 ] || [ "$(id -u)" != 0 ]; then
    echo "run.sh: missing: ${missing[*]}" >&2
    echo "  as root: apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 2
  fi
  echo "installing: ${missing[*]}" >&2
  # Installing nginx would start the system's nginx on port 80 where a
  # service manager runs. policy-rc.d exiting 101 tells invoke-rc.d not
  # to start anything; one made here is removed right after.
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    trap restore_policy EXIT
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null; then
    # nginx-light is gone from newer Debian releases: plain nginx then.
    missing=("${missing[@]/nginx-light/nginx}")
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  restore_policy
  trap - EXIT
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---- corun, Release ----

if [ "$build" = 1 ]; then
  cmake -S "$root" -B "$root/build-rel" -DCMAKE_BUILD_TYPE=Release \
    -DCORUN_TESTS=OFF -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$root/build-rel" -j2 >/dev/null
fi
CORUN=${CORUN:-$root/build-rel/corun}
[ -x "$CORUN" ] || { echo "run.sh: no corun at $CORUN" >&2; exit 2; }
if [ -n "$baseline" ]; then
  [ -x "$baseline" ] || { echo "run.sh: no baseline corun at $baseline" >&2; exit 2; }
  baseline=$(cd "$(dirname "$baseline")" && pwd)/$(basename "$baseline")
fi

# ---- servers ----

WORK=$(mktemp -d "${TMPDIR:-/tmp}/corun-fetch-bench.XXXXXX")
# nginx's workers run as nobody when started by root: they must be able to
# reach the files it serves.
chmod 755 "$WORK"
nginx_pid=
httpd_pid=

cleanup() {
  local rc=$?
  stop_pid "$nginx_pid"
  stop_pid "$httpd_pid"
  drop_work "$keep"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The delayed URL. nginx cannot sleep (echo_sleep is not in Debian's
# nginx builds), so nginx proxies /delay to the test suite's own HTTP
# server, which answers /delay?ms=N after N ms without holding anything
# else up. It is built here by hand so the benchmark needs no Criterion.
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -I"$root/tests/server" -o "$WORK/httpd" "$root/tests/server/httpd.c"
start_httpd "$WORK/httpd"
delay_port=$httpd_port

# Payloads: text by default, as the pages and JSON a CI job fetches are.
# corun keeps a body of at most 4 KiB of text in its result, as the spec
# says: that is part of what it costs, so the 1 KiB case measures it;
# --payload binary shows the cost without it.
mkdir -p "$WORK/www" "$WORK/nginx/logs"
line='corun fetch benchmark: the quick brown fox jumps over the lazy dog.'
text_file() { # bytes: lines of $line, cut to exactly that size
  awk -v n="$1" -v l="$line" 'BEGIN {
    while (length(s) < n) s = s l "\n"
    printf "%s", substr(s, 1, n)
  }'
}
json_file() { # bytes: one JSON object, its "pad" string filling it out
  awk -v n="$1" -v l="$line " 'BEGIN {
    head = "{\"id\": 7, \"ok\": true, \"pad\": \""
    tail = "\"}\n"
    while (length(s) < n) s = s l
    printf "%s%s%s", head, substr(s, 1, n - length(head) - length(tail)), tail
  }'
}
case "$payload" in
text)
  text_file 1024 >"$WORK/www/1k.txt"
  text_file 102400 >"$WORK/www/100k.txt"
  ;;
binary)
  head -c 1024 /dev/urandom >"$WORK/www/1k.txt"
  head -c 102400 /dev/urandom >"$WORK/www/100k.txt"
  ;;
json)
  json_file 1024 >"$WORK/www/1k.txt"
  json_file 102400 >"$WORK/www/100k.txt"
  ;;
*) echo "run.sh: --payload is text, binary or json" >&2; exit 2 ;;
esac
chmod -R a+rX "$WORK/www" # readable by nginx's workers whatever the umask

free_port() {
  "$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# worker_processes 1: the machine this is written for has 2 cores, and each
# client measured here is single-threaded (wrk aside), so one core serves
# and one runs the client; two workers would only make them fight.
# keepalive_requests is raised so no client is made to reconnect midway
# (nginx's default is 1000 per connection; wrk would pass that).
# worker_connections and worker_rlimit_nofile leave room for 1,000 clients
# at once and more (d, e), so the limit measured there is the client's.
write_conf() {
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type text/plain;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  gzip off;
  client_body_temp_path $WORK/nginx/body;
  proxy_temp_path $WORK/nginx/proxy;
  fastcgi_temp_path $WORK/nginx/fastcgi;
  uwsgi_temp_path $WORK/nginx/uwsgi;
  scgi_temp_path $WORK/nginx/scgi;
  upstream delay {
    server 127.0.0.1:$delay_port;
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$1 backlog=4096;
    root $WORK/www;
    location = /delay {
      proxy_pass http://delay;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
}

# A free port can be taken between asking and binding: try a few.
port=
for _ in 1 2 3 4 5; do
  p=$(free_port)
  write_conf "$p"
  "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" </dev/null \
    >"$WORK/nginx/logs/stdout" 2>&1 &
  nginx_pid=$!
  for _ in $(seq 50); do
    if curl -sf -o /dev/null "http://127.0.0.1:$p/1k.txt"; then
      port=$p
      break
    fi
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$port" ] && break
  kill -TERM "$nginx_pid" 2>/dev/null || true
  wait "$nginx_pid" 2>/dev/null || true
  nginx_pid=
done
if [ -z "$port" ]; then
  echo "run.sh: nginx did not start:" >&2
  cat "$WORK/nginx/logs/stdout" "$WORK/nginx/logs/error.log" >&2 || true
  exit 1
fi
base="http://127.0.0.1:$port"
for u in /1k.txt /100k.txt "/delay?ms=100"; do
  curl -sf -o /dev/null "$base$u" || { echo "run.sh: $base$u fails" >&2; exit 1; }
done
echo "nginx on $base (pid $nginx_pid), delay server pid $httpd_pid" >&2

# ---- inputs ----

# scenario -> "url_path requests concurrency"
declare -A spec=(
  [a]="/1k.txt 20000 64"
  [b]="/100k.txt 2000 16"
  [c]="/delay?ms=100 640 64"
  [d]="/1k.txt 10000 1000"
  [d64]="/1k.txt 10000 64"
  [e]="/1k.txt 100000 1000"
  [e64]="/1k.txt 100000 64"
)
declare -A title=(
  [a]="a: 20,000 GETs of 1 KiB at 64"
  [b]="b: 2,000 GETs of 100 KiB at 16"
  [c]="c: 640 GETs of a 100 ms URL at 64"
  [d]="d: 10,000 GETs of 1 KiB at 1,000"
  [d64]="d64: 10,000 GETs of 1 KiB at 64"
  [e]="e: 100,000 GETs of 1 KiB at 1,000"
  [e64]="e64: 100,000 GETs of 1 KiB at 64"
)
# --profile looks at one scenario: a, or the one --only names.
if [ "$profile" = 1 ]; then
  [ "$only_given" = 1 ] || only=a
  case "$only" in
  *" "*) echo "run.sh: --profile takes one scenario in --only" >&2; exit 2 ;;
  esac
  [ -n "${spec[$only]:-}" ] || { echo "run.sh: no scenario '$only'" >&2; exit 2; }
  prof_s=$only
fi
# d and e each bring their reference at 64, right after them.
only_in=$only
only=
for s in $only_in; do
  case " $only " in *" $s "*) continue ;; esac
  only+="$s "
  case "$profile$s" in
  0d | 0e) case " $only_in " in *" ${s}64 "*) ;; *) only+="${s}64 " ;; esac ;;
  esac
done
only=${only% }

# corun: one gather of N fetches, no save, so every result (status, bytes,
# timings, and a small text body) stays in memory until the run ends, as
# it would for a user; -q drops the summary table, so nothing is printed.
# With a fifth argument, each fetch also carries that (check and capture).
gen_job() { # scenario url n c [extra fields]
  awk -v url="$2" -v n="$3" -v c="$4" -v s="$1" -v x="${5:-}" 'BEGIN {
    printf "{\"corun\": 1, \"name\": \"fetch-bench-%s\", \"concurrency\": %d,\n", s, c
    printf "\"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
    for (i = 1; i <= n; i++)
      printf "{\"kind\": \"fetch\", \"url\": \"%s\"%s}%s\n", url, x == "" ? "" : ", " x, i < n ? "," : ""
    printf "]}]}\n"
  }'
}
# curl: the same N URLs in a config file, each with its own output, since
# -o applies to one URL only.
gen_curl() { # url n
  awk -v url="$1" -v n="$2" 'BEGIN {
    for (i = 1; i <= n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", url
  }'
}

for s in $only; do
  [ -n "${spec[$s]:-}" ] || { echo "run.sh: no scenario '$s'" >&2; exit 2; }
  read -r path n c <<<"${spec[$s]}"
  gen_job "$s" "$base$path" "$n" "$c" >"$WORK/job-$s.json"
  if [ "$checks" = 1 ]; then
    gen_job "$s" "$base$path" "$n" "$c" \
      '"expect": {"json": {"/ok": true}}, "capture": {"id": {"json": "/id"}}' \
      >"$WORK/job-$s-checks.json"
  fi
  gen_curl "$base$path" "$n" >"$WORK/curl-$s.cfg"
done

# ---- measuring ----

run_tool() { # tool scenario
  local tool=$1 s=$2 path n c rps
  read -r path n c <<<"${spec[$s]}"
  case "$tool" in
  corun) measure "$WORK/$s-corun.txt" "$CORUN" -q "$WORK/job-$s.json" ;;
  corun+checks)
    measure "$WORK/$s-corun+checks.txt" "$CORUN" -q "$WORK/job-$s-checks.json"
    ;;
  baseline)
    measure "$WORK/$s-baseline.txt" "$baseline" -q "$WORK/job-$s.json"
    ;;
  curl)
    # -s alone leaves curl 7.88's parallel progress meter on (on stderr):
    # --no-progress-meter turns it off, so curl does no work it need not.
    measure "$WORK/$s-curl.txt" curl --parallel --parallel-max "$c" -s \
      --no-progress-meter -f -K "$WORK/curl-$s.cfg"
    ;;
  aiohttp)
    measure "$WORK/$s-aiohttp.txt" "$PYTHON" "$here/aiohttp_get.py" \
      "$base$path" "$n" "$c"
    ;;
  floor)
    measure "$WORK/$s-floor.txt" "$WORK/floor" -e "${same[@]}" "$base$path" "$n" "$c"
    ;;
  floor-perform)
    measure "$WORK/$s-floor-perform.txt" "$WORK/floor" "${same[@]}" "$base$path" "$n" "$c"
    ;;
  wrk)
    # Two threads, C connections in all; its own count of requests/s. A
    # request is a timeout error to wrk after 2 s by default, which 1,000
    # connections on a busy 2-core machine can pass: 10 s.
    measure "$WORK/$s-wrk-raw.txt" wrk -c "$c" -t 2 -d "${wrk_secs}s" --timeout 10s \
      "$base$path"
    if grep -qE 'Non-2xx|Socket errors' "$WORK/stdout"; then
      echo "run.sh: wrk saw errors:" >&2
      cat "$WORK/stdout" >&2
      exit 1
    fi
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/stdout")
    # The wall and RSS of the process, with wrk's own rate in column 4.
    tail -n 1 "$WORK/$s-wrk-raw.txt" | awk -v r="$rps" '{print $0, r}' \
      >>"$WORK/$s-wrk.txt"
    ;;
  esac
}

# range FILE COLUMN: "min max"
range() {
  [ -s "$1" ] || { echo "nan nan"; return; }
  sort -g -k"$2","$2" "$1" | awk -v c="$2" 'NR == 1 {lo = $c} {hi = $c}
    END {print lo, hi}'
}

# The machine is shared (builds, test suites): wait for it to be quiet.
busy_runs=0
runs=0
wait_quiet() {
  local k b
  for ((k = 0; k < 120; k++)); do
    b=$(cpu_busy)
    [ "$b" -le "$busy_max" ] && return 0
    [ "$k" = 0 ] && echo "  waiting: CPUs ${b}% busy" >&2
  done
  busy_runs=$((busy_runs + 1))
}

# ---- --profile: where corun's time goes on one scenario ----

profile_one() {
  local s=$prof_s path n c prof="$WORK/build-prof" hz=2000 ev t us
  read -r path n c <<<"${spec[$s]}"
  # The Release build as benchmarked, plus debug info and frame pointers,
  # so perf can name corun's own (often inlined) functions. It is built
  # in the work directory: build-rel stays as the benchmark left it.
  cmake -S "$root" -B "$prof" -DCMAKE_BUILD_TYPE=Release -DCORUN_TESTS=OFF -DBUILD_TESTING=OFF \
    -DCMAKE_C_FLAGS="-g -fno-omit-frame-pointer" >/dev/null
  cmake --build "$prof" -j2 --target corun >/dev/null
  "$prof/corun" -q "$WORK/job-$s.json" # warm-up
  # Syscalls and page faults per request, corun beside curl --parallel:
  # each is a kernel entry, and a page fault costs microseconds on a VM.
  ev=page-faults
  for t in epoll_ctl epoll_wait poll ioctl sendto recvfrom rt_sigaction \
    openat write; do
    ev+=",syscalls:sys_enter_$t"
  done
  if ! perf stat -x, -e "$ev" -o /dev/null true 2>/dev/null; then
    ev=page-faults,task-clock # no tracepoints here: faults and CPU only
  fi
  wait_quiet
  perf stat -x, -e "$ev,task-clock" -o "$WORK/stat-corun.csv" \
    "$prof/corun" -q "$WORK/job-$s.json"
  wait_quiet
  perf stat -x, -e "$ev,task-clock" -o "$WORK/stat-curl.csv" \
    curl --parallel --parallel-max "$c" -s --no-progress-meter -f \
    -K "$WORK/curl-$s.cfg"
  echo "## corun profile, scenario ${title[$s]}"
  echo
  echo "- $(date -u +%Y-%m-%dT%H:%MZ); $(nproc) CPUs, $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); corun $(git -C "$root" describe --always --dirty 2>/dev/null), Release + -g -fno-omit-frame-pointer; $payload payload"
  echo
  echo "Per request (perf stat; task-clock = CPU time):"
  echo
  echo "| event | corun | curl --parallel |"
  echo "|---|---:|---:|"
  join -t, <(awk -F, -v n="$n" '$3 != "" {print $3 "," $1 / n}' \
    "$WORK/stat-corun.csv" | sort) \
    <(awk -F, -v n="$n" '$3 != "" {print $3 "," $1 / n}' \
      "$WORK/stat-curl.csv" | sort) |
    awk -F, '{
      e = $1; sub(/^syscalls:sys_enter_/, "", e)
      if (e == "task-clock") printf "| CPU (us) | %.1f | %.1f |\n", $2 * 1e3, $3 * 1e3
      else printf "| %s | %.2f | %.2f |\n", e, $2, $3
    }'
  echo
  # DWARF unwinding: the Debian libraries have no frame pointers.
  wait_quiet
  perf record -q -o "$WORK/perf.data" --call-graph dwarf,16384 -F "$hz" \
    -- "$prof/corun" -q "$WORK/job-$s.json" 2>/dev/null
  # Shares from perf record, microseconds from perf stat's CPU time: the
  # recording itself slows corun down.
  us=$(awk -F, -v n="$n" '$3 == "task-clock" {print $1 * 1e3 / n}' \
    "$WORK/stat-corun.csv")
  echo "Where corun's CPU time goes (perf record -F $hz, each sample put"
  echo "in the innermost bucket on its stack, see bench/fetch/perf_split.py;"
  echo "us/request = share x perf stat's CPU per request):"
  echo
  perf script -i "$WORK/perf.data" -F ip,sym,dso 2>/dev/null |
    "$PYTHON" "$here/perf_split.py" "$hz" "$n" ${us:+"$us"}
  echo
  echo "Hottest functions, self time:"
  echo
  echo '```'
  perf report -i "$WORK/perf.data" --no-children --sort dso,sym -g none \
    --stdio 2>/dev/null | awk '!/^#/ && NF && ++k <= 25' # no head: pipefail
  echo '```'
}

if [ "$profile" = 1 ]; then
  profile_one
  exit 0
fi

tools=(corun curl aiohttp wrk)
[ "$checks" = 1 ] && tools+=(corun+checks)
[ -n "$baseline" ] && tools+=(baseline)
if [ -n "$tools_only" ]; then
  for t in $tools_only; do
    case " ${tools[*]} floor floor-perform " in
    *" $t "*) ;;
    *) echo "run.sh: --tools: no tool '$t' here (${tools[*]})" >&2; exit 2 ;;
    esac
  done
  read -r -a tools <<<"$tools_only"
fi
has_tool() { case " ${tools[*]} " in *" $1 "*) return 0 ;; esac; return 1; }
if has_tool floor || has_tool floor-perform; then
  # shellcheck disable=SC2046
  gcc -O2 -o "$WORK/floor" "$root/bench/floor/floor.c" \
    $(pkg-config --cflags --libs libcurl)
  # What corun puts in every request besides the URL and Host.
  same=(-A "corun/$("$CORUN" --version | awk '{print $2; exit}')" -E "gzip, deflate, br, zstd")
fi
echo "corun fetch benchmark, $(date -u +%Y-%m-%dT%H:%MZ), $repeats repetitions" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# One untimed round first: nginx's page cache, curl's and Python's shared
# libraries and the kernel's socket state are then warm for every tool.
for s in $only; do
  for t in "${tools[@]}"; do
    [ "$t" = wrk ] && continue
    run_tool "$t" "$s"
  done
  rm -f "$WORK/$s-"*.txt
done

for ((i = 0; i < repeats; i++)); do
  for s in $only; do
    for ((k = 0; k < ${#tools[@]}; k++)); do
      t=${tools[(k + i) % ${#tools[@]}]}
      echo "rep $((i + 1))/$repeats scenario $s: $t" >&2
      wait_quiet
      runs=$((runs + 1))
      run_tool "$t" "$s"
    done
  done
done

# ---- report ----

fmt() { # awk format, value
  [ "$2" = nan ] && { echo "-"; return; }
  awk -v v="$2" -v f="$1" 'BEGIN {printf f, v}'
}

# ratio A B: A / B to two places, "nan" when either is missing.
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    if (a == "nan" || b == "nan" || a == "" || b == "" || b + 0 == 0) print "nan"
    else printf "%.2f\n", a / b
  }'
}
# paired SCENARIO FAST SLOW COLUMN: per repetition, SLOW's COLUMN over
# FAST's (for wall or CPU time: how many times FAST's rate), as "median
# min max" over the repetitions both ran; "nan nan nan" if either did not.
paired() {
  paired_files "$WORK/$1-$2.txt" "$WORK/$1-$3.txt" "$4"
}
# paired_files FAST_FILE SLOW_FILE COLUMN: the same for any two tools'
# samples (d against d64: one tool, two scenarios).
paired_files() {
  local a=$1 b=$2
  if [ ! -s "$a" ] || [ ! -s "$b" ]; then
    echo "nan nan nan"
    return
  fi
  paste -d' ' "$a" "$b" | awk -v c="$3" 'NF >= 6 && $c > 0 {
    print $(c + 3) / $c }' | sort -g | awk '{v[NR] = $1}
    END {
      if (NR == 0) { print "nan nan nan"; exit }
      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
      printf "%.2f %.2f %.2f\n", m, v[1], v[NR]
    }'
}
# pair_text SCENARIO FAST SLOW: "wall X (lo-hi), CPU Y (lo-hi)"
pair_text() {
  local pw pc
  read -r -a pw < <(paired "$1" "$2" "$3" 1)
  read -r -a pc < <(paired "$1" "$2" "$3" 3)
  echo "paired per repetition: wall ${pw[0]} (${pw[1]}-${pw[2]}), CPU ${pc[0]} (${pc[1]}-${pc[2]})"
}
verdict() { # value op limit: met, MISSED or "not measured"
  awk -v v="$1" -v o="$2" -v l="$3" 'BEGIN {
    if (v == "nan") print "not measured"
    else if ((o == ">=" && v + 0 >= l) || (o == "<=" && v + 0 <= l)) print "met"
    else print "MISSED"
  }'
}

rows=()
ratio_rows=()
verdicts=()
for s in $only; do
  read -r path n c <<<"${spec[$s]}"
  declare -A rps=() wall=() rss=()
  for t in "${tools[@]}"; do
    f="$WORK/$s-$t.txt"
    wall[$t]=$(median "$f" 1)
    rss[$t]=$(median "$f" 2)
    cpu=$(median "$f" 3)
    if [ "$t" = wrk ]; then
      rps[$t]=$(median "$f" 4)
      read -r lo hi < <(range "$f" 4)
      w="($(fmt '%.1f' "${wall[$t]}") s run)"
    else
      rps[$t]=$(awk -v n="$n" -v w="${wall[$t]}" 'BEGIN {print (w == "nan") ? "nan" : n / w}')
      # The slowest run gives the lowest rate.
      read -r hi lo < <(range "$f" 1 | awk -v n="$n" '{print n / $1, n / $2}')
      w="$(fmt '%.3f' "${wall[$t]}") s"
    fi
    rows+=("| ${title[$s]} | $t | $(fmt '%.0f' "${rps[$t]}") | $(fmt '%.0f' "$lo")-$(fmt '%.0f' "$hi") | $w | $(fmt '%.2f' "$cpu") s | $(fmt '%.1f' "$(awk -v k="${rss[$t]}" 'BEGIN {print k / 1024}')") MiB |")
  done
  rr=$(ratio "${rps[corun]:-nan}" "${rps[curl]:-nan}")
  mr=$(ratio "${rss[corun]:-nan}" "${rss[curl]:-nan}")
  ar=$(ratio "${rps[corun]:-nan}" "${rps[aiohttp]:-nan}")
  wr=$(ratio "${rps[corun]:-nan}" "${rps[wrk]:-nan}")
  ratio_rows+=("| ${title[$s]} | $(fmt '%s' "$rr") | $(fmt '%s' "$mr") | $(fmt '%s' "$ar") | $(fmt '%s' "$wr") |")
  if has_tool corun && has_tool curl; then
    case "$s" in
    a) verdicts+=("1 KiB: corun/curl req/s $rr (target >= 1.2): $(verdict "$rr" ">=" 1.2); $(pair_text "$s" corun curl)") ;;
    b) verdicts+=("100 KiB: corun/curl req/s $rr (target >= 1.0): $(verdict "$rr" ">=" 1.0); $(pair_text "$s" corun curl)") ;;
    esac
    verdicts+=("${title[$s]%%:*} peak RSS: corun/curl $mr (target <= 2.0): $(verdict "$mr" "<=" 2.0) ($(fmt '%.1f' "$(awk -v k="${rss[corun]}" 'BEGIN {print k / 1024}')") MiB against $(fmt '%.1f' "$(awk -v k="${rss[curl]}" 'BEGIN {print k / 1024}')") MiB)")
  fi
  if [ "$s" = c ] && has_tool corun; then
    verdicts+=("delayed: corun wall $(fmt '%.3f' "${wall[corun]}") s (target <= 1.1 s): $(awk -v w="${wall[corun]}" 'BEGIN {print (w <= 1.1) ? "met" : "MISSED"}')")
  fi
  if has_tool corun+checks && has_tool curl; then
    kr=$(ratio "${rps[corun+checks]}" "${rps[curl]}")
    verdicts+=("${title[$s]%%:*} with a json check and a capture per request: corun+checks/curl req/s $kr (target >= 1.5 on a): $(verdict "$kr" ">=" 1.5); $(pair_text "$s" corun+checks curl)")
  fi
  if has_tool corun+checks && has_tool corun; then
    kc=$(ratio "${rps[corun+checks]}" "${rps[corun]}")
    verdicts+=("${title[$s]%%:*} corun+checks/corun req/s $kc; $(pair_text "$s" corun+checks corun); peak RSS $(ratio "${rss[corun+checks]}" "${rss[corun]}")")
  fi
  case "$s" in
  d | e)
    # Same requests, n over wall: the rate at 1,000 over the rate at 64 is
    # the wall at 64 over the wall at 1,000.
    if has_tool corun && [ -s "$WORK/${s}64-corun.txt" ]; then
      w64=$(median "$WORK/${s}64-corun.txt" 1)
      cr=$(ratio "$w64" "${wall[corun]}")
      read -r -a pw < <(paired_files "$WORK/$s-corun.txt" "$WORK/${s}64-corun.txt" 1)
      read -r -a pc < <(paired_files "$WORK/$s-corun.txt" "$WORK/${s}64-corun.txt" 3)
      verdicts+=("$s: corun at 1,000 over corun at 64, req/s $cr (target >= 0.8): $(verdict "${pw[0]}" ">=" 0.8) on the paired figure; paired per repetition: wall ${pw[0]} (${pw[1]}-${pw[2]}), CPU ${pc[0]} (${pc[1]}-${pc[2]})")
    fi
    # The same for libcurl's floors: what libcurl itself keeps of its
    # rate at 1,000 (and corun's rate at 1,000 over theirs).
    for t in floor floor-perform; do
      if has_tool "$t" && [ -s "$WORK/${s}64-$t.txt" ]; then
        read -r -a pw < <(paired_files "$WORK/$s-$t.txt" "$WORK/${s}64-$t.txt" 1)
        verdicts+=("$s: $t at 1,000 over $t at 64, req/s $(ratio "$(median "$WORK/${s}64-$t.txt" 1)" "${wall[$t]}"); paired per repetition: wall ${pw[0]} (${pw[1]}-${pw[2]})")
        has_tool corun && verdicts+=("$s: corun/$t req/s $(ratio "${rps[corun]}" "${rps[$t]}"); $(pair_text "$s" corun "$t")")
      fi
    done
    if has_tool wrk && [ -s "$WORK/${s}64-wrk.txt" ]; then
      verdicts+=("$s: wrk -c 1000 over wrk -c 64, req/s $(ratio "${rps[wrk]}" "$(median "$WORK/${s}64-wrk.txt" 4)")")
    fi
    if has_tool corun && has_tool curl; then
      verdicts+=("$s: corun/curl --parallel-max 1000 req/s $rr; $(pair_text "$s" corun curl)")
    fi
    if has_tool corun && has_tool wrk; then
      verdicts+=("$s: corun/wrk -c 1000 req/s $wr")
    fi
    ;;
  esac
  if has_tool baseline && has_tool corun; then
    verdicts+=("${title[$s]%%:*} corun/baseline req/s $(ratio "${rps[corun]}" "${rps[baseline]}"); $(pair_text "$s" corun baseline); peak RSS $(ratio "${rss[corun]}" "${rss[baseline]}") ($(fmt '%.1f' "$(awk -v k="${rss[corun]}" 'BEGIN {print k / 1024}')") MiB against $(fmt '%.1f' "$(awk -v k="${rss[baseline]}" 'BEGIN {print k / 1024}')") MiB)")
  fi
  unset rps wall rss
done

baseline_note=
[ -n "$baseline" ] && baseline_note="; baseline: \`$baseline -q JOB\` ($("$baseline" --version)), the same job"
checks_note=
[ "$checks" = 1 ] && checks_note='; corun+checks: the same job, each fetch with "expect": {"json": {"/ok": true}} and "capture": {"id": {"json": "/id"}}'
cpu_model=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cat <<EOF
## corun fetch benchmark

- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs, ${cpu_model:-unknown CPU}; $(uname -sr)
- corun: $("$CORUN" --version) (Release build of $(git -C "$root" describe --always --dirty 2>/dev/null || echo "an unknown tree")); $(curl --version | head -n 1 | cut -d' ' -f1-4); $("$NGINX" -v 2>&1 | sed 's/.*: //'); Python $("$PYTHON" -c 'import sys, aiohttp; print(sys.version.split()[0], "aiohttp", aiohttp.__version__)'); $(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)
- server: nginx on 127.0.0.1, worker_processes 1, worker_connections 4096, worker_rlimit_nofile 8192 (ulimit -n of the clients: $(ulimit -n)), keep-alive on (keepalive_requests 1000000), access_log off, sendfile; $payload files of 1024 and 102400 bytes; the 100 ms URL is nginx proxying (upstream keep-alive) to corun's test server's /delay?ms=100
- load average before the runs: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)
- medians of $repeats repetitions (range: slowest to fastest), tools interleaved (order rotated each repetition), after one untimed warm-up round; each run started once the CPUs were at most ${busy_max}% busy (waiting up to 60 s): $busy_runs of $runs runs started busier
- req/s = requests / wall time of the whole process (start to exit); wrk: its own Requests/sec over a ${wrk_secs} s run (-t 2 -c C --timeout 10s), the ceiling; CPU = user + system; peak RSS = GNU time's maximum resident set
- corun: \`corun -q JOB\`, one gather of N fetch tasks, "concurrency": C, no save: results (with bodies of at most 4 KiB of text) stay in memory until exit; curl: \`curl --parallel --parallel-max C -s --no-progress-meter -f -K CFG\` (N url/output=/dev/null pairs); aiohttp: bench/fetch/aiohttp_get.py (one ClientSession, TCPConnector(limit=C), gather of N gets, bodies read)${checks_note}${baseline_note}

| scenario | tool | req/s | req/s range | wall | CPU | peak RSS |
|---|---|---:|---:|---:|---:|---:|
$(printf '%s\n' "${rows[@]}")

| scenario | corun/curl req/s | corun/curl peak RSS | corun/aiohttp req/s | corun/wrk req/s |
|---|---:|---:|---:|---:|
$(printf '%s\n' "${ratio_rows[@]}")

Targets (issue 3; with --checks, issue 14; d and e, issue 16):
$(printf -- '- %s\n' "${verdicts[@]}")
EOF
