/* SPDX-License-Identifier: MIT */
/*
 * The task core: admission (after, limit, concurrency), timeout,
 * cancellation and completion. Kinds decide what running means; everything
 * about when a task may run and how it ends is here, once for all kinds.
 */
#include "core/task.h"

#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "core/run.h"
#include "sched/sem.h"

static const char *const state_names[] = {"pending", "blocked", "queued",
                                          "running", "done"};
static const char *const status_names[] = {"none",    "ok",        "failed",
                                           "timeout", "cancelled", "skipped"};

const char *corun__task_state_name(enum corun_state s)
{
  return state_names[s];
}

const char *corun__task_status_name(enum corun_status s)
{
  return status_names[s];
}

/* Into the run's ready queue: dispatched in a later pass, in order. */
static void ready(struct corun_task *t)
{
  assert(t->inq == CORUN_INQ_NONE);
  t->inq = CORUN_INQ_READY;
  corun__run_enqueue(t->run, &t->qlink);
}

static void set_state(struct corun_task *t, enum corun_state s)
{
  struct corun_run *run = t->run;

  if (run->opts.debug) {
    if (s == CORUN_STATE_DONE)
      corun__run_logf(run, "%s: %s -> done (%s)", t->id,
                      state_names[t->state], status_names[t->status]);
    else
      corun__run_logf(run, "%s: %s -> %s", t->id, state_names[t->state],
                      state_names[s]);
  }
  t->state = (uint8_t)s;
}

static void make_ready(struct corun_task *t)
{
  t->t_ready = corun__now_ns(t->run);
  set_state(t, CORUN_STATE_QUEUED);
  ready(t);
}

void corun__task_activate(struct corun_task *t)
{
  if (t->state != CORUN_STATE_PENDING || (t->flags & CORUN_TF_SKIP_QUEUED))
    return;
  t->flags |= CORUN_TF_ACTIVATED;
  if (t->deps && t->deps->left > 0) {
    set_state(t, CORUN_STATE_BLOCKED);
    return;
  }
  make_ready(t);
}

static void on_timeout(struct corun_timer *timer)
{
  corun__task_cancel(timer->data, CORUN_STATUS_TIMEOUT, CORUN_CANCEL_OWN);
}

static void run_task(struct corun_task *t)
{
  struct corun_run *run = t->run;

  t->t_start = corun__now_ns(run);
  t->attempts = 1;
  if (!(t->flags & CORUN_TF_INSTANCE))
    run->nrunning++;
  set_state(t, CORUN_STATE_RUNNING);
  if (t->timeout && corun__timer_start(&run->timers, &t->timeout->timer,
                                       corun__now_ms(run) + t->timeout->ms,
                                       on_timeout, t) < 0) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory arming the timeout");
    return;
  }
  if (t->flags & CORUN_TF_FILL) {
    char *err = NULL;

    t->flags &= ~CORUN_TF_FILL;
    if (run->fill(t, &err) < 0) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL, "%s",
                         err ? err : "out of memory filling in captures");
      free(err);
      return;
    }
  }
  t->kind->start(t);
}

static void end(struct corun_task *t, enum corun_status status,
                enum corun_errtype type, char *msg);

/* Whether a string under v holds the mask secrets are written as. */
static int holds_mask(const cJSON *v)
{
  const cJSON *it;

  if (cJSON_IsString(v))
    return strstr(v->valuestring, "***") != NULL;
  for (it = v ? v->child : NULL; it; it = it->next)
    if (holds_mask(it))
      return 1;
  return 0;
}

/*
 * A leaf task an earlier run ended ok (an observer, the journal, says so)
 * ends ok now with that result, taking no slot. Containers run: their
 * children resume.
 */
