/* SPDX-License-Identifier: MIT */
/*
 * A finished run made again from the JSON report's task entries, so that
 * corun merge writes JUnit, HTML and the trace with the very reporters a
 * run uses (junit.c, html.c, trace.c) rather than a second copy of them.
 *
 * Each task gets a stand-in kind: the real kind's name and shape (leaf,
 * container, streams), with hooks that answer from what the report holds
 * (the result, the error's "response") instead of from a running task.
 * What a report does not hold is not made up: a fetch's phases and a
 * pipeline's queue lengths in the trace, a command's pid, "after" edges
 * for the critical path. A pipeline split by item brings its JUnit cases
 * (or the failed items its case names) from the parts, joined by merge.c.
 *
 * Only what those reporters read is kept of each task, so a merge of a
 * million tasks holds about a task struct each (results only of the
 * kinds whose result a reporter shows).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/merge.h"
#include "report/report.h"
#include "core/job.h"
#include "core/kind.h"
#include "core/run.h"
#include "core/task.h"
#include "util/hash.h"

#define MAX_KINDS 16
#define CHUNK 4096

struct rtask {
  struct corun_task base;
  cJSON *response; /* the error's "response", or NULL */
  cJSON *cases;    /* a split pipeline's "junit_cases", or NULL */
  cJSON *failed;   /* a split pipeline's "failed_names", or NULL */
};

struct replay {
  struct corun_job job;
  struct corun_run run;
  struct corun_kind kinds[MAX_KINDS];
  size_t nkinds;
  struct rtask **chunks; /* CHUNK tasks each */
  size_t nchunks;
  size_t ntasks;
  size_t task_cap, root_cap, name_cap;
};

static void r_result(const struct corun_task *t,
                     const struct corun_secrets *sec, struct corun_buf *out)
{
  corun__json_write(out, t->result, sec);
}

static int r_response(const struct corun_task *t, long *status,
                      const char **content_type, const char **body)
{
  const cJSON *r = ((const struct rtask *)t)->response, *v;

  if (r == NULL)
    return 0;
  v = cJSON_GetObjectItemCaseSensitive(r, "status");
  *status = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
  v = cJSON_GetObjectItemCaseSensitive(r, "content_type");
  *content_type = cJSON_IsString(v) ? v->valuestring : NULL;
  v = cJSON_GetObjectItemCaseSensitive(r, "body");
  *body = cJSON_IsString(v) ? v->valuestring : NULL;
  return 1;
}

static const char *str_of(const cJSON *e, const char *k)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, k);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A status as the report names it; 0 (none) for NULL or a name unknown. */
static uint8_t status_named(const char *s)
{
  int k;

  for (k = CORUN_STATUS_OK; s && k <= CORUN_STATUS_SKIPPED; k++)
    if (strcmp(s, corun__task_status_name((enum corun_status)k)) == 0)
      return (uint8_t)k;
  return 0;
}

/* An error type as the report names it; 0 (none) for NULL or unknown. */
static uint8_t errtype_named(const char *s)
{
  int k;

  for (k = 0; s && k < 64; k++)
    if (strcmp(s, corun_errtype_name((enum corun_errtype)k)) == 0)
      return (uint8_t)k;
  return 0;
}

/* A split pipeline's items as JUnit cases, as its parts wrote them. */
static size_t r_cases(const struct corun_task *t, size_t i,
                      struct corun_case *c)
{
  const cJSON *arr = ((const struct rtask *)t)->cases, *it, *v;

  if (c == NULL || (it = cJSON_GetArrayItem(arr, (int)i)) == NULL)
    return (size_t)cJSON_GetArraySize(arr);
  memset(c, 0, sizeof(*c));
  c->name = str_of(it, "name") ? str_of(it, "name") : "";
  c->msg = str_of(it, "message");
  v = cJSON_GetObjectItemCaseSensitive(it, "duration");
  c->dur_ns = cJSON_IsNumber(v) && v->valuedouble > 0
                  ? (uint64_t)llround(v->valuedouble * 1e9)
                  : 0;
  c->status = status_named(str_of(it, "status"));
  c->err_type = errtype_named(str_of(it, "type"));
  return (size_t)cJSON_GetArraySize(arr);
}

