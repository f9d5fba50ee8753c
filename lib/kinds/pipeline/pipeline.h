/* SPDX-License-Identifier: MIT */
/*
 * The pipeline kind's own header, for its files and no one else's: the
 * configuration the parser fills, the run's state, and what each room of
 * the runtime offers the others.
 *
 *   source.c    items, their values, the items and range sources
 *   lines.c     the lines source: a file, pipe or standard input by chunks
 *   producer.c  producers: source -> delay -> rate -> the first queue
 *   worker.c    workers: queue -> item task -> next queue or the end
 *   results.c   the results file
 *   stats.c     duration histograms and --trace queue samples
 *   report.c    what the pipeline tells: dump, result, summary, progress
 *   run.c       start, stop, end
 *
 * Nothing here grows with the number of items: the source is read as it
 * goes (a range is counted, lines are read in chunks), queues are bounded,
 * each worker holds one item, durations go into fixed histograms, and what
 * each item came to is written to the results file, not kept.
 */
#ifndef CORUN_KINDS_PIPELINE_H
#define CORUN_KINDS_PIPELINE_H

#include <stdint.h>
#include <string.h>
#include <uv.h>

#include "core/instance.h"
#include "core/task.h"
#include "sched/queue.h"
#include "sched/rate.h"
#include "sched/timer.h"
#include "util/buf.h"
#include "util/error.h"
#include "util/outfile.h"

/* SRC_FROM: the array a fetch captured, known once the pipeline starts. */
enum src_type { SRC_ITEMS, SRC_RANGE, SRC_LINES, SRC_FROM };

/* A line longer than this fails the source rather than eat memory. */
#define MAX_LINE (64u << 20)
#define READ_CHUNK (64u << 10)
/*
 * Items a producer puts, or a worker fails to make tasks for, in one go
 * before the pipeline gives way to the rest of the run (the ready queue):
 * those never pass through it on their own.
 */
#define BATCH_ITEMS 256
/* Workers over all stages, at most: each costs memory up front. */
#define MAX_WORKERS 1000000

struct stage_conf {
  struct corun_tmpl tmpl;
  char *name; /* its task's "name", item names unfilled, or NULL */
  uint32_t workers;
  size_t maxsize;
  enum corun_qorder order;
};

struct pl_conf {
  enum src_type src;
  cJSON *items;
  int items_fill; /* items hold templates: captures, $${; filled at start */
  char *from; /* SRC_FROM: the capture, "ID.NAME" */
  long long start, stop, step;
  char *lines;
  int lines_stdin; /* "lines": "-": corun's standard input */
  uint32_t producers;
  double delay_min_ms, delay_max_ms;
  double interval_ms; /* rate: ms between two items; 0 for none */
  int cancel_on_error;
  int junit_items; /* "junit": "items": a test case per item */
  char *results;
  /*
   * "shard": true: where it stands (0: not asked). Under --shard the
   * pipeline runs the items i with i % shard_total == shard_index - 1;
   * shard_total 0: every item.
   */
  size_t shard_off;
  uint32_t shard_index, shard_total;
  uint32_t nstages;
  struct stage_conf *stages;
};

/* Exact percentiles up to this many samples; a histogram past it. */
#define EXACT_MAX 4096
/* Histogram: 32 linear steps per power of two, about 3% wide. */
#define HIST_SUB 32
#define HIST_N (64 * HIST_SUB)

struct hist {
  uint64_t n;
  uint64_t *exact; /* the first EXACT_MAX samples, ns */
  uint64_t *bucket;
};

struct pl;

enum worker_state { W_IDLE, W_GETTING, W_RUNNING, W_PUTTING, W_YIELD, W_DONE };

struct worker {
  struct pl *pl;
  uint32_t stage;
  uint32_t no;             /* number over all stages: an instance's index */
  enum worker_state state; /* changed by worker.c's worker_set() only */
  struct corun_qwaiter w;
  struct corun_qitem cur;
  struct corun_task *task; /* running, or NULL */
  struct corun_task *dead; /* the last one ended, freed later */
};

