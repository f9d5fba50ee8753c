/* SPDX-License-Identifier: MIT */
/*
 * sleep: wait, then print a message, end ok with a result or fail on
 * purpose. The job-file form of asyncio.sleep() plus the say_after idiom.
 */
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "json/write.h"
#include "core/fields.h"
#include "core/kind.h"
#include "core/run.h"
#include "core/task.h"
#include "kinds/sleep.h"

/* Most sleeps in a big job have none of these: keep them out of line. */
struct sleep_extra {
  char *message;
  char *fail;
  cJSON *result;
};

/*
 * While it sleeps a task is on no queue: its queue link is its timer
 * (corun__timer_start_link()), so a sleep costs no struct corun_timer.
 */
struct sleep_task {
  struct corun_task base;
  struct sleep_extra *x;
  /* Its length in ms until it starts; then when it wakes (run's clock). */
  uint64_t due;
};

static const char *const fields[] = {"seconds", "message", "fail", "result",
                                     NULL};

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct sleep_task *s = (struct sleep_task *)t;
  struct sleep_extra x = {NULL, NULL, NULL};
  double secs = 0;
  int r;

  r = corun_field_duration(f, "seconds", &secs);
  if (r == 0)
    corun_field_missing(f, "seconds");
  s->due = corun_duration_ms(secs);
  corun_field_string(f, "message", &x.message);
  corun_field_string(f, "fail", &x.fail);
  corun_field_json(f, "result", &x.result);
  if (x.message || x.fail || x.result) {
    s->x = malloc(sizeof(*s->x));
    if (s->x == NULL) {
      corun_field_fail(f, "message", NULL, "could not be kept: out of memory");
      free(x.message);
      free(x.fail);
      cJSON_Delete(x.result);
      return -1;
    }
    *s->x = x;
  }
  return f->failed ? -1 : 0;
}

void corun__sleep_plain(struct corun_task *t, double secs)
{
  /* As parse() does it: the same milliseconds for the same seconds. */
  ((struct sleep_task *)t)->due = corun_duration_ms(secs);
}

static void wake_task(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;
  struct sleep_extra *x = s->x;

  if (x && x->message)
    corun__run_output(t->run, x->message);
  if (x && x->fail) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL, "%s",
                       x->fail);
    return;
  }
  if (x && x->result) {
    corun__task_set_result(t, x->result);
    x->result = NULL;
  } else if (x && x->message) {
    cJSON *res = cJSON_CreateString(x->message);

    if (res == NULL) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory keeping the result");
      return;
    }
    corun__task_set_result(t, res);
  }
  corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

static void wake(struct corun_list *link)
{
  wake_task(corun_list_entry(link, struct corun_task, qlink));
}

/* Whether t waits on the run's timers (not on the ready queue, nor done). */
static int sleeping(const struct corun_task *t)
{
  return t->state == CORUN_STATE_RUNNING && t->inq == CORUN_INQ_NONE &&
         corun_list_linked(&t->qlink);
}

static void start(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;

  /* A zero sleep is a yield, as asyncio.sleep(0): no timer, no loop turn. */
  if (s->due == 0) {
    corun__task_yield(t);
    return;
  }
  s->due += corun__now_ms(t->run);
  if (corun__timer_start_link(&t->run->timers, &t->qlink, s->due, wake) < 0)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory arming the timer");
}

static void cancel(struct corun_task *t)
{
  if (sleeping(t))
    corun__timer_stop_link(&t->run->timers, &t->qlink);
  corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct sleep_task *s = (const struct sleep_task *)t;

  if (sleeping(t))
    corun_buf_printf(out, "timer, %.3fs left",
                     s->due > now_ms ? (double)(s->due - now_ms) / 1000.0
                                     : 0.0);
}

static void dry(const struct corun_task *t, const struct corun_secrets *sec,
                struct corun_buf *out)
{
  const struct sleep_task *s = (const struct sleep_task *)t;

  corun_buf_printf(out, "seconds: %gs\n", (double)s->due / 1000.0);
  if (s->x && s->x->message)
    corun__dry_field(out, sec, "message", s->x->message);
  if (s->x && s->x->fail)
    corun__dry_field(out, sec, "fail", s->x->fail);
  if (s->x && s->x->result) {
    char *j = corun__json_print(s->x->result);

    if (j == NULL)
      out->oom = 1; /* the listing is not whole */
    else
      corun__dry_field(out, sec, "result", j);
    free(j);
  }
}

static int clone(struct corun_task *dst, const struct corun_task *src)
{
  struct sleep_task *d = (struct sleep_task *)dst;
  const struct sleep_extra *x = ((const struct sleep_task *)src)->x;

  if (x == NULL)
    return 0;
  d->x = calloc(1, sizeof(*d->x));
  if (d->x == NULL)
    return -1;
  if ((x->message && (d->x->message = strdup(x->message)) == NULL) ||
      (x->fail && (d->x->fail = strdup(x->fail)) == NULL) ||
      (x->result && (d->x->result = cJSON_Duplicate(x->result, 1)) == NULL))
    return -1;
  return 0;
}

static void release(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;

  if (s->x == NULL)
    return;
  free(s->x->message);
  free(s->x->fail);
  cJSON_Delete(s->x->result);
  free(s->x);
}

const struct corun_kind corun_kind_sleep = {
    .name = "sleep",
    .size = sizeof(struct sleep_task),
    .fields = fields,
    .parse = parse,
    .start = start,
    .resume = wake_task,
    .cancel = cancel,
    .clone = clone,
    .describe = describe,
    .dry = dry,
    .free = release,
};
