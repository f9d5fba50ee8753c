/* SPDX-License-Identifier: MIT */
/*
 * The lines corun prints while its loop runs (messages, streamed command
 * output, --debug lines, task dumps), written so that a reader who is slow
 * or stops reading never stops the loop (see lines.c).
 */
#ifndef CORUN_CMD_LINES_H
#define CORUN_CMD_LINES_H

#include <stdio.h>
#include <uv.h>

#include "corun.h"

struct lines {
  FILE *f;
  int fd;
  int queued; /* a pipe, written through wfd for the run */
  int wfd;    /* the pipe opened again, non-blocking, for corun alone */
  int dead;   /* the reader is gone: what comes is dropped, as a write
                 to a closed pipe would drop it */
  struct corun_buf q; /* written from q.p + off when the reader takes it */
  size_t off;
  uv_poll_t poll;
  int polling;
  struct lines *via; /* another on the same pipe: all goes through it */
};

/* Lines to f, written through stdio until lines_start(). */
void lines_init(struct lines *l, FILE *f);
/*
 * For the run: on a pipe, l writes without blocking from now on. other (may be NULL), started before, is used instead when it is the
 * same pipe (2>&1), so the two streams keep their order.
 */
void lines_start(struct lines *l, uv_loop_t *loop, struct lines *other);
/* One line, s and a newline. */
void lines_put(struct lines *l, const char *s);
/* Text as it is (a task dump: lines already). */
void lines_put_text(struct lines *l, const char *s, size_t n);
/* Whether l goes through a queue (its own or another's on one pipe). */
int lines_queued(const struct lines *l);
/* Whether lines wait in l's queue for the reader to take them. */
int lines_waiting(const struct lines *l);
/*
 * The run is over: what waits is written, now waiting for the reader as
 * any program's last output does. Its poll handle is closed: the caller
 * runs the loop once more.
 */
void lines_end(struct lines *l);

#endif
