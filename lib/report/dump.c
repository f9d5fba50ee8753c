/* SPDX-License-Identifier: MIT */
/*
 * Views of the tree while it is alive: the task dump (SIGUSR1, --debug at
 * interruption and exit), and the --check and --dry-run listings of a
 * loaded job.
 */
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "report/report.h"
#include "core/common.h"
#include "core/instance.h"
#include "core/job.h"
#include "core/kind.h"
#include "core/run.h"
#include "sched/sem.h"
#include "core/task.h"

/* Task text is redacted piece by piece; our own numbers never are. */
static void put_text(struct corun_buf *out, const struct corun_job *job,
                     const char *s)
{
  struct corun_buf red = CORUN_BUF_INIT;

  /* Redacted, and escaped: URLs and messages may come from a server. */
  corun_job_redact(job, s, &red);
  corun_buf_escaped(out, corun_buf_str(&red), 0);
  /* A piece left out: the dump is not whole (corun ps says so). */
  if (red.oom)
    out->oom = 1;
  corun_buf_free(&red);
}

static void indent(struct corun_buf *out, const struct corun_task *t)
{
  for (t = t->parent; t; t = t->parent)
    corun_buf_puts(out, "  ");
}

static void waiting_on(const struct corun_run *run,
                       const struct corun_task *t, uint64_t now_ms,
                       struct corun_buf *out)
{
  uint32_t i, n = 0;

  switch (t->state) {
  case CORUN_STATE_PENDING:
    corun_buf_puts(out, "not started (its parent has not started)");
    break;
  case CORUN_STATE_BLOCKED:
    corun_buf_puts(out, "after ");
    for (i = 0; t->deps && i < t->deps->nafter; i++) {
      const struct corun_task *d = t->deps->after[i];

      if (d->state == CORUN_STATE_DONE)
        continue;
      corun_buf_printf(out, "%s\"%s\"", n++ ? ", " : "", d->id);
    }
    break;
  case CORUN_STATE_QUEUED:
    if (t->inq == CORUN_INQ_LIMIT)
      corun_buf_printf(out, "limit \"%s\" (%u waiting)", t->limit->name,
                       t->limit->waiters.len);
    else if (t->inq == CORUN_INQ_TOKEN)
      corun_buf_printf(out, "limit \"%s\" rate (%u waiting)", t->limit->name,
                       t->limit->token_waiters.len);
    else if (t->inq == CORUN_INQ_GLOBAL)
      corun_buf_printf(out, "a concurrency slot (%u waiting)",
                       run->global.waiters.len);
    else if (t->inq == CORUN_INQ_FDS)
      corun_buf_printf(out,
                       "file descriptors: %u tasks hold all that ulimit -n "
                       "leaves (%u waiting)",
                       run->fds.in_use, run->fds.waiters.len);
    else
      corun_buf_puts(out, "ready to start");
    break;
  case CORUN_STATE_RUNNING:
    if (t->cancel_status != CORUN_STATUS_NONE)
      corun_buf_puts(out, "cancelling; ");
    if (t->kind->describe)
      t->kind->describe(t, now_ms, out);
    if (t->timeout)
      corun_buf_printf(out, "%stimeout in %.3fs", out->len ? "; " : "",
                       t->timeout->timer.due > now_ms
                           ? (double)(t->timeout->timer.due - now_ms) / 1000.0
                           : 0.0);
    break;
  case CORUN_STATE_DONE:
    if (t->status != CORUN_STATUS_OK)
      corun_buf_printf(out, "%s: %s",
                       corun_errtype_name((enum corun_errtype)t->err_type),
                       t->err_msg ? t->err_msg : "");
    break;
  }
}

