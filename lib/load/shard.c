/* SPDX-License-Identifier: MIT */
/*
 * --shard K/N: the K-th of N disjoint parts of a job, for N machines that
 * run one job together. The parts are a pure function of the file, N and
 * the timings report, never of K, so every machine computes the same split
 * and a retried part runs the same tasks.
 *
 * Root tasks joined by "after" (either way, between any of their
 * descendants) form a group that stays together: a capture (${ID.NAME},
 * "source": {"from": ...}) is only allowed along such a chain, so it
 * never crosses parts either. The groups are dealt out greedily: by their
 * number of tasks in file order, or, with timings, by their duration,
 * longest first. A pipeline that asks to be split ("shard": true) is in
 * every part and takes every N-th item there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "load/shard.h"
#include "util/sha256.h"

/* A root the timings report does not know, when it knows no root at all. */
#define DEFAULT_MS 1000

/* Reports bigger than this are not read for timings. */
#define MAX_TIMINGS_BYTES (1024UL * 1024 * 1024)

static size_t splits_of(const struct corun_task *t)
{
  return t->kind->splits ? t->kind->splits(t) : 0;
}

void corun__load_check_splits(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;

  /* Most jobs have no task of a kind that splits: a pass saved. */
  if (!ld->may_split)
    return;
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    size_t off = t ? splits_of(t) : 0;

    if (off == 0)
      continue;
    if (t->parent) {
      corun__load_diag(ld, off, (long)i,
                       "\"shard\": only a root task can be split among the "
                       "shards, and this one is inside \"%s\" (move it to "
                       "the top-level \"tasks\", or drop \"shard\")",
                       t->parent->id);
    } else if (t->deps && (t->deps->nafter || t->deps->ndependents)) {
      const struct corun_task *o = t->deps->nafter ? t->deps->after[0]
                                                   : t->deps->dependents[0];

      corun__load_diag(ld, off, (long)i,
                       "\"shard\": a split pipeline runs in every shard, but "
                       "\"after\" joins it to \"%s\", which runs in one "
                       "(drop \"shard\", or the \"after\")",
                       o->id);
    }
  }
}

/* ---- the groups ---- */

static size_t find(size_t *up, size_t x)
{
  while (up[x] != x) {
    up[x] = up[up[x]]; /* halve the path as we go */
    x = up[x];
  }
  return x;
}

static void join(size_t *up, size_t a, size_t b)
{
  a = find(up, a);
  b = find(up, b);
  /* The lower root position leads, so a group is named by its first root. */
  if (a < b)
    up[b] = a;
  else if (b < a)
    up[a] = b;
}

/* ---- the timings report ---- */

static int cmp_u64(const void *a, const void *b)
{
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

  return x < y ? -1 : x > y;
}

static enum corun_code read_file(const char *path, char **out, size_t *len,
                                 struct corun_error *err)
{
  FILE *f = fopen(path, "rb");
  struct corun_buf b = CORUN_BUF_INIT;
  char chunk[65536];
  size_t n;

  if (f == NULL)
    return corun_failf(err, CORUN_EUSAGE, "--shard-timings %s: %s", path,
                       strerror(errno));
  while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 &&
         b.len <= MAX_TIMINGS_BYTES)
    corun_buf_add(&b, chunk, n);
  if (ferror(f) || b.len > MAX_TIMINGS_BYTES || b.oom) {
    int e = ferror(f) ? EIO : b.len > MAX_TIMINGS_BYTES ? EFBIG : ENOMEM;

    fclose(f);
    corun_buf_free(&b);
    return corun_failf(err, e == ENOMEM ? CORUN_ENOMEM : CORUN_EUSAGE,
                       "--shard-timings %s: %s", path, strerror(e));
  }
  fclose(f);
  *len = b.len;
  *out = corun_buf_detach(&b);
  if (*out == NULL)
    *out = strdup("");
  return *out ? CORUN_OK : corun_failf(err, CORUN_ENOMEM, "out of memory");
}

