/* SPDX-License-Identifier: MIT */
/*
 * wait: asyncio.wait() as a task. Ends ok once its return_when condition
 * holds, whatever the children's own statuses; children still running then
 * are cancelled, or with cancel_pending false left to run on detached.
 * first_ok, which asyncio does not have, is a race for the first child to
 * end ok (mirrors): the wait fails when every child ended and none ok.
 */
#include <stdlib.h>

#include "core/fields.h"
#include "core/kind.h"
#include "core/run.h"
#include "core/task.h"

enum { ALL_COMPLETED, FIRST_COMPLETED, FIRST_EXCEPTION, FIRST_OK };

static const char *const when_names[] = {"all_completed", "first_completed",
                                         "first_exception", "first_ok", NULL};

struct wait_task {
  struct corun_task base;
  int return_when;
  int cancel_pending;
  int met;
  int oom; /* its result could not be made */
  uint32_t pending;
};

static const char *const fields[] = {"tasks", "return_when", "cancel_pending",
                                     NULL};
/* Whether children outlive the wait is never the item's to decide. */
static const char *const shape_fields[] = {"cancel_pending", NULL};

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct wait_task *w = (struct wait_task *)t;

  w->cancel_pending = 1;
  corun_field(f, "tasks");
  if (!f->has_tasks)
    corun_field_missing(f, "tasks");
  corun_field_enum(f, "return_when", when_names, &w->return_when);
  corun_field_bool(f, "cancel_pending", &w->cancel_pending);
  return f->failed ? -1 : 0;
}

/*
 * Children a wait leaves running would outlive the item's task, which is
 * freed once it ends: from the task or from "defaults", either way.
 */
static void check_template(struct corun_fields *f)
{
  const cJSON *v = corun_field(f, "cancel_pending");

  if (!cJSON_IsFalse(v))
    return;
  if (corun_field_from_defaults(f, v))
    corun_field_fail_task(f, "\"cancel_pending\" false (from \"defaults\") "
                             "cannot apply to a stage's task: its children "
                             "would outlive the item; set it to true here");
  else
    corun_field_fail(f, "cancel_pending", v,
                     "cannot be false in a stage's task: its children "
                     "would outlive the item");
}

static int races(const struct corun_task *t)
{
  const struct wait_task *w = (const struct wait_task *)t;

  return (w->return_when == FIRST_COMPLETED ||
          w->return_when == FIRST_OK) &&
         w->cancel_pending;
}