/* The failed items a split pipeline's own case names, as a run says. */
static void r_case_detail(const struct corun_task *t, struct corun_buf *out)
{
  const cJSON *arr = ((const struct rtask *)t)->failed, *it;
  double failed = 0;
  int n = cJSON_GetArraySize(arr), i = 0;

  if (n == 0)
    return;
  if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t->result, "failed")))
    failed = cJSON_GetObjectItemCaseSensitive(t->result, "failed")->valuedouble;
  corun_buf_puts(out, "; failed items: ");
  cJSON_ArrayForEach(it, arr)
  {
    corun_buf_printf(out, "%s%s", i++ ? ", " : "",
                     str_of(it, "name") ? str_of(it, "name") : "");
  }
  if (failed > n)
    corun_buf_printf(out, " and %.0f more", failed - n);
}

/* Never called: it marks a stand-in as a container of items. */
static void r_child_done(struct corun_task *t, struct corun_task *child)
{
  (void)t;
  (void)child;
}

struct replay *corun__replay_new(const char *name, double started_wall,
                                 uint64_t end_ns, int exit_code)
{
  struct replay *r = calloc(1, sizeof(*r));
  const struct corun_kind *k;
  size_t i;

  if (r == NULL)
    return NULL;
  r->job.name = strdup(name);
  if (r->job.name == NULL) {
    free(r);
    return NULL;
  }
  for (i = 0; i < MAX_KINDS && (k = corun__kind_at(i)) != NULL; i++) {
    struct corun_kind *s = &r->kinds[r->nkinds++];

    s->name = k->name;
    s->size = sizeof(struct rtask);
    s->leaf = k->leaf;
    s->parent = k->parent;
    s->streams = k->streams;
    s->result = r_result;
    if (k->response)
      s->response = r_response;
    if (k->child_done)
      s->child_done = r_child_done;
    if (k->cases) {
      s->cases = r_cases;
      s->case_detail = r_case_detail;
    }
  }
  r->run.job = &r->job;
  r->run.started_wall = started_wall;
  r->run.finished = 1;
  r->run.end_ns = end_ns;
  r->run.exit_code = exit_code;
  switch (exit_code) {
  case 124: r->run.end = CORUN_END_TIMEOUT; break;
  case 129: r->run.end = CORUN_END_SIGHUP; break;
  case 130: r->run.end = CORUN_END_SIGINT; break;
  case 143: r->run.end = CORUN_END_SIGTERM; break;
  default: r->run.end = CORUN_END_NORMAL; break;
  }
  return r;
}

const struct corun_run *corun__replay_run(struct replay *r)
{
  return &r->run;
}

static uint64_t ns_of(const cJSON *v)
{
  if (!cJSON_IsNumber(v) || v->valuedouble < 0)
    return CORUN_NO_TIME;
  /* The report has whole milliseconds: keep them exactly. */
  return (uint64_t)llround(v->valuedouble * 1000.0) * 1000000ULL;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
  void *nv;
  size_t ncap;

  if (n < *cap)
    return 0;
  ncap = *cap ? *cap * 2 : 64;
  nv = realloc(*v, ncap * size);
  if (nv == NULL)
    return -1;
  *v = nv;
  *cap = ncap;
  return 0;
}

static struct rtask *new_task(struct replay *r)
{
  size_t at = r->ntasks % CHUNK;

  if (at == 0) {
    struct rtask **nc = realloc(r->chunks, (r->nchunks + 1) * sizeof(*nc));

    if (nc == NULL)
      return NULL;
    r->chunks = nc;
    nc[r->nchunks] = calloc(CHUNK, sizeof(**nc));
    if (nc[r->nchunks] == NULL)
      return NULL;
    r->nchunks++;
  }
  return &r->chunks[r->nchunks - 1][at];
}

/* Whether a reporter ever shows a result of kind k (memory: keep no other). */
static int keeps_result(const struct corun_kind *k)
{
  return k->streams || k->response || (k->child_done && !k->parent);
}

