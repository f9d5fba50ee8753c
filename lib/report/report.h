/* SPDX-License-Identifier: MIT */
/*
 * What the reporters in report/ (JSON, text, task dump) share: JSON output
 * with secrets redacted, a task's outcome as JSON, and the formatting of
 * times, all from lower layers that the core and kinds use too.
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
 * Whether t is a root cause: it failed or timed out on its own, not
 * because of a child, a cancellation or a skip (causes.c).
 */
int corun__report_root_cause(const struct corun_task *t);

#endif
