/* SPDX-License-Identifier: MIT */
/*
 * ${name} templates in job-file strings, and the secrets they bring in.
 *
 * ${name} is a job variable, ${env:NAME} an environment variable (an error
 * when unset), ${env:NAME:-fallback} one with a fallback, $${ a literal
 * "${". Every value taken from the environment is a secret: the caller
 * keeps a struct corun_secrets and passes all output through
 * corun_secrets_redact(), which shows secrets as "***".
 *
 * Two ways to find a secret in output. Where one was substituted, the
 * expansion remembers the field it went into (only fields that got a
 * secret shorter than 4 characters need it): that field's text, wherever
 * it is echoed, shows "***" in its place whatever the secret's length, and
 * a field kept for a pipeline's items matches with any item filled in.
 * Anywhere else a secret is found by its text, only when it is 4
 * characters or longer: "0" must not turn "HTTP 200" into "HTTP 2***".
 * That search also sees a secret percent-encoded or percent-decoded, as
 * curl writes URLs and some of its messages.
 */
#ifndef CORUN_TEMPLATE_H
#define CORUN_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/error.h"
#include "util/hash.h"

/* A secret shorter than this is found only where it was substituted. */
#define CORUN_SECRET_MIN 4

struct corun_secret_field;

struct corun_secrets {
  char **v; /* longest first, so a secret inside another is not half-hidden */
  size_t n;
  size_t cap;
  /* Fields that a short secret went into (see above). */
  struct corun_secret_field **f;
  size_t nf;
  size_t capf;
  struct corun_strmap fkeys; /* pattern text -> field: each one once */
  /*
   * Where to try a field: a hash of its first 4 bytes -> 1 + the index of
   * the first field with them (fields chain on), so output is not checked
   * against every field at every byte. Fields whose text before an item
   * hole is shorter are "loose": tried everywhere.
   */
  uint32_t *heads;
  size_t nheads; /* a power of two, or 0 */
  uint32_t *loose;
  size_t nloose;
  size_t caploose;
  /* Of f, those that are variables' values, which fields take in. */
  struct corun_secret_field **vf;
  size_t nvf;
  size_t capvf;
};

/* Takes a copy of s; empty strings are not secrets. Returns 0 or -1 (oom). */
int corun_secrets_add(struct corun_secrets *sec, const char *s);
/* Appends s to out with every secret replaced by "***". */
void corun_secrets_redact(const struct corun_secrets *sec, const char *s,
                          size_t n, struct corun_buf *out);
/*
 * As corun_secrets_redact() for text that was cut short (curl's 256-byte
 * error buffer): a tail that could be the start of a secret is hidden too.
 */
void corun_secrets_redact_cut(const struct corun_secrets *sec, const char *s,
                              size_t n, struct corun_buf *out);
void corun_secrets_free(struct corun_secrets *sec);

/*
 * A pipeline stage's task is expanded twice: at load time with defer_item
 * set, which resolves vars and the environment but keeps ${item},
 * ${item.FIELD} and ${index} (and $${) for later, escaping any "${" that a
 * value brings in; then per item at run time with item set, which resolves
 * the item names and turns $${ into "${".
 */
struct corun_template_ctx {
  const cJSON *vars; /* object of strings, or NULL */
  int env_only;      /* vars' own values may only use ${env:...} */
  struct corun_secrets *secrets;
  int defer_item;
  /*
   * Keep ${ID.NAME} (a capture, known only once task ID ended) as it is,
   * for the loader to check and the run to fill in; the item callback,
   * when set, fills them in too.
   */
  int keep_captures;
  /*
   * A run pass follows, as with defer_item: "${" a value brings in, and
   * $${, are escaped so that pass reads them as literal text.
   */
  int again;
  /* Resolves an item name ("item", "item.a.b", "index"): 0 or -1, *err. */
  int (*item)(void *arg, const char *name, struct corun_buf *b, char **err);
  void *item_arg;
};

/*
 * Expand in into *out (malloc'd). Returns 0; or -1 with *err (malloc'd
 * message naming the bad template) and *out NULL. Out of memory is -1 with
 * *err NULL.
 */
CORUN_MUST_CHECK int corun_template_expand(const struct corun_template_ctx *ctx,
                                           const char *in, char **out,
                                           char **err);

/* Whether s contains a template at all, to skip the copy in the common case. */
int corun_template_has(const char *s);
/* Whether a string anywhere under v contains a template. */
int corun_template_in_tree(const cJSON *v);

/* Whether name is one of the item names: item, item.FIELD[.FIELD...], index. */
int corun_template_is_item_name(const char *name);

/*
 * Whether name is a capture, ID.NAME: ID as task ids are spelt
 * ([A-Za-z0-9_.-]{1,64}, not env, item or index), NAME as captures are
 * ([A-Za-z_][A-Za-z0-9_]*), split at the last dot. *idlen, when not NULL,
 * is set to ID's length.
 */
int corun_template_is_capture(const char *name, size_t *idlen);

/* Which names corun_template_refs() reports. */
enum { CORUN_REF_ITEM = 1, CORUN_REF_CAPTURE = 2 };

/*
 * Call cb for each item name s uses (s as kept by a defer_item expansion).
 * Returns how many there were.
 */
size_t corun_template_item_refs(const char *s,
                                void (*cb)(void *arg, const char *name),
                                void *arg);

/* As corun_template_item_refs() for the kinds of names in which. */
size_t corun_template_refs(const char *s, int which,
                           void (*cb)(void *arg, const char *name),
                           void *arg);

#endif
