#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs npm packages the tests read corun's outputs with (trace models,
# JUnit readers, schema validators) into DIR/node_modules, once, never
# globally. Versions are pinned by the callers.
#
#   npm_tools.sh DIR NAME@VERSION...
#
# Exit status: 0 when every package is there; 77 (a skip to ctest) when
# npm is not installed; 1 when an install failed.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR NAME@VERSION..." >&2; exit 2; }
dir=$1
shift
command -v npm >/dev/null || {
  echo "npm_tools: npm is not installed (apt-get install npm); skipping" >&2
  exit 77
}
mkdir -p "$dir"
# Suites run in parallel: one install at a time, and each keeps the
# others' packages (they are saved in DIR/package.json, so none is pruned).
exec 9>"$dir/.lock"
flock 9
missing=()
for p in "$@"; do
  name=${p%@*}
  want=${p##*@}
  have=$(node -p "require('$dir/node_modules/$name/package.json').version" \
    2>/dev/null || true)
  [ "$have" = "$want" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
[ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
  "${missing[@]}" >&2
