#!/usr/bin/env bash
# corun's --junit files as the programs that consume JUnit read them:
#   - xmllint --schema against the Jenkins xUnit plugin's junit-10.xsd
#     (tests/fixtures/junit/junit-10.xsd);
#   - Debian's python3-junitparser, which must read the same totals
#     (tests, failures, errors, skipped) as corun's JSON report implies;
#   - test-results-parser, the npm reader behind CI dashboards, which must
#     count the same passed, failed and skipped cases;
#   - junit-report-merger, which must merge two reports into one whose
#     totals add up (its own <testsuites> carries "skipped", which
#     junit-10.xsd does not allow there: that file is not checked against
#     it).
# The npm packages go into a folder of the build directory (never global);
# without npm that part is skipped, saying so. Everything else is required
# (bash .ci/run installs libxml2-utils, python3-junitparser, nodejs, npm).
# Usage: junit_consumers.sh CORUN SRC_DIR BUILD_DIR
set -u
corun=$1
src=$(cd "$2" && pwd)
build=$(cd "$3" && pwd)
xsd=$src/tests/fixtures/junit/junit-10.xsd
bad=0
fail() { echo "FAIL: $*"; bad=1; }

# Debian's junitparser is the system Python's, whatever python3 PATH finds.
py=/usr/bin/python3
[ -x "$py" ] || py=python3
command -v xmllint >/dev/null ||
  { echo "FAIL: xmllint is missing (Debian: libxml2-utils)"; exit 1; }
"$py" -c 'import junitparser' 2>/dev/null ||
  { echo "FAIL: $py cannot import junitparser (Debian: python3-junitparser)"; exit 1; }

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# name, expected exit status, extra options, job
scenario() {
  local name=$1 want=$2 opts=$3 status
  cat >"$dir/$name.json"
  # shellcheck disable=SC2086
  "$corun" -q $opts --report "$dir/$name.report.json" --junit "$dir/$name.xml" \
    "$dir/$name.json" >/dev/null 2>"$dir/$name.err"
  status=$?
  [ "$status" = "$want" ] ||
    fail "$name: exit $status, not $want: $(cat "$dir/$name.err")"
}

scenario ok 0 "" <<'EOF'
{"name": "ok", "tasks": [
 {"id": "a", "kind": "sleep", "seconds": 0, "name": "first step"},
 {"id": "b", "kind": "exec", "shell": "echo hello"}]}
EOF
scenario failures 1 "" <<'EOF'
{"name": "failures", "tasks": [
 {"id": "boom", "kind": "sleep", "seconds": 0, "fail": "disk <full> & 'out'"},
 {"id": "exit3", "kind": "exec", "shell": "echo out; echo err >&2; exit 3"},
 {"id": "fine", "kind": "sleep", "seconds": 0}]}
EOF
scenario timeouts 1 "" <<'EOF'
{"name": "timeouts", "tasks": [
 {"id": "nap", "kind": "sleep", "seconds": 10, "timeout": "100ms"},
 {"id": "hang", "kind": "exec", "shell": "echo started; exec sleep 10",
  "timeout": "200ms", "kill_grace": "1s"},
 {"id": "box", "kind": "gather", "timeout": "150ms", "tasks": [
   {"id": "boxed", "kind": "sleep", "seconds": 10}]}]}
EOF
scenario skips 1 "" <<'EOF'
{"name": "skips", "tasks": [
 {"id": "first", "kind": "sleep", "seconds": 0, "fail": "no"},
 {"id": "second", "kind": "sleep", "seconds": 0, "after": ["first"]},
 {"id": "third", "kind": "exec", "argv": ["true"], "after": ["second"]}]}
EOF
scenario nested 1 "" <<'EOF'
{"name": "nested", "tasks": [
 {"id": "outer", "kind": "gather", "tasks": [
   {"id": "inner", "kind": "gather", "tasks": [
     {"id": "broken", "kind": "sleep", "seconds": 0.05, "fail": "broke"},
     {"id": "slow", "kind": "sleep", "seconds": 10}]},
   {"id": "race", "kind": "wait", "return_when": "first_completed", "tasks": [
     {"id": "fast", "kind": "sleep", "seconds": 0},
     {"id": "late", "kind": "sleep", "seconds": 10}]}]}]}
