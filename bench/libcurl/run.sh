#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# A faster libcurl, weighed (issue 16, item 2): the same corun binary on
# Debian 12's libcurl (7.88) and on bookworm-backports' (8.14, Debian 13's),
# side by side. corun loads libcurl when a job first fetches
# (lib/util/libcurl.c), so the newer one is only unpacked into the work
# directory and found through LD_LIBRARY_PATH: nothing is installed.
#
# Workloads (nginx on 127.0.0.1, one worker, keep-alive, a 1 KiB file):
#   h1  20,000 GETs at 64, HTTP/1.1
#   h2  20,000 GETs at 64, HTTPS with HTTP/2 (a self-signed certificate,
#       given to corun as "ca")
# Reported: requests/s of the whole process, CPU and peak RSS, medians of
# -r repetitions, the two libcurls taking turns (order rotated each
# repetition), and the median of the per-repetition ratios.
#
# Usage: bench/libcurl/run.sh [-r REPEATS] [-n REQUESTS] [--no-build]
# Needs: nginx (nginx-light), openssl, GNU time, apt-get (to download the
# backports package; the system's package lists are not touched).
set -euo pipefail

repeats=7
n=20000
build=1
while [ $# -gt 0 ]; do
  case $1 in
  -r) repeats=$2; shift 2 ;;
  -n) n=$2; shift 2 ;;
  --no-build) build=0; shift ;;
  -h | --help) sed -n '4,20p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib.sh
. "$root/bench/lib.sh"
CORUN=${CORUN:-$root/build-rel/corun}
GNU_TIME=${GNU_TIME:-/usr/bin/time}
need_tools nginx openssl apt-get dpkg "$GNU_TIME"
if [ "$build" = 1 ]; then
  build_release "$root" "$root/build-rel"
fi

WORK=$(mktemp -d /tmp/corun-libcurl.XXXXXX)
nginx_pid=
cleanup() { stop_pid "$nginx_pid"; rm -rf "$WORK"; }
trap cleanup EXIT

# ---- the newer libcurl, unpacked here only ----
apt_opts=(-o "Dir::Etc::sourcelist=$WORK/sources.list" -o Dir::Etc::sourceparts=-
  -o "Dir::State::Lists=$WORK/lists" -o APT::Get::List-Cleanup=0
  -o "Dir::Cache::archives=$WORK/archives")
mkdir -p "$WORK/lists/partial" "$WORK/archives/partial" "$WORK/bpo"
echo "deb http://deb.debian.org/debian bookworm-backports main" >"$WORK/sources.list"
apt-get -qq "${apt_opts[@]}" update >/dev/null
ver=$(apt-cache "${apt_opts[@]}" policy libcurl4 | awk '/Candidate:/ {print $2}')
case $ver in *bpo*) ;; *) echo "run.sh: no backports libcurl4 (candidate '$ver')" >&2; exit 1 ;; esac
(cd "$WORK" && apt-get -qq "${apt_opts[@]}" download "libcurl4=$ver" >/dev/null 2>&1)
dpkg -x "$WORK"/libcurl4_*.deb "$WORK/bpo"
newlib=$(dirname "$(find "$WORK/bpo" -name 'libcurl.so.4' | head -1)")
new_version=$(LD_LIBRARY_PATH=$newlib "$CORUN" --version | sed 's/.*libcurl \([^,]*\),.*/\1/')
old_version=$("$CORUN" --version | sed 's/.*libcurl \([^,]*\),.*/\1/')

# ---- nginx: plain and TLS with HTTP/2 ----
start_nginx
gen_fetch_job "http://127.0.0.1:$ngx_h1/f.txt" "$n" "" >"$WORK/h1.json"
gen_fetch_job "https://127.0.0.1:$ngx_h2/f.txt" "$n" \
  ", \"ca\": \"$WORK/cert.pem\", \"http_version\": \"2\"" >"$WORK/h2.json"
# One request of each, to fail loudly before timing anything.
for lib in old new; do
  for s in h1 h2; do
    if [ $lib = new ]; then export LD_LIBRARY_PATH=$newlib; else unset LD_LIBRARY_PATH; fi
    "$CORUN" -q "$WORK/$s.json" || { echo "run.sh: $s with the $lib libcurl failed" >&2; exit 1; }
  done
done
unset LD_LIBRARY_PATH

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for ((r = 0; r < repeats; r++)); do
  for s in h1 h2; do
    order=(old new)
    [ $((r % 2)) = 1 ] && order=(new old)
    for lib in "${order[@]}"; do
      if [ $lib = new ]; then
        LD_LIBRARY_PATH=$newlib measure "$WORK/$s-$lib.txt" "$CORUN" -q "$WORK/$s.json"
      else
        measure "$WORK/$s-$lib.txt" "$CORUN" -q "$WORK/$s.json"
      fi
    done
    # This repetition's pair: new/old requests/s is old wall / new wall.
    paste <(tail -n 1 "$WORK/$s-old.txt") <(tail -n 1 "$WORK/$s-new.txt") |
      awk '{printf "%.4f %.4f\n", $1 / $4, $3 / $6}' >>"$WORK/$s-pair.txt"
  done
  echo "repetition $((r + 1))/$repeats done" >&2
done

echo "## corun on libcurl $old_version and $new_version"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs; $(uname -sr); $(nginx -v 2>&1)"
echo "- corun: $("$CORUN" --version) ($CORUN); newer libcurl: Debian package libcurl4 $ver, unpacked only"
echo "- load average before: $load_before; after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- $n GETs of 1 KiB at concurrency 64, medians of $repeats repetitions"
echo
echo "| workload | libcurl | req/s | CPU | peak RSS |"
echo "|---|---|---:|---:|---:|"
for s in h1 h2; do
  for lib in old new; do
    v=$old_version
    [ $lib = new ] && v=$new_version
    w=$(median "$WORK/$s-$lib.txt" 1)
    printf '| %s | %s | %.0f | %.2f s | %.1f MiB |\n' "$s" "$v" \
      "$(awk -v n="$n" -v w="$w" 'BEGIN {print n / w}')" \
      "$(median "$WORK/$s-$lib.txt" 3)" \
      "$(awk -v k="$(median "$WORK/$s-$lib.txt" 2)" 'BEGIN {print k / 1024}')"
  done
done
echo
for s in h1 h2; do
  echo "- $s: $new_version/$old_version requests/s, median of the pairs: $(median "$WORK/$s-pair.txt" 1); CPU $old_version/$new_version: $(median "$WORK/$s-pair.txt" 2)"
done
