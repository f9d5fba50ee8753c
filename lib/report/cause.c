/* SPDX-License-Identifier: MIT */
/*
 * Root causes, as every human-facing report tells them (the summary on
 * stderr, the HTML report): which tasks failed on their own, and what a
 * failed fetch got back. One definition, so the reports never disagree.
 */
#include "report/report.h"

int corun__report_root_cause(const struct corun_task *t)
{
  if (t->status != CORUN_STATUS_FAILED && t->status != CORUN_STATUS_TIMEOUT)
    return 0;
  if (t->err_type == CORUN_ERR_CANCELLED || t->err_type == CORUN_ERR_SKIPPED)
    return 0;
  /* Children in the table explain it (a skipped one by its "after"). */
  return t->err_type != CORUN_ERR_CHILD || t->nchildren == 0;
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
