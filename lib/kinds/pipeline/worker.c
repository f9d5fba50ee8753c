/* SPDX-License-Identifier: MIT */
/*
 * Workers: each takes an item from its stage's queue, runs the stage's
 * task for it (an instance of the stage's template) and, when that ends
 * ok, puts the result into the next stage's queue, waiting while that is
 * full; the last stage's results leave the pipeline. When a stage's
 * workers have all left (their queue closed and drained), the next queue
 * closes.
 *
 * A worker's state changes in worker_set() only:
 *
 *   IDLE -> GETTING (its queue is empty) -> RUNNING (an item's task)
 *        -> PUTTING (the next queue is full) -> ... -> DONE (left)
 *   YIELD: gave way to the rest of the run after BATCH_ITEMS items that
 *   failed before they were tasks; resume() takes it up again.
 */
#include "kinds/pipeline/pipeline.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "json/write.h"
#include "core/run.h"
#include "core/fields.h"

static void worker_set(struct worker *w, enum worker_state s)
{
  /* A worker that left never comes back. */
  assert(w->state != W_DONE || s == W_DONE);
  w->state = s;
}

void corun__pl_worker_leave(struct worker *w)
{
  struct pl *p = w->pl;
  struct stage_run *st = &p->r->st[w->stage];

  if (w->state == W_DONE)
    return;
  worker_set(w, W_DONE);
  if (--st->live > 0)
    return;
  if (w->stage + 1 < p->c->nstages)
    corun_queue_close(&p->r->st[w->stage + 1].q);
  else
    corun__pl_maybe_end(p);
}

struct lookup_arg {
  const struct pl *p;
  const struct corun_qitem *it;
  cJSON scratch;
  cJSON index;
};

static const cJSON *lookup(void *arg, const char *name, char **err)
{
  struct lookup_arg *a = arg;
  const cJSON *v;
  const char *s, *dot;
  char fld[256];

  if (strcmp(name, "index") == 0) {
    memset(&a->index, 0, sizeof(a->index));
    a->index.type = cJSON_Number;
    a->index.valuedouble = (double)a->it->index;
    return &a->index;
  }
  v = corun__pl_value_json(a->p, a->it->value, a->it->index, &a->scratch);
  for (s = name + 4; *s == '.'; s = dot) {
    size_t n;

    s++;
    dot = strchr(s, '.');
    n = dot ? (size_t)(dot - s) : strlen(s);
    if (n >= sizeof(fld))
      n = sizeof(fld) - 1;
    memcpy(fld, s, n);
    fld[n] = '\0';
    if (!cJSON_IsObject(v)) {
      struct corun_buf m = CORUN_BUF_INIT;

      corun_buf_printf(&m, "\"${%s}\": the item is %s, not an object", name,
                       corun__json_type(v));
      *err = corun_buf_detach(&m);
      return NULL;
    }
    v = cJSON_GetObjectItemCaseSensitive(v, fld);
    if (v == NULL) {
      struct corun_buf m = CORUN_BUF_INIT;

      corun_buf_printf(&m, "\"${%s}\": the item has no field \"%s\"", name,
                       fld);
      *err = corun_buf_detach(&m);
      return NULL;
    }
    if (dot == NULL)
      break;
  }
  return v;
}

/* A value as a test case's name shows it: a string as itself. */
static void put_text(const cJSON *v, struct corun_buf *b)
{
  char *text;

  if (cJSON_IsString(v)) {
    corun_buf_puts(b, v->valuestring);
    return;
  }
  if ((text = corun__json_print(v)) == NULL) {
    b->oom = 1;
    return;
  }
  corun_buf_puts(b, text);
  free(text);
}

static int label_ref(void *arg, const char *name, struct corun_buf *b,
                     char **err)
{
  const cJSON *v = lookup(arg, name, err);

  if (v == NULL)
    return -1;
  put_text(v, b);
  return 0;
}

/*
 * What an item is called: the last stage's task's "name" filled with the
 * item as it ended (at whatever stage), or, without one or when the item
 * lacks what it names, the item from the source as text. malloc'd; NULL
 * when out of memory.
 */
