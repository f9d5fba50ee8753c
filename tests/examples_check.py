#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Checks the CI examples in examples/ against corun and each other.

    examples_check.py --corun BIN --src DIR [--k8s-json FILE]

1. Every YAML file in examples/ parses (python3-yaml).
2. Each example has the shape its engine needs to run corun in shards:
   GitHub Actions (a matrix of 4 shards, each uploading its report; a merge
   job that needs the matrix, runs always, downloads every report and
   publishes the JUnit file), GitLab CI ("parallel: 4"; a merge job in a
   later stage that needs it and hands GitLab the JUnit file), Kubernetes
   (an Indexed Job of 4 completions writing to a PersistentVolumeClaim, a
   merge Job reading the same claim, and the ConfigMap the job file comes
   from named alike in the comment that creates it and in the Job).
3. Every build of corun in them (the GitHub and GitLab steps, the
   Dockerfile) is the README's first command, less its demo run.
4. examples/job.json passes "corun --check".
5. Every corun command line in them (run steps, scripts, container
   commands) runs as written: each engine is played here, shards started
   together with the variables the engine sets (the matrix value, GitLab's
   CI_NODE_INDEX/CI_NODE_TOTAL, Kubernetes' JOB_COMPLETION_INDEX, the
   volumes as local folders), the files they upload handed on as the engine
   would, and the merge run on them; every corun must exit 0, the files the
   engine publishes must exist, and each merged report must be the report
   of one whole run of examples/job.json but for the times (see
   tests/shard_compare.py). The corun lines of examples/README.md's sh
   blocks run too, each must exit 0.
   PENDING SHARDING: while corun has no --shard and merge, step 4 checks
   job.json without its pipelines' "shard" field and step 5 lists the
   command lines instead of running them. Once sharding is on main, set
   SHARDING_LANDED below to True: a corun without it is then a failure.

