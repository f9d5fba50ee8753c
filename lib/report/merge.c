/* SPDX-License-Identifier: MIT */
/*
 * corun merge: N shard reports (each from a run with --shard K/N) joined
 * into the outputs one run of the whole job would have written.
 *
 * Each report is read twice, a task entry at a time (scan.c), never
 * whole: the first pass checks it (a corun report, a shard of the same
 * job, which root tasks it ran, how its tasks ended) and reads everything
 * but "tasks"; once every report passed, the second pass deals the task
 * entries out in file order, by root position, k-way: a root and its
 * subtree are copied as their shard wrote them; a pipeline split by item
 * (it is in every shard at one root position) becomes one entry whose
 * counts are added up and whose percentiles come from the stages'
 * histograms added up. JUnit, HTML and the trace are written by the run's
 * own reporters from a run rebuilt out of the merged entries (replay.c),
 * made only when one of them is asked for.
 *
 * Nothing is written unless every report is good: the outputs go through
 * util/outfile and are committed only at the end.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "corun.h"
#include "report/merge.h"
#include "report/report.h"
#include "kinds/pipeline/pipeline.h"
#include "core/kind.h"
#include "core/task.h"
#include "util/outfile.h"

/* What a root task entry of a report is, for the deal. */
enum { R_PIPELINE = 1 };

struct part {
  const char *path;
  struct mscan s;
  cJSON *head; /* every top-level field but "tasks" */
  long index, total;
  const char *hash;
  uint32_t *roots; /* "shard"."roots": root positions, in entry order */
  size_t nroots;
  uint8_t *rflags;  /* per root entry: R_PIPELINE */
  uint8_t *rstatus; /* per root entry: enum corun_status */
  size_t nrentries;
  size_t rcap;
  unsigned long counts[CORUN_STATUS_SKIPPED + 1];
  off_t tasks_off;
  unsigned long tasks_line, tasks_col;
  int exit_code; /* -1: null */
  int cancelled; /* status "cancelled": interrupted or --timeout */
  /* The deal: the entry looked at, parsed, not yet consumed. */
  cJSON *cur;
  size_t curlen;
  size_t next_root; /* entries of roots dealt so far */
  int ended;
};

struct merge {
  const struct corun_merge_opts *o;
  struct part *parts; /* in shard order once checked */
  size_t n;
  struct corun_buf *diag;
  int bad;
  size_t npos;     /* root positions */
  int32_t *owner;  /* per position: the part, or -1 when shared by all */
  uint8_t *pstatus; /* per shared position: its merged status */
  const char *started_at;
  double duration;
  int exit_code;
  const char *status;
  const char *job;
  unsigned long counts[CORUN_STATUS_SKIPPED + 1];
  struct replay *replay;
};

static void problem(struct merge *m, const char *path, unsigned long line,
                    unsigned long col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void problem(struct merge *m, const char *path, unsigned long line,
                    unsigned long col, const char *fmt, ...)
{
  va_list ap;

  if (path && line)
    corun_buf_printf(m->diag, "%s:%lu:%lu: error: ", path, line, col);
  else if (path)
    corun_buf_printf(m->diag, "%s: error: ", path);
  else
    corun_buf_puts(m->diag, "error: ");
  va_start(ap, fmt);
  corun_buf_vprintf(m->diag, fmt, ap);
  va_end(ap);
  corun_buf_putc(m->diag, '\n');
  m->bad = 1;
}

static int status_of(const char *s)
{
  int i;

  for (i = CORUN_STATUS_OK; s && i <= CORUN_STATUS_SKIPPED; i++)
    if (strcmp(s, corun__task_status_name((enum corun_status)i)) == 0)
      return i;
  return CORUN_STATUS_NONE;
}

/* ---- the first pass --------------------------------------------------- */

/* Parse the value of len bytes at the window's start; report where it breaks. */
static cJSON *parse_here(struct merge *m, struct part *p, size_t len)
{
  const char *end = NULL, *at = p->s.buf + p->s.beg;
  cJSON *v = cJSON_ParseWithLengthOpts(at, len, &end, 0);
  unsigned long line, col;

  if (v)
    return v;
  corun__mscan_where(&p->s, end && end >= at ? (size_t)(end - at) : 0, &line,
                     &col);
  problem(m, p->path, line, col, "not a corun report: invalid JSON");
  return NULL;
}

/* The next value, parsed and consumed; NULL (reported) when it is none. */
static cJSON *next_value(struct merge *m, struct part *p)
{
  const char *why;
  size_t len, at;
  unsigned long line, col;
  cJSON *v;

  corun__mscan_peek(&p->s);
  if (corun__mscan_value(&p->s, &len, &why, &at) < 0) {
    corun__mscan_where(&p->s, at, &line, &col);
    problem(m, p->path, line, col, "not a corun report: %s", why);
    return NULL;
  }
  v = parse_here(m, p, len);
  if (v)
    corun__mscan_take(&p->s, len);
  return v;
}

/* The next byte must be c: consumed; else the report is broken there. */
static int expect(struct merge *m, struct part *p, const char *what,
                  const char *chars)
{
  int c = corun__mscan_peek(&p->s);

  if (c >= 0 && strchr(chars, c)) {
    corun__mscan_take(&p->s, 1);
    return c;
  }
  problem(m, p->path, p->s.line, p->s.col, "not a corun report: %s", what);
  return -1;
}

static int note_root(struct part *p, uint8_t flags, uint8_t status)
{
  if (p->nrentries == p->rcap) {
    size_t ncap = p->rcap ? p->rcap * 2 : 64;
    uint8_t *f = realloc(p->rflags, ncap), *s;

    if (f == NULL)
      return -1;
    p->rflags = f;
    s = realloc(p->rstatus, ncap);
    if (s == NULL)
      return -1;
    p->rstatus = s;
    p->rcap = ncap;
  }
  p->rflags[p->nrentries] = flags;
  p->rstatus[p->nrentries++] = status;
  return 0;
}

/* One task entry of the first pass: checked and counted. */
static int check_entry(struct merge *m, struct part *p, const cJSON *e,
                       unsigned long line, unsigned long col, size_t nth)
{
  const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"),
              *kind = cJSON_GetObjectItemCaseSensitive(e, "kind"),
              *parent = cJSON_GetObjectItemCaseSensitive(e, "parent");
  int st = status_of(
      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "status")));

  if (!cJSON_IsObject(e) || !cJSON_IsString(id) || !cJSON_IsString(kind) ||
      !(cJSON_IsString(parent) || cJSON_IsNull(parent)) ||
      st == CORUN_STATUS_NONE) {
    problem(m, p->path, line, col,
            "not a corun report: task %zu has no \"id\", \"kind\", "
            "\"parent\" or \"status\" as a report's task has",
            nth + 1);
    return -1;
  }
  if (corun__kind_find(kind->valuestring) == NULL) {
    problem(m, p->path, line, col, "task \"%s\" is of an unknown kind \"%s\"",
            id->valuestring, kind->valuestring);
    return -1;
  }
  if (nth == 0 && !cJSON_IsNull(parent)) {
    problem(m, p->path, line, col,
            "task \"%s\" comes first but is not a root task", id->valuestring);
    return -1;
  }
  p->counts[st]++;
  if (cJSON_IsNull(parent) &&
      note_root(p, strcmp(kind->valuestring, "pipeline") == 0 ? R_PIPELINE : 0,
                (uint8_t)st) < 0) {
    problem(m, p->path, 0, 0, "out of memory");
    return -1;
  }
  return 0;
}

