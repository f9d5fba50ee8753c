/* SPDX-License-Identifier: MIT */
/* Tasks made at run time from templates; see instance.h. */
#include "core/instance.h"

#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "core/common.h"
#include "core/fields.h"
#include "core/job.h"
#include "core/kind.h"
#include "json/write.h"
#include "core/run.h"
#include "json/template.h"

static int clonable(const struct corun_task *proto);

void corun__tmpl_init(struct corun_tmpl *tp, struct corun_task *proto,
                      cJSON *json)
{
  tp->proto = proto;
  tp->json = json;
  tp->expand = json && corun_template_in_tree(json);
  /* Without clone() every item is parsed from the JSON, so keep it. */
  if (!tp->expand && clonable(proto) && json) {
    cJSON_Delete(json);
    tp->json = NULL;
  }
}

void corun__tmpl_free(struct corun_tmpl *tp)
{
  corun__instance_free(tp->proto);
  cJSON_Delete(tp->json);
  memset(tp, 0, sizeof(*tp));
}

const cJSON *corun__capture_lookup(const struct corun_run *run,
                                   const char *name, char **err)
{
  const struct corun_job *job = run->job;
  const struct corun_task *t;
  const cJSON *v;
  size_t idlen;
  char *id;

  if (!corun_template_is_capture(name, &idlen)) {
    *err = NULL;
    return NULL;
  }
  if ((id = strndup(name, idlen)) == NULL) {
    *err = NULL;
    return NULL;
  }
  t = job ? corun_strmap_get(&job->ids, id) : NULL;
  free(id);
  v = NULL;
  if (t && t->status == CORUN_STATUS_OK) {
    /* A task the journal says ended ok in an earlier run: its record's. */
    if (t->flags & CORUN_TF_RESUMED) {
      const cJSON *caps =
          cJSON_GetObjectItemCaseSensitive(t->result, "captures");

      v = cJSON_GetObjectItemCaseSensitive(caps, name + idlen + 1);
    } else if (t->kind->capture) {
      v = t->kind->capture(t, name + idlen + 1);
    }
  }
  if (v == NULL) {
    struct corun_buf m = CORUN_BUF_INIT;

    /* The loader's checks leave this to tasks that did not end ok. */
    corun_buf_printf(&m, "\"${%s}\": task \"%.*s\" has no such capture%s",
                     name, (int)idlen, name,
                     t && t->status != CORUN_STATUS_OK ? " (it did not end ok)"
                                                       : "");
    *err = corun_buf_detach(&m);
  }
  return v;
}

struct expand_ctx {
  const struct corun_item_ctx *ic; /* NULL: captures only */
  const struct corun_diags *as_text; /* places where typing failed */
  const struct corun_run *run;
};

/* The value of a name: the item's, or a capture's. */
static const cJSON *lookup(const struct expand_ctx *ec, const char *name,
                           char **err)
{
  if (ec->ic && corun_template_is_item_name(name))
    return ec->ic->lookup(ec->ic->arg, name, err);
  return corun__capture_lookup(ec->run, name, err);
}

/* ${...} inside a longer string: the value as text. */
static int put_item(void *arg, const char *name, struct corun_buf *b,
                    char **err)
{
  const struct expand_ctx *ec = arg;
  const cJSON *v = lookup(ec, name, err);
  char *text;

  if (v == NULL)
    return -1;
  if (cJSON_IsString(v)) {
    corun_buf_puts(b, v->valuestring);
    return 0;
  }
  /* Numbers as the report writes them: integers stay integers. */
  if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
    corun__json_write(b, v, NULL);
    return 0;
  }
  text = corun__json_print(v);
  if (text == NULL) {
    b->oom = 1;
    return 0;
  }
  corun_buf_puts(b, text);
  free(text);
  return 0;
}

