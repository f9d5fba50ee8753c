#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# libcurl's floor (issue 16, item 1): corun beside bench/floor/floor.c, a
# minimal program that drives libcurl's multi interface with the same
# transfers and nothing else (handles reused, bodies discarded), and beside
# curl --parallel and wrk (HTTP/1.1 only), on one nginx (bench/lib.sh's
# start_nginx: one worker, keep-alive, a 1 KiB file).
#
# Two floors: "floor" waits with curl_multi_poll and runs every transfer
# with curl_multi_perform (the fewest instructions at 64 at once);
# "floor-ev" is event-driven as corun is (epoll and
# curl_multi_socket_action: only the ready sockets' transfers run each
# time, which is what scales to 1,000 at once; see bench/fetch's d and e).
#
# "floor-t" is the floor tuned (floor.c -t): libcurl given the request
# the way corun gives it, the URL parsed and the User-Agent and
# Accept-Encoding as request headers, which spares libcurl 7.88 printing
# them at every transfer, and "no proxy" said once, which spares it
# looking for its proxy variables at every transfer. That is the lowest a libcurl-based tool gets
# here, so corun against floor-t is what corun itself adds.
# "floor-ev-t" is both: tuned, and event-driven as corun is. It is the
# floor for a tool that must also serve 1,000 connections and slow
# servers, where curl_multi_perform's visit to every transfer at every
# wake-up (a poll() of each idle socket) does not scale; what the event
# API costs libcurl 7.88 itself (its socket hash, entries made and freed
# at every transfer) is the gap between floor-t and floor-ev-t.
#
# Workloads: h1, N GETs at 64 over HTTP/1.1; h2, N GETs at 64 over HTTPS
# with HTTP/2. The floor sends the request corun sends, byte for byte
# (its User-Agent and Accept-Encoding headers: -A and -E of floor.c).
# wrk runs in the same rotation on h1, for 3 s each time, with one thread
# (one event loop, as corun and the floor have) and with two. The tools take turns (order rotated each repetition);
# reported: requests/s of the whole process, CPU, peak RSS (medians), and
# per repetition the ratio of corun's time to the floor's (the issue's
# target: at most 1.10), corun's rate to wrk's (at least 0.8 on h1) and
# corun's peak RSS to curl's (at most 1.5).
# --instructions also runs corun and the floors under callgrind, in turn,
# three times each (-i K: K times), and gives the median of the ratios of
# their instructions (user space) run by run: steadier than the times on a
# machine whose speed comes and goes, though libcurl's walks over its
# connections still move one run's count by about half a percent.
#
# Usage: bench/floor/run.sh [-r REPEATS] [-n REQUESTS] [--instructions]
#          [-i RUNS] [--no-build]
# Needs: nginx, openssl, curl, wrk (optional), GNU time, gcc, libcurl's
# headers; valgrind for --instructions.
set -euo pipefail

repeats=7
n=20000
build=1
instructions=0
iruns=3
while [ $# -gt 0 ]; do
  case $1 in
  -r) repeats=$2; shift 2 ;;
  -n) n=$2; shift 2 ;;
  --instructions) instructions=1; shift ;;
  -i) instructions=1; iruns=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  -h | --help) sed -n '4,46p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
CORUN=${CORUN:-$root/build-rel/corun}
GNU_TIME=${GNU_TIME:-/usr/bin/time}
need_tools nginx openssl curl gcc "$GNU_TIME"
[ "$instructions" = 0 ] || need_tools valgrind
if [ "$build" = 1 ]; then
  build_release "$root" "$root/build-rel"
fi

WORK=$(mktemp -d /tmp/corun-floor.XXXXXX)
nginx_pid=
cleanup() { stop_pid "$nginx_pid"; rm -rf "$WORK"; }
trap cleanup EXIT
# shellcheck disable=SC2046
gcc -O2 -o "$WORK/floor" "$root/bench/floor/floor.c" \
  $(pkg-config --cflags --libs libcurl)
start_nginx
u1="http://127.0.0.1:$ngx_h1/f.txt"
u2="https://127.0.0.1:$ngx_h2/f.txt"
gen_fetch_job "$u1" "$n" "" >"$WORK/h1.json"
gen_fetch_job "$u2" "$n" ", \"ca\": \"$WORK/cert.pem\", \"http_version\": \"2\"" \
  >"$WORK/h2.json"
awk -v u="$u1" -v n="$n" 'BEGIN {for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u}' >"$WORK/h1.cfg"
awk -v u="$u2" -v n="$n" 'BEGIN {for (i = 0; i < n; i++) printf "url = \"%s\"\noutput = \"/dev/null\"\n", u}' >"$WORK/h2.cfg"