/* The "tasks" array of the first pass: every entry checked, none kept. */
static int scan_tasks(struct merge *m, struct part *p)
{
  size_t nth = 0;
  int c;

  if (expect(m, p, "\"tasks\" is not an array", "[") < 0)
    return -1;
  p->tasks_off = corun__mscan_tell(&p->s);
  p->tasks_line = p->s.line;
  p->tasks_col = p->s.col;
  if (corun__mscan_peek(&p->s) == ']') {
    corun__mscan_take(&p->s, 1);
    return 0;
  }
  for (;; nth++) {
    unsigned long line, col;
    cJSON *e;
    int rc;

    if (corun__mscan_peek(&p->s) < 0) {
      problem(m, p->path, p->s.line, p->s.col,
              "not a corun report: the file ends inside \"tasks\"");
      return -1;
    }
    line = p->s.line;
    col = p->s.col;
    if ((e = next_value(m, p)) == NULL)
      return -1;
    rc = check_entry(m, p, e, line, col, nth);
    cJSON_Delete(e);
    if (rc < 0)
      return -1;
    c = expect(m, p, "\",\" or \"]\" expected after a task", ",]");
    if (c < 0)
      return -1;
    if (c == ']')
      return 0;
  }
}

/* The report's own fields, then whether it is a shard report. */
static int check_head(struct merge *m, struct part *p)
{
  const cJSON *v, *sh, *r;
  size_t i;

  v = cJSON_GetObjectItemCaseSensitive(p->head, "corun");
  if (!cJSON_IsNumber(v) || v->valuedouble != 1 ||
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p->head, "job")) ||
      !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(p->head, "status")) ||
      !cJSON_IsString(
          cJSON_GetObjectItemCaseSensitive(p->head, "started_at")) ||
      !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(p->head, "duration"))) {
    problem(m, p->path, 1, 1,
            "not a corun report: \"corun\": 1, \"job\", \"status\", "
            "\"started_at\" or \"duration\" is missing");
    return -1;
  }
  sh = cJSON_GetObjectItemCaseSensitive(p->head, "shard");
  if (sh == NULL) {
    problem(m, p->path, 0, 0,
            "not a shard report: it has no \"shard\" (a run with --shard "
            "K/N writes one)");
    return -1;
  }
  v = cJSON_GetObjectItemCaseSensitive(sh, "index");
  p->index = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
  v = cJSON_GetObjectItemCaseSensitive(sh, "total");
  p->total = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
  p->hash = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, "job_hash"));
  r = cJSON_GetObjectItemCaseSensitive(sh, "roots");
  if (p->index < 1 || p->total < p->index || p->total > 100000 ||
      p->hash == NULL || !cJSON_IsArray(r)) {
    problem(m, p->path, 0, 0,
            "\"shard\" needs \"index\" K and \"total\" N (1 <= K <= N), "
            "\"job_hash\" and \"roots\"");
    return -1;
  }
  p->nroots = (size_t)cJSON_GetArraySize(r);
  p->roots = malloc((p->nroots ? p->nroots : 1) * sizeof(*p->roots));
  if (p->roots == NULL) {
    problem(m, p->path, 0, 0, "out of memory");
    return -1;
  }
  i = 0;
  cJSON_ArrayForEach(v, r)
  {
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 ||
        v->valuedouble > (double)UINT32_MAX - 1 ||
        v->valuedouble != floor(v->valuedouble) ||
        (i > 0 && v->valuedouble <= p->roots[i - 1])) {
      problem(m, p->path, 0, 0,
              "\"shard\".\"roots\" must be root positions in ascending order");
      return -1;
    }
    p->roots[i++] = (uint32_t)v->valuedouble;
  }
  if (p->nroots != p->nrentries) {
    problem(m, p->path, 0, 0,
            "\"shard\".\"roots\" names %zu root tasks but \"tasks\" holds %zu",
            p->nroots, p->nrentries);
    return -1;
  }
  v = cJSON_GetObjectItemCaseSensitive(p->head, "exit_code");
  p->exit_code = cJSON_IsNumber(v) ? (int)v->valuedouble : -1;
  p->cancelled = strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                            p->head, "status")),
                        "cancelled") == 0;
  return 0;
}

/* First pass over one report. */
static int read_head(struct merge *m, struct part *p)
{
  int e = corun__mscan_open(&p->s, p->path), seen_tasks = 0, c;

  if (e) {
    problem(m, p->path, 0, 0, "cannot read it: %s", strerror(e));
    return -1;
  }
  p->head = cJSON_CreateObject();
  if (p->head == NULL) {
    problem(m, p->path, 0, 0, "out of memory");
    return -1;
  }
  if (expect(m, p, "it does not begin with a JSON object", "{") < 0)
    return -1;
  if (corun__mscan_peek(&p->s) == '}') {
    corun__mscan_take(&p->s, 1);
  } else {
    for (;;) {
      cJSON *k, *v;
      char *key;

      if ((k = next_value(m, p)) == NULL)
        return -1;
      if (!cJSON_IsString(k)) {
        cJSON_Delete(k);
        problem(m, p->path, p->s.line, p->s.col,
                "not a corun report: a key was expected");
        return -1;
      }
      key = k->valuestring;
      if (expect(m, p, "\":\" expected", ":") < 0 ||
          corun__mscan_peek(&p->s) < 0) {
        cJSON_Delete(k);
        if (!m->bad)
          problem(m, p->path, p->s.line, p->s.col,
                  "not a corun report: the file ends after a key");
        return -1;
      }
      if (strcmp(key, "tasks") == 0) {
        cJSON_Delete(k);
        if (seen_tasks++ || scan_tasks(m, p) < 0) {
          if (!m->bad)
            problem(m, p->path, p->s.line, p->s.col, "\"tasks\" twice");
          return -1;
        }
      } else {
        if ((v = next_value(m, p)) == NULL) {
          cJSON_Delete(k);
          return -1;
        }
        cJSON_AddItemToObject(p->head, key, v);
        cJSON_Delete(k);
      }
      c = expect(m, p, "\",\" or \"}\" expected", ",}");
      if (c < 0)
        return -1;
      if (c == '}')
        break;
    }
  }
  if (corun__mscan_peek(&p->s) >= 0) {
    problem(m, p->path, p->s.line, p->s.col,
            "not a corun report: text after the report's object");
    return -1;
  }
  if (p->s.err) {
    problem(m, p->path, 0, 0, "cannot read it: %s", strerror(p->s.err));
    return -1;
  }
  if (!seen_tasks) {
    problem(m, p->path, 1, 1, "not a corun report: it has no \"tasks\"");
    return -1;
  }
  return check_head(m, p);
}