static int resume(struct corun_task *t)
{
  struct corun_list *it;
  cJSON *result = NULL;
  int earlier = 0;

  if (t->nchildren || (t->flags & (CORUN_TF_INSTANCE | CORUN_TF_RESUMED)))
    return 0;
  for (it = t->run->observers.next; it != &t->run->observers; it = it->next) {
    struct corun_observer *o =
        corun_list_entry(it, struct corun_observer, link);

    if (o->earlier && (earlier = o->earlier(o, t, &result)) != 0)
      break;
  }
  if (!earlier)
    return 0;
  /*
   * The journal holds a secret capture, and any capture holding a
   * secret's text (one filled in from ${env:...}, say), masked as "***":
   * later tasks would get the mask. The task runs again instead.
   */
  if (holds_mask(cJSON_GetObjectItemCaseSensitive(result, "captures"))) {
    cJSON_Delete(result);
    return 0;
  }
  t->result = result;
  t->flags |= CORUN_TF_RESUMED;
  t->t_start = corun__now_ns(t->run);
  t->attempts = 0;
  end(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
  return 1;
}

void corun__task_sem_wake(struct corun_sem *s, struct corun_list *w,
                          enum corun_sem_grant what)
{
  struct corun_task *t = corun_list_entry(w, struct corun_task, qlink);

  t->inq = CORUN_INQ_NONE;
  if (what == CORUN_SEM_NOMEM) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory arming the rate timer of limit \"%s\"",
                       s->name ? s->name : "");
    return;
  }
  t->flags |= what == CORUN_SEM_TOKEN ? CORUN_TF_TOKEN : s->hold_flag;
  ready(t);
}

/* Hold a slot of s, or queue for one (0). */
static int take_slot(struct corun_sem *s, struct corun_task *t)
{
  if (corun__sem_try(s)) {
    t->flags |= s->hold_flag;
    return 1;
  }
  assert(t->inq == CORUN_INQ_NONE);
  t->inq = s == t->limit            ? CORUN_INQ_LIMIT
           : s == &t->run->global ? CORUN_INQ_GLOBAL
                                  : CORUN_INQ_FDS;
  corun__sem_wait(s, &t->qlink);
  return 0;
}

static void give_slot(struct corun_sem *s, struct corun_task *t)
{
  t->flags &= ~s->hold_flag;
  corun__sem_release(s);
}

/* Take the limit's rate token (1), or queue for it or end (0). */
static int take_token(struct corun_task *t)
{
  struct corun_sem *s = t->limit;
  int r;

  if (t->flags & CORUN_TF_TOKEN)
    return 1;
  assert(t->inq == CORUN_INQ_NONE);
  t->inq = CORUN_INQ_TOKEN;
  r = corun__sem_token(s, &t->qlink);
  if (r == 0)
    return 0;
  t->inq = CORUN_INQ_NONE;
  if (r < 0) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory arming the rate timer of limit \"%s\"",
                       s->name ? s->name : "");
    return 0;
  }
  return 1;
}

void corun__task_dispatch_link(struct corun_list *link)
{
  struct corun_task *t = corun_list_entry(link, struct corun_task, qlink);
  struct corun_run *run = t->run;
  uint64_t began = run->opts.debug ? uv_hrtime() : 0;

  t->inq = CORUN_INQ_NONE;
  corun__task_dispatch(t);
  if (run->opts.debug)
    corun__run_check_slow(run, began, t->id, "start");
}

void corun__task_dispatch(struct corun_task *t)
{
  struct corun_run *run = t->run;

  if (t->state == CORUN_STATE_DONE)
    return;
  if (t->flags & CORUN_TF_YIELD) {
    t->flags &= ~CORUN_TF_YIELD;
    t->kind->resume(t);
    return;
  }
  if (t->flags & CORUN_TF_SKIP_QUEUED) {
    char *msg = t->err_msg;

    t->err_msg = NULL;
    end(t, CORUN_STATUS_SKIPPED, CORUN_ERR_SKIPPED, msg);
    return;
  }
  assert(t->state == CORUN_STATE_QUEUED);
  if (!corun_list_empty(&run->observers) && resume(t))
    return;
  if (t->limit && !(t->flags & CORUN_TF_HOLD_LIMIT) && !take_slot(t->limit, t))
    return;
  if (t->kind->leaf && !(t->flags & CORUN_TF_HOLD_GLOBAL) &&
      !take_slot(&run->global, t))
    return;
  if (t->kind->leaf && !(t->flags & CORUN_TF_HOLD_FDS) &&
      !take_slot(&run->fds, t))
    return;
  if (t->limit && !take_token(t))
    return;
  run_task(t);
}

