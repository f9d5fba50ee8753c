/* SPDX-License-Identifier: MIT */
/*
 * The run as a Chrome Trace Event file, for Perfetto and chrome://tracing:
 * one complete event ("ph": "X") per task that ran, kinds adding their own
 * (fetch phases, pipeline queue counters).
 *
 * Lanes: each root task's subtree gets its own lanes. Trace viewers want
 * the complete events of one lane properly nested, while a gather's
 * children overlap; so a subtree is packed into as few lanes as keep every
 * event either inside its parent's or clear of the others, named after
 * the root ("fetch_all", "fetch_all (2)", ...).
 */
#include <stdlib.h>
#include <string.h>

#include "corun.h"
#include "load/jobfile.h"
#include "core/kind.h"
#include "report/report.h"

#include "core/common.h"
#include "core/run.h"
#include "core/task.h"

/* One lane: the tasks open on it, innermost last. */
struct lane {
  const struct corun_task **open;
  size_t n;
  size_t cap;
};

static int started(const struct corun_task *t)
{
  return t->t_start != CORUN_NO_TIME && t->t_end != CORUN_NO_TIME;
}

static int by_start(const void *a, const void *b)
{
  const struct corun_task *x = *(const struct corun_task *const *)a;
  const struct corun_task *y = *(const struct corun_task *const *)b;

  if (x->t_start != y->t_start)
    return x->t_start < y->t_start ? -1 : 1;
  /* The longer first, so a parent starting with its child encloses it. */
  if (x->t_end != y->t_end)
    return x->t_end > y->t_end ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

static int is_ancestor(const struct corun_task *a, const struct corun_task *t)
{
  for (t = t->parent; t; t = t->parent)
    if (t == a)
      return 1;
  return 0;
}

/* Whether t may go on lane l now: nested in an ancestor, or alone. */
static int fits(struct lane *l, const struct corun_task *t)
{
  while (l->n > 0 && l->open[l->n - 1]->t_end <= t->t_start)
    l->n--;
  if (l->n == 0)
    return 1;
  return is_ancestor(l->open[l->n - 1], t) &&
         l->open[l->n - 1]->t_end >= t->t_end;
}

static int push(struct lane *l, const struct corun_task *t)
{
  if (l->n == l->cap) {
    size_t ncap = l->cap ? l->cap * 2 : 8;
    const struct corun_task **nv = realloc(l->open, ncap * sizeof(*nv));

    if (nv == NULL)
      return -1;
    l->open = nv;
    l->cap = ncap;
  }
  l->open[l->n++] = t;
  return 0;
}

static double us(uint64_t ns)
{
  return (double)ns / 1000.0;
}

static void task_event(const struct corun_run *run, const struct corun_task *t,
                       int tid, struct corun_buf *out)
{
  const struct corun_secrets *sec = &run->job->secrets;

  corun_buf_puts(out, ",\n{\"name\": ");
  corun__json_write_str(out, corun__task_name(run->job, t), sec);
  corun_buf_printf(out,
                   ", \"cat\": \"%s\", \"ph\": \"X\", \"ts\": %.3f, "
                   "\"dur\": %.3f, \"pid\": 1, \"tid\": %d, \"args\": "
                   "{\"status\": \"%s\", \"attempts\": %u",
                   t->kind->name, us(t->t_start), us(t->t_end - t->t_start),
                   tid, corun__task_status_name((enum corun_status)t->status),
                   t->attempts);
  if (strcmp(corun__task_name(run->job, t), t->id) != 0) {
    corun_buf_puts(out, ", \"id\": ");
    corun__json_write_str(out, t->id, sec);
  }
  if (t->kind->pid && t->kind->pid(t) > 0)
    corun_buf_printf(out, ", \"pid\": %d", t->kind->pid(t));
  if (t->t_ready != CORUN_NO_TIME && t->t_start > t->t_ready)
    corun_buf_printf(out, ", \"queued_s\": %.6f",
                     (double)(t->t_start - t->t_ready) / 1e9);
  if (t->status != CORUN_STATUS_OK) {
    corun_buf_puts(out, ", \"error\": ");
    corun__task_write_error(t, sec, out);
  }
  corun_buf_puts(out, "}}");
  if (t->kind->trace)
    t->kind->trace(t, tid, sec, out);
}

static void lane_name(const struct corun_run *run, int tid,
                      const struct corun_task *root, size_t k,
                      struct corun_buf *out)
{
  struct corun_buf name = CORUN_BUF_INIT;

  corun_buf_puts(&name, corun__task_name(run->job, root));
  if (k > 0)
    corun_buf_printf(&name, " (%zu)", k + 1);
  corun_buf_printf(out,
                   ",\n{\"name\": \"thread_name\", \"cat\": \"__metadata\", "
                   "\"ph\": \"M\", \"ts\": 0, \"pid\": 1, "
                   "\"tid\": %d, \"args\": {\"name\": ",
                   tid);
  corun__json_write_str(out, corun_buf_str(&name), &run->job->secrets);
  /* A name built short leaves the trace not whole: say so. */
  if (name.oom)
    out->oom = 1;
  corun_buf_printf(out,
                   "}},\n{\"name\": \"thread_sort_index\", \"cat\": "
                   "\"__metadata\", \"ph\": \"M\", \"ts\": 0, \"pid\": 1, \"tid\": %d, "
                   "\"args\": {\"sort_index\": %d}}",
                   tid, tid);
  corun_buf_free(&name);
}

/*
 * Lay out the subtree tasks[from, to) (a root and its descendants, which
 * file order keeps together) on lanes from *tid on.
 */
static void subtree(const struct corun_run *run, size_t from, size_t to,
                    int *tid, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  const struct corun_task **v = malloc((to - from) * sizeof(*v));
  struct lane *lanes = NULL;
  size_t n = 0, nlanes = 0, i, k;

  if (v == NULL) {
    out->oom = 1;
    return;
  }
  for (i = from; i < to; i++)
    if (started(job->tasks[i]))
      v[n++] = job->tasks[i];
  qsort(v, n, sizeof(*v), by_start);
  for (i = 0; i < n; i++) {
    for (k = 0; k < nlanes && !fits(&lanes[k], v[i]); k++)
      ;
    if (k == nlanes) {
      struct lane *nl = realloc(lanes, (nlanes + 1) * sizeof(*nl));

      if (nl == NULL) {
        out->oom = 1;
        break;
      }
      lanes = nl;
      memset(&lanes[nlanes++], 0, sizeof(*lanes));
      lane_name(run, *tid + (int)k, job->tasks[from], k, out);
    }
    if (push(&lanes[k], v[i]) < 0) {
      out->oom = 1;
      break;
    }
    task_event(run, v[i], *tid + (int)k, out);
  }
  *tid += (int)nlanes;
  for (k = 0; k < nlanes; k++)
    free(lanes[k].open);
  free(lanes);
  free(v);
}

void corun_report_trace(const struct corun_run *run, struct corun_buf *out)
{
  const struct corun_job *job = run->job;
  size_t i, j;
  int tid = 1;

  corun_buf_puts(out, "{\"displayTimeUnit\": \"ms\", \"otherData\": "
                      "{\"job\": ");
  corun__json_write_str(out, job->name, &job->secrets);
  corun_buf_printf(out, ", \"started_at_unix\": %.3f, \"exit_code\": ",
                   run->started_wall);
  /* The application's exit status, if it gave one (corun.h). */
  if (run->exit_code >= 0)
    corun_buf_printf(out, "%d", run->exit_code);
  else
    corun_buf_puts(out, "null");
  corun_buf_puts(out, "}, \"traceEvents\": [\n{\"name\": \"process_name\", "
                      "\"cat\": \"__metadata\", \"ph\": \"M\", \"ts\": 0, \"pid\": 1, "
                      "\"tid\": 0, \"args\": {\"name\": ");
  {
    struct corun_buf name = CORUN_BUF_INIT;

    corun_buf_printf(&name, "corun %s", job->name);
    corun__json_write_str(out, corun_buf_str(&name), &job->secrets);
    if (name.oom)
      out->oom = 1;
    corun_buf_free(&name);
  }
  corun_buf_puts(out, "}}");
  for (i = 0; i < job->ntasks; i = j) {
    /* The root at i owns every task up to the next root. */
    for (j = i + 1; j < job->ntasks && job->tasks[j]->parent; j++)
      ;
    subtree(run, i, j, &tid, out);
  }
  corun_buf_puts(out, "\n]}\n");
}
