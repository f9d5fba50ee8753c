/* SPDX-License-Identifier: MIT */
#include "core/retry.h"

#include <stddef.h>

#include "core/fields.h"
#include "core/run.h"
#include "util/buf.h"
#include "util/duration.h"

void corun__retry_parse(struct corun_retry_policy *p, struct corun_fields *f)
{
  long long n;
  double d;

  if (corun_field_int(f, "retries", 0, 1000, &n) > 0)
    p->retries = (int)n;
  if (corun_field_duration(f, "backoff", &d) > 0)
    p->backoff_ms = (long long)corun_duration_ms(d);
}

int corun__retry_left(const struct corun_retry_policy *p,
                      const struct corun_task *t)
{
  return t->cancel_status == CORUN_STATUS_NONE &&
         t->attempts <= (uint32_t)p->retries;
}

long long corun__retry_wait_ms(const struct corun_retry_policy *p,
                               const struct corun_task *t, long long after_ms)
{
  if (after_ms > 0)
    return after_ms > CORUN_BACKOFF_CAP_MS ? CORUN_BACKOFF_CAP_MS : after_ms;
  return corun__backoff_ms(p->backoff_ms, t->attempts);
}

static void retry_due(struct corun_timer *timer)
{
  struct corun_retry *r =
      (struct corun_retry *)((char *)timer -
                             offsetof(struct corun_retry, timer));
  struct corun_task *t = timer->data;

  t->attempts++;
  r->again(t);
}

int corun__retry_after(struct corun_retry *r, struct corun_task *t,
                       long long ms, const char *why,
                       void (*again)(struct corun_task *t))
{
  if (t->run->opts.debug)
    corun__run_logf(t->run, "%s: attempt %u failed (%s), retrying in %lld ms",
                    t->id, t->attempts, why, ms);
  r->again = again;
  return corun__timer_start(&t->run->timers, &r->timer,
                            corun__now_ms(t->run) + (uint64_t)ms, retry_due,
                            t);
}

int corun__retry_pending(const struct corun_retry *r)
{
  return corun__timer_armed(&r->timer);
}

int corun__retry_stop(struct corun_retry *r, struct corun_task *t)
{
  if (!corun__timer_armed(&r->timer))
    return 0;
  corun__timer_stop(&t->run->timers, &r->timer);
  return 1;
}

int corun__retry_describe(const struct corun_retry *r,
                          const struct corun_task *t, uint64_t now_ms,
                          struct corun_buf *out)
{
  if (!corun__timer_armed(&r->timer))
    return 0;
  corun_buf_printf(
      out, "retrying in %.3fs (attempt %u failed)",
      r->timer.due > now_ms ? (double)(r->timer.due - now_ms) / 1000.0 : 0.0,
      t->attempts);
  return 1;
}