int corun__replay_add(struct replay *r, cJSON *e, struct corun_buf *why)
{
  const char *id = str_of(e, "id"), *kind = str_of(e, "kind"),
             *parent = str_of(e, "parent"), *status = str_of(e, "status"),
             *name = str_of(e, "name");
  const cJSON *err = cJSON_GetObjectItemCaseSensitive(e, "error"), *v;
  struct corun_task *t, *p = NULL;
  struct rtask *rt;
  uint64_t queued;
  size_t i;

  if (parent) {
    p = corun_strmap_get(&r->job.ids, parent);
    if (p == NULL) {
      corun_buf_printf(why, "task \"%s\" comes before its parent \"%s\"",
                       id ? id : "", parent);
      return -1;
    }
  }
  if (grow((void **)&r->job.tasks, &r->task_cap, r->job.ntasks,
           sizeof(*r->job.tasks)) < 0 ||
      (rt = new_task(r)) == NULL)
    goto oom;
  t = &rt->base;
  t->id = strdup(id ? id : "");
  if (t->id == NULL)
    goto oom;
  r->ntasks++;
  t->run = &r->run;
  t->index = (uint32_t)r->job.ntasks;
  r->job.tasks[r->job.ntasks++] = t;
  for (i = 0; i < r->nkinds; i++)
    if (kind && strcmp(r->kinds[i].name, kind) == 0)
      t->kind = &r->kinds[i];
  if (t->kind == NULL) {
    corun_buf_printf(why, "task \"%s\" is of an unknown kind \"%s\"", t->id,
                     kind ? kind : "");
    return -1;
  }
  t->status = status_named(status);
  t->state = CORUN_STATE_DONE;
  t->t_start = ns_of(cJSON_GetObjectItemCaseSensitive(e, "start"));
  t->t_end = ns_of(cJSON_GetObjectItemCaseSensitive(e, "end"));
  queued = ns_of(cJSON_GetObjectItemCaseSensitive(e, "queued"));
  t->t_ready = t->t_start != CORUN_NO_TIME && queued != CORUN_NO_TIME &&
                       queued <= t->t_start
                   ? t->t_start - queued
                   : CORUN_NO_TIME;
  v = cJSON_GetObjectItemCaseSensitive(e, "attempts");
  /* corun writes at most 1,001; a hand-made report is held to the field. */
  t->attempts = !cJSON_IsNumber(v) || !(v->valuedouble >= 0) ? 0
                : v->valuedouble > UINT16_MAX ? UINT16_MAX
                                              : (uint16_t)v->valuedouble;
  if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "resumed")))
    t->flags |= CORUN_TF_RESUMED;
  if (cJSON_IsObject(err)) {
    const char *msg = str_of(err, "message");

    t->err_type = errtype_named(str_of(err, "type"));
    if (msg && (t->err_msg = strdup(msg)) == NULL)
      goto oom;
    rt->response = cJSON_DetachItemFromObjectCaseSensitive(
        (cJSON *)err, "response");
  }
  if (keeps_result(t->kind))
    t->result = cJSON_DetachItemFromObjectCaseSensitive(e, "result");
  if (t->kind->cases && cJSON_IsObject(t->result)) {
    rt->cases =
        cJSON_DetachItemFromObjectCaseSensitive(t->result, "junit_cases");
    rt->failed =
        cJSON_DetachItemFromObjectCaseSensitive(t->result, "failed_names");
  }
  if (name && strcmp(name, t->id) != 0) {
    char *copy = strdup(name);

    if (copy == NULL ||
        grow((void **)&r->job.names, &r->name_cap, r->job.nnames,
             sizeof(*r->job.names)) < 0) {
      free(copy);
      goto oom;
    }
    r->job.names[r->job.nnames].index = t->index;
    r->job.names[r->job.nnames++].name = copy;
  }
  if (p) {
    t->parent = p;
    /* Powers of two: grow when the count reaches one. */
    if ((p->nchildren & (p->nchildren - 1)) == 0) {
      size_t ncap = p->nchildren ? (size_t)p->nchildren * 2 : 1;
      struct corun_task **nc = realloc(p->children, ncap * sizeof(*nc));

      if (nc == NULL)
        goto oom;
      p->children = nc;
    }
    p->children[p->nchildren++] = t;
  } else {
    if (grow((void **)&r->job.roots, &r->root_cap, r->job.nroots,
             sizeof(*r->job.roots)) < 0)
      goto oom;
    r->job.roots[r->job.nroots++] = t;
  }
  /* Only containers are looked up by id: their children name them. */
  if (t->kind->parent && corun_strmap_put(&r->job.ids, t->id, t, NULL) < 0)
    goto oom;
  return 0;
oom:
  corun_buf_puts(why, "out of memory");
  return -1;
}

void corun__replay_free(struct replay *r)
{
  size_t i;

  if (r == NULL)
    return;
  for (i = 0; i < r->ntasks; i++) {
    struct rtask *rt = &r->chunks[i / CHUNK][i % CHUNK];

    free(rt->base.id);
    free(rt->base.err_msg);
    free(rt->base.children);
    cJSON_Delete(rt->base.result);
    cJSON_Delete(rt->response);
    cJSON_Delete(rt->cases);
    cJSON_Delete(rt->failed);
  }
  for (i = 0; i < r->nchunks; i++)
    free(r->chunks[i]);
  free(r->chunks);
  for (i = 0; i < r->job.nnames; i++)
    free(r->job.names[i].name);
  free(r->job.names);
  free(r->job.tasks);
  free(r->job.roots);
  free(r->job.name);
  corun_strmap_free(&r->job.ids);
  free(r);
}
