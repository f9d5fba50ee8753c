#!/usr/bin/env bash
# Valgrind memcheck over a representative set of runs of the corun binary:
# examples (captures across tasks too), a fetch pipeline against the test
# server, exec, cancellation by SIGINT, a journal rerun. Any invalid access
# or leak fails (exit 99 from valgrind), and so does a libuv handle left
# open at exit.
# Usage: valgrind_check.sh CORUN HTTPD SRC_DIR
set -u
corun=$(realpath "$1")
httpd=$(realpath "$2")
src=$(realpath "$3")
work=$(mktemp -d)
trap 'kill $srv 2>/dev/null; rm -rf "$work"' EXIT
bad=0
vg=(valgrind -q --error-exitcode=99 --leak-check=full
    --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect)

"$httpd" --ignore-stdin > "$work/port" &
srv=$!
for _ in $(seq 50); do grep -q PORT "$work/port" && break; sleep 0.1; done
base="http://127.0.0.1:$(awk '/PORT/ {print $2}' "$work/port")"

cat > "$work/pipe.json" <<'J'
{"tasks": [
 {"id": "p", "kind": "pipeline", "source": {"range": [0, 300]}, "results": "r.jsonl",
  "stages": [{"workers": 3, "task": {"kind": "sleep", "seconds": 0, "result": {"v": "${item}"}}},
             {"workers": 2, "task": {"kind": "gather", "tasks": [
                {"kind": "exec", "argv": ["true"]},
                {"kind": "sleep", "seconds": 0.001, "result": "${item.v}"}]}}]},
 {"id": "f", "kind": "pipeline", "source": {"lines": "urls.txt"},
  "stages": [{"workers": 4, "task": {"kind": "fetch", "url": "${base}${item}"}}]},
 {"id": "x", "kind": "exec", "shell": "echo out; echo err >&2; exit 3"},
 {"id": "t", "kind": "sleep", "seconds": 5, "timeout": "0.2s"}]}
J
cp "$src/jobs/urls.txt" "$work/urls.txt"

# name expected-exit args...
check() {
  local name=$1 want=$2
  shift 2
  (cd "$work" && "${vg[@]}" "$corun" -q "$@") > "$work/out" 2> "$work/err"
  local got=$?
  if [ "$got" != "$want" ] || grep -q "handles left open" "$work/err"; then
    echo "FAIL: $name: exit $got (want $want)"; sed 's/^/  /' "$work/err" | head -40
    bad=1
  else
    echo "ok: $name"
  fi
}
check hello 0 "$src/jobs/hello.json"
check after 1 "$src/jobs/after.json"
check fail-fast 1 "$src/jobs/fail-fast.json"
check first-completed 0 "$src/jobs/first-completed.json"
check pipelines 1 --var "base=$base" --report r.json --junit j.xml --trace t.json --html h.html pipe.json
check journal-1 1 --var "base=$base" --journal run.journal pipe.json
check journal-2 1 --var "base=$base" --journal run.journal pipe.json
check fetch 0 --var "base=$base" "$src/jobs/fetch.json"
check api-smoke 0 --var "base=$base" --report r.json "$src/jobs/api-smoke.json"
check graph 0 graph "$src/jobs/after.json"

# Faults: refused, dropped, never answered, a gzip bomb, .invalid, /dev/full,
# a missing program (after another task, or the check before the run
# would refuse the job), and fetches that wait for descriptors under ulimit -n.
python3 - "$base" > "$work/faults.json" <<'P'
import json, socket, sys
base = sys.argv[1]
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
t = [{"id": "refused", "kind": "fetch", "url": "http://127.0.0.1:%d/" % port},
     {"id": "drop", "kind": "fetch", "url": base + "/drop?n=100000", "save": "d.bin"},
     {"id": "slow", "kind": "fetch", "url": base + "/slow-body?n=100&ms=20", "timeout": "300ms"},
     {"id": "bomb", "kind": "fetch", "url": base + "/gzip-bomb?n=1000000000", "max_bytes": 1000000},
     {"id": "invalid", "kind": "fetch", "url": "http://x.invalid/"},
     {"id": "full", "kind": "fetch", "url": base + "/bytes?n=100000", "save": "/dev/full"},
     {"id": "first", "kind": "sleep", "seconds": 0},
     {"id": "missing", "kind": "exec", "argv": ["no-such-program-here"],
      "after": ["first"]},
     {"id": "many", "kind": "gather", "tasks": [
         {"kind": "fetch", "url": base + "/delay?ms=10"} for _ in range(150)]}]
print(json.dumps({"concurrency": 150, "tasks": t}))
P
# The faults fail as they should; the 150 fetches all get through.
many_ok() {
  python3 - "$work/f.json" <<'P' || { echo "FAIL: $1: not every fetch in 'many' ok"; bad=1; }
import json, sys
r = json.load(open(sys.argv[1]))
kids = [t for t in r["tasks"] if t["parent"] == "many"]
sys.exit(0 if len(kids) == 150 and all(t["status"] == "ok" for t in kids) else 1)
P
}
check faults 1 --report f.json faults.json
many_ok faults
(ulimit -n 64
 check faults-ulimit-64 1 --report f.json faults.json
 many_ok faults-ulimit-64
 exit $bad) || bad=1

# Interrupted: SIGINT while execs and a pipeline run.
(cd "$work" && "${vg[@]}" "$corun" -q --var "base=$base" pipe.json) \
  > "$work/out" 2> "$work/err" &
pid=$!
sleep 2
kill -INT $pid
wait $pid
got=$?
if [ "$got" != 130 ] || grep -q "handles left open" "$work/err"; then
  echo "FAIL: sigint: exit $got (want 130)"; sed 's/^/  /' "$work/err" | head -40
  bad=1
else
  echo "ok: sigint"
fi
[ $bad = 0 ] && echo "valgrind: clean"
exit $bad
