/* SPDX-License-Identifier: MIT */
/*
 * What a pipeline tells about itself: the task dump's line, its result
 * (counts and each stage's durations and rate), the summary, the progress
 * line and its --trace counters.
 */
#include "kinds/pipeline/pipeline.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/job.h"
#include "core/kind.h"
#include "core/run.h"
#include "json/write.h"
#include "core/result.h"
#include "util/duration.h"

/* Item tasks the task dump names, at most. */
#define DUMP_ITEMS 8

void corun__pl_trace(const struct corun_task *t, int tid,
                     const struct corun_secrets *sec, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_run *r = p->r;
  size_t row, i, s;

  if (r == NULL || r->samples == NULL)
    return;
  row = 1 + p->c->nstages;
  for (i = 0; i < r->nsamples; i++)
    for (s = 0; s < p->c->nstages; s++) {
      struct corun_buf name = CORUN_BUF_INIT;

      corun_buf_printf(&name, "%s stage %zu queue", t->id, s + 1);
      corun_buf_puts(out, ",\n{\"name\": ");
      corun__json_write_str(out, corun_buf_str(&name), sec);
      if (name.oom)
        out->oom = 1;
      corun_buf_printf(out,
                       ", \"cat\": \"pipeline\", \"ph\": \"C\", \"ts\": %llu, "
                       "\"pid\": 1, \"tid\": %d, \"args\": {\"length\": %u}}",
                       (unsigned long long)r->samples[i * row] * 1000ULL, tid,
                       r->samples[i * row + 1 + s]);
      corun_buf_free(&name);
    }
}

void corun__pl_describe(const struct corun_task *t, uint64_t now_ms,
                        struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_run *r = p->r;
  uint32_t i, shown;

  if (r == NULL)
    return;
  corun_buf_printf(out, "%llu items in, %llu ok, %llu failed",
                   (unsigned long long)r->entered, (unsigned long long)r->ok,
                   (unsigned long long)r->failed);
  for (i = 0; i < p->c->nstages; i++) {
    const struct stage_run *st = &r->st[i];

    corun_buf_printf(out, "; stage %u: queue %zu/", i + 1,
                     corun_queue_len(&st->q));
    if (st->q.maxsize)
      corun_buf_printf(out, "%zu", st->q.maxsize);
    else
      corun_buf_puts(out, "unbounded");
    corun_buf_printf(out, ", %u/%u workers busy, %llu done", st->busy,
                     p->c->stages[i].workers,
                     (unsigned long long)st->processed);
  }
  /* The item tasks are in no tree the dump walks: name a few here. */
  for (i = 0, shown = 0; i < r->nworkers; i++) {
    const struct corun_task *it = r->workers[i].task;

    if (it == NULL)
      continue;
    if (shown++ == DUMP_ITEMS) {
      corun_buf_puts(out, "; ...");
      break;
    }
    corun_buf_printf(out, "; %s %s", it->id,
                     corun__task_state_name((enum corun_state)it->state));
    if (it->state == CORUN_STATE_RUNNING && it->kind->describe) {
      size_t at = out->len;

      corun_buf_puts(out, ": ");
      it->kind->describe(it, now_ms, out);
      if (out->len == at + 2)
        out->len = at;
    }
  }
}

static void write_pct(struct corun_buf *out, struct hist *h, double pct)
{
  if (h->n == 0)
    corun_buf_puts(out, "null");
  else
    corun_buf_printf(out, "%.6f", corun__pl_hist_pct(h, pct));
}

/*
 * A pipeline in a shard's run (split across shards, or run whole by this
 * one): what its JUnit test cases need of this part, for corun merge to
 * write them as one run would. "junit": "items":
 * each item's case; otherwise the failed items the pipeline's own case
 * names. With item indexes: the parts' lists are joined in item order.
 */
