/* SPDX-License-Identifier: MIT */
/*
 * Writing JSON text with secrets redacted: what every output of corun (the
 * reports, the journal, a pipeline's results file) uses for values that
 * may carry a secret; and the same JSON, compact and exact, for what
 * corun sends.
 */
#ifndef CORUN_JSON_WRITE_H
#define CORUN_JSON_WRITE_H

#include <cjson/cJSON.h>

#include "util/buf.h"
#include "json/template.h"

/* A JSON string literal of s, secrets shown as "***"; sec may be NULL. */
void corun__json_write_str(struct corun_buf *out, const char *s,
                           const struct corun_secrets *sec);
/* Any JSON value, strings redacted; NULL writes null. */
void corun__json_write(struct corun_buf *out, const cJSON *v,
                       const struct corun_secrets *sec);

/*
 * v as compact JSON text, numbers exact (what a request body and a value
 * filled into a string are made of). malloc'd; NULL when out of memory.
 */
char *corun__json_print(const cJSON *v);
/*
 * Whether a and b are the same JSON value: numbers equal exactly (cJSON's
 * compare takes two doubles a rounding apart as equal), strings byte for
 * byte, objects with the same names in any order.
 */
int corun__json_equal(const cJSON *a, const cJSON *b);

#endif
