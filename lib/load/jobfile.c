/* SPDX-License-Identifier: MIT */
/*
 * Loading a job file: read, parse with positions, expand templates, apply
 * defaults, build the task tree through each kind's parse(), then check the
 * tree as a whole (ids, "after", cycles). Every problem is collected with
 * its place; nothing runs unless there are none.
 *
 * Memory: the top-level fields are read first (vars, defaults and limits
 * must be known before any task), skipping "tasks"; then "tasks" is read
 * one task object at a time, and each task's JSON is freed as soon as its
 * kind has copied what it keeps. A million-task file never exists as a
 * cJSON tree.
 */
#include "load/jobfile.h"

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/duration.h"
#include "core/fields.h"
#include "core/instance.h"
#include "json/json.h"
#include "core/kind.h"
#include "util/suggest.h"

#define MAX_FILE_BYTES CORUN_JSON_MAX_BYTES
#define MAX_TASKS 50000000UL

static const char *const top_fields[] = {
    "corun", "name",        "vars",     "defaults", "limits",
    "concurrency", "per_host", "tasks",    NULL};
static const char *const common_fields[] = {"id",      "kind",  "after",
                                            "timeout", "limit", "shield",
                                            NULL};

struct after_list {
  uint32_t n;
  char **ids;
  uint32_t *offs;
};

/* Load-time facts about a task that the run does not need. */
struct ldrec {
  uint32_t obj_off;
  uint32_t id_off;    /* 0: generated id */
  uint32_t limit_off; /* where its "limit" stands, if it has one */
  struct after_list *after;
};

struct loader {
  struct corun_json p;
  struct corun_diags diags;
  struct corun_job *job;
  cJSON *vars;
  cJSON *defaults;
  struct corun_template_ctx tctx;
  struct corun_template_ctx dctx; /* tctx keeping item names for the run */
  struct ldrec *recs;
  size_t cap;
  int has_tasks;
  size_t tasks_off;
  unsigned suggested; /* "did you mean" searches over all ids so far */
  int stdin_use;      /* CORUN_STDIN_*: who reads standard input */
  struct corun_prechecks pre; /* files, directories, programs to look at */
  struct corun_strmap written;      /* what tasks write (run_prechecks) */
  struct corun_strmap written_dirs; /* the directories above those */
  struct corun_strmap programs;     /* on_path() answers, by name */
  const char *job_path;       /* the job file, when it is one */
  const struct corun_load_opts *opts;
  /* Limits of pipeline stage tasks, checked against their pipeline's. */
  struct tmpl_limit {
    long task;
    size_t off;
    struct corun_sem *limit;
  } *tlimits;
  size_t ntlimits;
  /* Tasks whose "id" is not valid: their errors go under it as written. */
  struct bad_id {
    long task;
    char *id;
  } *bad_ids;
  size_t nbad_ids;
  /*
   * --var names the file's "vars" does not define: each must be used by
   * some ${NAME}, or it is a typo. refs are the names the job uses, for
   * "did you mean" (gathered only while cli_vars is not empty).
   */
  struct cli_var {
    char *name;
    int used;
  } *cli_vars;
  size_t ncli_vars;
  char *refs[64];
  size_t nrefs;
};

static void diag(struct loader *ld, size_t off, long task, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static void diag(struct loader *ld, size_t off, long task, const char *fmt,
                 ...)
{
  struct corun_buf b = CORUN_BUF_INIT;
  va_list ap;

  va_start(ap, fmt);
  corun_buf_vprintf(&b, fmt, ap);
  va_end(ap);
  corun__diag_add(&ld->diags, off, task, "%s", corun_buf_str(&b));
  corun_buf_free(&b);
}

static size_t where(struct loader *ld, const cJSON *v)
{
  return corun_json_where(&ld->p, v);
}

/*
 * The next value is not the object or array wanted: read past it and say
 * so ("WHAT, not a number"). Returns -1 only on a syntax error.
 */
static int reject_value(struct loader *ld, long task, const char *what)
{
  size_t off = corun_json_offset(&ld->p);
  cJSON *v = NULL;

  if (corun_json_value(&ld->p, &v) < 0)
    return -1;
  diag(ld, off, task, "%s, not %s", what, corun__json_type(v));
  cJSON_Delete(v);
  return 0;
}

/* ---- templates ---- */

/*
 * Expand templates in every string under v. field names the field for
 * messages (the member of v's parent object when NULL); section, when not
 * NULL, is the top-level field it sits in ("vars", "defaults").
 */
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

static void expand_tree(struct loader *ld, cJSON *v, const char *field,
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
        diag(ld, where(ld, v), task, "\"%s\": \"%s\": %s", section, field,
             err ? err : "out of memory");
      else
        diag(ld, where(ld, v), task, "\"%s\": %s", field ? field : section,
             err ? err : "out of memory");
      free(err);
      return;
    }
    /* cJSON frees valuestring with free() under its default hooks. */
    free(v->valuestring);
    v->valuestring = out;
    return;
  }
  for (it = v->child; it; it = it->next)
    expand_tree(ld, it, field ? field : it->string, task, ctx, section);
}

/*
 * Expand a task's fields. The task templates of a kind that takes them (a
 * pipeline stage's "task") keep their item names (${item}, ${index}) for
 * the run, which fills them in per item.
 */
static void expand_task_fields(struct loader *ld, cJSON *obj, long task)
{
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(obj, "kind");
  const struct corun_kind *k =
      cJSON_IsString(kind) ? corun__kind_find(kind->valuestring) : NULL;
  cJSON *it, *st, *m;

  if (k == NULL || k->tmpl_list == NULL) {
    expand_tree(ld, obj, NULL, task, &ld->tctx, NULL);
    return;
  }
  for (it = obj->child; it; it = it->next) {
    if (strcmp(it->string, k->tmpl_list) != 0 || !cJSON_IsArray(it)) {
      expand_tree(ld, it, it->string, task, &ld->tctx, NULL);
      continue;
    }
    for (st = it->child; st; st = st->next) {
      if (!cJSON_IsObject(st)) {
        expand_tree(ld, st, k->tmpl_list, task, &ld->tctx, NULL);
        continue;
      }
      /* A template names its own fields in messages. */
      for (m = st->child; m; m = m->next)
        if (strcmp(m->string, k->tmpl_key) == 0)
          expand_tree(ld, m, NULL, task, &ld->dctx, NULL);
        else
          expand_tree(ld, m, k->tmpl_list, task, &ld->tctx, NULL);
    }
  }
}

/* ---- top level ---- */

