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
#include "core/run.h"

struct corun_task;

/*
 * The run attaches a journal given in its options as an observer (the
 * core knows no journal): obs must stay the first member.
 */
struct corun_journal {
  struct corun_observer obs; /* records ends, answers resumes */
  int fd;
  struct corun_strmap done; /* id -> cJSON record of a task that ended ok */
  size_t resumable;
  int werr; /* first write error, an errno */
};

#endif
