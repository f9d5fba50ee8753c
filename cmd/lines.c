/* SPDX-License-Identifier: MIT */
/*
 * Output that never holds up the loop.
 *
 * A line printed with a blocking write waits for the reader of a pipe
 * once the pipe's buffer is full: "corun job | slow-reader" would then
 * stop the whole event loop, its timers, --timeout and signal handling
 * with it, for as long as the reader does not read. So on a pipe corun
 * opens the pipe again for itself, non-blocking (its own open file
 * description: the one it was given is shared with the shell and with
 * whatever else writes to the pipe, which must not find it non-blocking),
 * and what the reader has not taken yet waits here, written as the pipe
 * drains (a poll handle says when). Past MAX_QUEUED bytes waiting, corun
 * does wait for the reader: output is never dropped, and memory is not
 * unbounded.
 *
 * A terminal, a file or a socket (which cannot be opened again) is
 * written as before, through stdio.
 */
#include "lines.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_QUEUED (16u << 20)

void lines_init(struct lines *l, FILE *f)
{
  memset(l, 0, sizeof(*l));
  l->f = f;
  l->fd = fileno(f);
  l->wfd = -1;
}

static int same_file(int a, int b)
{
  struct stat sa, sb;

  return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void on_writable(uv_poll_t *h, int status, int events);

static void stop_polling(struct lines *l)
{
  if (l->polling) {
    uv_poll_stop(&l->poll);
    l->polling = 0;
  }
}

/* s written whole now, waiting for the reader if it must. */
static void write_now(struct lines *l, const char *s, size_t n)
{
  while (n && !l->dead) {
    ssize_t w = write(l->wfd, s, n);

    if (w > 0) {
      s += w;
      n -= (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      struct pollfd p = {l->wfd, POLLOUT, 0};

      (void)poll(&p, 1, -1);
    } else if (!(w < 0 && errno == EINTR)) {
      l->dead = 1;
    }
  }
}

/*
 * Write what waits, as much as the pipe takes now; block: until all of it
 * is written. Returns once nothing waits, the pipe is full, or the reader
 * is gone.
 */
static void drain(struct lines *l, int block)
{
  while (!block && l->off < l->q.len && !l->dead) {
    ssize_t w = write(l->wfd, l->q.p + l->off, l->q.len - l->off);

    if (w > 0) {
      l->off += (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      if (!l->polling &&
          uv_poll_start(&l->poll, UV_WRITABLE, on_writable) == 0)
        l->polling = 1;
      if (!l->polling) {
        block = 1; /* no way to be told: wait here instead */
        break;
      }
      /* What was written goes: the buffer holds what waits, at most. */
      if (l->off >= 65536 && l->off * 2 >= l->q.len) {
        memmove(l->q.p, l->q.p + l->off, l->q.len - l->off);
        l->q.len -= l->off;
        l->q.p[l->q.len] = '\0';
        l->off = 0;
      }
      return;
    } else if (!(w < 0 && errno == EINTR)) {
      /* EPIPE and the like: the reader went away, as stdio would find. */
      l->dead = 1;
    }
  }
  if (block && l->off < l->q.len)
    write_now(l, l->q.p + l->off, l->q.len - l->off);
  stop_polling(l);
  /* Drained: a buffer that grew for a stalled reader goes back. */
  if (l->q.cap > (1u << 20))
    corun_buf_free(&l->q);
  else
    corun_buf_reset(&l->q);
  l->off = 0;
}

static void on_writable(uv_poll_t *h, int status, int events)
{
  struct lines *l = h->data;

  (void)events;
  if (status < 0)
    l->dead = 1;
  drain(l, 0);
}

void lines_start(struct lines *l, uv_loop_t *loop, struct lines *other)
{
  struct stat st;
  char path[64];
  int w;

  fflush(l->f);
  if (other && other->via)
    other = other->via;
  if (other && other->queued && same_file(l->fd, other->fd)) {
    l->via = other;
    return;
  }
  if (fstat(l->fd, &st) < 0 || !S_ISFIFO(st.st_mode))
    return;
  snprintf(path, sizeof(path), "/proc/self/fd/%d", l->fd);
  w = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (w < 0)
    return;
  if (uv_poll_init(loop, &l->poll, w) != 0) {
    close(w);
    return;
  }
  l->poll.data = l;
  /* Output alone does not keep the run going: lines_end() writes the rest. */
  uv_unref((uv_handle_t *)&l->poll);
  l->wfd = w;
  l->queued = 1;
}

int lines_queued(const struct lines *l)
{
  return (l->via ? l->via : l)->queued;
}

int lines_waiting(const struct lines *l)
{
  const struct lines *to = l->via ? l->via : l;

  return to->queued && to->q.len > to->off;
}

void lines_put_text(struct lines *l, const char *s, size_t n)
{
  if (l->via)
    l = l->via;
  if (!l->queued) {
    fwrite(s, 1, n, l->f);
    fflush(l->f);
    return;
  }
  if (l->dead || n == 0)
    return;
  if (l->q.len == l->off) {
    /* Nothing waits: straight to the pipe, and only the rest waits. */
    ssize_t w;

    do
      w = write(l->wfd, s, n);
    while (w < 0 && errno == EINTR);
    if (w < 0 && errno != EAGAIN) {
      l->dead = 1;
      return;
    }
    if (w > 0) {
      s += w;
      n -= (size_t)w;
    }
    if (n == 0)
      return;
  }
  if (l->q.len - l->off + n > MAX_QUEUED) {
    /* The reader has not read 16 MiB: wait for it rather than grow. */
    drain(l, 1);
    write_now(l, s, n);
    return;
  }
  corun_buf_add(&l->q, s, n);
  if (l->q.oom) {
    /* No memory to hold it: what waits, then this, waiting for the reader. */
    l->q.oom = 0;
    drain(l, 1);
    write_now(l, s, n);
    return;
  }
  drain(l, 0);
}

void lines_put(struct lines *l, const char *s)
{
  struct lines *to = l->via ? l->via : l;
  size_t n = strlen(s);
  char one[1024];

  if (!to->queued) {
    fputs(s, to->f);
    fputc('\n', to->f);
    fflush(to->f);
    return;
  }
  /* A line and its newline in one write, as stdio's line buffering did. */
  if (n < sizeof(one)) {
    memcpy(one, s, n);
    one[n] = '\n';
    lines_put_text(to, one, n + 1);
    return;
  }
  lines_put_text(to, s, n);
  lines_put_text(to, "\n", 1);
}

void lines_end(struct lines *l)
{
  int flags;

  if (!l->queued)
    return;
  stop_polling(l);
  uv_close((uv_handle_t *)&l->poll, NULL);
  l->queued = 0;
  /* Our own description of the pipe: blocking now, for the last of it. */
  flags = fcntl(l->wfd, F_GETFL);
  if (flags >= 0)
    fcntl(l->wfd, F_SETFL, flags & ~O_NONBLOCK);
  if (!l->dead)
    drain(l, 1);
  close(l->wfd);
  l->wfd = -1;
  corun_buf_free(&l->q);
}
