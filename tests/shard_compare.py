#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Compares what a sharded run joined by "corun merge" wrote with what the
same job run whole wrote.

    shard_compare.py report WHOLE.json MERGED.json
    shard_compare.py junit WHOLE.xml MERGED.xml
    shard_compare.py results WHOLE.jsonl SHARD.jsonl...
    shard_compare.py shards N REPORT...
    shard_compare.py selftest

report:  the two JSON reports must be equal in everything but the times
         (queued, start, end, duration, started_at, a fetch's timings, a
         pipeline stage's p50/p90/p99/items_per_s) and the "shard" record
         the merge may keep or drop. Whether a task started at all (start
         null or not) is not a time and must agree.
junit:   the same test cases (classname, name) with the same outcome
         (passed, failure, error, skipped) and the same counts on each
         <testsuite>; times and output are not compared.
results: the lines of the shards' pipeline results files, put in item
         order, must be the whole run's lines (duration aside), each item
         exactly once.
shards:  the N shard reports record shard K of N (each K once), one
         job_hash, and no task in two of them (but for the pipelines every
         shard has a part of).
selftest: the comparisons above on hand-made inputs: equal ones pass,
         each kind of difference is found.

Exit status 0 when equal, 1 with every difference on stderr, 2 on bad use.
"""

import copy
import json
import sys
import xml.etree.ElementTree as ET

# Keys whose values are times (or rates, which are times too): they differ
# between any two runs.
TIME_KEYS = {"queued", "start", "end", "duration", "started_at",
             "p50", "p90", "p99", "items_per_s", "timings", "hist"}


def strip_times(value, also=()):
    """value without its times (and the keys in also); a start keeps
    whether it was null."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "start":
                out["started"] = v is not None
            elif k not in TIME_KEYS and k not in also:
                out[k] = strip_times(v, also)
        return out
    if isinstance(value, list):
        return [strip_times(v, also) for v in value]
    return value


def diff(a, b, path, out):
    """Appends to out one line per place where a and b differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = f"{path}/{k}"
            if k not in a:
                out.append(f"{p}: only in the merged one ({json.dumps(b[k])[:120]})")
            elif k not in b:
                out.append(f"{p}: missing from the merged one (whole: {json.dumps(a[k])[:120]})")
            else:
                diff(a[k], b[k], p, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} entries whole, {len(b)} merged")
        for i, (x, y) in enumerate(zip(a, b)):
            diff(x, y, f"{path}/{i}", out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: whole {json.dumps(a)[:120]}, merged {json.dumps(b)[:120]}")


def task_label(t):
    return t.get("id", "?") if isinstance(t, dict) else "?"


def compare_reports(whole, merged, also=()):
    """The differences between two reports, times and shard record aside
    (and the keys in also, wherever they are)."""
    w = copy.deepcopy(whole)
    m = copy.deepcopy(merged)
    w.pop("shard", None)
    m.pop("shard", None)
    out = []
    wt, mt = w.pop("tasks", []), m.pop("tasks", [])
    diff(strip_times(w, also), strip_times(m, also), "", out)
    # Tasks by id first, so that one missing task reads as that, not as
    # every task after it differing.
    wids = [task_label(t) for t in wt]
    mids = [task_label(t) for t in mt]
    if wids != mids:
        missing = [i for i in wids if i not in mids]
        extra = [i for i in mids if i not in wids]
        doubled = sorted({i for i in mids if mids.count(i) > 1})
        if missing:
            out.append(f"/tasks: missing from the merged one: {', '.join(missing)}")
        if extra:
            out.append(f"/tasks: only in the merged one: {', '.join(extra)}")
        if doubled:
            out.append(f"/tasks: more than once in the merged one: {', '.join(doubled)}")
        if not (missing or extra or doubled):
            out.append("/tasks: not in file order: whole " + " ".join(wids) +
                       "; merged " + " ".join(mids))
    byid = {task_label(t): t for t in mt}
    for t in wt:
        other = byid.get(task_label(t))
        if other is not None:
            diff(strip_times(t, also), strip_times(other, also),
                 f"/tasks/{task_label(t)}", out)
    return out


def junit_cases(path):
    """(suite counts, sorted list of (classname, name, outcome))."""
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    counts, cases = [], []
    for s in suites:
        counts.append((s.get("name"), s.get("tests"), s.get("failures"),
                       s.get("errors"), s.get("skipped")))
        for c in s.iter("testcase"):
            outcome = "passed"
            for tag in ("failure", "error", "skipped"):
                if c.find(tag) is not None:
                    outcome = tag
            cases.append((c.get("classname") or "", c.get("name") or "", outcome))
    return sorted(counts), sorted(cases)


def compare_junit(whole_path, merged_path):
    wc, wcases = junit_cases(whole_path)
    mc, mcases = junit_cases(merged_path)
    out = []
    if wc != mc:
        out.append(f"testsuite counts (name, tests, failures, errors, skipped): whole {wc}, merged {mc}")
    for c in wcases:
        if wcases.count(c) != mcases.count(c):
            out.append(f"testcase {c}: {wcases.count(c)} whole, {mcases.count(c)} merged")
    for c in mcases:
        if c not in wcases:
            out.append(f"testcase {c}: only in the merged one")
    return out


def read_lines(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def compare_results(whole_lines, shard_lines):
    """whole_lines: the whole run's results; shard_lines: every shard's."""
    out = []
    idx = [r.get("index") for r in shard_lines]
    for i in sorted({i for i in idx if idx.count(i) > 1}, key=str):
        out.append(f"results: item {i} in {idx.count(i)} shards' results")
    joined = sorted(shard_lines, key=lambda r: (r.get("index", -1)))
    w = [strip_times(r) for r in sorted(whole_lines, key=lambda r: r.get("index", -1))]
    j = [strip_times(r) for r in joined]
    widx = [r.get("index") for r in w]
    for i in widx:
        if i not in idx:
            out.append(f"results: item {i} in no shard's results")
    if not out:
        diff(w, j, "results", out)
    return out


def check_shards(n, reports):
    """The shard records of the N reports of one sharded run."""
    out = []
    seen, hashes, owner = {}, set(), {}
    if len(reports) != n:
        out.append(f"{len(reports)} shard reports for {n} shards")
    for name, r in reports:
        s = r.get("shard")
        if not isinstance(s, dict):
            out.append(f"{name}: no \"shard\" record")
            continue
        if s.get("total") != n:
            out.append(f"{name}: shard total {s.get('total')}, want {n}")
        k = s.get("index")
        if not isinstance(k, int) or not 1 <= k <= n:
            out.append(f"{name}: shard index {k!r} not in 1..{n}")
        elif k in seen:
            out.append(f"{name}: shard {k} again (also {seen[k]})")
        else:
            seen[k] = name
        hashes.add(s.get("job_hash"))
        split = {t.get("id") for t in r.get("tasks", [])
                 if t.get("kind") == "pipeline" and t.get("parent") is None}
        for t in r.get("tasks", []):
            tid = t.get("id")
            if tid in split:
                continue
            if tid in owner:
                out.append(f"task {tid} ran in {owner[tid]} and {name}")
            else:
                owner[tid] = name
    if len(hashes) != 1:
        out.append(f"job_hash differs between the shards: {sorted(map(str, hashes))}")
    missing = [k for k in range(1, n + 1) if k not in seen]
    if missing:
        out.append(f"no report of shard {', '.join(map(str, missing))}")
    return out


def selftest():
    """Each comparison on small hand-made inputs: what must pass does, each
    planted difference is found."""
    import tempfile
    import os
    bad = []

    def expect(name, found, want_equal):
        if bool(found) == want_equal:
            bad.append(f"selftest {name}: " +
                       ("differences found: " + "; ".join(found) if found
                        else "the difference was not found"))

    def task(tid, status="ok", start=0.0, result=None, kind="exec", parent=None):
        return {"id": tid, "kind": kind, "parent": parent, "status": status,
                "queued": 0.0, "start": start,
                "end": None if start is None else start + 1.0,
                "duration": None if start is None else 1.0, "attempts": 1,
                "result": result, "error": None}

    pipe = {"items": 4, "ok": 3, "failed": 1, "cancelled": 0,
            "stages": [{"processed": 4, "failed": 1, "queue_max": 1,
                        "p50": 0.1, "p90": 0.2, "p99": 0.2, "items_per_s": 9.5}]}
    whole = {"corun": 1, "job": "sim", "status": "failed", "exit_code": 1,
             "started_at": "2026-01-01T00:00:00.000Z", "duration": 2.0,
             "summary": {"ok": 3, "failed": 1, "timeout": 0, "cancelled": 0, "skipped": 1},
             "tasks": [task("a", result={"status": 200, "timings": {"total": 0.1}}),
                       task("b", "failed"), task("c", "skipped", start=None),
                       task("p", "failed", result=pipe, kind="pipeline")]}
    merged = copy.deepcopy(whole)
    merged["started_at"] = "2026-01-01T00:00:07.000Z"
    merged["duration"] = 0.7
    merged["shard"] = {"index": 1, "total": 2, "job_hash": "x"}
    for t in merged["tasks"]:
        if t["start"] is not None:
            t["start"] += 0.5
            t["end"] += 0.9
            t["duration"] = 0.4
            t["queued"] = 0.3
    merged["tasks"][0]["result"]["timings"]["total"] = 0.3
    merged["tasks"][3]["result"]["stages"][0].update(p50=0.3, p90=0.4, items_per_s=20)
    expect("times only", compare_reports(whole, merged), True)

    def planted(name, change):
        m = copy.deepcopy(merged)
        change(m)
        expect(name, compare_reports(whole, m), False)

    planted("status", lambda m: m["tasks"][1].update(status="ok"))
    planted("summary", lambda m: m["summary"].update(ok=4))
    planted("exit code", lambda m: m.update(exit_code=0))
    planted("missing task", lambda m: m["tasks"].pop(2))
    planted("doubled task", lambda m: m["tasks"].append(copy.deepcopy(m["tasks"][0])))
    planted("order", lambda m: m["tasks"].reverse())
    planted("pipeline count", lambda m: m["tasks"][3]["result"].update(ok=2))
    planted("queue_max", lambda m: m["tasks"][3]["result"]["stages"][0].update(queue_max=7))
    planted("started", lambda m: m["tasks"][2].update(start=1.0))
    planted("result", lambda m: m["tasks"][0]["result"].update(status=503))
    planted("extra key", lambda m: m.update(extra=1))

    wl = [{"index": i, "item": i, "status": "ok", "result": i * 2,
           "duration": 0.1} for i in range(5)]
    s1 = [dict(r, duration=0.5) for r in wl if r["index"] % 2 == 0]
    s2 = [dict(r, duration=0.2) for r in wl if r["index"] % 2 == 1]
    expect("results joined", compare_results(wl, s2 + s1), True)
    expect("results item lost", compare_results(wl, s1 + s2[1:]), False)
    expect("results item twice", compare_results(wl, s1 + s2 + s2[:1]), False)
    expect("results item differs",
           compare_results(wl, s1 + [dict(s2[0], status="failed")] + s2[1:]), False)

    def shard_report(k, n, ids, h="h1"):
        return (f"shard-{k}", {"shard": {"index": k, "total": n, "job_hash": h},
                               "tasks": [{"id": i, "kind": "exec", "parent": None}
                                         for i in ids] +
                               [{"id": "p", "kind": "pipeline", "parent": None}]})
    good = [shard_report(1, 2, ["a", "b"]), shard_report(2, 2, ["c"])]
    expect("shards", check_shards(2, good), True)
    expect("shard twice", check_shards(2, [good[0], good[0]]), False)
    expect("shard missing", check_shards(2, good[:1]), False)
    expect("task in two shards",
           check_shards(2, [good[0], shard_report(2, 2, ["a"])]), False)
    expect("job hashes", check_shards(2, [good[0], shard_report(2, 2, ["c"], "h2")]), False)

    with tempfile.TemporaryDirectory() as d:
        def xml(name, cases):
            p = os.path.join(d, name)
            body = "".join(
                f'<testcase classname="sim" name="{n}" time="0.{i}">' +
                ("" if o == "passed" else f"<{o}/>") + "</testcase>"
                for i, (n, o) in enumerate(cases))
            fails = sum(o == "failure" for _, o in cases)
            skips = sum(o == "skipped" for _, o in cases)
            with open(p, "w") as f:
                f.write(f'<testsuites><testsuite name="sim" tests="{len(cases)}" '
                        f'failures="{fails}" errors="0" skipped="{skips}">'
                        f'{body}</testsuite></testsuites>')
            return p
        cases = [("a", "passed"), ("b", "failure"), ("c", "skipped")]
        w = xml("w.xml", cases)
        expect("junit equal", compare_junit(w, xml("m.xml", list(reversed(cases)))), True)
        expect("junit outcome", compare_junit(
            w, xml("m2.xml", [("a", "passed"), ("b", "passed"), ("c", "skipped")])), False)
        expect("junit case lost", compare_junit(w, xml("m3.xml", cases[:2])), False)
    return bad


def main(argv):
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmd, args = argv[1], argv[2:]
    if cmd == "report" and len(args) == 2:
        with open(args[0], encoding="utf-8") as f:
            whole = json.load(f)
        with open(args[1], encoding="utf-8") as f:
            merged = json.load(f)
        out = compare_reports(whole, merged)
    elif cmd == "junit" and len(args) == 2:
        out = compare_junit(args[0], args[1])
    elif cmd == "results" and len(args) >= 1:
        shard = [r for p in args[1:] for r in read_lines(p)]
        out = compare_results(read_lines(args[0]), shard)
    elif cmd == "shards" and len(args) >= 1:
        reports = []
        for p in args[1:]:
            with open(p, encoding="utf-8") as f:
                reports.append((p, json.load(f)))
        out = check_shards(int(args[0]), reports)
    elif cmd == "selftest" and not args:
        out = selftest()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for line in out[:30]:
        print(f"{cmd}: {line}", file=sys.stderr)
    if len(out) > 30:
        print(f"{cmd}: ... and {len(out) - 30} more", file=sys.stderr)
    return 1 if out else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
