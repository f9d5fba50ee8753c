// SPDX-License-Identifier: MIT
// Loads a trace corun wrote with @tracerbench/trace-model (a real
// consumer of Chrome traces) and checks the model it builds against the
// job: one process, a thread per lane named after its root task, every
// task a complete event, and the parents the model finds by containment
// being the task's own ancestors.
//
//   node trace_model.mjs TRACE.json EXPECT.json
// EXPECT: {"process": NAME, "tasks": {ID: [ANCESTOR IDS...]}}
import { createRequire } from 'module';
import { readFileSync } from 'fs';

const require = createRequire(process.env.CORUN_NPM_DIR + '/');
const { buildModel } = require('@tracerbench/trace-model');
const trace = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const want = JSON.parse(readFileSync(process.argv[3], 'utf8'));
let bad = 0;
const fail = (msg) => { console.error('trace_model: ' + msg); bad = 1; };

const model = buildModel(trace);
if (model.processes.length !== 1)
  fail(`${model.processes.length} processes, not 1`);
const proc = model.processes[0];
if (proc.name !== want.process)
  fail(`process named "${proc.name}", not "${want.process}"`);
const seen = new Map();
for (const th of proc.threads) {
  if (!th.name) fail(`thread ${th.id} has no name`);
  for (const e of th.events) {
    if (e.cat === undefined || e.cat.length === 0)
      fail(`event "${e.name}" has no category`);
    if (!e.isComplete()) continue;
    if (seen.has(e.name)) fail(`task "${e.name}" twice`);
    seen.set(e.name, e);
    if (e.end < e.start) fail(`task "${e.name}" ends before it starts`);
  }
}
for (const [id, ancestors] of Object.entries(want.tasks)) {
  const e = seen.get(id);
  if (!e) { fail(`task "${id}" is not in the model`); continue; }
  for (let p = e.parent; p; p = p.parent)
    if (p.isComplete() && !ancestors.includes(p.name))
      fail(`task "${id}" sits inside "${p.name}", which is not an ancestor`);
}
for (const id of seen.keys())
  if (!(id in want.tasks)) fail(`the model has "${id}", which the job has not`);
// A child that shares its parent's lane is found inside it.
for (const [id, ancestors] of Object.entries(want.tasks)) {
  const e = seen.get(id), p = ancestors.length ? seen.get(ancestors[0]) : null;
  if (e && p && e.tid === p.tid && (!e.parent || e.parent.name !== p.name))
    fail(`task "${id}" shares a lane with "${p.name}" but is not inside it`);
}
if (!bad)
  console.log(`trace_model: ${seen.size} tasks on ${proc.threads.length} lanes, as the job says`);
process.exit(bad);
