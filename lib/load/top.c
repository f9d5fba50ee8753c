/* SPDX-License-Identifier: MIT */
/*
 * The top-level fields: read first, since vars, defaults and limits must
 * be known before any task; "tasks" is only found here, and read later.
 */
#include <stdlib.h>
#include <string.h>

#include "load/loader.h"
#include "util/duration.h"
#include "core/common.h"
#include "util/suggest.h"

/* The job's own; kinds bring more (corun_kind.settings). "tasks" last. */
static const char *const top_fields[] = {
    "corun",       "name",    "vars", "defaults", "limits",
    "concurrency", "$schema", "tasks", NULL};
#define NTOP (sizeof(top_fields) / sizeof(top_fields[0]) - 1)

/*
 * Every top-level field name, for "did you mean": the job's, the kinds'
 * before "tasks". cands holds max + 1.
 */
static size_t top_field_names(const char **cands, size_t max)
{
  const struct corun_job_setting *s;
  size_t n = 0, i;

  for (i = 0; i + 1 < NTOP && n < max; i++)
    cands[n++] = top_fields[i];
  for (i = 0; (s = corun__kind_setting_at(i)) != NULL && n < max; i++)
    cands[n++] = s->name;
  if (n < max)
    cands[n++] = top_fields[NTOP - 1];
  cands[n] = NULL;
  return n;
}

/* A kind's top-level field: a positive integer kept in the job. */
static void read_setting(struct loader *ld, const struct corun_job_setting *s,
                         const cJSON *v)
{
  long long c;

  if (!corun__json_int(v, 1, s->max, &c))
    corun__load_diag(ld, corun__load_where(ld, v), -1,
                     "\"%s\" must be a positive integer (at most %u)", s->name,
                     s->max);
  else
    *(unsigned *)((char *)ld->job + s->off) = (unsigned)c;
}

static void read_vars(struct loader *ld, cJSON *v)
{
  cJSON *it;

  if (!cJSON_IsObject(v)) {
    corun__load_diag(ld, corun__load_where(ld, v), -1,
                     "\"vars\" must be an object of strings, not %s",
                     corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next)
    if (!cJSON_IsString(it))
      corun__load_diag(ld, corun__load_where(ld, it), -1,
                       "\"vars\": \"%s\" must be a string, not %s", it->string,
                       corun__json_type(it));
    else if (*it->string == '\0')
      corun__load_diag(ld, corun__load_where(ld, it), -1,
                       "\"vars\": a variable needs a name (\"${}\" names "
                       "none)");
  ld->vars = v;
}

void corun__load_read_limit(struct loader *ld, cJSON *v)
{
  struct corun_job *job = ld->job;
  struct corun_sem *s, **nl;
  long long n;

  if (*v->string == '\0') {
    corun__load_diag(ld, corun__load_where(ld, v), -1,
                     "\"limits\": a limit needs a name (a task names it in "
                     "\"limit\")");
    return;
  }
  s = calloc(1, sizeof(*s));
  nl = realloc(job->limits, (job->nlimits + 1) * sizeof(*nl));
  if (s == NULL || nl == NULL || (s->name = strdup(v->string)) == NULL) {
    free(s);
    if (nl)
      job->limits = nl;
    corun__load_diag(ld, corun__load_where(ld, v), -1, "out of memory");
    return;
  }
  job->limits = nl;
  job->limits[job->nlimits++] = s;
  s->hold_flag = CORUN_TF_HOLD_LIMIT;
  if (cJSON_IsNumber(v)) {
    if (!corun__json_int(v, 1, 1000000, &n))
      corun__load_diag(
          ld, corun__load_where(ld, v), -1,
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
          corun__load_diag(
              ld, corun__load_where(ld, it), -1,
              "\"limits\": \"%s\": \"concurrency\" must be a positive "
              "integer (at most 1000000)",
              v->string);
        else
          s->cap = (uint32_t)n;
      } else if (strcmp(it->string, "rate") == 0) {
        seen = 1;
        if (!cJSON_IsString(it) ||
            corun_rate_parse(it->valuestring, &per_s, &why) < 0)
          corun__load_diag(
              ld, corun__load_where(ld, it), -1,
              "\"limits\": \"%s\": \"rate\" %s", v->string,
              cJSON_IsString(it) ? why : "must be a string like \"20/s\"");
        else if (1.0 / per_s > 1e9)
          corun__load_diag(
              ld, corun__load_where(ld, it), -1,
              "\"limits\": \"%s\": \"rate\" is too slow (at least one "
              "start per 1e9 seconds)",
              v->string);
        else
          s->rate.interval_ms = 1000.0 / per_s;
      } else {
        static const char *const keys[] = {"concurrency", "rate", NULL};
        char hint[CORUN_HINT_MAX];

        corun__load_diag(
            ld,
            corun__load_where(ld, it) ? corun__load_where(ld, it)
                                      : corun__load_where(ld, v),
            -1, "\"limits\": \"%s\": unknown field \"%s\"%s", v->string,
            it->string,
            corun_did_you_mean(hint, it->string, keys, (size_t)-1, NULL));
      }
    }
    if (!seen)
      corun__load_diag(
          ld, corun__load_where(ld, v), -1,
          "\"limits\": \"%s\" needs \"concurrency\", \"rate\" or both",
          v->string);
  } else {
    corun__load_diag(
        ld, corun__load_where(ld, v), -1,
        "\"limits\": \"%s\" must be a positive integer or an object, not %s",
        v->string, corun__json_type(v));
  }
}

