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

# need_tools TOOL...: exit, naming the first TOOL missing, unless each is a
# command on PATH or an executable path (GNU time as /usr/bin/time, say).
need_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || [ -x "$t" ] ||
      { echo "run.sh: needs $t" >&2; exit 1; }
  done
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

# start_nginx: nginx on 127.0.0.1 serving $WORK/www/f.txt (1 KiB) with one
# worker and keep-alive, plainly on $ngx_h1 and with TLS and HTTP/2 on
# $ngx_h2 (a self-signed certificate for 127.0.0.1 in $WORK/cert.pem);
# sets nginx_pid, or exits. Stop it with stop_pid "$nginx_pid". Needs
# nginx, openssl and curl.
start_nginx() {
  local port_of='import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'

  mkdir -p "$WORK/www" "$WORK/ngx"
  head -c 1024 /dev/zero | tr '\0' 'x' >"$WORK/www/f.txt"
  # nginx's workers run as another user: they must reach the file.
  chmod 755 "$WORK" "$WORK/www"
  chmod 644 "$WORK/www/f.txt"
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" 2>/dev/null
  ngx_h1=$(python3 -c "$port_of")
  ngx_h2=$(python3 -c "$port_of")
  cat >"$WORK/ngx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/ngx/nginx.pid;
error_log $WORK/ngx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  http2_max_requests 1000000;
  client_body_temp_path $WORK/ngx; proxy_temp_path $WORK/ngx;
  fastcgi_temp_path $WORK/ngx; uwsgi_temp_path $WORK/ngx; scgi_temp_path $WORK/ngx;
  server { listen 127.0.0.1:$ngx_h1; root $WORK/www; }
  server {
    listen 127.0.0.1:$ngx_h2 ssl http2;
    ssl_certificate $WORK/cert.pem;
    ssl_certificate_key $WORK/key.pem;
    root $WORK/www;
  }
}
NGX
  nginx -c "$WORK/ngx/nginx.conf" -p "$WORK/ngx" &
  nginx_pid=$!
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$ngx_h1/f.txt" && return 0
    sleep 0.05
  done
  echo "run.sh: nginx did not start" >&2
  cat "$WORK/ngx/error.log" >&2
  exit 1
}

# gen_fetch_job URL N EXTRA: a job of one gather of N fetches of URL at
# concurrency 64, each with EXTRA (", \"field\": ..." or "").
gen_fetch_job() {
  awk -v url="$1" -v n="$2" -v x="$3" 'BEGIN {
    printf "{\"corun\": 1, \"concurrency\": 64, \"tasks\": [{\"id\": \"all\", \"kind\": \"gather\", \"tasks\": [\n"
    for (i = 1; i <= n; i++)
      printf "{\"kind\": \"fetch\", \"url\": \"%s\"%s}%s\n", url, x, i < n ? "," : ""
    printf "]}]}\n"
  }'
}

# build_release SRC DIR: corun built from SRC into DIR, Release, without
# its tests (what the benchmarks time).
build_release() {
  cmake -S "$1" -B "$2" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$2" -j2 --target corun >/dev/null
}
