#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The job-file schema under ajv (ajv-cli from npm, installed into the
# build directory) in strict mode, as editors and CI linters run it: it
# compiles with no strict-mode complaint, every example and valid fixture
# validates, and a typo does not.
#
#   schema_ajv_check.sh BUILD_DIR SRC_DIR
set -euo pipefail
build=$1 src=$2
npm_dir=$build/npm
bash "$src/tests/npm_tools.sh" "$npm_dir" ajv-cli@5.0.0 || exit $?
ajv=$npm_dir/node_modules/.bin/ajv
schema=$src/schema/corun.schema.json
strict=(--spec=draft2020 --strict=true)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$ajv" compile "${strict[@]}" -s "$schema"
# One run over every file (node starts once): each is reported valid or
# invalid, and the exit status says whether all were valid.
"$ajv" validate "${strict[@]}" -s "$schema" \
  -d "$src/{jobs,tests/fixtures/jobs/ok}/*.json" >"$tmp/out" 2>&1 ||
  { cat "$tmp/out" >&2; echo "ajv rejects a valid file" >&2; exit 1; }
printf '{"tasks": [{"kind": "sleep", "secnds": 1}]}\n' >"$tmp/typo.json"
if "$ajv" validate "${strict[@]}" -s "$schema" -d "$tmp/typo.json" \
  >/dev/null 2>&1; then
  echo "ajv accepts a typo (secnds)" >&2
  exit 1
fi
echo "schema_ajv: strict compile clean; $(ls "$src"/jobs/*.json \
  "$src"/tests/fixtures/jobs/ok/*.json | wc -l) files valid; a typo refused"