run_tool() { # tool workload
  local mode=()
  [ "$1" = floor-ev ] && mode=(-e)
  [ "$1" = floor-t ] && mode=(-t)
  [ "$1" = floor-ev-t ] && mode=(-e -t)
  local s=$2 out="$WORK/$2-$1.txt"
  case $1 in
  corun) measure "$out" "$CORUN" -q "$WORK/$s.json" ;;
  floor | floor-ev | floor-t | floor-ev-t)
    if [ "$s" = h1 ]; then measure "$out" "$WORK/floor" "${mode[@]}" "${same[@]}" "$u1" "$n" 64
    else measure "$out" "$WORK/floor" "${mode[@]}" "${same[@]}" "$u2" "$n" 64 "$WORK/cert.pem" 2; fi ;;
  curl)
    local extra=()
    [ "$s" = h2 ] && extra=(--cacert "$WORK/cert.pem" --http2)
    measure "$out" curl --parallel --parallel-max 64 -s -f "${extra[@]}" -K "$WORK/$s.cfg" ;;
  esac
}
# What corun puts in every request besides the URL and Host.
same=(-A "corun/$("$CORUN" --version | awk '{print $2; exit}')" -E "gzip, deflate, br, zstd")
# wrk_once THREADS: one 3 s wrk run on h1, its requests/s appended.
wrk_once() {
  wrk -t "$1" -c 64 -d 3 "$u1" >"$WORK/wrk.txt" 2>&1 || true
  awk '/Requests\/sec/ {print $2}' "$WORK/wrk.txt" >>"$WORK/wrk$1.txt"
}
have_wrk=0
command -v wrk >/dev/null && have_wrk=1
tools=(corun floor curl floor-ev floor-t floor-ev-t)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < repeats; r++)); do
  for s in h1 h2; do
    for ((k = 0; k < ${#tools[@]}; k++)); do
      run_tool "${tools[$(((k + r) % ${#tools[@]}))]}" "$s"
    done
    paste <(tail -n 1 "$WORK/$s-corun.txt") <(tail -n 1 "$WORK/$s-floor.txt") \
      <(tail -n 1 "$WORK/$s-curl.txt") <(tail -n 1 "$WORK/$s-floor-ev.txt") \
      <(tail -n 1 "$WORK/$s-floor-t.txt") <(tail -n 1 "$WORK/$s-floor-ev-t.txt") |
      awk '{printf "%.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f %.4f\n", $1 / $4, $3 / $6, $2 / $8, $1 / $10, $3 / $12, $1 / $13, $3 / $15, $1 / $16, $3 / $18}' >>"$WORK/$s-pair.txt"
    if [ "$s" = h1 ] && [ "$have_wrk" = 1 ]; then
      wrk_once 1
      wrk_once 2
      # corun's and the floors' rates over the two wrk runs that follow
      # them, pair by pair.
      echo "$n $(tail -n 1 "$WORK/h1-corun.txt" | cut -d' ' -f1) $(tail -n 1 "$WORK/wrk1.txt") $(tail -n 1 "$WORK/wrk2.txt") $(tail -n 1 "$WORK/h1-floor.txt" | cut -d' ' -f1) $(tail -n 1 "$WORK/h1-floor-t.txt" | cut -d' ' -f1) $(tail -n 1 "$WORK/h1-floor-ev-t.txt" | cut -d' ' -f1)" |
        awk '{printf "%.4f %.4f %.4f %.4f %.4f %.4f\n", $1 / $2 / $3, $1 / $2 / $4, $1 / $5 / $3, $1 / $5 / $4, $1 / $6 / $3, $1 / $7 / $3}' >>"$WORK/wrk-pair.txt"
    fi
  done
  echo "repetition $((r + 1))/$repeats done" >&2
done

echo "## corun and libcurl's floor"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs; $(uname -sr); $(nginx -v 2>&1)"
echo "- corun: $("$CORUN" --version) ($CORUN)"
echo "- load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $n GETs of 1 KiB at concurrency 64; medians of $repeats repetitions, tools interleaved"
echo
echo "| workload | tool | req/s | CPU | peak RSS |"
echo "|---|---|---:|---:|---:|"
for s in h1 h2; do
  for t in "${tools[@]}"; do
    w=$(median "$WORK/$s-$t.txt" 1)
    printf '| %s | %s | %.0f | %.2f s | %.1f MiB |\n' "$s" "$t" \
      "$(awk -v n="$n" -v w="$w" 'BEGIN {print n / w}')" \
      "$(median "$WORK/$s-$t.txt" 3)" \
      "$(awk -v k="$(median "$WORK/$s-$t.txt" 2)" 'BEGIN {print k / 1024}')"
  done
done
if [ "$have_wrk" = 1 ]; then
  printf '| h1 | wrk (-t 1 -c 64, 3 s) | %.0f | - | - |\n' "$(median "$WORK/wrk1.txt" 1)"
  printf '| h1 | wrk (-t 2 -c 64, 3 s) | %.0f | - | - |\n' "$(median "$WORK/wrk2.txt" 1)"
fi
echo
for s in h1 h2; do
  echo "- $s: corun's time / the floor's, median of the pairs: $(median "$WORK/$s-pair.txt" 1) (target <= 1.10); CPU $(median "$WORK/$s-pair.txt" 2); peak RSS corun/curl $(median "$WORK/$s-pair.txt" 3) (target <= 1.5); against floor-ev: time $(median "$WORK/$s-pair.txt" 4), CPU $(median "$WORK/$s-pair.txt" 5); against floor-t: time $(median "$WORK/$s-pair.txt" 6), CPU $(median "$WORK/$s-pair.txt" 7); against floor-ev-t: time $(median "$WORK/$s-pair.txt" 8), CPU $(median "$WORK/$s-pair.txt" 9)"
done
if [ "$have_wrk" = 1 ]; then
  echo "- h1: corun's requests/s / wrk's, median of the pairs: $(median "$WORK/wrk-pair.txt" 1) against wrk -t 1, $(median "$WORK/wrk-pair.txt" 2) against wrk -t 2 (target >= 0.8); the floor's: $(median "$WORK/wrk-pair.txt" 3) and $(median "$WORK/wrk-pair.txt" 4); against wrk -t 1, floor-t's $(median "$WORK/wrk-pair.txt" 5), floor-ev-t's $(median "$WORK/wrk-pair.txt" 6)"
fi

# The instructions of one run of each (callgrind's count, user space).
count_instructions() { # tool workload
  local out="$WORK/cg-$2-$1.log" mode=()
  [ "$1" = floor-ev ] && mode=(-e)
  [ "$1" = floor-t ] && mode=(-t)
  [ "$1" = floor-ev-t ] && mode=(-e -t)
  case $1 in
  corun) valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$CORUN" -q "$WORK/$2.json" 2>"$out" ;;
  floor | floor-ev | floor-t | floor-ev-t)
    if [ "$2" = h1 ]; then
      valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$WORK/floor" "${mode[@]}" "${same[@]}" "$u1" "$n" 64 2>"$out"
    else
      valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        "$WORK/floor" "${mode[@]}" "${same[@]}" "$u2" "$n" 64 "$WORK/cert.pem" 2 2>"$out"
    fi ;;
  esac
  awk '/I +refs:/ {gsub(",", "", $NF); print $NF}' "$out"
}
if [ "$instructions" = 1 ]; then
  for s in h1 h2; do
    for ((k = 0; k < iruns; k++)); do
      c=$(count_instructions corun "$s")
      f=$(count_instructions floor "$s")
      e=$(count_instructions floor-ev "$s")
      t=$(count_instructions floor-t "$s")
      u=$(count_instructions floor-ev-t "$s")
      echo "$c $f $e $t $u" >>"$WORK/cg-$s.txt"
      awk -v c="$c" -v f="$f" -v e="$e" -v t="$t" -v u="$u" 'BEGIN {printf "%.4f %.4f %.4f %.4f\n", c / f, c / e, c / t, c / u}' >>"$WORK/cg-$s-ratio.txt"
    done
    echo "- $s: instructions (callgrind, $iruns runs of each in turn; medians): corun $(median "$WORK/cg-$s.txt" 1), the floor $(median "$WORK/cg-$s.txt" 2), floor-ev $(median "$WORK/cg-$s.txt" 3), floor-t $(median "$WORK/cg-$s.txt" 4), floor-ev-t $(median "$WORK/cg-$s.txt" 5); corun / the floor, run by run: $(cut -d' ' -f1 "$WORK/cg-$s-ratio.txt" | tr '\n' ' ')-> median $(median "$WORK/cg-$s-ratio.txt" 1) (target <= 1.10); corun / floor-ev: median $(median "$WORK/cg-$s-ratio.txt" 2); corun / floor-t: $(cut -d' ' -f3 "$WORK/cg-$s-ratio.txt" | tr '\n' ' ')-> median $(median "$WORK/cg-$s-ratio.txt" 3); corun / floor-ev-t: $(cut -d' ' -f4 "$WORK/cg-$s-ratio.txt" | tr '\n' ' ')-> median $(median "$WORK/cg-$s-ratio.txt" 4)"
  done
fi
