/* SPDX-License-Identifier: MIT */
#include "core/fields.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/confine.h"
#include "util/duration.h"
#include "core/kind.h"

/* Enough to show the problems; past it one more error adds nothing. */
#define CORUN_DIAGS_MAX 1000

static void diag_vadd(struct corun_diags *d, size_t off, long task,
                      enum corun_diag_what what, const char *field,
                      const char *fmt, va_list ap)
{
  struct corun_buf b = CORUN_BUF_INIT;
  struct corun_diag *e;

  if (d->n >= CORUN_DIAGS_MAX) {
    d->dropped++;
    return;
  }
  if (d->n == d->cap) {
    size_t ncap = d->cap ? d->cap * 2 : 16;
    struct corun_diag *nv;

    nv = realloc(d->v, ncap * sizeof(*nv));
    if (nv == NULL)
      return;
    d->v = nv;
    d->cap = ncap;
  }
  corun_buf_vprintf(&b, fmt, ap);
  e = &d->v[d->n];
  e->off = off;
  e->task = task;
  e->what = field ? what : CORUN_DIAG_OTHER;
  e->field = field ? strdup(field) : NULL;
  e->msg = corun_buf_detach(&b);
  if (e->msg && (field == NULL || e->field)) {
    d->n++;
    return;
  }
  free(e->msg);
  free(e->field);
}

void corun__diag_add(struct corun_diags *d, size_t off, long task,
                     const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  diag_vadd(d, off, task, CORUN_DIAG_OTHER, NULL, fmt, ap);
  va_end(ap);
}

void corun__diag_add_field(struct corun_diags *d, size_t off, long task,
                           enum corun_diag_what what, const char *field,
                           const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  diag_vadd(d, off, task, what, field, fmt, ap);
  va_end(ap);
}

void corun__diags_free(struct corun_diags *d)
{
  size_t i;

  for (i = 0; i < d->n; i++) {
    free(d->v[i].msg);
    free(d->v[i].field);
  }
  free(d->v);
  memset(d, 0, sizeof(*d));
}

const char *corun__json_type(const cJSON *v)
{
  if (cJSON_IsString(v))
    return "a string";
  if (cJSON_IsNumber(v))
    return "a number";
  if (cJSON_IsBool(v))
    return "a boolean";
  if (cJSON_IsNull(v))
    return "null";
  if (cJSON_IsArray(v))
    return "an array";
  if (cJSON_IsObject(v))
    return "an object";
  return "invalid";
}

int corun__json_int(const cJSON *v, long long min, long long max,
                    long long *out)
{
  double d;

  if (!cJSON_IsNumber(v))
    return 0;
  /* cJSON's valueint saturates; judge the double itself. */
  d = v->valuedouble;
  if (d != floor(d) || d < (double)min || d > (double)max)
    return 0;
  *out = (long long)d;
  return 1;
}

int corun_field_from_defaults(const struct corun_fields *f, const cJSON *v)
{
  return v && f->defaults && v->string &&
         cJSON_GetObjectItemCaseSensitive(f->defaults, v->string) == v;
}

/*
 * cJSON_GetObjectItemCaseSensitive() with the first byte compared before
 * strcmp(): a kind asks for every field it knows, most of them absent,
 * and tasks come by the hundred thousand.
 */
static cJSON *member(const cJSON *obj, const char *name)
{
  cJSON *it;

  for (it = obj ? obj->child : NULL; it; it = it->next)
    if (it->string && it->string[0] == name[0] &&
        strcmp(it->string, name) == 0)
      return it;
  return NULL;
}

void corun_fields_memo_clear(struct corun_fields_memo *m)
{
  if (m->data && m->free)
    m->free(m->data);
  m->data = NULL;
  m->kind = NULL;
  m->free = NULL;
}

void *corun_fields_memo(struct corun_fields *f, const struct corun_kind *k,
                        size_t size, void (*free_fn)(void *data))
{
  struct corun_fields_memo *m = f->memo;

  if (m == NULL)
    return NULL;
  if (m->kind != k || m->data == NULL) {
    corun_fields_memo_clear(m);
    if ((m->data = calloc(1, size)) == NULL)
      return NULL;
    m->kind = k;
    m->free = free_fn;
  }
  return m->data;
}

