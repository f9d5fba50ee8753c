/* SPDX-License-Identifier: MIT */
/*
 * pipeline: producers take items from a source and put them into the first
 * stage's bounded queue; each stage's workers take items, run the stage's
 * task for each (an instance of its template, see instance.h) and put the
 * result into the next stage's queue. This is asyncio's producer/consumer
 * pattern with asyncio.Queue (queue.h), written as data.
 *
 * Nothing here grows with the number of items: the source is read as it
 * goes (a range is counted, lines are read in chunks), queues are bounded,
 * each worker holds one item, durations go into fixed histograms, and what
 * each item came to is written to the results file, not kept.
 *
 * Ending: when the producers run dry the first queue closes; when a
 * stage's workers have all left (closed and drained), the next queue
 * closes; the pipeline ends when the last stage's workers have left.
 * Stopping early (cancel, timeout, on_error "cancel") cancels the running
 * item tasks and counts every item still waiting anywhere as cancelled, so
 * ok + failed + cancelled is always the number of items that entered.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/duration.h"
#include "core/fields.h"
#include "core/instance.h"
#include "core/kind.h"
#include "util/outfile.h"
#include "sched/queue.h"
#include "json/write.h"
#include "core/result.h"
#include "core/run.h"
#include "util/suggest.h"
#include "core/task.h"

enum src_type { SRC_ITEMS, SRC_RANGE, SRC_LINES };

/* A line longer than this fails the source rather than eat memory. */
#define MAX_LINE (64u << 20)
#define READ_CHUNK (64u << 10)
#define RESULTS_FLUSH (64u << 10)
/* Exact percentiles up to this many samples; a histogram past it. */
#define EXACT_MAX 4096
/* Histogram: 32 linear steps per power of two, about 3% wide. */
#define HIST_SUB 32
#define HIST_N (64 * HIST_SUB)
/* Queue-length samples for --trace: every 10 ms, thinned past the cap. */
#define SAMPLE_MS 10
#define SAMPLES_MAX 16384
/*
 * Items a producer puts, or a worker fails to make tasks for, in one go
 * before the pipeline gives way to the rest of the run (the ready queue):
 * those never pass through it on their own.
 */
#define BATCH_ITEMS 256
/* Workers over all stages, at most: each costs memory up front. */
#define MAX_WORKERS 1000000
/* Item tasks the task dump names, at most. */
#define DUMP_ITEMS 8

struct stage_conf {
  struct corun_tmpl tmpl;
  uint32_t workers;
  size_t maxsize;
  enum corun_qorder order;
};

struct pl_conf {
  enum src_type src;
  cJSON *items;
  long long start, stop, step;
  char *lines;
  int lines_stdin; /* "lines": "-": corun's standard input */
  uint32_t producers;
  double delay_min_ms, delay_max_ms;
  double interval_ms; /* rate: ms between two items; 0 for none */
  int cancel_on_error;
  char *results;
  uint32_t nstages;
  struct stage_conf *stages;
};

struct hist {
  uint64_t n;
  uint64_t *exact; /* the first EXACT_MAX samples, ns */
  uint64_t *bucket;
};

struct pl;

struct worker {
  struct pl *pl;
  uint32_t stage;
  uint32_t no; /* number over all stages: an instance's index */
  enum { W_IDLE, W_GETTING, W_RUNNING, W_PUTTING, W_YIELD, W_DONE } state;
  struct corun_qwaiter w;
  struct corun_qitem cur;
  struct corun_task *task; /* running, or NULL */
  struct corun_task *dead; /* the last one ended, freed later */
};

struct producer {
  struct pl *pl;
  enum { P_IDLE, P_DELAY, P_RATE, P_SOURCE, P_PUTTING, P_YIELD, P_DONE } state;
  int delayed;  /* this item's delay is over */
  int token;    /* the rate's timer got this producer a token */
  int catch_up; /* woken by the rate's timer: take the tokens due since */
  struct corun_timer timer;
  struct corun_qwaiter w;
  struct producer *next_waiting; /* for the lines source */
};

struct stage_run {
  struct corun_queue q;
  uint32_t live; /* workers that have not left */
  uint32_t busy;
  uint64_t processed;
  uint64_t failed;
  uint64_t first_start; /* run-clock ns of the stage's first task start */
  uint64_t last_end;    /* and of its last task end; 0: none yet */
  struct hist hist;
  char *id_prefix; /* "<pipeline>.<stage>." */
  size_t id_len;
};

/*
 * The lines source, read a chunk at a time as producers need lines: a
 * regular file or a device on libuv's thread pool, a pipe, FIFO, socket or
 * terminal through a uv_pipe
 * (a read there may wait for ever, and only a handle can be stopped).
 */
struct lines_src {
  uv_fs_t req;
  uv_pipe_t pipe;
  int fd;
  int is_pipe;
  int busy; /* a read is in flight */
  int eof;
  int err;
  int bom_done; /* a UTF-8 byte order mark at the start was looked for */
  struct corun_buf buf;
  size_t pos;
  char *chunk;
  struct producer *waiting; /* producers waiting for the next chunk */
};

struct pl_run {
  struct stage_run *st;
  struct worker *workers;
  uint32_t nworkers;
  struct producer *prod;
  uint32_t prod_live;
  uint64_t next; /* the next index the source gives */
  const cJSON *cursor; /* items: the next one (a list, not an array) */
  uint64_t total; /* items and range: how many there are */
  struct lines_src lines;
  uint64_t entered, ok, failed, cancelled;
  uint32_t running; /* item tasks not yet ended */
  int stopping;
  int in_stop; /* stop() is at work: the end waits for it */
  int started;
  enum corun_errtype fail_type;
  char *fail_msg; /* why the pipeline fails on its own */
  char *first_fail; /* the first failed item and why, for the message */
  double next_token;
  uint64_t rng;
  /* --trace: rows of (ms, then each stage's queue length) */
  struct corun_timer sampler;
  uint32_t *samples;
  size_t nsamples;
  uint64_t sample_ms;
  /* results */
  struct corun_outfile file;
  struct corun_buf out;
  int werr;
};

struct pl {
  struct corun_task base;
  struct pl_conf *c;
  struct pl_run *r;
};

/* Stand-ins for the item's value while it has no JSON of its own. */
static const char range_mark, null_mark;
#define V_RANGE ((void *)&range_mark) /* start + index * step */
#define V_NULL ((void *)&null_mark)   /* JSON null */

static const char *const fields[] = {
    "source", "producers", "produce_delay", "rate", "stages",
    "on_error", "results", NULL};

/* ---- parse ---- */

