/* SPDX-License-Identifier: MIT */
/* Tasks made at run time from templates; see instance.h. */
#include "instance.h"

#include <stdlib.h>
#include <string.h>

#include "duration.h"
#include "fields.h"
#include "kind.h"
#include "report.h"
#include "run.h"
#include "template.h"

static int has_templates(const cJSON *v)
{
  const cJSON *it;

  if (cJSON_IsString(v))
    return corun_template_has(v->valuestring);
  for (it = v->child; it; it = it->next)
    if (has_templates(it))
      return 1;
  return 0;
}

int corun__tmpl_init(struct corun_tmpl *tp, struct corun_task *proto,
                     cJSON *json)
{
  tp->proto = proto;
  tp->json = json;
  tp->expand = json && has_templates(json);
  /* Without clone() every item is parsed from the JSON, so keep it. */
  if (!tp->expand && proto->kind->clone && json) {
    cJSON_Delete(json);
    tp->json = NULL;
  }
  return 0;
}

void corun__tmpl_free(struct corun_tmpl *tp)
{
  if (tp->proto) {
    corun__task_free_parts(tp->proto);
    free(tp->proto);
  }
  cJSON_Delete(tp->json);
  memset(tp, 0, sizeof(*tp));
}

/* ${...} inside a longer string: the value as text. */
static int put_item(void *arg, const char *name, struct corun_buf *b,
                    char **err)
{
  const struct corun_item_ctx *ic = arg;
  const cJSON *v = ic->lookup(ic->arg, name, err);
  char *text;

  if (v == NULL)
    return -1;
  if (cJSON_IsString(v)) {
    corun_buf_puts(b, v->valuestring);
    return 0;
  }
  text = cJSON_PrintUnformatted(v);
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
  return corun_template_is_item_name(name) ? name : NULL;
}

/*
 * Fill the item into every string under v (a child of parent). A string
 * that is one reference and nothing else takes the value with its JSON
 * type, so "seconds": "${item}" gets a number and "json": "${item}" an
 * object.
 */
static int expand(cJSON *parent, cJSON *v, const struct corun_item_ctx *ic,
                  char **err)
{
  struct corun_template_ctx ctx;
  char name[256], *out;
  cJSON *it, *next;

  if (!cJSON_IsString(v)) {
    for (it = v->child; it; it = next) {
      next = it->next;
      if (expand(v, it, ic, err) < 0)
        return -1;
    }
    return 0;
  }
  if (!corun_template_has(v->valuestring))
    return 0;
  if (parent && whole_ref(v->valuestring, name, sizeof(name))) {
    const cJSON *val = ic->lookup(ic->arg, name, err);
    cJSON *copy;

    if (val == NULL)
      return -1;
    if (!cJSON_IsString(val)) {
      copy = cJSON_Duplicate(val, 1);
      if (copy == NULL)
        return -1;
      copy->valueint = v->valueint; /* keeps the place for messages */
      /* Replacing by pointer keeps no key; an object member needs it. */
      if (v->string && (copy->string = strdup(v->string)) == NULL) {
        cJSON_Delete(copy);
        return -1;
      }
      return cJSON_ReplaceItemViaPointer(parent, v, copy) ? 0 : -1;
    }
  }
  memset(&ctx, 0, sizeof(ctx));
  ctx.item = put_item;
  ctx.item_arg = (void *)ic;
  if (corun_template_expand(&ctx, v->valuestring, &out, err) < 0)
    return -1;
  free(v->valuestring);
  v->valuestring = out;
  return 0;
}

/* Parse the template anew for this item. Returns 0, or -1 with *err. */
static int parse_for_item(const struct corun_tmpl *tp, struct corun_task *t,
                          const struct corun_item_ctx *ic, char **err)
{
  struct corun_job *job = t->parent->run->job;
  struct corun_diags diags = {0};
  struct corun_fields f;
  cJSON *obj = cJSON_Duplicate(tp->json, 1);
  double secs;

  if (obj == NULL)
    return -1;
  if (tp->expand && expand(NULL, obj, ic, err) < 0) {
    cJSON_Delete(obj);
    return -1;
  }
  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.diags = &diags;
  f.task = -1;
  f.dir = job->dir;
  f.root = job->root;
  t->kind->parse(t, &f);
  if (corun_field_duration(&f, "timeout", &secs) > 0) {
    t->timeout = calloc(1, sizeof(*t->timeout));
    if (t->timeout)
      t->timeout->ms = corun_duration_ms(secs);
  }
  cJSON_Delete(obj);
  if (diags.n > 0) {
    *err = strdup(diags.v[0].msg);
    corun__diags_free(&diags);
    return -1;
  }
  return f.failed ? -1 : 0;
}

struct corun_task *corun__instance_new(const struct corun_tmpl *tp,
                                       struct corun_task *parent,
                                       const char *id,
                                       const struct corun_item_ctx *ic,
                                       char **err)
{
  const struct corun_kind *k = tp->proto->kind;
  size_t size = (k->size + 7) & ~(size_t)7, idlen = strlen(id) + 1;
  struct corun_task *t = malloc(size + idlen);

  *err = NULL;
  if (t == NULL)
    return NULL;
  /* The id lives after the kind's struct: one allocation per item. */
  memcpy((char *)t + size, id, idlen);
  if (tp->json == NULL) {
    memcpy(t, tp->proto, k->size);
    memset(t, 0, sizeof(*t));
    t->kind = k;
    t->parent = parent;
    if (k->clone(t, tp->proto) < 0)
      goto fail;
    if (tp->proto->timeout) {
      t->timeout = calloc(1, sizeof(*t->timeout));
      if (t->timeout == NULL)
        goto fail;
      t->timeout->ms = tp->proto->timeout->ms;
    }
  } else {
    memset(t, 0, k->size);
    t->kind = k;
    t->parent = parent;
    if (parse_for_item(tp, t, ic, err) < 0)
      goto fail;
  }
  t->id = (char *)t + size;
  t->flags |= CORUN_TF_ID_POOLED | CORUN_TF_INSTANCE;
  t->limit = tp->proto->limit;
  t->run = parent->run;
  t->index = parent->index;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  parent->run->active++;
  return t;
fail:
  t->id = NULL;
  t->flags |= CORUN_TF_ID_POOLED;
  corun__task_free_parts(t);
  free(t);
  return NULL;
}

void corun__instance_free(struct corun_task *t)
{
  corun__task_free_parts(t);
  free(t);
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
