/* SPDX-License-Identifier: MIT */
/*
 * Reading a task's fields at load time, for the kinds' parse functions.
 *
 * Each getter returns 1 when the field is present and valid (out set), 0
 * when absent (out untouched) and -1 when invalid (an error naming the
 * task, the field and the value's line and column was recorded). A field
 * the task does not set comes from the job's "defaults" when it has it.
 * Every field a kind reads is marked used; the loader reports the rest as
 * unknown.
 */
#ifndef CORUN_FIELDS_H
#define CORUN_FIELDS_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "json/json.h"
#include "json/template.h"

struct corun_task;
struct corun_kind;

/* What a diagnostic says, for the loader to sort them without reading. */
enum corun_diag_what {
  CORUN_DIAG_OTHER,   /* about the task or the job as a whole */
  CORUN_DIAG_VALUE,   /* the task's field has a wrong value */
  CORUN_DIAG_MISSING, /* the task lacks a required field */
  CORUN_DIAG_DEFAULT  /* the field's value in "defaults" is wrong */
};

/* One diagnostic; rendered by the loader once task ids are known. */
struct corun_diag {
  size_t off;
  long task; /* index of the task it is about, or -1 */
  char *msg;
  enum corun_diag_what what;
  char *field; /* the field it is about, or NULL (CORUN_DIAG_OTHER) */
};

struct corun_diags {
  struct corun_diag *v;
  size_t n;
  size_t cap;
  size_t dropped; /* found past the first CORUN_DIAGS_MAX, not kept */
};

/* How many were found, kept or not: what "any new since" compares. */
static inline size_t corun__diags_count(const struct corun_diags *d)
{
  return d->n + d->dropped;
}

