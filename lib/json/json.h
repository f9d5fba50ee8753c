/* SPDX-License-Identifier: MIT */
/*
 * A pull parser for job files that knows where every value stands.
 *
 * cJSON keeps no source positions, accepts duplicate keys and must hold a
 * whole document at once. The job loader needs all three the other way:
 * errors name line and column, duplicate keys are errors, and a job with a
 * million tasks must not exist twice in memory. So the loader walks the
 * document's objects and arrays itself with this parser and asks it for
 * cJSON values only for the small leaves (a field's value), recording each
 * built node's offset so errors can point at it.
 *
 * The offset is kept in the node's valueint. cJSON leaves that field unused
 * for everything but numbers, and for numbers it only holds a saturated
 * copy of valuedouble, which corun never reads (it range-checks the
 * double). A side table would cost a hash insert per node; a million-task
 * job makes several million nodes.
 *
 * Every function returning int returns -1 on a syntax error; the first error
 * is kept in the parser (err_off, err_msg) and later calls fail at once.
 */
#ifndef CORUN_JSON_H
#define CORUN_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/hash.h"

/* Deepest nesting accepted, counted over objects and arrays. */
#define CORUN_JSON_MAX_DEPTH 96
/* The same for a response body: cJSON's own limit, which bodies had. */
#define CORUN_JSON_BODY_DEPTH 1000

struct corun_json {
  const char *text;
  size_t len;
  size_t pos;
  int depth;
  int failed;
  size_t err_off;
  char err_msg[200];
  /* Decoded strings land here, so reading one allocates nothing. */
  struct corun_buf scratch;
  struct corun_buf keybuf;
  /*
   * Reading a server's body, not a job file: a name may repeat (the first
   * counts, as with cJSON_Parse), a number's valueint is cJSON's, not a
   * source offset, nesting may go to CORUN_JSON_BODY_DEPTH, a number may
   * overflow to infinity, and \u0000 or a lone surrogate reads as U+FFFD.
   */
  int body;
};

void corun_json_init(struct corun_json *p, const char *text, size_t len);
void corun_json_free(struct corun_json *p);

/*
 * The first character of the next value after white space ('{', '[', '"',
 * 't', 'f', 'n', '-' or a digit), or 0 at the end of input.
 */
int corun_json_peek(struct corun_json *p);
/* Offset of the next token, after white space. */
size_t corun_json_offset(struct corun_json *p);

int corun_json_object_begin(struct corun_json *p);
/*
 * Advance to the next member of the object begun last. *count is the
 * caller's member counter (start at 0). Returns 1 with *key and *key_off
 * set, the ':' consumed; 0 when the object ended. *key is borrowed: it
 * stays valid until the next call of corun_json_object_next().
 */
int corun_json_object_next(struct corun_json *p, int *count,
                           const char **key, size_t *key_off);
int corun_json_array_begin(struct corun_json *p);
/* Returns 1 if another element follows, 0 when the array ended. */
int corun_json_array_next(struct corun_json *p, int *count);

/* The value of a hexadecimal digit (any case), or -1. */
int corun__hexval(char c);

/* Parse one whole value into a new cJSON tree (caller deletes it). */
int corun_json_value(struct corun_json *p, cJSON **out);
/* Step over one whole value. */
int corun_json_skip(struct corun_json *p);
/* Only white space may follow. */
int corun_json_end(struct corun_json *p);

/* Where a node built by corun_json_value() began; 0 for other nodes. */
size_t corun_json_where(const struct corun_json *p, const cJSON *node);
/* Largest input whose offsets fit in a node's valueint. */
#define CORUN_JSON_MAX_BYTES ((size_t)1 << 30)
/* Record an error at off (first error wins) and return -1. */
int corun_json_fail(struct corun_json *p, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* 1-based line and column (in bytes) of offset off in text. */
void corun_json_line_col(const char *text, size_t len, size_t off,
                         unsigned *line, unsigned *col);

#endif