static void parse_source(struct pl_conf *c, struct corun_fields *f)
{
  const cJSON *src = corun_field(f, "source"), *it;
  int n = 0;

  if (src == NULL) {
    corun_field_missing(f, "source");
    return;
  }
  if (src->type & CORUN_FIELD_BAD)
    return;
  if (!cJSON_IsObject(src)) {
    corun_field_fail(f, "source", src,
                     "must be {\"items\": [...]}, {\"range\": [start, stop]} "
                     "or {\"lines\": \"PATH\"}, not %s",
                     corun__json_type(src));
    return;
  }
  for (it = src->child; it; it = it->next) {
    static const char *const keys[] = {"items", "range", "lines", NULL};
    const char *hint;

    n++;
    if (strcmp(it->string, "items") == 0) {
      c->src = SRC_ITEMS;
      if (!cJSON_IsArray(it))
        corun_field_fail(f, "source", it, "\"items\" must be an array, not %s",
                         corun__json_type(it));
      else
        c->items = cJSON_Duplicate(it, 1);
    } else if (strcmp(it->string, "range") == 0) {
      long long v[3] = {0, 0, 1};
      const cJSON *x;
      int k = 0, ok = cJSON_IsArray(it);

      c->src = SRC_RANGE;
      for (x = ok ? it->child : NULL; x && ok; x = x->next, k++)
        ok = k < 3 && corun__json_int(x, -(1LL << 53), 1LL << 53, &v[k]);
      if (!ok || k < 2 || v[2] == 0) {
        corun_field_fail(f, "source", it,
                         "\"range\" must be [start, stop] or [start, stop, "
                         "step]: integers, step not 0");
        continue;
      }
      c->start = v[0];
      c->stop = v[1];
      c->step = v[2];
    } else if (strcmp(it->string, "lines") == 0) {
      struct corun_fields sf = *f;

      c->src = SRC_LINES;
      sf.obj = (cJSON *)src;
      sf.defaults = NULL;
      if (cJSON_IsString(it) && strcmp(it->valuestring, "-") == 0) {
        /* Standard input has one reader; the job file may be it already. */
        if (f->stdin_use == NULL)
          corun_field_fail(f, "source", it,
                           "has \"lines\": \"-\" (standard input), which "
                           "cannot be read here");
        else if (*f->stdin_use == CORUN_STDIN_JOB)
          corun_field_fail(f, "source", it,
                           "has \"lines\": \"-\" (standard input), but the "
                           "job file itself came from standard input");
        else if (*f->stdin_use == CORUN_STDIN_LINES)
          corun_field_fail(f, "source", it,
                           "has \"lines\": \"-\", but another pipeline "
                           "already reads standard input (only one can)");
        else
          *f->stdin_use = CORUN_STDIN_LINES;
        c->lines = strdup("-");
        c->lines_stdin = 1;
        if (c->lines == NULL)
          corun_field_fail(f, "source", it, "could not be kept: out of memory");
      } else if (corun_field_path(&sf, "lines", &c->lines) > 0) {
        corun_field_precheck(f, "source", it, CORUN_PRE_FILE, c->lines, NULL,
                             NULL);
      }
      if (sf.failed)
        f->failed = 1;
    } else {
      hint = corun_suggest(it->string, keys, (size_t)-1);
      corun_field_fail(f, "source", it, "has unknown field \"%s\"%s%s%s",
                       it->string, hint ? " (did you mean \"" : "",
                       hint ? hint : "", hint ? "\"?)" : "");
    }
  }
  if (n != 1 && !f->failed)
    corun_field_fail(f, "source", src,
                     "must hold exactly one of \"items\", \"range\" or "
                     "\"lines\"");
}

static void parse_delay(struct pl_conf *c, struct corun_fields *f)
{
  const cJSON *v = corun_field(f, "produce_delay");
  double lo, hi;
  const char *why;

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (!cJSON_IsArray(v)) {
    if (corun_field_duration(f, "produce_delay", &lo) > 0)
      c->delay_min_ms = c->delay_max_ms = lo * 1000.0;
    return;
  }
  if (cJSON_GetArraySize(v) != 2 ||
      corun_duration_json(v->child, &lo, &why) < 0 ||
      corun_duration_json(v->child->next, &hi, &why) < 0 || lo > hi) {
    corun_field_fail(f, "produce_delay", v,
                     "must be a duration or [min, max] of durations with "
                     "min <= max");
    return;
  }
  c->delay_min_ms = lo * 1000.0;
  c->delay_max_ms = hi * 1000.0;
}

struct refcheck {
  struct corun_fields *f;
  const struct pl_conf *c;
  const cJSON *node;
  uint32_t stage;
  const struct corun_kind *prev; /* the previous stage's kind */
  int failed;
};

/* The first field of "item.a.b", in buf. */
static const char *first_field(const char *name, char *buf, size_t n)
{
  const char *p = name + 5, *dot = strchr(p, '.');
  size_t len = dot ? (size_t)(dot - p) : strlen(p);

  if (len >= n)
    len = n - 1;
  memcpy(buf, p, len);
  buf[len] = '\0';
  return buf;
}

/* ${item.FIELD} checked against what the stage's items can be. */
static void check_ref(void *arg, const char *name)
{
  struct refcheck *rc = arg;
  const struct pl_conf *c = rc->c;
  char fld[128];
  const cJSON *it;
  int i = 0;

  if (rc->failed || strncmp(name, "item.", 5) != 0)
    return;
  first_field(name, fld, sizeof(fld));
  if (rc->stage > 0) {
    const char *const *rf = rc->prev ? rc->prev->result_fields : NULL;

    for (i = 0; rf && rf[i] && strcmp(rf[i], fld) != 0; i++)
      ;
    if (rf && rf[i] == NULL) {
      rc->failed = 1;
      corun_field_fail(rc->f, "stages", rc->node,
                       "stage %u task: \"${%s}\": the items of this stage "
                       "are the results of a %s task, which have no field "
                       "\"%s\"",
                       rc->stage + 1, name, rc->prev->name, fld);
    }
    return;
  }
  if (c->src == SRC_RANGE || c->src == SRC_LINES) {
    rc->failed = 1;
    corun_field_fail(rc->f, "stages", rc->node,
                     "stage 1 task: \"${%s}\": the items of a \"%s\" source "
                     "are %s, not objects",
                     name, c->src == SRC_RANGE ? "range" : "lines",
                     c->src == SRC_RANGE ? "numbers" : "strings");
    return;
  }
  for (it = c->items ? c->items->child : NULL; it; it = it->next, i++) {
    if (cJSON_IsObject(it) && cJSON_GetObjectItemCaseSensitive(it, fld))
      continue;
    rc->failed = 1;
    corun_field_fail(rc->f, "stages", rc->node,
                     "stage 1 task: \"${%s}\": item %d %s", name, i,
                     cJSON_IsObject(it) ? "has no such field" : "is not an object");
    return;
  }
}

static void walk_refs(struct refcheck *rc, const cJSON *v)
{
  const cJSON *it;

  if (cJSON_IsString(v)) {
    rc->node = v;
    corun_template_item_refs(v->valuestring, check_ref, rc);
    return;
  }
  for (it = v->child; it && !rc->failed; it = it->next)
    walk_refs(rc, it);
}

