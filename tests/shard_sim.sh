#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Sharding end to end: tests/fixtures/shard/sim.json (fetches against
# corun-test-httpd on 127.0.0.1, commands, sleeps, a gather, a race, "after"
# chains, a failure and a skip, and a pipeline with "shard": true writing a
# results file) runs once whole, then as N = 1, 2, 3 and 7 shards, each
# shard a separate corun started at the same time as the others with the
# variables a CI engine would set:
#   N=1  --shard 1/1
#   N=2  --shard auto, CORUN_SHARD=K/2
#   N=3  --shard auto, GitLab's CI_NODE_INDEX=K (1-based), CI_NODE_TOTAL=3
#   N=7  --shard auto, Kubernetes' JOB_COMPLETION_INDEX=K-1 (0-based),
#        CORUN_SHARD_TOTAL=7
# then "corun merge" joins the N reports. For each N (tests/shard_compare.py
# does the comparing):
#   - every shard exits 0 or 1 as its report says, and records shard K of N
#     with one job_hash; no task is in two shards' reports;
#   - the merge exits as the whole run did, and its report equals the whole
#     run's but for the times and the shard record; its JUnit has the same
#     test cases with the same outcomes;
#   - every task ran exactly once across the shards: each command appends a
#     line to one log, which must hold the whole run's lines; each fetch that
#     succeeds asks the server's /flaky?id=..., whose /count must have grown
#     by one;
#   - the shards' results files, joined in item order, are the whole run's,
#     and so is the one "corun merge --results" joins;
#   - a merge missing a shard, or given one twice, exits 2.
# The pipeline's stages have one worker and a queue of 1 each, the second
# much slower than the first, and every shard gets at least 3 items: each
# stage's queue_max is 1 in every shard as in the whole run, so the merged
# one can be compared. Items 5 and 13 fail, item 5 first: the whole run's
# message names it, and so must the merged one, whichever shards hold them.
# Until corun has --shard and merge, only the whole run (without "shard":
# true) and the comparator's self-test run, and the script exits 77 (a skip
# to ctest).
# Usage: shard_sim.sh CORUN HTTPD SRC_DIR
set -u
corun=$(realpath "$1")
httpd=$(realpath "$2")
src=$(realpath "$3")
job=$src/tests/fixtures/shard/sim.json
compare=(python3 -B "$src/tests/shard_compare.py")

# The engines' variables, whatever the environment running this test has
# (it may itself be a shard of a CI matrix).
unset CORUN_SHARD CI_NODE_INDEX CI_NODE_TOTAL CIRCLE_NODE_INDEX \
  CIRCLE_NODE_TOTAL BUILDKITE_PARALLEL_JOB BUILDKITE_PARALLEL_JOB_COUNT \
  JOB_COMPLETION_INDEX CORUN_SHARD_TOTAL GITHUB_ACTIONS CORUN_DEBUG

sharding=1
help=$("$corun" --help 2>&1)
if ! grep -q -- '--shard' <<<"$help" || ! grep -qw 'merge' <<<"$help"; then
  sharding=0
fi

# shellcheck source=tests/lib.sh
. "$src/tests/lib.sh"
# lib.sh's fail(), also counting, so that each N can say whether it failed.
failures=0
fail() {
  echo "FAIL: $*"
  bad=1
  failures=$((failures + 1))
}

"${compare[@]}" selftest || fail "the comparator's self-test"

start_server "$httpd"
base=http://127.0.0.1:$port

# The job as this corun can run it: without sharding, the pipeline's
# "shard" field is unknown to it.
if [ "$sharding" = 1 ]; then
  cp "$job" "$work/sim.json"
else
  python3 - "$job" "$work/sim.json" <<'EOF'
import json, sys
j = json.load(open(sys.argv[1]))
for t in j["tasks"]:
    t.pop("shard", None)
json.dump(j, open(sys.argv[2], "w"), indent=1)
EOF
fi

# Each run in a folder of its own with its own copy of the job, so that
# "results.jsonl" (relative to the job file) is the run's own.
rundir() {
  mkdir -p "$work/$1"
  cp "$work/sim.json" "$work/$1/sim.json"
  echo "$work/$1"
}

