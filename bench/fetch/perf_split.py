#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
#
# Splits a corun perf profile into the per-request costs that matter for
# fetch: reads `perf script -F ip,sym,dso` (samples with call chains, as
# recorded by `perf record --call-graph dwarf -F HZ`) on stdin and puts
# each sample in one bucket, chosen by the innermost frame of its stack
# that names one (so malloc called from the write callback counts as the
# write callback, and the write callback called from curl as the write
# callback, not as curl). Prints a markdown table: share of samples, CPU
# microseconds per request, and what kind of work it
# was: system calls, page faults (memory touched for the first time; each
# costs microseconds on a virtual machine), malloc/free, or the rest.
#
# Usage: perf script -i perf.data -F ip,sym,dso | perf_split.py HZ N [US]
# Microseconds per request are samples / HZ / N, unless US is given: the
# CPU microseconds per request of a run without perf record (perf stat),
# which the shares then divide. Recording call stacks slows the process
# down, so US gives the truer figures.
import re
import sys

# (bucket, regular expression on a frame's symbol), innermost match wins.
RULES = [
    ("result: make_result (cJSON nodes, getinfo, body copy)",
     r"^(make_result|secs_of|utf8_text)$"),
    ("write callback on_data (body kept in a buffer)", r"^on_data$"),
    ("easy handle: reset + setopt (setup_easy)",
     r"^(setup_easy|curl_easy_reset|curl_easy_setopt)$"),
    ("easy handle: pool get/put, init/cleanup",
     r"^(corun__http_easy_(get|put)|curl_easy_init|curl_easy_cleanup)$"),
    ("multi add/remove handle",
     r"^(curl_multi_add_handle|curl_multi_remove_handle|corun__http_add|"
     r"corun__http_remove)$"),
    ("socket callback: uv_poll init/start per socket", r"^socket_cb$"),
    ("socket close: uv_close of the watcher", r"^(sock_drop|sock_closed)$"),
    ("curl timer callback (uv_timer)", r"^timer_cb$"),
    ("redirect/origin checks (curl_url)", r"^(same_origin|follow)$"),
    ("libcurl transfer (curl_multi_socket_action: HTTP, send, recv)",
     r"^curl_multi_socket_action$"),
    ("fetch done/launch, task finish, scheduler",
     r"^(done|launch|begin_attempt|start|check_done|corun__task_\w+|"
     r"corun__sem_\w+|corun__tq_\w+|corun__timer_\w+)$"),
    ("job load (read + parse the job file)", r"^corun_job_load\w*$"),
    ("teardown (free tasks and results at exit)",
     r"^(corun_job_free|corun_run_close|close_step|released|free_task|release|"
     r"corun__http_close|curl_multi_cleanup)$"),
    ("event loop (uv_run, epoll_wait)", r"^uv_run$"),
    ("process start (dynamic loader, libcurl/TLS init)",
     r"^(_dl_\w+|_start|curl_global_init|dl_main)$"),
]
RULES = [(name, re.compile(rx)) for name, rx in RULES]
FRAME = re.compile(r"^\s*[0-9a-f]+ (.*?) \((.*)\)$")
ALLOC = re.compile(r"^(_int_malloc|_int_free|_int_realloc|malloc|free|"
                   r"calloc|realloc|cfree(@.*)?|malloc_consolidate|"
                   r"unlink_chunk.*|sysmalloc|__libc_(malloc|free|calloc|"
                   r"realloc)|__GI___libc_(malloc|free|calloc|realloc)|"
                   r"tcache_\w+)$")
KINDS = ("syscall", "fault", "alloc", "rest")


def kind_of(frames):
    """What a sample was doing, judged from the leaf outwards."""
    for sym, _ in frames:
        if sym in ("asm_exc_page_fault", "exc_page_fault"):
            return "fault"
        if sym.startswith("entry_SYSCALL"):
            return "syscall"
        if ALLOC.match(sym):
            return "alloc"
    return "rest"


def bucket_of(frames):
    for sym, _ in frames:  # innermost first
        for name, rx in RULES:
            if rx.match(sym):
                return name
    return "other"


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit("usage: perf script ... | perf_split.py HZ REQUESTS [US]")
    hz, n = float(sys.argv[1]), int(sys.argv[2])
    us = float(sys.argv[3]) if len(sys.argv) == 4 else None
    counts, kinds, total = {}, {}, 0
    frames = []

    def flush():
        nonlocal total
        if not frames:
            return
        b = bucket_of(frames)
        counts[b] = counts.get(b, 0) + 1
        k = kinds.setdefault(b, dict.fromkeys(KINDS, 0))
        k[kind_of(frames)] += 1
        total += 1
        frames.clear()

    for line in sys.stdin:
        m = FRAME.match(line.rstrip("\n"))
        if m:
            sym = re.sub(r"\s*\(inlined\)$", "", m.group(1))
            sym = re.sub(r"\+0x[0-9a-f]+$", "", sym)
            frames.append((sym, m.group(2)))
        elif not line.strip():
            flush()
        else:
            flush()  # a header line starts the next sample
    flush()
    if total == 0:
        sys.exit("perf_split: no samples")
    print("| where | share | CPU us/request | syscalls | page faults "
          "| malloc/free | rest |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    every = dict.fromkeys(KINDS, 0)
    if us is None:
        us = total / hz / n * 1e6
    for b, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        for k in KINDS:
            every[k] += kinds[b][k]
        print("| %s | %.1f%% | %.1f | %s |" % (
            b, 100.0 * c / total, us * c / total,
            " | ".join("%.0f%%" % (100.0 * kinds[b][k] / c) for k in KINDS)))
    print("| **all** | 100%% | %.1f | %s |" % (
        us,
        " | ".join("%.0f%%" % (100.0 * every[k] / total) for k in KINDS)))


if __name__ == "__main__":
    main()