static void parse_stage(struct pl_conf *c, struct corun_fields *f,
                        const cJSON *sv, uint32_t i)
{
  static const char *const keys[] = {"workers", "queue", "order", "task",
                                     NULL};
  static const char *const orders[] = {"fifo", "lifo", "priority", NULL};
  struct stage_conf *st = &c->stages[i];
  const cJSON *it, *task = NULL;
  long long n;
  int queue_set = 0;
  char label[32];

  st->workers = 1;
  if (!cJSON_IsObject(sv)) {
    corun_field_fail(f, "stages", sv, "stage %u must be an object, not %s",
                     i + 1, corun__json_type(sv));
    return;
  }
  for (it = sv->child; it; it = it->next) {
    if (strcmp(it->string, "workers") == 0) {
      if (!corun__json_int(it, 1, 100000, &n))
        corun_field_fail(f, "stages", it,
                         "stage %u: \"workers\" must be an integer from 1 to "
                         "100000",
                         i + 1);
      else
        st->workers = (uint32_t)n;
    } else if (strcmp(it->string, "queue") == 0) {
      queue_set = 1;
      if (!corun__json_int(it, 0, 10000000, &n))
        corun_field_fail(f, "stages", it,
                         "stage %u: \"queue\" must be an integer from 0 "
                         "(unbounded) to 10000000",
                         i + 1);
      else
        st->maxsize = (size_t)n;
    } else if (strcmp(it->string, "order") == 0) {
      int k;

      for (k = 0; cJSON_IsString(it) && orders[k] &&
                  strcmp(orders[k], it->valuestring) != 0;
           k++)
        ;
      if (!cJSON_IsString(it) || orders[k] == NULL)
        corun_field_fail(f, "stages", it,
                         "stage %u: \"order\" must be \"fifo\", \"lifo\" or "
                         "\"priority\"",
                         i + 1);
      else
        st->order = (enum corun_qorder)k;
    } else if (strcmp(it->string, "task") == 0) {
      task = it;
    } else {
      const char *hint = corun_suggest(it->string, keys, (size_t)-1);

      corun_field_fail(f, "stages", it, "stage %u: unknown field \"%s\"%s%s%s",
                       i + 1, it->string, hint ? " (did you mean \"" : "",
                       hint ? hint : "", hint ? "\"?)" : "");
    }
  }
  if (!queue_set)
    st->maxsize = 2 * (size_t)st->workers;
  if (task == NULL) {
    corun_field_fail(f, "stages", sv, "stage %u: missing required field "
                                      "\"task\"",
                     i + 1);
    return;
  }
  /* check_defaults() runs parse without a loader: nothing to check here. */
  if (f->load_template == NULL)
    return;
  {
    cJSON *json = cJSON_Duplicate(task, 1);
    struct corun_task *proto;
    struct refcheck rc;

    snprintf(label, sizeof(label), "stage %u task", i + 1);
    proto = json ? f->load_template(f, json, label) : NULL;
    if (proto == NULL) {
      cJSON_Delete(json);
      return;
    }
    memset(&rc, 0, sizeof(rc));
    rc.f = f;
    rc.c = c;
    rc.stage = i;
    rc.prev = i > 0 && c->stages[i - 1].tmpl.proto
                  ? c->stages[i - 1].tmpl.proto->kind
                  : NULL;
    walk_refs(&rc, json);
    corun__tmpl_init(&st->tmpl, proto, json);
  }
}

static int parse(struct corun_task *t, struct corun_fields *f)
{
  static const char *const on_error[] = {"continue", "cancel", NULL};
  struct pl *p = (struct pl *)t;
  struct pl_conf *c = calloc(1, sizeof(*c));
  const cJSON *stages, *sv;
  long long n;
  double per_s;
  int k;
  uint32_t i;

  if (c == NULL) {
    corun_field_fail(f, "source", NULL, "could not be kept: out of memory");
    return -1;
  }
  p->c = c;
  c->producers = 1;
  parse_source(c, f);
  if (corun_field_int(f, "producers", 1, 100000, &n) > 0)
    c->producers = (uint32_t)n;
  parse_delay(c, f);
  {
    const cJSON *v = corun_field(f, "rate");
    const char *why;

    if (v && !(v->type & CORUN_FIELD_BAD)) {
      if (!cJSON_IsString(v) ||
          corun_rate_parse(v->valuestring, &per_s, &why) < 0)
        corun_field_fail(f, "rate", v, "%s",
                         cJSON_IsString(v) ? why
                                           : "must be a string like \"100/s\"");
      else
        c->interval_ms = 1000.0 / per_s;
    }
  }
  if (corun_field_enum(f, "on_error", on_error, &k) > 0)
    c->cancel_on_error = k == 1;
  if (corun_field_path(f, "results", &c->results) > 0)
    corun_field_precheck(f, "results", corun_field(f, "results"),
                         CORUN_PRE_OUTPUT, c->results, NULL, NULL);
  stages = corun_field(f, "stages");
  if (stages == NULL) {
    corun_field_missing(f, "stages");
  } else if (!(stages->type & CORUN_FIELD_BAD)) {
    int ns = cJSON_IsArray(stages) ? cJSON_GetArraySize(stages) : 0;

    if (ns < 1 || ns > 1000) {
      corun_field_fail(f, "stages", stages,
                       "must be an array of 1 to 1000 stages");
    } else {
      c->stages = calloc((size_t)ns, sizeof(*c->stages));
      if (c->stages == NULL) {
        corun_field_fail(f, "stages", stages, "out of memory");
      } else {
        uint64_t total = 0;

        c->nstages = (uint32_t)ns;
        for (sv = stages->child, i = 0; sv; sv = sv->next, i++) {
          parse_stage(c, f, sv, i);
          total += c->stages[i].workers;
        }
        if (total > MAX_WORKERS)
          corun_field_fail(f, "stages", stages,
                           "ask for %llu workers in all; at most %u",
                           (unsigned long long)total, MAX_WORKERS);
      }
    }
  }
  return f->failed ? -1 : 0;
}

/* ---- histograms ---- */

static size_t hist_index(uint64_t v)
{
  int e;

  if (v < HIST_SUB)
    return (size_t)v;
  e = 63 - __builtin_clzll(v);
  return (size_t)(e - 4) * HIST_SUB +
         (size_t)((v >> (e - 5)) & (HIST_SUB - 1));
}

/* The middle of bucket i, in ns. */
static double hist_value(size_t i)
{
  size_t e = i / HIST_SUB, sub = i % HIST_SUB;
  double lo, width;

  if (e == 0)
    return (double)i;
  width = ldexp(1.0, (int)e - 1);
  lo = ldexp((double)(HIST_SUB + sub), (int)e - 1);
  return lo + width / 2.0;
}

static void hist_add(struct hist *h, uint64_t ns)
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
  h->bucket[hist_index(ns)]++;
  h->n++;
}

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile p (0..100) in seconds. */
static double hist_pct(struct hist *h, double p)
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
      return hist_value(i) / 1e9;
  }
  return 0;
}

/* ---- items ---- */

