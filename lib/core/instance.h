/* SPDX-License-Identifier: MIT */
/*
 * Tasks made while the job runs, from a template validated at load time:
 * a pipeline stage's task, once per item.
 *
 * A template whose strings hold no "${" is the same task for every item:
 * its prototype, parsed once, is copied (the kind's clone()). Otherwise
 * the template JSON is expanded with the item and parsed by the kind for
 * each item; problems the item brings (a bad URL, say) fail that item, not
 * the run.
 */
#ifndef CORUN_INSTANCE_H
#define CORUN_INSTANCE_H

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/error.h"
#include "core/task.h"

struct corun_job;

struct corun_tmpl {
  struct corun_task *proto; /* kind fields parsed from json */
  cJSON *json;              /* the template, the job's defaults merged in */
  int expand;               /* json has templates to fill per item */
};

/* What fills a template's item names for one item. */
struct corun_item_ctx {
  /*
   * The value of name ("item", "item.a.b" or "index"): a JSON value the
   * caller keeps, or NULL with *err set (malloc'd message).
   */
  const cJSON *(*lookup)(void *arg, const char *name, char **err);
  void *arg;
};

/*
 * Take ownership of proto and json (json may be NULL when proto alone
 * describes the task). Cannot fail.
 */
void corun__tmpl_init(struct corun_tmpl *tp, struct corun_task *proto,
                      cJSON *json);
void corun__tmpl_free(struct corun_tmpl *tp);

/*
 * A new pending task from tp for one item, child of parent (which must be
 * running), counted by the run. Returns NULL with *err (malloc'd, or NULL
 * when out of memory) when the item makes the task invalid.
 */
struct corun_task *corun__instance_new(const struct corun_tmpl *tp,
                                       struct corun_task *parent,
                                       const char *id,
                                       const struct corun_item_ctx *ic,
                                       char **err);
/*
 * Free a task made with malloc and its children: an ended instance, or a
 * prototype tree from the loader's template check. NULL is fine.
 */
void corun__instance_free(struct corun_task *t);

/*
 * The value captured as ID.NAME (name), once task ID ended ok: NULL with
 * *err set (malloc'd; NULL when out of memory) when there is none.
 */
const cJSON *corun__capture_lookup(const struct corun_run *run,
                                   const char *name, char **err);

/*
 * Fill the captures into every string under v (an array or object whose
 * strings the loader expanded for a second pass), in place: a string that
 * is one reference takes the value with its type, $${ becomes ${.
 * Returns 0, or -1 with *err (malloc'd; NULL when out of memory).
 */
CORUN_MUST_CHECK int corun__capture_fill(const struct corun_run *run,
                                         cJSON *v, char **err);

/*
 * The fields of the task at index as the loader kept them for filling in
 * its captures when it starts (CORUN_TF_FILL), or NULL.
 */
const cJSON *corun__job_deferred(const struct corun_job *job, uint32_t index);

/*
 * For a task flagged CORUN_TF_FILL, as it starts: its fields as the
 * loader kept them, captures filled in, parsed again into t. Returns 0,
 * or -1 with *err (malloc'd; NULL when out of memory) when the values
 * make the task invalid.
 */
CORUN_MUST_CHECK int corun__task_fill(struct corun_task *t, char **err);

/*
 * The task's result as a JSON value of its own (NULL for null), for
 * handing to the next stage; the task keeps nothing of it.
 */
cJSON *corun__task_take_result(struct corun_task *t);

#endif