const cJSON *corun_field(struct corun_fields *f, const char *name)
{
  cJSON *v = member(f->obj, name);

  if (v) {
    v->type |= CORUN_FIELD_USED;
    return v;
  }
  /* The task's own choice of two that exclude each other is meant. */
  if (f->defaults && corun__kind_kept_out(f->kind, f->obj, name))
    return NULL;
  return member(f->defaults, name);
}

void corun_field_fail(struct corun_fields *f, const char *name,
                      const cJSON *v, const char *fmt, ...)
{
  struct corun_buf b = CORUN_BUF_INIT;
  va_list ap;
  size_t off = v ? corun_json_where(f->json, v) : f->obj_off;

  f->failed = 1;
  va_start(ap, fmt);
  corun_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  if (corun_field_from_defaults(f, v))
    corun__diag_add_field(f->diags, off, -1, CORUN_DIAG_DEFAULT, name,
                          "\"defaults\": \"%s\" %s", name,
                          corun_buf_str(&b));
  else
    corun__diag_add_field(f->diags, off, f->task, CORUN_DIAG_VALUE, name,
                          "\"%s\" %s", name, corun_buf_str(&b));
  corun_buf_free(&b);
}

void corun_field_fail_task(struct corun_fields *f, const char *fmt, ...)
{
  struct corun_buf b = CORUN_BUF_INIT;
  va_list ap;

  f->failed = 1;
  va_start(ap, fmt);
  corun_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  corun__diag_add(f->diags, f->obj_off, f->task, "%s", corun_buf_str(&b));
  corun_buf_free(&b);
}

void corun_field_missing(struct corun_fields *f, const char *name)
{
  f->failed = 1;
  corun__diag_add_field(f->diags, f->obj_off, f->task, CORUN_DIAG_MISSING,
                        name, "missing required field \"%s\"", name);
}

/*
 * The field's value when there is one to check. Otherwise NULL, with *r
 * what the getter returns: 0 when absent, -1 when its template already
 * failed (that error is reported; a second one would only confuse).
 */
static const cJSON *lookup(struct corun_fields *f, const char *name, int *r)
{
  const cJSON *v = corun_field(f, name);

  *r = 0;
  if (v && (v->type & CORUN_FIELD_BAD)) {
    f->failed = 1;
    *r = -1;
    return NULL;
  }
  return v;
}

int corun_field_duration(struct corun_fields *f, const char *name,
                         double *out)
{
  const char *why;
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (corun_duration_json(v, out, &why) < 0) {
    corun_field_fail(f, name, v, "%s", why);
    return -1;
  }
  return 1;
}

int corun_field_timeout(struct corun_fields *f, const char *name,
                        const char *what, double *out)
{
  int r = corun_field_duration(f, name, out);

  /* 0 is not "no bound" (curl's reading): saying nothing is. */
  if (r > 0 && *out == 0) {
    corun_field_fail(f, name, corun_field(f, name),
                     "is 0, which would %s at once (leave \"%s\" out for "
                     "no bound)",
                     what, name);
    return -1;
  }
  return r;
}

int corun_field_size(struct corun_fields *f, const char *name,
                     long long *out)
{
  const char *why;
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (corun_size_json(v, out, &why) < 0) {
    corun_field_fail(f, name, v, "%s", why);
    return -1;
  }
  return 1;
}

int corun_field_bool(struct corun_fields *f, const char *name, int *out)
{
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (!cJSON_IsBool(v)) {
    corun_field_fail(f, name, v, "must be true or false, not %s",
                     corun__json_type(v));
    return -1;
  }
  *out = cJSON_IsTrue(v);
  return 1;
}

int corun_field_string(struct corun_fields *f, const char *name, char **out)
{
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (!cJSON_IsString(v)) {
    corun_field_fail(f, name, v, "must be a string, not %s",
                     corun__json_type(v));
    return -1;
  }
  *out = strdup(v->valuestring);
  if (*out == NULL) {
    corun_field_fail(f, name, v, "could not be copied: out of memory");
    return -1;
  }
  return 1;
}

int corun_field_int(struct corun_fields *f, const char *name, long long min,
                    long long max, long long *out)
{
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (!corun__json_int(v, min, max, out)) {
    if (!cJSON_IsNumber(v))
      corun_field_fail(f, name, v, "must be an integer, not %s",
                       corun__json_type(v));
    else
      corun_field_fail(f, name, v, "must be an integer from %lld to %lld",
                       min, max);
    return -1;
  }
  return 1;
}