static int by_index(const void *a, const void *b)
{
  const struct part *x = a, *y = b;

  return x->index < y->index ? -1 : x->index > y->index;
}

/* Whether the reports are the N shards of one job; what goes where. */
static int check_set(struct merge *m)
{
  struct part *ps = m->parts;
  size_t i, k, pos;
  long n = ps[0].total;
  int ok = 1;

  for (i = 1; i < m->n; i++) {
    if (strcmp(ps[i].hash, ps[0].hash) != 0) {
      problem(m, NULL, 0, 0,
              "%s and %s are reports of different jobs (job_hash %.12s... "
              "and %.12s...)",
              ps[0].path, ps[i].path, ps[0].hash, ps[i].hash);
      return -1;
    }
    if (ps[i].total != n) {
      problem(m, NULL, 0, 0, "%s is shard %ld/%ld but %s is shard %ld/%ld",
              ps[0].path, ps[0].index, ps[0].total, ps[i].path, ps[i].index,
              ps[i].total);
      return -1;
    }
  }
  qsort(ps, m->n, sizeof(*ps), by_index);
  for (i = 1; i < m->n; i++)
    if (ps[i].index == ps[i - 1].index) {
      problem(m, NULL, 0, 0, "shard %ld/%ld is given twice: %s and %s",
              ps[i].index, n, ps[i - 1].path, ps[i].path);
      ok = 0;
    }
  for (k = 1, i = 0; (long)k <= n; k++) {
    while (i < m->n && ps[i].index < (long)k)
      i++;
    if (i == m->n || ps[i].index != (long)k) {
      problem(m, NULL, 0, 0, "shard %zu/%ld is missing", k, n);
      ok = 0;
    }
  }
  if (!ok)
    return -1;
  /* Every root position in exactly one report, or a split pipeline in all. */
  m->npos = 0;
  for (i = 0; i < m->n; i++)
    if (ps[i].nroots && ps[i].roots[ps[i].nroots - 1] + 1 > m->npos)
      m->npos = ps[i].roots[ps[i].nroots - 1] + 1;
  {
    size_t entries = 0;

    /* More positions than roots: some position is in no report. */
    for (i = 0; i < m->n; i++)
      entries += ps[i].nroots;
    if (m->npos > entries) {
      problem(m, NULL, 0, 0,
              "the reports name root task %zu (from 0) but hold only %zu "
              "root tasks: some are in no report",
              m->npos - 1, entries);
      return -1;
    }
  }
  m->owner = malloc((m->npos ? m->npos : 1) * sizeof(*m->owner));
  m->pstatus = calloc(m->npos ? m->npos : 1, 1);
  if (m->owner == NULL || m->pstatus == NULL) {
    problem(m, NULL, 0, 0, "out of memory");
    return -1;
  }
  for (pos = 0; pos < m->npos; pos++)
    m->owner[pos] = -2;
  for (i = 0; i < m->n; i++)
    for (k = 0; k < ps[i].nroots; k++) {
      uint32_t at = ps[i].roots[k];

      if (m->owner[at] == -2) {
        m->owner[at] = (int32_t)i;
      } else if (m->owner[at] >= 0 && (ps[i].rflags[k] & R_PIPELINE)) {
        m->owner[at] = -1; /* checked below: a pipeline in every shard */
      } else if (m->owner[at] != -1) {
        problem(m, NULL, 0, 0,
                "root task %u (from 0) is in both %s and %s",
                at, ps[m->owner[at]].path, ps[i].path);
        return -1;
      }
    }
  for (pos = 0; pos < m->npos; pos++)
    if (m->owner[pos] == -2) {
      problem(m, NULL, 0, 0, "root task %zu (from 0) is in no report", pos);
      return -1;
    }
  /* A shared position: in every report, as a pipeline each time. */
  for (i = 0; i < m->n; i++) {
    size_t at = 0;

    for (pos = 0; pos < m->npos; pos++) {
      int has;

      if (m->owner[pos] != -1)
        continue;
      while (at < ps[i].nroots && ps[i].roots[at] < pos)
        at++;
      has = at < ps[i].nroots && ps[i].roots[at] == pos;
      if (!has || !(ps[i].rflags[at] & R_PIPELINE)) {
        problem(m, NULL, 0, 0,
                "root task %zu (from 0) is in several reports but %s %s",
                pos, ps[i].path,
                has ? "has it as no pipeline" : "does not have it");
        return -1;
      }
    }
  }
  return 0;
}

/* ---- pipelines split by item --------------------------------------------- */

static double num(const cJSON *o, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

  return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void put_ms(struct corun_buf *out, long long ms)
{
  if (ms < 0)
    corun_buf_puts(out, "null");
  else
    corun_buf_printf(out, "%lld.%03lld", ms / 1000, ms % 1000);
}

static long long ms_field(const cJSON *e, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, k);

  return cJSON_IsNumber(v) && v->valuedouble >= 0
             ? llround(v->valuedouble * 1000.0)
             : -1;
}

/*
 * Stage i's durations over every part: the histogram one run would have
 * filled. Returns 0, or -1 when a part lacks one (a report of an older
 * corun): no percentile can be given then.
 */
static int stage_hist(cJSON **res, size_t n, int i, struct hist *h)
{
  size_t k;
  uint64_t total = 0;

  memset(h, 0, sizeof(*h));
  for (k = 0; k < n; k++) {
    const cJSON *st, *hj;

    if (res[k] == NULL)
      continue;
    st = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res[k], "stages"),
                            i);
    hj = cJSON_GetObjectItemCaseSensitive(st, "hist");
    if (!cJSON_IsObject(hj) || num(hj, "n") < 0)
      return -1;
    total += (uint64_t)num(hj, "n");
  }
  h->n = total;
  if (total <= EXACT_MAX)
    h->exact = malloc((total ? total : 1) * sizeof(*h->exact));
  else
    h->bucket = calloc(HIST_N, sizeof(*h->bucket));
  if (h->exact == NULL && h->bucket == NULL)
    return -1;
  total = 0;
  for (k = 0; k < n; k++) {
    const cJSON *hj, *ex, *bk, *v;

    if (res[k] == NULL)
      continue;
    hj = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res[k], "stages"),
                           i),
        "hist");
    ex = cJSON_GetObjectItemCaseSensitive(hj, "exact");
    bk = cJSON_GetObjectItemCaseSensitive(hj, "buckets");
    if (cJSON_IsArray(ex)) {
      if ((uint64_t)cJSON_GetArraySize(ex) != (uint64_t)num(hj, "n"))
        goto bad;
      cJSON_ArrayForEach(v, ex)
      {
        uint64_t ns = cJSON_IsNumber(v) && v->valuedouble > 0
                          ? (uint64_t)v->valuedouble
                          : 0;

        if (h->exact)
          h->exact[total++] = ns;
        else
          h->bucket[corun__pl_hist_index(ns)]++;
      }
    } else if (cJSON_IsArray(bk) && h->bucket) {
      cJSON_ArrayForEach(v, bk)
      {
        const cJSON *b = cJSON_GetArrayItem(v, 0), *c = cJSON_GetArrayItem(v, 1);

        if (!cJSON_IsNumber(b) || !cJSON_IsNumber(c) || b->valuedouble < 0 ||
            b->valuedouble >= HIST_N || c->valuedouble < 0)
          goto bad;
        h->bucket[(size_t)b->valuedouble] += (uint64_t)c->valuedouble;
      }
    } else {
      goto bad;
    }
  }
  return 0;
