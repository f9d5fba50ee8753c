/* SPDX-License-Identifier: MIT */
/*
 * The lines source: a file, a pipe or FIFO, or corun's standard input,
 * read a chunk at a time as producers ask, each non-empty line an item.
 * Producers that need a line while a read is in flight wait in arrival
 * order and are woken when the chunk arrives.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/run.h"
#include "util/confine.h"

static void lines_read(struct pl *p);

/* A chunk (n > 0), the end (0) or an error (< 0, a libuv code) arrived. */
static void lines_arrived(struct pl *p, ssize_t n)
{
  struct lines_src *ls = &p->r->lines;
  struct producer *pr;

  ls->busy = 0;
  if (n < 0 && n != UV_EOF) {
    ls->err = (int)-n;
  } else if (n <= 0) {
    ls->eof = 1;
  } else {
    /* Keep the unread tail at the front, then add the chunk. */
    if (ls->pos) {
      memmove(ls->buf.p, ls->buf.p + ls->pos, ls->buf.len - ls->pos);
      ls->buf.len -= ls->pos;
      ls->pos = 0;
    }
    corun_buf_add(&ls->buf, ls->chunk, (size_t)n);
    /* Lines that did not fit would be lost, and the rest read amiss. */
    if (ls->buf.oom)
      ls->err = ENOMEM;
  }
  /* Wake the producers that waited, in the order they came. */
  pr = ls->waiting;
  ls->waiting = NULL;
  while (pr) {
    struct producer *next = pr->next_waiting;

    pr->next_waiting = NULL;
    corun__pl_producer_wake(pr);
    pr = next;
  }
  corun__pl_maybe_end(p);
}

static void file_read_done(uv_fs_t *req)
{
  ssize_t n = req->result;

  uv_fs_req_cleanup(req);
  lines_arrived(req->data, n);
}

static void pipe_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
  struct pl *p = h->data;

  (void)suggested;
  *buf = uv_buf_init(p->r->lines.chunk, READ_CHUNK);
}

static void pipe_read_done(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
  (void)buf;
  if (n == 0)
    return; /* nothing this time (EAGAIN) */
  /* One chunk per request, as from a file: producers ask for more. */
  uv_read_stop(st);
  lines_arrived(st->data, n);
}

/*
 * A descriptor of corun's standard input to read lines from. A file is
 * shared (dup: it reads on from where stdin stands); a pipe or terminal is
 * opened anew through /dev/stdin where that works, so making it
 * non-blocking for the loop does not change the descriptor the shell
 * shares with us. -1 with errno when there is none.
 */
static int open_stdin(void)
{
  struct stat st;
  int fd = -1, hi;

  if (fstat(STDIN_FILENO, &st) < 0)
    return -1;
  if (!S_ISREG(st.st_mode))
    fd = open("/dev/stdin", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 3);
  /* Never one of 0-2 (free when closed): libuv will not close those. */
  if (fd > STDERR_FILENO)
    return fd;
  hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  close(fd);
  return hi;
}

static int lines_open(struct pl *p)
{
  struct lines_src *ls = &p->r->lines;
  struct stat st;

  if (p->c->lines_stdin)
    ls->fd = open_stdin();
  else /* Not blocking: opening a FIFO would otherwise wait for its writer. */
    ls->fd = corun__open_confined(p->c->lines, p->r->root,
                                  O_RDONLY | O_NONBLOCK | O_CLOEXEC, 0);
  if (ls->fd < 0 || fstat(ls->fd, &st) < 0)
    return errno;
  /*
   * Only what the loop can poll goes through a handle: a device such as
   * /dev/null (often standard input under cron or CI) cannot be polled,
   * and is read like a file.
   */
  if (!S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode) && !isatty(ls->fd))
    return 0;
  if (uv_pipe_init(p->base.run->loop, &ls->pipe, 0) < 0)
    return ENOMEM;
  ls->pipe.data = p;
  if (uv_pipe_open(&ls->pipe, ls->fd) < 0) {
    uv_close((uv_handle_t *)&ls->pipe, NULL);
    return EINVAL;
  }
  ls->is_pipe = 1;
  return 0;
}

