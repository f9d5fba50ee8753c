/* SPDX-License-Identifier: MIT */
/*
 * Inside the loader: the state one load carries from the first byte of
 * the file to the finished job, and the steps that share it, one file
 * each:
 *
 *   job.c        the order of the steps; the job's life
 *   file.c       reading the file (or standard input)
 *   top.c        the top-level fields: vars, limits, defaults, --var
 *   expand.c     ${...} in values, before anything reads them
 *   tasks.c      reading tasks one at a time, and the fields all share
 *   templates.c  task templates (a pipeline stage's "task")
 *   check.c      checks over the whole tree: ids, "after", cycles
 *   prechecks.c  checks on disk before the run: files, programs, outputs
 *   diag.c       collecting diagnostics and rendering them
 *
 * Nothing here is part of the library's interface.
 */
#ifndef CORUN_LOADER_H
#define CORUN_LOADER_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/fields.h"
#include "core/kind.h"
#include "core/task.h"
#include "corun.h"
#include "load/jobfile.h"
#include "sched/sem.h"
#include "util/buf.h"
#include "util/hash.h"
#include "json/json.h"
#include "json/template.h"

#define MAX_FILE_BYTES CORUN_JSON_MAX_BYTES
#define MAX_TASKS 50000000UL

struct after_list {
  uint32_t n;
  uint8_t run_if; /* enum corun_run_if */
  char **ids;
  uint32_t *offs;
};

/*
 * Load-time facts that only some tasks have, and the run does not need.
 * Kept apart from the per-task arrays: of a million tasks most have none.
 */
struct ldrec {
  uint32_t task;      /* its index */
  uint32_t id_off;    /* 0: generated id */
  uint32_t limit_off; /* where its "limit" stands, if it has one */
  struct after_list *after;
};

/*
 * The text of a task object with its URL's value cut out (alike.c): pre
 * bytes before it, then suf after; pre 0 when none is kept. task: what the
 * general way made of it, in the pass that reads tasks.
 */
struct corun__alike {
  char *text;
  size_t pre, suf;
  int depth;
  struct corun_task *task;
};

