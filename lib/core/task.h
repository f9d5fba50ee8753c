/* SPDX-License-Identifier: MIT */
/*
 * The task: one node of the job tree, with its state, outcome and timings.
 *
 * A task goes PENDING (loaded) -> BLOCKED (its container started, waiting
 * for "after" tasks) -> QUEUED (ready, waiting for limit/concurrency slots)
 * -> RUNNING -> DONE, or straight to DONE from any state when it is
 * skipped or cancelled. Every change goes through set_state() in task.c,
 * which traces it under --debug. A task ends exactly once, through
 * corun__task_finish(); its end is delivered to its parent (the kind's
 * child_done) and to the tasks that are "after" it.
 *
 * Tasks live as long as their job: the run never frees one, so callbacks
 * may hold task pointers without reference counts.
 */
#ifndef CORUN_TASK_H
#define CORUN_TASK_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "util/error.h"
#include "util/list.h"
#include "core/kind.h"
#include "sched/sem.h"
#include "sched/timer.h"

#define CORUN_NO_TIME UINT64_MAX

enum corun_state {
  CORUN_STATE_PENDING,
  CORUN_STATE_BLOCKED,
  CORUN_STATE_QUEUED,
  CORUN_STATE_RUNNING,
  CORUN_STATE_DONE
};

enum corun_status {
  CORUN_STATUS_NONE,
  CORUN_STATUS_OK,
  CORUN_STATUS_FAILED,
  CORUN_STATUS_TIMEOUT,
  CORUN_STATUS_CANCELLED,
  CORUN_STATUS_SKIPPED
};

/*
 * Which queue a task's qlink is in while it waits to be dispatched: a
 * code, not a pointer to the queue, as a million tasks each pay for it.
 */
enum corun_inq {
  CORUN_INQ_NONE,   /* none (or a kind's own use of qlink, as a timer) */
  CORUN_INQ_READY,  /* the run's ready queue */
  CORUN_INQ_LIMIT,  /* its limit's waiters */
  CORUN_INQ_TOKEN,  /* its limit's rate token waiters */
  CORUN_INQ_GLOBAL, /* the run's concurrency slots */
  CORUN_INQ_FDS     /* the run's file descriptor slots */
};

enum corun_task_flag {
  CORUN_TF_SHIELD = 1 << 0,
  CORUN_TF_DETACHED = 1 << 1,    /* its parent stopped waiting for it */
  CORUN_TF_ID_POOLED = 1 << 2, /* id lives in the job's pool, not malloc */
  CORUN_TF_HOLD_LIMIT = 1 << 3,
  CORUN_TF_HOLD_GLOBAL = 1 << 4,
  CORUN_TF_ACTIVATED = 1 << 5,   /* its container started */
  CORUN_TF_SKIP_QUEUED = 1 << 6, /* in the ready queue to be skipped */
  CORUN_TF_RUN_CANCEL = 1 << 7,  /* cancelled by the run (signal, --timeout) */
  CORUN_TF_FORCE = 1 << 8,       /* cancelled by force: no grace left */
  CORUN_TF_YIELD = 1 << 9,       /* in the ready queue to be resumed */
  CORUN_TF_INSTANCE = 1 << 10,   /* made at run time (pipeline item) */
  CORUN_TF_RESUMED = 1 << 11,    /* taken from the journal, not run */
  CORUN_TF_HOLD_FDS = 1 << 12,   /* holds a slot of the run's fds pool */
  CORUN_TF_TOKEN = 1 << 13,      /* took its limit's rate token */
  CORUN_TF_FILL = 1 << 14,       /* parsed again, captures filled, at start */
  /*
   * Skipped, or queued to be, only because nothing failed: an "any_failed"
   * task with nothing to handle, or a task after one. Not a failure.
   */
  CORUN_TF_NOTHING_FAILED = 1 << 15
};

/* "run_if": how a task takes the ends of its "after" tasks. */
enum corun_run_if {
  CORUN_RUN_IF_ALL_OK,    /* runs when all ended ok, else skipped */
  CORUN_RUN_IF_ALL_DONE,  /* runs when all ended, however: a cleanup */
  CORUN_RUN_IF_ANY_FAILED /* runs when all ended and one failed */
};

struct corun_run;

/* "after" edges; only tasks that have some carry this. */
struct corun_deps {
  struct corun_task **after;      /* tasks this one runs after */
  struct corun_task **dependents; /* tasks that run after this one */
  uint32_t nafter;
  uint32_t ndependents;
  /* "after" tasks not yet ended (ok, under CORUN_RUN_IF_ALL_OK) */
  uint32_t left;
  uint32_t failed; /* "after" tasks that ended not ok, nor nothing_failed */
  uint8_t run_if;  /* enum corun_run_if */
  uint8_t spared;  /* a cleanup the run's cancel passed by */
  /* The cancel pass its skip was queued in; 0: none (see queue_skip). */
  uint32_t skip_pass;
};

/* A task's own "timeout"; only tasks that have one carry this. */
struct corun_timeout {
  struct corun_timer timer;
  uint64_t ms;
};

/*
 * Kept small on purpose: a job may hold a million of these. What only some
 * tasks need (after edges, a timeout) hangs off a pointer.
 */
