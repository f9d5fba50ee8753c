/* SPDX-License-Identifier: MIT */
#include "sem.h"

#include <assert.h>
#include <stddef.h>
#include <math.h>

#include "run.h"
#include "task.h"

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
 * next_token has passed. Continuing from next_token (not from now) keeps a
 * steady rate when the timer fires a little late; restarting from now after
 * an idle spell keeps the bucket from saving up a burst.
 */
static int take_token(struct corun_sem *s, uint64_t now)
{
  uint64_t step, base;

  if (s->interval_ms <= 0)
    return 1;
  if (now < s->next_token)
    return 0;
  step = (uint64_t)ceil(s->interval_ms);
  base = now - s->next_token < step ? s->next_token : now;
  s->next_token = base + step;
  return 1;
}

static int has_room(const struct corun_sem *s)
{
  return s->cap == 0 || s->in_use < s->cap;
}

static void grant(struct corun_sem *s);

static void token_due(struct corun_timer *timer)
{
  grant((struct corun_sem *)((char *)timer -
                             offsetof(struct corun_sem, timer)));
}

static void grant(struct corun_sem *s)
{
  struct corun_run *run = s->run;

  while (s->waiters.head && has_room(s)) {
    struct corun_task *t;
    uint64_t now = corun__now_ms(run);

    if (!take_token(s, now)) {
      corun__timer_start(run, &s->timer, s->next_token, token_due,
                         s->waiters.head);
      return;
    }
    t = corun__tq_pop(&s->waiters);
    s->in_use++;
    t->flags |= s->hold_flag;
    corun__run_ready(run, t);
  }
}

int corun__sem_try(struct corun_sem *s, struct corun_task *t)
{
  if (s->waiters.head || !has_room(s))
    return 0;
  if (!take_token(s, corun__now_ms(s->run)))
    return 0;
  s->in_use++;
  t->flags |= s->hold_flag;
  return 1;
}

void corun__sem_wait(struct corun_sem *s, struct corun_task *t)
{
  corun__tq_push(&s->waiters, t);
  if (s->waiters.head == t && has_room(s) && !corun__timer_armed(&s->timer))
    corun__timer_start(s->run, &s->timer, s->next_token, token_due, t);
}

void corun__sem_unwait(struct corun_sem *s, struct corun_task *t)
{
  corun__tq_remove(&s->waiters, t);
  if (s->waiters.head == NULL)
    corun__timer_stop(s->run, &s->timer);
}

void corun__sem_release(struct corun_sem *s, struct corun_task *t)
{
  assert(s->in_use > 0);
  t->flags &= ~s->hold_flag;
  s->in_use--;
  grant(s);
}
