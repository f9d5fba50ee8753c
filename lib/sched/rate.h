/* SPDX-License-Identifier: MIT */
/*
 * A token bucket holding at most one token: the rate of a job's "limits"
 * and of a pipeline's producers. A token is due once the clock reaches
 * next_ms; taking it makes the next one due an interval later.
 *
 * One catch-up rule: when the caller's timer brought it here (catch_up)
 * and the token was due less than max(interval, CORUN_RATE_CATCH_UP_MS)
 * ago, the next token counts on from the due time, not from now, so a
 * timer that fires late does not slow the rate down, and a rate finer
 * than the timer's whole milliseconds takes the tokens due within a few
 * ticks together. Any other time the bucket was idle: it holds one token,
 * no more, so the next is a whole interval after now (no burst).
 */
#ifndef CORUN_RATE_H
#define CORUN_RATE_H

#include <stdint.h>

/* How late a timer may be and still have the tokens due since taken. */
#define CORUN_RATE_CATCH_UP_MS 5.0

struct corun_rate {
  double interval_ms; /* 0: no rate; else ms between two tokens */
  double next_ms;     /* the caller's clock, ms: when the next is due */
};

/* Take a token at now_ms: 1 if taken (always without a rate), else 0. */
int corun__rate_take(struct corun_rate *r, double now_ms, int catch_up);
/* When the next token is due, in whole ms: for the caller's timer. */
uint64_t corun__rate_due_ms(const struct corun_rate *r);

#endif