static void put_junit_part(struct corun_buf *out, const struct pl *p,
                           const struct corun_secrets *sec)
{
  const struct pl_run *r = p->r;
  size_t i;

  if (p->c->junit_items) {
    corun_buf_puts(out, ", \"junit_cases\": [");
    for (i = 0; i < r->ncases; i++) {
      const struct pl_case *c = &r->cases[i];

      corun_buf_printf(out, "%s{\"index\": %llu, \"name\": ", i ? ", " : "",
                       (unsigned long long)c->index);
      corun__json_write_str(out, c->name ? c->name : "", sec);
      corun_buf_printf(
          out, ", \"status\": \"%s\", \"type\": ",
          corun__task_status_name((enum corun_status)c->status));
      if (c->status == CORUN_STATUS_OK) {
        corun_buf_puts(out, "null, \"message\": null");
      } else {
        corun_buf_printf(out, "\"%s\", \"message\": ",
                         corun_errtype_name((enum corun_errtype)c->err_type));
        corun__json_write_str(out, c->msg ? c->msg : "", sec);
      }
      corun_buf_printf(out, ", \"duration\": %.6f}", (double)c->dur_ns / 1e9);
    }
    corun_buf_putc(out, ']');
    return;
  }
  corun_buf_puts(out, ", \"failed_names\": [");
  for (i = 0; i < r->nfail_names; i++) {
    corun_buf_printf(out, "%s{\"index\": %llu, \"name\": ", i ? ", " : "",
                     (unsigned long long)r->fail_index[i]);
    corun__json_write_str(out, r->fail_names[i] ? r->fail_names[i] : "", sec);
    corun_buf_putc(out, '}');
  }
  corun_buf_putc(out, ']');
}

void corun__pl_result(const struct corun_task *t,
                      const struct corun_secrets *sec, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  struct pl_run *r = p->r;
  double secs, span;
  uint32_t i;

  if (r == NULL || t->t_start == CORUN_NO_TIME) {
    corun_buf_puts(out, "null");
    return;
  }
  secs =
      (double)((t->t_end != CORUN_NO_TIME ? t->t_end : corun__now_ns(t->run)) -
               t->t_start) /
      1e9;
  if (secs < 1e-3)
    secs = 1e-3;
  corun_buf_printf(out,
                   "{\"items\": %llu, \"ok\": %llu, \"failed\": %llu, "
                   "\"cancelled\": %llu, \"stages\": [",
                   (unsigned long long)r->entered, (unsigned long long)r->ok,
                   (unsigned long long)r->failed,
                   (unsigned long long)r->cancelled);
  for (i = 0; r->st && i < p->c->nstages; i++) {
    struct stage_run *st = &r->st[i];

    corun_buf_printf(out,
                     "%s{\"processed\": %llu, \"failed\": %llu, "
                     "\"queue_max\": %zu, \"p50\": ",
                     i ? ", " : "", (unsigned long long)st->processed,
                     (unsigned long long)st->failed, st->q.len_max);
    write_pct(out, &st->hist, 50);
    corun_buf_puts(out, ", \"p90\": ");
    write_pct(out, &st->hist, 90);
    corun_buf_puts(out, ", \"p99\": ");
    write_pct(out, &st->hist, 99);
    /* Over the time the stage's tasks ran, else the pipeline's. */
    /*
     * The clock is read once per batch of tasks: a stage that ran within
     * one batch shows no span of its own, so the pipeline's is used, and
     * nothing is taken as faster than its count per millisecond.
     */
    span = st->last_end > st->first_start
               ? (double)(st->last_end - st->first_start) / 1e9
               : 0;
    if (span < 1e-3)
      span = secs;
    corun_buf_printf(out, ", \"items_per_s\": %.3f, \"hist\": ",
                     (double)st->processed / (span < 1e-3 ? 1e-3 : span));
    /* After the percentiles: they sort the exact samples. */
    corun__pl_hist_write(out, &st->hist);
    corun_buf_putc(out, '}');
  }
  corun_buf_putc(out, ']');
  /* A shard's report: merge writes the JUnit, split pipeline or whole. */
  if (p->c->shard_total || t->run->job->shard)
    put_junit_part(out, p, sec);
  corun_buf_putc(out, '}');
}

void corun__pl_summary(const struct corun_task *t, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;

  if (p->r)
    corun_buf_printf(
        out, "%llu item%s: %llu ok, %llu failed, %llu cancelled",
        (unsigned long long)p->r->entered, p->r->entered == 1 ? "" : "s",
        (unsigned long long)p->r->ok, (unsigned long long)p->r->failed,
        (unsigned long long)p->r->cancelled);
}

void corun__pl_progress(const struct corun_task *t, double elapsed,
                        struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_run *r = p->r;
  uint64_t done, total = 0;
  double rate;
  char eta[32];

  if (r == NULL)
    return;
  done = r->ok + r->failed + r->cancelled;
  if (p->c->src != SRC_LINES)
    total = corun__pl_mine_of(p->c, r->total);
  rate = elapsed > 0.05 ? (double)done / elapsed : 0;
  corun_buf_printf(out, "%s %llu", t->id, (unsigned long long)done);
  if (total)
    corun_buf_printf(out, "/%llu", (unsigned long long)total);
  corun_buf_printf(out, " items, %.0f/s", rate);
  if (r->failed)
    corun_buf_printf(out, ", %llu failed", (unsigned long long)r->failed);
  if (total && rate > 0 && done < total) {
    corun__fmt_duration((double)(total - done) / rate, eta, sizeof(eta));
    corun_buf_printf(out, ", ETA %s", eta);
  }
}