void corun_run_dump(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  uint64_t now_ns = run->started ? corun__now_ns(run) : 0;
  uint64_t now_ms = now_ns / 1000000;
  unsigned by_state[CORUN_STATE_DONE + 1] = {0};
  struct corun_buf line = CORUN_BUF_INIT, why = CORUN_BUF_INIT;
  size_t i;

  for (i = 0; i < job->ntasks; i++)
    by_state[job->tasks[i]->state]++;
  corun_buf_printf(&line,
                   "corun: task dump at %.3fs: %u running, %u queued, %u "
                   "blocked, %u pending, %u done of %zu\n",
                   corun__secs(now_ns), by_state[CORUN_STATE_RUNNING],
                   by_state[CORUN_STATE_QUEUED], by_state[CORUN_STATE_BLOCKED],
                   by_state[CORUN_STATE_PENDING], by_state[CORUN_STATE_DONE],
                   job->ntasks);
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    uint64_t from = t->t_start != CORUN_NO_TIME   ? t->t_start
                    : t->t_ready != CORUN_NO_TIME ? t->t_ready
                                                  : CORUN_NO_TIME;
    uint64_t to = t->state == CORUN_STATE_DONE ? t->t_end : now_ns;

    corun_buf_puts(&line, "  ");
    indent(&line, t);
    put_text(&line, job, t->id);
    corun_buf_printf(&line, " %s ", t->kind->name);
    if (t->state == CORUN_STATE_DONE)
      corun_buf_printf(&line, "done(%s)",
                       corun__task_status_name((enum corun_status)t->status));
    else
      corun_buf_puts(&line,
                     corun__task_state_name((enum corun_state)t->state));
    if (from != CORUN_NO_TIME && to != CORUN_NO_TIME && to >= from)
      corun_buf_printf(&line, " %.3fs", corun__secs(to - from));
    if (t->flags & CORUN_TF_SHIELD)
      corun_buf_puts(&line, " shielded");
    if (t->flags & CORUN_TF_DETACHED)
      corun_buf_puts(&line, " detached");
    /* A reason that did not fit is not the next task's. */
    corun__buf_restart(&why);
    waiting_on(run, t, now_ms, &why);
    if (why.oom)
      line.oom = 1;
    if (why.len) {
      corun_buf_puts(&line, ": ");
      put_text(&line, job, corun_buf_str(&why));
    }
    corun_buf_putc(&line, '\n');
  }
  corun_buf_add(out, line.p ? line.p : "", line.len);
  if (line.oom)
    out->oom = 1;
  corun_buf_free(&line);
  corun_buf_free(&why);
}

/* A redacted JSON string. */
static void put_json_str(struct corun_buf *out, const struct corun_job *job,
                         const char *s)
{
  struct corun_buf red = CORUN_BUF_INIT;

  corun_job_redact(job, s, &red);
  corun_buf_json_str(out, red.p ? red.p : "", red.len);
  if (red.oom)
    out->oom = 1;
  corun_buf_free(&red);
}

