/* SPDX-License-Identifier: MIT */
/*
 * A pipeline's run from start to end: setting up the queues, workers and
 * producers, stopping early, and ending.
 *
 * Ending: when the producers run dry the first queue closes; when a
 * stage's workers have all left (closed and drained), the next queue
 * closes; the pipeline ends when the last stage's workers have left.
 * Stopping early (cancel, timeout, on_error "cancel") cancels the running
 * item tasks and counts every item still waiting anywhere as cancelled, so
 * ok + failed + cancelled is always the number of items that entered.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/fields.h"
#include "core/instance.h"
#include "core/run.h"
#include "util/confine.h"

void corun__pl_fail(struct pl *p, enum corun_errtype type, const char *fmt, ...)
{
  struct corun_buf m = CORUN_BUF_INIT;
  va_list ap;

  if (!p->r->fail_set) {
    va_start(ap, fmt);
    corun_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    p->r->fail_msg = corun_buf_detach(&m);
    p->r->fail_type = type;
    p->r->fail_set = 1;
  }
  corun__pl_stop(p, CORUN_CANCEL_OUTSIDE);
}

void corun__pl_item_cancelled(struct pl *p, struct corun_qitem *it)
{
  p->r->cancelled++;
  corun__pl_results_line(
      p, it, CORUN_STATUS_CANCELLED, NULL, CORUN_ERR_CANCELLED,
      "the pipeline stopped while this item waited for a worker");
  corun__pl_note_item(p, it, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED,
                      "the pipeline stopped while this item waited for a "
                      "worker",
                      it->aux);
  corun__pl_item_free(it);
}

void corun__pl_give_way(struct pl *p)
{
  if (!(p->base.flags & CORUN_TF_YIELD))
    corun__task_yield(&p->base);
}

static void free_run_buffers(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->nstages; i++)
    corun_queue_free(&r->st[i].q, NULL, NULL);
  corun_buf_free(&r->out);
  corun_buf_free(&r->lines.buf);
  free(r->lines.chunk);
  r->lines.chunk = NULL;
}

void corun__pl_maybe_end(struct pl *p)
{
  struct pl_run *r = p->r;
  struct corun_task *t = &p->base;
  uint32_t i;
  int e;

  if (!r->started || r->in_stop || t->state != CORUN_STATE_RUNNING ||
      r->running > 0 || r->prod_live > 0 || r->lines.busy)
    return;
  for (i = 0; i < p->c->nstages; i++)
    if (r->st[i].live > 0)
      return;
  r->started = 0; /* ends once */
  if (t->run->opts.trace)
    corun__pl_samples_stop(p);
  corun__pl_lines_close(p);
  e = corun__pl_results_commit(p);
  free_run_buffers(p);
  corun__pl_cases_sort(p);
  if (r->fail_set)
    corun__task_finish(t, CORUN_STATUS_FAILED, r->fail_type, "%s",
                       r->fail_msg ? r->fail_msg
                                   : "out of memory saying why it stopped");
  else if (t->cancel_status != CORUN_STATUS_NONE)
    corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
  else if (e)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "cannot write %s: %s", p->c->results, strerror(e));
  else if (r->failed)
    corun__task_finish(
        t, CORUN_STATUS_FAILED, CORUN_ERR_CHILD,
        "%llu of %llu items failed%s%s", (unsigned long long)r->failed,
        (unsigned long long)r->entered, r->first_fail ? "; the first: " : "",
        r->first_fail ? r->first_fail : "");
  else
    corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

void corun__pl_stop(struct pl *p, enum corun_cancel_how how)
{
  struct pl_run *r = p->r;
  uint32_t i;

  if (r->stopping) {
    /* Again, by force: the running tasks get no more grace. */
    if (how == CORUN_CANCEL_FORCE)
      corun__pl_workers_cancel(p, how);
    return;
  }
  r->stopping = 1;
  r->in_stop = 1;
  corun__pl_producers_stop(p);
  corun__pl_lines_stop(p);
  /*
   * Closing a queue sends its waiting workers away (putters with their
   * item cancelled); what is left inside is cancelled here.
   */
  for (i = 0; i < p->c->nstages; i++) {
    struct corun_qitem it;

    corun_queue_close(&r->st[i].q);
    while (corun_queue_get(&r->st[i].q, &it) == CORUN_Q_OK)
      corun__pl_item_cancelled(p, &it);
  }
  corun__pl_workers_leave_idle(p);
  corun__pl_workers_cancel(p, how);
  r->in_stop = 0;
  corun__pl_maybe_end(p);
}

