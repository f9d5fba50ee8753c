/* SPDX-License-Identifier: MIT */
/*
 * Task templates: a task that a kind (a pipeline, for each stage) makes
 * anew for every item at run time. Checked here once, as far as anything
 * can be known before the item.
 */
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "core/instance.h"
#include "load/loader.h"
#include "util/duration.h"

/*
 * Where the strings naming the item or a capture are: their checks wait
 * for the values.
 */
static void item_offsets(struct loader *ld, const cJSON *v, struct offsets *o)
{
  const cJSON *it;

  if (cJSON_IsString(v) &&
      corun_template_refs(v->valuestring, CORUN_REF_ITEM | CORUN_REF_CAPTURE,
                          NULL, NULL) > 0)
    corun__offsets_add(o, corun__load_where(ld, v));
  for (it = v->child; it; it = it->next)
    item_offsets(ld, it, o);
}

/* A template task (and its children) taking a limit a template parent holds. */
static void check_template_limits(struct loader *ld, long task,
                                  const struct corun_task *t)
{
  const struct corun_task *a;
  uint32_t i;

  for (a = t->parent; t->limit && a; a = a->parent)
    if (a->limit == t->limit) {
      corun__load_diag(
          ld, ld->obj_offs[task], task,
          "a stage's task: \"limit\" \"%s\" is taken inside a task that "
          "already holds it: waiting for another slot there could wait for "
          "ever",
          t->limit->name);
      break;
    }
  for (i = 0; i < t->nchildren; i++)
    check_template_limits(ld, task, t->children[i]);
}

/*
 * Whether a diagnostic is about the value of a field that gives a task of
 * kind k its shape: those of every task, and the kind's own.
 */
static int structural(const struct corun_diag *d, const struct corun_kind *k)
{
  return d->what == CORUN_DIAG_VALUE &&
         (corun__common_shapes(d->field) || corun__kind_shapes(k, d->field));
}

/*
 * pf is the fields of the task holding the template, of a kind that takes
 * templates (pf->kind->tmpl_list): its errors about obj name that field.
 */