static void read_defaults(struct loader *ld, cJSON *v)
{
  cJSON *it;

  if (!cJSON_IsObject(v)) {
    corun__load_diag(ld, corun__load_where(ld, v), -1,
                     "\"defaults\" must be an object, not %s",
                     corun__json_type(v));
    return;
  }
  for (it = v->child; it; it = it->next) {
    if (corun__common_per_task(it->string)) {
      corun__load_diag(
          ld, corun__load_where(ld, it), -1,
          "\"defaults\": \"%s\" cannot have a default (it is per task)",
          it->string);
      continue;
    }
    if (!corun__load_is_field(it->string)) {
      const char *cands[CORUN_FIELDS_MAX * 2 + 1];
      size_t n = corun__load_all_field_names(cands, CORUN_FIELDS_MAX * 2);
      char hint[CORUN_HINT_MAX];

      corun__load_diag(ld, corun__load_where(ld, it), -1,
                       "\"defaults\": unknown field \"%s\"%s", it->string,
                       corun_did_you_mean(hint, it->string, cands, n, NULL));
    }
  }
  ld->defaults = v;
}

/*
 * A bad default is an error in the file whether or not a task takes it:
 * run every kind's parse over the defaults alone and keep what it says
 * about them (not the "missing field" noise of an empty task).
 */
void corun__load_check_defaults(struct loader *ld)
{
  struct corun_diags scratch = {0};
  const struct corun_kind *k;
  struct corun_fields f;
  struct corun_common common;
  struct corun_task *t;
  size_t i;

  memset(&f, 0, sizeof(f));
  f.defaults = ld->defaults;
  f.json = &ld->p;
  f.diags = &scratch;
  /* Paths in defaults resolve as they will in the tasks. */
  f.dir = ld->job->dir;
  f.root = ld->job->root;
  f.task = -1;
  f.has_tasks = 1;
  f.obj = cJSON_CreateObject();
  if (f.obj == NULL)
    return;
  /* What "defaults" may hold of the fields every task has. */
  corun__common_read(NULL, &f,
                     CORUN_COMMON_TIMEOUT | CORUN_COMMON_SHIELD |
                         CORUN_COMMON_LIMIT,
                     &common);
  if (common.limit)
    corun__load_resolve_limit(ld, &f, common.limit);
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
      corun__diag_add(&ld->diags, scratch.v[i].off, -1, "%s", scratch.v[i].msg);
  corun__diags_free(&scratch);
  cJSON_Delete(f.obj);
}

/*
 * corun_json_skip(), but a plain sleep (corun__load_plain_sleep_end()) and
 * an object written as the last one with a URL but for its URL (alike.c)
 * are stepped over in one go: a big job's tasks are mostly those, and this
 * pass only looks for what comes after them. Anything else is walked as
 * corun_json_skip() does, so the same errors come at the same places.
 * The mapped text behind is given back as it goes.
 */
static int skip_value(struct loader *ld)
{
  struct corun_json *p = &ld->p;
  int c = corun_json_peek(p), n = 0, r;
  const char *key;
  size_t key_off, end, u0 = 0, u1;
  double secs;

  if (c == '{' && corun__load_plain_fetches &&
      (end = corun__alike_end(&ld->skip_like, p->text, p->len, p->pos,
                              p->depth, &u0, &u1))) {
    p->pos = end;
    return 0;
  }
  if (c == '{' && corun__load_plain_sleeps &&
      p->depth < CORUN_JSON_MAX_DEPTH &&
      (end = corun__load_plain_sleep_end(p->text, p->len, p->pos, &secs))) {
    p->pos = end;
    return 0;
  }
  if (c == '{') {
    size_t off = p->pos;

    u1 = 0;
    if (corun_json_object_begin(p) < 0)
      return -1;
    while ((r = corun_json_object_next(p, &n, &key, &key_off)) > 0) {
      int url = strcmp(key, "url") == 0;

      if (url)
        u0 = corun_json_offset(p);
      if (skip_value(ld) < 0)
        return -1;
      if (url)
        u1 = p->pos;
    }
    /* An object with a URL: the ones like it are skipped by comparing. */
    if (r == 0 && u1)
      corun__alike_keep(&ld->skip_like, p->text, off, u0, u1, p->pos,
                        p->depth);
    return r;
  }
  if (c == '[') {
    if (corun_json_array_begin(p) < 0)
      return -1;
    while ((r = corun_json_array_next(p, &n)) > 0) {
      if (skip_value(ld) < 0)
        return -1;
      corun__load_give_back(ld, p->pos);
    }
    return r;
  }
  return corun_json_skip(p);
}

