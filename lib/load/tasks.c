/* SPDX-License-Identifier: MIT */
/*
 * Reading "tasks" one task object at a time: each task's JSON is freed as
 * soon as its kind has copied what it keeps, so a million-task file never
 * exists as a cJSON tree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "util/duration.h"
#include "core/common.h"
#include "util/slab.h"
#include "util/suggest.h"
#include "kinds/fetch.h"
#include "kinds/sleep.h"

/*
 * Every field name some task may have (common fields, then each kind's),
 * for "did you mean" where the kind is not known. cands holds max + 1.
 */
int corun__load_is_field(const char *name)
{
  size_t i;

  for (i = 0; corun__common_fields[i]; i++)
    if (strcmp(name, corun__common_fields[i]) == 0)
      return 1;
  return corun__kind_any_has_field(name);
}

size_t corun__load_all_field_names(const char **cands, size_t max)
{
  const struct corun_kind *k;
  size_t n = 0, i, j;

  for (i = 0; corun__common_fields[i] && n < max; i++)
    cands[n++] = corun__common_fields[i];
  for (i = 0; (k = corun__kind_at(i)) != NULL; i++)
    for (j = 0; k->fields && k->fields[j] && n < max; j++)
      cands[n++] = k->fields[j];
  cands[n] = NULL;
  return n;
}

static long push_rec(struct loader *ld, size_t off)
{
  struct corun_job *job = ld->job;

  corun__load_give_back(ld, off);
  if (job->ntasks == ld->cap) {
    size_t ncap = ld->cap ? ld->cap * 2 : 64;
    uint32_t *no;
    struct corun_task **nt;

    if (job->ntasks >= MAX_TASKS)
      return -1;
    no = realloc(ld->obj_offs, ncap * sizeof(*no));
    if (no == NULL)
      return -1;
    ld->obj_offs = no;
    nt = realloc(job->tasks, ncap * sizeof(*nt));
    if (nt == NULL)
      return -1;
    job->tasks = nt;
    ld->cap = ncap;
  }
  ld->obj_offs[job->ntasks] = (uint32_t)off;
  job->tasks[job->ntasks] = NULL;
  return (long)job->ntasks++;
}

/*
 * A task's facts are all made while its common fields are read, one task
 * at a time: its record, if it has one, is the newest.
 */
struct ldrec *corun__load_rec_add(struct loader *ld, long idx)
{
  if (ld->nrecs == 0 || ld->recs[ld->nrecs - 1].task != (uint32_t)idx) {
    if (ld->nrecs == ld->caprecs) {
      size_t ncap = ld->caprecs ? ld->caprecs * 2 : 16;
      struct ldrec *nv = realloc(ld->recs, ncap * sizeof(*nv));

      if (nv == NULL)
        return NULL;
      ld->recs = nv;
      ld->caprecs = ncap;
    }
    memset(&ld->recs[ld->nrecs], 0, sizeof(ld->recs[0]));
    ld->recs[ld->nrecs++].task = (uint32_t)idx;
  }
  return &ld->recs[ld->nrecs - 1];
}

static int by_task(const void *a, const void *b)
{
  uint32_t x = ((const struct ldrec *)a)->task;
  uint32_t y = ((const struct ldrec *)b)->task;

  return (x > y) - (x < y);
}

void corun__load_sort_recs(struct loader *ld)
{
  /* Children are read before their parent: made in that order. */
  if (ld->nrecs > 1)
    qsort(ld->recs, ld->nrecs, sizeof(ld->recs[0]), by_task);
}

/* Keep v, a checked "after" (corun__common_read()), to resolve later. */
static void keep_after(struct loader *ld, struct corun_fields *f, long idx,
                       const cJSON *v, enum corun_run_if run_if)
{
  const cJSON *it;
  struct after_list *al;
  struct ldrec *rec;
  uint32_t n = 0;

  for (it = v->child; it; it = it->next)
    n++;
  al = calloc(1, sizeof(*al));
  if (al == NULL || (al->ids = calloc(n, sizeof(char *))) == NULL ||
      (al->offs = calloc(n, sizeof(uint32_t))) == NULL) {
    if (al)
      free(al->ids);
    free(al);
    corun_field_fail(f, "after", v, "could not be read: out of memory");
    return;
  }
  for (it = v->child; it; it = it->next) {
    al->ids[al->n] = strdup(it->valuestring);
    al->offs[al->n] = (uint32_t)corun__load_where(ld, it);
    if (al->ids[al->n])
      al->n++;
  }
  al->run_if = (uint8_t)run_if;
  rec = corun__load_rec_add(ld, idx);
  if (rec == NULL) {
    while (al->n > 0)
      free(al->ids[--al->n]);
    free(al->ids);
    free(al->offs);
    free(al);
    corun_field_fail(f, "after", v, "could not be read: out of memory");
    return;
  }
  rec->after = al;
}

