/* SPDX-License-Identifier: MIT */
/* Helpers shared by the reporters, and atomic file output. */
#include "report/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/*
 * Where an atomic write to path really goes: NULL with *direct set when
 * path exists and is not a regular file; else the path itself, or the file
 * a symbolic link names (malloc'd either way).
 */
static char *write_target(const char *path, int *direct)
{
  struct stat st, lst;

  *direct = 0;
  if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
    *direct = 1;
    return NULL;
  }
  if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
    char *real = realpath(path, NULL), link[4096];
    const char *slash;
    ssize_t n;

    if (real)
      return real;
    /* A link to a file not written yet: follow its text. */
    n = readlink(path, link, sizeof(link) - 1);
    if (n > 0) {
      link[n] = '\0';
      slash = strrchr(path, '/');
      if (link[0] != '/' && slash) {
        size_t dl = (size_t)(slash - path) + 1;
        char *joined = malloc(dl + (size_t)n + 1);

        if (joined) {
          memcpy(joined, path, dl);
          memcpy(joined + dl, link, (size_t)n + 1);
        }
        return joined;
      }
      return strdup(link);
    }
  }
  return strdup(path);
}

enum corun_code corun_probe_writable(const char *path, struct corun_error *err)
{
  int direct, fd, saved;
  char *target = write_target(path, &direct), *tmp;
  size_t n;

  if (direct) {
    if (access(path, W_OK) == 0)
      return CORUN_OK;
    return corun_failf(err, CORUN_EIO, "%s: %s", path, strerror(errno));
  }
  if (target == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  n = strlen(target) + 16;
  tmp = malloc(n);
  if (tmp == NULL) {
    free(target);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  snprintf(tmp, n, "%s.tmp.XXXXXX", target);
  fd = mkstemp(tmp);
  saved = errno;
  if (fd >= 0) {
    close(fd);
    unlink(tmp);
  }
  free(tmp);
  free(target);
  if (fd < 0)
    return corun_failf(err, CORUN_EIO, "%s: %s", path, strerror(saved));
  return CORUN_OK;
}

/*
 * An atomic write in progress: straight into a target that is not a
 * regular file, else into a temporary file beside the real target.
 */
struct atomic_out {
  const char *path; /* as given, for messages */
  char *target;     /* where the rename goes (NULL when direct) */
  char *tmp;
  int fd;
};

static enum corun_code out_open(struct atomic_out *o, const char *path,
                                struct corun_error *err)
{
  int direct, saved;
  size_t n;

  memset(o, 0, sizeof(*o));
  o->path = path;
  o->target = write_target(path, &direct);
  if (direct) {
    o->fd = open(path, O_WRONLY | O_CLOEXEC);
    if (o->fd < 0)
      return corun_failf(err, CORUN_EIO, "cannot write %s: %s", path,
                         strerror(errno));
    return CORUN_OK;
  }
  if (o->target == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  n = strlen(o->target) + 16;
  o->tmp = malloc(n);
  if (o->tmp == NULL) {
    free(o->target);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  snprintf(o->tmp, n, "%s.tmp.XXXXXX", o->target);
  o->fd = mkstemp(o->tmp);
  if (o->fd < 0) {
    saved = errno;
    corun_failf(err, CORUN_EIO, "cannot create a file beside %s: %s",
                o->target, strerror(saved));
    free(o->tmp);
    free(o->target);
    return CORUN_EIO;
  }
  return CORUN_OK;
}

static int out_sink(void *arg, const char *data, size_t n)
{
  struct atomic_out *o = arg;

  return corun__write_all(o->fd, data, n);
}

/*
 * Close, and put the temporary file in place; werr (an errno from the
 * writes, or 0) makes it a failure that leaves nothing behind.
 */
static enum corun_code out_finish(struct atomic_out *o, int werr,
                                  struct corun_error *err)
{
  int e = werr;

  if (o->tmp && e == 0 && (fchmod(o->fd, 0644) < 0 || fsync(o->fd) < 0))
    e = errno;
  if (close(o->fd) < 0 && e == 0)
    e = errno;
  if (o->tmp && e == 0 && rename(o->tmp, o->target) < 0)
    e = errno;
  if (o->tmp && e)
    unlink(o->tmp);
  free(o->tmp);
  if (e)
    corun_failf(err, CORUN_EIO, "cannot write %s: %s",
                o->target ? o->target : o->path, strerror(e));
  free(o->target);
  return e ? CORUN_EIO : CORUN_OK;
}

enum corun_code corun_write_atomic(const char *path, const char *data,
                                   size_t len, struct corun_error *err)
{
  struct atomic_out o;
  enum corun_code code = out_open(&o, path, err);

  if (code != CORUN_OK)
    return code;
  return out_finish(&o, corun__write_all(o.fd, data, len), err);
}

enum corun_code corun_report_write(const char *path, corun_report_fn fn,
                                   const struct corun_run *run,
                                   struct corun_error *err)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct atomic_out o;
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
  return out_finish(&o, e, err);
}