static void read_vars(struct loader *ld, cJSON *v)
{
  cJSON *it;

  if (!cJSON_IsObject(v)) {
    diag(ld, where(ld, v), -1, "\"vars\" must be an object of strings, not %s",
         corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next)
    if (!cJSON_IsString(it))
      diag(ld, where(ld, it), -1, "\"vars\": \"%s\" must be a string, not %s",
           it->string, corun__json_type(it));
  ld->vars = v;
}

static void read_limit(struct loader *ld, cJSON *v)
{
  struct corun_job *job = ld->job;
  struct corun_sem *s, **nl;
  long long n;

  s = calloc(1, sizeof(*s));
  nl = realloc(job->limits, (job->nlimits + 1) * sizeof(*nl));
  if (s == NULL || nl == NULL || (s->name = strdup(v->string)) == NULL) {
    free(s);
    if (nl)
      job->limits = nl;
    diag(ld, where(ld, v), -1, "out of memory");
    return;
  }
  job->limits = nl;
  job->limits[job->nlimits++] = s;
  s->hold_flag = CORUN_TF_HOLD_LIMIT;
  if (cJSON_IsNumber(v)) {
    if (!corun__json_int(v, 1, 1000000, &n))
      diag(ld, where(ld, v), -1,
           "\"limits\": \"%s\" must be a positive integer (at most 1000000) "
           "or {\"concurrency\": N, \"rate\": \"R/s\"}",
           v->string);
    s->cap = (uint32_t)n;
  } else if (cJSON_IsObject(v)) {
    cJSON *it;
    int seen = 0;

    for (it = v->child; it; it = it->next) {
      const char *why;
      double per_s;

      if (strcmp(it->string, "concurrency") == 0) {
        seen = 1;
        if (!corun__json_int(it, 1, 1000000, &n))
          diag(ld, where(ld, it), -1,
               "\"limits\": \"%s\": \"concurrency\" must be a positive "
               "integer (at most 1000000)",
               v->string);
        else
          s->cap = (uint32_t)n;
      } else if (strcmp(it->string, "rate") == 0) {
        seen = 1;
        if (!cJSON_IsString(it) ||
            corun_rate_parse(it->valuestring, &per_s, &why) < 0)
          diag(ld, where(ld, it), -1, "\"limits\": \"%s\": \"rate\" %s",
               v->string,
               cJSON_IsString(it) ? why : "must be a string like \"20/s\"");
        else if (1.0 / per_s > 1e9)
          diag(ld, where(ld, it), -1,
               "\"limits\": \"%s\": \"rate\" is too slow (at least one "
               "start per 1e9 seconds)",
               v->string);
        else
          s->interval_ms = 1000.0 / per_s;
      } else {
        static const char *const keys[] = {"concurrency", "rate", NULL};
        const char *hint = corun_suggest(it->string, keys, (size_t)-1);

        diag(ld, where(ld, it) ? where(ld, it) : where(ld, v), -1,
             "\"limits\": \"%s\": unknown field \"%s\"%s%s%s", v->string,
             it->string, hint ? " (did you mean \"" : "", hint ? hint : "",
             hint ? "\"?)" : "");
      }
    }
    if (!seen)
      diag(ld, where(ld, v), -1,
           "\"limits\": \"%s\" needs \"concurrency\", \"rate\" or both",
           v->string);
  } else {
    diag(ld, where(ld, v), -1,
         "\"limits\": \"%s\" must be a positive integer or an object, not %s",
         v->string, corun__json_type(v));
  }
}

/*
 * Every field name some task may have (common fields, then each kind's),
 * for "did you mean" where the kind is not known. cands holds max + 1.
 */
static size_t all_field_names(const char **cands, size_t max)
{
  const struct corun_kind *k;
  size_t n = 0, i, j;

  for (i = 0; common_fields[i] && n < max; i++)
    cands[n++] = common_fields[i];
  for (i = 0; (k = corun__kind_at(i)) != NULL; i++)
    for (j = 0; k->fields && k->fields[j] && n < max; j++)
      cands[n++] = k->fields[j];
  cands[n] = NULL;
  return n;
}

static void read_defaults(struct loader *ld, cJSON *v)
{
  static const char *const not_defaults[] = {"id", "kind", "after", "tasks",
                                             NULL};
  cJSON *it;
  size_t i;

  if (!cJSON_IsObject(v)) {
    diag(ld, where(ld, v), -1, "\"defaults\" must be an object, not %s",
         corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next) {
    int known = 0;

    for (i = 0; not_defaults[i]; i++)
      if (strcmp(it->string, not_defaults[i]) == 0)
        break;
    if (not_defaults[i]) {
      diag(ld, where(ld, it), -1,
           "\"defaults\": \"%s\" cannot have a default (it is per task)",
           it->string);
      continue;
    }
    for (i = 0; common_fields[i]; i++)
      if (strcmp(it->string, common_fields[i]) == 0)
        known = 1;
    if (!known && !corun__kind_any_has_field(it->string)) {
      const char *cands[CORUN_FIELDS_MAX * 2 + 1];
      size_t n = all_field_names(cands, CORUN_FIELDS_MAX * 2);
      const char *hint = corun_suggest(it->string, cands, n);

      diag(ld, where(ld, it), -1, "\"defaults\": unknown field \"%s\"%s%s%s",
           it->string, hint ? " (did you mean \"" : "", hint ? hint : "",
           hint ? "\"?)" : "");
    }
  }
  ld->defaults = v;
}

/* Returns the suggested name, or NULL. */
static const char *unknown_field(struct loader *ld, size_t off, long task,
                                 const char *what, const char *key,
                                 const char *const *cands, size_t n)
{
  const char *hint = corun_suggest(key, cands, n);

  if (hint)
    diag(ld, off, task, "unknown field \"%s\"%s (did you mean \"%s\"?)", key,
         what, hint);
  else
    diag(ld, off, task, "unknown field \"%s\"%s", key, what);
  return hint;
}

/*
 * A misspelt required field is one mistake, not two: once "did you mean"
 * names the field, its "missing required field" line (recorded for task
 * at index from or later) only repeats it.
 */
static void drop_missing(struct corun_diags *d, size_t from, long task,
                         const char *field)
{
  size_t i;

  for (i = from; i < d->n; i++) {
    if (d->v[i].task != task || d->v[i].what != CORUN_DIAG_MISSING ||
        strcmp(d->v[i].field, field) != 0)
      continue;
    free(d->v[i].msg);
    free(d->v[i].field);
    memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(d->v[0]));
    d->n--;
    i--;
  }
}

/* The task's misspelt field was suggested as hint: see drop_missing(). */
static void typo_of(struct loader *ld, struct corun_fields *f, size_t mark,
                    long idx, const char *hint)
{
  if (hint == NULL)
    return;
  drop_missing(&ld->diags, mark, idx, hint);
  if (f->diags != &ld->diags)
    drop_missing(f->diags, 0, idx, hint);
}

static struct corun_sem *resolve_limit(struct loader *ld,
                                       struct corun_fields *f,
                                       const cJSON *v);

/*
 * A bad default is an error in the file whether or not a task takes it:
 * run every kind's parse over the defaults alone and keep what it says
 * about them (not the "missing field" noise of an empty task).
 */
static void check_defaults(struct loader *ld)
{
  struct corun_diags scratch = {0};
  const struct corun_kind *k;
  struct corun_fields f;
  struct corun_task *t;
  const cJSON *v;
  double secs;
  int b;
  size_t i;

  memset(&f, 0, sizeof(f));
  f.defaults = ld->defaults;
  f.json = &ld->p;
  f.diags = &scratch;
  f.task = -1;
  f.has_tasks = 1;
  f.obj = cJSON_CreateObject();
  if (f.obj == NULL)
    return;
  corun_field_timeout(&f, "timeout", "end the task", &secs);
  corun_field_bool(&f, "shield", &b);
  v = corun_field(&f, "limit");
  if (v && !(v->type & CORUN_FIELD_BAD))
    resolve_limit(ld, &f, v);
  for (i = 0; (k = corun__kind_at(i)) != NULL; i++) {
    t = calloc(1, k->size);
    if (t == NULL)
      break;
    t->kind = k;
    f.kind = k;
    k->parse(t, &f);
    if (k->free)
      k->free(t);
    free(t);
  }
  for (i = 0; i < scratch.n; i++)
    if (scratch.v[i].what == CORUN_DIAG_DEFAULT)
      corun__diag_add(&ld->diags, scratch.v[i].off, -1, "%s",
                      scratch.v[i].msg);
  corun__diags_free(&scratch);
  cJSON_Delete(f.obj);
}

/*
 * First pass over the top-level object: everything but "tasks", whose
 * place is remembered for the second pass.
 */
static int read_top(struct loader *ld, cJSON **owned)
{
  struct corun_json *p = &ld->p;
  struct corun_job *job = ld->job;
  int n = 0, r;
  const char *k;
  size_t key_off;
  unsigned seen = 0;

  if (corun_json_peek(p) == 0 && !p->failed) {
    return corun_json_fail(p, 0, "empty file: expected a JSON object");
  }
  if (corun_json_peek(p) != '{' && !p->failed) {
    reject_value(ld, -1, "a job file must be a JSON object");
    return -1;
  }
  if (corun_json_object_begin(p) < 0)
    return -1;
  while ((r = corun_json_object_next(p, &n, &k, &key_off)) > 0) {
    size_t i;
    cJSON *v = NULL;
    /* Reading the value reuses the parser's key buffer: keep a copy. */
    char *key = strdup(k);

    if (key == NULL)
      return corun_json_fail(p, key_off, "out of memory");
    for (i = 0; top_fields[i]; i++)
      if (strcmp(key, top_fields[i]) == 0)
        break;
    if (top_fields[i] && (seen & (1u << i))) {
      diag(ld, key_off, -1, "duplicate key \"%s\"", key);
      free(key);
      if (corun_json_skip(p) < 0)
        return -1;
      continue;
    }
    if (top_fields[i])
      seen |= 1u << i;
    if (top_fields[i] && strcmp(key, "tasks") == 0) {
      ld->has_tasks = 1;
      ld->tasks_off = corun_json_offset(p);
      free(key);
      if (corun_json_skip(p) < 0)
        return -1;
      continue;
    }
    if (corun_json_value(p, &v) < 0) {
      free(key);
      return -1;
    }
    if (top_fields[i] == NULL) {
      unknown_field(ld, key_off, -1, "", key, top_fields, (size_t)-1);
      cJSON_Delete(v);
    } else if (strcmp(key, "corun") == 0) {
      long long ver;

      if (!corun__json_int(v, 1, 1, &ver)) {
        if (cJSON_IsNumber(v))
          diag(ld, where(ld, v), -1,
               "unsupported format version %.15g (\"corun\" must be 1)",
               v->valuedouble);
        else
          diag(ld, where(ld, v), -1,
               "\"corun\" must be the format version 1, not %s",
               corun__json_type(v));
      }
      cJSON_Delete(v);
    } else if (strcmp(key, "name") == 0) {
      if (!cJSON_IsString(v))
        diag(ld, where(ld, v), -1, "\"name\" must be a string, not %s",
             corun__json_type(v));
      owned[0] = v;
    } else if (strcmp(key, "vars") == 0) {
      read_vars(ld, v);
      owned[1] = v;
    } else if (strcmp(key, "defaults") == 0) {
      read_defaults(ld, v);
      owned[2] = v;
    } else if (strcmp(key, "limits") == 0) {
      /* Read once "vars" is known: a rate may be a template. */
      owned[3] = v;
    } else if (strcmp(key, "per_host") == 0) {
      long long c;

      if (!corun__json_int(v, 1, 100000, &c))
        diag(ld, where(ld, v), -1,
             "\"per_host\" must be a positive integer (at most 100000)");
      else
        job->per_host = (unsigned)c;
      cJSON_Delete(v);
    } else if (strcmp(key, "concurrency") == 0) {
      long long c;

      if (!corun__json_int(v, 1, 1000000, &c))
        diag(ld, where(ld, v), -1,
             "\"concurrency\" must be a positive integer (at most 1000000)");
      else
        job->concurrency = (unsigned)c;
      cJSON_Delete(v);
    }
    free(key);
  }
  if (r < 0)
    return -1;
  return corun_json_end(p);
}

/* ---- tasks ---- */

static long push_rec(struct loader *ld, size_t off)
{
  struct corun_job *job = ld->job;

  if (job->ntasks == ld->cap) {
    size_t ncap = ld->cap ? ld->cap * 2 : 64;
    struct ldrec *nr;
    struct corun_task **nt;

    if (job->ntasks >= MAX_TASKS)
      return -1;
    nr = realloc(ld->recs, ncap * sizeof(*nr));
    if (nr == NULL)
      return -1;
    ld->recs = nr;
    nt = realloc(job->tasks, ncap * sizeof(*nt));
    if (nt == NULL)
      return -1;
    job->tasks = nt;
    ld->cap = ncap;
  }
  memset(&ld->recs[job->ntasks], 0, sizeof(ld->recs[0]));
  ld->recs[job->ntasks].obj_off = (uint32_t)off;
  job->tasks[job->ntasks] = NULL;
  return (long)job->ntasks++;
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

static void read_after(struct loader *ld, struct corun_fields *f, long idx)
{
  const cJSON *v = corun_field(f, "after"), *it;
  struct after_list *al;
  uint32_t n = 0;

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
    n++;
  }
  if (n == 0)
    return;
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
    al->offs[al->n] = (uint32_t)where(ld, it);
    if (al->ids[al->n])
      al->n++;
  }
  ld->recs[idx].after = al;
}

/* The limit that v (a "limit" value) names, or NULL after an error. */
static struct corun_sem *resolve_limit(struct loader *ld,
                                       struct corun_fields *f,
                                       const cJSON *v)
{
  struct corun_job *job = ld->job;
  const char *cands[64];
  const char *hint;
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
  hint = corun_suggest(v->valuestring, cands, n);
  if (hint)
    corun_field_fail(f, "limit", v,
                     "names unknown limit \"%s\" (did you mean \"%s\"?)",
                     v->valuestring, hint);
  else
    corun_field_fail(f, "limit", v,
                     "names unknown limit \"%s\" (define it in the "
                     "top-level \"limits\")",
                     v->valuestring);
  return NULL;
}

/*
 * The user knows the task by the id they wrote, not by the generated one
 * ("task3") it falls back to. Kept cut short: an id is at most 64 bytes,
 * so a longer one is a mistake, not a name.
 */
static void keep_bad_id(struct loader *ld, long idx, const char *id)
{
  struct bad_id *nb = realloc(ld->bad_ids, (ld->nbad_ids + 1) * sizeof(*nb));
  size_t n = strlen(id);

  if (nb == NULL)
    return;
  ld->bad_ids = nb;
  if (n > 64) {
    n = 64;
    /* Not inside a UTF-8 sequence. */
    while (n > 0 && ((unsigned char)id[n] & 0xc0) == 0x80)
      n--;
  }
  nb[ld->nbad_ids].task = idx;
  nb[ld->nbad_ids].id = malloc(n + 4);
  if (nb[ld->nbad_ids].id == NULL)
    return;
  memcpy(nb[ld->nbad_ids].id, id, n);
  strcpy(nb[ld->nbad_ids].id + n, id[n] ? "..." : "");
  ld->nbad_ids++;
}