/* The limit that v (a "limit" value) names, or NULL after an error. */
struct corun_sem *corun__load_resolve_limit(struct loader *ld,
                                            struct corun_fields *f,
                                            const cJSON *v)
{
  struct corun_job *job = ld->job;
  const char *cands[64];
  char hint[CORUN_HINT_MAX];
  size_t i, n = 0;

  if (!cJSON_IsString(v)) {
    corun_field_fail(f, "limit", v, "must be a string, not %s",
                     corun__json_type(v));
    return NULL;
  }
  for (i = 0; i < job->nlimits; i++)
    if (strcmp(job->limits[i]->name, v->valuestring) == 0)
      return job->limits[i];
  for (i = 0; i < job->nlimits && n < 64; i++)
    cands[n++] = job->limits[i]->name;
  if (*corun_did_you_mean(hint, v->valuestring, cands, n, NULL))
    corun_field_fail(f, "limit", v, "names unknown limit \"%s\"%s",
                     v->valuestring, hint);
  else
    corun_field_fail(f, "limit", v,
                     "names unknown limit \"%s\" (define it in the "
                     "top-level \"limits\")",
                     v->valuestring);
  return NULL;
}

static void keep_name(struct loader *ld, struct corun_fields *f, long idx,
                      const cJSON *v)
{
  struct corun_job *job = ld->job;
  size_t n = job->nnames;
  struct corun_named *nv = job->names;

  /* Doubling at each power of two: a million names, twenty reallocs. */
  if ((n & (n - 1)) == 0) {
    nv = realloc(job->names, (n < 2 ? 4 : 2 * n) * sizeof(*nv));
    if (nv == NULL) {
      corun_field_fail(f, "name", v, "could not be kept: out of memory");
      return;
    }
    job->names = nv;
  }
  nv[job->nnames].index = (uint32_t)idx;
  if ((nv[job->nnames].name = strdup(v->valuestring)) == NULL)
    corun_field_fail(f, "name", v, "could not be kept: out of memory");
  else
    job->nnames++;
}

static void read_common(struct loader *ld, struct corun_task *t,
                        struct corun_fields *f, long idx)
{
  struct corun_common c;

  corun__common_read(t, f, CORUN_COMMON_ALL, &c);
  if (c.id) {
    struct ldrec *rec = corun__load_rec_add(ld, idx);

    t->id = strdup(c.id->valuestring);
    if (rec)
      rec->id_off = (uint32_t)corun__load_where(ld, c.id);
    else
      corun_field_fail(f, "id", c.id, "could not be kept: out of memory");
  } else if (c.bad_id) {
    corun__load_keep_bad_id(ld, idx, c.bad_id);
  }
  if (c.after)
    keep_after(ld, f, idx, c.after, c.run_if);
  if (c.name)
    keep_name(ld, f, idx, c.name);
  if (c.limit) {
    struct ldrec *rec = corun__load_rec_add(ld, idx);

    t->limit = corun__load_resolve_limit(ld, f, c.limit);
    if (rec)
      rec->limit_off = (uint32_t)corun__load_where(ld, c.limit);
    else
      corun_field_fail(f, "limit", c.limit, "could not be kept: out of memory");
  }
}

static struct corun_task *new_task(struct corun_job *job,
                                   const struct corun_kind *k, long idx);

int corun__load_plain_fetches = 1;

static size_t skip_ws(const char *t, size_t i, size_t len)
{
  while (i < len && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' ||
                     t[i] == '\r'))
    i++;
  return i;
}

/* If the value at i is the string s, quoted: the offset past it, else 0. */
static size_t plain_string_is(const char *t, size_t len, size_t i,
                              const char *s)
{
  size_t n = strlen(s);

  if (len - i < n + 2 || t[i] != '"' || memcmp(t + i + 1, s, n) != 0 ||
      t[i + 1 + n] != '"')
    return 0;
  return i + n + 2;
}

/*
 * For the plain tasks read straight from the text: if the text at i is
 * the member name key, quoted, and its colon, the offset of its value;
 * else 0. No escape can be in a name matched this way.
 */
static size_t plain_member(const char *t, size_t len, size_t i,
                           const char *key)
{
  if ((i = plain_string_is(t, len, i, key)) == 0)
    return 0;
  i = skip_ws(t, i, len);
  if (i >= len || t[i] != ':')
    return 0;
  return skip_ws(t, i + 1, len);
}

/*
 * A plain fetch, {"kind": "fetch", "url": "http..."} in either order, the
 * URL printable ASCII without an escape or a "$": a bulk download or a
 * check of many pages is mostly these, and they are read here straight
 * from the text at i, without a cJSON object or field lookups. Anything
 * else returns 0 and the task is read the general way, which says what is
 * wrong, so both ways make the same tasks and the same errors. Returns the
 * offset past the '}', and the URL as *url, *ulen bytes of the text.
 */
