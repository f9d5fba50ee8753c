/* SPDX-License-Identifier: MIT */
/* Reading a job file, or standard input, into memory. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load/loader.h"

/*
 * Wait until fd has input, or *stop is set (then 0). Checked a few times a
 * second, since a signal that came just before read() would not interrupt
 * it, and a pipe may stay silent for ever.
 */
static int ready_or_stopped(int fd, const volatile sig_atomic_t *stop)
{
  struct pollfd p = {.fd = fd, .events = POLLIN};

  while (!*stop) {
    int r = poll(&p, 1, 100);

    /* Input, end of file, or an error that read() will report. */
    if (r > 0 || (r < 0 && errno != EINTR))
      return 1;
  }
  return 0;
}

static enum corun_code read_all(int fd, const char *display,
                                const struct corun_load_opts *opts, char **out,
                                size_t *len, struct corun_error *err)
{
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  struct stat st;
  /* Only input that can keep one waiting: a regular file always ends. */
  int stoppable =
      opts && opts->stop && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode);

  if (buf == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  for (;;) {
    ssize_t r;

    if (n == cap) {
      char *nb;

      if (cap > MAX_FILE_BYTES) {
        free(buf);
        return corun_failf(err, CORUN_EINVAL,
                           "%s: error: file too large (over 1 GiB)", display);
      }
      nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        return corun_failf(err, CORUN_ENOMEM, "out of memory");
      }
      buf = nb;
      cap *= 2;
    }
    if (stoppable && !ready_or_stopped(fd, opts->stop)) {
      errno = EINTR;
      r = -1;
    } else {
      r = read(fd, buf + n, cap - n);
    }
    if (r == 0)
      break;
    if (r < 0) {
      if (errno == EINTR && !(stoppable && *opts->stop))
        continue;
      corun_failf(err, CORUN_EIO, "%s: error: cannot read: %s", display,
                  strerror(errno));
      free(buf);
      return CORUN_EIO;
    }
    n += (size_t)r;
  }
  *out = buf;
  *len = n;
  return CORUN_OK;
}

enum corun_code corun_job_load(struct corun_job **out, const char *path,
                               const struct corun_load_opts *opts,
                               struct corun_buf *diagbuf,
                               struct corun_error *err)
{
  enum corun_code code;
  char *text = NULL, *dir = NULL, *slash;
  void *mapped = NULL;
  size_t len = 0;
  struct stat st;
  int fd;

  *out = NULL;
  if (strcmp(path, "-") == 0) {
    code = read_all(STDIN_FILENO, "<stdin>", opts, &text, &len, err);
    if (code != CORUN_OK)
      return code;
    code = corun__load_text(out, text, len, "<stdin>", ".", opts,
                            CORUN_STDIN_JOB, NULL, 0, diagbuf, err);
    free(text);
    return code;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return corun_failf(err, CORUN_EIO, "%s: error: cannot open: %s", path,
                       strerror(errno));
  /* A regular file is mapped, not copied: a big job is read only once. */
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (size_t)st.st_size <= MAX_FILE_BYTES) {
    mapped = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped != MAP_FAILED) {
      text = mapped;
      len = (size_t)st.st_size;
      code = CORUN_OK;
    } else {
      mapped = NULL;
    }
  }
  if (mapped == NULL)
    code = read_all(fd, path, opts, &text, &len, err);
  close(fd);
  if (code != CORUN_OK)
    return code;
  dir = strdup(path);
  if (dir == NULL) {
    if (mapped)
      munmap(mapped, len);
    else
      free(text);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  slash = strrchr(dir, '/');
  if (slash == NULL)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  code = corun__load_text(out, text, len, path, dir, opts, CORUN_STDIN_FREE,
                          path, mapped != NULL, diagbuf, err);
  if (mapped)
    munmap(mapped, len);
  else
    free(text);
  free(dir);
  return code;
}