void corun_run_dump_json(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  uint64_t now_ns = run->started ? corun__now_ns(run) : 0;
  unsigned by_state[CORUN_STATE_DONE + 1] = {0};
  struct corun_buf b = CORUN_BUF_INIT, why = CORUN_BUF_INIT;
  size_t i;
  int s;

  for (i = 0; i < job->ntasks; i++)
    by_state[job->tasks[i]->state]++;
  corun_buf_printf(&b, "{\"elapsed\": %.3f, \"counts\": {",
                   corun__secs(now_ns));
  for (s = 0; s <= CORUN_STATE_DONE; s++)
    corun_buf_printf(&b, "%s\"%s\": %u", s ? ", " : "",
                     corun__task_state_name((enum corun_state)s), by_state[s]);
  corun_buf_puts(&b, "}, \"tasks\": [");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    uint64_t from = t->t_start != CORUN_NO_TIME   ? t->t_start
                    : t->t_ready != CORUN_NO_TIME ? t->t_ready
                                                  : CORUN_NO_TIME;
    uint64_t to = t->state == CORUN_STATE_DONE ? t->t_end : now_ns;

    corun_buf_puts(&b, i ? ",\n  {\"id\": " : "\n  {\"id\": ");
    put_json_str(&b, job, t->id);
    corun_buf_printf(&b, ", \"kind\": \"%s\", \"parent\": ", t->kind->name);
    if (t->parent)
      put_json_str(&b, job, t->parent->id);
    else
      corun_buf_puts(&b, "null");
    corun_buf_printf(&b, ", \"state\": \"%s\", \"status\": ",
                     corun__task_state_name((enum corun_state)t->state));
    if (t->state == CORUN_STATE_DONE)
      corun_buf_printf(&b, "\"%s\"",
                       corun__task_status_name((enum corun_status)t->status));
    else
      corun_buf_puts(&b, "null");
    if (from != CORUN_NO_TIME && to != CORUN_NO_TIME && to >= from)
      corun_buf_printf(&b, ", \"elapsed\": %.3f", corun__secs(to - from));
    else
      corun_buf_puts(&b, ", \"elapsed\": null");
    corun_buf_printf(&b, ", \"shielded\": %s, \"detached\": %s",
                     t->flags & CORUN_TF_SHIELD ? "true" : "false",
                     t->flags & CORUN_TF_DETACHED ? "true" : "false");
    /* A reason that did not fit is not the next task's. */
    corun__buf_restart(&why);
    waiting_on(run, t, now_ns / 1000000, &why);
    if (why.oom)
      b.oom = 1;
    corun_buf_puts(&b, ", \"waiting\": ");
    put_json_str(&b, job, corun_buf_str(&why));
    corun_buf_putc(&b, '}');
  }
  corun_buf_puts(&b, job->ntasks ? "\n]}\n" : "]}\n");
  corun_buf_add(out, b.p ? b.p : "", b.len);
  if (b.oom)
    out->oom = 1;
  corun_buf_free(&b);
  corun_buf_free(&why);
}

/*
 * The kind's dry() lines of t, each indented under t's own line: redacted
 * again as a whole (a secret a hook let through) and escaped.
 */
static void dry_fields(struct corun_buf *out, const struct corun_job *job,
                       const struct corun_task *t)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const cJSON *fill = NULL;
  const char *p, *nl;

  if (t->kind->dry == NULL)
    return;
  t->kind->dry(t, &job->secrets, &b);
  if (t->flags & CORUN_TF_FILL)
    fill = corun__job_deferred(job, t->index);
  for (p = corun_buf_str(&b); *p; p = *nl ? nl + 1 : nl) {
    char *colon;
    const cJSON *v = NULL;
    char *line;

    nl = strchr(p, '\n');
    if (nl == NULL)
      nl = p + strlen(p);
    line = strndup(p, (size_t)(nl - p));
    corun_buf_puts(out, "      ");
    indent(out, t);
    /*
     * A field that takes a capture holds a stand-in until the task starts
     * (a port of 0): the job's own text shows what will fill it.
     */
    colon = line ? strstr(line, ": ") : NULL;
    if (fill && colon) {
      *colon = '\0';
      v = cJSON_GetObjectItemCaseSensitive(fill, line);
      if (!cJSON_IsString(v) || !strstr(v->valuestring, "${") ||
          strstr(colon + 2, v->valuestring))
        v = NULL;
      *colon = ':';
    }
    if (v) {
      corun_buf_add(out, line, (size_t)(colon - line) + 2);
      put_text(out, job, v->valuestring);
    } else if (line)
      put_text(out, job, line);
    else
      out->oom = 1;
    corun_buf_putc(out, '\n');
    free(line);
  }
  if (b.oom)
    out->oom = 1;
  corun_buf_free(&b);
}