static size_t plain_fetch(const char *t, size_t len, size_t i,
                          const char **url, size_t *ulen)
{
  int have_kind = 0, have_url = 0;
  size_t v;

  if (i >= len || t[i] != '{')
    return 0;
  for (i++;; i++) {
    i = skip_ws(t, i, len);
    if (!have_kind && (v = plain_member(t, len, i, "kind")) != 0) {
      if ((i = plain_string_is(t, len, v, "fetch")) == 0)
        return 0;
      have_kind = 1;
    } else if (!have_url && (v = plain_member(t, len, i, "url")) != 0) {
      /* Whether it is http(s) is fetch's to say (corun__fetch_plain). */
      if ((i = corun__load_plain_string_end(t, len, v)) == 0)
        return 0;
      *url = t + v + 1;
      *ulen = i - v - 2;
      have_url = 1;
    } else {
      return 0;
    }
    i = skip_ws(t, i, len);
    if (i < len && t[i] == '}')
      return have_kind && have_url ? i + 1 : 0;
    if (i >= len || t[i] != ',')
      return 0;
  }
}

/* Task idx if it is a plain fetch (see plain_fetch()), else NULL. */
static struct corun_task *load_plain_fetch(struct loader *ld, long idx,
                                           size_t off)
{
  struct corun_json *p = &ld->p;
  struct corun_task *t;
  const char *url = NULL;
  char *room;
  size_t end, ulen = 0;

  /*
   * Defaults may add fields; the object counts for the nesting limit
   * (the general way fails one past it).
   */
  if (!corun__load_plain_fetches || ld->defaults ||
      p->depth >= CORUN_JSON_MAX_DEPTH ||
      (end = plain_fetch(p->text, p->len, off, &url, &ulen)) == 0)
    return NULL;
  /* Out of memory, or libcurl missing: the general way says which. */
  t = new_task(ld->job, &corun_kind_fetch, idx);
  room = corun_slab_alloc(&ld->job->slabs, ulen + 1, 1);
  if (t == NULL || room == NULL ||
      corun__fetch_plain(t, url, ulen, room, &ld->memo, &ld->pre) < 0)
    return NULL;
  p->pos = end;
  ld->job->tasks[idx] = t;
  return t;
}

size_t corun__load_alike_fetches;

/*
 * Task idx if its text is the last fetch's read the general way but for
 * its URL (see alike.c), else NULL.
 */
static struct corun_task *load_alike_fetch(struct loader *ld, long idx,
                                           size_t off)
{
  struct corun_json *p = &ld->p;
  struct corun_task *t;
  char *room;
  size_t end, u0, u1;

  if (!corun__load_plain_fetches ||
      (end = corun__alike_end(&ld->task_like, p->text, p->len, off,
                              p->depth, &u0, &u1)) == 0)
    return NULL;
  t = new_task(ld->job, &corun_kind_fetch, idx);
  room = corun_slab_alloc(&ld->job->slabs, u1 - u0 - 1, 1);
  if (t == NULL || room == NULL ||
      corun__fetch_like(t, ld->task_like.task, p->text + u0 + 1, u1 - u0 - 2,
                        room) < 0)
    return NULL;
  p->pos = end;
  ld->job->tasks[idx] = t;
  corun__load_alike_fetches++;
  return t;
}

/*
 * Keep the fetch t, just read the general way from off, for the next ones
 * written like it: only when nothing but its URL could make it differ
 * from them. u0..u1: its URL's value; others: it has a field that reaches
 * beyond its conf.
 */
static void keep_alike_fetch(struct loader *ld, struct corun_task *t,
                             size_t off, size_t u0, size_t u1, int others,
                             size_t mark)
{
  struct corun_json *p = &ld->p;

  /*
   * Defaults may set common fields the task keeps outside its conf; a
   * diagnostic of the task's would not be said again for the next.
   */
  if (others || u1 == 0 || ld->defaults ||
      corun__diags_count(&ld->diags) != mark ||
      p->failed || t == NULL || t->kind != &corun_kind_fetch)
    return;
  corun__alike_keep(&ld->task_like, p->text, off, u0, u1, p->pos, p->depth);
  ld->task_like.task = t;
}

const struct corun_kind *corun__load_read_kind(struct loader *ld,
                                               struct corun_fields *f, long idx)
{
  const cJSON *v = corun_field(f, "kind");
  const struct corun_kind *k;
  const char *names[33];
  char hint[CORUN_HINT_MAX];

  if (v == NULL) {
    corun__diag_add_field(&ld->diags, f->obj_off, idx, CORUN_DIAG_MISSING,
                          "kind", "missing required field \"kind\"");
    return NULL;
  }
  if (v->type & CORUN_FIELD_BAD)
    return NULL;
  if (!cJSON_IsString(v)) {
    corun_field_fail(f, "kind", v, "must be a string, not %s",
                     corun__json_type(v));
    return NULL;
  }
  k = corun__kind_find(v->valuestring);
  if (k) {
    if (k->spawns)
      ld->job->spawns = 1;
    return k;
  }
  corun__kind_names(names, sizeof(names) / sizeof(names[0]) - 1);
  if (*corun_did_you_mean(hint, v->valuestring, names, (size_t)-1, NULL))
    corun_field_fail(f, "kind", v, "names unknown kind \"%s\"%s",
                     v->valuestring, hint);
  else {
    struct corun_buf list = CORUN_BUF_INIT;
    size_t i;

    for (i = 0; names[i]; i++)
      corun_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
    corun_field_fail(f, "kind", v, "names unknown kind \"%s\" (kinds: %s)",
                     v->valuestring, corun_buf_str(&list));
    corun_buf_free(&list);
  }
  return NULL;
}

