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
# microseconds per request (samples / HZ / N) and how much of it was in the
# kernel (syscalls, page faults).
#
# Usage: perf script -i perf.data -F ip,sym,dso | perf_split.py HZ N
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
     r"^(corun_job_free|corun_run_free|free_task|release|"
     r"corun__http_close|curl_multi_cleanup)$"),
    ("event loop (uv_run, epoll_wait)", r"^uv_run$"),
    ("process start (dynamic loader, libcurl/TLS init)",
     r"^(_dl_\w+|_start|curl_global_init|dl_main)$"),
]
RULES = [(name, re.compile(rx)) for name, rx in RULES]
FRAME = re.compile(r"^\s*[0-9a-f]+ (.*?) \((.*)\)$")


def bucket_of(frames):
    for sym, _ in frames:  # innermost first
        for name, rx in RULES:
            if rx.match(sym):
                return name
    return "other"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: perf script ... | perf_split.py HZ REQUESTS")
    hz, n = float(sys.argv[1]), int(sys.argv[2])
    counts, kernel, total = {}, {}, 0
    frames = []

    def flush():
        nonlocal total
        if not frames:
            return
        b = bucket_of(frames)
        counts[b] = counts.get(b, 0) + 1
        if "kernel" in frames[0][1]:
            kernel[b] = kernel.get(b, 0) + 1
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
    print("| where | share | CPU us/request | of which kernel |")
    print("|---|---:|---:|---:|")
    for b, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        print("| %s | %.1f%% | %.1f | %.0f%% |" % (
            b, 100.0 * c / total, c / hz / n * 1e6,
            100.0 * kernel.get(b, 0) / c))
    print("| **all** | 100%% | %.1f | %.0f%% |" % (
        total / hz / n * 1e6, 100.0 * sum(kernel.values()) / total))


if __name__ == "__main__":
    main()
