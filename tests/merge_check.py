#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""corun merge against the run it stands for.

Shard reports are made the way a run with --shard K/N makes them: the
job's root tasks dealt to N job files (a pipeline with "shard": true split
by item, item i to shard (i mod N) + 1), each run by corun, its report
given the "shard" field such a run records. Then:

  - merging 1, 2 and 3 shards gives the whole run's report but for times
    (and a split pipeline's rates and percentiles, which are the shards'
    own durations), and exits as the whole run (0 and 1);
  - JUnit of a merge passes junit-10.xsd and is the whole run's but for
    times; HTML and the trace are written;
  - a split pipeline's counts and status add up, and its percentiles are
    those of every duration at once, exact samples and buckets alike;
  - results files are joined in item order (--results);
  - an interrupted shard makes the merge exit with its status;
  - reports of different jobs, a shard missing or given twice, a file that
    is no report (with its line and column): exit 2 naming the problem,
    and no output written or touched.

Usage: merge_check.py CORUN XSD
"""
import copy
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

CORUN, XSD = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
HASH = "5e" * 32
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def run(args, cwd=None):
    p = subprocess.run([CORUN] + args, cwd=cwd, capture_output=True,
                       text=True)
    for bad in ("Sanitizer", "runtime error:"):
        check(bad not in p.stderr, "sanitizer report: " + p.stderr)
    return p


def run_job(job, path, extra=()):
    """Run job (written to path) with a report beside it; the report."""
    with open(path, "w") as f:
        json.dump(job, f)
    report = path[:-5] + ".report.json"
    p = run(["-q", "--report", report] + list(extra) + [path])
    with open(report) as f:
        return json.load(f), p.returncode


def whole_job(job):
    w = copy.deepcopy(job)
    for t in w["tasks"]:
        t.pop("shard", None)
    return w


def shard_jobs(job, n):
    """(shard job, root positions, item positions) for K = 1..n."""
    out = []
    for k in range(1, n + 1):
        sub = copy.deepcopy(job)
        tasks, roots = [], []
        for i, t in enumerate(job["tasks"]):
            if t.get("kind") == "pipeline" and t.get("shard"):
                t2 = copy.deepcopy(t)
                t2.pop("shard")
                items = t["source"]["items"]
                t2["source"] = {"items": [x for j, x in enumerate(items)
                                          if j % n == k - 1]}
                tasks.append(t2)
                roots.append(i)
            elif i % n == k - 1:
                tasks.append(copy.deepcopy(t))
                roots.append(i)
        sub["tasks"] = tasks
        out.append((sub, roots))
    return out


def make_shards(job, n, d, names=None):
    """Run the n shards of job in d/shardK/; their report paths."""
    paths = []
    for k, (sub, roots) in enumerate(shard_jobs(job, n), 1):
        sd = os.path.join(d, "shard%d" % k)
        os.makedirs(sd, exist_ok=True)
        rep, _ = run_job(sub, os.path.join(sd, "job.json"))
        rep["shard"] = {"index": k, "total": n, "job_hash": HASH,
                        "roots": roots}
        path = os.path.join(sd, "job.report.json")
        with open(path, "w") as f:
            json.dump(rep, f, indent=1)
        paths.append(path)
    return paths


TIMES = ("queued", "start", "end", "duration")


def norm(rep):
    """A report without what differs between runs: times, rates, and how
    full a pipeline's queues got (each shard fed its own)."""
    r = copy.deepcopy(rep)
    for k in ("started_at", "duration", "shard"):
        r.pop(k, None)
    for t in r["tasks"]:
        for k in TIMES:
            t.pop(k, None)
        if t["kind"] == "pipeline" and isinstance(t["result"], dict):
            for st in t["result"]["stages"]:
                for k in ("p50", "p90", "p99", "items_per_s", "hist",
                          "queue_max"):
                    st.pop(k, None)
        if t["kind"] == "pipeline" and t["error"]:
            t["error"]["message"] = t["error"]["message"].split(";")[0]
    return r


