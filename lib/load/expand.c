/* SPDX-License-Identifier: MIT */
/* ${...} in the job's values, expanded before anything reads them. */
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"

/* Note the ${NAME} variables s uses, against the --var-only names. */
static void note_var_refs(struct loader *ld, const char *s)
{
  const char *p, *end;
  size_t i, n;

  for (p = s; (p = strstr(p, "${")) != NULL; p = end) {
    /* "$${" is a literal "${": nothing to look up. */
    int literal = p > s && p[-1] == '$';

    p += 2;
    end = strchr(p, '}');
    if (end == NULL)
      return;
    n = (size_t)(end - p);
    if (literal || n == 0 || memchr(p, ':', n) || memchr(p, '.', n) ||
        (n == 4 && memcmp(p, "item", 4) == 0) ||
        (n == 5 && memcmp(p, "index", 5) == 0))
      continue;
    for (i = 0; i < ld->ncli_vars; i++)
      if (strlen(ld->cli_vars[i].name) == n &&
          memcmp(ld->cli_vars[i].name, p, n) == 0)
        ld->cli_vars[i].used = 1;
    for (i = 0; i < ld->nrefs; i++)
      if (strlen(ld->refs[i]) == n && memcmp(ld->refs[i], p, n) == 0)
        break;
    if (i == ld->nrefs && ld->nrefs < sizeof(ld->refs) / sizeof(ld->refs[0]))
      if ((ld->refs[ld->nrefs] = strndup(p, n)) != NULL)
        ld->nrefs++;
  }
}

/*
 * Expand templates in every string under v. field names the field for
 * messages (the member of v's parent object when NULL); section, when not
 * NULL, is the top-level field it sits in ("vars", "defaults").
 */
void corun__load_expand_tree(struct loader *ld, cJSON *v, const char *field,
                             long task, const struct corun_template_ctx *ctx,
                             const char *section)
{
  cJSON *it;

  if (cJSON_IsString(v)) {
    char *out, *err;

    if (!corun_template_has(v->valuestring))
      return;
    if (ld->ncli_vars > 0)
      note_var_refs(ld, v->valuestring);
    if (corun_template_expand(ctx, v->valuestring, &out, &err) < 0) {
      v->type |= CORUN_FIELD_BAD;
      if (section && field)
        corun__load_diag(ld, corun__load_where(ld, v), task,
                         "\"%s\": \"%s\": %s", section, field,
                         err ? err : "out of memory");
      else
        corun__load_diag(ld, corun__load_where(ld, v), task, "\"%s\": %s",
                         field ? field : section, err ? err : "out of memory");
      free(err);
      return;
    }
    /* cJSON frees valuestring with free() under its default hooks. */
    free(v->valuestring);
    v->valuestring = out;
    return;
  }
  for (it = v->child; it; it = it->next)
    corun__load_expand_tree(ld, it, field ? field : it->string, task, ctx,
                            section);
}

/*
 * Expand a task's fields. The task templates of a kind that takes them (a
 * pipeline stage's "task") keep their item names (${item}, ${index}) for
 * the run, which fills them in per item.
 */
void corun__load_expand_task(struct loader *ld, cJSON *obj, long task,
                             const struct corun_template_ctx *ctx)
{
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
  const struct corun_kind *k =
      cJSON_IsString(kind) ? corun__kind_find(kind->valuestring) : NULL;
  cJSON *it, *st, *m;

  if (k == NULL || k->tmpl_list == NULL) {
    corun__load_expand_tree(ld, obj, NULL, task, ctx, NULL);
    return;
  }
  for (it = obj->child; it; it = it->next) {
    if (strcmp(it->string, "source") == 0 && cJSON_IsObject(it)) {
      /*
       * The items may hold captures, filled in when the task starts: they
       * are expanded for that second pass ($${ kept for it), the rest of
       * the source (a path) now.
       */
      for (m = it->child; m; m = m->next)
        corun__load_expand_tree(ld, m, "source", task,
                                strcmp(m->string, "items") == 0 &&
                                        cJSON_IsArray(m)
                                    ? &ld->cctx
                                    : ctx,
                                NULL);
      continue;
    }
    if (strcmp(it->string, k->tmpl_list) != 0 || !cJSON_IsArray(it)) {
      corun__load_expand_tree(ld, it, it->string, task, ctx, NULL);
      continue;
    }
    for (st = it->child; st; st = st->next) {
      if (!cJSON_IsObject(st)) {
        corun__load_expand_tree(ld, st, k->tmpl_list, task, ctx, NULL);
        continue;
      }
      /* A template names its own fields in messages. */
      for (m = st->child; m; m = m->next)
        if (strcmp(m->string, k->tmpl_key) == 0)
          corun__load_expand_tree(ld, m, NULL, task, &ld->dctx, NULL);
        else
          corun__load_expand_tree(ld, m, k->tmpl_list, task, ctx, NULL);
    }
  }
}