static int64_t range_value(const struct pl_conf *c, uint64_t index)
{
  return c->start + (int64_t)index * c->step;
}

/* The item's value as JSON; scratch holds stand-ins. */
static const cJSON *value_json(const struct pl *p, void *v, uint64_t index,
                               cJSON *scratch)
{
  if (v != V_RANGE && v != V_NULL)
    return v;
  memset(scratch, 0, sizeof(*scratch));
  if (v == V_NULL) {
    scratch->type = cJSON_NULL;
    return scratch;
  }
  scratch->type = cJSON_Number;
  scratch->valuedouble = (double)range_value(p->c, index);
  return scratch;
}

static void drop_value(void *v)
{
  if (v != V_RANGE && v != V_NULL)
    cJSON_Delete(v);
}

static double key_of(const struct pl *p, void *v, uint64_t index)
{
  const cJSON *j, *pr;
  cJSON scratch;

  j = value_json(p, v, index, &scratch);
  if (cJSON_IsNumber(j))
    return j->valuedouble;
  pr = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "priority")
                         : NULL;
  return cJSON_IsNumber(pr) ? pr->valuedouble : 0.0;
}

/* ---- results file ---- */

static void results_flush(struct pl_run *r)
{
  if (!r->werr)
    r->werr = corun__outfile_write(&r->file, r->out.p, r->out.len);
  corun_buf_reset(&r->out);
}

static int results_open(struct pl *p)
{
  return p->c->results ? corun__outfile_open(&p->r->file, p->c->results,
                                             p->base.run->root)
                       : 0;
}

/* Put the results in place. Returns 0 or an errno. */
static int results_commit(struct pl *p)
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

/*
 * One line for an item that left the pipeline. t is the task it ended in,
 * or NULL (cancelled while waiting, or its task could not be made: then
 * type and msg say why).
 */
static void results_line(struct pl *p, const struct corun_qitem *it,
                         enum corun_status status, const struct corun_task *t,
                         enum corun_errtype type, const char *msg)
{
  struct pl_run *r = p->r;
  const struct corun_secrets *sec = p->base.run->secrets;
  struct corun_buf *o = &r->out;
  cJSON scratch;
  void *origin = it->origin ? it->origin : it->value;

