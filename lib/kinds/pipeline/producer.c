/* SPDX-License-Identifier: MIT */
/*
 * Producers: each takes the next item from the source, waits out its
 * produce_delay and the rate's token, and puts the item into the first
 * stage's queue, waiting while that is full. When the last producer is
 * done (the source ran dry, or the pipeline stops) the first queue
 * closes. A producer's state changes in producer_set() only.
 */
#include "kinds/pipeline/pipeline.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>

#include "core/run.h"
#include "util/confine.h"

static void producer_set(struct producer *pr, enum producer_state s)
{
  /* A producer that is done stays done. */
  assert(pr->state != P_DONE || s == P_DONE);
  pr->state = s;
}

static uint64_t next_random(struct pl_run *r)
{
  /* xorshift64*: plenty for spreading delays. */
  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return r->rng * 2685821657736338717ULL;
}

static double pick_delay(struct pl *p)
{
  const struct pl_conf *c = p->c;
  double u;

  if (c->delay_max_ms <= c->delay_min_ms)
    return c->delay_min_ms;
  u = (double)(next_random(p->r) >> 11) / 9007199254740992.0;
  return c->delay_min_ms + u * (c->delay_max_ms - c->delay_min_ms);
}

/* One token of the rate's bucket (rate.h), shared by all producers. */
static int take_token(struct pl *p, int catch_up)
{
  if (p->c->interval_ms <= 0)
    return 1;
  return corun__rate_take(&p->r->rate,
                          (double)corun__now_ns(p->base.run) / 1e6, catch_up);
}

static struct producer *producer_of_timer(struct corun_timer *t)
{
  return (struct producer *)((char *)t - offsetof(struct producer, timer));
}

static void delay_due(struct corun_timer *t)
{
  struct producer *pr = producer_of_timer(t);

  pr->delayed = 1;
  corun__pl_produce(pr);
}

static void rate_due(struct corun_timer *t)
{
  struct producer *pr = producer_of_timer(t);

  pr->catch_up = 1;
  pr->token = take_token(pr->pl, 1);
  corun__pl_produce(pr);
}

static void producer_done(struct producer *pr)
{
  struct pl *p = pr->pl;

  if (pr->state == P_DONE)
    return;
  producer_set(pr, P_DONE);
  if (--p->r->prod_live == 0)
    corun_queue_close(&p->r->st[0].q);
  corun__pl_maybe_end(p);
}

static void produced(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct producer *pr = qw->data;

  if (res != CORUN_Q_OK)
    corun__pl_item_cancelled(pr->pl, &qw->item);
  producer_set(pr, P_IDLE);
  corun__pl_produce(pr);
}

/*
 * The source just ran dry: producers waiting out a delay or a rate token
 * will find nothing, so they are done now, not a delay later.
 */
static void release_idle_producers(struct pl *p, struct producer *self)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->producers; i++) {
    struct producer *pr = &r->prod[i];

    if (pr == self || (pr->state != P_DELAY && pr->state != P_RATE))
      continue;
    corun__timer_stop(&p->base.run->timers, &pr->timer);
    producer_done(pr);
  }
}

void corun__pl_produce(struct producer *pr)
{
  struct pl *p = pr->pl;
  struct pl_run *r = p->r;
  struct corun_run *run = p->base.run;
  int batch = 0;

  for (;;) {
    struct corun_qitem it;
    enum corun_qresult res;
    int got;

    if (r->stopping || corun__pl_source_dry(p)) {
      producer_done(pr);
      return;
    }
    if (p->c->delay_max_ms > 0 && !pr->delayed) {
      producer_set(pr, P_DELAY);
      pr->catch_up = 0;
      if (corun__timer_start(&run->timers, &pr->timer,
                             corun__now_ms(run) +
                                 (uint64_t)llround(pick_delay(p)),
                             delay_due, &p->base) < 0)
        corun__pl_fail(p, CORUN_ERR_IO, "out of memory arming a timer");
      return;
    }
    /* A lines source may need a read before an item can leave it. */
    if (p->c->src == SRC_LINES && corun__pl_lines_wait(p, pr)) {
      producer_set(pr, P_SOURCE);
      return;
    }
    if (!pr->token && !take_token(p, pr->catch_up)) {
      producer_set(pr, P_RATE);
      if (corun__timer_start(&run->timers, &pr->timer,
                             corun__rate_due_ms(&r->rate), rate_due,
                             &p->base) < 0)
        corun__pl_fail(p, CORUN_ERR_IO, "out of memory arming a timer");
      return;
    }
    pr->token = 0;
    got = corun__pl_source_next(p, &it);
    if (got == SRC_DRY) {
      producer_done(pr);
      return;
    }
    if (got == SRC_WAIT) {
      producer_set(pr, P_SOURCE);
      continue;
    }
    if (got == SRC_ERR) {
      if (p->c->src == SRC_LINES && r->lines.err)
        corun__pl_fail(p, CORUN_ERR_IO, "cannot read %s: %s",
                       p->c->lines_stdin ? "standard input" : p->c->lines,
                       r->lines.err == E2BIG
                           ? "a line is over 64 MiB"
                           : corun__confine_strerror(r->lines.err));
      else
        corun__pl_fail(p, CORUN_ERR_IO, "out of memory reading the source");
      return;
    }
    pr->delayed = 0;
    producer_set(pr, P_IDLE);
    r->entered++;
    if (corun__pl_source_dry(p))
      release_idle_producers(p, pr);
    if (++batch == BATCH_ITEMS) {
      /* Put this one, then give way; resume() carries on. */
      batch = -1;
    }
    res = corun_queue_put(&r->st[0].q, &it);
    if (res == CORUN_Q_OK && batch < 0) {
      producer_set(pr, P_YIELD);
      pr->catch_up = 0;
      corun__pl_give_way(p);
      return;
    }
    if (res == CORUN_Q_OK)
      continue;
    pr->catch_up = 0;
    if (res == CORUN_Q_FULL) {
      producer_set(pr, P_PUTTING);
      pr->w.item = it;
      pr->w.data = pr;
      corun_queue_put_wait(&r->st[0].q, &pr->w, produced);
      return;
    }
    corun__pl_item_cancelled(p, &it);
  }
}

void corun__pl_producer_wake(struct producer *pr)
{
  if (pr->state == P_SOURCE)
    corun__pl_produce(pr);
}

void corun__pl_producers_resume(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->producers && p->base.state == CORUN_STATE_RUNNING; i++)
    if (r->prod[i].state == P_YIELD) {
      producer_set(&r->prod[i], P_IDLE);
      corun__pl_produce(&r->prod[i]);
    }
}

void corun__pl_producers_stop(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->producers; i++) {
    struct producer *pr = &r->prod[i];

    corun__timer_stop(&p->base.run->timers, &pr->timer);
    if (pr->state == P_PUTTING && corun_queue_waiting(&pr->w)) {
      corun_queue_unwait(&pr->w);
      corun__pl_item_cancelled(p, &pr->w.item);
    }
    if (pr->state != P_DONE) {
      producer_set(pr, P_DONE);
      r->prod_live--;
    }
  }
}
