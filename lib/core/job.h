/* SPDX-License-Identifier: MIT */
/*
 * The job: what corun_job_load() builds from a job file (see load/), fully
 * validated, and what a run runs. Nothing of the JSON text or tree is
 * kept. It sits in core, below the loader that makes it, so the run and
 * the kinds can read it without reaching up.
 */
#ifndef CORUN_JOB_H
#define CORUN_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "corun.h"
#include "util/hash.h"
#include "json/template.h"

#define CORUN_DEFAULT_CONCURRENCY 64

struct corun_slab;
struct corun_task;
struct corun_sem;

/*
 * --shard: the part of the job this run is (load/shard.c made it). The
 * job's tasks and roots are then this part's alone; what the whole file
 * held is counted here.
 */
struct corun_shard {
  unsigned index, total; /* 1 <= index <= total */
  char hash[65];         /* SHA-256 of the file and --var values, hex */
  /* Where the roots this part runs stand among the file's roots (0-based). */
  size_t *roots;
  size_t nroots;
  size_t all_tasks, all_roots; /* in the whole file */
  size_t groups, all_groups;   /* root groups: this part's, the file's */
  /* By task index in the whole file: 1 for the tasks this part runs. */
  unsigned char *keep;
  /* Tasks of the other parts, freed with the job, never run. */
  struct corun_task **dropped;
  size_t ndropped;
};

struct corun_job {
  char *display; /* the file as named in messages ("<stdin>" for -) */
  char *dir;     /* where relative paths resolve */
  char *name;    /* "name", or the file's base name */
  int spawns;    /* a task or a template of a kind that starts processes */
  struct corun_task **tasks; /* every task in file order, parents first */
  size_t ntasks;
  struct corun_task **roots;
  size_t nroots;
  struct corun_sem **limits;
  size_t nlimits;
  unsigned concurrency;
  unsigned per_host; /* connections per host for fetch; 0: no cap */
  char *root;        /* --root, resolved; NULL: paths are not confined */
  size_t nedges; /* "after" edges over all tasks */
  struct corun_secrets secrets;
  struct corun_strmap ids;
  /* The task structs, plain fetches' URLs, and what the run keeps. */
  struct corun_slab *slabs;
  struct corun_slab *idslabs; /* generated ids */
  /*
   * Tasks whose own fields use captures (${ID.NAME}): the fields as the
   * loader checked them, captures unfilled, by task index (ascending).
   * The run parses them again, filled in, when the task starts.
   */
  struct corun_deferred {
    uint32_t index;
    cJSON *json;
  } *deferred;
  size_t ndeferred;
  /*
   * "name"s, by task index (ascending): a side table, since most tasks
   * have none and a task struct is kept small (core/task.h).
   */
  struct corun_named {
    uint32_t index;
    char *name;
  } *names;
  size_t nnames;
  int ran; /* a job runs once */
  uint64_t hash; /* of the file and --var values: which job a journal is */
  int hashed;    /* hash was computed (not with no_journal) */
  struct corun_shard *shard; /* NULL: the whole job runs */
};

#endif
