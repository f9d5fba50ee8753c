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

/*
 * v as JSON text: compact (no spaces) or as the reports lay it out (", "
 * and ": "). cJSON's own printer rounds numbers to 15 digits when its
 * check of the round trip, which compares approximately, lets it: an
 * integer such as 9007199254740991 would go out as 9.00719925474099e+15.
 */
static void write_value(struct corun_buf *out, const cJSON *v,
                        const struct corun_secrets *sec, int compact)
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
      write_value(out, it, sec, compact);
      if (it->next)
        corun_buf_puts(out, compact ? "," : ", ");
    }
    corun_buf_putc(out, ']');
  } else if (cJSON_IsObject(v)) {
    corun_buf_putc(out, '{');
    for (it = v->child; it; it = it->next) {
      corun__json_write_str(out, it->string, sec);
      corun_buf_puts(out, compact ? ":" : ": ");
      write_value(out, it, sec, compact);
      if (it->next)
        corun_buf_puts(out, compact ? "," : ", ");
    }
    corun_buf_putc(out, '}');
  } else {
    corun_buf_puts(out, "null");
  }
}

void corun__json_write(struct corun_buf *out, const cJSON *v,
                       const struct corun_secrets *sec)
{
  write_value(out, v, sec, 0);
}

char *corun__json_print(const cJSON *v)
{
  struct corun_buf b = CORUN_BUF_INIT;

  write_value(&b, v, NULL, 1);
  if (b.oom) {
    corun_buf_free(&b);
    return NULL;
  }
  return corun_buf_detach(&b);
}

int corun__json_equal(const cJSON *a, const cJSON *b)
{
  const cJSON *x, *y;

  if (a == NULL || b == NULL)
    return a == b;
  if ((a->type & 0xff) != (b->type & 0xff))
    return 0;
  if (cJSON_IsNumber(a))
    return a->valuedouble == b->valuedouble ||
           (isnan(a->valuedouble) && isnan(b->valuedouble));
  if (cJSON_IsString(a))
    return strcmp(a->valuestring, b->valuestring) == 0;
  if (cJSON_IsArray(a)) {
    for (x = a->child, y = b->child; x && y; x = x->next, y = y->next)
      if (!corun__json_equal(x, y))
        return 0;
    return x == NULL && y == NULL;
  }
  if (cJSON_IsObject(a)) {
    /* The same names with equal values, in any order, each way round. */
    for (x = a->child; x; x = x->next) {
      y = cJSON_GetObjectItemCaseSensitive(b, x->string);
      if (y == NULL || !corun__json_equal(x, y))
        return 0;
    }
    for (y = b->child; y; y = y->next) {
      x = cJSON_GetObjectItemCaseSensitive(a, y->string);
      if (x == NULL || !corun__json_equal(x, y))
        return 0;
    }
    return 1;
  }
  return 1; /* null, true, false: the type says it all */
}
