/* SPDX-License-Identifier: MIT */
/*
 * A run's clock: nanoseconds since a start instant, read from uv_hrtime().
 *
 * Inside a batch (a drain of the ready queue, a firing of the timer heap)
 * the reading is cached and refreshed once per CORUN_CLOCK_BATCH items: a
 * million starts read the clock thousands of times, not millions, and no
 * reading is staler than a few hundred cheap operations.
 */
#ifndef CORUN_CLOCK_H
#define CORUN_CLOCK_H

#include <stdint.h>
#include <uv.h>

struct corun_clock {
  uint64_t t0_ns;    /* uv_hrtime() at the start instant */
  uint64_t batch_ns; /* uv_hrtime() cached during a batch, or 0 */
};

/* How many items a batch handles per reading of the clock. */
#define CORUN_CLOCK_BATCH 64

static inline uint64_t corun__clock_ns(const struct corun_clock *c)
{
  return (c->batch_ns ? c->batch_ns : uv_hrtime()) - c->t0_ns;
}

static inline uint64_t corun__clock_ms(const struct corun_clock *c)
{
  return corun__clock_ns(c) / 1000000;
}

/* In a batch: refresh the cached reading every CORUN_CLOCK_BATCH calls. */
static inline void corun__clock_tick(struct corun_clock *c, unsigned *n)
{
  if ((*n)++ % CORUN_CLOCK_BATCH == 0)
    c->batch_ns = uv_hrtime();
}

/* The batch is over: read the real clock again. */
static inline void corun__clock_batch_end(struct corun_clock *c)
{
  c->batch_ns = 0;
}

#endif
