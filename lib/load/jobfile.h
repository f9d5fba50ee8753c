/* SPDX-License-Identifier: MIT */
/*
 * The loaded job: what corun_job_load() builds from a job file, fully
 * validated. The loader (the files of load/, see loader.h) reads the file
 * with the positional parser in json.c, expands templates, applies
 * defaults, hands each task's fields to its kind's parse(), then checks
 * ids, "after" references and cycles across the whole tree. Nothing of the
 * JSON text or tree is kept.
 */
#ifndef CORUN_JOBFILE_H
#define CORUN_JOBFILE_H

#include <stddef.h>

#include "corun.h"
#include "util/hash.h"
#include "sched/sem.h"
#include "core/task.h"
#include "json/template.h"

#define CORUN_DEFAULT_CONCURRENCY 64

struct corun_slab;

struct corun_job {
  char *display; /* the file as named in messages ("<stdin>" for -) */
  char *dir;     /* where relative paths resolve */
  char *name;    /* "name", or the file's base name */
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
  struct corun_slab *slabs;   /* the task structs themselves */
  struct corun_slab *idslabs; /* generated ids */
  int ran; /* a job runs once */
  uint64_t hash; /* of the file and --var values: which job a journal is */
};

#endif
