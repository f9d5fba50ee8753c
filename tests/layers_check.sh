#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tools/check-layers passes on this tree, and fails, naming the line, on a
# copy where a low layer includes a higher one and on one with a circle.
# Usage: layers_check.sh SRC_DIR
set -u
src=$1
check=$src/tools/check-layers
bad=0
fail() { echo "FAIL: $*"; bad=1; }

"$check" || fail "the tree itself does not pass"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/lib" "$src/cmd" "$tmp/"
mkdir -p "$tmp/tools"
# A climb: util/buf.c includes the run.
sed -i '0,/#include "util\/buf.h"/s//#include "util\/buf.h"\n#include "core\/run.h"/' \
  "$tmp/lib/util/buf.c"
out=$("$check" --root "$tmp" 2>&1) && fail "a climb passed"
grep -q 'lib/util/buf.c:[0-9]*: util includes lib/core/run.h, of the higher layer core' \
  <<<"$out" || fail "the climb is not named: $out"

rm -rf "$tmp/lib" "$tmp/cmd"
cp -r "$src/lib" "$src/cmd" "$tmp/"
# A circle inside one layer: duration includes suggest, suggest duration.
sed -i '0,/#include "util\/suggest.h"/s//#include "util\/suggest.h"\n#include "util\/duration.h"/' \
  "$tmp/lib/util/suggest.c"
sed -i '0,/#include "util\/duration.h"/s//#include "util\/duration.h"\n#include "util\/suggest.h"/' \
  "$tmp/lib/util/duration.c"
out=$("$check" --root "$tmp" 2>&1) && fail "a circle passed"
grep -q 'include circle: lib/util/.* -> lib/util/' <<<"$out" ||
  fail "the circle is not named: $out"
[ $bad = 0 ] && echo "layers: ok"
exit $bad
