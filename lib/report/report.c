/* SPDX-License-Identifier: MIT */
/* Helpers shared by the reporters, and writing a report to its file. */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "util/outfile.h"

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
  corun_buf_free(&r);
}

static void write_number(struct corun_buf *out, double d)
{
  char tmp[32];

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
  corun_buf_putc(out, '}');
}

void corun__fmt_duration(double s, char *buf, size_t n)
{
  if (s < 1.0)
    snprintf(buf, n, "%.0fms", s * 1000.0);
  else if (s < 60.0)
    snprintf(buf, n, "%.2fs", s);
  else if (s < 3600.0)
    snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60.0));
  else
    snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60.0));
}

double corun__secs(uint64_t ns)
{
  return (double)ns / 1e9;
}

enum corun_code corun_probe_writable(const char *path, struct corun_error *err)
{
  int e = corun__outfile_probe(path, NULL);

  if (e)
    return corun_failf(err, e == ENOMEM ? CORUN_ENOMEM : CORUN_EIO, "%s: %s",
                       path, strerror(e));
  return CORUN_OK;
}

/*
 * Reports are written as any output file (outfile.h), with the mode they
 * always had, and a FIFO's open waits for its reader: the run is over, so
 * nothing else waits behind it.
 */
static const struct corun_outfile_how report_how = {0644, 1};

static enum corun_code out_open(struct corun_outfile *o, const char *path,
                                struct corun_error *err)
{
  int e;

  *o = (struct corun_outfile)CORUN_OUTFILE_INIT;
  e = corun__outfile_open_as(o, path, NULL, &report_how);
  if (e == ENOMEM)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  if (e)
    return corun_failf(err, CORUN_EIO, "cannot %s %s: %s",
                       o->direct ? "write" : "create a file beside", path,
                       strerror(e));
  return CORUN_OK;
}

static int out_sink(void *arg, const char *data, size_t n)
{
  return corun__outfile_write(arg, data, n);
}

/*
 * Put the file in place; werr (an errno from the writes, or 0) makes it a
 * failure that leaves nothing behind.
 */
static enum corun_code out_finish(struct corun_outfile *o, const char *path,
                                  int werr, struct corun_error *err)
{
  int e = werr;

  if (e)
    corun__outfile_abort(o);
  else
    e = corun__outfile_commit(o);
  if (e)
    return corun_failf(err, CORUN_EIO, "cannot write %s: %s", path,
                       strerror(e));
  return CORUN_OK;
}

enum corun_code corun_write_atomic(const char *path, const char *data,
                                   size_t len, struct corun_error *err)
{
  struct corun_outfile o;
  enum corun_code code = out_open(&o, path, err);

  if (code != CORUN_OK)
    return code;
  return out_finish(&o, path, corun__outfile_write(&o, data, len), err);
}

enum corun_code corun_report_write(const char *path, corun_report_fn fn,
                                   const struct corun_run *run,
                                   struct corun_error *err)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_outfile o;
  enum corun_code code;
  int e;

  code = out_open(&o, path, err);
  if (code != CORUN_OK)
    return code;
  corun_buf_stream(&b, CORUN_REPORT_CHUNK, out_sink, &o);
  fn(run, &b);
  e = corun_buf_flush(&b);
  if (e == 0 && b.oom)
    e = ENOMEM;
  corun_buf_free(&b);
  return out_finish(&o, path, e, err);
}