static void leave_queue(struct corun_task *t)
{
  enum corun_inq q = (enum corun_inq)t->inq;

  t->inq = CORUN_INQ_NONE;
  switch (q) {
  case CORUN_INQ_NONE:
    break;
  case CORUN_INQ_READY:
    corun_list_unlink(&t->qlink);
    break;
  case CORUN_INQ_TOKEN:
    corun__sem_token_unwait(t->limit, &t->qlink);
    break;
  case CORUN_INQ_LIMIT:
    corun__sem_unwait(t->limit, &t->qlink);
    break;
  case CORUN_INQ_GLOBAL:
    corun__sem_unwait(&t->run->global, &t->qlink);
    break;
  case CORUN_INQ_FDS:
    corun__sem_unwait(&t->run->fds, &t->qlink);
    break;
  }
}

int corun__task_no_failure(const struct corun_task *t)
{
  return t->status == CORUN_STATUS_OK ||
         (t->status == CORUN_STATUS_SKIPPED &&
          (t->flags & CORUN_TF_NOTHING_FAILED));
}

int corun__task_is_cleanup(const struct corun_task *t)
{
  return t->deps && t->deps->run_if == CORUN_RUN_IF_ALL_DONE;
}

/*
 * Skip d through the ready queue, not at once: a long "after" chain would
 * otherwise recurse once per link. msg is taken.
 */
static void queue_skip(struct corun_task *d, char *msg, int nothing_failed)
{
  free(d->err_msg);
  d->err_msg = msg;
  d->flags |= CORUN_TF_SKIP_QUEUED;
  if (nothing_failed)
    d->flags |= CORUN_TF_NOTHING_FAILED;
  leave_queue(d);
  ready(d);
}

/* The first "after" task skipped because nothing failed, or NULL. */
static struct corun_task *nothing_failed_after(const struct corun_deps *dd)
{
  uint32_t i;

  for (i = 0; i < dd->nafter; i++)
    if (dd->after[i]->status == CORUN_STATUS_SKIPPED &&
        dd->after[i]->state == CORUN_STATE_DONE)
      return dd->after[i];
  return NULL;
}

static void dependency_ended(struct corun_task *d, struct corun_task *dep)
{
  struct corun_deps *dd = d->deps;
  struct corun_buf m = CORUN_BUF_INIT;

  if (d->state == CORUN_STATE_DONE)
    return;
  if (dd->run_if != CORUN_RUN_IF_ALL_OK) {
    /* A skip because nothing failed is no failure to handle either. */
    if (!corun__task_no_failure(dep))
      dd->failed++;
    assert(dd->left > 0);
    if (--dd->left > 0)
      return;
    if (dd->run_if == CORUN_RUN_IF_ANY_FAILED && dd->failed == 0)
      queue_skip(d, strdup("nothing failed"), 1);
    else if (d->state == CORUN_STATE_BLOCKED)
      make_ready(d);
    return;
  }
  /*
   * A task after one skipped because nothing failed is skipped too, as no
   * failure either; but only once its other "after" tasks have ended, so
   * that one failing among them makes it a failure whichever ends first.
   */
  if (dep->status == CORUN_STATUS_OK ||
      (corun__task_no_failure(dep) && !(d->flags & CORUN_TF_SKIP_QUEUED))) {
    assert(dd->left > 0);
    if (--dd->left > 0)
      return;
    if ((dep = nothing_failed_after(dd)) != NULL) {
      corun_buf_printf(&m, "\"%s\" ended skipped", dep->id);
      queue_skip(d, corun_buf_detach(&m), 1);
    } else if (d->state == CORUN_STATE_BLOCKED) {
      make_ready(d);
    }
    return;
  }
  if (d->flags & CORUN_TF_SKIP_QUEUED)
    return;
  corun_buf_printf(&m, "\"%s\" ended %s", dep->id,
                   status_names[dep->status]);
  queue_skip(d, corun_buf_detach(&m), 0);
  /*
   * dep taken by a cancel under way: if that cancel reaches d too, d is
   * cancelled with it (see corun__task_cancel). A dep that ended skipped
   * or failed was no part of it.
   */
  dd->skip_pass = d->run->cancel_depth &&
                          (dep->status == CORUN_STATUS_CANCELLED ||
                           dep->status == CORUN_STATUS_TIMEOUT)
                      ? d->run->cancel_pass
                      : 0;
}

