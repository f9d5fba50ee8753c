/* SPDX-License-Identifier: MIT */
/* JSON text with secrets redacted; see write.h. */
#include "json/write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void corun__json_write_str(struct corun_buf *out, const char *s,
                           const struct corun_secrets *sec)
{
  struct corun_buf r = CORUN_BUF_INIT;

  if (sec == NULL || sec->n == 0) {
    corun_buf_json_str(out, s, strlen(s));
    return;
  }
  corun_secrets_redact(sec, s, strlen(s), &r);
  corun_buf_json_str(out, corun_buf_str(&r), r.len);
  /* A string cut short here would leave the whole looking complete. */
  if (r.oom)
    out->oom = 1;
  corun_buf_free(&r);
}

static void write_number(struct corun_buf *out, double d)
{
  char tmp[32];

  /*
   * Only a response body can bring one (it may say 1e400: that is JSON).
   * JSON has no infinity, but 1e400 is a JSON number still: Python reads
   * it back as inf, jq as the largest double.
   */
  if (isnan(d)) {
    corun_buf_puts(out, "null");
    return;
  }
  if (isinf(d)) {
    corun_buf_puts(out, d > 0 ? "1e400" : "-1e400");
    return;
  }
  /* Any integral double below 2^63 prints exactly as an integer. */
  if (d == floor(d) && fabs(d) < 9.2e18) {
    corun_buf_printf(out, "%.0f", d);
    return;
  }
  /* Shortest of 15 or 17 digits that reads back the same. */
  snprintf(tmp, sizeof(tmp), "%.15g", d);
  if (strtod(tmp, NULL) != d)
    snprintf(tmp, sizeof(tmp), "%.17g", d);
  corun_buf_puts(out, tmp);
}

void corun__json_write(struct corun_buf *out, const cJSON *v,
                       const struct corun_secrets *sec)
{
  const cJSON *it;

  if (v == NULL || cJSON_IsNull(v)) {
    corun_buf_puts(out, "null");
  } else if (cJSON_IsFalse(v)) {
    corun_buf_puts(out, "false");
  } else if (cJSON_IsTrue(v)) {
    corun_buf_puts(out, "true");
  } else if (cJSON_IsNumber(v)) {
    write_number(out, v->valuedouble);
  } else if (cJSON_IsString(v)) {
    corun__json_write_str(out, v->valuestring, sec);
  } else if (cJSON_IsArray(v)) {
    corun_buf_putc(out, '[');
    for (it = v->child; it; it = it->next) {
      corun__json_write(out, it, sec);
      if (it->next)
        corun_buf_puts(out, ", ");
    }
    corun_buf_putc(out, ']');
  } else if (cJSON_IsObject(v)) {
    corun_buf_putc(out, '{');
    for (it = v->child; it; it = it->next) {
      corun__json_write_str(out, it->string, sec);
      corun_buf_puts(out, ": ");
      corun__json_write(out, it, sec);
      if (it->next)
        corun_buf_puts(out, ", ");
    }
    corun_buf_putc(out, '}');
  } else {
    corun_buf_puts(out, "null");
  }
}