/*
 * Each root's duration in whole milliseconds, from the root tasks
 * ("parent": null) of an earlier report, by id. A root the report does
 * not have, or that never ran there, gets the median of those it has.
 */
static enum corun_code root_times(const struct corun_job *job,
                                  const char *path, uint64_t *ms,
                                  struct corun_error *err)
{
  enum corun_code code;
  char *text = NULL;
  size_t len = 0, i, nall = 0;
  cJSON *rep, *tasks, *t;
  uint64_t *known = NULL, median = DEFAULT_MS;
  unsigned char *have = NULL;
  struct corun_strmap pos = {0}; /* root id -> its position + 1 */

  code = read_file(path, &text, &len, err);
  if (code != CORUN_OK)
    return code;
  rep = cJSON_ParseWithLength(text, len);
  free(text);
  tasks = cJSON_IsObject(rep) ? cJSON_GetObjectItemCaseSensitive(rep, "tasks")
                              : NULL;
  if (!cJSON_IsArray(tasks)) {
    cJSON_Delete(rep);
    return corun_failf(err, CORUN_EUSAGE,
                       "--shard-timings %s: not a corun JSON report (%s)",
                       path,
                       rep == NULL ? "it does not parse as JSON"
                                   : "it has no \"tasks\" array");
  }
  have = calloc(job->nroots ? job->nroots : 1, 1);
  known = calloc((size_t)cJSON_GetArraySize(tasks) + 1, sizeof(*known));
  if (have == NULL || known == NULL) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto out;
  }
  for (i = 0; i < job->nroots; i++)
    if (corun_strmap_put(&pos, job->roots[i]->id, (void *)(uintptr_t)(i + 1),
                         NULL) < 0) {
      code = corun_failf(err, CORUN_ENOMEM, "out of memory");
      goto out;
    }
  cJSON_ArrayForEach(t, tasks) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(t, "id");
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(t, "parent");
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(t, "duration");
    uintptr_t at;
    uint64_t v;

    if (!cJSON_IsString(id) || !cJSON_IsNull(parent) ||
        !cJSON_IsNumber(dur) || !(dur->valuedouble >= 0) ||
        dur->valuedouble > 1e12)
      continue;
    v = (uint64_t)(dur->valuedouble * 1000.0 + 0.5);
    known[nall++] = v;
    at = (uintptr_t)corun_strmap_get(&pos, id->valuestring);
    if (at) {
      ms[at - 1] = v;
      have[at - 1] = 1;
    }
  }
  if (nall > 0) {
    qsort(known, nall, sizeof(*known), cmp_u64);
    median = known[(nall - 1) / 2]; /* the lower middle for an even count */
  }
  for (i = 0; i < job->nroots; i++)
    if (!have[i])
      ms[i] = median;
out:
  corun_strmap_free(&pos);
  free(have);
  free(known);
  cJSON_Delete(rep);
  return code;
}

/* ---- the plan ---- */

static void job_sha256(const char *text, size_t len,
                       const struct corun_load_opts *opts, char hex[65])
{
  struct corun_sha256 s;
  size_t k;

  corun__sha256_init(&s);
  corun__sha256_add(&s, text, len);
  for (k = 0; k < opts->nvars; k++) {
    /* A NUL before each: no file byte sequence reads as a --var. */
    corun__sha256_add(&s, "", 1);
    corun__sha256_add(&s, opts->vars[k], strlen(opts->vars[k]));
  }
  corun__sha256_hex(&s, hex);
}

/*
 * The least loaded part; among equals the one with fewer tasks (so groups
 * that took no time still spread out), then the lowest index.
 */
static unsigned least(const uint64_t *load, const uint64_t *tasks, unsigned n)
{
  unsigned s, best = 0;

  for (s = 1; s < n; s++)
    if (load[s] < load[best] ||
        (load[s] == load[best] && tasks[s] < tasks[best]))
      best = s;
  return best;
}

struct order {
  uint64_t w;
  size_t g;
};

static int heavier_first(const void *a, const void *b)
{
  const struct order *x = a, *y = b;

  if (x->w != y->w)
    return x->w > y->w ? -1 : 1;
  return x->g < y->g ? -1 : x->g > y->g; /* then file order */
}