EOF
scenario pipeline 1 "" <<'EOF'
{"name": "pipeline", "tasks": [
 {"id": "each", "kind": "pipeline", "junit": "items",
  "source": {"items": [{"h": "a", "rc": 0}, {"h": "b", "rc": 1}, {"h": "c", "rc": 0}]},
  "stages": [{"workers": 2, "task": {"kind": "exec", "name": "host ${item.h}",
    "shell": "echo ${item.h}; exit ${item.rc}"}}]},
 {"id": "whole", "kind": "pipeline", "source": {"range": [0, 4]},
  "stages": [{"task": {"kind": "sleep", "seconds": 0, "fail": "item ${item}"}}]}]}
EOF
scenario interrupted 130 "" <<'EOF'
{"name": "interrupted", "tasks": [
 {"id": "done", "kind": "sleep", "seconds": 0},
 {"id": "nap", "kind": "sleep", "seconds": 30},
 {"id": "sig", "kind": "exec", "shell": "sleep 0.2; kill -INT $PPID; sleep 30"}]}
EOF
scenario expired 124 "--timeout 300ms" <<'EOF'
{"name": "expired", "tasks": [
 {"id": "done", "kind": "sleep", "seconds": 0},
 {"id": "nap", "kind": "sleep", "seconds": 30}]}
EOF
scenarios="ok failures timeouts skips nested pipeline interrupted expired"

for s in $scenarios; do
  out=$(xmllint --noout --schema "$xsd" "$dir/$s.xml" 2>&1) ||
    fail "$s: junit-10.xsd rejects the report: $out"
done

# What the JSON report and the job file say the totals must be: a case per
# leaf task, per item of a pipeline with "junit": "items", per container
# that failed on its own, and one error case for a run that did not end by
# itself. One line "SCENARIO tests failures errors skipped" each; one
# Python for all (its start is most of the cost).
"$py" - "$dir" $scenarios >"$dir/expected" <<'EOF' ||
import json, sys
d = sys.argv[1]
for name in sys.argv[2:]:
    report = json.load(open("%s/%s.report.json" % (d, name)))
    job = json.load(open("%s/%s.json" % (d, name)))
    items_mode = set()
    def walk(tasks):
        for t in tasks:
            if t.get("kind") == "pipeline" and t.get("junit") == "items":
                items_mode.add(t["id"])
            walk(t.get("tasks", []))
    walk(job["tasks"])
    n = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    def count(status):
        n["tests"] += 1
        if status in ("failed", "timeout"):
            n["failures"] += 1
        elif status != "ok":
            n["skipped"] += 1
    for t in report["tasks"]:
        err = t.get("error") or {}
        own = t["status"] in ("failed", "timeout") and \
            err.get("type") not in ("child", "cancelled", "skipped")
        if t["kind"] in ("gather", "wait"):
            if own:
                count(t["status"])
        elif t["id"] in items_mode and t["result"]:
            r = t["result"]
            n["tests"] += r["ok"] + r["failed"] + r["cancelled"]
            n["failures"] += r["failed"]
            n["skipped"] += r["cancelled"]
            if own:
                count(t["status"])
        else:
            count(t["status"])
    if report["status"] == "cancelled":
        n["tests"] += 1
        n["errors"] += 1
    print(name, n["tests"], n["failures"], n["errors"], n["skipped"])
EOF
  { echo "FAIL: cannot read the JSON reports"; exit 1; }
expected() { sed -n "s/^$1 //p" "$dir/expected"; }

# junitparser: each suite's counts, and the counts of its cases' results,
# as "SCENARIO suite|cases tests failures errors skipped".
"$py" - "$dir" $scenarios >"$dir/junitparser" 2>&1 <<'EOF' ||
import sys
from junitparser import JUnitXml, Failure, Error, Skipped
d = sys.argv[1]
for name in sys.argv[2:]:
    xml = JUnitXml.fromfile("%s/%s.xml" % (d, name))
    suites = list(xml)
    if len(suites) != 1:
        print(name, "suites:", len(suites))
        continue
    s = suites[0]
    cases = list(s)
    by = {Failure: 0, Error: 0, Skipped: 0}
    for c in cases:
        for r in c.result:
            by[type(r)] += 1
    print(name, "suite", s.tests, s.failures, s.errors, s.skipped)
    print(name, "cases", len(cases), by[Failure], by[Error], by[Skipped])
