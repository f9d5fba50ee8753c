/* SPDX-License-Identifier: MIT */
/*
 * A timer heap driven by a single libuv timer, on a clock it is given.
 *
 * A job may hold a million sleeping tasks; a uv_timer_t each would cost a
 * handle apiece and libuv's own heap work per timer. Instead every deadline
 * is a struct corun_timer embedded in its owner. Timers are grouped in
 * buckets of equal due time (a big gather starts thousands of sleeps in
 * the same millisecond), and only the buckets live in a binary heap
 * ordered by (due, creation), so timers due together fire in the order
 * they were started and a pop is O(1) within a bucket.
 *
 * The heap knows its loop and its clock and nothing of who owns it (as
 * libuv's timers know their loop only): a run keeps one for all its tasks,
 * a test can drive one on a bare loop.
 */
#ifndef CORUN_TIMER_H
#define CORUN_TIMER_H

#include <stdint.h>
#include <uv.h>

#include "sched/clock.h"
#include "util/error.h"
#include "util/list.h"

struct corun_timer;
struct corun_timers;

typedef void (*corun_timer_cb)(struct corun_timer *timer);

struct corun_timer {
  struct corun_list link; /* on its bucket's list; unlinked: not armed */
  uint64_t due;           /* ms on the heap's clock */
  corun_timer_cb cb;
  void *data; /* the starter's, handed back untouched; may be NULL */
};

/*
 * A bare list link as a timer (corun__timer_start_link()): for owners
 * with a link to spare while they wait, and many waits of one callback. A
 * sleeping task is one: it costs its link alone, where a struct
 * corun_timer would add 40 bytes to each of a million sleeps.
 */
typedef void (*corun_timer_link_cb)(struct corun_list *link);

/*
 * Told after each callback how long it took (began: uv_hrtime() just
 * before it), for slow-callback warnings. NULL: the clock is not read.
 * watch_link is told of link timers' callbacks (NULL: they are not timed).
 */
typedef void (*corun_timers_watch_cb)(struct corun_timers *h,
                                      const struct corun_timer *t,
                                      uint64_t began_ns);
typedef void (*corun_timers_watch_link_cb)(struct corun_timers *h,
                                           const struct corun_list *link,
                                           uint64_t began_ns);

struct corun_tbucket;

struct corun_timers {
  struct corun_tbucket **heap;
  uint32_t n;
  uint32_t cap;
  uint32_t seq;
  struct corun_tbucket *last;  /* newest bucket: where bulk starts go */
  struct corun_tbucket *spare; /* emptied buckets, for reuse */
  uint64_t armed; /* due time the uv timer is set for, or UINT64_MAX */
  uv_timer_t uv;  /* uv.data is the owner's (its close callback's) */
  uv_loop_t *loop;
  struct corun_clock *clock;
  corun_timers_watch_cb watch;           /* optional */
  corun_timers_watch_link_cb watch_link; /* optional */
};

/* An empty heap on loop, reading clock (which must outlive it). 0 or -1. */
CORUN_MUST_CHECK int corun__timers_init(struct corun_timers *h, uv_loop_t *loop,
                                        struct corun_clock *clock);
/*
 * Free the heap's memory. Its uv timer must have been closed (uv_close on
 * &h->uv) first, by the owner, who waits for the close callback.
 */
void corun__timers_free(struct corun_timers *h);
/*
 * Arm t to fire at due (ms on the heap's clock), calling cb(t) with
 * t->data set to data; re-arming moves it. Returns 0, or -1 when out of
 * memory: t is then not armed (and no longer armed if it was).
 */
CORUN_MUST_CHECK int corun__timer_start(struct corun_timers *h,
                                        struct corun_timer *t, uint64_t due,
                                        corun_timer_cb cb, void *data);
void corun__timer_stop(struct corun_timers *h, struct corun_timer *t);
/*
 * Arm link, which must be on no list, to fire at due: cb(link) then. Its
 * bucket holds only links of the same callback, so start order among
 * equal dues holds across both forms. The owner keeps the due time if it
 * needs it. 0, or -1 when out of memory (link not armed).
 */
CORUN_MUST_CHECK int corun__timer_start_link(struct corun_timers *h,
                                             struct corun_list *link,
                                             uint64_t due,
                                             corun_timer_link_cb cb);
/* Disarm link, armed by corun__timer_start_link() (and not fired yet). */
void corun__timer_stop_link(struct corun_timers *h, struct corun_list *link);
int corun__timer_armed(const struct corun_timer *t);
/* Milliseconds on the heap's clock now. */
static inline uint64_t corun__timers_now(const struct corun_timers *h)
{
  return corun__clock_ms(h->clock);
}

#endif
