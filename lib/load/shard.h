/* SPDX-License-Identifier: MIT */
/*
 * --shard inside the loader (shard.c): which part of the job this run is,
 * and the job cut down to it. Nothing here is part of the library's
 * interface: corun_load_opts carries the request.
 */
#ifndef CORUN_LOAD_SHARD_H
#define CORUN_LOAD_SHARD_H

#include <stddef.h>

#include "corun.h"

struct loader;
struct corun_job;

/*
 * "shard": true only where the job can be split that way: on a root task
 * that no "after" joins to another. Checked on every load, so a file is
 * valid or not whatever the command line says.
 */
void corun__load_check_splits(struct loader *ld);
/*
 * The request in ld->opts: deal the root groups out and note in
 * job->shard which tasks this part keeps (by task index), before the
 * checks on disk look only at those. text is the file, for its hash.
 */
enum corun_code corun__load_shard_plan(struct loader *ld, const char *text,
                                       size_t len, struct corun_error *err);
/* Cut the finished job down to its part (the plan's keep mask). */
enum corun_code corun__load_shard_apply(struct corun_job *job,
                                        struct corun_error *err);
/* What the plan and the cut hold; with the job. */
void corun__shard_free(struct corun_job *job);

#endif