bad:
  corun__pl_hist_free(h);
  return -1;
}

/* The parts' results as one: counts added, percentiles of all durations. */
static void put_pl_result(struct corun_buf *out, cJSON **res, size_t n)
{
  const cJSON *first = NULL, *stages;
  double items = 0, ok = 0, failed = 0, cancelled = 0;
  size_t k;
  int i, nst;

  for (k = 0; k < n; k++) {
    if (res[k] == NULL)
      continue;
    if (first == NULL)
      first = res[k];
    items += num(res[k], "items");
    ok += num(res[k], "ok");
    failed += num(res[k], "failed");
    cancelled += num(res[k], "cancelled");
  }
  if (first == NULL) {
    corun_buf_puts(out, "null");
    return;
  }
  stages = cJSON_GetObjectItemCaseSensitive(first, "stages");
  nst = cJSON_GetArraySize(stages);
  corun_buf_printf(out,
                   "{\"items\": %.0f, \"ok\": %.0f, \"failed\": %.0f, "
                   "\"cancelled\": %.0f, \"stages\": [",
                   items, ok, failed, cancelled);
  for (i = 0; i < nst; i++) {
    double processed = 0, sfailed = 0, qmax = 0, rate = 0;
    struct hist h;
    int have;

    for (k = 0; k < n; k++) {
      const cJSON *st;

      if (res[k] == NULL)
        continue;
      st = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res[k], "stages"),
                              i);
      processed += num(st, "processed");
      sfailed += num(st, "failed");
      if (num(st, "queue_max") > qmax)
        qmax = num(st, "queue_max");
      /* The shards ran side by side: their rates add up. */
      rate += num(st, "items_per_s");
    }
    have = stage_hist(res, n, i, &h) == 0;
    corun_buf_printf(out,
                     "%s{\"processed\": %.0f, \"failed\": %.0f, "
                     "\"queue_max\": %.0f",
                     i ? ", " : "", processed, sfailed, qmax);
    if (have && h.n > 0)
      corun_buf_printf(out, ", \"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f",
                       corun__pl_hist_pct(&h, 50), corun__pl_hist_pct(&h, 90),
                       corun__pl_hist_pct(&h, 99));
    else
      corun_buf_puts(out, ", \"p50\": null, \"p90\": null, \"p99\": null");
    corun_buf_printf(out, ", \"items_per_s\": %.3f", rate);
    if (have) {
      corun_buf_puts(out, ", \"hist\": ");
      corun__pl_hist_write(out, &h);
      corun__pl_hist_free(&h);
    }
    corun_buf_putc(out, '}');
  }
  corun_buf_puts(out, "]}");
}

/*
 * The error of the whole pipeline: items that failed are counted over
 * every part ("F of N items failed; the first: ..." names, of the parts'
 * first failures, the one with the lowest item index); any other error
 * is the first part's that ended so.
 */
static void put_pl_error(struct corun_buf *out, cJSON **e, size_t n,
                         int status)
{
  double f = 0, items = 0;
  const char *first = NULL;
  unsigned long long first_at = 0;
  const cJSON *err = NULL;
  size_t k;
  int by_items = 1;

  for (k = 0; k < n; k++) {
    const cJSON *er = cJSON_GetObjectItemCaseSensitive(e[k], "error");
    const char *type = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(er, "type"));

    if (status_of(cJSON_GetStringValue(
            cJSON_GetObjectItemCaseSensitive(e[k], "status"))) != status)
      continue;
    if (err == NULL)
      err = er;
    if (type == NULL || strcmp(type, "child") != 0)
      by_items = 0;
  }
  if (status != CORUN_STATUS_FAILED || !by_items || err == NULL) {
    corun__json_write(out, err, NULL);
    return;
  }
  for (k = 0; k < n; k++) {
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(e[k], "result");
    const char *msg = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(e[k], "error"), "message"));

    f += num(res, "failed");
    items += num(res, "items");
    if (msg && strstr(msg, "; the first: ")) {
      const char *story = strstr(msg, "; the first: ") + 13;
      unsigned long long at;

      /*
       * Each part names its own first failure ("item I at stage S: ...");
       * the one with the lowest index is what one run, which meets its
       * items in that order, names too.
       */
      if (sscanf(story, "item %llu", &at) == 1 &&
          (first == NULL || at < first_at))
        first = story, first_at = at;
      else if (first == NULL)
        first = story, first_at = (unsigned long long)-1;
    }
  }
  corun_buf_puts(out, "{\"type\": \"child\", \"message\": ");
  {
    struct corun_buf m = CORUN_BUF_INIT;

    corun_buf_printf(&m, "%.0f of %.0f items failed", f, items);
    if (first)
      corun_buf_printf(&m, "; the first: %s", first);
    corun__json_write_str(out, corun_buf_str(&m), NULL);
    if (m.oom)
      out->oom = 1;
    corun_buf_free(&m);
  }
  corun_buf_putc(out, '}');
}