  if (r->file.fd < 0)
    return;
  corun_buf_printf(o, "{\"index\": %llu, \"item\": ",
                   (unsigned long long)it->index);
  corun__json_write(o, value_json(p, origin, it->index, &scratch), sec);
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

static void item_free(struct corun_qitem *it)
{
  drop_value(it->value);
  if (it->origin)
    drop_value(it->origin);
  it->value = it->origin = NULL;
}

/* An item that will go no further: cancelled where it waited. */
static void item_cancelled(struct pl *p, struct corun_qitem *it)
{
  p->r->cancelled++;
  results_line(p, it, CORUN_STATUS_CANCELLED, NULL, CORUN_ERR_CANCELLED,
               "the pipeline stopped while this item waited for a worker");
  item_free(it);
}

/* ---- flow ---- */

static void stop(struct pl *p, enum corun_cancel_how how);
static void maybe_end(struct pl *p);
static void worker_loop(struct worker *w);
static void produce(struct producer *pr);

static void fail_pipeline(struct pl *p, enum corun_errtype type,
                          const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The pipeline fails on its own account; stop everything. */
static void fail_pipeline(struct pl *p, enum corun_errtype type,
                          const char *fmt, ...)
{
  struct corun_buf m = CORUN_BUF_INIT;
  va_list ap;

  if (p->r->fail_msg == NULL) {
    va_start(ap, fmt);
    corun_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    p->r->fail_msg = corun_buf_detach(&m);
    p->r->fail_type = type;
  }
  stop(p, CORUN_CANCEL_OUTSIDE);
}

static void close_stage(struct pl *p, uint32_t s)
{
  corun_queue_close(&p->r->st[s].q);
}

static void worker_leave(struct worker *w)
{
  struct pl *p = w->pl;
  struct stage_run *st = &p->r->st[w->stage];

  if (w->state == W_DONE)
    return;
  w->state = W_DONE;
  if (--st->live > 0)
    return;
  if (w->stage + 1 < p->c->nstages)
    close_stage(p, w->stage + 1);
  else
    maybe_end(p);
}

struct lookup_arg {
  const struct pl *p;
  const struct corun_qitem *it;
  cJSON scratch;
  cJSON index;
};

static const cJSON *lookup(void *arg, const char *name, char **err)
{
  struct lookup_arg *a = arg;
  const cJSON *v;
  const char *s, *dot;
  char fld[256];

  if (strcmp(name, "index") == 0) {
    memset(&a->index, 0, sizeof(a->index));
    a->index.type = cJSON_Number;
    a->index.valuedouble = (double)a->it->index;
    return &a->index;
  }
  v = value_json(a->p, a->it->value, a->it->index, &a->scratch);
  for (s = name + 4; *s == '.'; s = dot) {
    size_t n;

    s++;
    dot = strchr(s, '.');
    n = dot ? (size_t)(dot - s) : strlen(s);
    if (n >= sizeof(fld))
      n = sizeof(fld) - 1;
    memcpy(fld, s, n);
    fld[n] = '\0';
    if (!cJSON_IsObject(v)) {
      struct corun_buf m = CORUN_BUF_INIT;

      corun_buf_printf(&m, "\"${%s}\": the item is %s, not an object", name,
                       corun__json_type(v));
      *err = corun_buf_detach(&m);
      return NULL;
    }
    v = cJSON_GetObjectItemCaseSensitive(v, fld);
    if (v == NULL) {
      struct corun_buf m = CORUN_BUF_INIT;

      corun_buf_printf(&m, "\"${%s}\": the item has no field \"%s\"", name,
                       fld);
      *err = corun_buf_detach(&m);
      return NULL;
    }
    if (dot == NULL)
      break;
  }
  return v;
}

/* "<pipeline>.<stage>.<index>", by hand: this runs once per item. */
static void item_id(const struct stage_run *st, uint64_t index, char *buf)
{
  char digits[24], *d = digits + sizeof(digits);
  size_t n;

  do {
    *--d = (char)('0' + index % 10);
    index /= 10;
  } while (index);
  n = (size_t)(digits + sizeof(digits) - d);
  memcpy(buf, st->id_prefix, st->id_len);
  memcpy(buf + st->id_len, d, n);
  buf[st->id_len + n] = '\0';
}

/* Keep the first failed item's story: the pipeline's message ends with it. */
static void note_failure(struct pl *p, uint64_t index, uint32_t stage,
                         const char *msg)
{
  struct corun_buf b = CORUN_BUF_INIT;

  if (p->r->first_fail)
    return;
  corun_buf_printf(&b, "item %llu at stage %u: %s", (unsigned long long)index,
                   stage + 1, msg ? msg : "");
  p->r->first_fail = corun_buf_detach(&b);
}

/*
 * Make and start the task for the worker's item. Returns 0, or -1 when
 * the item failed without a task (it is accounted for).
 */
static int start_item(struct worker *w)
{
  struct pl *p = w->pl;
  struct stage_run *st = &p->r->st[w->stage];
  struct lookup_arg la;
  struct corun_item_ctx ic = {lookup, &la};
  char buf[160], *id, *err = NULL;
  struct corun_task *t;

  /* Ids are at most 64 bytes, so the stack almost always does. */
  id = st->id_len + 24 <= sizeof(buf) ? buf : malloc(st->id_len + 24);
  if (id == NULL) {
    t = NULL;
  } else {
    item_id(st, w->cur.index, id);
    la.p = p;
    la.it = &w->cur;
    t = corun__instance_new(&p->c->stages[w->stage].tmpl, &p->base, id, &ic,
                            &err);
    if (id != buf)
      free(id);
  }
  if (t == NULL) {
    const char *msg = err ? err : "out of memory making its task";

    st->processed++;
    st->failed++;
    p->r->failed++;
    results_line(p, &w->cur, CORUN_STATUS_FAILED, NULL, CORUN_ERR_FAIL, msg);
    note_failure(p, w->cur.index, w->stage, msg);
    if (p->c->cancel_on_error)
      fail_pipeline(p, CORUN_ERR_CHILD, "item %llu failed at stage %u: %s",
                    (unsigned long long)w->cur.index, w->stage + 1, msg);
    free(err);
    item_free(&w->cur);
    return -1;
  }
  t->index = w->no;
  w->task = t;
  w->state = W_RUNNING;
  st->busy++;
  p->r->running++;
  corun__task_activate(t);
  return 0;
}

/* Let the rest of the run go; resume() picks the pipeline up after. */
static void give_way(struct pl *p)
{
  if (!(p->base.flags & CORUN_TF_YIELD))
    corun__task_yield(&p->base);
}

static void got_item(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct worker *w = qw->data;

  if (res != CORUN_Q_OK) {
    worker_leave(w);
    return;
  }
  w->cur = qw->item;
  if (w->pl->r->stopping) {
    item_cancelled(w->pl, &w->cur);
    worker_leave(w);
    return;
  }
  if (start_item(w) < 0)
    worker_loop(w);
}

/* Take items until one runs, the queue is empty, or it closed. */
static void worker_loop(struct worker *w)
{
  struct pl *p = w->pl;
  struct corun_queue *q = &p->r->st[w->stage].q;
  int failed = 0;

  for (;;) {
    enum corun_qresult res;

    if (p->r->stopping) {
      worker_leave(w);
      return;
    }
    res = corun_queue_get(q, &w->cur);
    if (res == CORUN_Q_EMPTY) {
      w->state = W_GETTING;
      w->w.data = w;
      corun_queue_get_wait(q, &w->w, got_item);
      return;
    }
    if (res != CORUN_Q_OK) {
      worker_leave(w);
      return;
    }
    if (start_item(w) == 0)
      return;
    if (++failed == BATCH_ITEMS) {
      /* Items failing before they are tasks never yield on their own. */
      w->state = W_YIELD;
      give_way(p);
      return;
    }
  }
}

static void put_done(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct worker *w = qw->data;

  if (res != CORUN_Q_OK)
    item_cancelled(w->pl, &qw->item);
  worker_loop(w);
}

/* The worker's task ended ok: hand its result on. */
static void pass_on(struct worker *w, struct corun_task *t)
{
  struct pl *p = w->pl;
  struct corun_queue *next = &p->r->st[w->stage + 1].q;
  cJSON *res = corun__task_take_result(t);
  enum corun_qresult r;

  /* The results file shows the source item, so that is kept. */
  if (p->r->file.fd >= 0 && w->cur.origin == NULL)
    w->cur.origin = w->cur.value;
  else
    drop_value(w->cur.value);
  w->cur.value = res ? (void *)res : V_NULL;
  w->cur.key = key_of(p, w->cur.value, w->cur.index);
  r = corun_queue_put(next, &w->cur);
  if (r == CORUN_Q_OK) {
    worker_loop(w);
    return;
  }
  if (r == CORUN_Q_FULL) {
    w->state = W_PUTTING;
    w->w.item = w->cur;
    w->w.data = w;
    corun_queue_put_wait(next, &w->w, put_done);
    return;
  }
  item_cancelled(p, &w->cur);
  worker_loop(w);
}

static void child_done(struct corun_task *t, struct corun_task *c)
{
  struct pl *p = (struct pl *)t;
  struct pl_run *r = p->r;
  struct worker *w = &r->workers[c->index];
  struct stage_run *st = &r->st[w->stage];
  int last = w->stage + 1 == p->c->nstages;
  uint64_t dur = c->t_start != CORUN_NO_TIME ? c->t_end - c->t_start : 0;

  /* Its kind's code may still be on the stack: free it next time. */
  if (w->dead)
    corun__instance_free(w->dead);
  w->dead = c;
  w->task = NULL;
  st->busy--;
  r->running--;
  w->cur.aux += dur;
  if (c->status == CORUN_STATUS_CANCELLED ||
      (r->stopping && c->status == CORUN_STATUS_OK && !last)) {
    r->cancelled++;
    results_line(p, &w->cur, CORUN_STATUS_CANCELLED, c->status ==
                 CORUN_STATUS_CANCELLED ? c : NULL, CORUN_ERR_CANCELLED,
                 "the pipeline stopped before this item's next stage");
    item_free(&w->cur);
    worker_loop(w);
    maybe_end(p);
    return;
  }
  st->processed++;
  hist_add(&st->hist, dur);
  if (c->t_start != CORUN_NO_TIME) {
    if (st->last_end == 0 || c->t_start < st->first_start)
      st->first_start = c->t_start;
    if (c->t_end > st->last_end)
      st->last_end = c->t_end;
  }
  if (c->status != CORUN_STATUS_OK) {
    st->failed++;
    r->failed++;
    results_line(p, &w->cur, (enum corun_status)c->status, c, CORUN_ERR_NONE,
                 NULL);
    note_failure(p, w->cur.index, w->stage, c->err_msg);
    item_free(&w->cur);
    if (p->c->cancel_on_error && !r->stopping)
      fail_pipeline(p, CORUN_ERR_CHILD, "item %llu failed at stage %u: %s",
                    (unsigned long long)w->cur.index, w->stage + 1,
                    c->err_msg ? c->err_msg : "");
    worker_loop(w);
    maybe_end(p);
    return;
  }
  if (last) {
    r->ok++;
    results_line(p, &w->cur, CORUN_STATUS_OK, c, CORUN_ERR_NONE, NULL);
    item_free(&w->cur);
    worker_loop(w);
    maybe_end(p);
    return;
  }
  pass_on(w, c);
}

/* ---- source ---- */

enum { SRC_GOT, SRC_DRY, SRC_WAIT, SRC_ERR };

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
  }
  /* Wake the producers that waited, in the order they came. */
  pr = ls->waiting;
  ls->waiting = NULL;
  while (pr) {
    struct producer *next = pr->next_waiting;

    pr->next_waiting = NULL;
    if (pr->state == P_SOURCE)
      produce(pr);
    pr = next;
  }
  maybe_end(p);
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
    ls->fd = corun__open_confined(p->c->lines, p->base.run->root,
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

/* Stop reading and let go of the file. */
static void lines_close(struct pl *p)
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

/* The next non-empty line as a JSON string, if one is in the buffer. */
static int lines_next(struct pl *p, cJSON **out)
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

/* Whether the source has run dry for good. */
static int source_dry(const struct pl *p)
{
  const struct pl_run *r = p->r;

  if (p->c->src == SRC_LINES)
    return r->lines.eof && r->lines.pos >= r->lines.buf.len;
  return r->next >= r->total;
}

static int source_next(struct pl *p, struct corun_qitem *it)
{
  struct pl_run *r = p->r;
  cJSON *v = NULL;
  int res;

  memset(it, 0, sizeof(*it));
  switch (p->c->src) {
  case SRC_RANGE:
    if (r->next >= r->total)
      return SRC_DRY;
    it->value = V_RANGE;
    break;
  case SRC_ITEMS:
    if (r->next >= r->total)
      return SRC_DRY;
    if (r->next == 0)
      r->cursor = p->c->items->child;
    v = cJSON_Duplicate(r->cursor, 1);
    if (v == NULL)
      return SRC_ERR;
    r->cursor = r->cursor->next;
    it->value = cJSON_IsNull(v) ? V_NULL : v;
    if (it->value == V_NULL)
      cJSON_Delete(v);
    break;
  case SRC_LINES:
    res = lines_next(p, &v);
    if (res != SRC_GOT)
      return res;
    it->value = v;
    break;
  }
  it->index = r->next++;
  it->key = key_of(p, it->value, it->index);
  return SRC_GOT;
}

/* ---- producers ---- */

static uint64_t next_random(struct pl_run *r)
{
  /* xorshift64*: plenty for spreading delays. */
  r->rng ^= r->rng >> 12;
  r->rng ^= r->rng << 25;
  r->rng ^= r->rng >> 27;
  return r->rng * 2685821657736338717ULL;
}

static double pick_delay(struct pl *p)
{
  const struct pl_conf *c = p->c;
  double u;

  if (c->delay_max_ms <= c->delay_min_ms)
    return c->delay_min_ms;
  u = (double)(next_random(p->r) >> 11) / 9007199254740992.0;
  return c->delay_min_ms + u * (c->delay_max_ms - c->delay_min_ms);
}

/*
 * One token of the rate's bucket, which holds at most one. When the timer
 * brought us here (catch_up), counting on from the due time keeps the rate
 * steady though timers fire late; otherwise the bucket was idle and the
 * next token is one interval after now.
 */
static int take_token(struct pl *p, int catch_up)
{
  struct pl_run *r = p->r;
  double step = p->c->interval_ms, now, base;

  if (step <= 0)
    return 1;
  now = (double)corun__now_ns(p->base.run) / 1e6;
  if (now < r->next_token)
    return 0;
  /*
   * Timers tick in whole milliseconds: a rate finer than that takes the
   * tokens due within a few ticks together, or it would never be reached.
   */
  if (catch_up && now - r->next_token < (step > 5.0 ? step : 5.0))
    base = r->next_token;
  else
    base = now;
  r->next_token = base + step;
  return 1;
}

static struct producer *producer_of_timer(struct corun_timer *t)
{
  return (struct producer *)((char *)t - offsetof(struct producer, timer));
}

static void delay_due(struct corun_timer *t)
{
  struct producer *pr = producer_of_timer(t);

  pr->delayed = 1;
  produce(pr);
}

static void rate_due(struct corun_timer *t)
{
  struct producer *pr = producer_of_timer(t);

  pr->catch_up = 1;
  pr->token = take_token(pr->pl, 1);
  produce(pr);
}

static void producer_done(struct producer *pr)
{
  struct pl *p = pr->pl;

  if (pr->state == P_DONE)
    return;
  pr->state = P_DONE;
  if (--p->r->prod_live == 0)
    close_stage(p, 0);
  maybe_end(p);
}

static void produced(struct corun_qwaiter *qw, enum corun_qresult res)
{
  struct producer *pr = qw->data;

  if (res != CORUN_Q_OK)
    item_cancelled(pr->pl, &qw->item);
  pr->state = P_IDLE;
  produce(pr);
}

/*
 * The source just ran dry: producers waiting out a delay or a rate token
 * will find nothing, so they are done now, not a delay later.
 */
static void release_idle_producers(struct pl *p, struct producer *self)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->producers; i++) {
    struct producer *pr = &r->prod[i];

    if (pr == self || (pr->state != P_DELAY && pr->state != P_RATE))
      continue;
    corun__timer_stop(&p->base.run->timers, &pr->timer);
    producer_done(pr);
  }
}

