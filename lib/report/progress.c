/* SPDX-License-Identifier: MIT */
/*
 * The progress line a terminal shows while a run goes: counts of the
 * job's tasks, the time so far, and what each running pipeline says of
 * its items. The command redraws it at most ten times a second.
 */
#include <string.h>

#include "corun.h"
#include "load/jobfile.h"
#include "core/kind.h"
#include "report/report.h"
#include "core/run.h"
#include "core/task.h"

/* Pipelines named on the line, at most: the line is one terminal row. */
#define PROGRESS_KINDS 3

void corun_run_progress(const struct corun_run *run, unsigned width,
                        struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  struct corun_buf line = CORUN_BUF_INIT, red = CORUN_BUF_INIT;
  double now = run->started ? corun__secs(corun__now_ns(run)) : 0;
  size_t i, waiting, shown = 0;
  char el[32];

  waiting = job->ntasks - run->ndone - run->nrunning;
  corun__fmt_duration(now, el, sizeof(el));
  corun_buf_printf(&line, "%zu/%zu done, %zu running, %zu failed, %zu waiting, "
                          "%s",
                   run->ndone, job->ntasks, run->nrunning, run->nfailed,
                   waiting, el);
  for (i = 0; i < job->ntasks && shown < PROGRESS_KINDS; i++) {
    const struct corun_task *t = job->tasks[i];

    if (t->state != CORUN_STATE_RUNNING || t->kind->progress == NULL)
      continue;
    corun_buf_puts(&line, " | ");
    t->kind->progress(t, now - corun__secs(t->t_start), &line);
    shown++;
  }
  corun_job_redact(job, corun_buf_str(&line), &red);
  /* Task ids may hold anything: escape, then cut to the row's width. */
  corun_buf_reset(&line);
  corun_buf_escaped(&line, corun_buf_str(&red), 0);
  if (width && line.len > width) {
    /* Cut on a UTF-8 character boundary. */
    size_t n = width;

    while (n > 0 && (line.p[n] & 0xC0) == 0x80)
      n--;
    line.len = n;
    line.p[n] = '\0';
  }
  corun_buf_add(out, corun_buf_str(&line), line.len);
  corun_buf_free(&line);
  corun_buf_free(&red);
}