void corun__load_check_unknown(struct loader *ld, struct corun_fields *f,
                               const struct corun_kind *k, long idx,
                               size_t mark)
{
  const char *cands[CORUN_FIELDS_MAX + 1];
  size_t n = 0, i;
  cJSON *it;

  for (i = 0; corun__common_fields[i]; i++)
    cands[n++] = corun__common_fields[i];
  for (i = 0; k->fields && k->fields[i] && n < CORUN_FIELDS_MAX; i++)
    cands[n++] = k->fields[i];
  cands[n] = NULL;
  for (it = f->obj->child; it; it = it->next) {
    if (it->type & CORUN_FIELD_USED)
      continue;
    if (corun__kind_any_has_field(it->string))
      corun__load_diag(ld, corun__load_where(ld, it), idx,
                       "field \"%s\" does not apply to kind \"%s\"", it->string,
                       k->name);
    else
      corun__load_typo_of(
          ld, f, mark, idx,
          corun__load_unknown_field(ld, corun__load_where(ld, it), idx, "",
                                    it->string, cands, n));
  }
  if (f->has_tasks && !k->parent) {
    struct corun_buf parents = CORUN_BUF_INIT;
    const struct corun_kind *pk;
    size_t np = 0, left = 0;

    for (i = 0; (pk = corun__kind_at(i)) != NULL; i++)
      left += pk->parent;
    /* "a", "a and b", "a, b and c": the kinds that take children. */
    for (i = 0; (pk = corun__kind_at(i)) != NULL; i++) {
      if (!pk->parent)
        continue;
      left--;
      corun_buf_printf(&parents, "%s%s",
                       np++ == 0 ? ""
                       : left    ? ", "
                                 : " and ",
                       pk->name);
    }
    corun__load_diag(
        ld, f->tasks_off, idx,
        "field \"tasks\" does not apply to kind \"%s\" (only %s ha%s child "
        "tasks)",
        k->name, corun_buf_str(&parents), np == 1 ? "s" : "ve");
    corun_buf_free(&parents);
  }
}

/* Without a valid kind, still flag fields that no kind has. */
void corun__load_check_unknown_any(struct loader *ld, struct corun_fields *f,
                                   long idx, size_t mark)
{
  const char *cands[CORUN_FIELDS_MAX * 2 + 1];
  size_t n = corun__load_all_field_names(cands, CORUN_FIELDS_MAX * 2);
  cJSON *it;

  for (it = f->obj->child; it; it = it->next) {
    if ((it->type & CORUN_FIELD_USED) || corun__kind_any_has_field(it->string))
      continue;
    corun__load_typo_of(ld, f, mark, idx,
                        corun__load_unknown_field(ld, corun__load_where(ld, it),
                                                  idx, "", it->string, cands,
                                                  n));
  }
}

/* ---- captures: ${ID.NAME} in a task's fields ---- */

/* Whether any string under v uses a capture. */
static int uses_captures(const cJSON *v)
{
  const cJSON *it;

  if (cJSON_IsString(v))
    return corun_template_refs(v->valuestring, CORUN_REF_CAPTURE, NULL,
                               NULL) > 0;
  for (it = v->child; it; it = it->next)
    if (uses_captures(it))
      return 1;
  return 0;
}

int corun__load_default_applies(const cJSON *obj, const cJSON *d,
                                const struct corun_kind *k)
{
  if (cJSON_GetObjectItemCaseSensitive(obj, d->string) ||
      corun__kind_kept_out(k, obj, d->string))
    return 0;
  return strcmp(d->string, "timeout") == 0 ||
         (strcmp(d->string, "limit") == 0 && !corun__kind_is_container(k)) ||
         corun__kind_has_field(k, d->string);
}

/* The defaults a task of kind k takes, when one of them uses a capture. */
static int defaults_use_captures(struct loader *ld, const cJSON *obj,
                                 const struct corun_kind *k)
{
  const cJSON *d;

  /* Looked at once: most jobs' defaults use none, and tasks are many. */
  if (ld->defaults_capture == 0)
    ld->defaults_capture =
        ld->defaults_again && uses_captures(ld->defaults_again) ? 2 : 1;
  if (ld->defaults_capture == 1)
    return 0;
  for (d = ld->defaults_again->child; d; d = d->next)
    if (corun__load_default_applies(obj, d, k) && uses_captures(d))
      return 1;
  return 0;
}

struct capture_walk {
  struct loader *ld;
  long task;
  size_t off;
  struct offsets *where; /* strings holding a capture, or NULL */
  int refused;           /* the field may not use one */
  const char *field;
  char first[128]; /* the first capture a refused string names */
};