enum producer_state {
  P_IDLE,
  P_DELAY,
  P_RATE,
  P_SOURCE,
  P_PUTTING,
  P_YIELD,
  P_DONE
};

struct producer {
  struct pl *pl;
  enum producer_state state; /* changed by producer.c only */
  int delayed;               /* this item's delay is over */
  int token;                 /* the rate's timer got this producer a token */
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

/* "junit": "items": what one item came to, for its test case. */
struct pl_case {
  char *name;
  char *msg; /* NULL when it ended ok */
  uint64_t index;
  uint64_t dur_ns;
  uint8_t status;
  uint8_t err_type;
};

/* Failed items a pipeline's own JUnit message names, at most. */
#define FAIL_NAMES 20
/* Bytes of an item's text in that message, at most. */
#define FAIL_NAME_MAX 80

struct pl_run {
  const char *root;                /* the job's --root, or NULL */
  const struct corun_secrets *sec; /* the job's, for the results file */
  struct stage_run *st;
  struct worker *workers;
  uint32_t nworkers;
  struct producer *prod;
  uint32_t prod_live;
  uint64_t next;       /* the next index the source gives */
  const cJSON *items;  /* items and from: the array */
  cJSON *filled;       /* items with their captures filled, owned */
  const cJSON *cursor; /* items: the next one (a list, not an array) */
  uint64_t total;      /* items and range: how many there are */
  struct lines_src lines;
  uint64_t entered, ok, failed, cancelled;
  uint32_t running; /* item tasks not yet ended */
  int stopping;
  int in_stop; /* stop() is at work: the end waits for it */
  int started;
  enum corun_errtype fail_type;
  char *fail_msg;   /* why the pipeline fails on its own */
  int fail_set;     /* it does: even when fail_msg could not be kept */
  char *first_fail; /* the first failed item and why, for the message */
  char *fail_names[FAIL_NAMES]; /* the first failed items, for JUnit */
  uint64_t fail_index[FAIL_NAMES]; /* their item indexes */
  uint32_t nfail_names;
  struct pl_case *cases; /* "junit": "items": one per item that ended */
  size_t ncases, capcases;
  struct corun_rate rate; /* "rate"; ms of the run clock in ns / 1e6 */
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

/* ---- source.c: items and their values ---- */

/*
 * Stand-ins for the item's value while it has no JSON of its own; one
 * address each for the whole program, so they live in source.c.
 */
extern const char corun__pl_range_mark, corun__pl_null_mark;
#define V_RANGE ((void *)&corun__pl_range_mark) /* start + index * step */
#define V_NULL ((void *)&corun__pl_null_mark)   /* JSON null */

/* What a source says when asked for the next item. */
enum { SRC_GOT, SRC_DRY, SRC_WAIT, SRC_ERR };

/* Inline: every item passes through these, some more than once. */
static inline int64_t corun__pl_range_value(const struct pl_conf *c,
                                            uint64_t index)
{
  return c->start + (int64_t)index * c->step;
}

/* The item's value as JSON; scratch holds stand-ins. */
static inline const cJSON *corun__pl_value_json(const struct pl *p, void *v,
                                                uint64_t index, cJSON *scratch)
{
  if (v != V_RANGE && v != V_NULL)
    return v;
  memset(scratch, 0, sizeof(*scratch));
  if (v == V_NULL) {
    scratch->type = cJSON_NULL;
    return scratch;
  }
  scratch->type = cJSON_Number;
  scratch->valuedouble = (double)corun__pl_range_value(p->c, index);
  return scratch;
}

static inline void corun__pl_drop_value(void *v)
{
  if (v != V_RANGE && v != V_NULL)
    cJSON_Delete(v);
}

/* The item's priority: itself if a number, else its "priority" field. */
static inline double corun__pl_key_of(const struct pl *p, void *v,
                                      uint64_t index)
{
  const cJSON *j, *pr;
  cJSON scratch;

  j = corun__pl_value_json(p, v, index, &scratch);
  if (cJSON_IsNumber(j))
    return j->valuedouble;
  pr = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "priority")
                         : NULL;
  return cJSON_IsNumber(pr) ? pr->valuedouble : 0.0;
}

static inline void corun__pl_item_free(struct corun_qitem *it)
{
  corun__pl_drop_value(it->value);
  if (it->origin)
    corun__pl_drop_value(it->origin);
  it->value = it->origin = NULL;
}

/* Whether item index is one of this shard's (always, unsharded). */
static inline int corun__pl_mine(const struct pl_conf *c, uint64_t index)
{
  return c->shard_total == 0 || index % c->shard_total == c->shard_index - 1;
}

/* Of n items, how many are this shard's. */
static inline uint64_t corun__pl_mine_of(const struct pl_conf *c, uint64_t n)
{
  if (c->shard_total == 0)
    return n;
  return n / c->shard_total + (n % c->shard_total >= c->shard_index ? 1 : 0);
}

/* How many items a range gives (Python's len(range(...))). */
uint64_t corun__pl_range_count(const struct pl_conf *c);
/* Count the items, or get the lines buffer. 0 or an errno. */
CORUN_MUST_CHECK int corun__pl_source_init(struct pl *p);
/* The next item into it: SRC_GOT, SRC_DRY, SRC_WAIT (lines) or SRC_ERR. */
int corun__pl_source_next(struct pl *p, struct corun_qitem *it);
/* Whether the source has run dry for good. */
int corun__pl_source_dry(const struct pl *p);

/* ---- lines.c ---- */

/*
 * Whether a whole line may not be there yet: then a read is started and
 * pr waits for it (1); 0 when pr can ask the source now, or the source
 * failed (lines.err says why).
 */
int corun__pl_lines_wait(struct pl *p, struct producer *pr);
/* The next non-empty line as a JSON string: SRC_GOT, DRY, WAIT or ERR. */
int corun__pl_lines_next(struct pl *p, cJSON **out);
/* Stop waiting for the source: nobody wants its lines any more. */
void corun__pl_lines_stop(struct pl *p);
/* Stop reading and let go of the file. */
void corun__pl_lines_close(struct pl *p);

/* ---- producer.c ---- */

/* Put items into the first queue until it waits, yields or is done. */
void corun__pl_produce(struct producer *pr);
/* A line came for pr, which waited for one. */
void corun__pl_producer_wake(struct producer *pr);
/* Go on from a yield. */
void corun__pl_producers_resume(struct pl *p);
/* Stop every producer, cancelling the item one was putting. */
void corun__pl_producers_stop(struct pl *p);

/* ---- worker.c ---- */

/* Take items until one runs, the queue is empty, or it closed. */
void corun__pl_worker_loop(struct worker *w);
/* Leave for good: the last of a stage closes the next queue. */
void corun__pl_worker_leave(struct worker *w);
/* Go on from a yield. */
void corun__pl_workers_resume(struct pl *p);
/* Send away the workers that wait for nothing (not started, yielded). */
void corun__pl_workers_leave_idle(struct pl *p);
/* Cancel the running item tasks. */
void corun__pl_workers_cancel(struct pl *p, enum corun_cancel_how how);
/* The kind's child_done: an item task ended. */
void corun__pl_child_done(struct corun_task *t, struct corun_task *c);

/*
 * An item ended (status, and why when not ok: type and msg): what JUnit
 * shows of it. Before the item is freed.
 */
void corun__pl_note_item(struct pl *p, const struct corun_qitem *it,
                         enum corun_status status, enum corun_errtype type,
                         const char *msg, uint64_t dur_ns);
/* Whether an item passed on should keep its source value (origin). */
static inline int corun__pl_keeps_origin(const struct pl *p)
{
  return p->r->file.fd >= 0 || p->c->junit_items ||
         p->r->nfail_names < FAIL_NAMES;
}

/* ---- results.c ---- */

/* Make the results file's directory. 0, or -1 with why. */
CORUN_MUST_CHECK int corun__pl_results_mkdirs(struct pl *p,
                                              struct corun_buf *why);
/* Open the results file, if any. 0 or an errno. */
CORUN_MUST_CHECK int corun__pl_results_open(struct pl *p);
/* Put the results in place. Returns 0 or an errno. */
CORUN_MUST_CHECK int corun__pl_results_commit(struct pl *p);
void corun__pl_results_write(struct pl *p, const struct corun_qitem *it,
                             enum corun_status status,
                             const struct corun_task *t,
                             enum corun_errtype type, const char *msg);

/*
 * One line for an item that left the pipeline. t is the task it ended in,
 * or NULL (cancelled while waiting, or its task could not be made: then
 * type and msg say why). Nothing without a results file.
 */
static inline void
corun__pl_results_line(struct pl *p, const struct corun_qitem *it,
                       enum corun_status status, const struct corun_task *t,
                       enum corun_errtype type, const char *msg)
{
  if (p->r->file.fd >= 0)
    corun__pl_results_write(p, it, status, t, type, msg);
}

/* ---- stats.c ---- */

void corun__pl_hist_add(struct hist *h, uint64_t ns);
/* Nearest-rank percentile p (0..100) in seconds; sorts the samples. */
double corun__pl_hist_pct(struct hist *h, double p);
void corun__pl_hist_free(struct hist *h);
/*
 * The bucket of a duration of v ns, and the middle of bucket i in ns: what
 * a percentile past EXACT_MAX samples reports.
 */
size_t corun__pl_hist_index(uint64_t v);
double corun__pl_hist_value(size_t i);
/*
 * h as the report's "hist": {"n", "exact": [ns, ...]} while it holds at
 * most EXACT_MAX samples (sorted once a percentile was taken), else {"n",
 * "buckets": [[i, count], ...]} for the buckets in use: enough for corun
 * merge to compute the percentiles one run over all items would.
 */
void corun__pl_hist_write(struct corun_buf *out, const struct hist *h);
/* --trace: sample the queue lengths every few ms from now on. */
void corun__pl_samples_start(struct pl *p);
/* The last sample, and no more. */
void corun__pl_samples_stop(struct pl *p);

/* ---- report.c: the kind's hooks ---- */

void corun__pl_describe(const struct corun_task *t, uint64_t now_ms,
                        struct corun_buf *out);
void corun__pl_result(const struct corun_task *t,
                      const struct corun_secrets *sec, struct corun_buf *out);
void corun__pl_summary(const struct corun_task *t, struct corun_buf *out);
void corun__pl_dry(const struct corun_task *t, const struct corun_secrets *sec,
                   struct corun_buf *out);
void corun__pl_progress(const struct corun_task *t, double elapsed,
                        struct corun_buf *out);
void corun__pl_trace(const struct corun_task *t, int tid,
                     const struct corun_secrets *sec, struct corun_buf *out);
size_t corun__pl_cases(const struct corun_task *t, size_t i,
                       struct corun_case *c);
void corun__pl_case_detail(const struct corun_task *t, struct corun_buf *out);
/* Put the item cases and the failed items' names in source order, as the
 * pipeline ends. */
void corun__pl_cases_sort(struct pl *p);

/* ---- run.c ---- */

void corun__pl_start(struct corun_task *t);
void corun__pl_resume(struct corun_task *t);
void corun__pl_cancel(struct corun_task *t);
/* The run's state, all of it (the configuration is the parser's). */
void corun__pl_run_free(struct pl *p);
/* End the pipeline if nothing is left at work. */
void corun__pl_maybe_end(struct pl *p);
/* Stop early: cancel what runs, count what waits as cancelled. */
void corun__pl_stop(struct pl *p, enum corun_cancel_how how);
/* The pipeline fails on its own account; stop everything. */
void corun__pl_fail(struct pl *p, enum corun_errtype type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* An item that will go no further: cancelled where it waited. */
void corun__pl_item_cancelled(struct pl *p, struct corun_qitem *it);
/* Let the rest of the run go; resume() picks the pipeline up after. */
void corun__pl_give_way(struct pl *p);

#endif
