/* SPDX-License-Identifier: MIT */
/*
 * The fields every task has, whatever its kind: "id", "kind", "after",
 * "run_if", "timeout", "limit", "shield", "name". One reader for all the
 * places that meet them: a task of the job, a task template, the job's
 * "defaults" on their own, and a template's task made for an item at run
 * time.
 */
#ifndef CORUN_COMMON_H
#define CORUN_COMMON_H

#include <cjson/cJSON.h>

#include "core/fields.h"
#include "core/job.h"
#include "core/task.h"

/* Their names, NULL-terminated. */
extern const char *const corun__common_fields[];
/* The values of "run_if", in enum corun_run_if's order, NULL-terminated. */
extern const char *const corun__run_if_names[];

/*
 * Whether field name gives a task its shape (its kind, its children, its
 * place among the others, its limit): a template cannot take it from the
 * item. Kinds add their own (corun_kind.shape_fields).
 */
int corun__common_shapes(const char *name);
/* Whether field name is per task: it cannot have a default. */
int corun__common_per_task(const char *name);

/* What corun__common_read() reads. */
enum {
  CORUN_COMMON_ID = 1 << 0,
  CORUN_COMMON_AFTER = 1 << 1,
  CORUN_COMMON_TIMEOUT = 1 << 2,
  CORUN_COMMON_SHIELD = 1 << 3,
  CORUN_COMMON_LIMIT = 1 << 4,
  CORUN_COMMON_RUN_IF = 1 << 5,
  CORUN_COMMON_NAME = 1 << 6,
  CORUN_COMMON_ALL = (1 << 7) - 1,
  /*
   * The task is a template's, made anew per item: "id", "after", "run_if"
   * and "shield" cannot be set on it, and its "limit" cannot name the item.
   */
  CORUN_COMMON_TEMPLATE = 1 << 8
};

/* What only the loader can resolve: ids and limits are the job's. */
struct corun_common {
  const cJSON *id;    /* a valid "id", or NULL */
  const char *bad_id; /* an "id" string that is not valid, or NULL */
  const cJSON *after; /* a non-empty array of strings, or NULL */
  const cJSON *limit; /* the "limit" that applies, still to look up */
  enum corun_run_if run_if; /* ALL_OK unless "run_if" (with "after") says */
  const cJSON *name;        /* a non-empty "name" string, or NULL */
};

/*
 * Read the common fields in which (CORUN_COMMON_*) from f. "timeout" and
 * "shield" are set on t (which may be NULL: only check them); the rest is
 * checked and left in *out (may be NULL without ID, AFTER, RUN_IF and
 * LIMIT).
 * Errors go to f's diagnostics.
 */
void corun__common_read(struct corun_task *t, struct corun_fields *f,
                        unsigned which, struct corun_common *out);

/* Put the job's names in task order, once the loader has them all. */
void corun__job_sort_names(struct corun_job *job);
/*
 * What reports show for t: its "name", or its id when it has none (and
 * for a pipeline item's task, which is not the job's).
 */
const char *corun__task_name(const struct corun_job *job,
                             const struct corun_task *t);

#endif
