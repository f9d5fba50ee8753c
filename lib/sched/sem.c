/* SPDX-License-Identifier: MIT */
#include "sched/sem.h"

#include <assert.h>
#include <stddef.h>

static void waitq_push(struct corun_waitq *q, struct corun_list *w)
{
  assert(!corun_list_linked(w));
  corun_list_push(&q->list, w);
  q->len++;
}

static void waitq_remove(struct corun_waitq *q, struct corun_list *w)
{
  assert(q->len > 0);
  corun_list_unlink(w);
  q->len--;
}

static struct corun_list *waitq_shift(struct corun_waitq *q)
{
  struct corun_list *w = corun_list_first(&q->list);

  if (w)
    waitq_remove(q, w);
  return w;
}

static int waitq_empty(const struct corun_waitq *q)
{
  return corun_list_empty(&q->list);
}

void corun__sem_bind(struct corun_sem *s, struct corun_timers *timers,
                     corun_sem_wake_cb wake)
{
  corun_list_init(&s->waiters.list);
  corun_list_init(&s->token_waiters.list);
  s->waiters.len = s->token_waiters.len = 0;
  s->timers = timers;
  s->wake = wake;
}

/* A start is allowed once the rate's token is due (rate.h). */
static int take_token(struct corun_sem *s, uint64_t now, int catch_up)
{
  return corun__rate_take(&s->rate, (double)now, catch_up);
}

static uint64_t token_due_ms(const struct corun_sem *s)
{
  return corun__rate_due_ms(&s->rate);
}

static int has_room(const struct corun_sem *s)
{
  return s->cap == 0 || s->in_use < s->cap;
}

/* Slots are given in arrival order whenever one is free. */
static void grant(struct corun_sem *s)
{
  while (!waitq_empty(&s->waiters) && has_room(s)) {
    struct corun_list *w = waitq_shift(&s->waiters);

    s->in_use++;
    s->wake(s, w, CORUN_SEM_SLOT);
  }
}

static void token_due(struct corun_timer *timer)
{
  struct corun_sem *s =
      (struct corun_sem *)((char *)timer - offsetof(struct corun_sem, timer));

  while (!waitq_empty(&s->token_waiters)) {
    if (!take_token(s, corun__timers_now(s->timers), 1)) {
      if (corun__timer_start(s->timers, &s->timer, token_due_ms(s), token_due,
                             NULL) == 0)
        return;
      /* No token would ever come: none of them may wait for one. */
      while (!waitq_empty(&s->token_waiters))
        s->wake(s, waitq_shift(&s->token_waiters), CORUN_SEM_NOMEM);
      return;
    }
    s->wake(s, waitq_shift(&s->token_waiters), CORUN_SEM_TOKEN);
  }
}

int corun__sem_try(struct corun_sem *s)
{
  if (!waitq_empty(&s->waiters) || !has_room(s))
    return 0;
  s->in_use++;
  return 1;
}

void corun__sem_wait(struct corun_sem *s, struct corun_list *w)
{
  waitq_push(&s->waiters, w);
}

void corun__sem_unwait(struct corun_sem *s, struct corun_list *w)
{
  waitq_remove(&s->waiters, w);
}

int corun__sem_token(struct corun_sem *s, struct corun_list *w)
{
  if (s->rate.interval_ms <= 0)
    return 1;
  if (waitq_empty(&s->token_waiters) &&
      take_token(s, corun__timers_now(s->timers), 0))
    return 1;
  waitq_push(&s->token_waiters, w);
  if (!corun__timer_armed(&s->timer) &&
      corun__timer_start(s->timers, &s->timer, token_due_ms(s), token_due,
                         NULL) < 0) {
    waitq_remove(&s->token_waiters, w);
    return -1;
  }
  return 0;
}

void corun__sem_token_unwait(struct corun_sem *s, struct corun_list *w)
{
  waitq_remove(&s->token_waiters, w);
  if (waitq_empty(&s->token_waiters))
    corun__timer_stop(s->timers, &s->timer);
}

void corun__sem_release(struct corun_sem *s)
{
  assert(s->in_use > 0);
  s->in_use--;
  grant(s);
}
