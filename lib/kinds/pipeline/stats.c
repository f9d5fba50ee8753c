/* SPDX-License-Identifier: MIT */
/*
 * What the pipeline counts as it goes, in memory that does not grow with
 * the items: each stage's task durations (exact up to EXACT_MAX samples, a
 * histogram past it) and, under --trace, its queue lengths over time.
 */
#include "kinds/pipeline/pipeline.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/run.h"

/* Queue-length samples for --trace: every 10 ms, thinned past the cap. */
#define SAMPLE_MS 10
#define SAMPLES_MAX 16384

size_t corun__pl_hist_index(uint64_t v)
{
  int e;

  if (v < HIST_SUB)
    return (size_t)v;
  e = 63 - __builtin_clzll(v);
  return (size_t)(e - 4) * HIST_SUB + (size_t)((v >> (e - 5)) & (HIST_SUB - 1));
}

double corun__pl_hist_value(size_t i)
{
  size_t e = i / HIST_SUB, sub = i % HIST_SUB;
  double lo, width;

  if (e == 0)
    return (double)i;
  width = ldexp(1.0, (int)e - 1);
  lo = ldexp((double)(HIST_SUB + sub), (int)e - 1);
  return lo + width / 2.0;
}

void corun__pl_hist_add(struct hist *h, uint64_t ns)
{
  if (h->bucket == NULL || h->exact == NULL) {
    if (h->bucket == NULL)
      h->bucket = calloc(HIST_N, sizeof(*h->bucket));
    if (h->exact == NULL)
      h->exact = malloc(EXACT_MAX * sizeof(*h->exact));
    if (h->bucket == NULL || h->exact == NULL)
      return;
  }
  if (h->n < EXACT_MAX)
    h->exact[h->n] = ns;
  h->bucket[corun__pl_hist_index(ns)]++;
  h->n++;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

double corun__pl_hist_pct(struct hist *h, double p)
{
  uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->n), seen = 0;
  size_t i;

  if (rank == 0)
    rank = 1;
  if (h->n <= EXACT_MAX) {
    /* Sorting in place is fine: the order of the samples means nothing. */
    qsort(h->exact, h->n, sizeof(*h->exact), cmp_u64);
    return (double)h->exact[rank - 1] / 1e9;
  }
  for (i = 0; i < HIST_N; i++) {
    seen += h->bucket[i];
    if (seen >= rank)
      return corun__pl_hist_value(i) / 1e9;
  }
  return 0;
}

void corun__pl_hist_write(struct corun_buf *out, const struct hist *h)
{
  size_t i;
  int first = 1;

  corun_buf_printf(out, "{\"n\": %llu, ", (unsigned long long)h->n);
  if (h->n <= EXACT_MAX) {
    /* Few enough: the samples themselves, as the percentiles use them. */
    corun_buf_puts(out, "\"exact\": [");
    for (i = 0; i < h->n && h->exact; i++)
      corun_buf_printf(out, "%s%llu", i ? ", " : "",
                       (unsigned long long)h->exact[i]);
    corun_buf_puts(out, "]}");
    return;
  }
  corun_buf_puts(out, "\"buckets\": [");
  for (i = 0; i < HIST_N; i++) {
    if (h->bucket[i] == 0)
      continue;
    corun_buf_printf(out, "%s[%zu, %llu]", first ? "" : ", ", i,
                     (unsigned long long)h->bucket[i]);
    first = 0;
  }
  corun_buf_puts(out, "]}");
}

void corun__pl_hist_free(struct hist *h)
{
  free(h->exact);
  free(h->bucket);
  h->exact = NULL;
  h->bucket = NULL;
}

static void take_sample(struct pl *p)
{
  struct pl_run *r = p->r;
  size_t row = 1 + p->c->nstages, i;
  uint32_t *v;

  if (r->samples == NULL) {
    r->samples = malloc(SAMPLES_MAX * row * sizeof(*r->samples));
    if (r->samples == NULL)
      return;
  }
  if (r->nsamples == SAMPLES_MAX) {
    /* Keep every other row and sample half as often from now on. */
    for (i = 0; i < SAMPLES_MAX / 2; i++)
      memcpy(&r->samples[i * row], &r->samples[2 * i * row],
             row * sizeof(*r->samples));
    r->nsamples = SAMPLES_MAX / 2;
    r->sample_ms *= 2;
  }
  v = &r->samples[r->nsamples++ * row];
  v[0] = (uint32_t)corun__now_ms(p->base.run);
  for (i = 0; i < p->c->nstages; i++)
    v[1 + i] = (uint32_t)corun_queue_len(&r->st[i].q);
}

static void sample_due(struct corun_timer *tm)
{
  struct pl *p = (struct pl *)tm->data;

  take_sample(p);
  if (corun__timer_start(&p->base.run->timers, &p->r->sampler,
                         corun__now_ms(p->base.run) + p->r->sample_ms,
                         sample_due, &p->base) < 0)
    corun__pl_fail(p, CORUN_ERR_IO, "out of memory arming a timer");
}

void corun__pl_samples_start(struct pl *p)
{
  p->r->sample_ms = SAMPLE_MS;
  p->r->sampler.data = &p->base;
  sample_due(&p->r->sampler);
}

void corun__pl_samples_stop(struct pl *p)
{
  corun__timer_stop(&p->base.run->timers, &p->r->sampler);
  take_sample(p);
}
