/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the reporters in report/ (JSON, text, task dump): JSON
 * output with secrets redacted, and the formatting of times.
 */
#ifndef CORUN_REPORT_H
#define CORUN_REPORT_H

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "core/task.h"
#include "json/template.h"
#include "load/jobfile.h"

/* A JSON string literal of s, secrets shown as "***". */
void corun__json_write_str(struct corun_buf *out, const char *s,
                           const struct corun_secrets *sec);
/* Any JSON value, strings redacted. */
void corun__json_write(struct corun_buf *out, const cJSON *v,
                       const struct corun_secrets *sec);
/* The task's result as JSON (null when it has none). */
void corun__task_write_result(const struct corun_task *t,
                              const struct corun_secrets *sec,
                              struct corun_buf *out);
/* {"type": ..., "message": ...} or null. */
void corun__task_write_error(const struct corun_task *t,
                             const struct corun_secrets *sec,
                             struct corun_buf *out);
/* "250ms", "1.50s", "2m03s". */
void corun__fmt_duration(double seconds, char *buf, size_t n);
/* Seconds from nanoseconds on the run clock. */
double corun__secs(uint64_t ns);

#endif
