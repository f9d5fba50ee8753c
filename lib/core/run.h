/* SPDX-License-Identifier: MIT */
/*
 * One execution of a job on a libuv loop: the clock, the timer heap, the
 * ready queue, the concurrency pool and how the run ended.
 *
 * The ready queue holds tasks whose next step needs no waiting (admission
 * after their container started, a skip to deliver). It is drained by one
 * idle callback until empty, so a gather of a million children starts them
 * all in one loop iteration without recursion.
 */
#ifndef CORUN_RUN_H
#define CORUN_RUN_H

#include <stdint.h>
#include <uv.h>

#include "corun.h"
#include "load/jobfile.h"
#include "sched/clock.h"
#include "sched/sem.h"
#include "sched/timer.h"

enum corun_run_end {
  CORUN_END_NORMAL,
  CORUN_END_SIGINT,
  CORUN_END_SIGTERM,
  CORUN_END_SIGHUP, /* handled as SIGTERM; exits 129 */
  CORUN_END_TIMEOUT,
  CORUN_END_STALLED
};

struct corun_run {
  uv_loop_t *loop;
  struct corun_job *job;
  struct corun_run_opts opts;
  struct corun_clock clock; /* t0: the start; batch cache for drains */
  double started_wall; /* seconds since the epoch at start */
  struct corun_timers timers;
  struct corun_list ready; /* tasks, through their qlink */
  uv_idle_t idle;
  struct corun_sem global; /* the "concurrency" pool for leaf kinds */
  /*
   * Leaf tasks hold descriptors while they run (a fetch a socket and the
   * file it saves to, a command three pipes): this pool, sized from what
   * "ulimit -n" leaves, makes them wait for some instead of failing.
   */
  struct corun_sem fds;
  size_t active;           /* tasks not yet ended */
  /* For the progress line; the job's own tasks only, not pipeline items. */
  size_t nrunning;
  size_t ndone;
  size_t nfailed; /* ended failed or timeout */
  int started;
  int finished;
  int interrupts;
  enum corun_run_end end;
  int closing; /* handles whose close callback is pending */
  uint64_t end_ns;
  struct corun_http *http; /* made by the first fetch (http.c) */
};

/* Put t in the ready queue (it must not be in another queue). */
void corun__run_ready(struct corun_run *run, struct corun_task *t);
/* A task ended; the run counts it and notices when all have. */
void corun__run_task_ended(struct corun_run *run);
/* Log a line through opts.log (debug output), secrets redacted. */
void corun__run_logf(const struct corun_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * One whole line a streaming task printed, as "[ID] line", to opts.output
 * or (to_err) opts.output_err; redacted and escaped.
 */
void corun__run_stream(const struct corun_run *run, const struct corun_task *t,
                       int to_err, const char *line);
/* Task output through opts.output, secrets redacted. */
void corun__run_output(const struct corun_run *run, const char *line);
/* Tell opts.group, if set, that a command's process group began or ended. */
void corun__run_group(const struct corun_run *run, int pgid, int alive);
/* Warn (under --debug) when a callback for task took too long. */
void corun__run_check_slow(const struct corun_run *run, uint64_t began_ns,
                           const struct corun_task *t, const char *what);

#endif