static void produce(struct producer *pr)
{
  struct pl *p = pr->pl;
  struct pl_run *r = p->r;
  struct corun_run *run = p->base.run;
  int batch = 0;

  for (;;) {
    struct corun_qitem it;
    enum corun_qresult res;
    int got;

    if (r->stopping || source_dry(p)) {
      producer_done(pr);
      return;
    }
    if (p->c->delay_max_ms > 0 && !pr->delayed) {
      pr->state = P_DELAY;
      pr->catch_up = 0;
      if (corun__timer_start(&run->timers, &pr->timer,
                             corun__now_ms(run) +
                                 (uint64_t)llround(pick_delay(p)),
                             delay_due, &p->base) < 0)
        fail_pipeline(p, CORUN_ERR_IO, "out of memory arming a timer");
      return;
    }
    /* A lines source may need a read before an item can leave it. */
    if (p->c->src == SRC_LINES) {
      struct lines_src *ls = &r->lines;
      size_t avail = ls->buf.len - ls->pos;

      if (!ls->eof && !ls->err &&
          (avail == 0 || !memchr(ls->buf.p + ls->pos, '\n', avail))) {
        if (!ls->busy)
          lines_read(p);
        if (!ls->err) {
          pr->state = P_SOURCE;
          pr->next_waiting = NULL;
          if (ls->waiting == NULL) {
            ls->waiting = pr;
          } else {
            struct producer *x = ls->waiting;

            while (x->next_waiting)
              x = x->next_waiting;
            x->next_waiting = pr;
          }
          return;
        }
      }
    }
    if (!pr->token && !take_token(p, pr->catch_up)) {
      pr->state = P_RATE;
      if (corun__timer_start(&run->timers, &pr->timer,
                             (uint64_t)ceil(r->next_token), rate_due,
                             &p->base) < 0)
        fail_pipeline(p, CORUN_ERR_IO, "out of memory arming a timer");
      return;
    }
    pr->token = 0;
    got = source_next(p, &it);
    if (got == SRC_DRY) {
      producer_done(pr);
      return;
    }
    if (got == SRC_WAIT) {
      pr->state = P_SOURCE;
      continue;
    }
    if (got == SRC_ERR) {
      if (p->c->src == SRC_LINES && r->lines.err)
        fail_pipeline(p, CORUN_ERR_IO, "cannot read %s: %s",
                      p->c->lines_stdin ? "standard input" : p->c->lines,
                      r->lines.err == E2BIG ? "a line is over 64 MiB"
                                            : corun__confine_strerror(r->lines.err));
      else
        fail_pipeline(p, CORUN_ERR_IO, "out of memory reading the source");
      return;
    }
    pr->delayed = 0;
    pr->state = P_IDLE;
    r->entered++;
    if (source_dry(p))
      release_idle_producers(p, pr);
    if (++batch == BATCH_ITEMS) {
      /* Put this one, then give way; resume() carries on. */
      batch = -1;
    }
    res = corun_queue_put(&r->st[0].q, &it);
    if (res == CORUN_Q_OK && batch < 0) {
      pr->state = P_YIELD;
      pr->catch_up = 0;
      give_way(p);
      return;
    }
    if (res == CORUN_Q_OK)
      continue;
    pr->catch_up = 0;
    if (res == CORUN_Q_FULL) {
      pr->state = P_PUTTING;
      pr->w.item = it;
      pr->w.data = pr;
      corun_queue_put_wait(&r->st[0].q, &pr->w, produced);
      return;
    }
    item_cancelled(p, &it);
  }
}

