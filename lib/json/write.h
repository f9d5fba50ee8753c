/* SPDX-License-Identifier: MIT */
/*
 * Writing JSON text with secrets redacted: what every output of corun (the
 * reports, the journal, a pipeline's results file) uses for values that
 * may carry a secret.
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

#endif
