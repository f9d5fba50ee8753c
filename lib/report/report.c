/* SPDX-License-Identifier: MIT */
/* Atomic file output for the reporters. */
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