struct corun_task {
  const struct corun_kind *kind;
  struct corun_run *run;
  char *id;
  struct corun_task *parent;
  struct corun_task **children;
  struct corun_deps *deps;       /* NULL: no "after" either way */
  struct corun_timeout *timeout; /* NULL: no "timeout" */
  char *err_msg;
  cJSON *result;
  struct corun_sem *limit;
  struct corun_list qlink;
  uint64_t t_ready; /* ns since the run began; CORUN_NO_TIME if not yet */
  uint64_t t_start;
  uint64_t t_end;
  uint32_t nchildren;
  uint32_t index; /* position in file order */
  uint16_t attempts; /* at most 1 + the 1,000 "retries" allow */
  uint8_t state;
  /* Both enum corun_status, which has 6 values: a byte for inq. */
  uint8_t status : 4;
  uint8_t cancel_status : 4; /* why it is being cancelled, or NONE */
  uint8_t err_type;
  uint8_t inq; /* enum corun_inq: the queue qlink links it into */
  uint16_t flags;
};

enum corun_cancel_how {
  CORUN_CANCEL_OUTSIDE, /* parent, race or interruption: shield applies */
  CORUN_CANCEL_OWN,     /* its own timeout: shield does not apply */
  /* The whole-run --timeout: shield does not apply, a command's grace does */
  CORUN_CANCEL_HARD,
  CORUN_CANCEL_FORCE /* second stop: nothing stops it, no grace is left */
};

/*
 * Whether t ended without a failure to answer for: ok, or skipped only
 * because nothing failed (CORUN_TF_NOTHING_FAILED). The run's exit status
 * and a gather's promise look at this, not at "ok" alone.
 */
int corun__task_no_failure(const struct corun_task *t);
/* Whether t is a cleanup: "run_if" "all_done". */
int corun__task_is_cleanup(const struct corun_task *t);

/*
 * Whether the run's cancel (first signal, --timeout) passes t by: t is a
 * cleanup, or inside one, that has not ended and is not being cancelled.
 * A cleanup passed by is marked (corun_deps.spared).
 */
int corun__task_spared(struct corun_task *t);

/* The task's container started: it may run once its "after" tasks end. */
void corun__task_activate(struct corun_task *t);
/*
 * End t. For a task being cancelled the status given is replaced by the
 * cancel reason. msg may be NULL; it is formatted and copied.
 */
void corun__task_finish(struct corun_task *t, enum corun_status status,
                        enum corun_errtype type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Set the result (taking ownership) before finishing. */
void corun__task_set_result(struct corun_task *t, cJSON *result);
/*
 * Cancel t with reason (CANCELLED or TIMEOUT). Returns 1 when t did not
 * take the cancel because it is shielded: it was detached instead, and the
 * caller must stop waiting for it.
 */
int corun__task_cancel(struct corun_task *t, enum corun_status reason,
                       enum corun_cancel_how how);
/*
 * For parent kinds: start t's children (t just began running). Returns how
 * many of them have not ended, the count the parent waits for.
 */
uint32_t corun__task_start_children(struct corun_task *t);
/*
 * For parent kinds: cancel the children t still waits for. A shielded child
 * detaches instead, and *pending is decremented for it (its end will not
 * be delivered). Stops early if t itself ends meanwhile.
 */
void corun__task_cancel_children(struct corun_task *t, uint32_t *pending);
/*
 * For parent kinds whose condition is met (a race won, a fail-fast gather
 * failed): stop waiting for the children still running, which are on their
 * way out after corun__task_cancel_children (a command in its kill grace)
 * or left to run on. They are detached, *pending counts them off, and the
 * run, not t, waits for them. Not inside a pipeline's item, which ends
 * whole (its tasks are freed with it): t waits for them there.
 */
void corun__task_let_go(struct corun_task *t, uint32_t *pending);
/*
 * Bracket a cancel of many tasks (begin 1, end 0): a task whose "after"
 * task ends in the same pass ends cancelled with it, not skipped, in
 * whatever order the pass reaches the two.
 */
void corun__task_cancel_pass(struct corun_run *run, int begin);
/* The contract's cap on the wait between two attempts. */
#define CORUN_BACKOFF_CAP_MS 30000
/*
 * For leaf kinds with retries: how long to wait after the failed attempt
 * number attempts (1-based): base_ms * 2^(attempts-1), capped at 30 s.
 */
long long corun__backoff_ms(long long base_ms, uint32_t attempts);
/*
 * A running task gives way: it goes to the back of the ready queue and its
 * kind's resume() runs when its turn comes (asyncio's sleep(0)). No timer,
 * no loop iteration.
 */
void corun__task_yield(struct corun_task *t);
/* Free what a task owns (not the struct itself). */
void corun__task_free_parts(struct corun_task *t);
/* Continue admission of a task the ready queue handed back. */
void corun__task_dispatch(struct corun_task *t);
/* The run's dispatch: t's qlink came out of the ready queue. */
void corun__task_dispatch_link(struct corun_list *link);
/*
 * The run's semaphores wake their waiters here: the task now holds the
 * slot (or its rate token) and goes back to the ready queue.
 */
void corun__task_sem_wake(struct corun_sem *s, struct corun_list *w,
                          enum corun_sem_grant what);
/* The contract's names of states and statuses ("running", "ok", ...). */
const char *corun__task_state_name(enum corun_state s);
const char *corun__task_status_name(enum corun_status s);

#endif
