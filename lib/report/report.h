/* SPDX-License-Identifier: MIT */
/*
 * What the reporters in report/ (JSON, text, HTML, task dump) share: JSON
 * output with secrets redacted, a task's outcome as JSON, and the
 * formatting of times, all from lower layers that the core and kinds use
 * too; and which tasks are root causes (cause.c).
 */
#ifndef CORUN_REPORT_H
#define CORUN_REPORT_H

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "util/duration.h"
#include "json/template.h"
#include "json/write.h"
#include "core/result.h"
#include "core/task.h"
#include "load/jobfile.h"

/*
 * Whether t is a root cause: it failed (or timed out) on its own, not
 * because of a child, a cancellation or a skip, and no task above it ended
 * ok anyway (a race's loser is none). A container that failed
 * "because of a child" that is no task of the job (a pipeline's items) is
 * one: nothing else in a report would say why.
 */
int corun__report_root_cause(const struct corun_task *t);
/*
 * What a task that failed on an answer got back (kind->response), as
 * "response: HTTP 500 (text/html): <the start of its body>", secrets
 * redacted, appended to out unescaped. Returns 0 (nothing appended) when
 * there is none.
 */
int corun__report_response(const struct corun_task *t,
                           const struct corun_secrets *sec,
                           struct corun_buf *out);

#endif
