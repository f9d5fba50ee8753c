/* SPDX-License-Identifier: MIT */
/* Writing a report to its file, through util/outfile's atomic writer. */
#include "report/report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "util/outfile.h"

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
