/* SPDX-License-Identifier: MIT */
#include "sched/sem.h"

#include <assert.h>
#include <stddef.h>
#include <math.h>

#include "core/run.h"
#include "core/task.h"

void corun__tq_push(struct corun_tq *q, struct corun_task *t)
{
  assert(t->inq == NULL);
  t->inq = q;
  t->qnext = NULL;
  t->qprev = q->tail;
  if (q->tail)
    q->tail->qnext = t;
  else
    q->head = t;
  q->tail = t;
  q->len++;
}

void corun__tq_remove(struct corun_tq *q, struct corun_task *t)
{
  assert(t->inq == q);
  if (t->qprev)
    t->qprev->qnext = t->qnext;
  else
    q->head = t->qnext;
  if (t->qnext)
    t->qnext->qprev = t->qprev;
  else
    q->tail = t->qprev;
  t->qprev = t->qnext = NULL;
  t->inq = NULL;
  q->len--;
}

struct corun_task *corun__tq_pop(struct corun_tq *q)
{
  struct corun_task *t = q->head;

  if (t)
    corun__tq_remove(q, t);
  return t;
}

/*
 * Token bucket holding at most one token: a start is allowed once
 * next_token has passed. When the token timer fires (catch_up), counting
 * on from next_token keeps the rate steady despite a late timer, and lets
 * rates finer than the timer's millisecond take several tokens a tick.
 * Any other time the bucket was idle: it holds one token, no more, so the
 * next one is a whole interval after now.
 */
static int take_token(struct corun_sem *s, uint64_t now, int catch_up)
{
  double step = s->interval_ms, base;

  if (step <= 0)
    return 1;
  if ((double)now < s->next_token)
    return 0;
  if (catch_up && (double)now - s->next_token < (step > 1.0 ? step : 1.0))
    base = s->next_token;
  else
    base = (double)now;
  s->next_token = base + step;
  return 1;
}

static uint64_t token_due_ms(const struct corun_sem *s)
{
  return (uint64_t)ceil(s->next_token);
}

static int has_room(const struct corun_sem *s)
{
  return s->cap == 0 || s->in_use < s->cap;
}

/* Slots are given in arrival order whenever one is free. */
static void grant(struct corun_sem *s)
{
  while (s->waiters.head && has_room(s)) {
    struct corun_task *t = corun__tq_pop(&s->waiters);

    s->in_use++;
    t->flags |= s->hold_flag;
    corun__run_ready(s->run, t);
  }
}

static void token_due(struct corun_timer *timer)
{
  struct corun_sem *s =
      (struct corun_sem *)((char *)timer - offsetof(struct corun_sem, timer));
  struct corun_run *run = s->run;

  while (s->token_waiters.head) {
    struct corun_task *t;

    if (!take_token(s, corun__now_ms(run), 1)) {
      corun__timer_start(&run->timers, &s->timer, token_due_ms(s), token_due,
                         s->token_waiters.head);
      return;
    }
    t = corun__tq_pop(&s->token_waiters);
    t->flags |= CORUN_TF_TOKEN;
    corun__run_ready(run, t);
  }
}

int corun__sem_try(struct corun_sem *s, struct corun_task *t)
{
  if (s->waiters.head || !has_room(s))
    return 0;
  s->in_use++;
  t->flags |= s->hold_flag;
  return 1;
}

void corun__sem_wait(struct corun_sem *s, struct corun_task *t)
{
  corun__tq_push(&s->waiters, t);
}

void corun__sem_unwait(struct corun_sem *s, struct corun_task *t)
{
  corun__tq_remove(&s->waiters, t);
}

int corun__sem_token(struct corun_sem *s, struct corun_task *t)
{
  if (s->interval_ms <= 0 || (t->flags & CORUN_TF_TOKEN))
    return 1;
  if (s->token_waiters.head == NULL &&
      take_token(s, corun__now_ms(s->run), 0))
    return 1;
  corun__tq_push(&s->token_waiters, t);
  if (!corun__timer_armed(&s->timer))
    corun__timer_start(&s->run->timers, &s->timer, token_due_ms(s), token_due,
                       t);
  return 0;
}

void corun__sem_token_unwait(struct corun_sem *s, struct corun_task *t)
{
  corun__tq_remove(&s->token_waiters, t);
  if (s->token_waiters.head == NULL)
    corun__timer_stop(&s->run->timers, &s->timer);
}

void corun__sem_release(struct corun_sem *s, struct corun_task *t)
{
  assert(s->in_use > 0);
  t->flags &= ~s->hold_flag;
  s->in_use--;
  grant(s);
}