static int setup(struct pl *p)
{
  struct pl_conf *c = p->c;
  struct pl_run *r = p->r;
  uint32_t i, j, n = 0;
  int e;

  for (i = 0; i < c->nstages; i++)
    n += c->stages[i].workers;
  r->st = calloc(c->nstages, sizeof(*r->st));
  r->workers = calloc(n, sizeof(*r->workers));
  r->prod = calloc(c->producers, sizeof(*r->prod));
  if (r->st == NULL || r->workers == NULL || r->prod == NULL)
    return ENOMEM;
  r->nworkers = n;
  r->rng = (uv_hrtime() ^ (uintptr_t)p) | 1;
  r->rate.interval_ms = c->interval_ms;
  for (i = 0, n = 0; i < c->nstages; i++) {
    struct stage_run *st = &r->st[i];
    struct corun_buf b = CORUN_BUF_INIT;

    if (corun_queue_init(&st->q, c->stages[i].maxsize, c->stages[i].order) < 0)
      return ENOMEM;
    corun_buf_printf(&b, "%s.%u.", p->base.id, i + 1);
    st->id_len = b.len;
    st->id_prefix = corun_buf_detach(&b);
    if (st->id_prefix == NULL)
      return ENOMEM;
    st->live = c->stages[i].workers;
    for (j = 0; j < c->stages[i].workers; j++, n++) {
      r->workers[n].pl = p;
      r->workers[n].stage = i;
      r->workers[n].no = n;
    }
  }
  for (i = 0; i < c->producers; i++)
    r->prod[i].pl = p;
  r->prod_live = c->producers;
  e = corun__pl_source_init(p);
  return e ? e : corun__pl_results_open(p);
}

void corun__pl_start(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;
  struct corun_buf why = CORUN_BUF_INIT;
  uint32_t i;
  int e;

  p->r = calloc(1, sizeof(*p->r));
  if (p->r == NULL) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "out of memory");
    return;
  }
  p->r->file = (struct corun_outfile)CORUN_OUTFILE_INIT;
  p->r->lines.fd = -1;
  p->r->root = t->run->root;
  p->r->sec = t->run->secrets;
  if (corun__pl_results_mkdirs(p, &why) < 0) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "%s",
                       corun_buf_str(&why));
    corun_buf_free(&why);
    return;
  }
  p->r->items = p->c->items;
  if (p->c->items_fill) {
    char *err = NULL;

    p->r->filled = cJSON_Duplicate(p->c->items, 1);
    if (p->r->filled == NULL ||
        corun__capture_fill(t->run, p->r->filled, &err) < 0) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL,
                         "\"source\": %s", err ? err : "out of memory");
      free(err);
      return;
    }
    p->r->items = p->r->filled;
  }
  if (p->c->src == SRC_FROM) {
    char *err = NULL;
    const cJSON *v = corun__capture_lookup(t->run, p->c->from, &err);

    if (v == NULL || !cJSON_IsArray(v)) {
      if (v)
        corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL,
                           "\"source\": \"${%s}\" is not an array but %s",
                           p->c->from, corun__json_type(v));
      else
        corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL,
                           "\"source\": %s", err ? err : "out of memory");
      free(err);
      return;
    }
    p->r->items = v;
  }
  e = setup(p);
  if (e) {
    if (p->c->results && e != ENOMEM)
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "cannot write %s: %s", p->c->results,
                         corun__confine_strerror(e));
    else
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "out of memory");
    return;
  }
  p->r->started = 1;
  if (t->run->opts.trace)
    corun__pl_samples_start(p);
  /* Workers first, so the first items go straight to them. */
  for (i = 0; i < p->r->nworkers && t->state == CORUN_STATE_RUNNING; i++)
    corun__pl_worker_loop(&p->r->workers[i]);
  for (i = 0; i < p->c->producers && t->state == CORUN_STATE_RUNNING; i++)
    corun__pl_produce(&p->r->prod[i]);
  if (p->c->producers == 0)
    corun__pl_maybe_end(p);
}

void corun__pl_resume(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;

  corun__pl_workers_resume(p);
  corun__pl_producers_resume(p);
}

void corun__pl_cancel(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;

  corun__pl_stop(p, (t->flags & CORUN_TF_FORCE) ? CORUN_CANCEL_FORCE
                                                : CORUN_CANCEL_OUTSIDE);
}

void corun__pl_run_free(struct pl *p)
{
  struct pl_conf *c = p->c;
  struct pl_run *r = p->r;
  uint32_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->nworkers; i++)
    if (r->workers[i].dead)
      corun__instance_free(r->workers[i].dead);
  for (i = 0; r->st && c && i < c->nstages; i++) {
    corun_queue_free(&r->st[i].q, NULL, NULL);
    corun__pl_hist_free(&r->st[i].hist);
    free(r->st[i].id_prefix);
  }
  corun__outfile_abort(&r->file);
  corun_buf_free(&r->out);
  corun_buf_free(&r->lines.buf);
  free(r->lines.chunk);
  free(r->fail_msg);
  free(r->first_fail);
  for (i = 0; i < r->nfail_names; i++)
    free(r->fail_names[i]);
  for (size_t k = 0; k < r->ncases; k++) {
    free(r->cases[k].name);
    free(r->cases[k].msg);
  }
  free(r->cases);
  free(r->samples);
  free(r->st);
  free(r->workers);
  free(r->prod);
  cJSON_Delete(r->filled);
  free(r);
  p->r = NULL;
}