struct loader {
  struct corun_json p;
  struct corun_diags diags;
  struct corun_job *job;
  cJSON *vars;
  cJSON *defaults;
  struct corun_template_ctx tctx; /* top-level fields: no captures */
  struct corun_template_ctx kctx; /* tasks' fields: captures kept */
  struct corun_template_ctx cctx; /* kctx for a task parsed again at start */
  struct corun_template_ctx dctx; /* kctx keeping item names for the run */
  /* The defaults as cctx expands them, for tasks parsed again at start. */
  cJSON *defaults_again;
  int defaults_capture; /* 0 unknown, 1 they use no capture, 2 they do */
  struct corun_fields_memo memo; /* kinds' slot (core/fields.h) */
  /* Every ${ID.NAME} a task uses, checked once ids and "after" are known. */
  struct capref {
    long task;
    size_t off;
    char *name;
  } *caprefs;
  size_t ncaprefs;
  size_t capcaprefs;
  uint32_t *obj_offs; /* by task: where its object begins */
  /* By task once all are read (corun__load_sort_recs()), as made before. */
  struct ldrec *recs;
  size_t nrecs;
  size_t caprecs;
  size_t cap; /* of obj_offs and job->tasks */
  /*
   * Parents whose children are the tasks right after them, none with
   * children of its own (a gather of a million sleeps): their children
   * array is that run of job->tasks, set once it stops moving.
   */
  struct shared_children {
    uint32_t task;
    uint32_t first;
  } *shared;
  size_t nshared;
  size_t capshared;
  int has_tasks;
  int may_split; /* a task's kind may split it among shards (kind.splits) */
  size_t tasks_off;
  /*
   * Where "tasks" was taken to end without the pass over it (0: it was
   * passed over): see tasks_end_guess() in top.c. guess_wrong: reading
   * the tasks showed otherwise, and the file is read again without it.
   */
  size_t tasks_end;
  int no_guess;
  int guess_wrong;
  unsigned suggested;          /* "did you mean" searches over all ids so far */
  int stdin_use;               /* CORUN_STDIN_*: who reads standard input */
  struct corun_prechecks pre;  /* files, directories, programs to look at */
  struct corun_strmap written; /* what tasks write (prechecks.c) */
  struct corun_strmap written_dirs; /* the directories above those */
  struct corun_strmap programs;     /* on_path() answers, by name */
  const char *job_path;             /* the job file, when it is one */
  /*
   * The text is a read-only private mapping of the job file: pages the
   * task reader has passed may be given back (they read again from the
   * file if a message needs them), so a big job's text is not resident
   * beside its tasks. dropped: up to where they were.
   */
  int text_mapped;
  size_t dropped;
  size_t page; /* the page size, once asked */
  const struct corun_load_opts *opts;
  struct corun__alike skip_like; /* the pass over the top level's */
  struct corun__alike task_like; /* the task pass's: fetches (tasks.c) */
  int plain_fetch_first; /* the last plain task read was a fetch */
  /* Limits of template tasks, checked against the task holding them. */
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

/* Offsets into the file: where some values stand. */
struct offsets {
  size_t *v;
  size_t n;
  size_t cap;
};

static inline void corun__offsets_add(struct offsets *o, size_t off)
{
  if (o->n == o->cap) {
    size_t ncap = o->cap ? o->cap * 2 : 8;
    size_t *nv = realloc(o->v, ncap * sizeof(*nv));

    if (nv == NULL)
      return;
    o->v = nv;
    o->cap = ncap;
  }
  o->v[o->n++] = off;
}

/* Where v stands in the file, for messages. */
static inline size_t corun__load_where(struct loader *ld, const cJSON *v)
{
  return corun_json_where(&ld->p, v);
}

/*
 * Task idx's load-time facts, all zero when it has none; once the tasks
 * are read and corun__load_sort_recs() has run.
 */
static inline const struct ldrec *corun__load_rec(const struct loader *ld,
                                                  size_t idx)
{
  static const struct ldrec none;
  size_t lo = 0, hi = ld->nrecs;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (ld->recs[mid].task < idx)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < ld->nrecs && ld->recs[lo].task == idx ? &ld->recs[lo] : &none;
}

/*
 * Give back the pages of the mapped text before off, once they come to a
 * few MiB (see text_mapped); nothing for text that is not mapped.
 */
void corun__load_give_back(struct loader *ld, size_t off);

/* diag.c */
void corun__load_diag(struct loader *ld, size_t off, long task, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
int corun__load_reject_value(struct loader *ld, long task, const char *what);
const char *corun__load_unknown_field(struct loader *ld, size_t off, long task,
                                      const char *what, const char *key,
                                      const char *const *cands, size_t n);
void corun__load_typo_of(struct loader *ld, struct corun_fields *f, size_t mark,
                         long idx, const char *hint);
void corun__load_keep_bad_id(struct loader *ld, long idx, const char *id);
void corun__load_render(struct loader *ld, const char *display,
                        struct corun_buf *out);

/* expand.c */
void corun__load_expand_tree(struct loader *ld, cJSON *v, const char *field,
                             long task, const struct corun_template_ctx *ctx,
                             const char *section);
void corun__load_expand_task(struct loader *ld, cJSON *obj, long task,
                             const struct corun_template_ctx *ctx);

/* top.c */
int corun__load_read_top(struct loader *ld, cJSON **owned);
void corun__load_read_limit(struct loader *ld, cJSON *v);
void corun__load_check_defaults(struct loader *ld);
int corun__load_apply_vars(struct loader *ld,
                           const struct corun_load_opts *opts,
                           struct corun_error *err);
enum corun_code corun__load_unused_var(struct loader *ld,
                                       const cJSON *file_vars,
                                       struct corun_error *err);

/* tasks.c */
/* Task idx's facts to fill in (made on first use), or NULL if out of memory. */
struct ldrec *corun__load_rec_add(struct loader *ld, long idx);
/* Put the facts in task order, for corun__load_rec(). */
void corun__load_sort_recs(struct loader *ld);
/* Whether some task may have field name (a common field or a kind's). */
int corun__load_is_field(const char *name);
size_t corun__load_all_field_names(const char **cands, size_t max);
/* Whether default d applies to task obj of kind k (obj does not set it). */
int corun__load_default_applies(const cJSON *obj, const cJSON *d,
                                const struct corun_kind *k);
struct corun_sem *corun__load_resolve_limit(struct loader *ld,
                                            struct corun_fields *f,
                                            const cJSON *v);
const struct corun_kind *
corun__load_read_kind(struct loader *ld, struct corun_fields *f, long idx);
void corun__load_check_unknown(struct loader *ld, struct corun_fields *f,
                               const struct corun_kind *k, long idx,
                               size_t mark);
void corun__load_check_unknown_any(struct loader *ld, struct corun_fields *f,
                                   long idx, size_t mark);
int corun__load_read_tasks(struct loader *ld);
/*
 * Whether plain sleeps are read straight from the text (1, the default)
 * or the general way: tests compare the two.
 */
extern int corun__load_plain_sleeps;
/*
 * The same for plain fetches ({"kind": "fetch", "url": ...}) and fetches
 * written as the one before but for the URL (alike.c).
 */
extern int corun__load_plain_fetches;
/* How many fetches were read as written alike, since the process began. */
extern size_t corun__load_alike_fetches;
/*
 * Whether the text at i is a plain sleep, {"kind": "sleep", "seconds": N}
 * with N whole (valid JSON and a valid task, nothing more): then where it
 * ends, *secs its seconds; else 0.
 */
size_t corun__load_plain_sleep_end(const char *t, size_t len, size_t i,
                                   double *secs);
/*
 * If the text at i is a string of printable ASCII without an escape or a
 * "$" (read as written, expanding nothing): the offset past it; else 0.
 */
size_t corun__load_plain_string_end(const char *t, size_t len, size_t i);
/*
 * Keep the object at off..end, at nesting depth, whose "url" value is at
 * u0..u1, for corun__alike_end(); one that could not match (too long, a
 * "$" or an escape in it, a URL not plain) leaves a as it was.
 */
void corun__alike_keep(struct corun__alike *a, const char *t, size_t off,
                       size_t u0, size_t u1, size_t end, int depth);
/*
 * Whether the text at at is the kept object's with a plain URL of its own
 * (at u0..u1, quotes included): then the offset past it, else 0.
 */
size_t corun__alike_end(const struct corun__alike *a, const char *t,
                        size_t len, size_t at, int depth, size_t *u0,
                        size_t *u1);
void corun__alike_free(struct corun__alike *a);
/* Point the parents in ld->shared at their children in job->tasks. */
void corun__load_share_children(struct loader *ld);
/*
 * Whether t's children array is a run of job->tasks (not its own). Ranges
 * compared as addresses: the array may be any task's.
 */
static inline int corun__job_children_shared(const struct corun_job *job,
                                             const struct corun_task *t)
{
  uintptr_t c = (uintptr_t)t->children, b = (uintptr_t)job->tasks;

  return t->children && c >= b &&
         c < b + job->ntasks * sizeof(*job->tasks);
}
/* Give every task sharing job->tasks a copy of its own: 0, or -1 (oom). */
int corun__job_own_children(struct corun_job *job);

/* templates.c */
struct corun_task *corun__load_template(struct corun_fields *pf, cJSON *obj,
                                        const char *label);

/* check.c */
int corun__load_assign_ids(struct loader *ld);
void corun__load_check_ids(struct loader *ld);
void corun__load_check_nested_limits(struct loader *ld);
void corun__load_resolve_after(struct loader *ld);
void corun__load_check_cycles(struct loader *ld);
void corun__load_check_captures(struct loader *ld);

/* prechecks.c */
void corun__load_run_prechecks(struct loader *ld);
void corun__load_check_outputs(struct loader *ld);
void corun__load_prechecks_free(struct loader *ld);

/* job.c */
enum corun_code corun__load_text(
    struct corun_job **out, const char *text, size_t len, const char *display,
    const char *dir, const struct corun_load_opts *opts, int stdin_use,
    const char *job_path, int text_mapped, struct corun_buf *diagbuf,
    struct corun_error *err);

#endif