static int bad_id_cmp(const void *a, const void *b)
{
  const struct bad_id *x = a, *y = b;

  return (x->task > y->task) - (x->task < y->task);
}

static void read_common(struct loader *ld, struct corun_task *t,
                        struct corun_fields *f, long idx)
{
  const cJSON *v;
  double secs;
  int shield = 0;

  v = corun_field(f, "id");
  if (v && !(v->type & CORUN_FIELD_BAD)) {
    if (!cJSON_IsString(v) || !valid_id(v->valuestring)) {
      if (cJSON_IsString(v)) {
        corun_field_fail(f, "id", v,
                         "\"%s\" is not a valid id (1 to 64 of A-Z a-z 0-9 "
                         "_ . -)",
                         v->valuestring);
        if (*v->valuestring)
          keep_bad_id(ld, idx, v->valuestring);
      } else
        corun_field_fail(f, "id", v, "must be a string, not %s",
                         corun__json_type(v));
    } else {
      t->id = strdup(v->valuestring);
      ld->recs[idx].id_off = (uint32_t)where(ld, v);
    }
  }
  read_after(ld, f, idx);
  if (corun_field_timeout(f, "timeout", "end the task", &secs) > 0) {
    t->timeout = calloc(1, sizeof(*t->timeout));
    if (t->timeout == NULL)
      corun_field_fail(f, "timeout", NULL, "could not be kept: out of memory");
    else
      t->timeout->ms = corun_duration_ms(secs);
  }
  if (corun_field_bool(f, "shield", &shield) > 0 && shield)
    t->flags |= CORUN_TF_SHIELD;
  v = corun_field(f, "limit");
  /*
   * A default limit is for the work itself, not for the gathers and waits
   * around it: a container holding a slot its children need next would
   * wait on itself.
   */
  if (v && corun_field_from_defaults(f, v) && t->kind &&
      corun__kind_is_container(t->kind))
    v = NULL;
  if (v && !(v->type & CORUN_FIELD_BAD)) {
    t->limit = resolve_limit(ld, f, v);
    ld->recs[idx].limit_off = (uint32_t)where(ld, v);
  }
}