/* ---- trace samples ---- */

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
    fail_pipeline(p, CORUN_ERR_IO, "out of memory arming a timer");
}

static void trace(const struct corun_task *t, int tid,
                  const struct corun_secrets *sec, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  const struct pl_run *r = p->r;
  size_t row, i, s;

  (void)tid;
  if (r == NULL || r->samples == NULL)
    return;
  row = 1 + p->c->nstages;
  for (i = 0; i < r->nsamples; i++)
    for (s = 0; s < p->c->nstages; s++) {
      struct corun_buf name = CORUN_BUF_INIT;

      corun_buf_printf(&name, "%s stage %zu queue", t->id, s + 1);
      corun_buf_puts(out, ",\n{\"name\": ");
      corun__json_write_str(out, corun_buf_str(&name), sec);
      corun_buf_printf(out,
                       ", \"ph\": \"C\", \"ts\": %llu, \"pid\": 1, "
                       "\"args\": {\"length\": %u}}",
                       (unsigned long long)r->samples[i * row] * 1000ULL,
                       r->samples[i * row + 1 + s]);
      corun_buf_free(&name);
    }
}

/* ---- start, stop, end ---- */

static uint64_t range_count(const struct pl_conf *c)
{
  long long span = c->stop - c->start;

  if (c->step > 0)
    return span <= 0 ? 0 : (uint64_t)((span + c->step - 1) / c->step);
  return span >= 0 ? 0 : (uint64_t)((-span + -c->step - 1) / -c->step);
}

static void free_run_buffers(struct pl *p)
{
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < p->c->nstages; i++)
    corun_queue_free(&r->st[i].q, NULL, NULL);
  corun_buf_free(&r->out);
  corun_buf_free(&r->lines.buf);
  free(r->lines.chunk);
  r->lines.chunk = NULL;
}

static void maybe_end(struct pl *p)
{
  struct pl_run *r = p->r;
  struct corun_task *t = &p->base;
  uint32_t i;
  int e;

  if (!r->started || r->in_stop || t->state != CORUN_STATE_RUNNING ||
      r->running > 0 || r->prod_live > 0 || r->lines.busy)
    return;
  for (i = 0; i < p->c->nstages; i++)
    if (r->st[i].live > 0)
      return;
  r->started = 0; /* ends once */
  if (t->run->opts.trace) {
    corun__timer_stop(&t->run->timers, &r->sampler);
    take_sample(p);
  }
  lines_close(p);
  e = results_commit(p);
  free_run_buffers(p);
  if (r->fail_msg)
    corun__task_finish(t, CORUN_STATUS_FAILED, r->fail_type, "%s",
                       r->fail_msg);
  else if (t->cancel_status != CORUN_STATUS_NONE)
    corun__task_finish(t, CORUN_STATUS_CANCELLED, CORUN_ERR_CANCELLED, NULL);
  else if (e)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                       "cannot write %s: %s", p->c->results, strerror(e));
  else if (r->failed)
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_CHILD,
                       "%llu of %llu items failed%s%s",
                       (unsigned long long)r->failed,
                       (unsigned long long)r->entered,
                       r->first_fail ? "; the first: " : "",
                       r->first_fail ? r->first_fail : "");
  else
    corun__task_finish(t, CORUN_STATUS_OK, CORUN_ERR_NONE, NULL);
}

static void stop(struct pl *p, enum corun_cancel_how how)
{
  struct pl_run *r = p->r;
  struct corun_run *run = p->base.run;
  uint32_t i;

  if (r->stopping) {
    /* Again, by force: the running tasks get no more grace. */
    for (i = 0; how == CORUN_CANCEL_FORCE && i < r->nworkers; i++)
      if (r->workers[i].task)
        corun__task_cancel(r->workers[i].task, CORUN_STATUS_CANCELLED, how);
    return;
  }
  r->stopping = 1;
  r->in_stop = 1;
  for (i = 0; i < p->c->producers; i++) {
    struct producer *pr = &r->prod[i];

    corun__timer_stop(&run->timers, &pr->timer);
    if (pr->state == P_PUTTING && corun_queue_waiting(&pr->w)) {
      corun_queue_unwait(&pr->w);
      item_cancelled(p, &pr->w.item);
    }
    if (pr->state != P_DONE) {
      pr->state = P_DONE;
      r->prod_live--;
    }
  }
  r->lines.waiting = NULL;
  /* A pipe may never say more: stop waiting for it (a file read ends). */
  if (r->lines.is_pipe && r->lines.busy) {
    uv_read_stop((uv_stream_t *)&r->lines.pipe);
    r->lines.busy = 0;
  }
  /*
   * Closing a queue sends its waiting workers away (putters with their
   * item cancelled); what is left inside is cancelled here.
   */
  for (i = 0; i < p->c->nstages; i++) {
    struct corun_qitem it;

    corun_queue_close(&r->st[i].q);
    while (corun_queue_get(&r->st[i].q, &it) == CORUN_Q_OK)
      item_cancelled(p, &it);
  }
  for (i = 0; i < r->nworkers; i++)
    if (r->workers[i].state == W_IDLE || r->workers[i].state == W_YIELD)
      worker_leave(&r->workers[i]);
  for (i = 0; i < r->nworkers; i++)
    if (r->workers[i].task)
      corun__task_cancel(r->workers[i].task, CORUN_STATUS_CANCELLED, how);
  r->in_stop = 0;
  maybe_end(p);
}