static void finish_if_settled(struct wait_task *w)
{
  if (w->base.state != CORUN_STATE_RUNNING || w->pending != 0)
    return;
  if (w->oom)
    corun__task_finish(&w->base, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory making its result");
  else
    corun__task_finish(&w->base, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

/*
 * The result: the ids of the children done and pending, now. Out of
 * memory, none, and w->oom set: a wait whose result is half made must
 * not end ok.
 */
static void snapshot(struct wait_task *w)
{
  struct corun_task *t = &w->base;
  cJSON *res = cJSON_CreateObject();
  cJSON *done = res ? cJSON_AddArrayToObject(res, "done") : NULL;
  cJSON *pend = res ? cJSON_AddArrayToObject(res, "pending") : NULL;
  uint32_t i;

  for (i = 0; done && pend && i < t->nchildren; i++) {
    struct corun_task *c = t->children[i];
    cJSON *id = cJSON_CreateString(c->id);

    if (id == NULL ||
        !cJSON_AddItemToArray(c->state == CORUN_STATE_DONE ? done : pend,
                              id)) {
      cJSON_Delete(id);
      break;
    }
  }
  if (done == NULL || pend == NULL || i < t->nchildren) {
    cJSON_Delete(res);
    w->oom = 1;
    return;
  }
  corun__task_set_result(t, res);
}

/* Snapshot done/pending ids, then deal with the children still running. */
static void condition_met(struct wait_task *w)
{
  struct corun_task *t = &w->base;

  w->met = 1;
  snapshot(w);
  if (w->cancel_pending)
    corun__task_cancel_children(t, &w->pending);
  /*
   * The wait ends now, as asyncio.wait() returns: children on their way
   * out (a command in its kill grace) or left to run on end on their own,
   * and the run, not the wait, waits for them.
   */
  corun__task_let_go(t, &w->pending);
  finish_if_settled(w);
}

/* first_ok, and every child ended without one ending ok. */
static void none_ok(struct wait_task *w)
{
  struct corun_task *t = &w->base, *c = NULL;
  uint32_t i;

  /* done and pending as ever (none pending), for whoever reads the report */
  w->met = 1;
  snapshot(w);
  for (i = 0; c == NULL && i < t->nchildren; i++)
    if (t->children[i]->state == CORUN_STATE_DONE)
      c = t->children[i];
  if (c == NULL)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_CHILD,
                       "no child ended ok: it has none");
  else
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_CHILD,
                       "no child ended ok; the first, \"%s\", %s: %s", c->id,
                       corun__task_status_name(c->status),
                       c->err_msg ? c->err_msg : "");
}

static void start(struct corun_task *t)
{
  struct wait_task *w = (struct wait_task *)t;

  w->pending = corun__task_start_children(t);
  /* A child skipped before the wait started is done, and not ok. */
  if (w->return_when == FIRST_OK && w->pending == 0)
    none_ok(w);
  else if (w->pending == 0 ||
           (w->return_when == FIRST_COMPLETED && w->pending < t->nchildren))
    condition_met(w);
}

static void child_done(struct corun_task *t, struct corun_task *c)
{
  struct wait_task *w = (struct wait_task *)t;

  w->pending--;
  /*
   * Once met, or while the wait itself is being cancelled, a child's end
   * only counts down: a cancelled child must not look like a first
   * completion that detaches its siblings instead of cancelling them.
   */
  if (w->met || t->cancel_status != CORUN_STATUS_NONE) {
    finish_if_settled(w);
    return;
  }
  if (w->return_when == FIRST_OK) {
    if (c->status == CORUN_STATUS_OK)
      condition_met(w);
    else if (w->pending == 0)
      none_ok(w);
    return;
  }
  if (w->pending == 0 || w->return_when == FIRST_COMPLETED ||
      (w->return_when == FIRST_EXCEPTION &&
       (c->status == CORUN_STATUS_FAILED || c->status == CORUN_STATUS_TIMEOUT)))
    condition_met(w);
}

static void cancel(struct corun_task *t)
{
  struct wait_task *w = (struct wait_task *)t;

  corun__task_cancel_children(t, &w->pending);
  finish_if_settled(w);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct wait_task *w = (const struct wait_task *)t;

  (void)now_ms;
  corun_buf_printf(out, "%s: %u of %u children pending",
                   when_names[w->return_when], w->pending, t->nchildren);
}

/* Nothing of parse's is allocated: a byte copy is a task of its own. */
static int clone(struct corun_task *dst, const struct corun_task *src)
{
  (void)dst;
  (void)src;
  return 0;
}

static void dry(const struct corun_task *t, const struct corun_secrets *sec,
                struct corun_buf *out)
{
  const struct wait_task *w = (const struct wait_task *)t;

  (void)sec;
  corun_buf_printf(out, "return_when: %s\ncancel_pending: %s\n",
                   when_names[w->return_when],
                   w->cancel_pending ? "true" : "false");
}

const struct corun_kind corun_kind_wait = {
    .name = "wait",
    .size = sizeof(struct wait_task),
    .fields = fields,
    .parent = 1,
    .shape_fields = shape_fields,
    .clone = clone,
    .parse = parse,
    .check_template = check_template,
    .start = start,
    .cancel = cancel,
    .child_done = child_done,
    .races = races,
    .describe = describe,
    .dry = dry,
};
