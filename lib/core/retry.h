/* SPDX-License-Identifier: MIT */
/*
 * Trying a leaf task again after a failed attempt, for the kinds with
 * "retries" and "backoff" (exec, fetch). The task counts its attempts
 * (t->attempts, 1 for the first); another may follow a failed one while
 * the task is not being cancelled and retries are left, and the kind's
 * own test lets the failure pass (a command that could not start for
 * want of descriptors, a fetch's dropped connection). The wait is the
 * backoff doubled for each attempt failed before (corun__backoff_ms),
 * or a server's Retry-After, at most CORUN_BACKOFF_CAP_MS either way; a
 * timer then calls the kind back for the next attempt.
 *
 * No jitter: the man page promises the doubling, and tests time it.
 */
#ifndef CORUN_RETRY_H
#define CORUN_RETRY_H

#include <stdint.h>

#include "core/task.h"
#include "sched/timer.h"
#include "util/error.h"

struct corun_fields;
struct corun_buf;

/* What a task's "retries" and "backoff" ask for: in its kind's conf. */
struct corun_retry_policy {
  int retries;          /* attempts after the first, at most */
  long long backoff_ms; /* the first wait, doubled after each failure */
};

#define CORUN_RETRY_POLICY_INIT                                                \
  {                                                                            \
    0, 500                                                                     \
  }

/* A task's pending retry: the timer that starts its next attempt. */
struct corun_retry {
  struct corun_timer timer;
  void (*again)(struct corun_task *t);
};

/* Read "retries" and "backoff" into p, which holds the defaults. */
void corun__retry_parse(struct corun_retry_policy *p, struct corun_fields *f);
/* Whether t's failed attempt may be followed by another, as far as the
 * count and a cancel go: the kind adds whether the failure may pass. */
int corun__retry_left(const struct corun_retry_policy *p,
                      const struct corun_task *t);
/* The wait before the next attempt; after_ms > 0: a server's Retry-After
 * instead of the backoff. */
long long corun__retry_wait_ms(const struct corun_retry_policy *p,
                               const struct corun_task *t, long long after_ms);
/*
 * Try again in ms: again(t) runs then, t->attempts counted up. why is the
 * failure, said under --debug. Returns 0, or -1 when the timer cannot be
 * armed (out of memory): the caller ends the task then.
 */
CORUN_MUST_CHECK int corun__retry_after(struct corun_retry *r,
                                        struct corun_task *t, long long ms,
                                        const char *why,
                                        void (*again)(struct corun_task *t));
/* Whether a retry waits. */
int corun__retry_pending(const struct corun_retry *r);
/* Give up the retry waited for. Returns 1 if there was one. */
int corun__retry_stop(struct corun_retry *r, struct corun_task *t);
/* "retrying in 1.500s (attempt 2 failed)" if a retry waits (then 1). */
int corun__retry_describe(const struct corun_retry *r,
                          const struct corun_task *t, uint64_t now_ms,
                          struct corun_buf *out);

#endif