static void end(struct corun_task *t, enum corun_status status,
                enum corun_errtype type, char *msg)
{
  struct corun_run *run = t->run;
  struct corun_task *parent = t->parent;
  struct corun_list *it;
  uint32_t i;

  assert(t->state != CORUN_STATE_DONE);
  if (t->timeout)
    corun__timer_stop(&run->timers, &t->timeout->timer);
  leave_queue(t);
  if (t->flags & CORUN_TF_HOLD_LIMIT)
    give_slot(t->limit, t);
  if (t->flags & CORUN_TF_HOLD_GLOBAL)
    give_slot(&run->global, t);
  if (t->flags & CORUN_TF_HOLD_FDS)
    give_slot(&run->fds, t);
  if (status != CORUN_STATUS_SKIPPED)
    t->flags &= ~CORUN_TF_NOTHING_FAILED;
  t->status = (uint8_t)status;
  t->err_type = (uint8_t)type;
  free(t->err_msg);
  t->err_msg = msg;
  t->t_end = corun__now_ns(run);
  t->flags &= ~(CORUN_TF_SKIP_QUEUED | CORUN_TF_YIELD | CORUN_TF_TOKEN);
  if (!(t->flags & CORUN_TF_INSTANCE)) {
    if (t->state == CORUN_STATE_RUNNING)
      run->nrunning--;
    run->ndone++;
    if (status == CORUN_STATUS_FAILED || status == CORUN_STATUS_TIMEOUT)
      run->nfailed++;
  }
  for (it = run->observers.next; it != &run->observers; it = it->next) {
    struct corun_observer *o =
        corun_list_entry(it, struct corun_observer, link);

    if (o->task_ended)
      o->task_ended(o, t);
  }
  set_state(t, CORUN_STATE_DONE);

  /* Children of a task that never ran never run either. */
  if (t->t_start == CORUN_NO_TIME) {
    for (i = 0; i < t->nchildren; i++) {
      struct corun_task *c = t->children[i];
      struct corun_buf m = CORUN_BUF_INIT;

      if (c->state == CORUN_STATE_DONE)
        continue;
      corun_buf_printf(&m, "parent \"%s\" was %s", t->id,
                       status_names[status]);
      leave_queue(c);
      /* Whatever c was queued for, it ends as its parent did. */
      c->flags &= ~CORUN_TF_NOTHING_FAILED;
      c->flags |= t->flags & CORUN_TF_NOTHING_FAILED;
      end(c, status,
          status == CORUN_STATUS_SKIPPED ? CORUN_ERR_SKIPPED
                                         : CORUN_ERR_CANCELLED,
          corun_buf_detach(&m));
    }
  }
  /*
   * Dependents first: they only queue (a start or a skip), and a sibling
   * skipped because t failed must be known as skipped before a fail-fast
   * parent cancels the rest.
   */
  for (i = 0; t->deps && i < t->deps->ndependents; i++)
    dependency_ended(t->deps->dependents[i], t);
  if (parent && parent->state == CORUN_STATE_RUNNING &&
      !(t->flags & CORUN_TF_DETACHED) && parent->kind->child_done)
    parent->kind->child_done(parent, t);
  corun__run_task_ended(run);
}