static int case_cmp(const void *a, const void *b)
{
  uint64_t x = ((const struct pl_case *)a)->index,
           y = ((const struct pl_case *)b)->index;

  return x < y ? -1 : x > y;
}

void corun__pl_cases_sort(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i, j;

  if (r->ncases > 1)
    qsort(r->cases, r->ncases, sizeof(*r->cases), case_cmp);
  /* The failed items' names too (twenty at most: in place). */
  for (i = 1; i < r->nfail_names; i++)
    for (j = i; j > 0 && r->fail_index[j - 1] > r->fail_index[j]; j--) {
      uint64_t x = r->fail_index[j];
      char *s = r->fail_names[j];

      r->fail_index[j] = r->fail_index[j - 1];
      r->fail_names[j] = r->fail_names[j - 1];
      r->fail_index[j - 1] = x;
      r->fail_names[j - 1] = s;
    }
}

size_t corun__pl_cases(const struct corun_task *t, size_t i,
                       struct corun_case *c)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_case *pc;

  if (p->r == NULL || !p->c->junit_items)
    return 0;
  if (c && i < p->r->ncases) {
    pc = &p->r->cases[i];
    c->name = pc->name;
    c->msg = pc->msg;
    c->dur_ns = pc->dur_ns;
    c->status = pc->status;
    c->err_type = pc->err_type;
  }
  return p->r->ncases;
}

void corun__pl_case_detail(const struct corun_task *t, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_run *r = p->r;
  uint32_t i;

  if (r == NULL || r->nfail_names == 0)
    return;
  corun_buf_puts(out, "; failed items: ");
  for (i = 0; i < r->nfail_names; i++)
    corun_buf_printf(out, "%s%s", i ? ", " : "", r->fail_names[i]);
  if (r->failed > r->nfail_names)
    corun_buf_printf(out, " and %llu more",
                     (unsigned long long)(r->failed - r->nfail_names));
}

/* ---- --dry-run ---- */

/* The first items of a source that --dry-run shows. */
#define DRY_ITEMS 10

static void dry_item(struct corun_buf *out, const struct corun_secrets *sec,
                     uint64_t i, const char *json)
{
  char name[32];

  snprintf(name, sizeof(name), "  item %llu", (unsigned long long)i);
  corun__dry_field(out, sec, name, json);
}

/*
 * The first lines of a "lines" file, read here and now: nothing of the
 * run's reading is started. Standard input is not touched: what is read
 * from a pipe is gone for the run.
 */
static void dry_lines(struct corun_buf *out, const struct corun_secrets *sec,
                      const struct pl_conf *c)
{
  FILE *f;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  uint64_t i = 0, shown = 0;

  if (c->lines_stdin) {
    corun_buf_puts(out, "source: lines (standard input)\n");
  } else {
    struct corun_buf v = CORUN_BUF_INIT;

    corun_buf_printf(&v, "lines %s", c->lines);
    corun__dry_field(out, sec, "source", corun_buf_str(&v));
    if (v.oom)
      out->oom = 1;
    corun_buf_free(&v);
  }
  if (c->shard_total)
    corun_buf_printf(out, "  (shard %u of %u takes item i when i %% %u is "
                          "%u)\n",
                     c->shard_index, c->shard_total, c->shard_total,
                     c->shard_index - 1);
  if (c->lines_stdin)
    return;
  f = fopen(c->lines, "re");
  if (f == NULL) {
    corun_buf_printf(out, "  (cannot be read now: %s)\n", strerror(errno));
    return;
  }
  while (shown < DRY_ITEMS && (n = getline(&line, &cap, f)) >= 0) {
    struct corun_buf q = CORUN_BUF_INIT;

    if (n > 0 && line[n - 1] == '\n')
      line[--n] = '\0';
    if (n > 0 && line[n - 1] == '\r')
      line[--n] = '\0';
    if (n == 0) /* the run skips empty lines, and they have no index */
      continue;
    if (corun__pl_mine(c, i)) {
      corun_buf_json_str(&q, line, (size_t)n);
      dry_item(out, sec, i, corun_buf_str(&q));
      if (q.oom)
        out->oom = 1;
      shown++;
    }
    i++;
    corun_buf_free(&q);
  }
  if (shown == DRY_ITEMS && getline(&line, &cap, f) >= 0)
    corun_buf_puts(out, "  (more lines follow)\n");
  else if (ferror(f))
    corun_buf_printf(out, "  (read error: %s)\n", strerror(errno));
  free(line);
  fclose(f);
}

