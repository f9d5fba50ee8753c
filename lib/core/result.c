/* SPDX-License-Identifier: MIT */
/* A task's outcome as JSON; see result.h. */
#include "core/result.h"

#include "json/write.h"

void corun__task_write_result(const struct corun_task *t,
                              const struct corun_secrets *sec,
                              struct corun_buf *out)
{
  /* A resumed task's result is the journal's, whatever its kind. */
  if (t->kind && t->kind->result && !(t->flags & CORUN_TF_RESUMED))
    t->kind->result(t, sec, out);
  else
    corun__json_write(out, t->result, sec);
}

void corun__task_write_error(const struct corun_task *t,
                             const struct corun_secrets *sec,
                             struct corun_buf *out)
{
  if (t->status == CORUN_STATUS_OK || t->status == CORUN_STATUS_NONE) {
    corun_buf_puts(out, "null");
    return;
  }
  corun_buf_printf(out, "{\"type\": \"%s\", \"message\": ",
                   corun_errtype_name((enum corun_errtype)t->err_type));
  corun__json_write_str(out, t->err_msg ? t->err_msg : "", sec);
  {
    long status;
    const char *ctype, *body;

    if (t->kind && t->kind->response &&
        t->kind->response(t, &status, &ctype, &body)) {
      corun_buf_printf(out, ", \"response\": {\"status\": %ld, "
                            "\"content_type\": ",
                       status);
      if (ctype)
        corun__json_write_str(out, ctype, sec);
      else
        corun_buf_puts(out, "null");
      if (body) {
        corun_buf_puts(out, ", \"body\": ");
        corun__json_write_str(out, body, sec);
      }
      corun_buf_putc(out, '}');
    }
  }
  corun_buf_putc(out, '}');
}