EOF
  { echo "FAIL: junitparser cannot read the reports:"; cat "$dir/junitparser"; exit 1; }
for s in $scenarios; do
  want=$(expected "$s")
  for what in suite cases; do
    got=$(sed -n "s/^$s $what //p" "$dir/junitparser")
    [ "$got" = "$want" ] ||
      fail "$s: junitparser reads $what totals '$got', the JSON report implies '$want'"
  done
done

# A few facts the totals alone would not show.
grep -q '<testcase name="first step"' "$dir/ok.xml" ||
  fail "ok: the task's \"name\" is not the case's name"
grep -q '<testcase name="corun"' "$dir/interrupted.xml" ||
  fail "interrupted: no \"corun\" error case"
grep -q '<testcase name="host b" classname="pipeline.each"' "$dir/pipeline.xml" ||
  fail "pipeline: no case for item b"
grep -q '<system-out>started' "$dir/timeouts.xml" ||
  fail "timeouts: the command that timed out lost its output"

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "SKIPPED: npm or node is missing: test-results-parser and" \
       "junit-report-merger not run (Debian: apt-get install nodejs npm)"
  [ "$bad" = 0 ] && echo "junit consumers: all checks passed (npm part skipped)"
  exit "$bad"
fi

npm_dir=$build/npm
if [ ! -f "$npm_dir/node_modules/test-results-parser/package.json" ] ||
   [ ! -f "$npm_dir/node_modules/junit-report-merger/package.json" ]; then
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error \
    test-results-parser@0.4.6 junit-report-merger@9.0.4 >"$dir/npm.log" 2>&1 ||
    { echo "FAIL: npm install into $npm_dir failed:"; cat "$dir/npm.log"; exit 1; }
fi
export NODE_PATH=$npm_dir/node_modules

# test-results-parser: passed, failed (failures and errors) and skipped cases.
node -e '
const { parse } = require("test-results-parser");
const [dir, ...names] = process.argv.slice(1);
for (const name of names) {
  const r = parse({ type: "junit", files: [dir + "/" + name + ".xml"] });
  let pass = 0, fail = 0, skip = 0;
  for (const s of r.suites) for (const c of s.cases) {
    if (c.status === "PASS") pass++;
    else if (c.status === "FAIL") fail++;
    else if (c.status === "SKIP") skip++;
  }
  console.log(name, pass, fail, skip);
}' "$dir" $scenarios >"$dir/trp" 2>&1 ||
  { echo "FAIL: test-results-parser cannot read the reports:"; cat "$dir/trp"; exit 1; }
for s in $scenarios; do
  read -r t f e k <<<"$(expected "$s")"
  want="$((t - f - e - k)) $((f + e)) $k"
  got=$(sed -n "s/^$s //p" "$dir/trp")
  [ "$got" = "$want" ] ||
    fail "$s: test-results-parser counts passed/failed/skipped '$got', not '$want'"
done

# junit-report-merger: two reports into one, the totals added up.
got=$(node -e '
const { mergeFiles } = require("junit-report-merger");
mergeFiles(process.argv[1], [process.argv[2], process.argv[3]])
  .then(() => console.log("merged"), (e) => { console.log(String(e)); process.exit(1); });' \
  "$dir/merged.xml" "$dir/failures.xml" "$dir/pipeline.xml" 2>&1) ||
  fail "junit-report-merger cannot merge two reports: $got"
if [ -f "$dir/merged.xml" ]; then
  read -r t1 f1 e1 k1 <<<"$(expected failures)"
  read -r t2 f2 e2 k2 <<<"$(expected pipeline)"
  got=$("$py" - "$dir/merged.xml" <<'EOF'
import sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
suites = list(xml)
print(len(suites), sum(s.tests for s in suites), sum(s.failures for s in suites),
      sum(s.errors for s in suites), sum(s.skipped for s in suites))
EOF
  )
  want="2 $((t1 + t2)) $((f1 + f2)) $((e1 + e2)) $((k1 + k2))"
  [ "$got" = "$want" ] ||
    fail "merged report: suites and totals $got, not $want"
  grep -q '<testsuites[^>]* tests="'$((t1 + t2))'"' "$dir/merged.xml" ||
    fail "merged report: <testsuites> does not count $((t1 + t2)) tests"
fi

[ "$bad" = 0 ] && echo "junit consumers: all checks passed"
exit "$bad"
