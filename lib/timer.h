/* SPDX-License-Identifier: MIT */
/*
 * One timer heap for the whole run, driven by a single libuv timer.
 *
 * A job may hold a million sleeping tasks; a uv_timer_t each would cost a
 * handle and a heap node apiece inside libuv anyway, plus a close callback
 * per task. Instead every deadline is a struct corun_timer embedded in its
 * owner and kept in one binary heap ordered by (due, sequence), so timers
 * due at the same millisecond fire in the order they were started.
 */
#ifndef CORUN_TIMER_H
#define CORUN_TIMER_H

#include <stdint.h>
#include <uv.h>

struct corun_task;
struct corun_timer;

typedef void (*corun_timer_cb)(struct corun_timer *timer);

struct corun_timer {
  uint64_t due; /* ms on the run's clock */
  corun_timer_cb cb;
  struct corun_task *task; /* named in slow-callback warnings; may be NULL */
  uint32_t slot;           /* heap index + 1; 0 when not armed */
  uint32_t seq;
};

struct corun_timers {
  struct corun_timer **heap;
  uint32_t n;
  uint32_t cap;
  uint32_t seq;
  uint64_t armed; /* due time the uv timer is set for, or UINT64_MAX */
  uv_timer_t uv;
};

struct corun_run;

int corun__timers_init(struct corun_run *run);
/* Arm t to fire at due (ms on the run clock); re-arming moves it. 0 or -1. */
int corun__timer_start(struct corun_run *run, struct corun_timer *t,
                       uint64_t due, corun_timer_cb cb,
                       struct corun_task *task);
void corun__timer_stop(struct corun_run *run, struct corun_timer *t);
int corun__timer_armed(const struct corun_timer *t);

#endif