/* --shard: which part this is, and how much of the job it holds. */
static void describe_shard(struct corun_buf *b, const struct corun_job *job)
{
  const struct corun_shard *sh = job->shard;
  size_t i;

  corun_buf_printf(b,
                   "shard %u of %u: %zu of %zu task%s, %zu of %zu root "
                   "group%s\n",
                   sh->index, sh->total, job->ntasks, sh->all_tasks,
                   sh->all_tasks == 1 ? "" : "s", sh->groups, sh->all_groups,
                   sh->all_groups == 1 ? "" : "s");
  for (i = 0; i < job->nroots; i++) {
    const struct corun_task *t = job->roots[i];
    uint64_t mine, all;

    if (!t->kind->splits || !t->kind->splits(t))
      continue;
    corun_buf_puts(b, "shard ");
    put_text(b, job, t->id);
    corun_buf_printf(b, " (%s): in every shard, ", t->kind->name);
    if (t->kind->split_count(t, sh->index, sh->total, &mine, &all))
      corun_buf_printf(b, "%llu of %llu items", (unsigned long long)mine,
                       (unsigned long long)all);
    else
      corun_buf_puts(b, "items counted as it runs");
    corun_buf_printf(b, " (item i when i %% %u is %u)\n", sh->total,
                     sh->index - 1);
  }
}

static void describe(const struct corun_job *job, int dry,
                     struct corun_buf *out)
{
  struct corun_buf b = CORUN_BUF_INIT;
  size_t i;
  uint32_t j;

  corun_buf_puts(&b, "job \"");
  put_text(&b, job, job->name);
  corun_buf_printf(&b, "\": %zu task%s, concurrency %u\n", job->ntasks,
                   job->ntasks == 1 ? "" : "s", job->concurrency);
  if (job->shard)
    describe_shard(&b, job);
  for (i = 0; i < job->nlimits; i++) {
    const struct corun_sem *s = job->limits[i];

    corun_buf_puts(&b, "limit \"");
    put_text(&b, job, s->name);
    corun_buf_putc(&b, '"');
    corun_buf_putc(&b, ':');
    if (s->cap)
      corun_buf_printf(&b, " %u at once", s->cap);
    if (s->rate.interval_ms > 0)
      corun_buf_printf(&b, " %.3g/s", 1000.0 / s->rate.interval_ms);
    corun_buf_putc(&b, '\n');
  }
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    const char *name;

    corun_buf_puts(&b, "  ");
    indent(&b, t);
    put_text(&b, job, t->id);
    corun_buf_printf(&b, " (%s)", t->kind->name);
    name = corun__task_name(job, t);
    if (strcmp(name, t->id) != 0) {
      corun_buf_puts(&b, " name \"");
      put_text(&b, job, name);
      corun_buf_putc(&b, '"');
    }
    if (t->deps && t->deps->nafter) {
      corun_buf_puts(&b, " after ");
      for (j = 0; j < t->deps->nafter; j++) {
        if (j)
          corun_buf_putc(&b, ',');
        put_text(&b, job, t->deps->after[j]->id);
      }
      if (t->deps->run_if != CORUN_RUN_IF_ALL_OK)
        corun_buf_printf(&b, " run_if %s",
                         corun__run_if_names[t->deps->run_if]);
    }
    if (t->timeout)
      corun_buf_printf(&b, " timeout %gs", (double)t->timeout->ms / 1000.0);
    if (t->limit) {
      corun_buf_puts(&b, " limit ");
      put_text(&b, job, t->limit->name);
    }
    if (t->flags & CORUN_TF_SHIELD)
      corun_buf_puts(&b, " shield");
    corun_buf_putc(&b, '\n');
    if (dry)
      dry_fields(&b, job, t);
  }
  corun_buf_add(out, b.p ? b.p : "", b.len);
  if (b.oom)
    out->oom = 1;
  corun_buf_free(&b);
}

void corun_job_describe(const struct corun_job *job, struct corun_buf *out)
{
  describe(job, 0, out);
}

void corun_job_dry_run(const struct corun_job *job, struct corun_buf *out)
{
  describe(job, 1, out);
}