/* Whether t's cancellation started with the run (a signal, --timeout). */
static int cancelled_by_run(const struct corun_task *t)
{
  for (; t; t = t->parent) {
    if ((t->flags & CORUN_TF_RUN_CANCEL) &&
        t->cancel_status == CORUN_STATUS_CANCELLED)
      return 1;
    /* A cleanup the run spared: what ends inside it is its own doing. */
    if (t->deps && t->deps->spared && !(t->flags & CORUN_TF_RUN_CANCEL))
      return 0;
  }
  return 0;
}

int corun__task_spared(struct corun_task *t)
{
  struct corun_task *c;

  if (!t->run->spare)
    return 0;
  for (c = t; c; c = c->parent)
    if (corun__task_is_cleanup(c) && c->state != CORUN_STATE_DONE &&
        c->cancel_status == CORUN_STATUS_NONE &&
        !(c->flags & CORUN_TF_RUN_CANCEL)) {
      if (c == t)
        t->deps->spared = 1;
      return 1;
    }
  return 0;
}

static char *cancel_message(struct corun_task *t)
{
  struct corun_buf m = CORUN_BUF_INIT;

  if (t->cancel_status == CORUN_STATUS_TIMEOUT) {
    corun_buf_printf(&m, "timed out after %.3gs",
                     (double)t->timeout->ms / 1000.0);
    return corun_buf_detach(&m);
  }
  switch (cancelled_by_run(t) ? t->run->end : CORUN_END_NORMAL) {
  case CORUN_END_SIGINT:
    return strdup("interrupted (SIGINT)");
  case CORUN_END_SIGTERM:
    return strdup("terminated (SIGTERM)");
  case CORUN_END_SIGHUP:
    return strdup("hung up (SIGHUP)");
  case CORUN_END_TIMEOUT:
    return strdup("the run's --timeout expired");
  case CORUN_END_STALLED:
    return strdup("the run stalled: tasks waited on each other's limits");
  default:
    break;
  }
  if (t->parent && t->parent->cancel_status == CORUN_STATUS_TIMEOUT)
    corun_buf_printf(&m, "parent \"%s\" timed out", t->parent->id);
  else if (t->parent && t->parent->cancel_status != CORUN_STATUS_NONE)
    corun_buf_printf(&m, "parent \"%s\" was cancelled", t->parent->id);
  else if (t->parent)
    corun_buf_printf(&m, "cancelled by parent \"%s\"", t->parent->id);
  else
    corun_buf_puts(&m, "cancelled");
  return corun_buf_detach(&m);
}

void corun__task_finish(struct corun_task *t, enum corun_status status,
                        enum corun_errtype type, const char *fmt, ...)
{
  char *msg = NULL;

  if (t->state == CORUN_STATE_DONE)
    return;
  if (t->cancel_status != CORUN_STATUS_NONE) {
    status = (enum corun_status)t->cancel_status;
    type = status == CORUN_STATUS_TIMEOUT ? CORUN_ERR_TIMEOUT
                                          : CORUN_ERR_CANCELLED;
    msg = cancel_message(t);
  } else if (status == CORUN_STATUS_OK) {
    type = CORUN_ERR_NONE;
  } else if (fmt) {
    struct corun_buf m = CORUN_BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    corun_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    msg = corun_buf_detach(&m);
  }
  /*
   * A result set before a failure is kept (an exec's exit status); one
   * from before a cancel is not what the task came to.
   */
  if (t->cancel_status != CORUN_STATUS_NONE && t->result) {
    cJSON_Delete(t->result);
    t->result = NULL;
  }
  end(t, status, type, msg);
}

