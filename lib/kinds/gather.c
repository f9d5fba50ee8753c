/* SPDX-License-Identifier: MIT */
/*
 * gather: run children together. Fail-fast like asyncio.TaskGroup (the
 * first failure cancels the rest), or with return_exceptions wait for all
 * and report each outcome, like asyncio.gather(..., return_exceptions=True).
 */
#include <stdlib.h>

#include "core/fields.h"
#include "core/kind.h"
#include "core/result.h"
#include "core/run.h"
#include "core/task.h"

struct gather_task {
  struct corun_task base;
  int return_exceptions;
  uint32_t pending; /* attached children not yet ended */
  struct corun_task *first_failed;
};

static const char *const fields[] = {"tasks", "return_exceptions", NULL};

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct gather_task *g = (struct gather_task *)t;

  corun_field(f, "tasks");
  if (!f->has_tasks)
    corun_field_missing(f, "tasks");
  corun_field_bool(f, "return_exceptions", &g->return_exceptions);
  return f->failed ? -1 : 0;
}

static void complete(struct gather_task *g)
{
  struct corun_task *t = &g->base, *c = g->first_failed;
  uint32_t i;

  if (t->state != CORUN_STATE_RUNNING || g->pending > 0)
    return;
  /*
   * A skipped child does not cut the gather short (it is no failure of its
   * own), but the gather's promise, every child ok, is then not kept;
   * unless it was skipped because nothing failed, which is how it keeps it.
   */
  for (i = 0; c == NULL && !g->return_exceptions && i < t->nchildren; i++)
    if (t->children[i]->status == CORUN_STATUS_SKIPPED &&
        !corun__task_no_failure(t->children[i]))
      c = t->children[i];
  if (c)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_CHILD,
                       "child \"%s\" %s: %s", c->id,
                       corun__task_status_name(c->status),
                       c->err_msg ? c->err_msg : "");
  else
    corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

static void start(struct corun_task *t)
{
  struct gather_task *g = (struct gather_task *)t;

  g->pending = corun__task_start_children(t);
  complete(g);
}

static void child_done(struct corun_task *t, struct corun_task *c)
{
  struct gather_task *g = (struct gather_task *)t;

  g->pending--;
  if (!g->return_exceptions && g->first_failed == NULL &&
      (c->status == CORUN_STATUS_FAILED || c->status == CORUN_STATUS_TIMEOUT ||
       c->status == CORUN_STATUS_CANCELLED)) {
    g->first_failed = c;
    corun__task_cancel_children(t, &g->pending);
    /*
     * It fails at once; the run waits for the rest to wind down. Not when
     * the gather is itself being cancelled (its timeout, its parent, an
     * interruption): it then waits for its children, as wait_for does.
     */
    if (t->cancel_status == CORUN_STATUS_NONE)
      corun__task_let_go(t, &g->pending);
  }
  complete(g);
}

static void cancel(struct corun_task *t)
{
  struct gather_task *g = (struct gather_task *)t;

  corun__task_cancel_children(t, &g->pending);
  complete(g);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct gather_task *g = (const struct gather_task *)t;

  (void)now_ms;
  corun_buf_printf(out, "%u of %u children pending", g->pending,
                   t->nchildren);
}

static void result(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *out)
{
  const struct gather_task *g = (const struct gather_task *)t;
  uint32_t i;

  if (t->status != CORUN_STATUS_OK) {
    corun_buf_puts(out, "null");
    return;
  }
  corun_buf_putc(out, '[');
  for (i = 0; i < t->nchildren; i++) {
    const struct corun_task *c = t->children[i];

    if (i)
      corun_buf_puts(out, ", ");
    if (!g->return_exceptions) {
      corun__task_write_result(c, sec, out);
      continue;
    }
    corun_buf_printf(out, "{\"status\": \"%s\", ",
                     corun__task_status_name(c->status));
    if (c->status == CORUN_STATUS_OK) {
      corun_buf_puts(out, "\"result\": ");
      corun__task_write_result(c, sec, out);
    } else {
      corun_buf_puts(out, "\"error\": ");
      corun__task_write_error(c, sec, out);
    }
    corun_buf_putc(out, '}');
  }
  corun_buf_putc(out, ']');
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
  (void)sec;
  corun_buf_printf(
      out, "return_exceptions: %s\n",
      ((const struct gather_task *)t)->return_exceptions ? "true" : "false");
}

const struct corun_kind corun_kind_gather = {
    .name = "gather",
    .size = sizeof(struct gather_task),
    .fields = fields,
    .parent = 1,
    .clone = clone,
    .parse = parse,
    .dry = dry,
    .start = start,
    .cancel = cancel,
    .child_done = child_done,
    .describe = describe,
    .result = result,
};