JOB = {
    "name": "merged",
    "tasks": [
        {"id": "a", "kind": "sleep", "seconds": 0.01, "result": 1},
        {"id": "p", "kind": "pipeline", "shard": True,
         "source": {"items": [1, 2, 3, 4, 5, 6, 7]},
         "stages": [{"workers": 2,
                     "task": {"kind": "sleep", "seconds": "${item}ms"}}]},
        {"id": "g", "kind": "gather", "tasks": [
            {"kind": "sleep", "seconds": 0, "message": "hello"},
            {"kind": "exec", "shell": "echo out; echo err >&2"}]},
        {"id": "w", "kind": "wait", "return_when": "first_completed",
         "tasks": [{"kind": "sleep", "seconds": 0},
                   {"kind": "sleep", "seconds": 5}]},
        {"id": "f", "kind": "sleep", "seconds": 0, "fail": "boom",
         "name": "the failing one"},
        {"id": "c", "kind": "exec", "argv": ["true"]},
    ],
}


def test_equal_to_whole(d):
    for ok in (False, True):
        job = copy.deepcopy(JOB)
        if ok:
            job["tasks"] = [t for t in job["tasks"] if t["id"] != "f"]
        wd = os.path.join(d, "whole-%d" % ok)
        os.makedirs(wd)
        whole, wrc = run_job(whole_job(job), os.path.join(wd, "job.json"),
                             ["--junit", os.path.join(wd, "whole.xml")])
        check(wrc == (0 if ok else 1), "the whole run exits %d" % wrc)
        for n in (1, 2, 3):
            sd = os.path.join(d, "eq-%d-%d" % (ok, n))
            paths = make_shards(job, n, sd)
            out = os.path.join(sd, "merged.json")
            xml = os.path.join(sd, "merged.xml")
            p = run(["merge", "--report", out, "--junit", xml,
                     "--html", os.path.join(sd, "m.html"),
                     "--trace", os.path.join(sd, "m.trace")] + paths)
            check(p.returncode == wrc,
                  "merge of %d exits %d, the whole run %d: %s" %
                  (n, p.returncode, wrc, p.stderr))
            with open(out) as f:
                merged = json.load(f)
            check("shard" not in merged, "the merged report has no shard")
            check(norm(merged) == norm(whole),
                  "merge of %d shards is not the whole run:\n%s\n%s" %
                  (n, json.dumps(norm(merged)), json.dumps(norm(whole))))
            check(merged["duration"] == max(
                json.load(open(x))["duration"] for x in paths),
                "duration is the longest shard's")
            check(merged["started_at"] == min(
                json.load(open(x))["started_at"] for x in paths),
                "started_at is the earliest shard's")
            # JUnit: valid, and the whole run's but for times.
            x = subprocess.run(["xmllint", "--noout", "--schema", XSD, xml],
                               capture_output=True, text=True)
            check(x.returncode == 0, "junit-10.xsd rejects: " + x.stderr)
            strip = lambda s: "\n".join(
                l for l in s.splitlines()
                if "<testsuite" not in l) if s else s
            import re
            untimed = lambda s: re.sub(r' (time|timestamp|hostname)="[^"]*"',
                                       "", s)
            check(untimed(open(xml).read()) ==
                  untimed(open(os.path.join(wd, "whole.xml")).read()),
                  "JUnit of %d shards is not the whole run's" % n)
            check('timestamp="%s"' % merged["started_at"] in open(xml).read(),
                  "JUnit's timestamp is the merged started_at")
            tr = json.load(open(os.path.join(sd, "m.trace")))
            names = {e["name"] for e in tr["traceEvents"] if e["ph"] == "X"}
            check({"a", "p", "g", "c"} <= names, "trace has the tasks")
            html = open(os.path.join(sd, "m.html")).read()
            check("the failing one" in html or ok, "HTML names the failure")


def fake(index, total, tasks, status="ok", code=0, job_hash=HASH,
         started="2026-12-05T10:00:00.000Z", duration=1.0):
    roots = [t.pop("_pos") for t in tasks if t["parent"] is None]
    return {"corun": 1, "job": "fake", "status": status, "exit_code": code,
            "started_at": started, "duration": duration, "summary": {},
            "shard": {"index": index, "total": total, "job_hash": job_hash,
                      "roots": roots},
            "tasks": tasks}


def task(id, pos=None, kind="sleep", parent=None, status="ok", result=None,
         error=None):
    t = {"id": id, "kind": kind, "parent": parent, "status": status,
         "queued": 0.0, "start": 0.0, "end": 0.001, "duration": 0.001,
         "attempts": 1, "result": result, "error": error}
    if pos is not None:
        t["_pos"] = pos
    return t