static const struct corun_kind *read_kind(struct loader *ld,
                                          struct corun_fields *f, long idx)
{
  const cJSON *v = corun_field(f, "kind");
  const struct corun_kind *k;
  const char *names[33];
  const char *hint;

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
  if (k)
    return k;
  corun__kind_names(names, sizeof(names) / sizeof(names[0]) - 1);
  hint = corun_suggest(v->valuestring, names, (size_t)-1);
  if (hint)
    corun_field_fail(f, "kind", v,
                     "names unknown kind \"%s\" (did you mean \"%s\"?)",
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

static void check_unknown(struct loader *ld, struct corun_fields *f,
                          const struct corun_kind *k, long idx, size_t mark)
{
  const char *cands[CORUN_FIELDS_MAX + 1];
  size_t n = 0, i;
  cJSON *it;

  for (i = 0; common_fields[i]; i++)
    cands[n++] = common_fields[i];
  for (i = 0; k->fields && k->fields[i] && n < CORUN_FIELDS_MAX; i++)
    cands[n++] = k->fields[i];
  cands[n] = NULL;
  for (it = f->obj->child; it; it = it->next) {
    if (it->type & CORUN_FIELD_USED)
      continue;
    if (corun__kind_any_has_field(it->string))
      diag(ld, where(ld, it), idx, "field \"%s\" does not apply to kind \"%s\"",
           it->string, k->name);
    else
      typo_of(ld, f, mark, idx,
              unknown_field(ld, where(ld, it), idx, "", it->string, cands,
                            n));
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
      corun_buf_printf(&parents, "%s%s", np++ == 0 ? "" : left ? ", " : " and ",
                       pk->name);
    }
    diag(ld, f->tasks_off, idx,
         "field \"tasks\" does not apply to kind \"%s\" (only %s ha%s child "
         "tasks)",
         k->name, corun_buf_str(&parents), np == 1 ? "s" : "ve");
    corun_buf_free(&parents);
  }
}

/* Without a valid kind, still flag fields that no kind has. */
static void check_unknown_any(struct loader *ld, struct corun_fields *f,
                              long idx, size_t mark)
{
  const char *cands[CORUN_FIELDS_MAX * 2 + 1];
  size_t n = all_field_names(cands, CORUN_FIELDS_MAX * 2);
  cJSON *it;

  for (it = f->obj->child; it; it = it->next) {
    if ((it->type & CORUN_FIELD_USED) || corun__kind_any_has_field(it->string))
      continue;
    typo_of(ld, f, mark, idx,
            unknown_field(ld, where(ld, it), idx, "", it->string, cands, n));
  }
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

/* Reads "tasks": [ ... ] of a parent task into cv. */
static int read_children(struct loader *ld, struct childvec *cv, long idx)
{
  struct corun_json *p = &ld->p;
  int n = 0, r;

  if (corun_json_peek(p) != '[')
    return reject_value(ld, idx, "\"tasks\" must be an array of tasks");
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

struct corun_slab {
  struct corun_slab *next;
  size_t size;
  size_t used;
};

/*
 * Tasks live exactly as long as their job, so they come from big zeroed
 * slabs, not one calloc each: with the parser's short-lived nodes freed in
 * between, a million callocs spent most of their time searching the
 * fragmented heap. Large slabs ask for transparent huge pages, which cuts
 * the page faults of touching them by as much as 512 times.
 */
static void *slab_alloc(struct corun_job *job, size_t n)
{
  struct corun_slab *s = job->slabs;
  size_t hdr = (sizeof(*s) + 15) & ~(size_t)15;

  n = (n + 15) & ~(size_t)15;
  if (s == NULL || s->size - s->used < n) {
    size_t size = s ? s->size * 2 : (size_t)64 << 10;
    void *mem;

    if (size > ((size_t)32 << 20))
      size = (size_t)32 << 20;
    if (size < hdr + n)
      size = hdr + n;
    mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
      return NULL;
#ifdef MADV_HUGEPAGE
    if (size >= ((size_t)4 << 20))
      madvise(mem, size, MADV_HUGEPAGE);
#endif
    s = mem;
    s->size = size;
    s->used = hdr;
    s->next = job->slabs;
    job->slabs = s;
  }
  s->used += n;
  return (char *)s + s->used - n;
}

static struct corun_task *new_task(struct corun_job *job,
                                   const struct corun_kind *k, long idx)
{
  struct corun_task *t = slab_alloc(job, k ? k->size : sizeof(*t));

  if (t == NULL)
    return NULL;
  t->kind = k;
  t->index = (uint32_t)idx;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  return t;
}

struct offsets {
  size_t *v;
  size_t n;
  size_t cap;
};

/* Where the strings naming the item are: their checks wait for the item. */
static void item_offsets(struct loader *ld, const cJSON *v, struct offsets *o)
{
  const cJSON *it;

  if (cJSON_IsString(v) &&
      corun_template_item_refs(v->valuestring, NULL, NULL) > 0) {
    if (o->n == o->cap) {
      size_t ncap = o->cap ? o->cap * 2 : 8;
      size_t *nv = realloc(o->v, ncap * sizeof(*nv));

      if (nv == NULL)
        return;
      o->v = nv;
      o->cap = ncap;
    }
    o->v[o->n++] = where(ld, v);
  }
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
      diag(ld, ld->recs[task].obj_off, task,
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
  static const char *const shape[] = {"kind",  "limit", "tasks",
                                      "id",    "after", "shield", NULL};
  size_t i;

  if (d->what != CORUN_DIAG_VALUE)
    return 0;
  for (i = 0; shape[i]; i++)
    if (strcmp(d->field, shape[i]) == 0)
      return 1;
  return corun__kind_shapes(k, d->field);
}

static struct corun_task *load_template(struct corun_fields *pf, cJSON *obj,
                                        const char *label)
{
  static const char *const per_task[] = {"id", "after", "shield", NULL};
  struct loader *ld = pf->loader;
  struct corun_diags scratch = {0};
  struct offsets io = {0};
  struct corun_fields f;
  const struct corun_kind *k;
  struct corun_task *t;
  const cJSON *v;
  cJSON *tasks, *c;
  size_t i, j, before = ld->diags.n, mark;
  double secs;

  if (!cJSON_IsObject(obj)) {
    corun_field_fail(pf, "stages", obj, "%s must be a task object, not %s",
                     label, corun__json_type(obj));
    return NULL;
  }
  memset(&f, 0, sizeof(f));
  f.obj = obj;
  f.defaults = ld->defaults;
  f.json = &ld->p;
  f.diags = &scratch;
  f.task = pf->task;
  f.obj_off = where(ld, obj);
  f.dir = pf->dir;
  f.root = pf->root;
  mark = ld->diags.n;
  v = corun_field(&f, "kind");
  if (cJSON_IsString(v) &&
      corun_template_item_refs(v->valuestring, NULL, NULL) > 0) {
    corun_field_fail(&f, "kind", v, "cannot depend on the item");
    k = NULL;
  } else {
    k = read_kind(ld, &f, pf->task);
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
    f.tasks_off = where(ld, tasks);
    f.nchildren = (uint32_t)cJSON_GetArraySize(tasks);
    if (!cJSON_IsArray(tasks))
      corun_field_fail(&f, "tasks", tasks, "must be an array of tasks, not %s",
                       corun__json_type(tasks));
  }
  if (k && k->check_template)
    k->check_template(&f);
  for (i = 0; per_task[i]; i++) {
    v = corun_field(&f, per_task[i]);
    if (v && !corun_field_from_defaults(&f, v))
      corun_field_fail(&f, per_task[i], v,
                       "cannot be set on a stage's task: it runs once per "
                       "item");
  }
  t = calloc(1, k ? k->size : sizeof(*t));
  if (t == NULL) {
    corun_field_fail(pf, "stages", obj, "could not be kept: out of memory");
    corun__diags_free(&scratch);
    return NULL;
  }
  t->kind = k;
  t->t_ready = t->t_start = t->t_end = CORUN_NO_TIME;
  if (corun_field_timeout(&f, "timeout", "end the task", &secs) > 0 &&
      (t->timeout = calloc(1, sizeof(*t->timeout))) != NULL)
    t->timeout->ms = corun_duration_ms(secs);
  v = corun_field(&f, "limit");
  /* As for any task: a default limit is for the work, not its container. */
  if (v && corun_field_from_defaults(&f, v) && k &&
      corun__kind_is_container(k))
    v = NULL;
  if (v && cJSON_IsString(v) &&
      corun_template_item_refs(v->valuestring, NULL, NULL) > 0)
    corun_field_fail(&f, "limit", v, "cannot depend on the item");
  else if (v && !(v->type & CORUN_FIELD_BAD))
    t->limit = resolve_limit(ld, &f, v);
  if (t->limit) {
    struct tmpl_limit *nl =
        realloc(ld->tlimits, (ld->ntlimits + 1) * sizeof(*nl));

    if (nl) {
      ld->tlimits = nl;
      nl[ld->ntlimits].task = pf->task;
      nl[ld->ntlimits].off = where(ld, v);
      nl[ld->ntlimits++].limit = t->limit;
    }
  }
  if (k) {
    k->parse(t, &f);
    check_unknown(ld, &f, k, pf->task, mark);
  } else {
    check_unknown_any(ld, &f, pf->task, mark);
  }
  if (k && k->parent && f.has_tasks && cJSON_IsArray(tasks) &&
      f.nchildren > 0) {
    struct corun_buf cl = CORUN_BUF_INIT;

    t->children = calloc(f.nchildren, sizeof(*t->children));
    for (c = tasks->child, i = 0; c && t->children; c = c->next, i++) {
      corun_buf_reset(&cl);
      corun_buf_printf(&cl, "%s, child %zu", label, i + 1);
      t->children[i] = load_template(pf, c, corun_buf_str(&cl));
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
    diag(ld, scratch.v[i].off, pf->task, "%s: %s", label, scratch.v[i].msg);
  }
  free(io.v);
  corun__diags_free(&scratch);
  for (i = before; i < ld->diags.n; i++)
    if (ld->diags.v[i].task == pf->task)
      break;
  if (i < ld->diags.n || k == NULL) {
    /* Never fail without saying why: the job would run half-checked. */
    if (i == ld->diags.n)
      diag(ld, where(ld, obj), pf->task, "%s: not a valid task", label);
    pf->failed = 1;
    corun__instance_free(t);
    return NULL;
  }
  /* Inside the template too, a limit held above cannot be taken below. */
  for (i = 0; i < t->nchildren; i++)
    check_template_limits(ld, pf->task, t->children[i]);
  /* The run has no "defaults": what applies is copied in now. */
  for (v = ld->defaults ? ld->defaults->child : NULL; v; v = v->next) {
    if (cJSON_GetObjectItemCaseSensitive(obj, v->string) ||
        !(strcmp(v->string, "timeout") == 0 ||
          (strcmp(v->string, "limit") == 0 && !corun__kind_is_container(k)) ||
          corun__kind_has_field(k, v->string)))
      continue;
    cJSON_AddItemToObject(obj, v->string, cJSON_Duplicate(v, 1));
  }
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
  size_t off = corun_json_offset(p), key_off, mark;
  long idx;
  int n = 0, r;
  const char *name;
  char kbuf[64];
  struct corun_strmap seen = {0};

  if (corun_json_peek(p) != '{') {
    reject_value(ld, -1, "a task must be an object");
    return NULL;
  }
  idx = push_rec(ld, off);
  if (idx < 0) {
    corun_json_fail(p, off, "too many tasks or out of memory");
    return NULL;
  }
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
  f.load_template = load_template;
  f.loader = ld;
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
        corun_strmap_put(&seen, it->string, it, NULL);
    }
    dup = (seen.len ? corun_strmap_get(&seen, key) != NULL
                    : cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) ||
          (strcmp(key, "tasks") == 0 && f.has_tasks);

    if (dup) {
      diag(ld, key_off, idx, "duplicate key \"%s\"", key);
      r = corun_json_skip(p);
    } else if (strcmp(key, "tasks") == 0) {
      f.has_tasks = 1;
      f.tasks_off = corun_json_offset(p);
      r = read_children(ld, &cv, idx);
    } else {
      r = corun_json_value(p, &v);
      if (r == 0) {
        cJSON_AddItemToObject(obj, key, v);
        if (seen.len)
          corun_strmap_put(&seen, obj->child->prev->string, v, NULL);
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

  mark = ld->diags.n;
  expand_task_fields(ld, obj, idx);
  k = read_kind(ld, &f, idx);
  f.kind = k;
  t = new_task(ld->job, k, idx);
  if (t == NULL) {
    corun_json_fail(p, off, "out of memory");
    goto out;
  }
  read_common(ld, t, &f, idx);
  if (k) {
    k->parse(t, &f);
    check_unknown(ld, &f, k, idx, mark);
  } else {
    check_unknown_any(ld, &f, idx, mark);
  }
  t->children = cv.v;
  t->nchildren = cv.n;
  cv.v = NULL;
  for (uint32_t i = 0; i < t->nchildren; i++)
    t->children[i]->parent = t;
  ld->job->tasks[idx] = t;
out:
  corun_strmap_free(&seen);
  free(cv.v);
  cJSON_Delete(obj);
  return p->failed ? NULL : t;
}

static int read_tasks(struct loader *ld)
{
  struct corun_json *p = &ld->p;
  struct corun_job *job = ld->job;
  struct childvec roots = {0};
  int n = 0, r;

  p->pos = ld->tasks_off;
  p->depth = 1;
  if (corun_json_peek(p) != '[')
    return reject_value(ld, -1, "\"tasks\" must be an array of tasks");
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
  job->roots = roots.v;
  job->nroots = roots.n;
  return r;
}

/* ---- whole-tree checks ---- */

struct corun_idchunk {
  struct corun_idchunk *next;
  size_t used;
  size_t size;
  char data[];
};

/* Room for n bytes in the job's id pool; a million "g.123456" ids cost
 * their bytes, not a malloc header each. */
static char *pool_alloc(struct corun_job *job, size_t n)
{
  struct corun_idchunk *c = job->idpool;

  if (c == NULL || c->size - c->used < n) {
    size_t size = n > 65536 ? n : 65536;

    c = malloc(sizeof(*c) + size);
    if (c == NULL)
      return NULL;
    c->used = 0;
    c->size = size;
    c->next = job->idpool;
    job->idpool = c;
  }
  c->used += n;
  return c->data + c->used - n;
}

static int set_generated_id(struct corun_job *job, struct corun_task *t,
                            const char *prefix, const char *sep, size_t n)
{
  char digits[24], *d = digits + sizeof(digits);
  size_t lp = strlen(prefix), ls = strlen(sep), ld;

  /* By hand: snprintf showed up in profiles of million-task jobs. */
  do {
    *--d = (char)('0' + n % 10);
    n /= 10;
  } while (n);
  ld = (size_t)(digits + sizeof(digits) - d);
  t->id = pool_alloc(job, lp + ls + ld + 1);
  if (t->id == NULL)
    return -1;
  memcpy(t->id, prefix, lp);
  memcpy(t->id + lp, sep, ls);
  memcpy(t->id + lp + ls, d, ld);
  t->id[lp + ls + ld] = '\0';
  t->flags |= CORUN_TF_ID_POOLED;
  return 0;
}

static int assign_ids(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;
  uint32_t c;

  for (i = 0; i < job->nroots; i++)
    if (job->roots[i]->id == NULL &&
        set_generated_id(job, job->roots[i], "task", "", i + 1) < 0)
      return -1;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    for (c = 0; t && c < t->nchildren; c++)
      if (t->children[c]->id == NULL &&
          set_generated_id(job, t->children[c], t->id, ".", c + 1) < 0)
        return -1;
  }
  return 0;
}

static void dup_id(struct loader *ld, size_t i, const struct corun_task *other)
{
  struct ldrec *rec;
  const struct ldrec *frec;

  /* Report the later of the two, pointing back at the first. */
  if (other->index > i) {
    size_t later = other->index;

    other = ld->job->tasks[i];
    i = later;
  }
  rec = &ld->recs[i];
  frec = &ld->recs[other->index];
  unsigned line, col;

  corun_json_line_col(ld->p.text, ld->p.len,
                      frec->id_off ? frec->id_off : frec->obj_off, &line,
                      &col);
  diag(ld, rec->id_off ? rec->id_off : rec->obj_off, -1,
       "duplicate task id \"%s\"%s (first used at line %u)",
       ld->job->tasks[i]->id,
       rec->id_off ? "" : " (generated for a task without \"id\")", line);
}

/*
 * Generated ids cannot clash with each other (each extends a unique parent
 * id or numbers a root), only with explicit ones. So the map holds the
 * explicit ids and generated ones are merely looked up, unless "after" is
 * used anywhere: then every id must be findable.
 */
static void check_ids(struct loader *ld)
{
  struct corun_job *job = ld->job;
  int all = 0;
  size_t i;

  for (i = 0; i < job->ntasks && !all; i++)
    all = ld->recs[i].after != NULL;
  /* Explicit ids first, so a generated id meets them wherever they are. */
  for (i = 0; !all && i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    void *old = NULL;
    int r;

    if (t == NULL || t->id == NULL || !ld->recs[i].id_off)
      continue;
    r = corun_strmap_put(&job->ids, t->id, t, &old);
    if (r == 0)
      dup_id(ld, i, old);
    else if (r < 0)
      diag(ld, 0, -1, "out of memory");
  }
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    void *old = NULL;
    int r;

    if (t == NULL || t->id == NULL)
      continue;
    if (!all) {
      if (!ld->recs[i].id_off && (old = corun_strmap_get(&job->ids, t->id)))
        dup_id(ld, i, old);
      continue;
    }
    r = corun_strmap_put(&job->ids, t->id, t, &old);
    if (r == 0) {
      dup_id(ld, i, old);
    } else if (r < 0) {
      diag(ld, 0, -1, "out of memory");
      return;
    }
  }
}

/*
 * A task that needs a slot of a limit its ancestor already holds can wait
 * for ever: the ancestor keeps its slot until the task ends.
 */
static void check_nested_limits(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;

  /* A pipeline's items wait for slots while it holds its own. */
  for (i = 0; i < ld->ntlimits; i++) {
    const struct tmpl_limit *tl = &ld->tlimits[i];
    struct corun_task *a;

    if (tl->task < 0 || (size_t)tl->task >= job->ntasks)
      continue;
    for (a = job->tasks[tl->task]; a; a = a->parent)
      if (a->limit == tl->limit) {
        diag(ld, tl->off, tl->task,
             "a stage's task: \"limit\" \"%s\" is already held by its "
             "ancestor \"%s\": waiting for another slot inside it could "
             "wait for ever",
             tl->limit->name, a->id);
        break;
      }
  }

  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i], *a;

    if (t == NULL || t->limit == NULL)
      continue;
    for (a = t->parent; a; a = a->parent) {
      if (a->limit != t->limit)
        continue;
      diag(ld, ld->recs[i].limit_off, (long)i,
           "\"limit\" \"%s\" is already held by its ancestor \"%s\": "
           "waiting for another slot inside it could wait for ever",
           t->limit->name, a->id);
      break;
    }
  }
}

static uint32_t nafter_of(const struct corun_task *t)
{
  return t && t->deps ? t->deps->nafter : 0;
}

static int is_ancestor(const struct corun_task *a, const struct corun_task *t)
{
  for (t = t->parent; t; t = t->parent)
    if (t == a)
      return 1;
  return 0;
}

static void resolve_after(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t i;
  uint32_t j, k;
  uint32_t *ndep;

  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];
    struct after_list *al = ld->recs[i].after;

    if (t == NULL || al == NULL)
      continue;
    t->deps = calloc(1, sizeof(*t->deps));
    if (t->deps == NULL ||
        (t->deps->after = calloc(al->n, sizeof(*t->deps->after))) == NULL) {
      diag(ld, al->offs[0], (long)i, "out of memory");
      return;
    }
    for (j = 0; j < al->n; j++) {
      struct corun_task *d = corun_strmap_get(&job->ids, al->ids[j]);

      if (d == NULL) {
        const char *hint = NULL;

        /*
         * Suggesting from a huge job, or for thousands of bad names,
         * would cost more than it helps.
         */
        if (job->ntasks <= 20000 && ld->suggested++ < 50) {
          const char **cands = malloc(job->ntasks * sizeof(*cands));
          size_t n = 0, m;

          for (m = 0; cands && m < job->ntasks; m++)
            if (job->tasks[m] && job->tasks[m]->id)
              cands[n++] = job->tasks[m]->id;
          hint = cands ? corun_suggest(al->ids[j], cands, n) : NULL;
          free(cands);
        }
        if (hint)
          diag(ld, al->offs[j], (long)i,
               "\"after\" names unknown task \"%s\" (did you mean \"%s\"?)",
               al->ids[j], hint);
        else
          diag(ld, al->offs[j], (long)i,
               "\"after\" names unknown task \"%s\"", al->ids[j]);
        continue;
      }
      if (d == t) {
        diag(ld, al->offs[j], (long)i, "\"after\" names the task itself");
        continue;
      }
      if (is_ancestor(d, t)) {
        diag(ld, al->offs[j], (long)i,
             "\"after\" names \"%s\", an ancestor of this task (it cannot "
             "end before its children)",
             d->id);
        continue;
      }
      if (is_ancestor(t, d)) {
        diag(ld, al->offs[j], (long)i,
             "\"after\" names \"%s\", a descendant of this task (it cannot "
             "start before its parent)",
             d->id);
        continue;
      }
      for (k = 0; k < t->deps->nafter; k++)
        if (t->deps->after[k] == d)
          break;
      if (k < t->deps->nafter)
        continue; /* named twice: once is what it means */
      t->deps->after[t->deps->nafter++] = d;
      job->nedges++;
    }
    t->deps->left = t->deps->nafter;
  }
  if (job->nedges == 0)
    return;
  ndep = calloc(job->ntasks, sizeof(*ndep));
  if (ndep == NULL) {
    diag(ld, 0, -1, "out of memory");
    return;
  }
  for (i = 0; i < job->ntasks; i++)
    for (j = 0; j < nafter_of(job->tasks[i]); j++)
      ndep[job->tasks[i]->deps->after[j]->index]++;
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    if (ndep[i] == 0 || t == NULL)
      continue;
    if (t->deps == NULL)
      t->deps = calloc(1, sizeof(*t->deps));
    if (t->deps == NULL ||
        (t->deps->dependents = calloc(ndep[i], sizeof(struct corun_task *))) ==
            NULL) {
      diag(ld, 0, -1, "out of memory");
      free(ndep);
      return;
    }
  }
  for (i = 0; i < job->ntasks; i++)
    for (j = 0; j < nafter_of(job->tasks[i]); j++) {
      struct corun_deps *dd = job->tasks[i]->deps->after[j]->deps;

      dd->dependents[dd->ndependents++] = job->tasks[i];
    }
  free(ndep);
}

