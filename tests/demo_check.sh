#!/usr/bin/env bash
# jobs/demo finds the corun it runs without being told: the build directory
# it is started from, or else the newest build inside its source tree,
# whatever that directory is called; with no build at all, or a variable
# that names no program, it says at once which variable to set.
# Usage: demo_check.sh CORUN CORUN_TEST_HTTPD SRC_DIR
set -u
corun=$1
httpd=$2
src=$3
work=$(cd "$(mktemp -d)" && pwd -P)
trap 'rm -rf "$work"' EXIT
unset CORUN CORUN_TEST_HTTPD
bad=0
fail() { echo "FAIL: $*"; bad=1; }

# A source tree of its own: the demo with its jobs, and build directories
# made by hand (the programs linked in, a cache naming the tree).
tree=$work/src
mkdir -p "$tree"
cp -r "$src/jobs" "$tree/jobs"
mkbuild() {
  mkdir -p "$1/tests"
  ln -s "$corun" "$1/corun"
  ln -s "$httpd" "$1/tests/corun-test-httpd"
  echo "CMAKE_HOME_DIRECTORY:INTERNAL=$tree" > "$1/CMakeCache.txt"
}
demo() { (cd "$1" && shift && timeout 120 "$tree/jobs/demo" "$@") 2>&1; }
examples=$(ls "$tree"/jobs/*.json | wc -l)
all_ran() {
  local ran
  ran=$(grep -c -- '-> exit' <<<"$1")
  [ "$ran" = "$examples" ] || fail "$2: $ran of $examples examples ran"
}

out=$(demo /); code=$?
[ "$code" = 2 ] || fail "no build: exit $code, not 2"
grep -q 'CORUN=' <<<"$out" && grep -q 'CORUN_TEST_HTTPD=' <<<"$out" ||
  fail "no build: the variables to set are not named: $out"

# An older build that would fail every example, then a newer one deeper
# down: the newer one is used.
mkdir -p "$tree/build/tests"
printf '#!/bin/sh\nexit 99\n' > "$tree/build/corun"
chmod +x "$tree/build/corun"
ln -s "$httpd" "$tree/build/tests/corun-test-httpd"
echo "CMAKE_HOME_DIRECTORY:INTERNAL=$tree" > "$tree/build/CMakeCache.txt"
touch -d '2001-01-01' "$tree/build/corun"
mkbuild "$tree/out/release"
out=$(demo /); code=$?
[ "$code" = 0 ] || fail "a build in the tree: exit $code: $out"
grep -q "build in $tree/out/release" <<<"$out" ||
  fail "a build in the tree: not the newest one: $out"
all_ran "$out" "a build in the tree"

# A build outside the tree, the demo started from there.
mkbuild "$work/elsewhere"
out=$(demo "$work/elsewhere"); code=$?
[ "$code" = 0 ] || fail "run from a build directory: exit $code: $out"
grep -q "build in $work/elsewhere" <<<"$out" ||
  fail "run from a build directory: it was not used: $out"
all_ran "$out" "run from a build directory"

# Variables that name nothing runnable are named back.
out=$(CORUN=$work/none demo /); code=$?
[ "$code" = 2 ] && grep -q 'set CORUN=' <<<"$out" ||
  fail "CORUN=$work/none: exit $code: $out"
out=$(CORUN_TEST_HTTPD=$work/none demo /); code=$?
[ "$code" = 2 ] && grep -q 'set CORUN_TEST_HTTPD=' <<<"$out" ||
  fail "CORUN_TEST_HTTPD=$work/none: exit $code: $out"

[ "$bad" = 0 ] && echo "jobs/demo: all checks passed"
exit "$bad"