/*
 * Over "tasks": they are read again from their start once the top level
 * is known.
 */
static int skip_tasks(struct loader *ld)
{
  int r = skip_value(ld);

  ld->dropped = ld->tasks_off;
  return r;
}

/* The end of t[from..e) once JSON white space is cut off it. */
static size_t trim_end(const char *t, size_t from, size_t e)
{
  while (e > from && (t[e - 1] == ' ' || t[e - 1] == '\n' ||
                      t[e - 1] == '\t' || t[e - 1] == '\r'))
    e--;
  return e;
}

/*
 * Where the tasks end if "tasks" is the last member of the top level, as
 * a generated job file has it: the ']' before the closing '}' at the end
 * of the file. Then the first pass need not go over them at all: for a
 * file of many small tasks that pass was a fifth of loading it. Only a
 * guess: the second pass reads the tasks through, and if they end
 * anywhere else, or the file has any error, it is read again the long
 * way (corun__load_text()), so every answer and error is as before. 0: no
 * guess (not an array, or something other than "]}" ends the file).
 */
static size_t tasks_end_guess(const struct loader *ld)
{
  const char *t = ld->p.text;
  size_t from = ld->tasks_off, e = ld->p.len;

  if (ld->no_guess || from >= e || t[from] != '[')
    return 0;
  e = trim_end(t, from, e);
  if (e <= from || t[--e] != '}')
    return 0;
  e = trim_end(t, from, e);
  if (e <= from + 1 || t[e - 1] != ']')
    return 0;
  return e;
}

/*
 * First pass over the top-level object: everything but "tasks", whose
 * place is remembered for the second pass.
 */
