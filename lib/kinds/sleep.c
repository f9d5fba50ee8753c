/* SPDX-License-Identifier: MIT */
/*
 * sleep: wait, then print a message, end ok with a result or fail on
 * purpose. The job-file form of asyncio.sleep() plus the say_after idiom.
 */
#include <stdlib.h>

#include "../duration.h"
#include "../fields.h"
#include "../kind.h"
#include "../run.h"
#include "../task.h"

struct sleep_task {
  struct corun_task base;
  uint64_t ms;
  char *message;
  char *fail;
  cJSON *result;
  struct corun_timer timer;
};

static const char *const fields[] = {"seconds", "message", "fail", "result",
                                     NULL};

static int parse(struct corun_task *t, struct corun_fields *f)
{
  struct sleep_task *s = (struct sleep_task *)t;
  double secs = 0;
  int r;

  r = corun_field_duration(f, "seconds", &secs);
  if (r == 0)
    corun_field_missing(f, "seconds");
  s->ms = corun_duration_ms(secs);
  corun_field_string(f, "message", &s->message);
  corun_field_string(f, "fail", &s->fail);
  corun_field_json(f, "result", &s->result);
  return f->failed ? -1 : 0;
}

static void wake(struct corun_timer *timer)
{
  struct sleep_task *s = (struct sleep_task *)timer->task;
  struct corun_task *t = &s->base;

  if (s->message)
    corun__run_output(t->run, s->message);
  if (s->fail) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_FAIL, "%s",
                       s->fail);
    return;
  }
  if (s->result) {
    corun__task_set_result(t, s->result);
    s->result = NULL;
  } else if (s->message) {
    corun__task_set_result(t, cJSON_CreateString(s->message));
  }
  corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

static void start(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;

  if (corun__timer_start(t->run, &s->timer, corun__now_ms(t->run) + s->ms,
                         wake, t) < 0)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "out of memory arming the timer");
}

static void cancel(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;

  corun__timer_stop(t->run, &s->timer);
  corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
}

static void describe(const struct corun_task *t, uint64_t now_ms,
                     struct corun_buf *out)
{
  const struct sleep_task *s = (const struct sleep_task *)t;

  if (corun__timer_armed(&s->timer))
    corun_buf_printf(out, "timer, %.3fs left",
                     s->timer.due > now_ms
                         ? (double)(s->timer.due - now_ms) / 1000.0
                         : 0.0);
}

static void release(struct corun_task *t)
{
  struct sleep_task *s = (struct sleep_task *)t;

  free(s->message);
  free(s->fail);
  cJSON_Delete(s->result);
}

const struct corun_kind corun_kind_sleep = {
    .name = "sleep",
    .size = sizeof(struct sleep_task),
    .fields = fields,
    .parse = parse,
    .start = start,
    .cancel = cancel,
    .describe = describe,
    .free = release,
};