/* One entry for a pipeline split by item, as its run would write it. */
static void put_pipeline(struct corun_buf *out, cJSON **e, size_t n,
                         int status)
{
  cJSON **res = calloc(n, sizeof(*res));
  const cJSON *name = cJSON_GetObjectItemCaseSensitive(e[0], "name");
  long long start = -1, end = -1, queued = -1, attempts = 0;
  size_t k;
  int resumed = 0;

  if (res == NULL) {
    out->oom = 1;
    return;
  }
  for (k = 0; k < n; k++) {
    long long s = ms_field(e[k], "start"), t = ms_field(e[k], "end");
    cJSON *r = cJSON_GetObjectItemCaseSensitive(e[k], "result");

    res[k] = cJSON_IsObject(r) ? r : NULL;
    if (s >= 0 && (start < 0 || s < start)) {
      start = s;
      queued = ms_field(e[k], "queued");
    }
    if (t > end)
      end = t;
    if (num(e[k], "attempts") > attempts)
      attempts = (long long)num(e[k], "attempts");
    resumed |= cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e[k], "resumed"));
  }
  if (start < 0)
    queued = ms_field(e[0], "queued");
  corun_buf_puts(out, "{\"id\": ");
  corun__json_write(out, cJSON_GetObjectItemCaseSensitive(e[0], "id"), NULL);
  if (cJSON_IsString(name)) {
    corun_buf_puts(out, ", \"name\": ");
    corun__json_write(out, name, NULL);
  }
  corun_buf_printf(out,
                   ", \"kind\": \"pipeline\", \"parent\": null, \"status\": "
                   "\"%s\", \"queued\": ",
                   corun__task_status_name((enum corun_status)status));
  put_ms(out, queued);
  corun_buf_puts(out, ", \"start\": ");
  put_ms(out, start);
  corun_buf_puts(out, ", \"end\": ");
  put_ms(out, start >= 0 ? end : -1);
  corun_buf_puts(out, ", \"duration\": ");
  put_ms(out, start >= 0 && end >= start ? end - start : -1);
  corun_buf_printf(out, ", \"attempts\": %lld, \"result\": ", attempts);
  put_pl_result(out, res, n);
  corun_buf_puts(out, ", \"error\": ");
  if (status == CORUN_STATUS_OK)
    corun_buf_puts(out, "null");
  else
    put_pl_error(out, e, n, status);
  if (resumed)
    corun_buf_puts(out, ", \"resumed\": true");
  corun_buf_putc(out, '}');
  free(res);
}

static int index_cmp(const void *a, const void *b)
{
  double x = num(*(const cJSON *const *)a, "index"),
         y = num(*(const cJSON *const *)b, "index");

  return x < y ? -1 : x > y;
}

/*
 * A split pipeline's JUnit test cases ("junit": "items"), or the failed
 * items its own case names, joined from its parts in item order, into the
 * merged entry e for the replay (a run's own report has neither: the
 * text written out is put_pipeline()'s). Names past the twentieth are
 * counted, as a run counts them.
 */
static int join_junit(cJSON *e, cJSON **parts, size_t n)
{
  static const char *const keys[] = {"junit_cases", "failed_names"};
  cJSON *res = cJSON_GetObjectItemCaseSensitive(e, "result");
  size_t k, j;
  int w;

  if (!cJSON_IsObject(res))
    return 0;
  for (w = 0; w < 2; w++) {
    const cJSON **all, *it;
    cJSON *arr;
    size_t total = 0, cnt = 0;

    for (k = 0; k < n; k++)
      total += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(parts[k], "result"), keys[w]));
    if (total == 0)
      continue;
    if ((all = malloc(total * sizeof(*all))) == NULL)
      return -1;
    for (k = 0; k < n; k++)
      cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(
                                 cJSON_GetObjectItemCaseSensitive(parts[k],
                                                                  "result"),
                                 keys[w])) all[cnt++] = it;
    qsort(all, cnt, sizeof(*all), index_cmp);
    arr = cJSON_CreateArray();
    if (arr == NULL || !cJSON_AddItemToObject(res, keys[w], arr)) {
      cJSON_Delete(arr);
      free(all);
      return -1;
    }
    for (j = 0; j < cnt && (w == 0 || j < FAIL_NAMES); j++) {
      cJSON *d = cJSON_Duplicate(all[j], 1);

      if (d == NULL || !cJSON_AddItemToArray(arr, d)) {
        cJSON_Delete(d);
        free(all);
        return -1;
      }
    }
    free(all);
  }
  return 0;
}

/* ---- the second pass ------------------------------------------------------ */

/* Look at part p's next entry (not consumed); 0 at the end of "tasks". */
static int peek_entry(struct merge *m, struct part *p)
{
  const char *why;
  size_t at;
  unsigned long line, col;
  int c;

  if (p->cur)
    return 1;
  if (p->ended)
    return 0;
  c = corun__mscan_peek(&p->s);
  if (c == ',') {
    corun__mscan_take(&p->s, 1);
    c = corun__mscan_peek(&p->s);
  }
  if (c == ']' || c < 0) {
    p->ended = 1;
    return 0;
  }
  if (corun__mscan_value(&p->s, &p->curlen, &why, &at) < 0) {
    corun__mscan_where(&p->s, at, &line, &col);
    problem(m, p->path, line, col, "not a corun report: %s (it changed?)",
            why);
    return -1;
  }
  p->cur = parse_here(m, p, p->curlen);
  return p->cur ? 1 : -1;
}

static void drop_entry(struct part *p)
{
  corun__mscan_take(&p->s, p->curlen);
  cJSON_Delete(p->cur);
  p->cur = NULL;
}

static int is_root(const cJSON *e)
{
  return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(e, "parent"));
}

/* One merged entry out: to the report, and to the replay when there is one. */
static int emit(struct merge *m, struct corun_buf *out, size_t *nout,
                const char *text, size_t len, cJSON *e)
{
  struct corun_buf why = CORUN_BUF_INIT;
  int rc = 0;

  if (out) {
    corun_buf_puts(out, (*nout)++ ? ",\n  " : "\n  ");
    corun_buf_add(out, text, len);
  }
  if (m->replay && corun__replay_add(m->replay, e, &why) < 0) {
    problem(m, NULL, 0, 0, "%s", corun_buf_str(&why));
    rc = -1;
  }
  corun_buf_free(&why);
  return rc;
}

/*
 * An entry as its shard wrote it; but what a split pipeline's part carries
 * for JUnit ("junit_cases", "failed_names": join_junit()) is no part of a
 * run's report: such an entry is written again without it, and the
 * replay still gets it.
 */
static int emit_owned(struct merge *m, struct corun_buf *out, size_t *nout,
                      struct part *p)
{
  cJSON *res = cJSON_GetObjectItemCaseSensitive(p->cur, "result"), *jc, *fn;
  const char *kind = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(p->cur, "kind"));
  struct corun_buf one = CORUN_BUF_INIT;
  int rc = -1;

  /* Only a pipeline's: another kind's result is the job's own JSON. */
  if (kind == NULL || strcmp(kind, "pipeline") != 0 || !cJSON_IsObject(res) ||
      (!cJSON_HasObjectItem(res, "junit_cases") &&
       !cJSON_HasObjectItem(res, "failed_names")))
    return emit(m, out, nout, p->s.buf + p->s.beg, p->curlen, p->cur);
  jc = cJSON_DetachItemFromObjectCaseSensitive(res, "junit_cases");
  fn = cJSON_DetachItemFromObjectCaseSensitive(res, "failed_names");
  corun__json_write(&one, p->cur, NULL);
  if (jc && !cJSON_AddItemToObject(res, "junit_cases", jc)) {
    cJSON_Delete(jc);
    one.oom = 1;
  }
  if (fn && !cJSON_AddItemToObject(res, "failed_names", fn)) {
    cJSON_Delete(fn);
    one.oom = 1;
  }
  if (one.oom)
    problem(m, NULL, 0, 0, "out of memory");
  else
    rc = emit(m, out, nout, one.p, one.len, p->cur);
  corun_buf_free(&one);
  return rc;
}

