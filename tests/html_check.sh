#!/usr/bin/env bash
# The --html report in a real browser (headless Chromium). Against
# corun-test-httpd on 127.0.0.1, a job with failures (a fetch on a 503,
# a failing command, a rehearsed failure with a secret in it, a skip, a
# cancellation), a pipeline and fetches; then:
#   - the file as written: the summary counts, the root causes and the
#     tasks not ok are there as HTML (no JavaScript needed), no secret,
#     nothing loaded from elsewhere, the timeline hidden until the script
#     shows it;
#   - the page as Chromium builds it (--dump-dom): every task's row in the
#     timeline, the fetch phases, the filters and search box, and filters
#     given in the link (#status=...&q=...) applied;
#   - a job of 10,000 "sleep 0" tasks: the page draws only the rows in
#     view, within a time bound;
#   - a screenshot, kept in the build directory as html-report.png.
# Without Chromium (apt-get install chromium; bash .ci/run installs it)
# the check is skipped (exit 77).
# Usage: html_check.sh CORUN HTTPD BUILD_DIR
set -u
corun=$(realpath "$1")
httpd=$(realpath "$2")
build=$(realpath "$3")

browser=
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then
    browser=$b
    break
  fi
done
if [ -z "$browser" ]; then
  echo "SKIP: no Chromium (apt-get install chromium)"
  exit 77
fi

# shellcheck source=tests/lib.sh
. "$(dirname "$0")/lib.sh"

# Headless, with a profile of its own so that runs never share one.
chrome() {
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu \
    --no-first-run --user-data-dir="$work/profile" "$@" 2>"$work/chrome.err"
}

start_server "$httpd"

cat > "$work/job.json" <<'EOF'
{"name": "release <candidate> & \"friends\"", "limits": {"one": 1}, "tasks": [
  {"id": "setup", "kind": "sleep", "seconds": 0.1, "message": "ready"},
  {"id": "api", "kind": "fetch", "after": ["setup"],
   "url": "${base}/delay?ms=150&n=2000"},
  {"id": "health", "kind": "fetch",
   "url": "${base}/status?code=503&body=down+for+maintenance",
   "headers": {"Authorization": "Bearer ${env:HTML_CHECK_TOKEN}"}},
  {"id": "checks", "kind": "gather", "tasks": [
    {"id": "lint", "kind": "exec", "argv": ["sh", "-c", "sleep 0.1"],
     "limit": "one"},
    {"id": "unit", "kind": "exec", "limit": "one",
     "shell": "sleep 0.1; echo '3 tests <failed>' >&2; exit 3"},
    {"id": "slow", "kind": "sleep", "seconds": 5}]},
  {"id": "boom", "kind": "sleep", "seconds": 0.05,
   "fail": "disk full & \"no\" retry\nthe token was ${env:HTML_CHECK_TOKEN}"},
  {"id": "after-boom", "kind": "sleep", "seconds": 0, "after": ["boom"]},
  {"id": "crunch", "kind": "pipeline", "after": ["api"],
   "source": {"range": [0, 20]},
   "stages": [{"workers": 4, "task": {"kind": "sleep", "seconds": 0.02}},
              {"workers": 2, "task": {"kind": "sleep", "seconds": 0.01}}]},
  {"id": "publish", "kind": "sleep", "seconds": 0.1, "after": ["crunch"]}
]}
EOF
ids="setup api health checks lint unit slow boom after-boom crunch publish"
secret=html-check-s3cret
HTML_CHECK_TOKEN=$secret "$corun" -q --var "base=http://127.0.0.1:$port" \
  --html "$work/run.html" "$work/job.json" > /dev/null 2>&1
rc=$?
[ $rc = 1 ] || fail "the job exited $rc, not 1"
html=$work/run.html
[ -s "$html" ] || { echo "FAIL: no HTML report"; exit 1; }

# The file itself: what a reader without JavaScript gets.
grep -q "$secret" "$html" && fail "the secret is in the HTML file"
grep -Eq '<(link|img|iframe)[ >]|src=|@import|url\(' "$html" &&
  fail "the page loads something from elsewhere"
for want in '<td class="n" data-status="ok">5</td>' \
            '<td class="n" data-status="failed">4</td>' \
            '<td class="n" data-status="cancelled">1</td>' \
            '<td class="n" data-status="skipped">1</td>' \
            '<section id="causes">' \
            'response: HTTP 503 (text/plain; charset=utf-8): down for maintenance' \
            'exit status 3: 3 tests &lt;failed&gt;' \
            'disk full &amp; &quot;no&quot; retry' \
            'the token was ***</pre>' \
            '<table id="failures-table">' \
            '<td class="mono">after-boom</td>' \
            '20 items: 20 ok, 0 failed, 0 cancelled' \
            'release &lt;candidate&gt; &amp; &quot;friends&quot;'; do
  grep -qF -- "$want" "$html" || fail "the file lacks: $want"