static void lines_read(struct pl *p)
{
  struct lines_src *ls = &p->r->lines;
  int e;

  if (ls->busy || ls->eof || ls->err)
    return;
  if (ls->fd < 0 && (e = lines_open(p)) != 0) {
    ls->err = e;
    return;
  }
  if (ls->is_pipe) {
    e = uv_read_start((uv_stream_t *)&ls->pipe, pipe_alloc, pipe_read_done);
  } else {
    uv_buf_t b = uv_buf_init(ls->chunk, READ_CHUNK);

    ls->req.data = p;
    e = uv_fs_read(p->base.run->loop, &ls->req, ls->fd, &b, 1, -1,
                   file_read_done);
  }
  if (e < 0)
    ls->err = -e;
  else
    ls->busy = 1;
}

void corun__pl_lines_close(struct pl *p)
{
  struct lines_src *ls = &p->r->lines;

  if (ls->fd < 0)
    return;
  if (ls->is_pipe) {
    /* The handle owns the descriptor; its memory is the pipeline's. */
    uv_close((uv_handle_t *)&ls->pipe, NULL);
  } else {
    close(ls->fd);
  }
  ls->fd = -1;
}

int corun__pl_lines_next(struct pl *p, cJSON **out)
{
  struct lines_src *ls = &p->r->lines;

  /* Editors on some systems start a file with a BOM: it is no item. */
  while (!ls->bom_done) {
    static const char bom[] = "\xef\xbb\xbf";
    size_t have = ls->buf.len - ls->pos;
    size_t k = have < 3 ? have : 3;

    if (ls->buf.p && memcmp(ls->buf.p + ls->pos, bom, k) != 0) {
      ls->bom_done = 1;
    } else if (k == 3) {
      ls->pos += 3;
      ls->bom_done = 1;
    } else if (ls->eof || ls->err) {
      ls->bom_done = 1;
    } else {
      lines_read(p);
      return ls->err ? SRC_ERR : SRC_WAIT;
    }
  }
  for (;;) {
    char *s = ls->buf.p ? ls->buf.p + ls->pos : NULL;
    size_t avail = ls->buf.len - ls->pos, n;
    char *nl = s ? memchr(s, '\n', avail) : NULL;

    if (nl == NULL && !ls->eof) {
      if (ls->err)
        return SRC_ERR;
      if (avail > MAX_LINE) {
        ls->err = E2BIG;
        return SRC_ERR;
      }
      lines_read(p);
      return ls->err ? SRC_ERR : SRC_WAIT;
    }
    if (nl == NULL && avail == 0)
      return SRC_DRY;
    n = nl ? (size_t)(nl - s) : avail;
    ls->pos += nl ? n + 1 : n;
    if (n && s[n - 1] == '\r')
      n--;
    if (n == 0)
      continue;
    {
      char save = s[n];

      s[n] = '\0';
      *out = cJSON_CreateString(s);
      s[n] = save;
    }
    return *out ? SRC_GOT : SRC_ERR;
  }
}

int corun__pl_lines_wait(struct pl *p, struct producer *pr)
{
  struct lines_src *ls = &p->r->lines;
  size_t avail = ls->buf.len - ls->pos;

  if (ls->eof || ls->err ||
      (avail > 0 && memchr(ls->buf.p + ls->pos, '\n', avail)))
    return 0;
  if (!ls->busy)
    lines_read(p);
  if (ls->err)
    return 0;
  pr->next_waiting = NULL;
  if (ls->waiting == NULL) {
    ls->waiting = pr;
  } else {
    struct producer *x = ls->waiting;

    while (x->next_waiting)
      x = x->next_waiting;
    x->next_waiting = pr;
  }
  return 1;
}

void corun__pl_lines_stop(struct pl *p)
{
  struct lines_src *ls = &p->r->lines;

  ls->waiting = NULL;
  /* A pipe may never say more: stop waiting for it (a file read ends). */
  if (ls->is_pipe && ls->busy) {
    uv_read_stop((uv_stream_t *)&ls->pipe);
    ls->busy = 0;
  }
}