enum corun_code corun__load_shard_plan(struct loader *ld, const char *text,
                                       size_t len, struct corun_error *err)
{
  const struct corun_load_opts *opts = ld->opts;
  struct corun_job *job = ld->job;
  unsigned n = opts->shard_total, k = opts->shard_index, s;
  size_t nr = job->nroots, i, g, ng = 0;
  size_t *rp = NULL, *up = NULL, *gid = NULL, *sub = NULL;
  uint64_t *weight = NULL, *size = NULL, *load = NULL, *count = NULL;
  uint64_t *ms = NULL;
  unsigned *part = NULL;
  unsigned char *split = NULL;
  struct order *ord = NULL;
  struct corun_shard *sh;
  enum corun_code code = CORUN_OK;

  if (k < 1 || k > n)
    return corun_failf(err, CORUN_EUSAGE,
                       "--shard %u/%u: K must be from 1 to N", k, n);
  sh = calloc(1, sizeof(*sh));
  if (sh == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  job->shard = sh;
  sh->index = k;
  sh->total = n;
  sh->all_tasks = job->ntasks;
  sh->all_roots = nr;
  job_sha256(text, len, opts, sh->hash);
  /* A journal of one part is not the journal of another. */
  job->hash = (job->hash ^ ((uint64_t)k << 32 | n)) * 0x100000001b3ULL;

  rp = calloc(job->ntasks + 1, sizeof(*rp));
  up = calloc(nr + 1, sizeof(*up));
  gid = calloc(nr + 1, sizeof(*gid));
  sub = calloc(nr + 1, sizeof(*sub));
  split = calloc(nr + 1, 1);
  weight = calloc(nr + 1, sizeof(*weight));
  part = calloc(nr + 1, sizeof(*part));
  size = calloc(nr + 1, sizeof(*size));
  load = calloc(n, sizeof(*load));
  count = calloc(n, sizeof(*count));
  sh->keep = calloc(job->ntasks + 1, 1);
  sh->roots = calloc(nr + 1, sizeof(*sh->roots));
  if (!rp || !up || !gid || !sub || !split || !weight || !size || !part ||
      !load || !count || !sh->keep || !sh->roots) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto out;
  }
  /* Each task's root, by position among the roots; parents come first. */
  for (i = 0; i < nr; i++) {
    rp[job->roots[i]->index] = i;
    up[i] = i;
    split[i] = splits_of(job->roots[i]) != 0;
  }
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];

    if (t->parent)
      rp[i] = rp[t->parent->index];
    sub[rp[i]]++;
  }
  for (i = 0; i < job->ntasks; i++) {
    const struct corun_task *t = job->tasks[i];
    uint32_t j;

    for (j = 0; t->deps && j < t->deps->nafter; j++)
      join(up, rp[i], rp[t->deps->after[j]->index]);
  }
  /* Groups numbered in file order of their first root. */
  for (i = 0; i < nr; i++) {
    if (split[i])
      continue;
    if (find(up, i) == i)
      gid[i] = ng++;
    else
      gid[i] = gid[find(up, i)];
  }
  if (opts->shard_timings) {
    ms = calloc(nr + 1, sizeof(*ms));
    if (ms == NULL) {
      code = corun_failf(err, CORUN_ENOMEM, "out of memory");
      goto out;
    }
    code = root_times(job, opts->shard_timings, ms, err);
    if (code != CORUN_OK)
      goto out;
  }
  for (i = 0; i < nr; i++)
    if (!split[i]) {
      weight[gid[i]] += ms ? ms[i] : sub[i];
      size[gid[i]] += sub[i];
    }
  if (ms) {
    ord = calloc(ng + 1, sizeof(*ord));
    if (ord == NULL) {
      code = corun_failf(err, CORUN_ENOMEM, "out of memory");
      goto out;
    }
    for (g = 0; g < ng; g++) {
      ord[g].w = weight[g];
      ord[g].g = g;
    }
    qsort(ord, ng, sizeof(*ord), heavier_first);
    for (g = 0; g < ng; g++) {
      s = least(load, count, n);
      part[ord[g].g] = s;
      load[s] += ord[g].w;
      count[s] += size[ord[g].g];
    }
  } else {
    /* By count, load and count are one: the first test decides. */
    for (g = 0; g < ng; g++) {
      s = least(load, count, n);
      part[g] = s;
      load[s] += weight[g];
      count[s] += size[g];
    }
  }
  sh->all_groups = ng;
  for (g = 0; g < ng; g++)
    sh->groups += part[g] == k - 1;
  for (i = 0; i < nr; i++)
    if (split[i] || part[gid[i]] == k - 1)
      sh->roots[sh->nroots++] = i;
  for (i = 0; i < job->ntasks; i++)
    sh->keep[i] = split[rp[i]] || part[gid[rp[i]]] == k - 1;