static void note_ref(void *arg, const char *name)
{
  struct capture_walk *w = arg;
  struct loader *ld = w->ld;
  struct capref *nv;

  if (w->refused) {
    if (w->first[0] == '\0')
      snprintf(w->first, sizeof(w->first), "%s", name);
    return;
  }
  if (ld->ncaprefs == ld->capcaprefs) {
    size_t ncap = ld->capcaprefs ? ld->capcaprefs * 2 : 16;

    if ((nv = realloc(ld->caprefs, ncap * sizeof(*nv))) == NULL)
      return;
    ld->caprefs = nv;
    ld->capcaprefs = ncap;
  }
  nv = &ld->caprefs[ld->ncaprefs];
  if ((nv->name = strdup(name)) == NULL)
    return;
  nv->task = w->task;
  nv->off = w->off;
  ld->ncaprefs++;
}

static void walk_captures(struct capture_walk *w, cJSON *v)
{
  cJSON *it;

  if (cJSON_IsString(v)) {
    w->off = corun__load_where(w->ld, v);
    w->first[0] = '\0';
    if (corun_template_refs(v->valuestring, CORUN_REF_CAPTURE, note_ref,
                            w) == 0)
      return;
    if (w->where)
      corun__offsets_add(w->where, w->off);
    if (w->refused) {
      corun__load_diag(w->ld, w->off, w->task,
                       "\"%s\" cannot use a capture (\"${%s}\"): it is "
                       "read before the run starts; captures fill in a "
                       "task's own fields, a pipeline's \"source\" and its "
                       "stages' tasks",
                       w->field, w->first);
      v->type |= CORUN_FIELD_BAD;
    }
    return;
  }
  for (it = v->child; it; it = it->next)
    walk_captures(w, it);
}

static int is_common_field(const char *name)
{
  size_t i;

  for (i = 0; corun__common_fields[i]; i++)
    if (strcmp(name, corun__common_fields[i]) == 0)
      return 1;
  return 0;
}

/*
 * Note the captures obj uses, for the checks once every task is read, and
 * refuse them where nothing fills them in: in the fields every task has
 * (read before the run), and in the own fields of a task that is not
 * parsed again as it starts, but for a pipeline's source and stages.
 * where, when not NULL, collects the strings that hold one.
 */
static void note_captures(struct loader *ld, cJSON *obj, long idx,
                          const struct corun_kind *k, int fill,
                          struct offsets *where)
{
  struct capture_walk w = {ld, idx, 0, where, 0, NULL, ""};
  cJSON *m;

  for (m = obj->child; m; m = m->next) {
    /* Most fields use none: then there is nothing to note or refuse. */
    if (!uses_captures(m))
      continue;
    w.field = m->string;
    w.refused = is_common_field(m->string) ||
                !(fill || (k && k->tmpl_list &&
                           (strcmp(m->string, k->tmpl_list) == 0 ||
                            strcmp(m->string, "source") == 0)));
    walk_captures(&w, m);
    if (w.refused)
      m->type |= CORUN_FIELD_BAD;
  }
}

/*
 * Keep what the kind said about a task parsed with its captures unfilled:
 * a value holding one is checked when the task starts (what the reference
 * text made of it here says nothing), unless it shapes the task.
 */
static void keep_diags(struct loader *ld, const struct corun_diags *scratch,
                       const struct offsets *where,
                       const struct corun_kind *k)
{
  size_t i, j;

  for (i = 0; i < scratch->n; i++) {
    const struct corun_diag *d = &scratch->v[i];

    for (j = 0; j < where->n && where->v[j] != d->off; j++)
      ;
    if (j < where->n && d->what == CORUN_DIAG_VALUE &&
        !(corun__common_shapes(d->field) || corun__kind_shapes(k, d->field)))
      continue;
    corun__diag_add_field(&ld->diags, d->off, d->task, d->what, d->field,
                          "%s", d->msg);
  }
}

/* Keep obj for the run, which parses it again with the captures in. */
static int keep_deferred(struct loader *ld, long idx, cJSON *obj)
{
  struct corun_job *job = ld->job;
  struct corun_deferred *nv =
      realloc(job->deferred, (job->ndeferred + 1) * sizeof(*nv));

  if (nv == NULL)
    return -1;
  job->deferred = nv;
  nv[job->ndeferred].index = (uint32_t)idx;
  nv[job->ndeferred++].json = obj;
  return 0;
}

struct childvec {
  struct corun_task **v;
  uint32_t n;
  uint32_t cap;
};

static int childvec_push(struct childvec *cv, struct corun_task *t)
{
  if (cv->n == cv->cap) {
    uint32_t ncap = cv->cap ? cv->cap * 2 : 8;
    struct corun_task **nv = realloc(cv->v, ncap * sizeof(*nv));

    if (nv == NULL)
      return -1;
    cv->v = nv;
    cv->cap = ncap;
  }
  cv->v[cv->n++] = t;
  return 0;
}

static struct corun_task *load_task(struct loader *ld);