/* The end of a "source:" line's count: ")", or which of all under --shard. */
static void dry_shard(struct corun_buf *out, const struct pl_conf *c,
                      uint64_t all)
{
  if (c->shard_total)
    corun_buf_printf(out, " of %llu: shard %u of %u takes item i when i %% %u "
                          "is %u",
                     (unsigned long long)all, c->shard_index, c->shard_total,
                     c->shard_total, c->shard_index - 1);
  corun_buf_puts(out, ")\n");
}

static void dry_source(struct corun_buf *out, const struct corun_secrets *sec,
                       const struct pl_conf *c)
{
  const cJSON *it;
  uint64_t i = 0, n, mine, shown = 0;

  switch (c->src) {
  case SRC_ITEMS:
    n = (uint64_t)cJSON_GetArraySize(c->items);
    mine = corun__pl_mine_of(c, n);
    corun_buf_printf(out, "source: items (%llu", (unsigned long long)mine);
    dry_shard(out, c, n);
    for (it = c->items ? c->items->child : NULL; it && shown < DRY_ITEMS;
         it = it->next, i++) {
      char *j;

      if (!corun__pl_mine(c, i))
        continue;
      j = corun__json_print(it);
      dry_item(out, sec, i, j ? j : "(out of memory)");
      free(j);
      shown++;
    }
    if (mine > shown)
      corun_buf_printf(out, "  (%llu more)\n",
                       (unsigned long long)(mine - shown));
    break;
  case SRC_RANGE:
    /* As Python's range(start, stop, step). */
    n = corun__pl_range_count(c);
    mine = corun__pl_mine_of(c, n);
    corun_buf_printf(out, "source: range [%lld, %lld, %lld] (%llu", c->start,
                     c->stop, c->step, (unsigned long long)mine);
    dry_shard(out, c, n);
    for (i = 0; i < n && shown < DRY_ITEMS; i++) {
      char v[32];

      if (!corun__pl_mine(c, i))
        continue;
      snprintf(v, sizeof(v), "%lld", (long long)corun__pl_range_value(c, i));
      dry_item(out, sec, i, v);
      shown++;
    }
    if (mine > shown)
      corun_buf_printf(out, "  (%llu more)\n",
                       (unsigned long long)(mine - shown));
    break;
  case SRC_LINES:
    dry_lines(out, sec, c);
    break;
  case SRC_FROM:
    corun_buf_printf(out, "source: from ${%s}\n", c->from ? c->from : "");
    break;
  }
}

void corun__pl_dry(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *out)
{
  static const char *const orders[] = {"fifo", "lifo", "priority"};
  const struct pl_conf *c = ((const struct pl *)t)->c;
  uint32_t i;

  dry_source(out, sec, c);
  corun_buf_printf(out, "producers: %u\n", c->producers);
  if (c->delay_max_ms > 0)
    corun_buf_printf(out, "produce_delay: %gs to %gs\n",
                     c->delay_min_ms / 1000.0, c->delay_max_ms / 1000.0);
  if (c->interval_ms > 0)
    corun_buf_printf(out, "rate: %g/s\n", 1000.0 / c->interval_ms);
  corun_buf_printf(out, "on_error: %s\n",
                   c->cancel_on_error ? "cancel" : "continue");
  if (c->results)
    corun__dry_field(out, sec, "results", c->results);
  if (c->junit_items)
    corun_buf_puts(out, "junit: items\n");
  for (i = 0; i < c->nstages; i++) {
    const struct stage_conf *st = &c->stages[i];
    char title[64];

    corun_buf_printf(out, "stage %u: %u worker%s, queue ", i + 1, st->workers,
                     st->workers == 1 ? "" : "s");
    if (st->maxsize)
      corun_buf_printf(out, "%zu", st->maxsize);
    else
      corun_buf_puts(out, "unbounded");
    corun_buf_printf(out, ", %s\n", orders[st->order]);
    if (st->tmpl.proto) {
      snprintf(title, sizeof(title), "  task (%s)", st->tmpl.proto->kind->name);
      corun__dry_nested(out, sec, title, st->tmpl.proto->kind, st->tmpl.proto);
    }
  }
}
