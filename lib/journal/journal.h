/* SPDX-License-Identifier: MIT */
/*
 * The journal (--journal FILE): an append-only record of every task of
 * the job that ended, one JSON line each, written as it ends, so a run
 * that died (even by SIGKILL) can be run again without redoing what
 * finished. A second run with the same journal takes each leaf task that
 * ended ok from it (its result reused, marked "resumed" in the report)
 * and runs the rest, appending to the same file.
 *
 * The first line names the job by a hash of its file and --var values; a
 * journal of another job is refused. A last line cut short by a crash is
 * ignored. Lines reach the kernel with each write(), so only a crash of
 * the machine itself can lose one; they are not fsync'd one by one. One
 * run at a time holds a journal (an exclusive lock); a write that fails
 * is said at once and the run exits 1, as when a report cannot be written.
 */
#ifndef CORUN_JOURNAL_H
#define CORUN_JOURNAL_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "corun.h"
#include "util/hash.h"
#include "json/template.h"

struct corun_task;

struct corun_journal {
  int fd;
  struct corun_strmap done; /* id -> cJSON record of a task that ended ok */
  size_t resumable;
  int werr; /* first write error, an errno */
};

/*
 * Record t's end (not for pipeline items or resumed tasks). Returns 0, or
 * the errno of the write that failed; after a failure nothing more is
 * written (a later line could not be trusted to follow a whole one).
 */
int corun__journal_record(struct corun_journal *j, const struct corun_task *t,
                          const struct corun_secrets *sec);
/*
 * The record of id if it ended ok in an earlier run, or NULL. Its
 * "result" member is what the task came to.
 */
const cJSON *corun__journal_find(const struct corun_journal *j,
                                 const char *id);

#endif
