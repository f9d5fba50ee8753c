/* SPDX-License-Identifier: MIT */
/*
 * Root causes, as every human-facing report tells them (the summary on
 * stderr, the HTML report, GitHub annotations): which tasks failed on their
 * own where it mattered, and what a failed fetch got back. One definition,
 * so the reports never disagree.
 */
#include "report/report.h"

#include <string.h>

#include "corun.h"
#include "core/job.h"
#include "core/run.h"
#include "util/buf.h"

int corun__report_root_cause(const struct corun_task *t)
{
  const struct corun_task *p;

  if (t->status != CORUN_STATUS_FAILED && t->status != CORUN_STATUS_TIMEOUT)
    return 0;
  if (t->err_type == CORUN_ERR_CANCELLED || t->err_type == CORUN_ERR_SKIPPED)
    return 0;
  /* Children in the table explain it (a skipped one by its "after"). */
  if (t->err_type == CORUN_ERR_CHILD && t->nchildren > 0)
    return 0;
  /*
   * A failure a container took in its stride (a race's loser, a gather
   * with return_exceptions) caused nothing: some task above it ended ok.
   */
  for (p = t->parent; p; p = p->parent)
    if (p->status == CORUN_STATUS_OK)
      return 0;
  return 1;
}


int corun__report_response(const struct corun_task *t,
                           const struct corun_secrets *sec,
                           struct corun_buf *out)
{
  struct corun_buf raw = CORUN_BUF_INIT;
  const char *ctype, *body;
  long status;

  if (t->kind->response == NULL ||
      !t->kind->response(t, &status, &ctype, &body))
    return 0;
  corun_buf_printf(&raw, "response: HTTP %ld", status);
  if (ctype)
    corun_buf_printf(&raw, " (%s)", ctype);
  if (body && *body)
    corun_buf_printf(&raw, ": %s", body);
  corun_secrets_redact(sec, corun_buf_str(&raw), raw.len, out);
  if (raw.oom)
    out->oom = 1;
  corun_buf_free(&raw);
  return 1;
}

/*
 * Workflow command data: GitHub reads "%", CR and LF escaped, and in a
 * property (title) also ":" and ",", which would end it. Other control
 * characters, and bytes that are not UTF-8, are written as the summary
 * writes them (\xNN, \u00NN): the log is a terminal too.
 */
static void put_escaped(struct corun_buf *out, const char *s, int property)
{
  size_t left = strlen(s);

  while (left) {
    const unsigned char *u = (const unsigned char *)s;
    size_t n = 1, bad;

    switch (*s) {
    case '%': corun_buf_puts(out, "%25"); break;
    case '\r': corun_buf_puts(out, "%0D"); break;
    case '\n': corun_buf_puts(out, "%0A"); break;
    case ':':
      corun_buf_puts(out, property ? "%3A" : ":");
      break;
    case ',':
      corun_buf_puts(out, property ? "%2C" : ",");
      break;
    default:
      if (*u >= 0x80 && (n = corun__utf8_seq(u, left, &bad)) > 1 &&
          !(*u == 0xc2 && u[1] < 0xa0)) {
        corun_buf_add(out, s, n);
        break;
      }
      if (n == 0)
        n = 1;
      /* One character or byte: the summary's escape does it. */
      {
        char one[3] = {s[0], n > 1 ? s[1] : '\0', '\0'};

        corun_buf_escaped(out, one, 0);
      }
      break;
    }
    s += n;
    left -= n;
  }
}

void corun_report_github(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_secrets *sec = &job->secrets;
  struct corun_buf red = CORUN_BUF_INIT, title = CORUN_BUF_INIT;
  size_t i;

  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    const char *m = t->err_msg ? t->err_msg : "";

    if (!corun__report_root_cause(t))
      continue;
    corun_buf_reset(&title);
    corun_buf_printf(&title, "corun %s: %s (%s) %s", job->name, t->id,
                     t->kind->name,
                     corun_errtype_name((enum corun_errtype)t->err_type));
    corun_buf_reset(&red);
    corun_secrets_redact(sec, corun_buf_str(&title), title.len, &red);
    corun_buf_puts(out, "::error title=");
    put_escaped(out, corun_buf_str(&red), 1);
    corun_buf_puts(out, "::");
    corun_buf_reset(&red);
    corun_secrets_redact(sec, m, strlen(m), &red);
    put_escaped(out, corun_buf_str(&red), 0);
    corun_buf_putc(out, '\n');
  }
  corun_buf_free(&red);
  corun_buf_free(&title);
}
