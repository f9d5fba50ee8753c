#!/usr/bin/env bash
# Load check (issue 6): the CI-size version of bench/load/run.sh. Against
# corun-test-httpd on 127.0.0.1:
#   - one gather of 2,000 fetches at "concurrency": 200: the first 200 are
#     /delay?ms=1000, so all 200 must be in flight at once (the server must
#     have accepted at least 200 connections), then 1 KiB bodies with every
#     10th a /delay?ms=20;
#   - one gather of 20 gathers of 1,000 sleeps (every 5th of 1-4 ms, the
#     rest 0 s): 20,000 tasks.
# Each must exit 0, print nothing on stderr (-q), and its --report must
# count every task ok (gathers included) and none failed, timed out,
# cancelled or skipped; and peak RSS must stay under the bound (default
# 200 MB). Under AddressSanitizer (--asan, or found in the binary) the RSS
# bound is skipped: ASan's shadow memory and quarantine are not corun's.
# Peak RSS comes from GNU time when /usr/bin/time is there; otherwise
# from sampling /proc/PID/status's VmHWM every 10 ms (a lower bound).
# Usage: load_check.sh CORUN HTTPD [--asan] [--rss-max-mb N]
set -u
corun=$(realpath "$1")
httpd=$(realpath "$2")
shift 2
asan=0
rss_max_mb=200
while [ $# -gt 0 ]; do
  case "$1" in
  --asan) asan=1; shift ;;
  --rss-max-mb) rss_max_mb=$2; shift 2 ;;
  *) echo "load_check.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
grep -qa __asan_init "$corun" && asan=1

fetches=2000
conc=200
groups=20 # of 1,000 sleeps

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# Both corun and the server hold $conc sockets, plus a few other files.
# Where the hard limit is too low to raise the soft one, a lower
# concurrency is used (and said).
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt $((conc + 256)) ]; then
  if ! ulimit -Sn $((conc + 256)) 2>/dev/null; then
    ulimit -Sn "$(ulimit -Hn)"
    conc=$(($(ulimit -Sn) - 256))
    [ "$conc" -ge 50 ] || { echo "FAIL: ulimit -n $(ulimit -Hn) is too low"; exit 1; }
    echo "note: hard ulimit -n is $(ulimit -Hn): concurrency lowered to $conc"
  fi
fi

# The server ends with this script, even one killed by SIGKILL (lib.sh);
# corun runs with fd 3 closed, so it does not hold the FIFO open.
start_server "$httpd" --fifo
base="http://127.0.0.1:$port"

# The server's count of accepted connections, asked through corun; the
# asking adds one.
echo "{\"tasks\": [{\"kind\": \"fetch\", \"url\": \"$base/conns\"}]}" > "$work/conns.json"
server_conns() {
  "$corun" -q --report - "$work/conns.json" 3>&- |
    sed -n 's/.*"body": *"\([0-9]*\)".*/\1/p' | head -n 1
}

awk -v base="$base" -v n=$fetches -v c=$conc 'BEGIN {
  printf "{\"corun\": 1, \"name\": \"load-fetch\", \"concurrency\": %d,\n", c
  printf "\"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
  for (i = 1; i <= n; i++) {
    u = (i <= c) ? "/delay?ms=1000" : (i % 10 == 0) ? "/delay?ms=20" : "/bytes?n=1024"
    printf "{\"kind\": \"fetch\", \"url\": \"%s%s\"}%s\n", base, u, i < n ? "," : ""
  }
  printf "]}]}\n"
}' > "$work/fetch.json"
awk -v g=$groups 'BEGIN {
  printf "{\"corun\": 1, \"name\": \"load-tasks\",\n"
  printf "\"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
  for (j = 1; j <= g; j++) {
    printf "{\"kind\": \"gather\", \"tasks\": [\n"
    for (i = 1; i <= 1000; i++) {
      s = (i % 5) ? "0" : "\"" (i % 4 + 1) "ms\""
      printf "{\"kind\": \"sleep\", \"seconds\": %s}%s\n", s, i < 1000 ? "," : ""
    }
    printf "]}%s\n", j < g ? "," : ""
  }
  printf "]}]}\n"
}' > "$work/tasks.json"

gnu_time=
if [ -x /usr/bin/time ] && /usr/bin/time -f %M -o /dev/null true 2>/dev/null; then
  gnu_time=/usr/bin/time
fi

# run_job NAME JOB TOTAL: runs corun on JOB with --report and checks it.
run_job() {
  local name=$1 job=$2 total=$3 rc pid k v rss=0 t0 t1 s want
  rm -f "$work/report.json"
  t0=$EPOCHREALTIME
  if [ -n "$gnu_time" ]; then
    "$gnu_time" -f %M -o "$work/rss" "$corun" -q --timeout 60 \
      --report "$work/report.json" "$job" > "$work/out" 2> "$work/err" 3>&-
    rc=$?
    rss=$(tail -n 1 "$work/rss")
  else
    "$corun" -q --timeout 60 --report "$work/report.json" "$job" \
      > "$work/out" 2> "$work/err" 3>&- &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
      while read -r k v _; do
        [ "$k" = VmHWM: ] && [ "$v" -gt "$rss" ] && rss=$v
      done 2>/dev/null < "/proc/$pid/status"
      sleep 0.01
    done
    wait "$pid"
    rc=$?
  fi
  t1=$EPOCHREALTIME
  echo "$name: exit $rc, $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}') s, peak RSS $((rss / 1024)) MiB"
  [ "$rc" = 0 ] || fail "$name: exit $rc (want 0)"
  if [ -s "$work/err" ]; then
    fail "$name: corun -q wrote on stderr:"
    head -n 20 "$work/err" | sed 's/^/  /'
  fi
  s=$(grep -o '"summary": *{[^}]*}' "$work/report.json" 2>/dev/null | head -n 1 | tr -d ' ')
  want="\"summary\":{\"ok\":$total,\"failed\":0,\"timeout\":0,\"cancelled\":0,\"skipped\":0}"
  if [ "$s" != "$want" ]; then
    fail "$name: report ${s:-missing} (want $want)"
    grep -o '"error": {"type": "[a-z_]*", "message": "[^"]*' "$work/report.json" 2>/dev/null |
      sort | uniq -c | sort -rn | head -n 5 | sed 's/^/  /'
  fi
  if [ "$asan" = 1 ]; then
    echo "$name: peak RSS bound skipped (AddressSanitizer)"
  elif [ "$rss" -gt $((rss_max_mb * 1000 * 1000 / 1024)) ]; then
    fail "$name: peak RSS $rss KiB, over $rss_max_mb MB"
  fi
}

c0=$(server_conns)
run_job "$fetches fetches at $conc" "$work/fetch.json" $((fetches + 1))
c1=$(server_conns)
if [ -z "$c0" ] || [ -z "$c1" ]; then
  fail "could not read the server's connection count"
else
  conns=$((c1 - c0 - 1))
  echo "server accepted $conns connections"
  [ "$conns" -ge "$conc" ] || fail "only $conns connections: $conc were never in flight at once"
fi
run_job "$((groups * 1000)) sleeps in $groups gathers" "$work/tasks.json" $((groups * 1000 + groups + 1))

[ "$bad" = 0 ] && echo "ok: load"
exit "$bad"