static int setup(struct pl *p)
{
  struct pl_conf *c = p->c;
  struct pl_run *r = p->r;
  uint32_t i, j, n = 0;

  for (i = 0; i < c->nstages; i++)
    n += c->stages[i].workers;
  r->st = calloc(c->nstages, sizeof(*r->st));
  r->workers = calloc(n, sizeof(*r->workers));
  r->prod = calloc(c->producers, sizeof(*r->prod));
  if (r->st == NULL || r->workers == NULL || r->prod == NULL)
    return ENOMEM;
  r->nworkers = n;
  r->lines.fd = -1;
  r->rng = (uv_hrtime() ^ (uintptr_t)p) | 1;
  for (i = 0, n = 0; i < c->nstages; i++) {
    struct stage_run *st = &r->st[i];
    struct corun_buf b = CORUN_BUF_INIT;

    if (corun_queue_init(&st->q, c->stages[i].maxsize, c->stages[i].order) <
        0)
      return ENOMEM;
    corun_buf_printf(&b, "%s.%u.", p->base.id, i + 1);
    st->id_len = b.len;
    st->id_prefix = corun_buf_detach(&b);
    if (st->id_prefix == NULL)
      return ENOMEM;
    st->live = c->stages[i].workers;
    for (j = 0; j < c->stages[i].workers; j++, n++) {
      r->workers[n].pl = p;
      r->workers[n].stage = i;
      r->workers[n].no = n;
    }
  }
  for (i = 0; i < c->producers; i++)
    r->prod[i].pl = p;
  r->prod_live = c->producers;
  if (c->src == SRC_RANGE)
    r->total = range_count(c);
  else if (c->src == SRC_ITEMS)
    r->total = (uint64_t)cJSON_GetArraySize(c->items);
  else if ((r->lines.chunk = malloc(READ_CHUNK)) == NULL)
    return ENOMEM;
  return results_open(p);
}

static void start(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;
  uint32_t i;
  int e;

  p->r = calloc(1, sizeof(*p->r));
  if (p->r == NULL) {
    corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "out of memory");
    return;
  }
  p->r->file = (struct corun_outfile)CORUN_OUTFILE_INIT;
  if (p->c->results) {
    struct corun_buf why = CORUN_BUF_INIT;

    /* As a fetch's "save": the results file's directory is made. */
    if (corun__outfile_mkdirs(p->c->results, t->run->root, &why) < 0) {
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO, "%s",
                         corun_buf_str(&why));
      corun_buf_free(&why);
      return;
    }
  }
  e = setup(p);
  if (e) {
    if (p->c->results && e != ENOMEM)
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "cannot write %s: %s", p->c->results,
                         corun__confine_strerror(e));
    else
      corun__task_finish(t, CORUN_STATUS_FAILED, CORUN_ERR_IO,
                         "out of memory");
    return;
  }
  p->r->started = 1;
  if (t->run->opts.trace) {
    p->r->sample_ms = SAMPLE_MS;
    p->r->sampler.data = t;
    sample_due(&p->r->sampler);
  }
  /* Workers first, so the first items go straight to them. */
  for (i = 0; i < p->r->nworkers && t->state == CORUN_STATE_RUNNING; i++)
    worker_loop(&p->r->workers[i]);
  for (i = 0; i < p->c->producers && t->state == CORUN_STATE_RUNNING; i++)
    produce(&p->r->prod[i]);
  if (p->c->producers == 0)
    maybe_end(p);
}

static void resume(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;
  struct pl_run *r = p->r;
  uint32_t i;

  for (i = 0; i < r->nworkers && t->state == CORUN_STATE_RUNNING; i++)
    if (r->workers[i].state == W_YIELD) {
      r->workers[i].state = W_IDLE;
      worker_loop(&r->workers[i]);
    }
  for (i = 0; i < p->c->producers && t->state == CORUN_STATE_RUNNING; i++)
    if (r->prod[i].state == P_YIELD) {
      r->prod[i].state = P_IDLE;
      produce(&r->prod[i]);
    }
}

static void cancel(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;

  stop(p, (t->flags & CORUN_TF_FORCE) ? CORUN_CANCEL_FORCE
                                      : CORUN_CANCEL_OUTSIDE);
}

/* ---- reporting ---- */

static void describe(const struct corun_task *t, uint64_t now_ms,
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
    corun_buf_printf(out, "%.6f", hist_pct(h, pct));
}

static void result(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;
  struct pl_run *r = p->r;
  double secs, span;
  uint32_t i;

  (void)sec;
  if (r == NULL || t->t_start == CORUN_NO_TIME) {
    corun_buf_puts(out, "null");
    return;
  }
  secs = (double)((t->t_end != CORUN_NO_TIME ? t->t_end
                                             : corun__now_ns(t->run)) -
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
    corun_buf_printf(out, ", \"items_per_s\": %.3f}",
                     (double)st->processed / (span < 1e-3 ? 1e-3 : span));
  }
  corun_buf_puts(out, "]}");
}

static void summary(const struct corun_task *t, struct corun_buf *out)
{
  const struct pl *p = (const struct pl *)t;

  if (p->r)
    corun_buf_printf(out, "%llu item%s: %llu ok, %llu failed, %llu cancelled",
                     (unsigned long long)p->r->entered,
                     p->r->entered == 1 ? "" : "s",
                     (unsigned long long)p->r->ok,
                     (unsigned long long)p->r->failed,
                     (unsigned long long)p->r->cancelled);
}

static void progress(const struct corun_task *t, double elapsed,
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
    total = r->total;
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

static void release(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;
  struct pl_conf *c = p->c;
  struct pl_run *r = p->r;
  uint32_t i;

  if (r) {
    for (i = 0; i < r->nworkers; i++)
      if (r->workers[i].dead)
        corun__instance_free(r->workers[i].dead);
    for (i = 0; r->st && c && i < c->nstages; i++) {
      corun_queue_free(&r->st[i].q, NULL, NULL);
      free(r->st[i].hist.exact);
      free(r->st[i].hist.bucket);
      free(r->st[i].id_prefix);
    }
    corun__outfile_abort(&r->file);
    corun_buf_free(&r->out);
    corun_buf_free(&r->lines.buf);
    free(r->lines.chunk);
    free(r->fail_msg);
    free(r->first_fail);
    free(r->samples);
    free(r->st);
    free(r->workers);
    free(r->prod);
    free(r);
  }
  if (c) {
    for (i = 0; c->stages && i < c->nstages; i++)
      corun__tmpl_free(&c->stages[i].tmpl);
    free(c->stages);
    cJSON_Delete(c->items);
    free(c->lines);
    free(c->results);
    free(c);
  }
}

const struct corun_kind corun_kind_pipeline = {
    .name = "pipeline",
    .size = sizeof(struct pl),
    .fields = fields,
    .parse = parse,
    .start = start,
    .resume = resume,
    .cancel = cancel,
    .child_done = child_done,
    .describe = describe,
    .result = result,
    .summary = summary,
    .trace = trace,
    .progress = progress,
    .free = release,
};