/* Every task entry in file order. */
static int deal(struct merge *m, struct corun_buf *out)
{
  struct corun_buf one = CORUN_BUF_INIT;
  cJSON **parts = calloc(m->n ? m->n : 1, sizeof(*parts));
  size_t pos, k, nout = 0;
  int rc = 0;

  if (parts == NULL)
    return -1;
  for (k = 0; k < m->n; k++) {
    struct part *p = &m->parts[k];
    int e = corun__mscan_seek(&p->s, p->tasks_off, p->tasks_line,
                              p->tasks_col);

    p->curlen = 0;
    p->next_root = 0;
    if (e) {
      problem(m, p->path, 0, 0, "cannot read it: %s", strerror(e));
      rc = -1;
      goto done;
    }
  }
  for (pos = 0; pos < m->npos && rc == 0; pos++) {
    if (m->owner[pos] >= 0) {
      struct part *p = &m->parts[m->owner[pos]];

      /* The root, then its subtree up to the next root. */
      if (peek_entry(m, p) <= 0 || !is_root(p->cur)) {
        rc = -1;
        break;
      }
      do {
        if (emit_owned(m, out, &nout, p) < 0)
          rc = -1;
        drop_entry(p);
      } while (rc == 0 && peek_entry(m, p) > 0 && !is_root(p->cur));
      p->next_root++;
      continue;
    }
    for (k = 0; k < m->n; k++) {
      if (peek_entry(m, &m->parts[k]) <= 0 || !is_root(m->parts[k].cur)) {
        rc = -1;
        break;
      }
      parts[k] = m->parts[k].cur;
    }
    if (rc == 0) {
      cJSON *e;

      corun_buf_reset(&one);
      put_pipeline(&one, parts, m->n, m->pstatus[pos]);
      e = one.oom ? NULL : cJSON_ParseWithLength(one.p, one.len);
      if (e && m->replay && join_junit(e, parts, m->n) < 0) {
        cJSON_Delete(e);
        e = NULL;
      }
      if (e == NULL) {
        problem(m, NULL, 0, 0, "out of memory");
        rc = -1;
      } else {
        rc = emit(m, out, &nout, one.p, one.len, e);
        cJSON_Delete(e);
      }
    }
    for (k = 0; k < m->n; k++) {
      if (m->parts[k].cur)
        drop_entry(&m->parts[k]);
      m->parts[k].next_root++;
    }
  }
  if (rc == 0 && !m->bad) {
    for (k = 0; k < m->n; k++)
      if (peek_entry(m, &m->parts[k]) != 0)
        rc = -1;
  }
  if (rc < 0 && !m->bad)
    problem(m, NULL, 0, 0, "the reports changed while being merged");
  if (out && rc == 0)
    corun_buf_puts(out, nout ? "\n ]}\n" : "]}\n");
done:
  corun_buf_free(&one);
  free(parts);
  return rc;
}

/* ---- what the whole run came to ------------------------------------------ */

static void totals(struct merge *m)
{
  size_t i, k, pos;

  m->started_at = NULL;
  m->duration = 0;
  m->exit_code = 0;
  m->status = "ok";
  m->job = cJSON_GetStringValue(
      cJSON_GetObjectItemCaseSensitive(m->parts[0].head, "job"));
  for (i = 0; i < m->n; i++) {
    struct part *p = &m->parts[i];
    const char *at = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(p->head, "started_at"));
    double d = num(p->head, "duration");

    if (m->started_at == NULL || strcmp(at, m->started_at) < 0)
      m->started_at = at;
    if (d > m->duration)
      m->duration = d;
    for (k = 0; k <= CORUN_STATUS_SKIPPED; k++)
      m->counts[k] += p->counts[k];
  }
  /*
   * A shard that was interrupted or timed out makes the whole run one that
   * was (the lowest such shard's exit status); else any failure is 1.
   */
  for (i = 0; i < m->n; i++)
    if (m->parts[i].cancelled) {
      m->status = "cancelled";
      m->exit_code = m->parts[i].exit_code >= 0 ? m->parts[i].exit_code : 1;
      break;
    }
  for (i = 0; i < m->n && m->exit_code == 0; i++) {
    const char *st = cJSON_GetStringValue(
        cJSON_GetObjectItemCaseSensitive(m->parts[i].head, "status"));

    if (m->parts[i].exit_code > 0 || strcmp(st, "ok") != 0) {
      m->status = "failed";
      m->exit_code = 1;
    }
  }
  /* A split pipeline counts once, as it ended over all its parts. */
  for (pos = 0; pos < m->npos; pos++) {
    int worst = CORUN_STATUS_OK;

    if (m->owner[pos] != -1)
      continue;
    for (i = 0; i < m->n; i++) {
      struct part *p = &m->parts[i];
      size_t at;
      int st;

      for (at = 0; p->roots[at] != pos; at++)
        ;
      st = p->rstatus[at];
      m->counts[st]--;
      if (st == CORUN_STATUS_FAILED ||
          (st == CORUN_STATUS_TIMEOUT && worst != CORUN_STATUS_FAILED) ||
          (st == CORUN_STATUS_CANCELLED && worst != CORUN_STATUS_FAILED &&
           worst != CORUN_STATUS_TIMEOUT) ||
          (st == CORUN_STATUS_SKIPPED && worst == CORUN_STATUS_OK))
        worst = st;
    }
    m->pstatus[pos] = (uint8_t)worst;
    m->counts[worst]++;
  }
}

