# SPDX-License-Identifier: MIT
#
# Helpers the benchmark scripts share; each run.sh sources this file.

# median FILE COLUMN: the median of a column of numbers ("nan" if none).
median() {
  [ -s "$1" ] || { echo nan; return; }
  sort -g -k"$2","$2" "$1" | awk -v c="$2" '{v[NR] = $c}
    END {if (NR % 2) print v[(NR + 1) / 2];
         else print (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}

# Percent of all CPUs busy over the next half second, from /proc/stat.
cpu_busy() {
  local a b
  a=$(awk '/^cpu / {print $2 + $3 + $4 + $6 + $7 + $8, $5}' /proc/stat)
  sleep 0.5
  b=$(awk '/^cpu / {print $2 + $3 + $4 + $6 + $7 + $8, $5}' /proc/stat)
  echo "$a $b" | awk '{busy = $3 - $1; idle = $4 - $2
    print (busy + idle > 0) ? int(100 * busy / (busy + idle)) : 0}'
}

# stop_pid PID: SIGTERM a process this script started, and reap it. By pid
# only: nothing else of the same name on the machine is touched.
stop_pid() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# drop_work KEEP: remove $WORK, unless KEEP is 1 (then say where it is).
drop_work() {
  if [ "$1" = 1 ]; then
    echo "work directory kept: $WORK" >&2
  else
    rm -rf "$WORK"
  fi
}

# measure OUTFILE CMD...: run CMD (GNU time as $GNU_TIME, files in $WORK)
# and append "wall_s peak_rss_kb cpu_s" to OUTFILE; the command's stdout is
# left in $WORK/stdout. Wall time from bash's clock around the process (GNU
# time's %e has only centiseconds); peak RSS from GNU time's %M (KiB). A
# failing command stops the benchmark: it must not be reported as a fast
# one.
measure() {
  local out=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  if ! "$GNU_TIME" -f "%M %U %S" -o "$WORK/rss" "$@" >"$WORK/stdout" \
    2>"$WORK/err"; then
    echo "run.sh: failed: $*" >&2
    head -c 2000 "$WORK/err" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  echo "$t0 $t1 $(tail -n 1 "$WORK/rss")" |
    awk '{printf "%.4f %d %.3f\n", $2 - $1, $3, $4 + $5}' >>"$out"
}

# start_httpd BIN: start corun's test server (tests/server/httpd.c, built
# as BIN) on 127.0.0.1 and a free port; sets httpd_pid and httpd_port, or
# exits. Stop it with stop_pid "$httpd_pid".
start_httpd() {
  # --ignore-stdin: its stdin here is /dev/null, which would end it at once.
  "$1" --port 0 --ignore-stdin </dev/null >"$WORK/httpd.out" \
    2>"$WORK/httpd.err" &
  httpd_pid=$!
  for _ in $(seq 100); do
    grep -q '^PORT ' "$WORK/httpd.out" 2>/dev/null && break
    sleep 0.05
  done
  httpd_port=$(awk '/^PORT / {print $2; exit}' "$WORK/httpd.out")
  if [ -z "$httpd_port" ]; then
    echo "run.sh: the test server did not start" >&2
    cat "$WORK/httpd.err" >&2
    exit 1
  fi
}
