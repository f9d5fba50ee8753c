/* SPDX-License-Identifier: MIT */
/*
 * A fetch's "expect": what a correct response is. The status list decides
 * between success and an http_status failure; the checks (headers, body,
 * json, bytes, duration, sha256) are all evaluated on a response with an
 * expected status, and every one that fails is listed in one message.
 *
 * Read from the job's JSON, evaluated on a response described by plain
 * values: nothing here knows of curl or of tasks.
 */
#ifndef CORUN_EXPECT_H
#define CORUN_EXPECT_H

#include <cjson/cJSON.h>

#include "json/predicate.h"
#include "util/buf.h"

enum corun_expect_on { CORUN_EXPECT_HEADER, CORUN_EXPECT_BODY,
                       CORUN_EXPECT_JSON, CORUN_EXPECT_BYTES };

struct corun_expect_check {
  enum corun_expect_on on;
  char *key; /* the header's name or the JSON Pointer, else NULL */
  struct corun_pred *pred;
};

struct corun_expect {
  int nstatus;
  /*
   * nstatus codes, or -N for the class Nxx; none: below 400. Allocated:
   * most fetches have none, and a conf is kept per task.
   */
  int *status;
  struct corun_expect_check *checks;
  size_t nchecks;
  double duration; /* > 0: the bound on the total time, in seconds */
  char *sha256;    /* NULL, or the lowercase hex digest */
  int wants_body;  /* a body or json check: keep the whole body */
  /*
   * How many holders share the parts above (corun__expect_share), or NULL
   * while there is one: the last corun__expect_free() frees them.
   */
  unsigned *refs;
};

#define CORUN_EXPECT_INIT {0, NULL, NULL, 0, 0, NULL, 0, NULL}

/*
 * Called for each problem found while reading: field names the part
 * ("expect.json", "expect.status[2]"), node the value it is about.
 */
typedef void (*corun_expect_fail)(void *ctx, const char *field,
                                  const cJSON *node, const char *msg);

/* fail(ctx, field, node, the formatted message): for expect and capture. */
void corun__expect_failf(corun_expect_fail fail, void *ctx, const char *field,
                         const cJSON *node, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Reads "expect" (v, an object). Returns 0, or -1 after calling fail. */
int corun__expect_read(const cJSON *v, struct corun_expect *e,
                       corun_expect_fail fail, void *ctx);

void corun__expect_free(struct corun_expect *e);

/*
 * Makes *to (empty) a holder of what from holds: tasks whose "expect" is
 * the same share one reading of it. 0, or -1 out of memory (to unchanged).
 */
int corun__expect_share(struct corun_expect *from, struct corun_expect *to);

/* Whether status is one the job expects. */
int corun__expect_status(const struct corun_expect *e, long status);

/* The response as the checks and captures see it. */
struct corun_response {
  long status;
  const char *url; /* where it came from, after redirects */
  /* The value of a header (the last one of that name), or NULL. */
  const char *(*header)(void *ctx, const char *name);
  /* The value of a cookie the response sets, or NULL. */
  const char *(*cookie)(void *ctx, const char *name);
  void *ctx;
  const char *body; /* NUL-terminated; NULL when it was not kept */
  size_t body_len;
  /*
   * The body as it came, when body is a text copy of it (its NUL bytes
   * made U+FFFD): JSON is read from this, where a NUL is no JSON.
   */
  const char *raw;
  size_t raw_len;
  long long bytes; /* the decoded body's size */
  double total;    /* seconds the request took */
  const char *sha256; /* the decoded body's digest, when asked for */
  /*
   * Every JSON Pointer the checks and captures will look up in the body,
   * so that only what they reach is built (json/pick.h); none: all of it.
   */
  const char *const *pointers;
  size_t npointers;
  /*
   * The body parsed as JSON, by the first check or capture that needs it,
   * for the others (json_tried: it was tried). The caller deletes it.
   */
  cJSON *json;
  int json_tried;
};

/* r's body as JSON (parsed once, kept in r), or NULL when it is not. */
const cJSON *corun__response_json(struct corun_response *r);

/*
 * Runs every check but the status on r. Returns how many failed, each
 * described in msg ("; " between them).
 */
int corun__expect_check(const struct corun_expect *e,
                        struct corun_response *r, struct corun_buf *msg);

#endif
