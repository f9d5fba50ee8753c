/* SPDX-License-Identifier: MIT */
/*
 * The JSON report (corun(1), REPORT): written by hand, task by task, so a job of
 * a million tasks needs no million-node cJSON tree to describe it.
 */
#include <stdio.h>
#include <time.h>

#include "corun.h"
#include "report/report.h"
#include "core/common.h"
#include "core/job.h"
#include "core/run.h"
#include "core/task.h"

/* Whole milliseconds, so that printed differences add up exactly. */
static uint64_t ms_of(uint64_t ns)
{
  return (ns + 500000) / 1000000;
}

static void put_ms(struct corun_buf *out, uint64_t ms)
{
  corun_buf_printf(out, "%llu.%03llu", (unsigned long long)(ms / 1000),
                   (unsigned long long)(ms % 1000));
}

static void put_time(struct corun_buf *out, uint64_t ns)
{
  if (ns == CORUN_NO_TIME)
    corun_buf_puts(out, "null");
  else
    put_ms(out, ms_of(ns));
}

/* b - a, both rounded to ms first: "duration" is exactly "end - start". */
static void put_span(struct corun_buf *out, uint64_t a, uint64_t b)
{
  if (a == CORUN_NO_TIME || b == CORUN_NO_TIME || b < a)
    corun_buf_puts(out, "null");
  else
    put_ms(out, ms_of(b) - ms_of(a));
}

static void put_task(struct corun_buf *out, const struct corun_job *job,
                     const struct corun_task *t)
{
  const struct corun_secrets *sec = &job->secrets;
  int started = t->t_start != CORUN_NO_TIME;
  uint64_t until = started ? t->t_start : t->t_end;
  const char *name = corun__task_name(job, t);

  corun_buf_puts(out, "{\"id\": ");
  corun__json_write_str(out, t->id, sec);
  /* Only when set: the contract's task entry has no "name" otherwise. */
  if (name != t->id) {
    corun_buf_puts(out, ", \"name\": ");
    corun__json_write_str(out, name, sec);
  }
  corun_buf_printf(out, ", \"kind\": \"%s\", \"parent\": ", t->kind->name);
  if (t->parent)
    corun__json_write_str(out, t->parent->id, sec);
  else
    corun_buf_puts(out, "null");
  corun_buf_printf(out, ", \"status\": \"%s\", \"queued\": ",
                   corun__task_status_name((enum corun_status)t->status));
  put_span(out, t->t_ready, until);
  corun_buf_puts(out, ", \"start\": ");
  put_time(out, started ? t->t_start : CORUN_NO_TIME);
  corun_buf_puts(out, ", \"end\": ");
  put_time(out, started ? t->t_end : CORUN_NO_TIME);
  corun_buf_puts(out, ", \"duration\": ");
  put_span(out, started ? t->t_start : CORUN_NO_TIME, t->t_end);
  corun_buf_printf(out, ", \"attempts\": %u, \"result\": ", t->attempts);
  /* Kinds decide what a task that did not end ok shows (most: null). */
  corun__task_write_result(t, sec, out);
  corun_buf_puts(out, ", \"error\": ");
  corun__task_write_error(t, sec, out);
  /* Only with --journal: the result came from an earlier run. */
  if (t->flags & CORUN_TF_RESUMED)
    corun_buf_puts(out, ", \"resumed\": true");
  corun_buf_putc(out, '}');
}

/*
 * --shard: which part this was, of which job, and where its roots stand
 * among the file's (0-based), each followed in "tasks" by its subtree, so
 * the parts' reports can be put back in file order.
 */
static void put_shard(struct corun_buf *out, const struct corun_shard *sh)
{
  size_t i;

  corun_buf_printf(out,
                   " \"shard\": {\"index\": %u, \"total\": %u, "
                   "\"job_hash\": \"%s\", \"roots\": [",
                   sh->index, sh->total, sh->hash);
  for (i = 0; i < sh->nroots; i++)
    corun_buf_printf(out, "%s%zu", i ? ", " : "", sh->roots[i]);
  corun_buf_puts(out, "]},\n");
}

void corun_report_json(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  unsigned counts[CORUN_STATUS_SKIPPED + 1] = {0};
  char code[16];
  int roots_ok = 1;
  time_t secs = (time_t)run->started_wall;
  struct tm tm;
  char stamp[32];
  size_t i;

  for (i = 0; i < job->ntasks; i++)
    counts[job->tasks[i]->status]++;
  for (i = 0; i < job->nroots; i++)
    roots_ok &= corun__task_no_failure(job->roots[i]);
  /* The application's exit status, if it gave one (corun.h). */
  if (run->exit_code >= 0)
    snprintf(code, sizeof(code), "%d", run->exit_code);
  else
    snprintf(code, sizeof(code), "null");
  gmtime_r(&secs, &tm);
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
  corun_buf_puts(out, "{\"corun\": 1, \"job\": ");
  corun__json_write_str(out, job->name, sec);
  corun_buf_printf(
      out,
      ", \"status\": \"%s\", \"exit_code\": %s,\n \"started_at\": "
      "\"%s.%03dZ\", \"duration\": %.3f,\n \"summary\": {\"ok\": %u, "
      "\"failed\": %u, \"timeout\": %u, \"cancelled\": %u, \"skipped\": %u},\n",
      run->end == CORUN_END_STALLED  ? "failed"
      : run->end != CORUN_END_NORMAL ? "cancelled"
      : roots_ok                     ? "ok"
                                     : "failed",
      code, stamp,
      (int)((run->started_wall - (double)secs) * 1000.0) % 1000,
      corun__secs(run->finished ? run->end_ns : corun__now_ns(run)),
      counts[CORUN_STATUS_OK], counts[CORUN_STATUS_FAILED],
      counts[CORUN_STATUS_TIMEOUT], counts[CORUN_STATUS_CANCELLED],
      counts[CORUN_STATUS_SKIPPED]);
  if (job->shard)
    put_shard(out, job->shard);
  corun_buf_puts(out, " \"tasks\": [");
  for (i = 0; i < job->ntasks; i++) {
    corun_buf_puts(out, i ? ",\n  " : "\n  ");
    put_task(out, job, job->tasks[i]);
  }
  corun_buf_puts(out, job->ntasks ? "\n ]}\n" : "]}\n");
}
