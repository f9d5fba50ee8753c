/* SPDX-License-Identifier: MIT */
/*
 * The table of functions behind each task kind.
 *
 * A kind is one file in kinds/ exporting one const struct corun_kind, and
 * one row in kind.c. The core owns the task's life (states, timeout, limits,
 * cancellation order, completion); the kind owns what "running" means.
 */
#ifndef CORUN_KIND_H
#define CORUN_KIND_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "json/template.h"

struct corun_task;
struct corun_fields;
struct corun_run;

/*
 * A top-level field of the job file that a kind brings (fetch's
 * "per_host"): a positive integer at most max, kept as an unsigned at
 * offset off of struct corun_job (core/job.h).
 */
struct corun_job_setting {
  const char *name;
  unsigned max;
  size_t off;
};

/*
 * One JUnit test case that a task stands for besides itself (a pipeline's
 * item under "junit": "items"). The strings belong to the task.
 */
struct corun_case {
  const char *name;
  const char *msg; /* why it did not end ok; NULL when it did */
  uint64_t dur_ns;
  uint8_t status;   /* enum corun_status */
  uint8_t err_type; /* enum corun_errtype */
};

struct corun_kind {
  const char *name; /* the job file's "kind" string */
  size_t size;      /* bytes of the kind's task struct (base first) */
  /* The kind's own fields besides the common ones; NULL-terminated. */
  const char *const *fields;
  /* Holds one of the run's "concurrency" slots while running. */
  unsigned leaf : 1;
  /* Takes child tasks in "tasks". */
  unsigned parent : 1;
  /*
   * Cannot be the task of another kind's template (a pipeline stage's
   * task): its own templates inside one would nest without end.
   */
  unsigned no_nest : 1;
  /*
   * Its ok result holds the output streams "stdout" and "stderr" as
   * strings, which reports show (JUnit's <system-out>).
   */
  unsigned streams : 1;
  /*
   * Starts processes: a run of a job with such a task (or template) needs
   * the command's watchdog (corun_job_spawns).
   */
  unsigned spawns : 1;
  /*
   * Takes task templates: every object of the array field tmpl_list
   * holds in its member tmpl_key a task made anew per item, whose
   * ${item} and ${index} are filled in at run time. NULL: none.
   */
  const char *tmpl_list;
  const char *tmpl_key;
  /*
   * The kind's fields that give a task its shape, like "kind" or "tasks"
   * do for every task: a template's task cannot take them from the item.
   * NULL-terminated; NULL for none.
   */
  const char *const *shape_fields;
  /*
   * Pairs of fields that exclude each other (fetch's "body" and "json"):
   * a task that sets one itself does not take the other from "defaults".
   * Two names a pair, NULL-terminated; NULL for none.
   */
  const char *const *exclusive;
  /* The kind's top-level fields; ends with a NULL name. NULL for none. */
  const struct corun_job_setting *settings;
  /*
   * The fields of an ok result object, NULL-terminated, for checking a
   * pipeline's ${item.FIELD} at load time; NULL when not fixed.
   */
  const char *const *result_fields;
  /*
   * Validate and copy the kind's fields with the corun_field_*() helpers.
   * Called once at load time, before anything runs; errors go to the
   * fields' diagnostics. Returns 0, or -1 if anything was wrong.
   */
  int (*parse)(struct corun_task *t, struct corun_fields *f);
  /*
   * Extra checks on the fields of a template's task, which runs once per
   * item and is freed when the item ends. Called before parse(); errors
   * go to f's diagnostics. Optional.
   */
  void (*check_template)(struct corun_fields *f);
  /*
   * The task holds its slots and starts running. The kind must eventually
   * call corun__task_finish() exactly once, possibly from within start.
   */
  void (*start)(struct corun_task *t);
  /*
   * Stop the running task's work. The kind must then finish the task (now
   * or later); the core turns the status into the cancel reason. May be
   * NULL for kinds whose work holds nothing: the core finishes them.
   */
  void (*cancel)(struct corun_task *t);
  /*
   * Continue a task that called corun__task_yield(): the ready queue
   * handed it back. Required of kinds that yield.
   */
  void (*resume)(struct corun_task *t);
  /*
   * Make dst, a byte copy of src (a pipeline stage's prototype task), a
   * task of its own by deep-copying what src's parse allocated. Returns 0,
   * or -1 (out of memory). Optional: without it, a stage's task is parsed
   * anew from its template for every item.
   */
  int (*clone)(struct corun_task *dst, const struct corun_task *src);
  /*
   * Whether t's children race: the first to end wins and the others are
   * cancelled (a wait for first_completed). Two children that save to one
   * file do not then collide. Optional: no race.
   */
  int (*races)(const struct corun_task *t);
  /* An attached child ended while t runs. Optional. */
  void (*child_done)(struct corun_task *t, struct corun_task *child);
  /*
   * The process a running task waits for (a command in its kill grace),
   * or 0. Optional: the kind runs no process.
   */
  int (*process)(const struct corun_task *t);
  /*
   * The process id its latest attempt ran as, running or ended (0: none),
   * for reports (the HTML timeline, the trace). Optional.
   */
  int (*pid)(const struct corun_task *t);
  /*
   * An HTTP task's phases as curl timed its last answer, seconds since its
   * start, cumulative (dns, connect, tls, first byte, total), also when
   * the answer failed it: 1, or 0 when there are none. Optional.
   */
  int (*phases)(const struct corun_task *t, double out[5]);
  /* What a running task waits on, for the task dump. Optional. */
  void (*describe)(const struct corun_task *t, uint64_t now_ms,
                   struct corun_buf *out);
  /*
   * --dry-run: the task's own fields as they would run, one "name: value"
   * line each, values passed through the corun__dry_*() helpers below so
   * that secrets show as "***". Values that still hold captures show them
   * as written: they are filled in only when the task starts. Optional.
   */
  void (*dry)(const struct corun_task *t, const struct corun_secrets *sec,
              struct corun_buf *out);
  /*
   * Write the result as JSON for the report, redacting secrets. Optional:
   * the default writes t->result, or null.
   */
  void (*result)(const struct corun_task *t, const struct corun_secrets *sec,
                 struct corun_buf *out);
  /*
   * One short line about an ok task's result for the summary table's
   * detail column. Optional: the default shows a string result.
   */
  void (*summary)(const struct corun_task *t, struct corun_buf *out);
  /*
   * The answer a failed task got, when it got one (a fetch that failed on
   * its status or a check): its status, content type (NULL: none) and the
   * first 4 KiB of its body when that is UTF-8 text (NULL otherwise).
   * Returns 0 when there is none. Optional.
   */
  int (*response)(const struct corun_task *t, long *status,
                  const char **content_type, const char **body);
  /*
   * Extra Chrome trace events for a task that ran, each written as
   * ",{...}" on thread tid of process 1, ts in microseconds on the run
   * clock: a fetch's phases, a pipeline's queue lengths. Optional.
   */
  void (*trace)(const struct corun_task *t, int tid,
                const struct corun_secrets *sec, struct corun_buf *out);
  /*
   * A running task's part of the progress line ("crawl 1200/50000 items,
   * 180/s, ETA 4m30s"); elapsed is seconds since it started. Optional.
   */
  void (*progress)(const struct corun_task *t, double elapsed,
                   struct corun_buf *out);
  /*
   * What a command printed, as far as it got: kept also when the task
   * timed out or was cancelled, when its result holds none. Returns 0
   * when there is nothing to show. Optional.
   */
  int (*output)(const struct corun_task *t, const char **out,
                const char **err);
  /*
   * JUnit: the test cases t stands for instead of one of its own (a
   * pipeline's items): how many, and case i into *c when c is not NULL
   * and i is below that. 0: t is one test case, or none if it holds
   * children. Optional.
   */
  size_t (*cases)(const struct corun_task *t, size_t i, struct corun_case *c);
  /*
   * JUnit: more for the failure message of t as one test case (a
   * pipeline naming its failed items). Optional.
   */
  void (*case_detail)(const struct corun_task *t, struct corun_buf *out);
  /*
   * Captures (fetch's "capture"): the names a task takes, for the
   * loader's checks (at most max of them into out; returns how many it
   * has; *secret, when not NULL, says whether one is secret), and the
   * value of one once the task ended ok (NULL when it has none).
   * Optional: a kind without them captures nothing.
   */
  size_t (*capture_names)(const struct corun_task *t, const char **out,
                          size_t max, int *secret);
  const cJSON *(*capture)(const struct corun_task *t, const char *name);
  /*
   * --shard: a task that splits its own work among the shards instead of
   * going whole to one of them (a pipeline with "shard": true, by item).
   * splits: 0 when t does not ask for it; else where the field asking for
   * it stands in the job file (an offset, for messages). split: t takes
   * part index (1-based) of total. split_count: how many of all its units
   * part index of total gets; 0 when the count is known only as it runs.
   * Optional, all three together.
   */
  size_t (*splits)(const struct corun_task *t);
  void (*split)(struct corun_task *t, unsigned index, unsigned total);
  int (*split_count)(const struct corun_task *t, unsigned index,
                     unsigned total, uint64_t *mine, uint64_t *all);
  /* Free what parse allocated. Optional. Not the struct itself. */
  void (*free)(struct corun_task *t);
  /*
   * State a run shares among its tasks of this kind (fetch: one libcurl
   * multi handle, one connection and DNS cache). Optional; with run_open,
   * run_close is required. The run makes it when a task first asks
   * (corun__run_kind_state), so a run without such tasks never does:
   * run_open returns it, or NULL with *why (static text) set. run_quiesce (optional):
   * every task ended, let go of what would keep the loop running.
   * run_close: the run is being freed; close the state's handles, free
   * it, then call closed(arg) from a loop callback.
   */
  void *(*run_open)(struct corun_run *run, const char **why);
  void (*run_quiesce)(void *state);
  void (*run_close)(void *state, void (*closed)(void *arg), void *arg);
};