/*
 * Whether task idx's children (cv) are the tasks right after it, in
 * order: then they need no array of their own (8 bytes a child), and are
 * noted to point into job->tasks once all tasks are read.
 */
static int share_children(struct loader *ld, long idx,
                          const struct childvec *cv)
{
  uint32_t i;

  if (cv->n == 0)
    return 0;
  for (i = 0; i < cv->n; i++)
    if (cv->v[i]->index != (uint32_t)idx + 1 + i)
      return 0;
  if (ld->nshared == ld->capshared) {
    size_t ncap = ld->capshared ? ld->capshared * 2 : 16;
    struct shared_children *nv = realloc(ld->shared, ncap * sizeof(*nv));

    if (nv == NULL)
      return 0; /* then it keeps its own array */
    ld->shared = nv;
    ld->capshared = ncap;
  }
  ld->shared[ld->nshared].task = (uint32_t)idx;
  ld->shared[ld->nshared++].first = (uint32_t)idx + 1;
  return 1;
}

void corun__load_share_children(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;

  for (i = 0; i < ld->nshared; i++) {
    struct corun_task *t = job->tasks[ld->shared[i].task];

    if (t)
      t->children = &job->tasks[ld->shared[i].first];
  }
}

int corun__job_own_children(struct corun_job *job)
{
  size_t i;

  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    struct corun_task **own;

    if (t == NULL || !corun__job_children_shared(job, t))
      continue;
    own = malloc(t->nchildren * sizeof(*own));
    if (own == NULL)
      return -1;
    memcpy(own, t->children, t->nchildren * sizeof(*own));
    t->children = own;
  }
  return 0;
}

/* Reads "tasks": [ ... ] of a parent task into cv. */
static int read_children(struct loader *ld, struct childvec *cv, long idx)
{
  struct corun_json *p = &ld->p;
  int n = 0, r;

  if (corun_json_peek(p) != '[')
    return corun__load_reject_value(ld, idx,
                                    "\"tasks\" must be an array of tasks");
  if (corun_json_array_begin(p) < 0)
    return -1;
  while ((r = corun_json_array_next(p, &n)) > 0) {
    struct corun_task *c = load_task(ld);

    if (p->failed)
      return -1;
    if (c && childvec_push(cv, c) < 0)
      return corun_json_fail(p, corun_json_offset(p), "out of memory");
  }
  return r;
}

static struct corun_task *new_task(struct corun_job *job,
                                   const struct corun_kind *k, long idx)
{
  /*
   * Tasks live exactly as long as their job: from its slabs, not one
   * calloc each, which with the parser's short-lived nodes freed in
   * between spent most of its time searching a fragmented heap. Aligned
   * as the struct is, not to 16: no kind's task holds anything that needs
   * more, and a sleep then takes 152 bytes, not 160.
   */
  struct corun_task *t =
      corun_slab_alloc(&job->slabs, k ? k->size : sizeof(*t),
                       _Alignof(struct corun_task));

  if (t == NULL)
    return NULL;
  t->kind = k;
  t->index = (uint32_t)idx;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  return t;
}

int corun__load_plain_sleeps = 1;

/*
 * A plain sleep, {"kind": "sleep", "seconds": N} in either order, N a
 * whole number: a big job is mostly these, and they are read here
 * straight from the text at i, without a cJSON object, field lookups or
 * the kind's parse(). Anything else (another field, an escape, a
 * fraction, a duplicate, any error) returns 0 and the task is read the
 * general way, which says what is wrong: so both ways make the same tasks
 * and the same errors. Returns the offset past the '}', *secs the seconds.
 */
size_t corun__load_plain_sleep_end(const char *t, size_t len, size_t i,
                                   double *secs)
{
  int have_kind = 0, have_secs = 0;
  size_t at;

  if (i >= len || t[i] != '{')
    return 0;
  for (i++;; i++) {
    i = skip_ws(t, i, len);
    if (!have_kind && (at = plain_member(t, len, i, "kind")) != 0) {
      if ((i = plain_string_is(t, len, at, "sleep")) == 0)
        return 0;
      have_kind = 1;
    } else if (!have_secs && (at = plain_member(t, len, i, "seconds")) != 0) {
      size_t start;
      double v = 0;
      const char *why;
      cJSON num;

      i = at;
      /* As the parser reads a plain integer: digit by digit, 15 at most. */
      for (start = i; i < len && t[i] >= '0' && t[i] <= '9'; i++)
        v = v * 10 + (t[i] - '0');
      if (i == start || i - start > 15 || (t[start] == '0' && i - start > 1))
        return 0;
      memset(&num, 0, sizeof(num));
      num.type = cJSON_Number;
      num.valuedouble = v;
      if (corun_duration_json(&num, secs, &why) < 0)
        return 0;
      have_secs = 1;
    } else {
      return 0;
    }
    i = skip_ws(t, i, len);
    if (i < len && t[i] == '}')
      return have_kind && have_secs ? i + 1 : 0;
    if (i >= len || t[i] != ',')
      return 0;
  }
}

