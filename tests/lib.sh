# shellcheck shell=bash
# SPDX-License-Identifier: MIT
#
# What the shell tests share; a test sources it after setting its own
# variables. It makes $work (a scratch directory, removed at exit with the
# test server if one was started), fail() (say what broke, mark the test
# failed in $bad) and start_server.

work=$(mktemp -d)
srv=
# shellcheck disable=SC2034 # read by the tests that source this
bad=0
# shellcheck disable=SC2317 # called by the trap
cleanup() {
  if [ -n "$srv" ]; then
    kill "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  bad=1
}

# start_server HTTPD [--fifo]: corun's test server on 127.0.0.1 and a port
# of its own choosing; sets srv (its pid) and port, or exits 1. With
# --fifo its standard input is a FIFO whose only writer is this shell (on
# fd 3): however the test ends, even by SIGKILL, the server sees end of
# file and exits (run corun with 3>&- so that it does not hold it).
start_server() {
  if [ "${2:-}" = --fifo ]; then
    mkfifo "$work/srv.in"
    "$1" <"$work/srv.in" >"$work/port" 2>"$work/httpd.err" &
    srv=$!
    exec 3>"$work/srv.in"
  else
    "$1" --ignore-stdin </dev/null >"$work/port" 2>"$work/httpd.err" &
    srv=$!
  fi
  for _ in $(seq 100); do
    grep -q '^PORT ' "$work/port" 2>/dev/null && break
    sleep 0.05
  done
  port=$(awk '/^PORT / {print $2; exit}' "$work/port")
  if [ -z "$port" ]; then
    echo "FAIL: the test server did not start"
    cat "$work/httpd.err"
    exit 1
  fi
}