void corun__diag_add(struct corun_diags *d, size_t off, long task,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A diagnostic about field, saying what of it. */
void corun__diag_add_field(struct corun_diags *d, size_t off, long task,
                           enum corun_diag_what what, const char *field,
                           const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
void corun__diags_free(struct corun_diags *d);

#define CORUN_FIELDS_MAX 48

enum { CORUN_STDIN_FREE, CORUN_STDIN_JOB, CORUN_STDIN_LINES };

/*
 * What a task needs on disk before it runs, checked once the whole job is
 * loaded (whether another task could make it first is known only then),
 * and what it writes, which makes such a check moot.
 */
enum corun_pre_what {
  CORUN_PRE_FILE,    /* a file to read ("lines") */
  CORUN_PRE_DIR,     /* a directory to run in ("cwd") */
  CORUN_PRE_PROGRAM, /* argv[0]: on PATH, or with a slash a file */
  CORUN_PRE_OUTPUT   /* a file the task writes ("save", "results") */
};

struct corun_precheck {
  long task;
  size_t off;   /* where the value stands */
  char *field;  /* for the message */
  enum corun_pre_what what;
  char *path;   /* the resolved path, or the program name */
  char *search; /* PROGRAM: the task's own PATH, or NULL for corun's */
  char *cwd;    /* PROGRAM: where the program starts, for relative names */
};

struct corun_prechecks {
  struct corun_precheck *v;
  size_t n, cap;
  /*
   * Set by the job's first fetch: the loader loads libcurl once the tasks
   * are read, and if it cannot, says so at that task (libcurl_task,
   * libcurl_off).
   */
  int libcurl;
  long libcurl_task;
  size_t libcurl_off;
};

struct corun_fields;

/*
 * Note a check for the loader (field names the field, v its value for the
 * position). Nothing where f->pre is NULL: a stage's task is made per
 * item, when its fields are known.
 */
void corun_field_precheck(struct corun_fields *f, const char *field,
                          const cJSON *v, enum corun_pre_what what,
                          const char *path, const char *search,
                          const char *cwd);
void corun__prechecks_free(struct corun_prechecks *pc);

/* Set in a field's cJSON type once a kind or the loader has read it. */
#define CORUN_FIELD_USED (1 << 24)
/* Set when the value's template failed: its error is already reported. */
#define CORUN_FIELD_BAD (1 << 25)

struct corun_fields {
  cJSON *obj;            /* the task's own fields ("tasks" excluded) */
  const cJSON *defaults; /* the job's "defaults", or NULL */
  const struct corun_json *json;
  struct corun_diags *diags;
  long task;            /* index of the task, for messages */
  const struct corun_kind *kind; /* the task's kind, once known */
  size_t obj_off;       /* where the task's object begins */
  uint32_t nchildren;   /* elements of "tasks", when present */
  int has_tasks;        /* "tasks" was given */
  size_t tasks_off;
  const char *dir;  /* the job file's directory, for relative paths */
  const char *root; /* --root, resolved, or NULL */
  /*
   * Who reads corun's standard input (CORUN_STDIN_*), shared by the job's
   * tasks; NULL where no task may (a stage's task runs once per item).
   */
  int *stdin_use;
  struct corun_prechecks *pre; /* NULL: no checks before the run here */
  int failed;
  /*
   * Set by the loader for kinds that hold task templates (a pipeline
   * stage's "task"): validate obj, which the caller owns, as a task that
   * runs once per item, merge the job's defaults into it, and return its
   * prototype (a task of its own, freed with corun__task_free_parts() and
   * free()), or NULL after recording errors. label prefixes messages.
   */
  struct corun_task *(*load_template)(struct corun_fields *f, cJSON *obj,
                                      const char *label);
  void *loader;
  /*
   * One slot a kind may keep something in from one task's parse to the
   * next of the same load (fetch keeps its last "expect" and "capture",
   * which thousands of tasks often repeat), or NULL where there is none.
   * The loader frees what is left in it, with memo->free, when it is done.
   */
  struct corun_fields_memo *memo;
};

struct corun_fields_memo {
  const struct corun_kind *kind; /* whose data it is, or NULL */
  void *data;
  void (*free)(void *data);
};

/*
 * The data k keeps in f's memo: size bytes, zeroed when the slot has just
 * become k's (what another kind kept there is freed; free_fn will free
 * k's). NULL where there is no slot, or out of memory.
 */
void *corun_fields_memo(struct corun_fields *f, const struct corun_kind *k,
                        size_t size, void (*free_fn)(void *data));
/* Frees what m holds (the loader, at the end of a load). */
void corun_fields_memo_clear(struct corun_fields_memo *m);

/*
 * The field's value (the task's own or the default), or NULL. A value
 * whose template failed is returned too; getters then fail quietly.
 */
const cJSON *corun_field(struct corun_fields *f, const char *name);
/* Whether v, returned by corun_field(), came from the job's defaults. */
int corun_field_from_defaults(const struct corun_fields *f, const cJSON *v);
/* Record an error about field name whose value is v (may be NULL). */
void corun_field_fail(struct corun_fields *f, const char *name,
                      const cJSON *v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int corun_field_duration(struct corun_fields *f, const char *name,
                         double *out);
/*
 * A bound ("timeout", "attempt_timeout", ...): a duration that may not be
 * 0. what says what 0 would do, for the message ("end the task").
 */
int corun_field_timeout(struct corun_fields *f, const char *name,
                        const char *what, double *out);
/* A size in bytes: an integer, or a string like "10MB" or "64KiB". */
int corun_field_size(struct corun_fields *f, const char *name,
                     long long *out);
int corun_field_bool(struct corun_fields *f, const char *name, int *out);
/* *out is a malloc'd copy. */
int corun_field_string(struct corun_fields *f, const char *name, char **out);
/* An integer in [min, max]. */
int corun_field_int(struct corun_fields *f, const char *name, long long min,
                    long long max, long long *out);
/* One of choices (NULL-terminated); *out is its index. */
int corun_field_enum(struct corun_fields *f, const char *name,
                     const char *const *choices, int *out);
/*
 * A path: relative ones resolve against the job file's directory, and with
 * --root the result must lie inside the root after ".." and symbolic links
 * are resolved. *out is malloc'd (the path to use, not the resolved one).
 */
int corun_field_path(struct corun_fields *f, const char *name, char **out);
/* Any JSON value; *out is a deep copy. */
int corun_field_json(struct corun_fields *f, const char *name, cJSON **out);
/* Record an error about the task as a whole (at its object). */
void corun_field_fail_task(struct corun_fields *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Record that a required field is missing. */
void corun_field_missing(struct corun_fields *f, const char *name);

/* Whether v holds an integer value exactly, within [min, max]. */
int corun__json_int(const cJSON *v, long long min, long long max,
                    long long *out);
/* The name of v's JSON type, for messages. */
const char *corun__json_type(const cJSON *v);

#endif
