/* SPDX-License-Identifier: MIT */
/*
 * A loaded job as a Graphviz digraph (corun graph FILE): a box per task,
 * containers as clusters around their children, "after" edges dashed from
 * the task that must end ok to the one that waits for it (labelled with
 * the "run_if" when it says otherwise).
 */
#include <string.h>

#include "corun.h"
#include "load/jobfile.h"
#include "sched/sem.h"
#include "core/kind.h"
#include "core/task.h"

/* A DOT string literal: quotes and backslashes escaped, secrets hidden. */
static void put_str(struct corun_buf *out, const struct corun_job *job,
                    const char *s)
{
  struct corun_buf red = CORUN_BUF_INIT;
  const char *p;

  corun_job_redact(job, s, &red);
  corun_buf_putc(out, '"');
  for (p = corun_buf_str(&red); *p; p++) {
    unsigned char c = (unsigned char)*p;

    if (c == '"' || c == '\\')
      corun_buf_putc(out, '\\');
    if (c == '\n')
      corun_buf_puts(out, "\\n"); /* a line break in a DOT label */
    else if (c < 0x20)
      corun_buf_putc(out, ' ');
    else
      corun_buf_putc(out, (char)c);
  }
  corun_buf_putc(out, '"');
  /* A string left out: the graph is not whole. */
  if (red.oom)
    out->oom = 1;
  corun_buf_free(&red);
}

static void node(struct corun_buf *out, const struct corun_job *job,
                 const struct corun_task *t, int depth)
{
  struct corun_buf label = CORUN_BUF_INIT;

  corun_buf_printf(out, "%*s", 2 * depth, "");
  put_str(out, job, t->id);
  corun_buf_printf(&label, "%s\n%s", t->id, t->kind->name);
  if (t->timeout)
    corun_buf_printf(&label, ", timeout %gs",
                     (double)t->timeout->ms / 1000.0);
  if (t->limit)
    corun_buf_printf(&label, ", limit %s", t->limit->name);
  if (t->flags & CORUN_TF_SHIELD)
    corun_buf_puts(&label, ", shield");
  corun_buf_puts(out, " [label=");
  put_str(out, job, corun_buf_str(&label));
  corun_buf_puts(out, "];\n");
  if (label.oom)
    out->oom = 1;
  corun_buf_free(&label);
}

static void tree(struct corun_buf *out, const struct corun_job *job,
                 const struct corun_task *t, int depth)
{
  uint32_t i;

  if (!t->kind->parent) {
    node(out, job, t, depth);
    return;
  }
  /* A container is the cluster its children sit in, and a node of its own
   * (the edges from it show which children it starts). */
  corun_buf_printf(out, "%*ssubgraph ", 2 * depth, "");
  {
    struct corun_buf name = CORUN_BUF_INIT;

    corun_buf_printf(&name, "cluster_%s", t->id);
    put_str(out, job, corun_buf_str(&name));
    if (name.oom)
      out->oom = 1;
    corun_buf_free(&name);
  }
  corun_buf_puts(out, " {\n");
  corun_buf_printf(out, "%*slabel=", 2 * depth + 2, "");
  put_str(out, job, t->id);
  corun_buf_puts(out, ";\n");
  node(out, job, t, depth + 1);
  for (i = 0; i < t->nchildren; i++)
    tree(out, job, t->children[i], depth + 1);
  corun_buf_printf(out, "%*s}\n", 2 * depth, "");
}

void corun_job_graph(const struct corun_job *job, struct corun_buf *out)
{
  size_t i;
  uint32_t j;

  corun_buf_puts(out, "digraph ");
  put_str(out, job, job->name);
  corun_buf_puts(out, " {\n  rankdir=LR;\n  node [shape=box];\n");
  for (i = 0; i < job->nroots; i++)
    tree(out, job, job->roots[i], 1);
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    for (j = 0; j < t->nchildren; j++) {
      corun_buf_puts(out, "  ");
      put_str(out, job, t->id);
      corun_buf_puts(out, " -> ");
      put_str(out, job, t->children[j]->id);
      corun_buf_puts(out, ";\n");
    }
    for (j = 0; t->deps && j < t->deps->nafter; j++) {
      corun_buf_puts(out, "  ");
      put_str(out, job, t->deps->after[j]->id);
      corun_buf_puts(out, " -> ");
      put_str(out, job, t->id);
      corun_buf_printf(out, " [style=dashed, label=\"%s\"];\n",
                       t->deps->run_if == CORUN_RUN_IF_ALL_DONE ? "all_done"
                       : t->deps->run_if == CORUN_RUN_IF_ANY_FAILED
                           ? "any_failed"
                           : "after");
    }
  }
  corun_buf_puts(out, "}\n");
}