def write(d, name, rep):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        if isinstance(rep, str):
            f.write(rep)
        else:
            json.dump(rep, f)
    return path


def test_errors(d):
    ok1 = write(d, "s1.json", fake(1, 2, [task("a", 0)]))
    ok2 = write(d, "s2.json", fake(2, 2, [task("b", 1)]))
    other = write(d, "o2.json", fake(2, 2, [task("b", 1)], job_hash="77" * 32))
    third = write(d, "t3.json", fake(1, 3, [task("a", 0)]))
    broken = write(d, "broken.json",
                   '{"corun": 1, "job": "x",\n "tasks": [\n  {"id": "a",'
                   ' "kind": }\n ]}\n')
    cut = write(d, "cut.json", '{"corun": 1, "tasks": [{"id": "a"')
    noshard = write(d, "noshard.json",
                    {k: v for k, v in fake(1, 1, [task("a", 0)]).items()
                     if k != "shard"})
    notrep = write(d, "notrep.json", {"hello": "world"})
    out = os.path.join(d, "out.json")
    with open(out, "w") as f:
        f.write("untouched")
    cases = [
        ([ok1, other], ["different jobs", "s1.json", "o2.json"]),
        ([ok1], ["shard 2/2 is missing"]),
        ([ok1, ok1, ok2], ["shard 1/2 is given twice"]),
        ([ok1, third], ["shard 1/2", "shard 1/3"]),
        ([ok1, broken], ["broken.json:3:23: error: not a corun report"]),
        ([cut], ["cut.json:1:", "ends inside"]),
        ([noshard], ["noshard.json", "not a shard report"]),
        ([notrep], ["notrep.json", "not a corun report"]),
        ([os.path.join(d, "nothere.json")], ["nothere.json", "cannot read"]),
    ]
    for args, says in cases:
        p = run(["merge", "--report", out, "--junit", out + ".xml"] + args)
        check(p.returncode == 2, "%s: exit %d, not 2" % (args, p.returncode))
        for s in says:
            check(s in p.stderr, "%s: %r not in %r" % (args, s, p.stderr))
        check(open(out).read() == "untouched", "%s: output touched" % args)
        check(not os.path.exists(out + ".xml"), "%s: JUnit written" % args)
        check(not [x for x in os.listdir(d) if ".corun-" in x],
              "%s: a temporary file is left" % args)
    p = run(["merge"])
    check(p.returncode == 2 and "no report" in p.stderr, "no report: usage")
    # An output that cannot be made: exit 2, the others not left behind.
    p = run(["merge", "--junit", out + ".xml", "--report",
             os.path.join(d, "no", "such", "dir", "r.json"), ok1, ok2])
    check(p.returncode == 2 and "cannot create" in p.stderr,
          "an unwritable report: %d %s" % (p.returncode, p.stderr))
    check(not os.path.exists(out + ".xml") and
          not [x for x in os.listdir(d) if ".corun-" in x],
          "nothing left when the report cannot be made")
    # An output over a shard's report, or two outputs in one file, however
    # spelt: refused before anything is written.
    before = open(ok1).read()
    os.symlink(ok1, os.path.join(d, "link.json"))
    for outs, says in (
            (["--html", ok1], "is the shard report"),
            (["--trace", os.path.join(d, "link.json")], "is the shard report"),
            (["--report", out, "--junit",
              os.path.join(d, ".", "out.json")], "are one file")):
        p = run(["merge"] + outs + [ok1, ok2])
        check(p.returncode == 2 and says in p.stderr,
              "%s: %d %s" % (outs, p.returncode, p.stderr))
        check(open(ok1).read() == before, "%s: the shard report changed" % outs)
        check(open(out).read() == "untouched", "%s: output touched" % outs)
    p = run(["merge", "--bogus", ok1])
    check(p.returncode == 2 and "unknown option" in p.stderr, "bad option")
    # A root position no shard ran.
    a = write(d, "g1.json", fake(1, 2, [task("a", 0)]))
    b = write(d, "g2.json", fake(2, 2, [task("b", 5)]))
    p = run(["merge", a, b])
    check(p.returncode == 2 and "in no report" in p.stderr, "a gap: " +
          p.stderr)
    # A root position in two shards that is no split pipeline.
    a = write(d, "d1.json", fake(1, 2, [task("a", 0)]))
    b = write(d, "d2.json", fake(2, 2, [task("a", 0)]))
    p = run(["merge", a, b])
    check(p.returncode == 2 and "in both" in p.stderr, "a root twice")


