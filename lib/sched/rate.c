/* SPDX-License-Identifier: MIT */
#include "sched/rate.h"

#include <math.h>

int corun__rate_take(struct corun_rate *r, double now_ms, int catch_up)
{
  double step = r->interval_ms, window;

  if (step <= 0)
    return 1;
  if (now_ms < r->next_ms)
    return 0;
  window = step > CORUN_RATE_CATCH_UP_MS ? step : CORUN_RATE_CATCH_UP_MS;
  r->next_ms =
      (catch_up && now_ms - r->next_ms < window ? r->next_ms : now_ms) + step;
  return 1;
}

uint64_t corun__rate_due_ms(const struct corun_rate *r)
{
  return (uint64_t)ceil(r->next_ms);
}
