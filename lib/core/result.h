/* SPDX-License-Identifier: MIT */
/*
 * A task's outcome as JSON: its result (the kind's writer, or the value it
 * kept) and its error. The reports, the journal and container kinds (a
 * gather's list of its children's results) all write it this one way.
 */
#ifndef CORUN_RESULT_H
#define CORUN_RESULT_H

#include "core/task.h"
#include "util/buf.h"
#include "json/template.h"

/* The task's result as JSON (null when it has none). */
void corun__task_write_result(const struct corun_task *t,
                              const struct corun_secrets *sec,
                              struct corun_buf *out);
/* {"type": ..., "message": ...} or null. */
void corun__task_write_error(const struct corun_task *t,
                             const struct corun_secrets *sec,
                             struct corun_buf *out);

#endif