/* "2026-11-24T00:00:00.000Z" as seconds since the epoch. */
static double wall_of(const char *s)
{
  struct tm tm;
  int ms = 0;

  memset(&tm, 0, sizeof(tm));
  if (sscanf(s, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
             &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) < 6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  /* Half a millisecond more: reporters cut to whole ones, and get ms. */
  return (double)timegm(&tm) + (ms + 0.5) / 1000.0;
}

/* ---- outputs --------------------------------------------------------------- */

static const struct corun_outfile_how report_how = {0644, 1};

struct mout {
  const char *path;
  struct corun_outfile o;
  int opened;
  struct corun_buf b;
};

static int out_sink(void *arg, const char *data, size_t n)
{
  struct mout *o = arg;

  if (strcmp(o->path, "-") == 0)
    return corun__write_all(1, data, n);
  return corun__outfile_write(&o->o, data, n);
}

static enum corun_code out_open(struct mout *o, const char *path,
                                struct corun_error *err)
{
  int e = 0;

  memset(o, 0, sizeof(*o));
  o->path = path;
  o->o = (struct corun_outfile)CORUN_OUTFILE_INIT;
  if (strcmp(path, "-") != 0)
    e = corun__outfile_open_as(&o->o, path, NULL, &report_how);
  if (e)
    return corun_failf(err, e == ENOMEM ? CORUN_ENOMEM : CORUN_EIO,
                       "cannot create %s: %s", path, strerror(e));
  o->opened = 1;
  corun_buf_stream(&o->b, CORUN_REPORT_CHUNK, out_sink, o);
  return CORUN_OK;
}

static enum corun_code out_close(struct mout *o, int commit,
                                 struct corun_error *err)
{
  int e = 0;

  if (!o->opened)
    return CORUN_OK;
  o->opened = 0;
  if (commit) {
    e = corun_buf_flush(&o->b);
    if (e == 0 && o->b.oom)
      e = ENOMEM;
  }
  corun_buf_free(&o->b);
  if (!commit || e) {
    corun__outfile_abort(&o->o);
  } else {
    e = corun__outfile_commit(&o->o);
  }
  if (commit && e)
    return corun_failf(err, CORUN_EIO, "cannot write %s: %s", o->path,
                       strerror(e));
  return CORUN_OK;
}

static void put_head(struct merge *m, struct corun_buf *out)
{
  corun_buf_puts(out, "{\"corun\": 1, \"job\": ");
  corun__json_write_str(out, m->job, NULL);
  corun_buf_printf(out,
                   ", \"status\": \"%s\", \"exit_code\": %d,\n \"started_at\": ",
                   m->status, m->exit_code);
  corun__json_write_str(out, m->started_at, NULL);
  corun_buf_printf(out,
                   ", \"duration\": %.3f,\n \"summary\": {\"ok\": %lu, "
                   "\"failed\": %lu, \"timeout\": %lu, \"cancelled\": %lu, "
                   "\"skipped\": %lu},\n \"tasks\": [",
                   m->duration, m->counts[CORUN_STATUS_OK],
                   m->counts[CORUN_STATUS_FAILED],
                   m->counts[CORUN_STATUS_TIMEOUT],
                   m->counts[CORUN_STATUS_CANCELLED],
                   m->counts[CORUN_STATUS_SKIPPED]);
}

/* ---- results files --------------------------------------------------------- */

struct rline {
  uint64_t index;
  uint32_t file;
  uint32_t len;
  off_t off;
};

static int by_item(const void *a, const void *b)
{
  const struct rline *x = a, *y = b;

  return x->index < y->index ? -1 : x->index > y->index;
}

static int same_file(const char *a, const char *b)
{
  struct stat sa, sb;

  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

/*
 * --results PATH: each shard wrote the pipeline's results file at PATH in
 * its own directory; here that is PATH beside each shard's report. The
 * lines of them all, in item order, go to PATH from the current directory.
 */
/*
 * Joins the shards' results files rel into *o, left open: it is put in
 * place with the other outputs, once every input has been found good.
 */
static int join_results(struct merge *m, const char *rel,
                        struct corun_error *err, int *failed, struct mout *out)
{
  struct rline *v = NULL;
  size_t n = 0, cap = 0, i;
  char **in = calloc(m->n, sizeof(*in));
  FILE **fs = calloc(m->n, sizeof(*fs));
  char *line = NULL;
  size_t lcap = 0;
  int rc = -1, opened = 0;

  *failed = 0;
  if (in == NULL || fs == NULL)
    goto oom;
  if (rel[0] == '/' || rel[0] == '\0') {
    problem(m, NULL, 0, 0,
            "--results %s: give the path as the job file has it, relative: "
            "it is looked for beside each report",
            rel);
    goto out;
  }
  for (i = 0; i < m->n; i++) {
    const char *rp = m->parts[i].path, *slash = strrchr(rp, '/');
    struct corun_buf b = CORUN_BUF_INIT;
    off_t off = 0;
    unsigned long lineno = 0;
    ssize_t len;

    if (slash)
      corun_buf_add(&b, rp, (size_t)(slash - rp) + 1);
    corun_buf_puts(&b, rel);
    in[i] = corun_buf_detach(&b);
    if (in[i] == NULL)
      goto oom;
    if (same_file(in[i], rel)) {
      problem(m, in[i], 0, 0,
              "--results %s would be written over this shard's own file: run "
              "corun merge from another directory",
              rel);
      goto out;
    }
    fs[i] = fopen(in[i], "r");
    if (fs[i] == NULL) {
      problem(m, in[i], 0, 0, "cannot read it: %s", strerror(errno));
      goto out;
    }
    while ((len = getline(&line, &lcap, fs[i])) >= 0) {
      cJSON *j, *ix;

      lineno++;
      if (len == 0 || (len == 1 && line[0] == '\n')) {
        off += len;
        continue;
      }
      j = cJSON_ParseWithLength(line, (size_t)len);
      ix = cJSON_GetObjectItemCaseSensitive(j, "index");
      if (!cJSON_IsNumber(ix) || ix->valuedouble < 0 ||
          (uint64_t)len > UINT32_MAX) {
        cJSON_Delete(j);
        problem(m, in[i], lineno, 1,
                "not a results file: each line is a JSON object with "
                "\"index\"");
        goto out;
      }
      if (n == cap) {
        size_t ncap = cap ? cap * 2 : 1024;
        struct rline *nv = realloc(v, ncap * sizeof(*nv));

        if (nv == NULL) {
          cJSON_Delete(j);
          goto oom;
        }
        v = nv;
        cap = ncap;
      }
      v[n].index = (uint64_t)ix->valuedouble;
      v[n].file = (uint32_t)i;
      v[n].off = off;
      v[n++].len = (uint32_t)len;
      cJSON_Delete(j);
      off += len;
    }
    if (ferror(fs[i])) {
      problem(m, in[i], 0, 0, "cannot read it: %s", strerror(errno));
      goto out;
    }
  }
  qsort(v, n, sizeof(*v), by_item);
  for (i = 1; i < n; i++)
    if (v[i].index == v[i - 1].index) {
      problem(m, NULL, 0, 0, "item %llu is in both %s and %s",
              (unsigned long long)v[i].index, in[v[i - 1].file],
              in[v[i].file]);
      goto out;
    }
  {
    struct corun_buf why = CORUN_BUF_INIT;

    /* As the pipeline makes its directories, so does the join. */
    if (corun__outfile_mkdirs(rel, NULL, &why) < 0) {
      corun_failf(err, CORUN_EIO, "%s", corun_buf_str(&why));
      corun_buf_free(&why);
      *failed = 1;
      goto out;
    }
    corun_buf_free(&why);
  }
  if (out_open(out, rel, err) != CORUN_OK) {
    *failed = 1;
    goto out;
  }
  opened = 1;
  for (i = 0; i < n; i++) {
    FILE *f = fs[v[i].file];

    if (lcap < (size_t)v[i].len + 2) {
      char *nl = realloc(line, (size_t)v[i].len + 2);

      if (nl == NULL)
        goto oom;
      line = nl;
      lcap = (size_t)v[i].len + 2;
    }
    if (fseeko(f, v[i].off, SEEK_SET) != 0 ||
        fread(line, 1, v[i].len, f) != v[i].len) {
      problem(m, in[v[i].file], 0, 0, "cannot read it again");
      goto out;
    }
    corun_buf_add(&out->b, line, v[i].len);
    if (line[v[i].len - 1] != '\n')
      corun_buf_putc(&out->b, '\n');
  }
  opened = 0;
  rc = 0;
  goto out;
oom:
  problem(m, NULL, 0, 0, "out of memory");
out:
  if (opened)
    out_close(out, 0, NULL);
  for (i = 0; in && i < m->n; i++) {
    free(in[i]);
    if (fs && fs[i])
      fclose(fs[i]);
  }
  free(in);
  free(fs);
  free(v);
  free(line);
  return rc;
}

/* ---- corun_merge ------------------------------------------------------------ */

static void free_parts(struct merge *m)
{
  size_t i;

  for (i = 0; i < m->n; i++) {
    struct part *p = &m->parts[i];

    corun__mscan_close(&p->s);
    cJSON_Delete(p->head);
    cJSON_Delete(p->cur);
    free(p->roots);
    free(p->rflags);
    free(p->rstatus);
  }
  free(m->parts);
  free(m->owner);
  free(m->pstatus);
  corun__replay_free(m->replay);
}

/* A report of the replayed run to path: JUnit, HTML or the trace. */
/* One of the replayed outputs, written into *o, left open. */
static enum corun_code write_one(struct merge *m, const char *path,
                                 corun_report_fn fn, struct corun_error *err,
                                 struct mout *o)
{
  enum corun_code code = out_open(o, path, err);

  if (code != CORUN_OK)
    return code;
  fn(corun__replay_run(m->replay), &o->b);
  return CORUN_OK;
}

/*
 * Everything o holds written to its temporary file, not yet put in place:
 * the outputs go in place together, once all were written whole.
 */
static enum corun_code out_flush(struct mout *o, struct corun_error *err)
{
  int e;

  if (!o->opened)
    return CORUN_OK;
  e = corun_buf_flush(&o->b);
  if (e == 0 && o->b.oom)
    e = ENOMEM;
  if (e)
    return corun_failf(err, CORUN_EIO, "cannot write %s: %s", o->path,
                       strerror(e));
  return CORUN_OK;
}

enum corun_code corun_merge(const struct corun_merge_opts *opts, int *exit_code,
                            struct corun_buf *diag, struct corun_error *err)
{
  struct merge m;
  struct mout rep, *res = NULL, one[3]; /* junit, html, trace */
  enum corun_code code = CORUN_OK;
  size_t i;
  int rep_open = 0;

  memset(&m, 0, sizeof(m));
  memset(one, 0, sizeof(one));
  *exit_code = -1;
  m.o = opts;
  m.diag = diag;
  if (opts->nreports == 0)
    return corun_failf(err, CORUN_EUSAGE, "no report to merge");
  m.parts = calloc(opts->nreports, sizeof(*m.parts));
  if (m.parts == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  m.n = opts->nreports;
  for (i = 0; i < m.n; i++) {
    m.parts[i].path = opts->reports[i];
    m.parts[i].s.fd = -1;
  }
  /* Every report is looked at, so one merge says all that is wrong. */
  for (i = 0; i < m.n; i++)
    read_head(&m, &m.parts[i]);
  if (m.bad || check_set(&m) < 0)
    goto invalid;
  totals(&m);
  if (opts->junit || opts->html || opts->trace) {
    m.replay = corun__replay_new(m.job, wall_of(m.started_at),
                                 (uint64_t)llround(m.duration * 1000.0) *
                                     1000000ULL,
                                 m.exit_code);
    if (m.replay == NULL) {
      code = corun_failf(err, CORUN_ENOMEM, "out of memory");
      goto done;
    }
  }
  if (opts->report) {
    code = out_open(&rep, opts->report, err);
    if (code != CORUN_OK)
      goto done;
    rep_open = 1;
    put_head(&m, &rep.b);
  }
  if ((opts->report || m.replay) && deal(&m, rep_open ? &rep.b : NULL) < 0)
    goto invalid;
  if (opts->nresults &&
      (res = calloc(opts->nresults, sizeof(*res))) == NULL) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto done;
  }
  for (i = 0; i < opts->nresults; i++) {
    int failed;

    if (join_results(&m, opts->results[i], err, &failed, &res[i]) < 0) {
      if (failed) {
        code = CORUN_EIO;
        goto done;
      }
      goto invalid;
    }
  }
  if ((opts->junit &&
       (code = write_one(&m, opts->junit, corun_report_junit, err,
                         &one[0])) != CORUN_OK) ||
      (opts->html &&
       (code = write_one(&m, opts->html, corun_report_html, err, &one[1])) !=
           CORUN_OK) ||
      (opts->trace &&
       (code = write_one(&m, opts->trace, corun_report_trace, err,
                         &one[2])) != CORUN_OK))
    goto done;
  /* All written whole first; only then is any put in place. */
  for (i = 0; i < opts->nresults; i++)
    if ((code = out_flush(&res[i], err)) != CORUN_OK)
      goto done;
  for (i = 0; i < 3; i++)
    if ((code = out_flush(&one[i], err)) != CORUN_OK)
      goto done;
  if (rep_open && (code = out_flush(&rep, err)) != CORUN_OK)
    goto done;
  for (i = 0; i < opts->nresults; i++) {
    code = out_close(&res[i], 1, err);
    if (code != CORUN_OK)
      goto done;
  }
  for (i = 0; i < 3; i++) {
    code = out_close(&one[i], 1, err);
    if (code != CORUN_OK)
      goto done;
  }
  if (rep_open) {
    rep_open = 0;
    code = out_close(&rep, 1, err);
    if (code != CORUN_OK)
      goto done;
  }
  *exit_code = m.exit_code;
  goto done;
invalid:
  code = CORUN_EINVAL;
  corun_failf(err, CORUN_EINVAL, "the reports do not make one run");
done:
  if (rep_open)
    out_close(&rep, 0, NULL);
  /* Committed ones are closed already; the rest leave nothing behind. */
  for (i = 0; res && i < opts->nresults; i++)
    out_close(&res[i], 0, NULL);
  for (i = 0; i < 3; i++)
    out_close(&one[i], 0, NULL);
  free(res);
  free_parts(&m);
  return code;
}