def test_interrupted(d):
    a = write(d, "i1.json", fake(1, 2, [task("a", 0)]))
    b = write(d, "i2.json", fake(2, 2, [task("b", 1, status="cancelled",
                                             error={"type": "cancelled",
                                                    "message": "cancelled"})],
                                 status="cancelled", code=130))
    out = os.path.join(d, "i.json")
    xml = os.path.join(d, "i.xml")
    p = run(["merge", "--report", out, "--junit", xml, a, b])
    check(p.returncode == 130, "interrupted shard: exit %d" % p.returncode)
    m = json.load(open(out))
    check(m["status"] == "cancelled" and m["exit_code"] == 130,
          "interrupted shard: status %s" % m["status"])
    check(m["summary"] == {"ok": 1, "failed": 0, "timeout": 0,
                           "cancelled": 1, "skipped": 0},
          "summary recounted: %s" % m["summary"])
    check('name="corun"' in open(xml).read(), "JUnit has the corun error")


def stage(n, exact=None, buckets=None, processed=None, failed=0, qmax=1):
    h = {"n": n}
    if exact is not None:
        h["exact"] = exact
    if buckets is not None:
        h["buckets"] = buckets
    return {"processed": processed if processed is not None else n,
            "failed": failed, "queue_max": qmax, "p50": 0, "p90": 0,
            "p99": 0, "items_per_s": 10.0, "hist": h}


def pl(pos, stages, items, ok, failed, status="ok", error=None):
    return task("p", pos, kind="pipeline", status=status, error=error,
                result={"items": items, "ok": ok, "failed": failed,
                        "cancelled": 0, "stages": stages})