static char *item_label(const struct pl *p, const struct corun_qitem *it)
{
  const char *tmpl = p->c->stages[p->c->nstages - 1].name;
  struct lookup_arg la;
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON scratch;
  char *out = NULL, *err = NULL;

  la.p = p;
  la.it = it;
  if (tmpl) {
    struct corun_template_ctx ctx;

    memset(&ctx, 0, sizeof(ctx));
    ctx.item = label_ref;
    ctx.item_arg = &la;
    if (corun_template_expand(&ctx, tmpl, &out, &err) == 0)
      return out;
    free(err);
  }
  put_text(corun__pl_value_json(p, it->origin ? it->origin : it->value,
                                it->index, &scratch),
           &b);
  return corun_buf_detach(&b);
}

/*
 * The failed items the pipeline's own JUnit case names: the FAIL_NAMES of
 * lowest index, whatever order they failed in (sorted at the end), so one
 * run names the same ones however its workers raced, and a merge of its
 * shards names them too. -1: not among them (index is above all kept).
 */
static int fail_slot(const struct pl_run *r, uint64_t index)
{
  uint32_t i, worst = 0;

  if (r->nfail_names < FAIL_NAMES)
    return (int)r->nfail_names;
  for (i = 1; i < FAIL_NAMES; i++)
    if (r->fail_index[i] > r->fail_index[worst])
      worst = i;
  return index < r->fail_index[worst] ? (int)worst : -1;
}

/* label (taken, may be NULL) into slot k of the failed items' names. */
static void keep_fail_name(struct pl_run *r, int k, uint64_t index,
                           char *label)
{
  if (label == NULL)
    return;
  if ((uint32_t)k == r->nfail_names)
    r->nfail_names++;
  else
    free(r->fail_names[k]);
  r->fail_names[k] = label;
  r->fail_index[k] = index;
}

void corun__pl_note_item(struct pl *p, const struct corun_qitem *it,
                         enum corun_status status, enum corun_errtype type,
                         const char *msg, uint64_t dur_ns)
{
  struct pl_run *r = p->r;
  int failed = status == CORUN_STATUS_FAILED || status == CORUN_STATUS_TIMEOUT;
  int slot = failed ? fail_slot(r, it->index) : -1;
  char *label;

  if (!p->c->junit_items && slot < 0)
    return;
  if ((label = item_label(p, it)) == NULL)
    return;
  if (!p->c->junit_items) {
    size_t n = strlen(label);

    if (n > FAIL_NAME_MAX) {
      /* Cut at a character's start: the message stays UTF-8. */
      for (n = FAIL_NAME_MAX; n > 0 && (label[n] & 0xc0) == 0x80; n--)
        ;
      memcpy(label + n, "...", 4);
    }
    keep_fail_name(r, slot, it->index, label);
    return;
  }
  if (slot >= 0)
    keep_fail_name(r, slot, it->index, strdup(label));
  if (r->ncases == r->capcases) {
    size_t cap = r->capcases ? 2 * r->capcases : 16;
    struct pl_case *nv = realloc(r->cases, cap * sizeof(*nv));

    if (nv == NULL) {
      free(label);
      return;
    }
    r->cases = nv;
    r->capcases = cap;
  }
  r->cases[r->ncases].name = label;
  r->cases[r->ncases].msg =
      status == CORUN_STATUS_OK ? NULL : strdup(msg ? msg : "");
  r->cases[r->ncases].index = it->index;
  r->cases[r->ncases].dur_ns = dur_ns;
  r->cases[r->ncases].status = (uint8_t)status;
  r->cases[r->ncases++].err_type = (uint8_t)type;
}

/* "<pipeline>.<stage>.<index>", by hand: this runs once per item. */
static void item_id(const struct stage_run *st, uint64_t index, char *buf)
{
  char digits[24], *d = digits + sizeof(digits);
  size_t n;

  do {
    *--d = (char)('0' + index % 10);
    index /= 10;
  } while (index);
  n = (size_t)(digits + sizeof(digits) - d);
  memcpy(buf, st->id_prefix, st->id_len);
  memcpy(buf + st->id_len, d, n);
  buf[st->id_len + n] = '\0';
}

/* Keep the first failed item's story: the pipeline's message ends with it. */
static void note_failure(struct pl *p, uint64_t index, uint32_t stage,
                         const char *msg)
{
  struct corun_buf b = CORUN_BUF_INIT;

  if (p->r->first_fail)
    return;
  corun_buf_printf(&b, "item %llu at stage %u: %s", (unsigned long long)index,
                   stage + 1, msg ? msg : "");
  p->r->first_fail = corun_buf_detach(&b);
}