int corun_field_enum(struct corun_fields *f, const char *name,
                     const char *const *choices, int *out)
{
  struct corun_buf list = CORUN_BUF_INIT;
  int i, r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  if (cJSON_IsString(v)) {
    for (i = 0; choices[i]; i++) {
      if (strcmp(choices[i], v->valuestring) == 0) {
        *out = i;
        return 1;
      }
    }
  }
  for (i = 0; choices[i]; i++)
    corun_buf_printf(&list, "%s\"%s\"", i ? ", " : "", choices[i]);
  corun_field_fail(f, name, v, "must be one of %s", corun_buf_str(&list));
  corun_buf_free(&list);
  return -1;
}

int corun_field_path(struct corun_fields *f, const char *name, char **out)
{
  char *p = NULL, *full, *real;
  int r = corun_field_string(f, name, &p);

  if (r <= 0)
    return r;
  if (*p == '\0') {
    corun_field_fail(f, name, corun_field(f, name), "must not be empty");
    free(p);
    return -1;
  }
  if (p[0] == '/' || f->dir == NULL) {
    full = p;
  } else {
    struct corun_buf b = CORUN_BUF_INIT;
    const char *rest = p;

    /* "./x" and "." in the job's directory read as "dir/x" and "dir". */
    while (rest[0] == '.' && rest[1] == '/')
      for (rest++; *rest == '/'; rest++)
        ;
    if (strcmp(rest, ".") == 0 || *rest == '\0')
      corun_buf_puts(&b, f->dir);
    else
      corun_buf_printf(&b, "%s/%s", f->dir, rest);
    full = corun_buf_detach(&b);
    free(p);
  }
  if (full && f->root) {
    real = corun__path_resolve(full);
    if (real == NULL || !corun__path_inside(real, f->root)) {
      corun_field_fail(f, name, corun_field(f, name),
                       "\"%s\" is outside --root %s", full, f->root);
      free(real);
      free(full);
      return -1;
    }
    free(real);
  }
  if (full == NULL) {
    corun_field_fail(f, name, NULL, "could not be kept: out of memory");
    return -1;
  }
  *out = full;
  return 1;
}

int corun_field_json(struct corun_fields *f, const char *name, cJSON **out)
{
  int r;
  const cJSON *v = lookup(f, name, &r);

  if (v == NULL)
    return r;
  *out = cJSON_Duplicate(v, 1);
  if (*out == NULL) {
    corun_field_fail(f, name, v, "could not be copied: out of memory");
    return -1;
  }
  return 1;
}

void corun_field_precheck(struct corun_fields *f, const char *field,
                          const cJSON *v, enum corun_pre_what what,
                          const char *path, const char *search,
                          const char *cwd)
{
  struct corun_prechecks *pc = f->pre;
  struct corun_precheck *e;

  if (pc == NULL || path == NULL)
    return;
  if (pc->n == pc->cap) {
    size_t ncap = pc->cap ? pc->cap * 2 : 16;
    struct corun_precheck *nv = realloc(pc->v, ncap * sizeof(*nv));

    if (nv == NULL)
      return; /* a check less: the run still says what is missing */
    pc->v = nv;
    pc->cap = ncap;
  }
  e = &pc->v[pc->n];
  memset(e, 0, sizeof(*e));
  e->task = f->task;
  e->off = v ? corun_json_where(f->json, v) : f->obj_off;
  e->what = what;
  e->field = strdup(field);
  e->path = strdup(path);
  e->search = search ? strdup(search) : NULL;
  e->cwd = cwd ? strdup(cwd) : NULL;
  if (e->field == NULL || e->path == NULL || (search && !e->search) ||
      (cwd && !e->cwd)) {
    free(e->field);
    free(e->path);
    free(e->search);
    free(e->cwd);
    return;
  }
  pc->n++;
}

void corun__prechecks_free(struct corun_prechecks *pc)
{
  size_t i;

  for (i = 0; i < pc->n; i++) {
    free(pc->v[i].field);
    free(pc->v[i].path);
    free(pc->v[i].search);
    free(pc->v[i].cwd);
  }
  free(pc->v);
  memset(pc, 0, sizeof(*pc));
}
