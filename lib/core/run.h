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

#include <cjson/cJSON.h>
#include <stdint.h>
#include <uv.h>

#include "corun.h"
#include "util/list.h"
#include "sched/clock.h"
#include "sched/sem.h"
#include "sched/timer.h"

struct corun_job;
struct corun_kind;
struct corun_secrets;
struct corun_task;
struct corun_run;

/*
 * What watches a run from above the core (the journal): the run calls
 * each observer attached as tasks end and when the run ends, so the core
 * names none of them. Every slot is optional.
 */
struct corun_observer {
  struct corun_list link; /* on the run's list of observers */
  /*
   * A task is about to be admitted (a leaf, not a pipeline item): return 1
   * to have it end ok at once without running, having set *result (a
   * value the task takes over, or NULL), because an earlier run did it.
   */
  int (*earlier)(struct corun_observer *o, const struct corun_task *t,
                 cJSON **result);
  /*
   * t ended (any task, pipeline items too): its status, error, result and
   * times are final; its state turns done and its parent and dependents
   * hear of it right after.
   */
  void (*task_ended)(struct corun_observer *o, const struct corun_task *t);
  /* Every task ended; called before the run's own finished callback. */
  void (*run_ended)(struct corun_observer *o, const struct corun_run *run);
};

/* One kind's state shared across the run. */
struct corun_kind_state {
  const struct corun_kind *kind;
  void *state;
};

struct corun_run {
  uv_loop_t *loop;
  struct corun_job *job;
  /* What tasks need of the job, so the core and kinds need not know it. */
  const struct corun_secrets *secrets;
  const char *dir;   /* where relative paths resolve */
  const char *root;  /* --root, resolved; NULL: paths are not confined */
  unsigned per_host; /* connections per host for fetch; 0: no cap */
  struct corun_run_opts opts;
  struct corun_clock clock; /* t0: the start; batch cache for drains */
  double started_wall; /* seconds since the epoch at start */
  struct corun_timers timers;
  struct corun_list ready; /* tasks, through their qlink */
  void (*dispatch)(struct corun_list *link); /* what a ready link is for */
  /*
   * A task whose fields wait for captures, as it starts: fills them in
   * (instance.c's corun__task_fill, set by the runner).
   */
  int (*fill)(struct corun_task *t, char **err);
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
  /*
   * The run is being cancelled (first signal or --timeout) and cleanups
   * ("run_if": "all_done") still run; the next signal, or --timeout after
   * a signal, cancels them too.
   */
  int spare;
  /*
   * A cancel of many tasks at once (a container's children, the run's
   * roots) is a pass; passes nest. cancel_pass numbers the outermost one,
   * while cancel_depth > 0 (see corun__task_cancel_pass).
   */
  uint32_t cancel_pass;
  uint32_t cancel_depth;
  enum corun_run_end end;
  int closing; /* handles whose close callback is pending */
  corun_close_cb close_cb; /* set by corun_run_close() */
  int close_stage; /* 1: corun_run_close() called, 2: handles closing */
  uv_prepare_t closer; /* corun_run_close() waits for the end with it */
  int exit_code;     /* corun_run_set_exit_code(); -1 until set */
  uint64_t end_ns;
  /* What kinds share across the run (kind.h's run_open), as made. */
  struct corun_kind_state *kstate;
  size_t nkstate;
  struct corun_list observers; /* struct corun_observer, through link */
};

/*
 * Attach o (before the run starts); it stays attached for the run's life.
 * A journal given in the run's options is attached by corun_run_new():
 * a struct corun_journal begins with its observer.
 */
void corun__run_observe(struct corun_run *run, struct corun_observer *o);

/*
 * The state kind k shares across the run, made by its run_open the first
 * time; NULL with *why (static text) set when that fails.
 */
void *corun__run_kind_state(struct corun_run *run, const struct corun_kind *k,
                            const char **why);
/* The same if made already, else NULL. */
void *corun__run_kind_state_if(const struct corun_run *run,
                               const struct corun_kind *k);
/*
 * n zeroed bytes (aligned to align, at most 16) that live as long as the
 * job: for what a task of the job keeps to the end of it, without a
 * malloc each (a pipeline item's task, freed with its item, must not use
 * it). NULL when out of memory.
 */
void *corun__run_keep(struct corun_run *run, size_t n, size_t align);
/*
 * Queue link for run->dispatch in a later pass of the ready queue (the
 * task core puts its tasks there; the run knows links, not tasks).
 */
void corun__run_enqueue(struct corun_run *run, struct corun_list *link);
/* Nanoseconds and milliseconds on the run's clock now. */
uint64_t corun__now_ns(const struct corun_run *run);
uint64_t corun__now_ms(const struct corun_run *run);
/* A task ended; the run counts it and notices when all have. */
void corun__run_task_ended(struct corun_run *run);
/* Log a line through opts.log (debug output), secrets redacted. */
void corun__run_logf(const struct corun_run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * One whole line a streaming task printed (n bytes, NUL bytes and all),
 * as "[ID] line", to opts.output or (to_err) opts.output_err; redacted
 * and escaped.
 */
void corun__run_stream(const struct corun_run *run, const char *id,
                       int to_err, const char *line, size_t n);
/* Task output through opts.output, secrets redacted. */
void corun__run_output(const struct corun_run *run, const char *line);
/* Tell opts.group, if set, that a command's process group began or ended. */
void corun__run_group(const struct corun_run *run, int pgid, int alive);
/* Warn (under --debug) when a callback for task took too long. */
void corun__run_check_slow(const struct corun_run *run, uint64_t began_ns,
                           const char *id, const char *what);

#endif
