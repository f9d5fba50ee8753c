/* SPDX-License-Identifier: MIT */
/*
 * The human summary: one aligned row per task (id indented by depth, kind,
 * status, duration, detail), then a totals line. Colour only when asked
 * (the CLI asks on a terminal without NO_COLOR). Control characters in
 * details are escaped so no task text can drive the terminal.
 */
#include <string.h>

#include "corun.h"
#include "report/report.h"
#include "core/common.h"
#include "core/run.h"
#include "core/task.h"

#define DETAIL_MAX 72
#define ID_COL_MAX 40

static unsigned depth_of(const struct corun_task *t)
{
  unsigned d = 0;

  for (t = t->parent; t; t = t->parent)
    d++;
  return d;
}

static const char *colour_of(enum corun_status s)
{
  switch (s) {
  case CORUN_STATUS_OK:
    return "\033[32m";
  case CORUN_STATUS_FAILED:
  case CORUN_STATUS_TIMEOUT:
    return "\033[31m";
  case CORUN_STATUS_CANCELLED:
    return "\033[33m";
  default:
    return "\033[2m";
  }
}

static void detail(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *out)
{
  struct corun_buf raw = CORUN_BUF_INIT, red = CORUN_BUF_INIT;

  if (t->status != CORUN_STATUS_OK) {
    /*
     * The status column already says timeout, cancelled or skipped, and a
     * rehearsed or child failure explains itself; name the type only for
     * failures where it adds something (connect, dns, exit_status ...).
     */
    if (t->status == CORUN_STATUS_FAILED && t->err_type != CORUN_ERR_FAIL &&
        t->err_type != CORUN_ERR_CHILD)
      corun_buf_printf(&raw, "%s: ",
                       corun_errtype_name((enum corun_errtype)t->err_type));
    corun_buf_puts(&raw, t->err_msg ? t->err_msg : "");
  } else if (t->flags & CORUN_TF_RESUMED) {
    /* Its own struct holds nothing: the journal gave the result. */
    corun_buf_puts(&raw, "resumed from the journal");
  } else if (t->kind->summary) {
    t->kind->summary(t, &raw);
  } else if (t->result && cJSON_IsString(t->result)) {
    corun_buf_puts(&raw, t->result->valuestring);
  } else if (t->nchildren) {
    uint32_t i, ok = 0;

    for (i = 0; i < t->nchildren; i++)
      ok += t->children[i]->status == CORUN_STATUS_OK;
    corun_buf_printf(&raw, "%u of %u children ok", ok, t->nchildren);
  }
  corun_secrets_redact(sec, corun_buf_str(&raw), raw.len, &red);
  corun_buf_escaped(out, corun_buf_str(&red), DETAIL_MAX);
  corun_buf_free(&raw);
  corun_buf_free(&red);
}

/* How much of a failed answer's body a root cause shows. */
#define RESPONSE_START 200

/* "    response: HTTP 500 (text/html): <the start of its body>" */
static void response_start(const struct corun_task *t,
                           const struct corun_secrets *sec,
                           struct corun_buf *out)
{
  struct corun_buf red = CORUN_BUF_INIT;

  if (corun__report_response(t, sec, &red)) {
    corun_buf_puts(out, "    ");
    /* One line: the body's own line breaks are shown escaped. */
    corun_buf_escaped(out, corun_buf_str(&red), RESPONSE_START);
    corun_buf_putc(out, '\n');
  }
  corun_buf_free(&red);
}

/* "Root causes:", then each with its whole message, line by line. */
static void root_causes(const struct corun_job *job, struct corun_buf *out)
{
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf red = CORUN_BUF_INIT, line = CORUN_BUF_INIT;
  size_t i, n = 0;

  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    const char *m, *nl, *name = corun__task_name(job, t);

    if (!corun__report_root_cause(t))
      continue;
    if (n++ == 0)
      corun_buf_puts(out, "Root causes:\n");
    corun_buf_reset(&red);
    corun_secrets_redact(sec, name, strlen(name), &red);
    corun_buf_puts(out, "  ");
    corun_buf_escaped(out, corun_buf_str(&red), 0);
    corun_buf_printf(out, " (%s): %s: ", t->kind->name,
                     corun_errtype_name((enum corun_errtype)t->err_type));
    corun_buf_reset(&red);
    m = t->err_msg ? t->err_msg : "";
    corun_secrets_redact(sec, m, strlen(m), &red);
    /* A message of several lines keeps them, indented under the task. */
    for (m = corun_buf_str(&red); m; m = nl ? nl + 1 : NULL) {
      nl = strchr(m, '\n');
      corun_buf_reset(&line);
      corun_buf_add(&line, m, nl ? (size_t)(nl - m) : strlen(m));
      if (m != corun_buf_str(&red))
        corun_buf_puts(out, "    ");
      corun_buf_escaped(out, corun_buf_str(&line), 0);
      corun_buf_putc(out, '\n');
    }
    response_start(t, sec, out);
  }
  corun_buf_free(&red);
  corun_buf_free(&line);
}

