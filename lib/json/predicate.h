/* SPDX-License-Identifier: MIT */
/*
 * Predicates on JSON values, as a fetch's checks write them, and JSON
 * Pointers (RFC 6901) that find the value a check looks at.
 *
 * A predicate is a JSON scalar (the value must equal it) or an object with
 * one operator: equals, not_equals, contains, not_contains, matches,
 * exists, lt, le, gt, ge, type, count. It is compiled once, when the job
 * is loaded (a bad one is an error there, never at run time), and tested
 * against each value that comes back. An absent value (a header the
 * response lacks) is tested as NULL: it passes {"exists": false}, a null
 * predicate and {"type": "null"}, and fails everything else.
 */
#ifndef CORUN_PREDICATE_H
#define CORUN_PREDICATE_H

#include <cjson/cJSON.h>

#include "util/buf.h"

struct corun_pred;

/*
 * Compiles spec. Returns 0 and *out, or -1 with the reason in why (a
 * phrase that follows the field's name: "has unknown operator ...") and
 * in *bad the node it is about, for its line and column.
 */
int corun__pred_compile(const cJSON *spec, struct corun_pred **out,
                        struct corun_buf *why, const cJSON **bad);

/* What a check's value is before it is looked at. */
enum corun_pred_on {
  CORUN_PRED_JSON,   /* any JSON (expect.json) */
  CORUN_PRED_TEXT,   /* text, or absent (the body, a header's value) */
  CORUN_PRED_NUMBER  /* a number (expect.bytes) */
};

/*
 * Whether p can ever hold of a value of that kind: 0, or -1 with the
 * reason in why ({"not_contains": 1} on text would always pass).
 */
int corun__pred_fits(const struct corun_pred *p, enum corun_pred_on on,
                     struct corun_buf *why);

/*
 * Whether p compares with a number (lt, le, gt, ge, or equals a number):
 * text that is a number is then tested as that number.
 */
int corun__pred_wants_number(const struct corun_pred *p);

/* Whether v (NULL: absent) satisfies p. */
int corun__pred_test(const struct corun_pred *p, const cJSON *v);

/* Whether p is {"exists": false}: a value not found then passes. */
int corun__pred_wants_absent(const struct corun_pred *p);

/* What p expects, in words: `3`, `contains "ok"`, `count lt 5`. */
void corun__pred_describe(const struct corun_pred *p, struct corun_buf *out);

void corun__pred_free(struct corun_pred *p);

/*
 * A JSON value as a check failure shows it: compact JSON, cut to at most
 * max bytes (on a UTF-8 boundary, "..." added); "nothing" when absent.
 */
void corun__pred_show(const cJSON *v, size_t max, struct corun_buf *out);

/*
 * Whether ptr is a JSON Pointer ("" or "/a/0/b~1c"); else why, a phrase.
 */
int corun__pointer_valid(const char *ptr, struct corun_buf *why);

/* The value ptr points at in doc, or NULL when there is none. */
const cJSON *corun__pointer_get(const cJSON *doc, const char *ptr);

#endif
