#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# corun's --trace read by @tracerbench/trace-model, a real consumer of the
# Chrome trace format (tests/trace_model.mjs says what is checked).
#
#   trace_model_check.sh CORUN BUILD_DIR SRC_DIR
set -euo pipefail
corun=$1 build=$2 src=$3
npm_dir=$build/npm
bash "$src/tests/npm_tools.sh" "$npm_dir" @tracerbench/trace-model@8.0.0 ||
  exit $?
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/job.json" <<'JOB'
{"name": "model", "tasks": [
  {"id": "g", "kind": "gather", "tasks": [
    {"id": "a", "kind": "sleep", "seconds": 0.05},
    {"id": "w", "kind": "wait", "tasks": [
      {"id": "b", "kind": "exec", "argv": ["true"]},
      {"id": "c", "kind": "sleep", "seconds": 0.02}]}]},
  {"id": "p", "kind": "pipeline", "source": {"range": [0, 20]},
   "stages": [{"workers": 2, "task": {"kind": "sleep", "seconds": 0.01}}]},
  {"id": "late", "kind": "sleep", "seconds": 0.01, "after": ["g"]},
  {"id": "bad", "kind": "exec", "shell": "exit 3"}
]}
JOB
cat >"$tmp/expect.json" <<'JSON'
{"process": "corun model", "tasks": {
  "g": [], "a": ["g"], "w": ["g"], "b": ["w", "g"], "c": ["w", "g"],
  "p": [], "late": [], "bad": []}}
JSON
status=0
"$corun" -q --trace "$tmp/trace.json" "$tmp/job.json" || status=$?
[ "$status" = 1 ] || { echo "corun exited $status, not 1" >&2; exit 1; }
CORUN_NPM_DIR=$npm_dir/node_modules node "$src/tests/trace_model.mjs" \
  "$tmp/trace.json" "$tmp/expect.json"