/* The item name a string is made of, whole ("${item}"), or NULL. */
static const char *whole_ref(const char *s, char *name, size_t size)
{
  size_t n = strlen(s);

  if (n < 4 || s[0] != '$' || s[1] != '{' || s[n - 1] != '}' ||
      n - 3 >= size || memchr(s + 2, '$', n - 3) || memchr(s + 2, '}', n - 3))
    return NULL;
  memcpy(name, s + 2, n - 3);
  name[n - 3] = '\0';
  return corun_template_is_item_name(name) ||
                 corun_template_is_capture(name, NULL)
             ? name
             : NULL;
}

static int typed_here(const struct expand_ctx *ec, const cJSON *v)
{
  size_t i;

  for (i = 0; ec->as_text && i < ec->as_text->n; i++)
    if (ec->as_text->v[i].off == corun_json_where(NULL, v))
      return 0;
  return 1;
}

/*
 * Fill the item into every string under v (a child of parent). A string
 * that is one reference and nothing else takes the value with its JSON
 * type, so "seconds": "${item}" gets a number and "json": "${item}" an
 * object; where the kind then wants a string (an argv element, an env
 * value), the second pass puts it as text.
 */
static int expand(cJSON *parent, cJSON *v, const struct expand_ctx *ec,
                  char **err)
{
  struct corun_template_ctx ctx;
  char name[256], *out;
  cJSON *it, *next;

  if (!cJSON_IsString(v)) {
    for (it = v->child; it; it = next) {
      next = it->next;
      if (expand(v, it, ec, err) < 0)
        return -1;
    }
    return 0;
  }
  if (!corun_template_has(v->valuestring))
    return 0;
  if (parent && whole_ref(v->valuestring, name, sizeof(name)) &&
      typed_here(ec, v)) {
    const cJSON *val = lookup(ec, name, err);
    cJSON *copy;

    if (val == NULL)
      return -1;
    if (!cJSON_IsString(val)) {
      copy = cJSON_Duplicate(val, 1);
      if (copy == NULL)
        return -1;
      copy->valueint = v->valueint; /* keeps the place for messages */
      /*
       * The copy has the value's own key, if any; it takes the place's:
       * replacing by pointer keeps none, and an object member needs one.
       */
      if (!(copy->type & cJSON_StringIsConst))
        free(copy->string);
      copy->type &= ~cJSON_StringIsConst;
      copy->string = NULL;
      if (v->string && (copy->string = strdup(v->string)) == NULL) {
        cJSON_Delete(copy);
        return -1;
      }
      return cJSON_ReplaceItemViaPointer(parent, v, copy) ? 0 : -1;
    }
  }
  memset(&ctx, 0, sizeof(ctx));
  ctx.item = put_item;
  ctx.item_arg = (void *)ec;
  if (corun_template_expand(&ctx, v->valuestring, &out, err) < 0)
    return -1;
  free(v->valuestring);
  v->valuestring = out;
  return 0;
}

int corun__capture_fill(const struct corun_run *run, cJSON *v, char **err)
{
  struct expand_ctx ec = {NULL, NULL, run};

  *err = NULL;
  return expand(NULL, v, &ec, err);
}

/* Parse one node from its JSON for this item; problems go to diags. */
static void parse_node(struct corun_task *t, cJSON *obj,
                       struct corun_diags *diags)
{
  const struct corun_run *run = t->run;
  struct corun_fields f;
  const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(obj, "tasks");

  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.diags = diags;
  f.task = -1;
  f.dir = run->dir;
  f.root = run->root;
  if (t->kind->parent && cJSON_IsArray(tasks)) {
    f.has_tasks = 1;
    f.nchildren = (uint32_t)cJSON_GetArraySize(tasks);
  }
  t->kind->parse(t, &f);
  /* The rest of the common fields were checked once, in the template. */
  corun__common_read(t, &f, CORUN_COMMON_TIMEOUT, NULL);
}

/*
 * One task of the item's tree from its prototype: cloned when json is
 * NULL, else parsed from json (the expanded template of this node). Its
 * children follow, named "<id>.<n>". *made counts the tasks made.
 */