# served RUNS: every fetch that succeeds was asked for once per run so far.
flaky_ids="fetch-a checks-fetch"
for i in $(seq 0 20); do
  case $i in 5 | 13) ;; *) flaky_ids="$flaky_ids item-$i" ;; esac
done
served() {
  # shellcheck disable=SC2086 # one argument per id
  python3 - "$base" "$1" $flaky_ids <<'EOF'
import sys, urllib.request
base, want, ids = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
for i in ids:
    with urllib.request.urlopen(f"{base}/count?id={i}", timeout=10) as r:
        got = int(r.read().decode())
    if got != want:
        print(f"/flaky?id={i} was asked for {got} times, want {want}")
EOF
}

# --- the whole run ----------------------------------------------------------
whole=$(rundir whole)
"$corun" --var "base=$base" --var "log=$work/log-whole" \
  --report "$whole/report.json" --junit "$whole/junit.xml" "$whole/sim.json" \
  >"$whole/out" 2>"$whole/err"
whole_rc=$?
[ "$whole_rc" = 1 ] || { fail "whole run: exit $whole_rc (want 1: one fetch and two items fail)"; cat "$whole/err"; }
python3 - "$whole" "$work/log-whole" <<'EOF' || fail "whole run: the report, results or log is not what the job makes"
import json, sys
d, log = sys.argv[1], sys.argv[2]
r = json.load(open(f"{d}/report.json"))
bad = []
want = {"ok": 15, "failed": 2, "timeout": 0, "cancelled": 1, "skipped": 1}
if r["summary"] != want:
    bad.append(f"summary {r['summary']}, want {want}")
status = {t["id"]: t["status"] for t in r["tasks"]}
for tid, s in {"down": "failed", "after-down": "skipped", "race-slow": "cancelled",
               "items": "failed", "cleanup": "ok", "chain-3": "ok"}.items():
    if status.get(tid) != s:
        bad.append(f"{tid}: {status.get(tid)}, want {s}")
items = [t for t in r["tasks"] if t["id"] == "items"][0]["result"]
if (items["items"], items["ok"], items["failed"]) != (21, 19, 2):
    bad.append(f"items: {items}")
res = [json.loads(l) for l in open(f"{d}/results.jsonl")]
if sorted(x["index"] for x in res) != list(range(21)):
    bad.append("results.jsonl does not hold items 0 to 20 once each")
lines = sorted(open(log).read().split("\n")[:-1])
want_lines = sorted(["setup", "build", "checks-cmd", "race-fast", "chain-1", "chain-2",
                     "solo", "cleanup"] +
                    [f"item {i}" for i in range(21) if i not in (5, 13)])
if lines != want_lines:
    bad.append(f"log {lines}, want {want_lines}")
for b in bad:
    print(f"whole run: {b}")
sys.exit(1 if bad else 0)
EOF
out=$(served 1)
[ -z "$out" ] || fail "whole run: $out"

if [ "$sharding" = 0 ]; then
  [ "$bad" = 0 ] || exit 1
  echo "SKIP: $corun has no --shard or merge yet (the whole run and the comparator passed)"
  exit 77
fi

# --- N shards ---------------------------------------------------------------
# shard_env N K: the variables an engine running shard K of N sets, as
# NAME=VALUE words for env(1), and the --shard argument.
shard_args() {
  local n=$1 k=$2
  case $n in
  1) echo "--shard $k/$n" ;;
  2) echo "CORUN_SHARD=$k/$n --shard auto" ;;
  3) echo "CI_NODE_INDEX=$k CI_NODE_TOTAL=$n --shard auto" ;;
  7) echo "JOB_COMPLETION_INDEX=$((k - 1)) CORUN_SHARD_TOTAL=$n --shard auto" ;;
  esac
}

