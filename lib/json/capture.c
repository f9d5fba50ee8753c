/* SPDX-License-Identifier: MIT */
#include "json/capture.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "json/predicate.h"
#include "util/regex.h"
#include "util/suggest.h"

static const char *const plain_sources[] = {"status", "url", "body", NULL};
static const char *const keyed_sources[] = {"json", "header", "regex",
                                            "cookie", NULL};

int corun__capture_name_ok(const char *name)
{
  if (!isalpha((unsigned char)*name) && *name != '_')
    return 0;
  for (name++; *name; name++)
    if (!isalnum((unsigned char)*name) && *name != '_')
      return 0;
  return 1;
}

/* Reads one source into c. Returns 0, or -1 after saying why. */
static int read_source(const cJSON *src, struct corun_capture *c,
                       const char *field, corun_expect_fail fail, void *ctx)
{
  const cJSON *it, *key = NULL;
  char hint[CORUN_HINT_MAX];
  size_t i;

  if (cJSON_IsString(src)) {
    for (i = 0; plain_sources[i]; i++)
      if (strcmp(src->valuestring, plain_sources[i]) == 0) {
        c->from = (enum corun_capture_from)i;
        return 0;
      }
    corun__expect_failf(fail, ctx, field, src,
          "is \"%s\"%s, not a source (\"status\", \"url\", \"body\", or "
          "an object with json, header, regex or cookie)",
          src->valuestring,
          corun_did_you_mean(hint, src->valuestring, plain_sources,
                             (size_t)-1, NULL));
    return -1;
  }
  if (!cJSON_IsObject(src)) {
    corun__expect_failf(fail, ctx, field, src,
          "must be \"status\", \"url\", \"body\" or an object like "
          "{\"json\": \"/token\"}");
    return -1;
  }
  for (it = src->child; it; it = it->next) {
    if (strcmp(it->string, "secret") == 0) {
      if (!cJSON_IsBool(it)) {
        corun__expect_failf(fail, ctx, field, it, "has \"secret\" that is not true or false");
        return -1;
      }
      c->secret = cJSON_IsTrue(it);
      continue;
    }
    for (i = 0; keyed_sources[i]; i++)
      if (strcmp(it->string, keyed_sources[i]) == 0)
        break;
    if (keyed_sources[i] == NULL) {
      corun__expect_failf(fail, ctx, field, it,
            "has unknown field \"%s\"%s (one of json, header, regex, "
            "cookie, and secret)",
            it->string,
            corun_did_you_mean(hint, it->string, keyed_sources, (size_t)-1,
                               NULL));
      return -1;
    }
    if (key) {
      corun__expect_failf(fail, ctx, field, it, "has both \"%s\" and \"%s\": one source each",
            key->string, it->string);
      return -1;
    }
    key = it;
    c->from = (enum corun_capture_from)(CORUN_CAPTURE_JSON + i);
  }
  if (key == NULL) {
    corun__expect_failf(fail, ctx, field, src,
          "needs one of json, header, regex or cookie");
    return -1;
  }
  if (!cJSON_IsString(key)) {
    corun__expect_failf(fail, ctx, field, key, "has \"%s\" that is not a string",
          key->string);
    return -1;
  }
  if (c->from == CORUN_CAPTURE_JSON) {
    struct corun_buf why = CORUN_BUF_INIT;

    if (!corun__pointer_valid(key->valuestring, &why)) {
      corun__expect_failf(fail, ctx, field, key, "%s", corun_buf_str(&why));
      corun_buf_free(&why);
      return -1;
    }
    corun_buf_free(&why);
  } else if (c->from == CORUN_CAPTURE_REGEX) {
    struct corun_buf why = CORUN_BUF_INIT;

    if (corun__regex_compile(&c->re, key->valuestring, 0, &why) != 0) {
      corun__expect_failf(fail, ctx, field, key,
            "has an invalid regular expression: %s", corun_buf_str(&why));
      corun_buf_free(&why);
      return -1;
    }
    c->have_re = 1;
  } else if (*key->valuestring == '\0') {
    corun__expect_failf(fail, ctx, field, key, "has an empty %s name", key->string);
    return -1;
  }
  if ((c->arg = strdup(key->valuestring)) == NULL) {
    corun__expect_failf(fail, ctx, field, key, "could not be kept: out of memory");
    return -1;
  }
  return 0;
}

int corun__captures_read(const cJSON *v, struct corun_captures *c,
                         corun_expect_fail fail, void *ctx)
{
  const cJSON *it;
  int failed = 0;

  if (!cJSON_IsObject(v)) {
    corun__expect_failf(fail, ctx, "capture", v,
          "must be an object: name -> source, like {\"token\": {\"json\": "
          "\"/token\"}}");
    return -1;
  }
  c->v = calloc((size_t)cJSON_GetArraySize(v) + 1, sizeof(*c->v));
  if (c->v == NULL) {
    corun__expect_failf(fail, ctx, "capture", v, "could not be kept: out of memory");
    return -1;
  }
  for (it = v->child; it; it = it->next) {
    struct corun_capture *cap = &c->v[c->n];
    struct corun_buf field = CORUN_BUF_INIT;

    corun_buf_printf(&field, "capture.%s", it->string);
    if (!corun__capture_name_ok(it->string)) {
      corun__expect_failf(fail, ctx, "capture", it,
            "has \"%s\", not a name (letters, digits and _, not starting "
            "with a digit)",
            it->string);
      failed = 1;
    } else if (read_source(it, cap, corun_buf_str(&field), fail, ctx) < 0 ||
               (cap->name = strdup(it->string)) == NULL) {
      free(cap->arg);
      if (cap->have_re)
        regfree(&cap->re);
      memset(cap, 0, sizeof(*cap));
      failed = 1;
    } else {
      if (cap->from == CORUN_CAPTURE_BODY || cap->from == CORUN_CAPTURE_JSON ||
          cap->from == CORUN_CAPTURE_REGEX)
        c->wants_body = 1;
      c->secret |= cap->secret;
      c->n++;
    }
    corun_buf_free(&field);
  }
  return failed ? -1 : 0;
}