done
# The root causes come before the rest.
causes=$(grep -n '<section id="causes">' "$html" | cut -d: -f1)
failures=$(grep -n '<section id="failures">' "$html" | cut -d: -f1)
[ "${causes:-9999}" -lt "${failures:-0}" ] ||
  fail "the root causes do not come first"

# Without JavaScript the timeline stays hidden, and says so.
grep -qF '<section id="timeline" hidden>' "$html" ||
  fail "the timeline is not hidden for readers without JavaScript"
grep -qF '<noscript>' "$html" || fail "no <noscript> note"

# The page as the browser built it.
chrome --dump-dom "file://$html" > "$work/run.dom" ||
  fail "chromium failed: $(tail -3 "$work/chrome.err")"
dom=$work/run.dom
grep -q "$secret" "$dom" && fail "the secret is in the page"
grep -qF '<section id="timeline" hidden' "$dom" &&
  fail "the timeline is still hidden: the script did not run"
grep -qF '11 of 11 tasks' "$dom" || fail "the timeline does not count 11 tasks"
for id in $ids; do
  grep -qF "\">$id</div>" "$dom" || fail "task $id has no row in the timeline"
done
grep -q 'class="ph p-wait"' "$dom" || fail "no fetch phase in the timeline"
grep -q 'class="row st-failed' "$dom" || fail "no failed row in the timeline"
grep -q 'class="row st-ok crit' "$dom" ||
  fail "the critical path is not marked in the timeline"
for want in 'type="checkbox" data-status="ok"' 'type="checkbox" data-status="failed"' \
            'type="checkbox" data-status="skipped"' 'id="tl-crit"' \
            'type="search" id="tl-search"' 'disk full &amp; "no" retry'; do
  grep -qF -- "$want" "$dom" || fail "the page lacks: $want"
done

# Filters from the link: failed tasks whose text says "unit".
chrome --dump-dom "file://$html#status=failed&q=unit" > "$work/filtered.dom" ||
  fail "chromium failed: $(tail -3 "$work/chrome.err")"
grep -qF '2 of 11 tasks' "$work/filtered.dom" ||
  fail "#status=failed&q=unit did not leave 2 of 11 tasks"
grep -q 'class="row st-ok' "$work/filtered.dom" &&
  fail "#status=failed left ok rows"
grep -qF '">unit</div>' "$work/filtered.dom" || fail "#q=unit hid unit"

# 10,000 tasks: drawn in a time bound, only the rows in view.
python3 - "$work/big.json" <<'EOF'
import json, sys
with open(sys.argv[1], "w") as f:
    json.dump({"tasks": [{"kind": "sleep", "seconds": 0}
                         for _ in range(10000)]}, f)
EOF
"$corun" -q --html "$work/big.html" "$work/big.json" ||
  fail "the 10,000-task job failed"
start=$(date +%s%N)
chrome --dump-dom "file://$work/big.html" > "$work/big.dom" ||
  fail "chromium failed on 10,000 tasks: $(tail -3 "$work/chrome.err")"
wall=$((($(date +%s%N) - start) / 1000000))
grep -qF '10000 of 10000 tasks' "$work/big.dom" ||
  fail "the 10,000-task timeline does not count 10000 tasks"
rows=$(grep -o 'class="row ' "$work/big.dom" | wc -l)
[ "$rows" -gt 0 ] && [ "$rows" -lt 500 ] ||
  fail "the 10,000-task timeline drew $rows rows, not only those in view"
drawn=$(grep -o 'data-render-ms="[0-9]*"' "$work/big.dom" | grep -o '[0-9]*')
[ -n "$drawn" ] && [ "$drawn" -lt 3000 ] ||
  fail "the 10,000-task page took ${drawn:-?} ms to draw (bound 3000)"
[ "$wall" -lt 60000 ] || fail "chromium took $wall ms on the 10,000-task page"
for n in 1 5000 10000; do
  grep -qF "\"task$n\"" "$work/big.html" || fail "task$n is not in the page"
done
echo "10,000 tasks: $(stat -c %s "$work/big.html") bytes, drawn in ${drawn:-?} ms, $rows rows in view, chromium ${wall} ms"

# A screenshot, kept as an artifact of the build.
rm -f "$build/html-report.png"
chrome --screenshot="$build/html-report.png" --window-size=1400,1000 \
  --hide-scrollbars "file://$html" > /dev/null ||
  fail "no screenshot: $(tail -3 "$work/chrome.err")"
head -c 8 "$build/html-report.png" 2>/dev/null | od -An -tx1 | grep -q '89 50 4e 47' ||
  fail "the screenshot is not a PNG"

[ $bad = 0 ] && echo "html check passed (screenshot: $build/html-report.png)"
exit $bad