int corun__load_read_top(struct loader *ld, cJSON **owned)
{
  struct corun_json *p = &ld->p;
  struct corun_job *job = ld->job;
  int n = 0, r;
  const char *k;
  size_t key_off;
  uint64_t seen = 0;

  if (corun_json_peek(p) == 0 && !p->failed) {
    return corun_json_fail(p, 0, "empty file: expected a JSON object");
  }
  if (corun_json_peek(p) != '{' && !p->failed) {
    corun__load_reject_value(ld, -1, "a job file must be a JSON object");
    return -1;
  }
  if (corun_json_object_begin(p) < 0)
    return -1;
  while ((r = corun_json_object_next(p, &n, &k, &key_off)) > 0) {
    const struct corun_job_setting *set = NULL;
    size_t i, si = 0;
    uint64_t bit = 0;
    cJSON *v = NULL;
    /* Reading the value reuses the parser's key buffer: keep a copy. */
    char *key = strdup(k);

    if (key == NULL)
      return corun_json_fail(p, key_off, "out of memory");
    for (i = 0; top_fields[i]; i++)
      if (strcmp(key, top_fields[i]) == 0)
        break;
    if (top_fields[i])
      bit = (uint64_t)1 << i;
    else if ((set = corun__kind_setting(key, &si)) != NULL && NTOP + si < 64)
      bit = (uint64_t)1 << (NTOP + si);
    if (seen & bit) {
      corun__load_diag(ld, key_off, -1, "duplicate key \"%s\"", key);
      free(key);
      if (corun_json_skip(p) < 0)
        return -1;
      continue;
    }
    seen |= bit;
    if (top_fields[i] && strcmp(key, "tasks") == 0) {
      ld->has_tasks = 1;
      ld->tasks_off = corun_json_offset(p);
      free(key);
      if ((ld->tasks_end = tasks_end_guess(ld)) != 0) {
        p->pos = ld->tasks_end;
        ld->dropped = ld->tasks_off;
        continue;
      }
      if (skip_tasks(ld) < 0)
        return -1;
      continue;
    }
    if (corun_json_value(p, &v) < 0) {
      free(key);
      return -1;
    }
    if (set) {
      read_setting(ld, set, v);
      cJSON_Delete(v);
    } else if (top_fields[i] == NULL) {
      const char *cands[NTOP + 32 + 1];
      size_t nc = top_field_names(cands, NTOP + 32);

      corun__load_unknown_field(ld, key_off, -1, "", key, cands, nc);
      cJSON_Delete(v);
    } else if (strcmp(key, "corun") == 0) {
      long long ver;

      if (!corun__json_int(v, 1, 1, &ver)) {
        if (cJSON_IsNumber(v))
          corun__load_diag(
              ld, corun__load_where(ld, v), -1,
              "unsupported format version %.15g (\"corun\" must be 1)",
              v->valuedouble);
        else
          corun__load_diag(ld, corun__load_where(ld, v), -1,
                           "\"corun\" must be the format version 1, not %s",
                           corun__json_type(v));
      }
      cJSON_Delete(v);
    } else if (strcmp(key, "$schema") == 0) {
      /* How editors find the schema: corun has no use for it. */
      if (!cJSON_IsString(v))
        corun__load_diag(ld, corun__load_where(ld, v), -1,
                         "\"$schema\" must be a string (the schema's URL or "
                         "path, for editors), not %s",
                         corun__json_type(v));
      cJSON_Delete(v);
    } else if (strcmp(key, "name") == 0) {
      if (!cJSON_IsString(v))
        corun__load_diag(ld, corun__load_where(ld, v), -1,
                         "\"name\" must be a string, not %s",
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
    } else if (strcmp(key, "concurrency") == 0) {
      long long c;

      if (!corun__json_int(v, 1, 1000000, &c))
        corun__load_diag(
            ld, corun__load_where(ld, v), -1,
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

/* Apply --var name=value over the file's vars. */
static int cli_var_known(const struct loader *ld, const char *name)
{
  size_t i;

  for (i = 0; i < ld->ncli_vars; i++)
    if (strcmp(ld->cli_vars[i].name, name) == 0)
      return 1;
  return 0;
}

/* Whether a later --var sets the name --var i sets: the last one wins. */
static int set_again(const struct corun_load_opts *opts, size_t i)
{
  size_t n = (size_t)(strchr(opts->vars[i], '=') - opts->vars[i]), j;

  for (j = i + 1; j < opts->nvars; j++)
    if (strncmp(opts->vars[j], opts->vars[i], n + 1) == 0)
      return 1;
  return 0;
}

int corun__load_apply_vars(struct loader *ld,
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
      return corun_failf(err, CORUN_EUSAGE, "--var '%s': expected NAME=VALUE",
                         opts->vars[i]);
    if (ld->vars == NULL) {
      ld->vars = cJSON_CreateObject();
      if (ld->vars == NULL)
        return corun_failf(err, CORUN_ENOMEM, "out of memory");
    }
    /*
     * A bad template in a value given here is the command line's mistake:
     * said as a usage error naming the --var, not at the file's 1:1.
     */
    if (corun_template_has(eq + 1) && !set_again(opts, i)) {
      struct corun_template_ctx only_env;
      struct corun_secrets none = {0};
      char *out = NULL, *why = NULL;
      int r;

      memset(&only_env, 0, sizeof(only_env));
      only_env.env_only = 1;
      only_env.secrets = &none;
      r = corun_template_expand(&only_env, eq + 1, &out, &why);
      free(out);
      corun_secrets_free(&none);
      if (r < 0) {
        enum corun_code c =
            why ? corun_failf(err, CORUN_EUSAGE, "--var '%s': %s",
                              opts->vars[i], why)
                : corun_failf(err, CORUN_ENOMEM, "out of memory");

        free(why);
        return c;
      }
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

/*
 * A --var the job never uses is a typo as much as a misspelt field: say so
 * (a usage error), with the nearest name the job defines or uses.
 */
enum corun_code corun__load_unused_var(struct loader *ld,
                                       const cJSON *file_vars,
                                       struct corun_error *err)
{
  const char *cands[64 + 64 + 1];
  const cJSON *it;
  char hint[CORUN_HINT_MAX];
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
  if (*corun_did_you_mean(hint, ld->cli_vars[i].name, cands, n, NULL))
    return corun_failf(err, CORUN_EUSAGE, "--var %s: the job has no variable %s%s",
                       ld->cli_vars[i].name, ld->cli_vars[i].name, hint);
  return corun_failf(err, CORUN_EUSAGE,
                     "--var %s: the job has no variable %s (it uses no "
                     "${%s} and its \"vars\" do not define it)",
                     ld->cli_vars[i].name, ld->cli_vars[i].name,
                     ld->cli_vars[i].name);
}