void corun__task_set_result(struct corun_task *t, cJSON *result)
{
  cJSON_Delete(t->result);
  t->result = result;
}

void corun__task_yield(struct corun_task *t)
{
  t->flags |= CORUN_TF_YIELD;
  ready(t);
}

void corun__task_free_parts(struct corun_task *t)
{
  if (t->kind && t->kind->free)
    t->kind->free(t);
  if (!(t->flags & CORUN_TF_ID_POOLED))
    free(t->id);
  free(t->children);
  if (t->deps) {
    free(t->deps->after);
    free(t->deps->dependents);
    free(t->deps);
  }
  free(t->timeout);
  free(t->err_msg);
  cJSON_Delete(t->result);
}

long long corun__backoff_ms(long long base_ms, uint32_t attempts)
{
  long long ms = base_ms;
  uint32_t i;

  for (i = 1; i < attempts && ms < CORUN_BACKOFF_CAP_MS; i++)
    ms *= 2;
  return ms > CORUN_BACKOFF_CAP_MS ? CORUN_BACKOFF_CAP_MS : ms;
}

uint32_t corun__task_start_children(struct corun_task *t)
{
  uint32_t i, pending = 0;

  /* Count first: a child skipped before t started has already ended. */
  for (i = 0; i < t->nchildren; i++)
    if (t->children[i]->state != CORUN_STATE_DONE)
      pending++;
  for (i = 0; i < t->nchildren; i++)
    corun__task_activate(t->children[i]);
  return pending;
}

void corun__task_cancel_pass(struct corun_run *run, int begin)
{
  if (!begin)
    run->cancel_depth--;
  else if (run->cancel_depth++ == 0)
    run->cancel_pass++;
}

void corun__task_cancel_children(struct corun_task *t, uint32_t *pending)
{
  struct corun_run *run = t->run;
  uint32_t i;

  corun__task_cancel_pass(run, 1);
  for (i = 0; i < t->nchildren && t->state == CORUN_STATE_RUNNING; i++) {
    struct corun_task *c = t->children[i];

    if (c->state == CORUN_STATE_DONE || (c->flags & CORUN_TF_DETACHED))
      continue;
    if (corun__task_cancel(c, CORUN_STATUS_CANCELLED, CORUN_CANCEL_OUTSIDE))
      (*pending)--;
  }
  corun__task_cancel_pass(run, 0);
}

void corun__task_let_go(struct corun_task *t, uint32_t *pending)
{
  uint32_t i;

  /* A pipeline's item ends whole: its tasks are freed with it. */
  if (t->flags & CORUN_TF_INSTANCE)
    return;
  for (i = 0; i < t->nchildren; i++) {
    struct corun_task *c = t->children[i];

    if (c->state == CORUN_STATE_DONE || (c->flags & CORUN_TF_DETACHED))
      continue;
    c->flags |= CORUN_TF_DETACHED;
    (*pending)--;
  }
}

/*
 * Whether t, waiting for its "after" tasks, is bound to be skipped for a
 * failure that came before the cancel under way: an after task already
 * queued to be skipped for one, or itself so bound (a chain, followed
 * down through at most DOOM_LOOKS tasks still waiting, so that a wide
 * graph costs no more). Such a task is left to its skip, in any order.
 */
/*
 * Whether t's queued skip came of the cancel under way (its after task
 * was cancelled in it), rather than of a failure before it.
 */
static int skip_of_this_cancel(const struct corun_task *t)
{
  return t->run->cancel_depth && t->deps->skip_pass == t->run->cancel_pass;
}

#define DOOM_LOOKS 256