out:
  free(rp);
  free(up);
  free(gid);
  free(sub);
  free(split);
  free(weight);
  free(size);
  free(part);
  free(load);
  free(count);
  free(ms);
  free(ord);
  return code;
}

/* ---- the job cut down to its part ---- */

enum corun_code corun__load_shard_apply(struct corun_job *job,
                                        struct corun_error *err)
{
  struct corun_shard *sh = job->shard;
  size_t i, kept = 0, roots = 0, nd = 0, nn = 0;
  struct corun_task **tasks;
  uint32_t *newidx;

  /* job->tasks is about to be replaced: children in it need their own. */
  if (corun__job_own_children(job) < 0)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  tasks = calloc(job->ntasks + 1, sizeof(*tasks));
  newidx = calloc(job->ntasks + 1, sizeof(*newidx));
  sh->dropped = calloc(job->ntasks + 1, sizeof(*sh->dropped));
  if (tasks == NULL || newidx == NULL || sh->dropped == NULL) {
    free(tasks);
    free(newidx);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    if (!sh->keep[i]) {
      sh->dropped[sh->ndropped++] = t;
      continue;
    }
    newidx[i] = (uint32_t)kept;
    t->index = (uint32_t)kept;
    tasks[kept++] = t;
  }
  /* The side tables go by task index: keep this part's, renumbered. */
  for (i = 0; i < job->ndeferred; i++) {
    if (!sh->keep[job->deferred[i].index]) {
      cJSON_Delete(job->deferred[i].json);
      continue;
    }
    job->deferred[nd] = job->deferred[i];
    job->deferred[nd++].index = newidx[job->deferred[i].index];
  }
  job->ndeferred = nd;
  for (i = 0; i < job->nnames; i++) {
    if (!sh->keep[job->names[i].index]) {
      free(job->names[i].name);
      continue;
    }
    job->names[nn] = job->names[i];
    job->names[nn++].index = newidx[job->names[i].index];
  }
  job->nnames = nn;
  job->nedges = 0;
  for (i = 0; i < kept; i++)
    job->nedges += tasks[i]->deps ? tasks[i]->deps->nafter : 0;
  for (i = 0; i < sh->nroots; i++)
    job->roots[roots++] = job->roots[sh->roots[i]];
  job->nroots = roots;
  free(job->tasks);
  job->tasks = tasks;
  job->ntasks = kept;
  free(newidx);
  free(sh->keep);
  sh->keep = NULL;
  for (i = 0; i < kept; i++)
    if (tasks[i]->parent == NULL && tasks[i]->kind->splits &&
        tasks[i]->kind->splits(tasks[i]))
      tasks[i]->kind->split(tasks[i], sh->index, sh->total);
  return CORUN_OK;
}

void corun__shard_free(struct corun_job *job)
{
  struct corun_shard *sh = job->shard;
  size_t i;

  if (sh == NULL)
    return;
  for (i = 0; i < sh->ndropped; i++)
    corun__task_free_parts(sh->dropped[i]);
  free(sh->dropped);
  free(sh->roots);
  free(sh->keep);
  free(sh);
  job->shard = NULL;
}