static struct corun_task *make(const struct corun_task *proto, cJSON *json,
                               struct corun_task *parent, const char *id,
                               struct corun_diags *diags, size_t *made)
{
  const struct corun_kind *k = proto->kind;
  size_t size = (k->size + 7) & ~(size_t)7, idlen = strlen(id) + 1;
  struct corun_task *t = malloc(size + idlen);
  const cJSON *kids = json ? cJSON_GetObjectItemCaseSensitive(json, "tasks")
                           : NULL;
  uint32_t i;

  if (t == NULL)
    return NULL;
  if (json == NULL)
    memcpy(t, proto, k->size);
  memset(t, 0, json ? k->size : sizeof(*t));
  /* The id lives after the kind's struct: one allocation per task. */
  t->id = memcpy((char *)t + size, id, idlen);
  t->flags = CORUN_TF_ID_POOLED | CORUN_TF_INSTANCE;
  t->kind = k;
  t->parent = parent;
  t->run = parent->run;
  t->index = parent->index;
  t->limit = proto->limit;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  if (json) {
    parse_node(t, json, diags);
  } else if (k->clone(t, proto) < 0) {
    corun__task_free_parts(t);
    free(t);
    return NULL;
  } else if (proto->timeout) {
    /* Without it the item would run unbounded: out of memory instead. */
    if ((t->timeout = calloc(1, sizeof(*t->timeout))) == NULL) {
      corun__task_free_parts(t);
      free(t);
      return NULL;
    }
    t->timeout->ms = proto->timeout->ms;
  }
  (*made)++;
  if (proto->nchildren &&
      (t->children = calloc(proto->nchildren, sizeof(*t->children))) == NULL)
    goto fail;
  for (i = 0; i < proto->nchildren; i++) {
    struct corun_buf cid = CORUN_BUF_INIT;

    corun_buf_printf(&cid, "%s.%u", id, i + 1);
    t->children[i] =
        cid.oom ? NULL
                : make(proto->children[i],
                       kids ? cJSON_GetArrayItem(kids, (int)i) : NULL, t,
                       corun_buf_str(&cid), diags, made);
    corun_buf_free(&cid);
    if (t->children[i] == NULL)
      goto fail;
    t->nchildren++;
  }
  return t;
fail:
  corun__instance_free(t);
  return NULL;
}

static struct corun_task *make_for_item(const struct corun_tmpl *tp,
                                        struct corun_task *parent,
                                        const char *id,
                                        const struct expand_ctx *ec,
                                        struct corun_diags *diags,
                                        size_t *made, char **err)
{
  cJSON *obj = tp->json ? cJSON_Duplicate(tp->json, 1) : NULL;
  struct corun_task *t = NULL;

  *made = 0;
  if (tp->json && obj == NULL)
    return NULL;
  if (obj == NULL || !tp->expand || expand(NULL, obj, ec, err) == 0)
    t = make(tp->proto, obj, parent, id, diags, made);
  cJSON_Delete(obj);
  if (t && diags->n > 0) {
    corun__instance_free(t);
    t = NULL;
  }
  return t;
}

/*
 * Where a typed value did not fit (diags), note the place to put it as
 * text next time. Returns whether any place is new: only those can make a
 * difference.
 */
static int try_as_text(const struct corun_diags *diags,
                       struct corun_diags *typed)
{
  size_t before = typed->n, i, k;

  for (i = 0; i < diags->n; i++) {
    for (k = 0; k < typed->n && typed->v[k].off != diags->v[i].off; k++)
      ;
    if (k == typed->n)
      corun__diag_add(typed, diags->v[i].off, -1, "%s", diags->v[i].msg);
  }
  return typed->n > before;
}