/*
 * Deadlock check. Each task is two events, its start S and its end E, with
 * "must come first" edges: S(t)->E(t), S(parent)->S(child),
 * E(child)->E(parent) and E(dep)->S(t) for each "after". Any cycle means
 * the job can never finish. Kahn's algorithm finds whether one exists;
 * walking back along unfinished predecessors then finds one to show.
 */
#define NODE_S(i) (2 * (i))
#define NODE_E(i) (2 * (i) + 1)

static void find_cycle(struct loader *ld, const uint32_t *indeg)
{
  struct corun_job *job = ld->job;
  size_t n = 2 * job->ntasks, x = n, i, steps;
  uint32_t *mark = calloc(n, sizeof(*mark)), *path;
  size_t plen = 0, start;
  struct corun_buf msg = CORUN_BUF_INIT;
  long blame = -1;
  size_t blame_off = 0;

  path = calloc(n + 1, sizeof(*path));
  if (mark == NULL || path == NULL)
    goto out;
  for (i = 0; i < n; i++)
    if (indeg[i]) {
      x = i;
      break;
    }
  /* Walk predecessors that are still blocked until one repeats. */
  while (!mark[x]) {
    struct corun_task *t = job->tasks[x / 2];
    size_t prev = n;

    mark[x] = (uint32_t)(++plen);
    path[plen - 1] = (uint32_t)x;
    if (x % 2 == 0) { /* S(t): preds are S(parent) and E(dep) */
      if (t->parent && indeg[NODE_S(t->parent->index)])
        prev = NODE_S(t->parent->index);
      for (i = 0; prev == n && i < nafter_of(t); i++)
        if (indeg[NODE_E(t->deps->after[i]->index)])
          prev = NODE_E(t->deps->after[i]->index);
    } else { /* E(t): preds are S(t) and E(child) */
      if (indeg[NODE_S(t->index)])
        prev = NODE_S(t->index);
      for (i = 0; prev == n && i < t->nchildren; i++)
        if (indeg[NODE_E(t->children[i]->index)])
          prev = NODE_E(t->children[i]->index);
    }
    if (prev == n)
      goto out;
    x = prev;
  }
  /*
   * path[start..plen) is the cycle, path[k + 1] before path[k] and
   * path[start] before path[plen - 1]: read it from the top down.
   */
  start = mark[x] - 1;
  for (steps = plen; steps > start; steps--) {
    size_t k = steps - 1;
    size_t a = path[k];
    size_t b = k > start ? path[k - 1] : path[plen - 1];
    struct corun_task *ta = job->tasks[a / 2], *tb = job->tasks[b / 2];

    /* Edge a -> b ("a must happen before b"). */
    if (a % 2 == 1 && b % 2 == 0) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" runs after \"%s\"", tb->id, ta->id);
      if (blame < 0) {
        struct after_list *al = ld->recs[tb->index].after;

        blame = (long)tb->index;
        blame_off = ld->recs[tb->index].obj_off;
        for (i = 0; al && i < al->n; i++)
          if (strcmp(al->ids[i], ta->id) == 0)
            blame_off = al->offs[i];
      }
    } else if (a % 2 == 1 && b % 2 == 1) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" waits for its child \"%s\"", tb->id,
                       ta->id);
    } else if (a % 2 == 0 && b % 2 == 0) {
      if (msg.len)
        corun_buf_puts(&msg, ", ");
      corun_buf_printf(&msg, "\"%s\" starts inside \"%s\"", tb->id, ta->id);
    }
  }
  diag(ld, blame_off, blame, "\"after\" forms a cycle: %s",
       corun_buf_str(&msg));
out:
  if (blame < 0 && (mark == NULL || path == NULL))
    diag(ld, 0, -1, "\"after\" forms a cycle (out of memory describing it)");
  corun_buf_free(&msg);
  free(mark);
  free(path);
}

static void check_cycles(struct loader *ld)
{
  struct corun_job *job = ld->job;
  size_t n = 2 * job->ntasks, head = 0, tail = 0, i, done = 0;
  uint32_t *indeg = calloc(n, sizeof(*indeg));
  uint32_t *queue = calloc(n, sizeof(*queue));

  if (indeg == NULL || queue == NULL) {
    diag(ld, 0, -1, "out of memory checking for cycles");
    goto out;
  }
  for (i = 0; i < job->ntasks; i++) {
    struct corun_task *t = job->tasks[i];

    indeg[NODE_S(i)] = (t->parent ? 1 : 0) + nafter_of(t);
    indeg[NODE_E(i)] = 1 + t->nchildren;
  }
  for (i = 0; i < n; i++)
    if (indeg[i] == 0)
      queue[tail++] = (uint32_t)i;
  while (head < tail) {
    size_t x = queue[head++];
    struct corun_task *t = job->tasks[x / 2];
    uint32_t j;

    done++;
#define RELEASE(node)                                                          \
  do {                                                                         \
    if (--indeg[(node)] == 0)                                                  \
      queue[tail++] = (uint32_t)(node);                                        \
  } while (0)
    if (x % 2 == 0) {
      RELEASE(NODE_E(t->index));
      for (j = 0; j < t->nchildren; j++)
        RELEASE(NODE_S(t->children[j]->index));
    } else {
      if (t->parent)
        RELEASE(NODE_E(t->parent->index));
      for (j = 0; t->deps && j < t->deps->ndependents; j++)
        RELEASE(NODE_S(t->deps->dependents[j]->index));
    }
#undef RELEASE
  }
  if (done < n)
    find_cycle(ld, indeg);
out:
  free(indeg);
  free(queue);
}

/* ---- rendering diagnostics ---- */

/*
 * By place, then task and text so identical reports (a bad default met by
 * many tasks) sit together and print once.
 */
static int diag_cmp(const void *a, const void *b)
{
  const struct corun_diag *x = a, *y = b;
  int c;

  if (x->off != y->off)
    return x->off < y->off ? -1 : 1;
  if (x->task != y->task)
    return x->task < y->task ? -1 : 1;
  c = strcmp(x->msg, y->msg);
  if (c)
    return c;
  return x < y ? -1 : x > y;
}

static void render(struct loader *ld, const char *display,
                   struct corun_buf *out)
{
  struct corun_diags *d = &ld->diags;
  size_t *lines = NULL, nlines = 0, cap = 0, i;
  struct corun_buf prev = CORUN_BUF_INIT, cur = CORUN_BUF_INIT;
  struct corun_buf red = CORUN_BUF_INIT;

