/* SPDX-License-Identifier: MIT */
/*
 * One timer heap for the whole run, driven by a single libuv timer.
 *
 * A job may hold a million sleeping tasks; a uv_timer_t each would cost a
 * handle apiece and libuv's own heap work per timer. Instead every deadline
 * is a struct corun_timer embedded in its owner. Timers are grouped in
 * buckets of equal due time (a big gather starts thousands of sleeps in
 * the same millisecond), and only the buckets live in a binary heap
 * ordered by (due, creation), so timers due together fire in the order
 * they were started and a pop is O(1) within a bucket.
 */
#ifndef CORUN_TIMER_H
#define CORUN_TIMER_H

#include <stdint.h>
#include <uv.h>

struct corun_task;
struct corun_timer;

typedef void (*corun_timer_cb)(struct corun_timer *timer);

struct corun_tlink {
  struct corun_tlink *prev;
  struct corun_tlink *next; /* NULL when the timer is not armed */
};

struct corun_timer {
  struct corun_tlink link; /* first: a bucket's list holds these */
  uint64_t due;            /* ms on the run's clock */
  corun_timer_cb cb;
  struct corun_task *task; /* named in slow-callback warnings; may be NULL */
};

struct corun_tbucket;

struct corun_timers {
  struct corun_tbucket **heap;
  uint32_t n;
  uint32_t cap;
  uint32_t seq;
  struct corun_tbucket *last;  /* newest bucket: where bulk starts go */
  struct corun_tbucket *spare; /* emptied buckets, for reuse */
  uint64_t armed; /* due time the uv timer is set for, or UINT64_MAX */
  uv_timer_t uv;
};

struct corun_run;

int corun__timers_init(struct corun_run *run);
void corun__timers_free(struct corun_run *run);
/* Arm t to fire at due (ms on the run clock); re-arming moves it. 0 or -1. */
int corun__timer_start(struct corun_run *run, struct corun_timer *t,
                       uint64_t due, corun_timer_cb cb,
                       struct corun_task *task);
void corun__timer_stop(struct corun_run *run, struct corun_timer *t);
int corun__timer_armed(const struct corun_timer *t);

#endif