/*
 * The table; failures_only keeps the rows of tasks that did not end ok,
 * without indentation (their containers are not shown).
 */
static void table(const struct corun_run *run, int colour, int failures_only,
                  struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  unsigned counts[CORUN_STATUS_SKIPPED + 1] = {0};
  size_t i, idw = 2, w;
  struct corun_buf id = CORUN_BUF_INIT, red = CORUN_BUF_INIT;
  char dur[32];

  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    counts[t->status]++;
    if (failures_only && t->status == CORUN_STATUS_OK)
      continue;
    w = (failures_only ? 0 : 2 * depth_of(t)) +
        strlen(corun__task_name(job, t));
    if (w > idw)
      idw = w;
  }
  if (idw > ID_COL_MAX)
    idw = ID_COL_MAX;
  if (job->ntasks && !(failures_only && counts[CORUN_STATUS_OK] == job->ntasks))
    corun_buf_printf(out, "%-*s  %-8s  %-9s  %8s  %s\n", (int)idw, "ID",
                     "KIND", "STATUS", "DURATION", "DETAIL");
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    const char *st = corun__task_status_name((enum corun_status)t->status);
    const char *name;

    if (failures_only && t->status == CORUN_STATUS_OK)
      continue;
    corun_buf_reset(&id);
    for (w = failures_only ? 0 : depth_of(t); w > 0; w--)
      corun_buf_puts(&id, "  ");
    /* A name is free text: escaped, so it cannot drive the terminal. */
    name = corun__task_name(job, t);
    corun_buf_reset(&red);
    corun_secrets_redact(sec, name, strlen(name), &red);
    corun_buf_escaped(&id, corun_buf_str(&red), 0);
    if (t->t_start != CORUN_NO_TIME && t->t_end != CORUN_NO_TIME)
      corun__fmt_duration(corun__secs(t->t_end - t->t_start), dur,
                          sizeof(dur));
    else
      strcpy(dur, "-");
    corun_buf_printf(out, "%-*s  %-8s  ", (int)idw, corun_buf_str(&id),
                     t->kind->name);
    if (colour)
      corun_buf_printf(out, "%s%-9s\033[0m", colour_of(t->status), st);
    else
      corun_buf_printf(out, "%-9s", st);
    corun_buf_printf(out, "  %8s  ", dur);
    detail(t, sec, out);
    /* Trailing spaces from an empty detail help nobody. */
    while (out->len && out->p[out->len - 1] == ' ')
      out->p[--out->len] = '\0';
    corun_buf_putc(out, '\n');
  }
  corun__fmt_duration(
      corun__secs(run->finished ? run->end_ns : corun__now_ns(run)), dur,
      sizeof(dur));
  corun_buf_printf(out,
                   "%zu task%s: %u ok, %u failed, %u timeout, %u cancelled, "
                   "%u skipped in %s",
                   job->ntasks, job->ntasks == 1 ? "" : "s",
                   counts[CORUN_STATUS_OK], counts[CORUN_STATUS_FAILED],
                   counts[CORUN_STATUS_TIMEOUT],
                   counts[CORUN_STATUS_CANCELLED],
                   counts[CORUN_STATUS_SKIPPED], dur);
  /* The application's exit status, if it gave one (corun.h). */
  if (run->exit_code >= 0)
    corun_buf_printf(out, " (exit %d)", run->exit_code);
  corun_buf_putc(out, '\n');
  corun_buf_free(&id);
  corun_buf_free(&red);
}

void corun_report_text(const struct corun_run *run, int colour,
                       struct corun_buf *out)
{
  table(run, colour, 0, out);
  root_causes(run->job, out);
}

void corun_report_text_failures(const struct corun_run *run, int colour,
                                struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  size_t i;
  int bad = run->end != CORUN_END_NORMAL;

  for (i = 0; i < job->nroots && !bad; i++)
    bad = job->roots[i]->status != CORUN_STATUS_OK;
  for (i = 0; i < job->ntasks && !bad; i++)
    bad = job->tasks[i]->status == CORUN_STATUS_FAILED ||
          job->tasks[i]->status == CORUN_STATUS_TIMEOUT;
  if (!bad)
    return;
  table(run, colour, 1, out);
  root_causes(job, out);
}