  /* Line starts once, so many errors in a big file stay cheap. */
  for (i = 0; i <= ld->p.len; i++) {
    if (i == 0 || ld->p.text[i - 1] == '\n') {
      if (nlines == cap) {
        size_t *nl;

        cap = cap ? cap * 2 : 256;
        nl = realloc(lines, cap * sizeof(*nl));
        if (nl == NULL)
          break;
        lines = nl;
      }
      lines[nlines++] = i;
    }
  }
  /* Stable by offset: qsort is not stable, the address tiebreak is. */
  qsort(d->v, d->n, sizeof(*d->v), diag_cmp);
  if (ld->nbad_ids > 1)
    qsort(ld->bad_ids, ld->nbad_ids, sizeof(*ld->bad_ids), bad_id_cmp);
  for (i = 0; i < d->n; i++) {
    size_t lo = 0, hi = nlines, off = d->v[i].off, bol;
    const struct corun_task *t = NULL;
    const struct bad_id *bad;

    while (hi - lo > 1) {
      size_t mid = (lo + hi) / 2;

      if (lines[mid] <= off)
        lo = mid;
      else
        hi = mid;
    }
    if (d->v[i].task >= 0 && (size_t)d->v[i].task < ld->job->ntasks)
      t = ld->job->tasks[d->v[i].task];
    corun_buf_reset(&cur);
    /* A leading BOM is skipped by the reader and unseen in an editor. */
    bol = lines ? lines[lo] : 0;
    if (bol == 0 && off >= 3 && ld->p.len >= 3 &&
        memcmp(ld->p.text, "\xef\xbb\xbf", 3) == 0)
      bol = 3;
    corun_buf_printf(&cur, "%s:%zu:%zu: error: ", display, lo + 1,
                     off - bol + 1);
    bad = NULL;
    if (ld->nbad_ids > 0 && d->v[i].task >= 0) {
      struct bad_id key = {d->v[i].task, NULL};

      bad = bsearch(&key, ld->bad_ids, ld->nbad_ids, sizeof(key), bad_id_cmp);
    }
    if (bad)
      corun_buf_printf(&cur, "task \"%s\": ", bad->id);
    else if (t && t->id)
      corun_buf_printf(&cur, "task \"%s\": ", t->id);
    else if (d->v[i].task >= 0)
      corun_buf_printf(&cur, "task #%ld: ", d->v[i].task + 1);
    corun_buf_printf(&cur, "%s\n", d->v[i].msg);
    if (prev.len == cur.len && memcmp(prev.p, cur.p, cur.len) == 0)
      continue;
    /*
     * Messages quote the file's own strings (keys, values): a key holding
     * a newline or an escape sequence must not reach a terminal as such.
     */
    corun_buf_reset(&red);
    corun_secrets_redact(&ld->job->secrets, cur.p, cur.len - 1, &red);
    corun_buf_escaped(out, corun_buf_str(&red), 0);
    corun_buf_putc(out, '\n');
    corun_buf_reset(&prev);
    corun_buf_add(&prev, cur.p, cur.len);
  }
  corun_buf_free(&prev);
  corun_buf_free(&cur);
  corun_buf_free(&red);
  free(lines);
}

/* ---- job ---- */

void corun_job_free(struct corun_job *job)
{
  size_t i;

  if (job == NULL)
    return;
  for (i = 0; i < job->ntasks; i++)
    if (job->tasks[i])
      corun__task_free_parts(job->tasks[i]);
  free(job->tasks);
  free(job->roots);
  for (i = 0; i < job->nlimits; i++) {
    free(job->limits[i]->name);
    free(job->limits[i]);
  }
  free(job->limits);
  corun_secrets_free(&job->secrets);
  corun_strmap_free(&job->ids);
  while (job->slabs) {
    struct corun_slab *s = job->slabs;

    job->slabs = s->next;
    munmap(s, s->size);
  }
  while (job->idpool) {
    struct corun_idchunk *c = job->idpool;

    job->idpool = c->next;
    free(c);
  }
  free(job->display);
  free(job->root);
  free(job->dir);
  free(job->name);
  free(job);
}

size_t corun_job_task_count(const struct corun_job *job)
{
  return job->ntasks;
}

void corun_job_redact(const struct corun_job *job, const char *s,
                      struct corun_buf *out)
{
  corun_secrets_redact(&job->secrets, s, strlen(s), out);
}

static char *base_name(const char *display)
{
  const char *b = strrchr(display, '/');
  size_t n;

  b = b ? b + 1 : display;
  n = strlen(b);
  if (n > 5 && strcmp(b + n - 5, ".json") == 0)
    n -= 5;
  return strndup(b, n);
}

/*
 * FNV-1a over the file and the --var values: what names a job for its
 * journal. Not cryptographic; it tells jobs apart, it does not guard them.
 */
static uint64_t job_hash(const char *text, size_t len,
                         const struct corun_load_opts *opts)
{
  uint64_t h = 0xcbf29ce484222325ULL;
  size_t i, k;

  for (i = 0; i < len; i++)
    h = (h ^ (unsigned char)text[i]) * 0x100000001b3ULL;
  for (k = 0; opts && k < opts->nvars; k++) {
    const char *v = opts->vars[k];

    h = (h ^ 0xff) * 0x100000001b3ULL; /* a separator no text byte equals */
    for (i = 0; v[i]; i++)
      h = (h ^ (unsigned char)v[i]) * 0x100000001b3ULL;
  }
  return h;
}

/* Apply --var name=value over the file's vars. */
static int cli_var_known(const struct loader *ld, const char *name)
{
  size_t i;

  for (i = 0; i < ld->ncli_vars; i++)
    if (strcmp(ld->cli_vars[i].name, name) == 0)
      return 1;
  return 0;
}

static int apply_var_overrides(struct loader *ld,
                               const struct corun_load_opts *opts,
                               struct corun_error *err)
{
  const cJSON *file_vars = ld->vars;
  size_t i;

  for (i = 0; opts && i < opts->nvars; i++) {
    const char *eq = strchr(opts->vars[i], '=');
    char *name;
    cJSON *v;
    int in_file;

    if (eq == NULL || eq == opts->vars[i])
      return corun_failf(err, CORUN_EUSAGE,
                         "--var '%s': expected NAME=VALUE", opts->vars[i]);
    if (ld->vars == NULL) {
      ld->vars = cJSON_CreateObject();
      if (ld->vars == NULL)
        return corun_failf(err, CORUN_ENOMEM, "out of memory");
    }
    name = strndup(opts->vars[i], (size_t)(eq - opts->vars[i]));
    v = cJSON_CreateString(eq + 1);
    if (name == NULL || v == NULL) {
      free(name);
      cJSON_Delete(v);
      return corun_failf(err, CORUN_ENOMEM, "out of memory");
    }
    /* Overriding a variable the file defines is always meant. */
    in_file = file_vars && cJSON_GetObjectItemCaseSensitive(file_vars, name);
    if (cJSON_GetObjectItemCaseSensitive(ld->vars, name))
      cJSON_ReplaceItemInObjectCaseSensitive(ld->vars, name, v);
    else
      cJSON_AddItemToObject(ld->vars, name, v);
    if (!in_file && !cli_var_known(ld, name)) {
      struct cli_var *nc =
          realloc(ld->cli_vars, (ld->ncli_vars + 1) * sizeof(*nc));

      if (nc == NULL) {
        free(name);
        return corun_failf(err, CORUN_ENOMEM, "out of memory");
      }
      ld->cli_vars = nc;
      nc[ld->ncli_vars].name = name;
      nc[ld->ncli_vars++].used = 0;
      continue;
    }
    free(name);
  }
  return CORUN_OK;
}

/* ---- checks before the run ---- */

/* path with "//", "." and ".." folded, without looking at the disk. */
static char *fold_path(const char *path)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p = path, *e;
  int abs = *path == '/';

  if (abs)
    corun_buf_putc(&b, '/');
  for (; *p; p = *e ? e + 1 : e) {
    size_t n;

    e = strchr(p, '/');
    if (e == NULL)
      e = p + strlen(p);
    n = (size_t)(e - p);
    if (n == 0 || (n == 1 && p[0] == '.'))
      continue;
    if (n == 2 && p[0] == '.' && p[1] == '.' && b.len > (size_t)abs) {
      char *slash;

      b.p[b.len] = '\0';
      slash = strrchr(b.p + abs, '/');
      b.len = slash ? (size_t)(slash - b.p) : (size_t)abs;
      b.p[b.len] = '\0';
      continue;
    }
    if (b.len > (size_t)abs)
      corun_buf_putc(&b, '/');
    corun_buf_add(&b, p, n);
  }
  return corun_buf_detach(&b);
}

/* Whether t starts with the run: neither it nor a container has "after". */
static int starts_with_run(const struct corun_task *t)
{
  for (; t; t = t->parent)
    if (t->deps && t->deps->nafter)
      return 0;
  return 1;
}

/*
 * Whether a task of the job writes path ("save", "results"), or, with
 * below, a file under it (whose directories that task creates). Looked up
 * in ld->written, made once by note_written(): a job of many commands
 * asks this once per command.
 */
static int written_by_job(const struct loader *ld, const char *path,
                          int below)
{
  char *want = fold_path(path);
  int hit;

  if (want == NULL)
    return 1; /* cannot tell: do not refuse the job */
  hit = corun_strmap_get(&ld->written, want) != NULL;
  if (!hit && below)
    hit = corun_strmap_get(&ld->written_dirs, want) != NULL;
  free(want);
  return hit;
}

/*
 * Every path a task writes goes in ld->written, and every directory above
 * it in ld->written_dirs (the writer creates them). Keys are kept in
 * ld->written_keys until the loader ends.
 */
static void note_written(struct loader *ld)
{
  size_t i;

  for (i = 0; i < ld->pre.n; i++) {
    char *got, *slash;

    if (ld->pre.v[i].what != CORUN_PRE_OUTPUT ||
        (got = fold_path(ld->pre.v[i].path)) == NULL)
      continue;
    if (corun_strmap_put(&ld->written, got, got, NULL) != 1) {
      free(got);
      continue;
    }
    /* Each parent: "/a/b/c" makes "/a/b", "/a" and "/". */
    for (slash = strrchr(got, '/'); slash; slash = strrchr(got, '/')) {
      char *dir = strndup(got, slash == got ? 1 : (size_t)(slash - got));

      if (dir == NULL || corun_strmap_put(&ld->written_dirs, dir, dir, NULL) != 1) {
        free(dir);
        break; /* already there: so are the ones above it */
      }
      if (slash == got)
        break;
      got = dir;
    }
  }
}

/* Free what note_written() made. */
static void written_free(struct loader *ld)
{
  size_t i;

  for (i = 0; i < ld->written.cap; i++)
    free((char *)ld->written.slots[i].key);
  for (i = 0; i < ld->written_dirs.cap; i++)
    free((char *)ld->written_dirs.slots[i].key);
  for (i = 0; i < ld->programs.cap; i++)
    free((char *)ld->programs.slots[i].key);
  corun_strmap_free(&ld->programs);
  corun_strmap_free(&ld->written);
  corun_strmap_free(&ld->written_dirs);
}

/* Whether path is a file the process may execute. */
static int executable(const char *path)
{
  struct stat st;

  return stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
         access(path, X_OK) == 0;
}