/* Task idx if it is a plain sleep (corun__load_plain_sleep_end()). */
static struct corun_task *load_plain_sleep(struct loader *ld, long idx,
                                           size_t off)
{
  struct corun_json *p = &ld->p;
  struct corun_task *t;
  size_t end;
  double secs;

  /*
   * Defaults may add fields; the object counts for the nesting limit
   * (the general way fails one past it).
   */
  if (!corun__load_plain_sleeps || ld->defaults ||
      p->depth >= CORUN_JSON_MAX_DEPTH ||
      (end = corun__load_plain_sleep_end(p->text, p->len, off, &secs)) ==
          0)
    return NULL;
  t = new_task(ld->job, &corun_kind_sleep, idx);
  if (t == NULL) {
    corun_json_fail(p, off, "out of memory");
    return NULL;
  }
  corun__sleep_plain(t, secs);
  p->pos = end;
  ld->job->tasks[idx] = t;
  return t;
}

static struct corun_task *load_task(struct loader *ld)
{
  struct corun_json *p = &ld->p;
  struct corun_fields f;
  struct childvec cv = {0};
  const struct corun_kind *k;
  struct corun_task *t = NULL;
  cJSON *obj;
  size_t off = corun_json_offset(p), key_off, mark, mark0, u0 = 0, u1 = 0;
  long idx;
  int n = 0, r, others = 0;
  const char *name;
  char kbuf[64];
  struct corun_strmap seen = {0};
  struct offsets where = {0};
  const cJSON *kraw;
  int fill, pass;

  if (corun_json_peek(p) != '{') {
    corun__load_reject_value(ld, -1, "a task must be an object");
    return NULL;
  }
  idx = push_rec(ld, off);
  if (idx < 0) {
    corun_json_fail(p, off, "too many tasks or out of memory");
    return NULL;
  }
  /*
   * Alike first: a job that has them has many, and the comparison fails
   * at once for a job that has none (none kept) or at the kind for a
   * sleep. Then the plain kind read last: a big job's plain tasks are
   * mostly of one kind.
   */
  if ((t = load_alike_fetch(ld, idx, off)) != NULL)
    return t;
  for (pass = 0; pass < 2; pass++) {
    int fetch = (pass == 0) == ld->plain_fetch_first;

    t = fetch ? load_plain_fetch(ld, idx, off) : load_plain_sleep(ld, idx, off);
    if (t)
      ld->plain_fetch_first = fetch;
    if (t || p->failed)
      return t;
  }
  mark0 = corun__diags_count(&ld->diags);
  obj = cJSON_CreateObject();
  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.defaults = ld->defaults;
  f.json = p;
  f.diags = &ld->diags;
  f.task = idx;
  f.obj_off = off;
  f.dir = ld->job->dir;
  f.root = ld->job->root;
  f.stdin_use = &ld->stdin_use;
  f.pre = &ld->pre;
  f.load_template = corun__load_template;
  f.loader = ld;
  f.memo = &ld->memo;
  if (obj == NULL || corun_json_object_begin(p) < 0) {
    cJSON_Delete(obj);
    corun_json_fail(p, off, "out of memory");
    return NULL;
  }
  while ((r = corun_json_object_next(p, &n, &name, &key_off)) > 0) {
    /* Child tasks and values reuse the parser's key buffer: copy it. */
    size_t klen = strlen(name);
    char *key =
        klen < sizeof(kbuf) ? memcpy(kbuf, name, klen + 1) : strdup(name);
    int dup;
    cJSON *v = NULL;

    if (key == NULL) {
      corun_json_fail(p, key_off, "out of memory");
      break;
    }
    if (n > 16 && seen.len == 0) {
      /* A task with many keys is odd, but must not cost n^2 to reject. */
      cJSON *it;

      for (it = obj->child; it; it = it->next)
        if (corun_strmap_put(&seen, it->string, it, NULL) < 0)
          break;
      if (it != NULL) {
        corun_json_fail(p, key_off, "out of memory");
        if (key != kbuf)
          free(key);
        break;
      }
    }
    dup = (seen.len ? corun_strmap_get(&seen, key) != NULL
                    : cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) ||
          (strcmp(key, "tasks") == 0 && f.has_tasks);

    if (dup) {
      corun__load_diag(ld, key_off, idx, "duplicate key \"%s\"", key);
      r = corun_json_skip(p);
    } else if (strcmp(key, "tasks") == 0) {
      others = 1;
      f.has_tasks = 1;
      f.tasks_off = corun_json_offset(p);
      r = read_children(ld, &cv, idx);
    } else {
      int url = strcmp(key, "url") == 0;

      if (url)
        u0 = corun_json_offset(p);
      else if (!others && strcmp(key, "kind") != 0 &&
               !corun__fetch_conf_field(key))
        others = 1;
      r = corun_json_value(p, &v);
      if (url)
        u1 = p->pos;
      if (r == 0) {
        if (!cJSON_AddItemToObject(obj, key, v)) {
          cJSON_Delete(v);
          r = -1;
        } else if (seen.len && corun_strmap_put(&seen, obj->child->prev->string,
                                                v, NULL) < 0) {
          r = -1;
        }
        if (r < 0)
          corun_json_fail(p, key_off, "out of memory");
      }
    }
    if (key != kbuf)
      free(key);
    if (r < 0)
      break;
  }
  if (r < 0 || p->failed)
    goto out;
  f.nchildren = cv.n;