def test_pipeline(d):
    # Exact samples: a real run's durations dealt to three shards.
    wd = os.path.join(d, "plw")
    os.makedirs(wd)
    job = {"name": "pl", "tasks": [{"id": "p", "kind": "pipeline",
           "source": {"range": [0, 40]},
           "stages": [{"workers": 4, "task": {"kind": "sleep",
                                              "seconds": "${index}ms"}},
                      {"task": {"kind": "sleep", "seconds": 0}}]}]}
    whole, _ = run_job(job, os.path.join(wd, "job.json"))
    wst = whole["tasks"][0]["result"]["stages"]
    check(all("hist" in s and s["hist"]["n"] == 40 and
              len(s["hist"]["exact"]) == 40 for s in wst),
          "a stage's result carries its histogram: %s" % wst)
    parts = []
    for k in range(3):
        sts = []
        for s in wst:
            ex = s["hist"]["exact"][k::3]
            sts.append(stage(len(ex), exact=ex, qmax=k + 1,
                             failed=1 if k == 1 else 0))
        n = len(wst[0]["hist"]["exact"][k::3])
        err = {"type": "child", "message": "1 of %d items failed; the "
               "first: item 4 failed at stage 1: x" % n} if k == 1 else None
        parts.append(write(d, "p%d.json" % k, fake(
            k + 1, 3, [pl(0, sts, n, n - (k == 1), int(k == 1),
                          status="failed" if k == 1 else "ok", error=err)],
            status="failed" if k == 1 else "ok", code=int(k == 1))))
    out = os.path.join(d, "pm.json")
    p = run(["merge", "--report", out] + parts)
    check(p.returncode == 1, "a failed part fails the run: %d" % p.returncode)
    m = json.load(open(out))
    t = m["tasks"][0]
    check(t["status"] == "failed", "the merged pipeline failed")
    check(t["error"]["message"].startswith("1 of 40 items failed; the first:"),
          "the merged message counts every item: " + t["error"]["message"])
    r = t["result"]
    check((r["items"], r["ok"], r["failed"]) == (40, 39, 1),
          "counts added: %s" % r)
    for i, s in enumerate(r["stages"]):
        check(s["processed"] == 40 and s["failed"] == 1 and
              s["queue_max"] == 3, "stage counts: %s" % s)
        check(s["items_per_s"] == 30.0, "rates add up: %s" % s)
        for q in ("p50", "p90", "p99"):
            check(s[q] == wst[i][q], "stage %d %s: %s, one run: %s" %
                  (i, q, s[q], wst[i][q]))
        check(s["hist"] == wst[i]["hist"], "the merged histogram")
    check(m["summary"]["failed"] == 1 and m["summary"]["ok"] == 0,
          "a split pipeline counts once: %s" % m["summary"])
    # Past 4096 samples: buckets, as one run of 6,000 items fills them.
    bd = os.path.join(d, "plb")
    os.makedirs(bd)
    big = {"name": "big", "tasks": [{"id": "p", "kind": "pipeline",
           "source": {"range": [0, 6000]},
           "stages": [{"workers": 8, "task": {"kind": "sleep",
                                              "seconds": 0}}]}]}
    bwhole, _ = run_job(big, os.path.join(bd, "job.json"))
    bst = bwhole["tasks"][0]["result"]["stages"][0]
    check("buckets" in bst["hist"] and "exact" not in bst["hist"],
          "past 4096 samples a stage keeps buckets: %s" % bst["hist"].keys())
    halves = [[], []]
    for i, (b, c) in enumerate(bst["hist"]["buckets"]):
        halves[0].append([b, c // 2])
        halves[1].append([b, c - c // 2])
    parts = []
    for k in range(2):
        n = sum(c for _, c in halves[k])
        parts.append(write(d, "b%d.json" % k, fake(
            k + 1, 2, [pl(0, [stage(n, buckets=[x for x in halves[k]
                                                 if x[1]])], n, n, 0)])))
    p = run(["merge", "--report", out] + parts)
    check(p.returncode == 0, "bucket merge exits 0: " + p.stderr)
    s = json.load(open(out))["tasks"][0]["result"]["stages"][0]
    for q in ("p50", "p90", "p99"):
        check(s[q] == bst[q], "buckets %s: %s, one run: %s" % (q, s[q], bst[q]))
    check(s["hist"] == bst["hist"], "the merged buckets")


def test_results(d):
    job = {"name": "res", "tasks": [
        {"id": "p", "kind": "pipeline", "shard": True,
         "results": "out/items.jsonl",
         "source": {"items": ["a", "b", "c", "d", "e", "f", "g"]},
         "stages": [{"task": {"kind": "sleep", "seconds": 0,
                              "result": "${item}!"}}]},
        {"id": "z", "kind": "sleep", "seconds": 0}]}
    wd = os.path.join(d, "rw")
    os.makedirs(wd)
    run_job(whole_job(job), os.path.join(wd, "job.json"))
    want = [json.loads(l) for l in open(os.path.join(wd, "out/items.jsonl"))]
    want.sort(key=lambda x: x["index"])
    n = 3
    paths = make_shards(job, n, os.path.join(d, "rs"))
    for k, path in enumerate(paths, 1):
        # As a --shard run numbers them: by the item's place in the source.
        rf = os.path.join(os.path.dirname(path), "out/items.jsonl")
        lines = [json.loads(l) for l in open(rf)]
        with open(rf, "w") as f:
            for x in lines:
                x["index"] = x["index"] * n + k - 1
                f.write(json.dumps(x) + "\n")
    md = os.path.join(d, "rm")
    os.makedirs(md)
    p = run(["merge", "--results", "out/items.jsonl"] + paths, cwd=md)
    check(p.returncode == 0, "results merge: " + p.stderr)
    got = [json.loads(l) for l in open(os.path.join(md, "out/items.jsonl"))]
    check([x["index"] for x in got] == list(range(7)),
          "results in item order: %s" % [x["index"] for x in got])
    strip = lambda v: [(x["index"], x["item"], x["status"], x.get("result"))
                       for x in v]
    check(strip(got) == strip(want), "results as one run's: %s" % got)
    # A report output in the results file, or over a shard's results file:
    # refused before anything is written.
    shard_res = os.path.join(os.path.dirname(paths[0]), "out/items.jsonl")
    before = open(shard_res).read()
    for outs, says in ((["--report", "out/items.jsonl"], "are one file"),
                       (["--junit", "./out/../out/items.jsonl"],
                        "are one file"),
                       (["--report", shard_res], "results file")):
        p = run(["merge", "--results", "out/items.jsonl"] + outs + paths,
                cwd=md)
        check(p.returncode == 2 and says in p.stderr,
              "%s: %d %s" % (outs, p.returncode, p.stderr))
        check(open(shard_res).read() == before,
              "%s: a shard's results file changed" % outs)
    # A second --results that is not there: exit 2, and the first joined
    # file is not written either (nothing is, on a failed merge).
    os.remove(os.path.join(md, "out/items.jsonl"))
    p = run(["merge", "--report", "r.json", "--results", "out/items.jsonl",
             "--results", "out/none.jsonl"] + paths, cwd=md)
    check(p.returncode == 2 and "none.jsonl" in p.stderr,
          "a missing second results file: %d %s" % (p.returncode, p.stderr))
    check(not os.path.exists(os.path.join(md, "out/items.jsonl")) and
          not os.path.exists(os.path.join(md, "r.json")),
          "nothing written when the second results file is missing: %s" %
          os.listdir(os.path.join(md, "out")))
    # A shard's file missing: exit 2, nothing written.
    run(["merge", "--results", "out/items.jsonl"] + paths, cwd=md)
    os.remove(os.path.join(os.path.dirname(paths[1]), "out/items.jsonl"))
    os.remove(os.path.join(md, "out/items.jsonl"))
    p = run(["merge", "--report", "r.json", "--results", "out/items.jsonl"] +
            paths, cwd=md)
    check(p.returncode == 2 and "items.jsonl" in p.stderr,
          "a missing results file: %d %s" % (p.returncode, p.stderr))
    check(not os.path.exists(os.path.join(md, "out/items.jsonl")) and
          not os.path.exists(os.path.join(md, "r.json")),
          "nothing written when a results file is missing")


def test_two_results(d):
    """Two --results and a --junit in one merge: each file its own lines."""
    job = {"name": "res2", "tasks": [
        {"id": "a", "kind": "pipeline", "shard": True,
         "results": "out/a.jsonl", "source": {"items": ["a0", "a1", "a2"]},
         "stages": [{"task": {"kind": "sleep", "seconds": 0,
                              "result": "${item}"}}]},
        {"id": "b", "kind": "pipeline", "shard": True,
         "results": "out/b.jsonl", "source": {"items": ["b0", "b1", "b2"]},
         "stages": [{"task": {"kind": "sleep", "seconds": 0,
                              "result": "${item}"}}]}]}
    n = 2
    paths = make_shards(job, n, os.path.join(d, "s"))
    for k, path in enumerate(paths, 1):
        for name in ("a", "b"):
            rf = os.path.join(os.path.dirname(path), "out/%s.jsonl" % name)
            lines = [json.loads(l) for l in open(rf)]
            with open(rf, "w") as f:
                for x in lines:
                    x["index"] = x["index"] * n + k - 1
                    f.write(json.dumps(x) + "\n")
    md = os.path.join(d, "m")
    os.makedirs(md)
    p = run(["merge", "--results", "out/a.jsonl", "--results", "out/b.jsonl",
             "--junit", "j.xml", "--report", "r.json"] + paths, cwd=md)
    check(p.returncode == 0, "two results merge: " + p.stderr)
    for name in ("a", "b"):
        got = [json.loads(l) for l in open(os.path.join(md, "out/%s.jsonl" %
                                                          name))]
        check([x["item"] for x in got] == [name + "0", name + "1", name + "2"],
              "%s.jsonl holds its own items: %s" % (name, got))
    check(open(os.path.join(md, "j.xml")).read().startswith("<?xml"),
          "the JUnit beside them is XML")
    # An output that cannot be written whole (a full disk): none is put in
    # place, not the ones written before it either.
    for f in ("out/a.jsonl", "j.xml", "r.json"):
        os.remove(os.path.join(md, f))
    p = run(["merge", "--results", "out/a.jsonl", "--junit", "j.xml",
             "--report", "r.json", "--trace", "/dev/full"] + paths, cwd=md)
    check(p.returncode != 0 and "/dev/full" in p.stderr,
          "a full disk fails the merge: %d %s" % (p.returncode, p.stderr))
    left = [f for f in ("out/a.jsonl", "j.xml", "r.json")
            if os.path.exists(os.path.join(md, f))]
    check(left == [], "outputs put in place by a failed merge: %s" % left)


def main():
    d = tempfile.mkdtemp(prefix="corun-merge-")
    try:
        for t in (test_equal_to_whole, test_errors, test_interrupted,
                  test_pipeline, test_results, test_two_results):
            sub = os.path.join(d, t.__name__)
            os.makedirs(sub)
            before = len(failures)
            t(sub)
            print("%s: %s" % (t.__name__,
                              "ok" if len(failures) == before else "FAILED"))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if failures:
        print("%d failures" % len(failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
