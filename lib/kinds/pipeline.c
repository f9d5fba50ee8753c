/* SPDX-License-Identifier: MIT */
/*
 * pipeline: producers take items from a source and put them into the first
 * stage's bounded queue; each stage's workers take items, run the stage's
 * task for each (an instance of its template, see instance.h) and put the
 * result into the next stage's queue. This is asyncio's producer/consumer
 * pattern with asyncio.Queue (queue.h), written as data.
 *
 * This file reads the pipeline's fields and holds its kind table; the run
 * is in pipeline/ (pipeline/pipeline.h says which file does what).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "util/suggest.h"
#include "core/fields.h"
#include "core/kind.h"
#include "json/json.h"
#include "json/template.h"
#include "kinds/pipeline/pipeline.h"

static const char *const fields[] = {
    "source", "producers", "produce_delay", "rate", "stages",
    "on_error", "results", "junit", "shard", NULL};

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
                     "must be {\"items\": [...]}, {\"range\": [start, stop]}, "
                     "{\"lines\": \"PATH\"} or {\"from\": \"${ID.NAME}\"}, "
                     "not %s",
                     corun__json_type(src));
    return;
  }
  for (it = src->child; it; it = it->next) {
    static const char *const keys[] = {"items", "range", "lines", "from",
                                       NULL};
    char hint[CORUN_HINT_MAX];

    n++;
    if (strcmp(it->string, "from") == 0 ||
        (strcmp(it->string, "items") == 0 && cJSON_IsString(it))) {
      /* A whole "${ID.NAME}": the array it holds when the pipeline starts. */
      size_t len = cJSON_IsString(it) ? strlen(it->valuestring) : 0;

      c->src = SRC_FROM;
      if (len < 4 || it->valuestring[0] != '$' ||
          it->valuestring[1] != '{' || it->valuestring[len - 1] != '}' ||
          (c->from = strndup(it->valuestring + 2, len - 3)) == NULL ||
          !corun_template_is_capture(c->from, NULL))
        corun_field_fail(f, "source", it,
                         "\"%s\" must be one capture, \"${ID.NAME}\": the "
                         "array a fetch the pipeline runs after took",
                         it->string);
    } else if (strcmp(it->string, "items") == 0) {
      c->src = SRC_ITEMS;
      if (!cJSON_IsArray(it))
        corun_field_fail(f, "source", it, "\"items\" must be an array, not %s",
                         corun__json_type(it));
      else if ((c->items = cJSON_Duplicate(it, 1)) == NULL)
        corun_field_fail(f, "source", it, "could not be kept: out of memory");
      else /* the loader left captures and $${ for the start to fill */
        c->items_fill = corun_template_in_tree(c->items);
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
      corun_field_fail(f, "source", it, "has unknown field \"%s\"%s",
                       it->string,
                       corun_did_you_mean(hint, it->string, keys, (size_t)-1,
                                          NULL));
    }
  }
  if (n != 1 && !f->failed)
    corun_field_fail(f, "source", src,
                     "must hold exactly one of \"items\", \"range\", "
                     "\"lines\" or \"from\"");
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
      const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");

      task = it;
      /* Checked with the task's other fields; kept to name items by. */
      if (cJSON_IsString(nm) && st->name == NULL &&
          (st->name = strdup(nm->valuestring)) == NULL)
        corun_field_fail(f, "stages", it, "could not be kept: out of memory");
    } else {
      char hint[CORUN_HINT_MAX];

      corun_field_fail(f, "stages", it, "stage %u: unknown field \"%s\"%s",
                       i + 1, it->string,
                       corun_did_you_mean(hint, it->string, keys, (size_t)-1,
                                          NULL));
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
  /* The check of "defaults" runs parse without templates: nothing here. */
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
  static const char *const junit[] = {"summary", "items", NULL};
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
  if (corun_field_enum(f, "junit", junit, &k) > 0)
    c->junit_items = k == 1;
  {
    int on = 0;

    if (corun_field_bool(f, "shard", &on) > 0 && on)
      c->shard_off = corun_json_where(f->json, corun_field(f, "shard"));
  }
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

/* ---- --shard: the items are dealt out, item i to part i % total + 1 ---- */

static size_t splits(const struct corun_task *t)
{
  const struct pl *p = (const struct pl *)t;

  return p->c ? p->c->shard_off : 0;
}

static void split(struct corun_task *t, unsigned index, unsigned total)
{
  struct pl *p = (struct pl *)t;

  p->c->shard_index = index;
  p->c->shard_total = total;
}

static int split_count(const struct corun_task *t, unsigned index,
                       unsigned total, uint64_t *mine, uint64_t *all)
{
  struct pl_conf c = *((const struct pl *)t)->c;

  if (c.src == SRC_ITEMS)
    *all = (uint64_t)cJSON_GetArraySize(c.items);
  else if (c.src == SRC_RANGE)
    *all = corun__pl_range_count(&c);
  else
    return 0;
  c.shard_index = index;
  c.shard_total = total;
  *mine = corun__pl_mine_of(&c, *all);
  return 1;
}

static void release(struct corun_task *t)
{
  struct pl *p = (struct pl *)t;
  struct pl_conf *c = p->c;
  uint32_t i;

  corun__pl_run_free(p);
  if (c) {
    for (i = 0; c->stages && i < c->nstages; i++) {
      corun__tmpl_free(&c->stages[i].tmpl);
      free(c->stages[i].name);
    }
    free(c->stages);
    cJSON_Delete(c->items);
    free(c->from);
    free(c->lines);
    free(c->results);
    free(c);
  }
}

const struct corun_kind corun_kind_pipeline = {
    .name = "pipeline",
    .size = sizeof(struct pl),
    .fields = fields,
    .no_nest = 1,
    .tmpl_list = "stages",
    .tmpl_key = "task",
    .parse = parse,
    .start = corun__pl_start,
    .resume = corun__pl_resume,
    .cancel = corun__pl_cancel,
    .child_done = corun__pl_child_done,
    .describe = corun__pl_describe,
    .dry = corun__pl_dry,
    .result = corun__pl_result,
    .summary = corun__pl_summary,
    .trace = corun__pl_trace,
    .cases = corun__pl_cases,
    .case_detail = corun__pl_case_detail,
    .progress = corun__pl_progress,
    .splits = splits,
    .split = split,
    .split_count = split_count,
    .free = release,
};