struct corun_task *corun__load_template(struct corun_fields *pf, cJSON *obj,
                                        const char *label)
{
  struct loader *ld = pf->loader;
  struct corun_diags scratch = {0};
  struct offsets io = {0};
  struct corun_fields f;
  const struct corun_kind *k;
  struct corun_task *t;
  struct corun_common common;
  const cJSON *v;
  cJSON *tasks, *c;
  size_t i, j, before = ld->diags.n, mark;

  if (!cJSON_IsObject(obj)) {
    corun_field_fail(pf, pf->kind->tmpl_list, obj,
                     "%s must be a task object, not %s", label,
                     corun__json_type(obj));
    return NULL;
  }
  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.defaults = ld->defaults;
  f.json = &ld->p;
  f.diags = &scratch;
  f.task = pf->task;
  f.obj_off = corun__load_where(ld, obj);
  f.dir = pf->dir;
  f.root = pf->root;
  mark = ld->diags.n;
  v = corun_field(&f, "kind");
  if (cJSON_IsString(v) &&
      corun_template_item_refs(v->valuestring, NULL, NULL) > 0) {
    corun_field_fail(&f, "kind", v, "cannot depend on the item");
    k = NULL;
  } else {
    k = corun__load_read_kind(ld, &f, pf->task);
  }
  if (k && k->no_nest) {
    corun_field_fail(&f, "kind", corun_field(&f, "kind"),
                     "\"%s\" cannot be a stage's task (a %s inside a %s: "
                     "use more stages)",
                     k->name, k->name, pf->kind ? pf->kind->name : "?");
    k = NULL;
  }
  f.kind = k;
  tasks = cJSON_GetObjectItemCaseSensitive(obj, "tasks");
  if (k && k->parent && tasks) {
    f.has_tasks = 1;
    f.tasks_off = corun__load_where(ld, tasks);
    f.nchildren = (uint32_t)cJSON_GetArraySize(tasks);
    if (!cJSON_IsArray(tasks))
      corun_field_fail(&f, "tasks", tasks, "must be an array of tasks, not %s",
                       corun__json_type(tasks));
  }
  if (k && k->check_template)
    k->check_template(&f);
  t = calloc(1, k ? k->size : sizeof(*t));
  if (t == NULL) {
    corun_field_fail(pf, pf->kind->tmpl_list, obj,
                     "could not be kept: out of memory");
    corun__diags_free(&scratch);
    return NULL;
  }
  t->kind = k;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  corun__common_read(t, &f, CORUN_COMMON_ALL | CORUN_COMMON_TEMPLATE,
                     &common);
  v = common.limit;
  if (v)
    t->limit = corun__load_resolve_limit(ld, &f, v);
  if (t->limit) {
    struct tmpl_limit *nl =
        realloc(ld->tlimits, (ld->ntlimits + 1) * sizeof(*nl));

    if (nl) {
      ld->tlimits = nl;
      nl[ld->ntlimits].task = pf->task;
      nl[ld->ntlimits].off = corun__load_where(ld, v);
      nl[ld->ntlimits++].limit = t->limit;
    }
  }
  if (k) {
    k->parse(t, &f);
    corun__load_check_unknown(ld, &f, k, pf->task, mark);
  } else {
    corun__load_check_unknown_any(ld, &f, pf->task, mark);
  }
  if (k && k->parent && f.has_tasks && cJSON_IsArray(tasks) &&
      f.nchildren > 0) {
    struct corun_buf cl = CORUN_BUF_INIT;

    t->children = calloc(f.nchildren, sizeof(*t->children));
    for (c = tasks->child, i = 0; c && t->children; c = c->next, i++) {
      corun_buf_reset(&cl);
      corun_buf_printf(&cl, "%s, child %zu", label, i + 1);
      t->children[i] = corun__load_template(pf, c, corun_buf_str(&cl));
      if (t->children[i] == NULL)
        break;
      t->children[i]->parent = t;
      t->nchildren++;
    }
    corun_buf_free(&cl);
    if (t->nchildren < f.nchildren) {
      pf->failed = 1;
      corun__instance_free(t);
      free(io.v);
      corun__diags_free(&scratch);
      return NULL;
    }
  }
  /*
   * A value naming the item is checked per item at run time: what the
   * placeholder text made of it here says nothing. Problems with the
   * defaults were reported once already.
   */
  item_offsets(ld, obj, &io);
  for (i = 0; i < scratch.n; i++) {
    for (j = 0; j < io.n && io.v[j] != scratch.v[i].off; j++)
      ;
    /* What shapes the task itself is never the item's to decide. */
    if (j < io.n && !structural(&scratch.v[i], k))
      continue;
    if (scratch.v[i].what == CORUN_DIAG_DEFAULT)
      continue;
    corun__load_diag(ld, scratch.v[i].off, pf->task, "%s: %s", label,
                     scratch.v[i].msg);
  }
  free(io.v);
  corun__diags_free(&scratch);
  for (i = before; i < ld->diags.n; i++)
    if (ld->diags.v[i].task == pf->task)
      break;
  if (i < ld->diags.n || k == NULL) {
    /* Never fail without saying why: the job would run half-checked. */
    if (i == ld->diags.n)
      corun__load_diag(ld, corun__load_where(ld, obj), pf->task,
                       "%s: not a valid task", label);
    pf->failed = 1;
    corun__instance_free(t);
    return NULL;
  }
  /* Inside the template too, a limit held above cannot be taken below. */
  for (i = 0; i < t->nchildren; i++)
    check_template_limits(ld, pf->task, t->children[i]);
  /*
   * The run has no "defaults": what applies is copied in now, as expanded
   * for the run's pass (a literal "${" there stays one).
   */
  for (v = ld->defaults_again ? ld->defaults_again->child : NULL; v;
       v = v->next) {
    if (!corun__load_default_applies(obj, v, k))
      continue;
    cJSON_AddItemToObject(obj, v->string, cJSON_Duplicate(v, 1));
  }
  return t;
}
