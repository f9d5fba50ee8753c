/* SPDX-License-Identifier: MIT */
/*
 * Durations ("250ms", "1.5s", "2m", "1h", "1m30s" or a number of seconds),
 * rates ("20/s", "5/m", "100/h") and sizes ("10MB", "64KiB"), as the job
 * file writes them.
 */
#ifndef CORUN_DURATION_H
#define CORUN_DURATION_H

#include "util/error.h"
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parse a duration string into seconds. Returns 0, or -1 with a reason in
 * why (a static string) for empty, negative, NaN, infinite, unitless-but-
 * not-a-number or unknown-unit input.
 */
int corun_duration_parse(const char *s, double *out, const char **why);
/* Same for a JSON value: a number of seconds or a duration string. */
CORUN_MUST_CHECK int corun_duration_json(const cJSON *v, double *out,
                                         const char **why);
/* Whole milliseconds, rounded up so a non-zero duration never becomes 0. */
unsigned long long corun_duration_ms(double seconds);

/*
 * Parse "N/s", "N/m", "N/h" (N > 0) into events per second; slower than
 * one per 1e9 seconds is refused, as any longer duration is.
 */
CORUN_MUST_CHECK int corun_rate_parse(const char *s, double *per_second,
                                      const char **why);

/* The largest size: every byte count stays exact in a double. */
#define CORUN_SIZE_MAX 9007199254740992.0 /* 2^53 */

/*
 * Parse a size: digits (a fraction too, when the result is whole) with no
 * unit (bytes) or one of B, KB, MB, GB, TB (powers of 1000), KiB, MiB,
 * GiB, TiB (powers of 1024), case as written. Returns 0, or -1 with a
 * reason in why (a static string).
 */
CORUN_MUST_CHECK int corun_size_parse(const char *s, long long *out,
                                      const char **why);
/* Same for a JSON value: a whole number of bytes or a size string. */
CORUN_MUST_CHECK int corun_size_json(const cJSON *v, long long *out,
                                     const char **why);

/* For people: "250ms", "1.50s", "2m03s", "1h05m". */
void corun__fmt_duration(double seconds, char *buf, size_t n);
/* Seconds from nanoseconds (on a run's clock). */
double corun__secs(uint64_t ns);

#endif