--k8s-json FILE writes the Kubernetes manifests as one JSON array, for the
schema validation in tests/examples_lint.mjs.
Exit status 0 when all is well, 1 otherwise.
"""

import argparse
import fnmatch
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shard_compare  # noqa: E402

# Set to True once --shard and "corun merge" are on main.
SHARDING_LANDED = True

# The engines' variables: cleared for every corun run here, whatever the
# environment running the test has.
SHARD_VARS = ["CORUN_SHARD", "CI_NODE_INDEX", "CI_NODE_TOTAL",
              "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL",
              "BUILDKITE_PARALLEL_JOB", "BUILDKITE_PARALLEL_JOB_COUNT",
              "JOB_COMPLETION_INDEX", "CORUN_SHARD_TOTAL", "GITHUB_ACTIONS",
              "CORUN_DEBUG"]

errors = []


def fail(msg):
    errors.append(msg)
    print(f"FAIL: {msg}")


def need(cond, msg):
    if not cond:
        fail(msg)
    return cond


def load_yaml_files(src):
    docs = {}
    ex = os.path.join(src, "examples")
    paths = sorted(glob.glob(f"{ex}/**/*.y*ml", recursive=True) +
                   glob.glob(f"{ex}/**/.*.y*ml", recursive=True))
    for p in paths:
        rel = os.path.relpath(p, src)
        try:
            with open(p, encoding="utf-8") as f:
                docs[rel] = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            fail(f"{rel}: not YAML: {e}")
    return docs


def readme_build(src):
    """The parts of the README's first command that build and install."""
    with open(os.path.join(src, "README.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"```sh\n(.*?)\n", text)
    if not m:
        fail("README.md: no first command (a ```sh block) found")
        return []
    parts = [p.strip() for p in m.group(1).split("&&")]
    return [p for p in parts if not p.startswith("./jobs/")]


def check_build(where, text, parts):
    for p in parts:
        need(p in text, f"{where}: the build differs from the README's first "
                        f"command: \"{p}\" is not in it")


def corun_lines(script):
    """The lines of a shell script that run corun."""
    return [ln.strip() for ln in script.splitlines()
            if re.match(r"\s*corun(\s|$)", ln)]


def run_text(step):
    return step.get("run", "") if isinstance(step, dict) else ""


# --- GitHub Actions ---------------------------------------------------------

def gh_expand(text, ctx, where):
    def sub(m):
        expr = m.group(1).strip()
        if expr not in ctx:
            fail(f"{where}: unknown expression ${{{{ {expr} }}}}")
            return ""
        return str(ctx[expr])
    return re.sub(r"\$\{\{(.*?)\}\}", sub, text)


def check_github(rel, wf, build):
    lines = []
    need(isinstance(wf, dict), f"{rel}: not a mapping")
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare on as true
    need(on, f"{rel}: no 'on' trigger")
    jobs = wf.get("jobs", {})
    shard_job = merge_job = None
    for name, j in jobs.items():
        if "shard" in (j.get("strategy") or {}).get("matrix", {}):
            shard_job = name
    for name, j in jobs.items():
        needs = j.get("needs", [])
        needs = [needs] if isinstance(needs, str) else needs
        if shard_job in needs:
            merge_job = name
    if not need(shard_job, f"{rel}: no job with a 'shard' matrix") or \
            not need(merge_job, f"{rel}: no job that needs the shard job"):
        return None
    sj, mj = jobs[shard_job], jobs[merge_job]
    shards = sj["strategy"]["matrix"]["shard"]
    need(shards == [1, 2, 3, 4], f"{rel}: matrix.shard is {shards}, want [1, 2, 3, 4]")
    need(sj["strategy"].get("fail-fast") is False,
         f"{rel}: a failing shard would cancel the others (fail-fast)")
    need(str(mj.get("if", "")).strip() in ("always()", "${{ always() }}"),
         f"{rel}: the merge job does not run always (if: always())")
    for name in (shard_job, merge_job):
        builds = [run_text(s) for s in jobs[name].get("steps", [])
                  if "cmake" in run_text(s)]
        if need(builds, f"{rel}: job {name} does not build corun"):
            check_build(f"{rel}: job {name}", builds[0], build)
    steps = sj.get("steps", [])
    runs = [s for s in steps if corun_lines(run_text(s))]
    need(len(runs) == 1, f"{rel}: {len(runs)} steps of {shard_job} run corun, want 1")
    for s in runs:
        for ln in corun_lines(run_text(s)):
            need("--shard" in ln, f"{rel}: '{ln}' runs no shard")
            lines.append(ln)
    uploads = [s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact@v4")]
    need(len(uploads) == 1 and str(uploads[0].get("if", "")) == "always()",
         f"{rel}: {shard_job} must upload its report with actions/upload-artifact@v4, if: always()")
    msteps = mj.get("steps", [])
    downloads = [s for s in msteps if str(s.get("uses", "")).startswith("actions/download-artifact@v4")]
    need(len(downloads) == 1 and (downloads[0].get("with") or {}).get("merge-multiple") is True,
         f"{rel}: {merge_job} must download with actions/download-artifact@v4, merge-multiple: true")
    mruns = [s for s in msteps if corun_lines(run_text(s))]
    for s in mruns:
        for ln in corun_lines(run_text(s)):
            need(ln.startswith("corun merge "), f"{rel}: '{ln}' in the merge job is not a merge")
            lines.append(ln)
    need(mruns, f"{rel}: {merge_job} runs no corun merge")
    junits = [s for s in msteps if "junit" in str(s.get("uses", "")).lower()]
    need(junits and str(junits[0].get("if", "")) == "always()",
         f"{rel}: {merge_job} does not publish the JUnit file (if: always())")
    return {"shards": shards, "run": runs[0] if runs else None,
            "upload": uploads[0] if uploads else None,
            "download": downloads[0] if downloads else None,
            "merge": mruns, "junit": junits[0] if junits else None,
            "lines": lines}


def play_github(rel, g, env, src, work):
    """The shard job once per matrix value, the artifacts, the merge job."""
    artifacts = {}
    procs = []
    for k in g["shards"]:
        d = os.path.join(work, f"gh-{k}")
        checkout(src, d)
        ctx = {"matrix.shard": k}
        script = gh_expand(g["run"]["run"], ctx, rel)
        e = dict(env, **{n: gh_expand(str(v), ctx, rel)
                         for n, v in (g["run"].get("env") or {}).items()})
        procs.append((k, d, ctx, subprocess.Popen(
            ["bash", "-e", "-c", script], cwd=d, env=e,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    for k, d, ctx, p in procs:
        out = p.communicate()[0].decode(errors="replace")
        if not need(p.returncode == 0, f"{rel}: shard {k} exits {p.returncode}:\n{out}"):
            continue
        w = g["upload"]["with"]
        name = gh_expand(w["name"], ctx, rel)
        path = gh_expand(w["path"], ctx, rel)
        files = [f for pat in path.split() for f in glob.glob(os.path.join(d, pat))]
        need(files, f"{rel}: shard {k} made no {path} to upload")
        need(name not in artifacts, f"{rel}: two shards upload artifact {name}")
        artifacts[name] = files
    d = os.path.join(work, "gh-merge")
    checkout(src, d)
    dw = g["download"].get("with") or {}
    got = [n for n in artifacts if fnmatch.fnmatch(n, dw.get("pattern", "*"))]
    need(len(got) == len(g["shards"]),
         f"{rel}: the download pattern {dw.get('pattern')} finds {len(got)} of {len(g['shards'])} artifacts")
    for n in got:
        for f in artifacts[n]:
            shutil.copy(f, os.path.join(d, dw.get("path", "."), os.path.basename(f)))
    merged = []
    for s in g["merge"]:
        p = subprocess.run(["bash", "-e", "-c", s["run"]], cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        need(p.returncode == 0, f"{rel}: the merge step exits {p.returncode}:\n"
                                f"{p.stdout.decode(errors='replace')}")
        merged += [os.path.join(d, r) for r in reports_of(s["run"])]
    rp = (g["junit"].get("with") or {}).get("report_paths", "")
    need(glob.glob(os.path.join(d, rp)), f"{rel}: no {rp} for the JUnit step to publish")
    return merged


# --- GitLab CI --------------------------------------------------------------

def check_gitlab(rel, ci, build):
    lines = []
    stages = ci.get("stages", [])
    jobs = {n: j for n, j in ci.items() if isinstance(j, dict) and n not in ("default", "variables", "workflow")}

    def resolved(name):
        j = dict(jobs[name])
        ext = j.get("extends")
        for e in ([ext] if isinstance(ext, str) else ext or []):
            j = {**resolved(e), **j}
        return j
    par = [n for n, j in jobs.items() if not n.startswith(".") and "parallel" in j]
    if not need(len(par) == 1, f"{rel}: {len(par)} jobs with 'parallel', want 1"):
        return None
    pj = resolved(par[0])
    need(pj["parallel"] == 4, f"{rel}: parallel is {pj['parallel']}, want 4")
    merge = []
    for n, j in jobs.items():
        needs = [x if isinstance(x, str) else x.get("job") for x in j.get("needs", [])]
        if par[0] in needs:
            merge.append(n)
    if not need(len(merge) == 1, f"{rel}: {len(merge)} jobs need {par[0]}, want 1"):
        return None
    mj = resolved(merge[0])
    need(mj.get("stage") in stages and pj.get("stage") in stages and
         stages.index(mj["stage"]) > stages.index(pj["stage"]),
         f"{rel}: {merge[0]} is not in a stage after {par[0]}'s")
    need(mj.get("when") == "always", f"{rel}: {merge[0]} does not run always (when: always)")
    junit = ((mj.get("artifacts") or {}).get("reports") or {}).get("junit")
    need(junit, f"{rel}: {merge[0]} has no artifacts: reports: junit:")
    need((pj.get("artifacts") or {}).get("when") == "always",
         f"{rel}: {par[0]} keeps its report only when it passed (artifacts: when: always)")
    for n, j in ((par[0], pj), (merge[0], mj)):
        bs = "\n".join(j.get("before_script", []) + j.get("script", []))
        check_build(f"{rel}: job {n}", bs, build)
    for ln in [c for s in pj.get("script", []) for c in corun_lines(s)]:
        need("--shard auto" in ln, f"{rel}: '{ln}' does not take its shard from GitLab (--shard auto)")
        lines.append(ln)
    for ln in [c for s in mj.get("script", []) for c in corun_lines(s)]:
        need(ln.startswith("corun merge "), f"{rel}: '{ln}' in {merge[0]} is not a merge")
        lines.append(ln)
    return {"par": pj, "merge": mj, "junit": junit, "lines": lines}


def play_gitlab(rel, g, env, src, work):
    n = g["par"]["parallel"]
    procs = []
    for k in range(1, n + 1):
        d = os.path.join(work, f"gl-{k}")
        checkout(src, d)
        e = dict(env, CI_NODE_INDEX=str(k), CI_NODE_TOTAL=str(n))
        procs.append((k, d, subprocess.Popen(
            ["bash", "-e", "-c", "\n".join(g["par"]["script"])], cwd=d, env=e,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)))
    d = os.path.join(work, "gl-merge")
    checkout(src, d)
    for k, sd, p in procs:
        out = p.communicate()[0].decode(errors="replace")
        need(p.returncode == 0, f"{rel}: node {k} exits {p.returncode}:\n{out}")
        files = [f for pat in g["par"]["artifacts"]["paths"] for f in glob.glob(os.path.join(sd, pat))]
        need(files, f"{rel}: node {k} made nothing that artifacts: paths: keeps")
        for f in files:
            dst = os.path.join(d, os.path.relpath(f, sd))
            need(not os.path.exists(dst), f"{rel}: two nodes keep {os.path.relpath(f, sd)}")
            shutil.copy(f, dst)
    script = "\n".join(g["merge"]["script"])
    p = subprocess.run(["bash", "-e", "-c", script], cwd=d, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    need(p.returncode == 0, f"{rel}: the merge job exits {p.returncode}:\n"
                            f"{p.stdout.decode(errors='replace')}")
    need(os.path.exists(os.path.join(d, g["junit"])), f"{rel}: no {g['junit']} for GitLab to read")
    for pat in g["merge"]["artifacts"]["paths"]:
        need(glob.glob(os.path.join(d, pat)), f"{rel}: the merge job made no {pat}")
    return [os.path.join(d, r) for r in reports_of(script)]


# --- Kubernetes -------------------------------------------------------------

def check_kubernetes(src, docs):
    by = {}
    for rel, ds in docs.items():
        if not rel.startswith("examples/kubernetes/"):
            continue
        for d in ds:
            need("apiVersion" in d and "kind" in d, f"{rel}: a document without apiVersion and kind")
            by.setdefault(d.get("kind"), []).append((rel, d))
    jobs = by.get("Job", [])
    indexed = [(r, d) for r, d in jobs if d["spec"].get("completionMode") == "Indexed"]
    merges = [(r, d) for r, d in jobs if d["spec"].get("completionMode") != "Indexed"]
    pvcs = {d["metadata"]["name"] for _, d in by.get("PersistentVolumeClaim", [])}
    if not (need(len(indexed) == 1, "examples/kubernetes: want one Indexed Job") and
            need(len(merges) == 1, "examples/kubernetes: want one merge Job")):
        return None
    rel, ij = indexed[0]
    spec = ij["spec"]
    need(spec.get("completions") == 4 and spec.get("parallelism") == 4,
         f"{rel}: completions and parallelism must be 4")
    c = spec["template"]["spec"]["containers"][0]
    envs = {e["name"]: e.get("value") for e in c.get("env", [])}
    need(envs.get("CORUN_SHARD_TOTAL") == "4", f"{rel}: CORUN_SHARD_TOTAL is not \"4\"")
    argv = c.get("command", []) + c.get("args", [])
    lines = container_lines(argv)
    need(any("--shard auto" in ln for ln in lines), f"{rel}: the container runs no corun --shard auto")
    mrel, mj = merges[0]
    mc = mj["spec"]["template"]["spec"]["containers"][0]
    margv = mc.get("command", []) + mc.get("args", [])
    mlines = container_lines(margv)
    need(any(ln.startswith("corun merge ") for ln in mlines), f"{mrel}: the container runs no corun merge")

    def claims(job):
        return {v["persistentVolumeClaim"]["claimName"]
                for v in job["spec"]["template"]["spec"].get("volumes", [])
                if "persistentVolumeClaim" in v}
    need(claims(ij) and claims(ij) == claims(mj) and claims(ij) <= pvcs,
         f"{rel}, {mrel}: the Jobs must share one PersistentVolumeClaim defined here")
    # The job file: a ConfigMap made by the command in the comments.
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"kubectl create configmap (\S+) --from-file=([^=\s]+)=(\S+)", text)
    cms = [v["configMap"]["name"] for v in spec["template"]["spec"].get("volumes", [])
           if "configMap" in v]
    configmap = None
    if need(m, f"{rel}: no 'kubectl create configmap' in the comments"):
        need(cms == [m.group(1)], f"{rel}: the Job mounts ConfigMap {cms}, the comment makes {m.group(1)}")
        need(os.path.exists(os.path.join(src, m.group(3))), f"{rel}: {m.group(3)} does not exist")
        configmap = {m.group(2): os.path.join(src, m.group(3))}
    need(re.search(r"kubectl wait --for=condition=complete\b.*job/" +
                   re.escape(ij["metadata"]["name"]), text),
         f"{rel}: the comments do not say to wait for job/{ij['metadata']['name']} before the merge")
    return {"rel": rel, "job": ij, "mrel": mrel, "merge": mj, "configmap": configmap,
            "lines": lines + mlines,
            "docs": [d for ds in by.values() for _, d in ds]}


def container_lines(argv):
    """The corun command lines a container runs: its argv, or the lines of
    the script it hands a shell."""
    if argv[:1] == ["corun"]:
        return [shlex.join(argv)]
    if argv[:1] in (["sh"], ["bash"]) and "-c" in argv:
        return corun_lines(argv[argv.index("-c") + 1])
    return []


def k8s_argv(job, dirs):
    """The container's argv and env with each volume's mount path turned into
    a local folder."""
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    vols = {v["name"]: v for v in pod.get("volumes", [])}
    repl = []
    for vm in c.get("volumeMounts", []):
        v = vols[vm["name"]]
        key = ("pvc:" + v["persistentVolumeClaim"]["claimName"]) if "persistentVolumeClaim" in v \
            else ("cm:" + v["configMap"]["name"])
        repl.append((vm["mountPath"].rstrip("/"), dirs[key]))

    def local(s):
        for mp, d in repl:
            s = re.sub(re.escape(mp) + r"(?=/|$|\s|\")", d, s)
        return s
    argv = [local(a) for a in c.get("command", []) + c.get("args", [])]
    env = {e["name"]: e["value"] for e in c.get("env", [])}
    return argv, env


def play_kubernetes(k, env, work):
    dirs = {}
    for v in k["job"]["spec"]["template"]["spec"]["volumes"] + \
            k["merge"]["spec"]["template"]["spec"]["volumes"]:
        if "persistentVolumeClaim" in v:
            key = "pvc:" + v["persistentVolumeClaim"]["claimName"]
        else:
            key = "cm:" + v["configMap"]["name"]
            d = os.path.join(work, "k8s-" + key.replace(":", "-"))
            os.makedirs(d, exist_ok=True)
            for name, path in (k["configmap"] or {}).items():
                shutil.copy(path, os.path.join(d, name))
            dirs[key] = d
            continue
        d = os.path.join(work, "k8s-" + key.replace(":", "-"))
        os.makedirs(d, exist_ok=True)
        dirs[key] = d
    argv, cenv = k8s_argv(k["job"], dirs)
    procs = []
    for i in range(k["job"]["spec"]["completions"]):
        e = dict(env, **cenv, JOB_COMPLETION_INDEX=str(i))
        procs.append((i, subprocess.Popen(argv, env=e, cwd=work, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT)))
    for i, p in procs:
        out = p.communicate()[0].decode(errors="replace")
        need(p.returncode == 0, f"{k['rel']}: index {i} exits {p.returncode}:\n{out}")
    margv, menv = k8s_argv(k["merge"], dirs)
    p = subprocess.run(margv, env=dict(env, **menv), cwd=work,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    need(p.returncode == 0, f"{k['mrel']}: the merge exits {p.returncode}:\n"
                            f"{p.stdout.decode(errors='replace')}")
    return reports_of(shlex.join(margv))


# --- helpers ----------------------------------------------------------------

def reports_of(script):
    """The --report files of the corun merge lines of a script."""
    out = []
    for ln in corun_lines(script):
        w = shlex.split(ln)
        if "--report" in w:
            out.append(w[w.index("--report") + 1])
    return out


def checkout(src, d):
    """A folder standing for the repository's checkout: examples/ in it."""
    os.makedirs(d, exist_ok=True)
    os.symlink(os.path.join(src, "examples"), os.path.join(d, "examples"))


def readme_lines(src):
    """The corun command lines in examples/README.md's sh blocks (variables
    set before them included)."""
    with open(os.path.join(src, "examples/README.md"), encoding="utf-8") as f:
        blocks = re.findall(r"```sh\n(.*?)```", f.read(), re.S)
    return [ln.strip() for b in blocks for ln in b.splitlines()
            if re.match(r"\s*([A-Z_]+=\S+\s+)*corun\s", ln)]


def play_readme(lines, env, src, work):
    d = os.path.join(work, "readme")
    checkout(src, d)
    for ln in lines:
        p = subprocess.run(["bash", "-e", "-c", ln], cwd=d, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        need(p.returncode == 0, f"examples/README.md: '{ln}' exits {p.returncode}:\n"
                                f"{p.stdout.decode(errors='replace')}")
    if lines:
        print(f"ok: examples/README.md: {len(lines)} command lines run as written")


def has_sharding(corun):
    h = subprocess.run([corun, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT).stdout.decode(errors="replace")
    return "--shard" in h and re.search(r"\bmerge\b", h) is not None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corun", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--k8s-json")
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    corun = os.path.abspath(a.corun)

    docs = load_yaml_files(src)
    need(docs, "no YAML in examples/")
    build = readme_build(src)
    gh = gl = k8s = None
    for rel, ds in docs.items():
        if rel.startswith("examples/github-actions/"):
            gh = check_github(rel, ds[0], build)
            gh_rel = rel
        elif rel.endswith(".gitlab-ci.yml"):
            gl = check_gitlab(rel, ds[0], build)
            gl_rel = rel
    need(gh, "no GitHub Actions workflow in examples/github-actions/")
    need(gl, "no .gitlab-ci.yml in examples/gitlab-ci/")
    k8s = check_kubernetes(src, docs)
    with open(os.path.join(src, "examples/kubernetes/Dockerfile"), encoding="utf-8") as f:
        check_build("examples/kubernetes/Dockerfile", f.read(), build)
    if a.k8s_json and k8s:
        with open(a.k8s_json, "w") as f:
            json.dump(k8s["docs"], f)

    sharding = has_sharding(corun)
    if SHARDING_LANDED and not sharding:
        fail(f"{corun} --help names no --shard or merge")
    job = os.path.join(src, "examples/job.json")
    work = tempfile.mkdtemp(prefix="corun-examples-")
    try:
        if sharding:
            check_job = job
        else:
            with open(job) as f:
                j = json.load(f)
            for t in j["tasks"]:
                t.pop("shard", None)
            check_job = os.path.join(work, "job.json")
            with open(check_job, "w") as f:
                json.dump(j, f)
        p = subprocess.run([corun, "--check", check_job], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        need(p.returncode == 0, f"examples/job.json: corun --check exits {p.returncode}:\n"
                                f"{p.stdout.decode(errors='replace')}")
        rlines = readme_lines(src)
        need(rlines, "examples/README.md shows no corun command line")
        lines = [ln for g in (gh, gl, k8s) if g for ln in g["lines"]] + rlines
        if not sharding:
            print("PENDING SHARDING: corun has no --shard and merge yet; these "
                  "command lines are not run:")
            for ln in lines:
                print(f"  {ln}")
        else:
            play(corun, src, job, work, gh, gh_rel, gl, gl_rel, k8s, rlines)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if errors:
        print(f"examples: {len(errors)} problems")
        return 1
    print("examples: ok" + ("" if sharding else " (command lines pending sharding)"))
    return 0


def play(corun, src, job, work, gh, gh_rel, gl, gl_rel, k8s, rlines):
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir)
    os.symlink(corun, os.path.join(bindir, "corun"))
    env = {k: v for k, v in os.environ.items() if k not in SHARD_VARS}
    env["PATH"] = bindir + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    whole = os.path.join(work, "whole.json")
    p = subprocess.run([corun, "-q", "--report", whole, job], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if not need(p.returncode == 0 and os.path.exists(whole),
                f"examples/job.json: a whole run exits {p.returncode}:\n"
                f"{p.stdout.decode(errors='replace')}"):
        return
    with open(whole) as f:
        whole_report = json.load(f)
    plays = []
    if gh:
        plays.append((gh_rel, lambda: play_github(gh_rel, gh, env, src, work)))
    if gl:
        plays.append((gl_rel, lambda: play_gitlab(gl_rel, gl, env, src, work)))
    if k8s:
        plays.append((k8s["rel"], lambda: play_kubernetes(k8s, env, work)))
    for rel, play_one in plays:
        before = len(errors)
        reports = play_one()
        need(reports, f"{rel}: no merged report to compare")
        for r in reports:
            if not need(os.path.exists(r), f"{rel}: the merge wrote no {r}"):
                continue
            with open(r) as f:
                # queue_max depends on how many items a shard holds and on
                # how fast they go: job.json does not pin it, the way the
                # job of tests/shard_sim.sh does.
                out = shard_compare.compare_reports(whole_report, json.load(f),
                                                    also=("queue_max",))
            need(not out, f"{rel}: the merged report is not the whole run's:\n  " +
                 "\n  ".join(out))
        if len(errors) == before:
            print(f"ok: {rel} runs as written and merges into the whole run")
    play_readme(rlines, env, src, work)


if __name__ == "__main__":
    sys.exit(main())