/*
 * Make and start the task for the worker's item. Returns 0, or -1 when
 * the item failed without a task (it is accounted for).
 */
static int start_item(struct worker *w)
{
  struct pl *p = w->pl;
  struct stage_run *st = &p->r->st[w->stage];
  struct lookup_arg la;
  struct corun_item_ctx ic = {lookup, &la};
  char buf[160], *id, *err = NULL;
  struct corun_task *t;

  /* Ids are at most 64 bytes, so the stack almost always does. */
  id = st->id_len + 24 <= sizeof(buf) ? buf : malloc(st->id_len + 24);
  if (id == NULL) {
    t = NULL;
  } else {
    item_id(st, w->cur.index, id);
    la.p = p;
    la.it = &w->cur;
    t = corun__instance_new(&p->c->stages[w->stage].tmpl, &p->base, id, &ic,
                            &err);
    if (id != buf)
      free(id);
  }
  if (t == NULL) {
    const char *msg = err ? err : "out of memory making its task";

    st->processed++;
    st->failed++;
    p->r->failed++;
    corun__pl_results_line(p, &w->cur, CORUN_STATUS_FAILED, NULL,
                           CORUN_ERR_FAIL, msg);
    corun__pl_note_item(p, &w->cur, CORUN_STATUS_FAILED, CORUN_ERR_FAIL, msg,
                        w->cur.aux);
    note_failure(p, w->cur.index, w->stage, msg);
    if (p->c->cancel_on_error)
      corun__pl_fail(p, CORUN_ERR_CHILD, "item %llu failed at stage %u: %s",
                     (unsigned long long)w->cur.index, w->stage + 1, msg);
    free(err);
    corun__pl_item_free(&w->cur);
    return -1;
  }
  t->index = w->no;
  w->task = t;
  worker_set(w, W_RUNNING);
  st->busy++;
  p->r->running++;
  corun__task_activate(t);
  return 0;
}

static void got_item(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct worker *w = qw->data;

  if (res != CORUN_Q_OK) {
    corun__pl_worker_leave(w);
    return;
  }
  w->cur = qw->item;
  if (w->pl->r->stopping) {
    corun__pl_item_cancelled(w->pl, &w->cur);
    corun__pl_worker_leave(w);
    return;
  }
  if (start_item(w) < 0)
    corun__pl_worker_loop(w);
}

void corun__pl_worker_loop(struct worker *w)
{
  struct pl *p = w->pl;
  struct corun_queue *q = &p->r->st[w->stage].q;
  int failed = 0;

  for (;;) {
    enum corun_qresult res;

    if (p->r->stopping) {
      corun__pl_worker_leave(w);
      return;
    }
    res = corun_queue_get(q, &w->cur);
    if (res == CORUN_Q_EMPTY) {
      worker_set(w, W_GETTING);
      w->w.data = w;
      corun_queue_get_wait(q, &w->w, got_item);
      return;
    }
    if (res != CORUN_Q_OK) {
      corun__pl_worker_leave(w);
      return;
    }
    if (start_item(w) == 0)
      return;
    if (++failed == BATCH_ITEMS) {
      /* Items failing before they are tasks never yield on their own. */
      worker_set(w, W_YIELD);
      corun__pl_give_way(p);
      return;
    }
  }
}

static void put_done(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct worker *w = qw->data;

  if (res != CORUN_Q_OK)
    corun__pl_item_cancelled(w->pl, &qw->item);
  corun__pl_worker_loop(w);
}

/* The worker's task ended ok: hand its result on. */
static void pass_on(struct worker *w, struct corun_task *t)
{
  struct pl *p = w->pl;
  struct corun_queue *next = &p->r->st[w->stage + 1].q;
  cJSON *res = corun__task_take_result(t);
  enum corun_qresult r;

  /* The results file shows the source item, so that is kept. */
  if (corun__pl_keeps_origin(p) && w->cur.origin == NULL)
    w->cur.origin = w->cur.value;
  else
    corun__pl_drop_value(w->cur.value);
  w->cur.value = res ? (void *)res : V_NULL;
  w->cur.key = corun__pl_key_of(p, w->cur.value, w->cur.index);
  r = corun_queue_put(next, &w->cur);
  if (r == CORUN_Q_OK) {
    corun__pl_worker_loop(w);
    return;
  }
  if (r == CORUN_Q_FULL) {
    worker_set(w, W_PUTTING);
    w->w.item = w->cur;
    w->w.data = w;
    corun_queue_put_wait(next, &w->w, put_done);
    return;
  }
  corun__pl_item_cancelled(p, &w->cur);
  corun__pl_worker_loop(w);
}

