/* SPDX-License-Identifier: MIT */
/*
 * corun merge (merge.c): N shard reports read element by element, joined
 * into the outputs one run of the whole job would have written. What the
 * parts share: a report file read in pieces (scan.c) and the finished run
 * rebuilt from report JSON for the reporters that need one (replay.c).
 */
#ifndef CORUN_REPORT_MERGE_H
#define CORUN_REPORT_MERGE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "corun.h"

/*
 * A JSON file read through a window that grows only to the largest value
 * asked for whole, with the line and column of where it is.
 */
struct mscan {
  const char *path;
  int fd;
  char *buf;
  size_t cap;
  size_t beg; /* buf[beg, end) is read and not consumed */
  size_t end;
  off_t off; /* file offset of buf[0] */
  int eof;
  unsigned long line, col; /* of buf[beg], from 1 */
  int err;                 /* errno of a failed read, or 0 */
};

/* Open path for scanning. Returns 0 or an errno. */
int corun__mscan_open(struct mscan *s, const char *path);
/* Go back to file offset off, which is at line:col. Returns 0 or errno. */
int corun__mscan_seek(struct mscan *s, off_t off, unsigned long line,
                      unsigned long col);
void corun__mscan_close(struct mscan *s);
/* The next byte after white space (not consumed), or -1 at the end. */
int corun__mscan_peek(struct mscan *s);
/* Consume n bytes of the window, counting lines. */
void corun__mscan_take(struct mscan *s, size_t n);
/* The file offset of the first byte not consumed. */
off_t corun__mscan_tell(const struct mscan *s);
/*
 * Find the end of the JSON value that starts at the next byte: *len bytes
 * from s->buf + s->beg, not consumed. Returns 0, or -1 with why (static
 * text) and the offset from s->beg where the text breaks in *at.
 */
int corun__mscan_value(struct mscan *s, size_t *len, const char **why,
                       size_t *at);
/* Line and column of the byte at offset at from s->beg. */
void corun__mscan_where(const struct mscan *s, size_t at, unsigned long *line,
                        unsigned long *col);

/* The finished run the reporters read, made from merged task entries. */
struct replay;

/*
 * Start a replay of the job name; NULL when out of memory. started_wall:
 * seconds since the epoch; end_ns: the run's length; exit_code as the
 * merged report records it.
 */
struct replay *corun__replay_new(const char *name, double started_wall,
                                 uint64_t end_ns, int exit_code);
/*
 * Add the next task, as the JSON report has it (e in file order, parents
 * first); takes what it keeps of e. Returns 0, or -1 with why.
 */
int corun__replay_add(struct replay *r, cJSON *e, struct corun_buf *why);
/* The run for corun_report_*(); valid until corun__replay_free(). */
const struct corun_run *corun__replay_run(struct replay *r);
void corun__replay_free(struct replay *r);

#endif