  mark = corun__diags_count(&ld->diags);
  /*
   * A task of a kind without children whose fields use a capture is parsed now to check it, and
   * again when it starts, with the captures filled in: its strings are
   * expanded for that second pass, the defaults it takes copied in.
   */
  kraw = cJSON_GetObjectItemCaseSensitive(obj, "kind");
  k = cJSON_IsString(kraw) ? corun__kind_find(kraw->valuestring) : NULL;
  fill = k && !corun__kind_is_container(k) &&
         (uses_captures(obj) || defaults_use_captures(ld, obj, k));
  corun__load_expand_task(ld, obj, idx, fill ? &ld->cctx : &ld->kctx);
  if (fill) {
    const cJSON *d;

    for (d = ld->defaults_again ? ld->defaults_again->child : NULL; d;
         d = d->next)
      if (corun__load_default_applies(obj, d, k))
        cJSON_AddItemToObject(obj, d->string, cJSON_Duplicate(d, 1));
  }
  k = corun__load_read_kind(ld, &f, idx);
  f.kind = k;
  if (k && k->splits)
    ld->may_split = 1;
  t = new_task(ld->job, k, idx);
  if (t == NULL) {
    corun_json_fail(p, off, "out of memory");
    goto out;
  }
  note_captures(ld, obj, idx, k, fill, fill ? &where : NULL);
  read_common(ld, t, &f, idx);
  if (k && fill) {
    struct corun_diags scratch = {0};

    f.diags = &scratch;
    f.pre = NULL;
    k->parse(t, &f);
    f.diags = &ld->diags;
    keep_diags(ld, &scratch, &where, k);
    corun__diags_free(&scratch);
    corun__load_check_unknown(ld, &f, k, idx, mark);
  } else if (k) {
    k->parse(t, &f);
    corun__load_check_unknown(ld, &f, k, idx, mark);
  } else {
    corun__load_check_unknown_any(ld, &f, idx, mark);
  }
  if (fill && corun__diags_count(&ld->diags) == mark) {
    if (keep_deferred(ld, idx, obj) < 0) {
      corun_json_fail(p, off, "out of memory");
      goto out;
    }
    obj = NULL;
    t->flags |= CORUN_TF_FILL;
  }
  for (uint32_t i = 0; i < cv.n; i++)
    cv.v[i]->parent = t;
  t->nchildren = cv.n;
  if (!share_children(ld, idx, &cv)) {
    t->children = cv.v;
    cv.v = NULL;
  }
  ld->job->tasks[idx] = t;
  keep_alike_fetch(ld, t, off, u0, u1, others, mark0);
out:
  corun_strmap_free(&seen);
  free(cv.v);
  free(where.v);
  cJSON_Delete(obj);
  return p->failed ? NULL : t;
}

/* The most corun__load_read_tasks reserves for a job's tasks at once. */
#define RESERVE_MAX ((size_t)64 << 20)

int corun__load_read_tasks(struct loader *ld)
{
  struct corun_json *p = &ld->p;
  struct corun_job *job = ld->job;
  struct childvec roots = {0};
  size_t span;
  int n = 0, r;

  p->pos = ld->tasks_off;
  p->depth = 1;
  if (corun_json_peek(p) != '[')
    return corun__load_reject_value(ld, -1,
                                    "\"tasks\" must be an array of tasks");
  /*
   * A plain task takes about four times its text in task structs (and
   * its URL): room for them all at once, on huge pages when the job is
   * big, spares the page faults that were half of a big job's loading
   * time. Capped: text of long scripts or bodies makes few tasks, and
   * address space kept for nothing counts against "ulimit -v" and strict
   * overcommit; past the cap the slabs grow as before.
   */
  span = (ld->tasks_end ? ld->tasks_end : p->len) - ld->tasks_off;
  corun_slab_reserve(&job->slabs, span < RESERVE_MAX / 4 ? 4 * span
                                                         : RESERVE_MAX);
  if (corun_json_array_begin(p) < 0)
    return -1;
  while ((r = corun_json_array_next(p, &n)) > 0) {
    struct corun_task *t = load_task(ld);

    if (p->failed) {
      free(roots.v);
      return -1;
    }
    if (t && childvec_push(&roots, t) < 0) {
      free(roots.v);
      return corun_json_fail(p, corun_json_offset(p), "out of memory");
    }
  }
  /* Not where the first pass took them to end: read the file again. */
  if (ld->tasks_end && (r < 0 || p->pos != ld->tasks_end)) {
    ld->guess_wrong = 1;
    free(roots.v);
    return -1;
  }
  job->roots = roots.v;
  job->nroots = roots.n;
  return r;
}