int corun__captures_share(struct corun_captures *from,
                          struct corun_captures *to)
{
  if (from->refs == NULL) {
    if ((from->refs = malloc(sizeof(*from->refs))) == NULL)
      return -1;
    *from->refs = 1;
  }
  ++*from->refs;
  *to = *from;
  return 0;
}

void corun__captures_free(struct corun_captures *c)
{
  size_t i;

  if (c->refs && --*c->refs > 0) {
    *c = (struct corun_captures)CORUN_CAPTURES_INIT;
    return;
  }
  free(c->refs);
  c->refs = NULL;
  for (i = 0; i < c->n; i++) {
    free(c->v[i].name);
    free(c->v[i].arg);
    if (c->v[i].have_re)
      regfree(&c->v[i].re);
  }
  free(c->v);
  c->v = NULL;
  c->n = 0;
}

/* The value one capture takes from r, or NULL when it finds nothing. */
static cJSON *take(const struct corun_capture *c, struct corun_response *r)
{
  const char *s = NULL;
  regmatch_t m[2];

  switch (c->from) {
  case CORUN_CAPTURE_STATUS:
    return cJSON_CreateNumber((double)r->status);
  case CORUN_CAPTURE_URL:
    s = r->url;
    break;
  case CORUN_CAPTURE_BODY:
    s = r->body;
    break;
  case CORUN_CAPTURE_HEADER:
    s = r->header ? r->header(r->ctx, c->arg) : NULL;
    break;
  case CORUN_CAPTURE_COOKIE:
    s = r->cookie ? r->cookie(r->ctx, c->arg) : NULL;
    break;
  case CORUN_CAPTURE_JSON: {
    const cJSON *v;

    v = corun__response_json(r) ? corun__pointer_get(r->json, c->arg)
                                 : NULL;
    return v ? cJSON_Duplicate(v, 1) : NULL;
  }
  case CORUN_CAPTURE_REGEX: {
    size_t from, to;

    if (r->body == NULL || regexec(&c->re, r->body, 2, m, 0) != 0)
      return NULL;
    /* The first group when the expression has one and it took part. */
    if (c->re.re_nsub >= 1 && m[1].rm_so >= 0)
      from = (size_t)m[1].rm_so, to = (size_t)m[1].rm_eo;
    else
      from = (size_t)m[0].rm_so, to = (size_t)m[0].rm_eo;
    {
      char *piece = strndup(r->body + from, to - from);
      cJSON *v = piece ? cJSON_CreateString(piece) : NULL;

      free(piece);
      return v;
    }
  }
  }
  return s ? cJSON_CreateString(s) : NULL;
}

cJSON *corun__captures_take(const struct corun_captures *c,
                            struct corun_response *r, struct corun_buf *msg)
{
  cJSON *out = cJSON_CreateObject();
  int missing = 0;
  size_t i;

  if (out == NULL) {
    corun_buf_puts(msg, "captures: out of memory");
    return NULL;
  }
  for (i = 0; i < c->n; i++) {
    cJSON *v = take(&c->v[i], r);

    if (v == NULL) {
      if (missing++)
        corun_buf_puts(msg, "; ");
      corun_buf_printf(msg, "capture \"%s\": ", c->v[i].name);
      if (c->v[i].from == CORUN_CAPTURE_JSON && r->json == NULL)
        corun_buf_printf(msg, "the body is not JSON");
      else if (c->v[i].from == CORUN_CAPTURE_JSON)
        corun_buf_printf(msg, "nothing at \"%s\"", c->v[i].arg);
      else if (c->v[i].from == CORUN_CAPTURE_HEADER)
        corun_buf_printf(msg, "no header \"%s\"", c->v[i].arg);
      else if (c->v[i].from == CORUN_CAPTURE_COOKIE)
        corun_buf_printf(msg, "no cookie \"%s\"", c->v[i].arg);
      else if (c->v[i].from == CORUN_CAPTURE_REGEX)
        corun_buf_printf(msg, "\"%s\" does not match the body", c->v[i].arg);
      else
        corun_buf_puts(msg, "found nothing");
      continue;
    }
    /* A capture found but not kept would read as never made. */
    if (!cJSON_AddItemToObject(out, c->v[i].name, v)) {
      cJSON_Delete(v);
      if (missing++)
        corun_buf_puts(msg, "; ");
      corun_buf_printf(msg, "capture \"%s\": out of memory keeping it",
                       c->v[i].name);
    }
  }
  if (missing) {
    cJSON_Delete(out);
    return NULL;
  }
  return out;
}

size_t corun__response_pointers(const struct corun_expect *e,
                                const struct corun_captures *c,
                                const char **out, size_t max)
{
  size_t i, n = 0;

  for (i = 0; i < e->nchecks; i++)
    if (e->checks[i].on == CORUN_EXPECT_JSON) {
      if (n == max)
        return 0;
      out[n++] = e->checks[i].key;
    }
  for (i = 0; i < c->n; i++)
    if (c->v[i].from == CORUN_CAPTURE_JSON) {
      if (n == max)
        return 0;
      out[n++] = c->v[i].arg;
    }
  return n;
}
