/* SPDX-License-Identifier: MIT */
/*
 * The results file: one JSON line for every item that left the pipeline,
 * in the order they left, written through a buffer and put in place whole
 * (outfile.h) when the pipeline ends.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>

#include "json/write.h"
#include "core/result.h"

/* Bytes gathered before they are written. */
#define RESULTS_FLUSH (64u << 10)

static void results_flush(struct pl_run *r)
{
  /* A line that could not be built whole: nor can the file be. */
  if (r->out.oom && !r->werr)
    r->werr = ENOMEM;
  if (!r->werr)
    r->werr = corun__outfile_write(&r->file, r->out.p, r->out.len);
  corun_buf_reset(&r->out);
}

int corun__pl_results_mkdirs(struct pl *p, struct corun_buf *why)
{
  /* As a fetch's "save": the results file's directory is made. */
  return p->c->results ? corun__outfile_mkdirs(p->c->results, p->r->root, why)
                       : 0;
}

int corun__pl_results_open(struct pl *p)
{
  return p->c->results
             ? corun__outfile_open(&p->r->file, p->c->results, p->r->root)
             : 0;
}

int corun__pl_results_commit(struct pl *p)
{
  struct pl_run *r = p->r;

  if (r->file.fd < 0)
    return 0;
  results_flush(r);
  if (r->werr) {
    corun__outfile_abort(&r->file);
    return r->werr;
  }
  return corun__outfile_commit(&r->file);
}

void corun__pl_results_write(struct pl *p, const struct corun_qitem *it,
                             enum corun_status status,
                             const struct corun_task *t,
                             enum corun_errtype type, const char *msg)
{
  struct pl_run *r = p->r;
  const struct corun_secrets *sec = r->sec;
  struct corun_buf *o = &r->out;
  cJSON scratch;
  void *origin = it->origin ? it->origin : it->value;

  corun_buf_printf(
      o, "{\"index\": %llu, \"item\": ", (unsigned long long)it->index);
  corun__json_write(o, corun__pl_value_json(p, origin, it->index, &scratch),
                    sec);
  corun_buf_printf(o, ", \"status\": \"%s\", ",
                   corun__task_status_name(status));
  if (status == CORUN_STATUS_OK) {
    corun_buf_puts(o, "\"result\": ");
    corun__task_write_result(t, sec, o);
  } else if (t) {
    corun_buf_puts(o, "\"error\": ");
    corun__task_write_error(t, sec, o);
  } else {
    corun_buf_printf(o, "\"error\": {\"type\": \"%s\", \"message\": ",
                     corun_errtype_name(type));
    corun__json_write_str(o, msg ? msg : "", sec);
    corun_buf_putc(o, '}');
  }
  corun_buf_printf(o, ", \"duration\": %.6f}\n", (double)it->aux / 1e9);
  if (o->len >= RESULTS_FLUSH)
    results_flush(r);
}