/* Whether name (no slash) is found in search, as execvp would look. */
static int on_path(const char *name, const char *search, const char *cwd)
{
  struct corun_buf b = CORUN_BUF_INIT;
  const char *p = search, *e;
  int found = 0;

  for (; !found; p = e + 1) {
    e = strchr(p, ':');
    if (e == NULL)
      e = p + strlen(p);
    corun_buf_reset(&b);
    /* Empty and relative entries are looked up where the program starts. */
    if (*p != '/')
      corun_buf_puts(&b, cwd ? cwd : ".");
    if (e > p && *p != '/')
      corun_buf_putc(&b, '/');
    corun_buf_add(&b, p, (size_t)(e - p));
    corun_buf_printf(&b, "/%s", name);
    found = !b.oom && executable(corun_buf_str(&b));
    if (*e == '\0')
      break;
  }
  corun_buf_free(&b);
  return found;
}

/*
 * on_path(), remembered: a job of many commands names the same few
 * programs, and each look costs a stat() per PATH entry.
 */
static int found_on_path(struct loader *ld, const char *name,
                         const char *search, const char *cwd)
{
  struct corun_buf key = CORUN_BUF_INIT;
  void *got;
  int found;
  char *k;

  corun_buf_printf(&key, "%s\n%s\n%s", name, search, cwd ? cwd : "");
  if (key.oom) {
    corun_buf_free(&key);
    return on_path(name, search, cwd);
  }
  got = corun_strmap_get(&ld->programs, corun_buf_str(&key));
  if (got) {
    corun_buf_free(&key);
    return got == (void *)&ld->programs;
  }
  found = on_path(name, search, cwd);
  k = corun_buf_detach(&key);
  /* The value says which: the map's own address for found. */
  if (k && corun_strmap_put(&ld->programs, k,
                            found ? (void *)&ld->programs : (void *)ld, NULL) != 1)
    free(k);
  return found;
}

static void check_program(struct loader *ld, const struct corun_precheck *c)
{
  const char *name = c->path;
  struct corun_buf b = CORUN_BUF_INIT;
  struct stat st;

  if (*name == '\0') {
    diag(ld, c->off, c->task, "\"%s\" has an empty program name", c->field);
    return;
  }
  if (strchr(name, '/') == NULL) {
    const char *search = c->search ? c->search : getenv("PATH");

    if (search == NULL)
      search = "/bin:/usr/bin";
    if (!found_on_path(ld, name, search, c->cwd))
      diag(ld, c->off, c->task,
           "\"%s\": program \"%s\" is not found in %s", c->field, name,
           c->search ? "the PATH set by \"env\"" : "PATH");
    return;
  }
  if (name[0] == '/' || c->cwd == NULL)
    corun_buf_puts(&b, name);
  else
    corun_buf_printf(&b, "%s/%s", c->cwd, name);
  /* Relative to a cwd that another task builds: that task's business. */
  if (!b.oom && name[0] != '/' && c->cwd && written_by_job(ld, c->cwd, 1)) {
    corun_buf_free(&b);
    return;
  }
  if (!b.oom && written_by_job(ld, corun_buf_str(&b), 0)) {
    corun_buf_free(&b);
    return;
  }
  if (b.oom)
    ;
  else if (stat(corun_buf_str(&b), &st) < 0)
    diag(ld, c->off, c->task, "\"%s\": program \"%s\" does not exist",
         c->field, corun_buf_str(&b));
  else if (!executable(corun_buf_str(&b)))
    diag(ld, c->off, c->task,
         "\"%s\": program \"%s\" is not an executable file", c->field,
         corun_buf_str(&b));
  corun_buf_free(&b);
}

/*
 * What a task needs and cannot do without is looked at now, so a typo in
 * a path fails in --check, not an hour into the run. Never where another
 * task could make it first: a task that waits for others ("after", its own
 * or a container's), or a path another task writes.
 */
static void run_prechecks(struct loader *ld)
{
  size_t i;

  note_written(ld);
  for (i = 0; i < ld->pre.n; i++) {
    const struct corun_precheck *c = &ld->pre.v[i];
    const struct corun_task *t;
    struct stat st;

    if (c->what == CORUN_PRE_OUTPUT || c->task < 0 ||
        (size_t)c->task >= ld->job->ntasks)
      continue;
    t = ld->job->tasks[c->task];
    if (t == NULL || !starts_with_run(t))
      continue;
    switch (c->what) {
    case CORUN_PRE_FILE:
      if (written_by_job(ld, c->path, 0))
        break;
      if (stat(c->path, &st) < 0)
        diag(ld, c->off, c->task, "\"%s\": lines file \"%s\": %s", c->field,
             c->path,
             errno == ENOENT ? "no such file" : strerror(errno));
      else if (S_ISDIR(st.st_mode))
        diag(ld, c->off, c->task, "\"%s\": lines file \"%s\" is a directory",
             c->field, c->path);
      break;
    case CORUN_PRE_DIR:
      if (written_by_job(ld, c->path, 1))
        break;
      if (stat(c->path, &st) < 0)
        diag(ld, c->off, c->task, "\"%s\" \"%s\": %s", c->field, c->path,
             errno == ENOENT ? "no such directory" : strerror(errno));
      else if (!S_ISDIR(st.st_mode))
        diag(ld, c->off, c->task, "\"%s\" \"%s\" is not a directory",
             c->field, c->path);
      break;
    case CORUN_PRE_PROGRAM:
      /* A missing cwd is said once, by its own check. */
      if (c->cwd && (stat(c->cwd, &st) < 0 || !S_ISDIR(st.st_mode)))
        break;
      check_program(ld, c);
      break;
    default:
      break;
    }
  }
}

/*
 * path as one canonical absolute name: relative to the current directory
 * if it is relative, "." and ".." folded, and the longest part that exists
 * resolved through its symbolic links, so two spellings of one file match
 * even before the file exists. NULL when out of memory.
 */
static char *canonical(const char *path)
{
  struct corun_buf b = CORUN_BUF_INIT;
  char cwd[4096], *real;

  if (*path != '/') {
    if (getcwd(cwd, sizeof(cwd)) == NULL)
      return NULL;
    corun_buf_printf(&b, "%s/%s", cwd, path);
    path = corun_buf_str(&b);
  }
  real = b.oom ? NULL : corun__path_resolve(path);
  corun_buf_free(&b);
  return real;
}

/*
 * Whether writing path would overwrite something: a regular file, or
 * nothing yet. Devices, FIFOs and the like (/dev/null) are written in
 * place, and two writers of /dev/null do not collide.
 */
static int collides(const char *path)
{
  struct stat st;

  return stat(path, &st) < 0 || S_ISREG(st.st_mode);
}

/*
 * Whether tasks a and b meet in a race (their nearest common container's
 * children race, so only one of them gets to its end).
 */
static int in_one_race(const struct corun_task *a, const struct corun_task *b)
{
  const struct corun_task *x, *y;

  for (x = a->parent; x; x = x->parent)
    for (y = b->parent; y; y = y->parent)
      if (x == y)
        return x->kind->races && x->kind->races(x);
  return 0;
}

/*
 * Two writers of one file lose data: a task's "save" or "results" that is
 * the job file itself, a file the application writes (the report, the
 * journal), or what another task writes, is refused before the run,
 * unless the two race (only the winner saves). Paths made from a
 * pipeline's items are known only as items come, and are not looked at.
 */
/* The task of a precheck, or NULL. */
static const struct corun_task *precheck_task(const struct loader *ld,
                                              const struct corun_precheck *c)
{
  return c->task >= 0 && (size_t)c->task < ld->job->ntasks
             ? ld->job->tasks[c->task]
             : NULL;
}

static void check_outputs(struct loader *ld)
{
  /* What is not a task's: the job file and the application's outputs. */
  struct {
    char *canon;
    const char *what;
  } app[8];
  struct corun_strmap seen = {0};
  char **canon;
  size_t i, j, n = ld->pre.n, napp = 0;

  if (ld->job_path && (app[napp].canon = canonical(ld->job_path)) != NULL)
    app[napp++].what = NULL;
  for (j = 0; ld->opts && j < ld->opts->noutputs && napp < 8; j++) {
    const struct corun_output_path *o = &ld->opts->outputs[j];

    if (o->path && strcmp(o->path, "-") != 0 &&
        (app[napp].canon = canonical(o->path)) != NULL)
      app[napp++].what = o->what;
  }
  canon = calloc(n ? n : 1, sizeof(*canon));
  for (i = 0; canon && i < n; i++) {
    const struct corun_precheck *c = &ld->pre.v[i], *d;
    const struct corun_task *t, *u;
    void *old = NULL;

    if (c->what != CORUN_PRE_OUTPUT || !collides(c->path) ||
        (canon[i] = canonical(c->path)) == NULL)
      continue;
    for (j = 0; j < napp; j++) {
      if (strcmp(app[j].canon, canon[i]) != 0)
        continue;
      if (app[j].what == NULL)
        diag(ld, c->off, c->task, "\"%s\": \"%s\" is the job file itself",
             c->field, c->path);
      else
        diag(ld, c->off, c->task, "\"%s\": \"%s\" is also the %s file",
             c->field, c->path, app[j].what);
    }
    /* One look-up per output: a job may save a hundred thousand files. */
    if (corun_strmap_put(&seen, canon[i], (void *)(uintptr_t)(i + 1), &old) !=
        0)
      continue;
    d = &ld->pre.v[(uintptr_t)old - 1];
    t = precheck_task(ld, c);
    u = precheck_task(ld, d);
    if (d->task != c->task && t && u && in_one_race(t, u))
      continue;
    if (d->task == c->task)
      diag(ld, c->off, c->task, "\"%s\": \"%s\" is also its \"%s\"",
           c->field, c->path, d->field);
    else
      diag(ld, c->off, c->task,
           "\"%s\": \"%s\" is also written by task \"%s\" (\"%s\")",
           c->field, c->path, u ? u->id : "?", d->field);
  }
  corun_strmap_free(&seen);
  for (i = 0; canon && i < n; i++)
    free(canon[i]);
  free(canon);
  for (j = 0; j < napp; j++)
    free(app[j].canon);
}

static enum corun_code load_text(struct corun_job **out, const char *text,
                                 size_t len, const char *display,
                                 const char *dir,
                                 const struct corun_load_opts *opts,
                                 int stdin_use, const char *job_path,
                                 struct corun_buf *diagbuf,
                                 struct corun_error *err);

/*
 * A --var the job never uses is a typo as much as a misspelt field: say so
 * (a usage error), with the nearest name the job defines or uses.
 */
static enum corun_code unused_cli_var(struct loader *ld,
                                      const cJSON *file_vars,
                                      struct corun_error *err)
{
  const char *cands[64 + 64 + 1];
  const cJSON *it;
  const char *hint;
  size_t i, n = 0;