runs=1
for n in 1 2 3 7; do
  runs=$((runs + 1))
  before=$failures
  log=$work/log-$n
  pids=()
  reports=()
  results=()
  for k in $(seq "$n"); do
    d=$(rundir "n$n-k$k")
    read -r -a words <<<"$(shard_args "$n" "$k")"
    envs=()
    args=()
    for w in "${words[@]}"; do
      case $w in *=*) envs+=("$w") ;; *) args+=("$w") ;; esac
    done
    env "${envs[@]}" "$corun" "${args[@]}" --var "base=$base" --var "log=$log" \
      --report "$d/report.json" --junit "$d/junit.xml" "$d/sim.json" \
      >"$d/out" 2>"$d/err" &
    pids+=($!)
    reports+=("$d/report.json")
    results+=("$d/results.jsonl")
  done
  for k in $(seq "$n"); do
    d=$work/n$n-k$k
    wait "${pids[$((k - 1))]}"
    rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 1 ]; then
      fail "N=$n shard $k ($(shard_args "$n" "$k")): exit $rc"
      sed 's/^/  /' "$d/err" | head -n 20
      continue
    fi
    code=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["exit_code"])' \
      "$d/report.json" 2>/dev/null)
    [ "$code" = "$rc" ] || fail "N=$n shard $k: exit $rc, its report says ${code:-nothing}"
  done
  "${compare[@]}" shards "$n" "${reports[@]}" || fail "N=$n: the shard records"

  m=$work/merged-$n
  "$corun" merge --report "$m.json" --junit "$m.xml" "${reports[@]}" \
    >"$m.out" 2>"$m.err"
  rc=$?
  if [ "$rc" != "$whole_rc" ]; then
    fail "N=$n: corun merge exit $rc, the whole run's $whole_rc"
    sed 's/^/  /' "$m.err" | head -n 20
  fi
  "${compare[@]}" report "$whole/report.json" "$m.json" ||
    fail "N=$n: the merged report is not the whole run's"
  "${compare[@]}" junit "$whole/junit.xml" "$m.xml" ||
    fail "N=$n: the merged JUnit is not the whole run's"
  existing=()
  for f in "${results[@]}"; do [ -f "$f" ] && existing+=("$f"); done
  [ ${#existing[@]} = "$n" ] || fail "N=$n: ${#existing[@]} of $n shards wrote results.jsonl"
  "${compare[@]}" results "$whole/results.jsonl" "${existing[@]}" ||
    fail "N=$n: the shards' results are not the whole run's"
  # The merge joins them too (--results: the path the job gives, found
  # beside each shard's report, written from the current directory).
  mkdir "$m.d"
  (cd "$m.d" && "$corun" merge --results results.jsonl --report report.json \
    "${reports[@]}" >out 2>err)
  rc=$?
  [ "$rc" = "$whole_rc" ] || { fail "N=$n: corun merge --results exit $rc"; sed 's/^/  /' "$m.d/err"; }
  "${compare[@]}" results "$whole/results.jsonl" "$m.d/results.jsonl" ||
    fail "N=$n: the results file corun merge joined is not the whole run's"
  if ! diff <(sort "$work/log-whole") <(sort "$log") >"$work/logdiff"; then
    fail "N=$n: the commands that ran differ from the whole run's (< whole, > shards):"
    sed 's/^/  /' "$work/logdiff"
  fi
  out=$(served "$runs")
  [ -z "$out" ] || fail "N=$n: $out"

  # A shard missing, or one given twice: refused, saying which.
  if [ "$n" -ge 2 ]; then
    "$corun" merge --report "$work/partial.json" "${reports[@]:1}" \
      >/dev/null 2>"$work/partial.err"
    rc=$?
    [ "$rc" = 2 ] || fail "N=$n: a merge without shard 1 exits $rc (want 2)"
    grep -q 1 "$work/partial.err" || fail "N=$n: a merge without shard 1 does not name it: $(cat "$work/partial.err")"
    "$corun" merge --report "$work/doubled.json" "${reports[@]}" "${reports[0]}" \
      >/dev/null 2>"$work/doubled.err"
    rc=$?
    [ "$rc" = 2 ] || fail "N=$n: a merge given shard 1 twice exits $rc (want 2)"
  fi
  [ "$failures" = "$before" ] && echo "ok: N=$n shards merge into the whole run"
done

[ "$bad" = 0 ] && echo "ok: shard_sim"
exit "$bad"
