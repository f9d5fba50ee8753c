#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# corun merge at scale: N shard reports of T tasks each (default 10 of
# 100,000), made up as a --shard run writes them (roots dealt round-robin,
# each a gather of 98 sleeps and an exec, one failing sleep per shard, and
# a pipeline split by item in every shard), merged into a JSON report
# alone and then with JUnit, HTML and the trace too. Prints wall time and
# peak RSS of each (GNU time), and checks the merged report's task count.
#
# Usage: bench/merge/run.sh [-n SHARDS] [-t TASKS] [--corun PATH] [--keep]
# Needs: python3, GNU time (/usr/bin/time, Debian package "time").
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
shards=10
tasks=100000
corun="$here/../../build/corun"
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
  -n) shards="$2"; shift 2 ;;
  -t) tasks="$2"; shift 2 ;;
  --corun) corun="$2"; shift 2 ;;
  --keep) keep=1; shift ;;
  *) echo "usage: $0 [-n SHARDS] [-t TASKS] [--corun PATH] [--keep]" >&2
     exit 2 ;;
  esac
done
[ -x "$corun" ] || { echo "no corun at $corun (build first)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (/usr/bin/time)" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'drop_work $keep' EXIT

python3 - "$WORK" "$shards" "$tasks" <<'PY'
import json, sys
work, n, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
roots = (per - 1) // 100  # each root: a gather of 98 sleeps and an exec
def t(id, kind, parent, status="ok", result=None, error=None, s=0.001, e=0.004):
    return {"id": id, "kind": kind, "parent": parent, "status": status,
            "queued": 0.0, "start": s, "end": e, "duration": round(e - s, 3),
            "attempts": 1, "result": result, "error": error}
for k in range(1, n + 1):
    out = open("%s/shard%d.json" % (work, k), "w")
    positions = [0] + [1 + k - 1 + n * j for j in range(roots)]
    out.write('{"corun": 1, "job": "bench", "status": "failed", "exit_code": 1,\n'
              ' "started_at": "2026-12-05T10:00:0%d.000Z", "duration": 12.5,\n'
              ' "summary": {}, "shard": %s,\n "tasks": [\n  ' %
              (k % 10, json.dumps({"index": k, "total": n,
                                   "job_hash": "0f" * 32, "roots": positions})))
    ex = [1000000 * (k + i) for i in range(200)]
    first = [t("items", "pipeline", None, result={
        "items": 200, "ok": 200, "failed": 0, "cancelled": 0, "stages": [
            {"processed": 200, "failed": 0, "queue_max": 2, "p50": 0.1,
             "p90": 0.2, "p99": 0.3, "items_per_s": 100.0,
             "hist": {"n": 200, "exact": ex}}]})]
    out.write(json.dumps(first[0]))
    for j in range(roots):
        g = "g%d" % positions[j + 1]
        out.write(",\n  " + json.dumps(t(g, "gather", None)))
        for c in range(1, 99):
            bad = j == 0 and c == 1
            out.write(",\n  " + json.dumps(t(
                "%s.%d" % (g, c), "sleep", g,
                status="failed" if bad else "ok",
                error={"type": "fail", "message": "boom"} if bad else None,
                result=None if bad else "slept %d" % c)))
        out.write(",\n  " + json.dumps(t("%s.x" % g, "exec", g, result={
            "exit_code": 0, "signal": None, "stdout": "built %s\n" % g,
            "stderr": "", "truncated": False})))
    out.write("\n ]}\n")
PY

total=$(( (1 + (tasks - 1) / 100 * 100) * shards - (shards - 1) ))
echo "## corun merge: $shards reports of $tasks tasks"
echo
echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); host: $(nproc) CPUs; $("$corun" --version)"
echo "- reports: $(du -ch "$WORK"/shard*.json | tail -1 | cut -f1) in all; merged: $total tasks"
echo
echo "| outputs | wall | peak RSS | exit |"
echo "|---|---:|---:|---:|"
run() {
  local label="$1" rc
  shift
  set +e
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$corun" merge "$@" "$WORK"/shard*.json
  rc=$?
  set -e
  read -r wall rss < <(tail -1 "$WORK/time")
  printf '| %s | %s s | %.1f MB | %s |\n' "$label" "$wall" \
    "$(echo "$rss" | awk '{print $1 / 1024}')" "$rc"
}
run "--report" --report "$WORK/merged.json"
run "--report --junit --html --trace" --report "$WORK/merged.json" \
  --junit "$WORK/merged.xml" --html "$WORK/merged.html" \
  --trace "$WORK/merged.trace"
got=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["tasks"]))' "$WORK/merged.json")
[ "$got" = "$total" ] || { echo "merged report holds $got tasks, not $total" >&2; exit 1; }