  for (i = 0; i < ld->ncli_vars && ld->cli_vars[i].used; i++)
    ;
  if (i == ld->ncli_vars)
    return CORUN_OK;
  /* ld->vars may be the file's own object, --var names added to it. */
  for (it = cJSON_IsObject(file_vars) ? file_vars->child : NULL; it && n < 64;
       it = it->next)
    if (!cli_var_known(ld, it->string))
      cands[n++] = it->string;
  for (size_t j = 0; j < ld->nrefs; j++)
    cands[n++] = ld->refs[j];
  cands[n] = NULL;
  hint = corun_suggest(ld->cli_vars[i].name, cands, n);
  if (hint)
    return corun_failf(err, CORUN_EUSAGE,
                       "--var %s: the job has no variable %s (did you mean "
                       "\"%s\"?)",
                       ld->cli_vars[i].name, ld->cli_vars[i].name, hint);
  return corun_failf(err, CORUN_EUSAGE,
                     "--var %s: the job has no variable %s (it uses no "
                     "${%s} and its \"vars\" do not define it)",
                     ld->cli_vars[i].name, ld->cli_vars[i].name,
                     ld->cli_vars[i].name);
}

enum corun_code corun_job_load_text(struct corun_job **out, const char *text,
                                    size_t len, const char *display,
                                    const char *dir,
                                    const struct corun_load_opts *opts,
                                    struct corun_buf *diagbuf,
                                    struct corun_error *err)
{
  return load_text(out, text, len, display, dir, opts, CORUN_STDIN_FREE, NULL,
                   diagbuf, err);
}

static enum corun_code load_text(struct corun_job **out, const char *text,
                                 size_t len, const char *display,
                                 const char *dir,
                                 const struct corun_load_opts *opts,
                                 int stdin_use, const char *job_path,
                                 struct corun_buf *diagbuf,
                                 struct corun_error *err)
{
  struct loader ld;
  struct corun_job *job;
  /* name, vars, defaults, limits, and vars made by --var alone */
  cJSON *owned[5] = {NULL, NULL, NULL, NULL, NULL};
  struct corun_template_ctx vctx;
  enum corun_code code = CORUN_OK;
  size_t i;

  *out = NULL;
  memset(&ld, 0, sizeof(ld));
  ld.job_path = job_path;
  ld.opts = opts;
  job = calloc(1, sizeof(*job));
  if (job == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  job->display = strdup(display);
  if (opts && opts->root) {
    job->root = realpath(opts->root, NULL);
    if (job->root == NULL) {
      int e = errno;

      corun_job_free(job);
      return corun_failf(err, CORUN_EUSAGE, "--root %s: %s", opts->root,
                         strerror(e));
    }
  }
  job->dir = strdup(dir ? dir : ".");
  job->concurrency = CORUN_DEFAULT_CONCURRENCY;
  job->hash = job_hash(text, len, opts);
  ld.job = job;
  ld.stdin_use = stdin_use;
  corun_json_init(&ld.p, text, len);

  if (len > MAX_FILE_BYTES) {
    corun_json_fail(&ld.p, 0, "file too large (over 1 GiB)");
    goto diags;
  }
  if (read_top(&ld, owned) < 0 && ld.p.failed)
    goto diags;
  if (ld.diags.n == 0 && !ld.has_tasks)
    diag(&ld, 0, -1, "missing required field \"tasks\"");

  ld.vars = owned[1] && cJSON_IsObject(owned[1]) ? owned[1] : NULL;
  code = apply_var_overrides(&ld, opts, err);
  if (code != CORUN_OK)
    goto fail;
  if (ld.vars != owned[1])
    owned[4] = ld.vars;
  memset(&vctx, 0, sizeof(vctx));
  vctx.env_only = 1;
  vctx.secrets = &job->secrets;
  if (ld.vars)
    expand_tree(&ld, ld.vars, NULL, -1, &vctx, "vars");
  ld.tctx.vars = ld.vars;
  ld.tctx.secrets = &job->secrets;
  ld.dctx = ld.tctx;
  ld.dctx.defer_item = 1;
  if (owned[3] && !cJSON_IsObject(owned[3])) {
    diag(&ld, where(&ld, owned[3]), -1, "\"limits\" must be an object, not %s",
         corun__json_type(owned[3]));
  } else if (owned[3]) {
    cJSON *it;

    expand_tree(&ld, owned[3], NULL, -1, &ld.tctx, "limits");
    for (it = owned[3]->child; it; it = it->next)
      read_limit(&ld, it);
  }
  if (ld.defaults) {
    expand_tree(&ld, ld.defaults, NULL, -1, &ld.tctx, "defaults");
    check_defaults(&ld);
  }
  if (owned[0] && cJSON_IsString(owned[0])) {
    expand_tree(&ld, owned[0], "name", -1, &ld.tctx, NULL);
    job->name = strdup(owned[0]->valuestring);
  } else {
    job->name = base_name(display);
  }
  if (opts && opts->jobs)
    job->concurrency = opts->jobs;

  if (ld.has_tasks && read_tasks(&ld) < 0 && ld.p.failed)
    goto diags;
  if (assign_ids(&ld) < 0) {
    code = corun_failf(err, CORUN_ENOMEM, "out of memory");
    goto fail;
  }
  check_ids(&ld);
  check_nested_limits(&ld);
  resolve_after(&ld);
  /* A tree with other errors may be half built; cycles would mislead. */
  if (ld.diags.n == 0 && job->nedges > 0)
    check_cycles(&ld);
  if (ld.diags.n == 0)
    run_prechecks(&ld);
  if (ld.diags.n == 0)
    check_outputs(&ld);
  if (ld.diags.n == 0 && ld.ncli_vars > 0) {
    code = unused_cli_var(&ld, owned[1], err);
    if (code != CORUN_OK)
      goto fail;
  }

diags:
  if (ld.p.failed)
    corun__diag_add(&ld.diags, ld.p.err_off, -1, "%s", ld.p.err_msg);
  if (ld.diags.n > 0) {
    if (diagbuf)
      render(&ld, display, diagbuf);
    code = corun_failf(err, CORUN_EINVAL, "%zu error%s in %s", ld.diags.n,
                       ld.diags.n == 1 ? "" : "s", display);
  }
fail:
  for (i = 0; i < job->ntasks && ld.recs; i++) {
    struct after_list *al = ld.recs[i].after;
    uint32_t j;

    if (al == NULL)
      continue;
    for (j = 0; j < al->n; j++)
      free(al->ids[j]);
    free(al->ids);
    free(al->offs);
    free(al);
  }
  free(ld.recs);
  free(ld.tlimits);
  corun__prechecks_free(&ld.pre);
  written_free(&ld);
  for (i = 0; i < ld.nbad_ids; i++)
    free(ld.bad_ids[i].id);
  free(ld.bad_ids);
  for (i = 0; i < ld.ncli_vars; i++)
    free(ld.cli_vars[i].name);
  free(ld.cli_vars);
  for (i = 0; i < ld.nrefs; i++)
    free(ld.refs[i]);
  for (i = 0; i < 5; i++)
    cJSON_Delete(owned[i]);
  corun__diags_free(&ld.diags);
  corun_json_free(&ld.p);
  if (code != CORUN_OK) {
    corun_job_free(job);
    return code;
  }
  /* Ids are looked up only while loading; the run holds pointers. */
  corun_strmap_free(&job->ids);
  *out = job;
  return CORUN_OK;
}

/*
 * Wait until fd has input, or *stop is set (then 0). Checked a few times a
 * second, since a signal that came just before read() would not interrupt
 * it, and a pipe may stay silent for ever.
 */
static int ready_or_stopped(int fd, const volatile sig_atomic_t *stop)
{
  struct pollfd p = {.fd = fd, .events = POLLIN};

  while (!*stop) {
    int r = poll(&p, 1, 100);

    /* Input, end of file, or an error that read() will report. */
    if (r > 0 || (r < 0 && errno != EINTR))
      return 1;
  }
  return 0;
}

static enum corun_code read_all(int fd, const char *display,
                                const struct corun_load_opts *opts, char **out,
                                size_t *len, struct corun_error *err)
{
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  struct stat st;
  /* Only input that can keep one waiting: a regular file always ends. */
  int stoppable = opts && opts->stop && fstat(fd, &st) == 0 &&
                  !S_ISREG(st.st_mode);

  if (buf == NULL)
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  for (;;) {
    ssize_t r;

    if (n == cap) {
      char *nb;

      if (cap > MAX_FILE_BYTES) {
        free(buf);
        return corun_failf(err, CORUN_EINVAL,
                           "%s: error: file too large (over 1 GiB)", display);
      }
      nb = realloc(buf, cap * 2);
      if (nb == NULL) {
        free(buf);
        return corun_failf(err, CORUN_ENOMEM, "out of memory");
      }
      buf = nb;
      cap *= 2;
    }
    if (stoppable && !ready_or_stopped(fd, opts->stop)) {
      errno = EINTR;
      r = -1;
    } else {
      r = read(fd, buf + n, cap - n);
    }
    if (r == 0)
      break;
    if (r < 0) {
      if (errno == EINTR && !(stoppable && *opts->stop))
        continue;
      corun_failf(err, CORUN_EIO, "%s: error: cannot read: %s", display,
                  strerror(errno));
      free(buf);
      return CORUN_EIO;
    }
    n += (size_t)r;
  }
  *out = buf;
  *len = n;
  return CORUN_OK;
}

enum corun_code corun_job_load(struct corun_job **out, const char *path,
                               const struct corun_load_opts *opts,
                               struct corun_buf *diagbuf,
                               struct corun_error *err)
{
  enum corun_code code;
  char *text = NULL, *dir = NULL, *slash;
  void *mapped = NULL;
  size_t len = 0;
  struct stat st;
  int fd;

  *out = NULL;
  if (strcmp(path, "-") == 0) {
    code = read_all(STDIN_FILENO, "<stdin>", opts, &text, &len, err);
    if (code != CORUN_OK)
      return code;
    code = load_text(out, text, len, "<stdin>", ".", opts, CORUN_STDIN_JOB,
                     NULL, diagbuf, err);
    free(text);
    return code;
  }
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return corun_failf(err, CORUN_EIO, "%s: error: cannot open: %s", path,
                       strerror(errno));
  /* A regular file is mapped, not copied: a big job is read only once. */
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
      (size_t)st.st_size <= MAX_FILE_BYTES) {
    mapped = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapped != MAP_FAILED) {
      text = mapped;
      len = (size_t)st.st_size;
      code = CORUN_OK;
    } else {
      mapped = NULL;
    }
  }
  if (mapped == NULL)
    code = read_all(fd, path, opts, &text, &len, err);
  close(fd);
  if (code != CORUN_OK)
    return code;
  dir = strdup(path);
  if (dir == NULL) {
    if (mapped)
      munmap(mapped, len);
    else
      free(text);
    return corun_failf(err, CORUN_ENOMEM, "out of memory");
  }
  slash = strrchr(dir, '/');
  if (slash == NULL)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  code = load_text(out, text, len, path, dir, opts, CORUN_STDIN_FREE, path,
                   diagbuf, err);
  if (mapped)
    munmap(mapped, len);
  else
    free(text);
  free(dir);
  return code;
}