/*
 * Whether tasks of kind k run other tasks (gather, wait: children; a
 * pipeline: its items). A default "limit" is for the work, not for them.
 */
static inline int corun__kind_is_container(const struct corun_kind *k)
{
  return k->parent || k->child_done;
}

/*
 * For dry() hooks: "name: value\n" with secrets in value redacted (a
 * value longer than 200 bytes is cut, "..." marking the cut).
 */
void corun__dry_field(struct corun_buf *out, const struct corun_secrets *sec,
                      const char *name, const char *value);
/* s as a JSON string, secrets redacted before it is quoted. */
void corun__dry_quoted(struct corun_buf *out, const struct corun_secrets *sec,
                       const char *s);
/*
 * The dry() lines of t, of kind k, another task than the hook's own (a
 * template's task), after a "title:" line, each indented two spaces more
 * than title is.
 */
void corun__dry_nested(struct corun_buf *out, const struct corun_secrets *sec,
                       const char *title, const struct corun_kind *k,
                       const struct corun_task *t);

/* The kind named name, or NULL. */
const struct corun_kind *corun__kind_find(const char *name);
/* The i-th kind, or NULL past the last: for checks over every kind. */
const struct corun_kind *corun__kind_at(size_t i);
/*
 * Every kind's name, at most max of them, into out (which holds max + 1)
 * followed by NULL, for suggestions. Returns how many.
 */
size_t corun__kind_names(const char **out, size_t max);
/* Whether any kind takes field name (besides the common ones). */
int corun__kind_any_has_field(const char *name);
/* Whether kind k takes field name (besides the common ones). */
int corun__kind_has_field(const struct corun_kind *k, const char *name);
/*
 * The setting some kind brings named name, or NULL; *index, when not
 * NULL, numbers it among every kind's settings.
 */
const struct corun_job_setting *corun__kind_setting(const char *name,
                                                    size_t *index);
/* The i-th setting over every kind, or NULL past the last. */
const struct corun_job_setting *corun__kind_setting_at(size_t i);
/* Whether name is one of kind k's shape_fields (k may be NULL). */
int corun__kind_shapes(const struct corun_kind *k, const char *name);
/*
 * Whether a default for field name stays out of the task object obj of
 * kind k: obj sets the field that name excludes (kind.exclusive).
 */
int corun__kind_kept_out(const struct corun_kind *k, const cJSON *obj,
                         const char *name);

#endif