void corun__pl_child_done(struct corun_task *t, struct corun_task *c)
{
  struct pl *p = (struct pl *)t;
  struct pl_run *r = p->r;
  struct worker *w = &r->workers[c->index];
  struct stage_run *st = &r->st[w->stage];
  int last = w->stage + 1 == p->c->nstages;
  uint64_t dur = c->t_start != CORUN_NO_TIME ? c->t_end - c->t_start : 0;

  /* Its kind's code may still be on the stack: free it next time. */
  if (w->dead)
    corun__instance_free(w->dead);
  w->dead = c;
  w->task = NULL;
  st->busy--;
  r->running--;
  w->cur.aux += dur;
  if (c->status == CORUN_STATUS_CANCELLED ||
      (r->stopping && c->status == CORUN_STATUS_OK && !last)) {
    r->cancelled++;
    corun__pl_results_line(
        p, &w->cur, CORUN_STATUS_CANCELLED,
        c->status == CORUN_STATUS_CANCELLED ? c : NULL, CORUN_ERR_CANCELLED,
        "the pipeline stopped before this item's next stage");
    corun__pl_note_item(p, &w->cur, CORUN_STATUS_CANCELLED,
                        CORUN_ERR_CANCELLED,
                        c->status == CORUN_STATUS_CANCELLED && c->err_msg
                            ? c->err_msg
                            : "the pipeline stopped before this item's "
                              "next stage",
                        w->cur.aux);
    corun__pl_item_free(&w->cur);
    corun__pl_worker_loop(w);
    corun__pl_maybe_end(p);
    return;
  }
  st->processed++;
  corun__pl_hist_add(&st->hist, dur);
  if (c->t_start != CORUN_NO_TIME) {
    if (st->last_end == 0 || c->t_start < st->first_start)
      st->first_start = c->t_start;
    if (c->t_end > st->last_end)
      st->last_end = c->t_end;
  }
  if (c->status != CORUN_STATUS_OK) {
    st->failed++;
    r->failed++;
    corun__pl_results_line(p, &w->cur, (enum corun_status)c->status, c,
                           CORUN_ERR_NONE, NULL);
    corun__pl_note_item(p, &w->cur, (enum corun_status)c->status,
                        (enum corun_errtype)c->err_type, c->err_msg,
                        w->cur.aux);
    note_failure(p, w->cur.index, w->stage, c->err_msg);
    corun__pl_item_free(&w->cur);
    if (p->c->cancel_on_error && !r->stopping)
      corun__pl_fail(p, CORUN_ERR_CHILD, "item %llu failed at stage %u: %s",
                     (unsigned long long)w->cur.index, w->stage + 1,
                     c->err_msg ? c->err_msg : "");
    corun__pl_worker_loop(w);
    corun__pl_maybe_end(p);
    return;
  }
  if (last) {
    r->ok++;
    corun__pl_results_line(p, &w->cur, CORUN_STATUS_OK, c, CORUN_ERR_NONE,
                           NULL);
    corun__pl_note_item(p, &w->cur, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL,
                        w->cur.aux);
    corun__pl_item_free(&w->cur);
    corun__pl_worker_loop(w);
    corun__pl_maybe_end(p);
    return;
  }
  pass_on(w, c);
}

void corun__pl_workers_resume(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < r->nworkers && p->base.state == CORUN_STATE_RUNNING; i++)
    if (r->workers[i].state == W_YIELD) {
      worker_set(&r->workers[i], W_IDLE);
      corun__pl_worker_loop(&r->workers[i]);
    }
}

void corun__pl_workers_leave_idle(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < r->nworkers; i++)
    if (r->workers[i].state == W_IDLE || r->workers[i].state == W_YIELD)
      corun__pl_worker_leave(&r->workers[i]);
}

void corun__pl_workers_cancel(struct pl *p, enum corun_cancel_how how)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < r->nworkers; i++)
    if (r->workers[i].task)
      corun__task_cancel(r->workers[i].task, CORUN_STATUS_CANCELLED, how);
}