struct corun_task *corun__instance_new(const struct corun_tmpl *tp,
                                       struct corun_task *parent,
                                       const char *id,
                                       const struct corun_item_ctx *ic,
                                       char **err)
{
  struct corun_diags diags = {0}, typed = {0};
  struct expand_ctx ec = {ic, NULL, parent->run};
  struct corun_task *t;
  size_t made, tries;

  *err = NULL;
  ec.as_text = &typed;
  t = make_for_item(tp, parent, id, &ec, &diags, &made, err);
  /*
   * Where a typed value did not fit, try it as text. A kind may stop at
   * the first misfit of an array, so this can take a few rounds.
   */
  for (tries = 0; t == NULL && diags.n > 0 && tp->expand && tries < 16;
       tries++) {
    if (!try_as_text(&diags, &typed))
      break;
    corun__diags_free(&diags);
    t = make_for_item(tp, parent, id, &ec, &diags, &made, err);
  }
  if (t == NULL && diags.n == 0 && typed.n > 0 && *err == NULL)
    *err = strdup(typed.v[typed.n - 1].msg);
  if (t == NULL && *err == NULL && diags.n > 0)
    *err = strdup(diags.v[0].msg);
  corun__diags_free(&diags);
  corun__diags_free(&typed);
  if (t)
    parent->run->active += made;
  return t;
}

const cJSON *corun__job_deferred(const struct corun_job *job, uint32_t index)
{
  size_t lo = 0, hi = job->ndeferred;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (job->deferred[mid].index == index)
      return job->deferred[mid].json;
    if (job->deferred[mid].index < index)
      lo = mid + 1;
    else
      hi = mid;
  }
  return NULL;
}

/* The kind's part of t parsed anew from obj; problems go to diags. */
static void reparse(struct corun_task *t, cJSON *obj, struct corun_diags *diags)
{
  const struct corun_kind *k = t->kind;
  struct corun_fields f;

  if (k->free)
    k->free(t);
  memset((char *)t + sizeof(*t), 0, k->size - sizeof(*t));
  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.diags = diags;
  f.task = -1;
  f.dir = t->run->dir;
  f.root = t->run->root;
  k->parse(t, &f);
}

int corun__task_fill(struct corun_task *t, char **err)
{
  const cJSON *json = corun__job_deferred(t->run->job, t->index);
  struct corun_diags diags = {0}, typed = {0};
  struct expand_ctx ec = {NULL, &typed, t->run};
  struct corun_buf m = CORUN_BUF_INIT;
  size_t tries;
  int ok = 0;

  *err = NULL;
  if (json == NULL)
    return 0;
  /* As for an item: where a typed value does not fit, try it as text. */
  for (tries = 0; tries < 16; tries++) {
    cJSON *obj = cJSON_Duplicate(json, 1);

    if (obj == NULL)
      break;
    if (expand(NULL, obj, &ec, err) < 0) {
      cJSON_Delete(obj);
      break;
    }
    corun__diags_free(&diags);
    reparse(t, obj, &diags);
    cJSON_Delete(obj);
    if (diags.n == 0) {
      ok = 1;
      break;
    }
    if (!try_as_text(&diags, &typed))
      break;
  }
  if (!ok && *err == NULL && diags.n > 0) {
    corun_buf_printf(&m, "with its captures filled in: %s", diags.v[0].msg);
    *err = corun_buf_detach(&m);
  }
  corun__diags_free(&diags);
  corun__diags_free(&typed);
  return ok ? 0 : -1;
}

void corun__instance_free(struct corun_task *t)
{
  uint32_t i;

  if (t == NULL)
    return;
  for (i = 0; i < t->nchildren; i++)
    corun__instance_free(t->children[i]);
  corun__task_free_parts(t);
  free(t);
}


static int clonable(const struct corun_task *proto)
{
  uint32_t i;

  if (proto->kind->clone == NULL)
    return 0;
  for (i = 0; i < proto->nchildren; i++)
    if (!clonable(proto->children[i]))
      return 0;
  return 1;
}

cJSON *corun__task_take_result(struct corun_task *t)
{
  struct corun_buf b = CORUN_BUF_INIT;
  cJSON *r;

  if (t->kind->result == NULL) {
    r = t->result;
    t->result = NULL;
    return r;
  }
  /* A kind that writes its own result keeps it in its own form. */
  t->kind->result(t, NULL, &b);
  r = b.oom ? NULL : cJSON_Parse(corun_buf_str(&b));
  corun_buf_free(&b);
  if (r && cJSON_IsNull(r)) {
    cJSON_Delete(r);
    r = NULL;
  }
  return r;
}
