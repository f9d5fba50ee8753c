/* SPDX-License-Identifier: MIT */
#include "core/common.h"

#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "util/suggest.h"
#include "core/kind.h"

const char *const corun__common_fields[] = {
    "id", "kind", "after", "run_if", "timeout", "limit", "shield", "name",
    NULL};

const char *const corun__run_if_names[] = {"all_ok", "all_done", "any_failed",
                                           NULL};

static int listed(const char *const *names, const char *name)
{
  size_t i;

  for (i = 0; names[i]; i++)
    if (strcmp(names[i], name) == 0)
      return 1;
  return 0;
}

int corun__common_shapes(const char *name)
{
  static const char *const shape[] = {"kind",   "limit",  "tasks", "id",
                                      "after",  "run_if", "shield", NULL};

  return listed(shape, name);
}

int corun__common_per_task(const char *name)
{
  /* "run_if" says how to take a task's own "after": a default has none. */
  static const char *const per_task[] = {"id",     "kind",  "after",
                                         "run_if", "tasks", "name", NULL};

  return listed(per_task, name);
}

static int valid_id(const char *s)
{
  size_t n = 0;

  for (; *s; s++, n++) {
    char c = *s;

    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
      return 0;
  }
  return n >= 1 && n <= 64;
}

static void read_id(struct corun_fields *f, struct corun_common *out)
{
  const cJSON *v = corun_field(f, "id");

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (cJSON_IsString(v) && (strcmp(v->valuestring, "env") == 0 ||
                            strcmp(v->valuestring, "item") == 0 ||
                            strncmp(v->valuestring, "item.", 5) == 0 ||
                            strcmp(v->valuestring, "index") == 0)) {
    /*
     * ${env:...}, ${item} and ${index} would shadow its captures (and
     * ${item.a.x} is a field of the item, never task item.a's capture).
     */
    corun_field_fail(f, "id", v,
                     "\"%s\" is reserved (env, item, item.* and index are "
                     "corun's own names in ${...})",
                     v->valuestring);
    out->bad_id = v->valuestring;
  } else if (cJSON_IsString(v) && valid_id(v->valuestring)) {
    out->id = v;
  } else if (cJSON_IsString(v)) {
    corun_field_fail(f, "id", v,
                     "\"%s\" is not a valid id (1 to 64 of A-Z a-z 0-9 _ . -)",
                     v->valuestring);
    if (*v->valuestring)
      out->bad_id = v->valuestring;
  } else {
    corun_field_fail(f, "id", v, "must be a string, not %s",
                     corun__json_type(v));
  }
}

static void read_name(struct corun_fields *f, struct corun_common *out)
{
  const cJSON *v = corun_field(f, "name");

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (!cJSON_IsString(v))
    corun_field_fail(f, "name", v, "must be a string, not %s",
                     corun__json_type(v));
  else if (v->valuestring[0] == '\0')
    corun_field_fail(f, "name", v,
                     "must not be empty (leave it out to show the id)");
  else if (out)
    out->name = v;
}

