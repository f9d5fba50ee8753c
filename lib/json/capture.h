/* SPDX-License-Identifier: MIT */
/*
 * A fetch's "capture": values taken from a response by name, for the
 * result's "captures" and for the tasks that run after it (${ID.NAME}).
 * A source is "status", "url", "body", or an object with one of json (a
 * JSON Pointer), header, regex (POSIX ERE on the body: its first group,
 * or the whole match) or cookie, and optionally "secret": true.
 */
#ifndef CORUN_CAPTURE_H
#define CORUN_CAPTURE_H

#include <cjson/cJSON.h>
#include <regex.h>

#include "json/expect.h"
#include "util/buf.h"

enum corun_capture_from { CORUN_CAPTURE_STATUS, CORUN_CAPTURE_URL,
                          CORUN_CAPTURE_BODY, CORUN_CAPTURE_JSON,
                          CORUN_CAPTURE_HEADER, CORUN_CAPTURE_REGEX,
                          CORUN_CAPTURE_COOKIE };

struct corun_capture {
  char *name;
  enum corun_capture_from from;
  char *arg; /* the pointer, header, expression or cookie name */
  regex_t re;
  int have_re;
  int secret;
};

struct corun_captures {
  struct corun_capture *v;
  size_t n;
  int wants_body; /* body, json or regex: keep the whole body */
  int secret;     /* one of them is secret */
  unsigned *refs; /* holders sharing v, as in struct corun_expect */
};

#define CORUN_CAPTURES_INIT {NULL, 0, 0, 0, NULL}

/* Reads "capture" (v, an object). Returns 0, or -1 after calling fail. */
int corun__captures_read(const cJSON *v, struct corun_captures *c,
                         corun_expect_fail fail, void *ctx);

void corun__captures_free(struct corun_captures *c);

/* As corun__expect_share(), for "capture". */
int corun__captures_share(struct corun_captures *from,
                          struct corun_captures *to);

/*
 * Takes every capture from r: an object NAME -> value (a json capture
 * keeps its JSON type, status is a number, the rest strings). NULL when
 * one found nothing (each such capture is named in msg, "; " between) or
 * memory ran out (msg says so).
 */
cJSON *corun__captures_take(const struct corun_captures *c,
                            struct corun_response *r, struct corun_buf *msg);

/* Whether name can be a capture's name: [A-Za-z_][A-Za-z0-9_]*. */
int corun__capture_name_ok(const char *name);

/*
 * The JSON Pointers e's checks and c's captures look up in a body, in out
 * (room for max). 0 when there are more: then the whole body is built.
 */
size_t corun__response_pointers(const struct corun_expect *e,
                                const struct corun_captures *c,
                                const char **out, size_t max);

#endif