static int doomed(const struct corun_task *t, int *budget)
{
  const struct corun_deps *dd = t->deps;
  uint32_t i;

  if (dd == NULL || dd->run_if != CORUN_RUN_IF_ALL_OK)
    return 0;
  /*
   * Its own after tasks first, all of them whatever the budget: only a
   * skip for a failure passes on at once; one because nothing failed
   * waits for the other after tasks, which may never end.
   */
  for (i = 0; i < dd->nafter; i++) {
    const struct corun_task *x = dd->after[i];

    if ((x->flags & CORUN_TF_SKIP_QUEUED) &&
        !(x->flags & CORUN_TF_NOTHING_FAILED) &&
        !skip_of_this_cancel(x))
      return 1;
  }
  /* Then down the chain, through the ones still waiting, within budget. */
  for (i = 0; i < dd->nafter; i++) {
    const struct corun_task *x = dd->after[i];

    if (x->state == CORUN_STATE_DONE || x->state == CORUN_STATE_RUNNING ||
        (x->flags & CORUN_TF_SKIP_QUEUED))
      continue;
    if (--*budget < 0)
      return 0;
    if (doomed(x, budget))
      return 1;
  }
  return 0;
}

int corun__task_cancel(struct corun_task *t, enum corun_status reason,
                       enum corun_cancel_how how)
{
  if (t->state == CORUN_STATE_DONE)
    return 0;
  /*
   * A cleanup whose container the run is cancelling (first signal,
   * --timeout) still runs: like a shielded task, its parent stops waiting
   * for it, and the run waits for it.
   */
  if (how != CORUN_CANCEL_OWN && t->run->spare &&
      corun__task_is_cleanup(t) && t->cancel_status == CORUN_STATUS_NONE &&
      t->parent && cancelled_by_run(t->parent)) {
    if (!(t->flags & CORUN_TF_DETACHED) && t->run->opts.debug)
      corun__run_logf(t->run, "%s: cleanup, runs on", t->id);
    t->flags |= CORUN_TF_DETACHED;
    t->deps->spared = 1;
    return 1;
  }
  if (how == CORUN_CANCEL_OUTSIDE && (t->flags & CORUN_TF_SHIELD)) {
    if (!(t->flags & CORUN_TF_DETACHED) && t->run->opts.debug)
      corun__run_logf(t->run, "%s: shielded, keeps running", t->id);
    t->flags |= CORUN_TF_DETACHED;
    return 1;
  }
  if (how == CORUN_CANCEL_FORCE)
    t->flags |= CORUN_TF_FORCE;
  if (t->cancel_status != CORUN_STATUS_NONE) {
    /* On its way out; a forced cancel may still hurry a kind along. */
    if (how == CORUN_CANCEL_FORCE && t->state == CORUN_STATE_RUNNING &&
        t->kind->cancel)
      t->kind->cancel(t);
    return 0;
  }
  if (t->flags & CORUN_TF_SKIP_QUEUED) {
    if (!skip_of_this_cancel(t)) {
      /* Its "after" task already failed: it was never going to run. */
      char *msg = t->err_msg;

      t->err_msg = NULL;
      end(t, CORUN_STATUS_SKIPPED, CORUN_ERR_SKIPPED, msg);
      return 0;
    }
    /* Its "after" task ended in this same cancel: cancelled with it. */
    t->flags &= ~(CORUN_TF_SKIP_QUEUED | CORUN_TF_NOTHING_FAILED);
  } else if (how != CORUN_CANCEL_FORCE && t->state != CORUN_STATE_RUNNING &&
             t->run->cancel_depth) {
    int budget = DOOM_LOOKS;

    if (doomed(t, &budget))
      return 0; /* left to the skip it is bound for */
  }
  t->cancel_status = (uint8_t)reason;
  if (t->state != CORUN_STATE_RUNNING) {
    end(t, reason,
        reason == CORUN_STATUS_TIMEOUT ? CORUN_ERR_TIMEOUT
                                       : CORUN_ERR_CANCELLED,
        cancel_message(t));
    return 0;
  }
  if (t->kind->cancel)
    t->kind->cancel(t);
  else
    corun__task_finish(t, reason, CORUN_ERR_CANCELLED, NULL);
  return 0;
}