static void read_after(struct corun_fields *f, struct corun_common *out)
{
  const cJSON *v = corun_field(f, "after"), *it;

  if (v == NULL)
    return;
  if (!cJSON_IsArray(v)) {
    corun_field_fail(f, "after", v, "must be an array of task ids, not %s",
                     corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next) {
    if (!cJSON_IsString(it)) {
      corun_field_fail(f, "after", it, "must hold task ids (strings), not %s",
                       corun__json_type(it));
      return;
    }
  }
  if (v->child)
    out->after = v;
}

static void read_run_if(struct corun_fields *f, struct corun_common *out)
{
  const cJSON *v = corun_field(f, "run_if"), *after;
  char hint[CORUN_HINT_MAX];
  size_t i;

  if (v == NULL || (v->type & CORUN_FIELD_BAD))
    return;
  if (!cJSON_IsString(v)) {
    corun_field_fail(f, "run_if", v, "must be a string, not %s",
                     corun__json_type(v));
    return;
  }
  for (i = 0; corun__run_if_names[i]; i++)
    if (strcmp(corun__run_if_names[i], v->valuestring) == 0)
      break;
  if (corun__run_if_names[i] == NULL) {
    corun_field_fail(f, "run_if", v,
                     "must be \"all_ok\", \"all_done\" or \"any_failed\", "
                     "not \"%s\"%s",
                     v->valuestring,
                     corun_did_you_mean(hint, v->valuestring,
                                        corun__run_if_names, (size_t)-1,
                                        NULL));
    return;
  }
  /*
   * It says how to take the ends of the "after" tasks: with none, it
   * would say nothing, which is more likely a mistake than a wish.
   */
  after = corun_field(f, "after");
  if (after == NULL || (cJSON_IsArray(after) && after->child == NULL)) {
    corun_field_fail(f, "run_if", v,
                     "needs \"after\": it says how this task takes the ends "
                     "of the tasks it runs after");
    return;
  }
  out->run_if = (enum corun_run_if)i;
}

static void read_timeout(struct corun_task *t, struct corun_fields *f)
{
  double secs;

  if (corun_field_timeout(f, "timeout", "end the task", &secs) <= 0 ||
      t == NULL)
    return;
  t->timeout = calloc(1, sizeof(*t->timeout));
  if (t->timeout == NULL)
    corun_field_fail(f, "timeout", NULL, "could not be kept: out of memory");
  else
    t->timeout->ms = corun_duration_ms(secs);
}

static void read_limit(struct corun_task *t, struct corun_fields *f,
                       unsigned which, struct corun_common *out)
{
  const cJSON *v = corun_field(f, "limit");

  /*
   * A default limit is for the work itself, not for the gathers and waits
   * around it: a container holding a slot its children need next would
   * wait on itself.
   */
  if (v && corun_field_from_defaults(f, v) && t && t->kind &&
      corun__kind_is_container(t->kind))
    return;
  if (v && (which & CORUN_COMMON_TEMPLATE) && cJSON_IsString(v) &&
      corun_template_item_refs(v->valuestring, NULL, NULL) > 0) {
    corun_field_fail(f, "limit", v, "cannot depend on the item");
    return;
  }
  if (v && !(v->type & CORUN_FIELD_BAD))
    out->limit = v;
}

void corun__common_read(struct corun_task *t, struct corun_fields *f,
                        unsigned which, struct corun_common *out)
{
  static const struct {
    unsigned bit;
    const char *name;
  } per_item[] = {{CORUN_COMMON_ID, "id"},
                  {CORUN_COMMON_AFTER, "after"},
                  {CORUN_COMMON_RUN_IF, "run_if"},
                  {CORUN_COMMON_SHIELD, "shield"}};
  int shield = 0;
  size_t i;

  if (out)
    memset(out, 0, sizeof(*out));
  if (which & CORUN_COMMON_TEMPLATE) {
    /* What places a task among the others, one per item cannot have. */
    for (i = 0; i < sizeof(per_item) / sizeof(per_item[0]); i++) {
      const cJSON *v = (which & per_item[i].bit)
                           ? corun_field(f, per_item[i].name)
                           : NULL;

      if (v && !corun_field_from_defaults(f, v))
        corun_field_fail(f, per_item[i].name, v,
                         "cannot be set on a stage's task: it runs once per "
                         "item");
    }
    which &= ~(unsigned)(CORUN_COMMON_ID | CORUN_COMMON_AFTER |
                         CORUN_COMMON_RUN_IF | CORUN_COMMON_SHIELD);
  }
  if (which & CORUN_COMMON_ID)
    read_id(f, out);
  if (which & CORUN_COMMON_AFTER)
    read_after(f, out);
  if (which & CORUN_COMMON_RUN_IF)
    read_run_if(f, out);
  if (which & CORUN_COMMON_TIMEOUT)
    read_timeout(t, f);
  if ((which & CORUN_COMMON_SHIELD) &&
      corun_field_bool(f, "shield", &shield) > 0 && shield && t)
    t->flags |= CORUN_TF_SHIELD;
  if (which & CORUN_COMMON_LIMIT)
    read_limit(t, f, which, out);
  if (which & CORUN_COMMON_NAME)
    read_name(f, out);
}

static int named_cmp(const void *a, const void *b)
{
  uint32_t x = ((const struct corun_named *)a)->index,
           y = ((const struct corun_named *)b)->index;

  return x < y ? -1 : x > y;
}

void corun__job_sort_names(struct corun_job *job)
{
  if (job->nnames > 1)
    qsort(job->names, job->nnames, sizeof(*job->names), named_cmp);
}

const char *corun__task_name(const struct corun_job *job,
                             const struct corun_task *t)
{
  size_t lo = 0, hi = job ? job->nnames : 0;

  /* An item's task shares its pipeline's index: it is not the job's. */
  if (t->flags & CORUN_TF_INSTANCE)
    return t->id;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (job->names[mid].index == t->index)
      return job->names[mid].name;
    if (job->names[mid].index < t->index)
      lo = mid + 1;
    else
      hi = mid;
  }
  return t->id;
}
