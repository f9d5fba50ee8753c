/* SPDX-License-Identifier: MIT */
#include "json/expect.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json.h"
#include "json/pick.h"
#include "util/duration.h"
#include "util/suggest.h"

/* What a failure shows of a value: enough to see why, never a whole body. */
#define SHOW_MAX 200

static const char *const expect_fields[] = {"status", "headers", "body",
                                            "json",   "bytes",   "duration",
                                            "sha256", NULL};

struct reader {
  corun_expect_fail fail;
  void *ctx;
  int failed;
};

static void failf(struct reader *rd, const char *field, const cJSON *node,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void vfail(corun_expect_fail fail, void *ctx, const char *field,
                  const cJSON *node, const char *fmt, va_list ap)
{
  struct corun_buf b = CORUN_BUF_INIT;

  corun_buf_vprintf(&b, fmt, ap);
  fail(ctx, field, node, corun_buf_str(&b));
  corun_buf_free(&b);
}

void corun__expect_failf(corun_expect_fail fail, void *ctx, const char *field,
                         const cJSON *node, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vfail(fail, ctx, field, node, fmt, ap);
  va_end(ap);
}

static void failf(struct reader *rd, const char *field, const cJSON *node,
                  const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vfail(rd->fail, rd->ctx, field, node, fmt, ap);
  va_end(ap);
  rd->failed = 1;
}

static int is_int(const cJSON *v, long long lo, long long hi, long long *out)
{
  double d;

  if (!cJSON_IsNumber(v))
    return 0;
  d = v->valuedouble;
  if (d != (double)(long long)d || d < (double)lo || d > (double)hi)
    return 0;
  *out = (long long)d;
  return 1;
}

static void read_status(struct reader *rd, const cJSON *st,
                        struct corun_expect *e)
{
  const cJSON *it;
  long long code;
  int i;

  if (!cJSON_IsArray(st) || st->child == NULL) {
    failf(rd, "expect.status", st,
          "must be a non-empty array of codes or classes like \"2xx\"");
    return;
  }
  free(e->status);
  e->nstatus = 0;
  i = cJSON_GetArraySize(st);
  if ((e->status = calloc((size_t)(i < 32 ? i : 32), sizeof(int))) == NULL) {
    failf(rd, "expect.status", st, "could not be kept: out of memory");
    return;
  }
  for (it = st->child, i = 0; it; it = it->next, i++) {
    if (e->nstatus == 32) {
      failf(rd, "expect.status", it, "has over 32 entries");
      return;
    }
    if (is_int(it, 100, 599, &code)) {
      e->status[e->nstatus++] = (int)code;
    } else if (cJSON_IsString(it) && strlen(it->valuestring) == 3 &&
               it->valuestring[0] >= '1' && it->valuestring[0] <= '5' &&
               tolower((unsigned char)it->valuestring[1]) == 'x' &&
               tolower((unsigned char)it->valuestring[2]) == 'x') {
      e->status[e->nstatus++] = -(it->valuestring[0] - '0');
    } else {
      /* Name the entry: in a long list "which one" is the question. */
      char name[40], val[48];

      snprintf(name, sizeof(name), "expect.status[%d]", i);
      if (cJSON_IsString(it))
        snprintf(val, sizeof(val), "\"%.32s%s\"", it->valuestring,
                 strlen(it->valuestring) > 32 ? "..." : "");
      else if (cJSON_IsNumber(it))
        snprintf(val, sizeof(val), "%.15g", it->valuedouble);
      else
        snprintf(val, sizeof(val), "%s",
                 cJSON_IsArray(it) ? "an array"
                 : cJSON_IsObject(it) ? "an object"
                 : cJSON_IsBool(it)   ? "a boolean"
                                      : "null");
      failf(rd, name, it,
            "is %s, not a status code (100-599) or a class like \"2xx\"",
            val);
    }
  }
}

static int add_check(struct reader *rd, struct corun_expect *e,
                     enum corun_expect_on on, const char *field,
                     const char *key, const cJSON *spec)
{
  struct corun_expect_check *c;
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *bad = NULL;
  struct corun_pred *p = NULL;

  if (corun__pred_compile(spec, &p, &why, &bad) < 0 ||
      (on != CORUN_EXPECT_JSON &&
       corun__pred_fits(p, on == CORUN_EXPECT_BYTES ? CORUN_PRED_NUMBER
                                                     : CORUN_PRED_TEXT,
                        &why) < 0)) {
    corun__pred_free(p);
    if (key) {
      struct corun_buf name = CORUN_BUF_INIT;

      /* expect.json[/items/0]: the entry, as expect.status[1] is. */
      corun_buf_printf(&name, "%s[%s]", field, key);
      failf(rd, corun_buf_str(&name), bad, "%s", corun_buf_str(&why));
      corun_buf_free(&name);
    } else {
      failf(rd, field, bad, "%s", corun_buf_str(&why));
    }
    corun_buf_free(&why);
    return -1;
  }
  corun_buf_free(&why);
  c = realloc(e->checks, (e->nchecks + 1) * sizeof(*c));
  if (c == NULL || (key && (key = strdup(key)) == NULL)) {
    if (c)
      e->checks = c;
    corun__pred_free(p);
    failf(rd, field, spec, "could not be kept: out of memory");
    return -1;
  }
  e->checks = c;
  c[e->nchecks].on = on;
  c[e->nchecks].key = (char *)key;
  c[e->nchecks].pred = p;
  e->nchecks++;
  if (on == CORUN_EXPECT_BODY || on == CORUN_EXPECT_JSON)
    e->wants_body = 1;
  return 0;
}

/* A header name as a request or response may carry it (RFC 9110 token). */
static int header_name(const char *s)
{
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
      return 0;
  return 1;
}

static void read_keyed(struct reader *rd, const cJSON *v,
                       struct corun_expect *e, enum corun_expect_on on)
{
  const char *field = on == CORUN_EXPECT_HEADER ? "expect.headers"
                                                 : "expect.json";
  struct corun_buf why = CORUN_BUF_INIT;
  const cJSON *it;

  if (!cJSON_IsObject(v)) {
    failf(rd, field, v,
          on == CORUN_EXPECT_HEADER
              ? "must be an object: header name -> predicate"
              : "must be an object: JSON Pointer -> predicate");
    return;
  }
  for (it = v->child; it; it = it->next) {
    if (on == CORUN_EXPECT_HEADER && !header_name(it->string)) {
      failf(rd, field, it, "\"%s\" is not a header name", it->string);
      continue;
    }
    if (on == CORUN_EXPECT_JSON && !corun__pointer_valid(it->string, &why)) {
      failf(rd, field, it, "%s", corun_buf_str(&why));
      corun_buf_reset(&why);
      continue;
    }
    add_check(rd, e, on, field, it->string, it);
  }
  corun_buf_free(&why);
}

int corun__expect_read(const cJSON *v, struct corun_expect *e,
                       corun_expect_fail fail, void *ctx)
{
  struct reader rd = {fail, ctx, 0};
  const cJSON *it;

  if (!cJSON_IsObject(v)) {
    failf(&rd, "expect", v,
          "must be an object like {\"status\": [200, \"2xx\"]}");
    return -1;
  }
  for (it = v->child; it; it = it->next) {
    char hint[CORUN_HINT_MAX];
    size_t i;

    for (i = 0; expect_fields[i]; i++)
      if (strcmp(it->string, expect_fields[i]) == 0)
        break;
    switch (i) {
    case 0:
      read_status(&rd, it, e);
      break;
    case 1:
      read_keyed(&rd, it, e, CORUN_EXPECT_HEADER);
      break;
    case 2:
      add_check(&rd, e, CORUN_EXPECT_BODY, "expect.body", NULL, it);
      break;
    case 3:
      read_keyed(&rd, it, e, CORUN_EXPECT_JSON);
      break;
    case 4:
      add_check(&rd, e, CORUN_EXPECT_BYTES, "expect.bytes", NULL, it);
      break;
    case 5: {
      const char *why = NULL;

      if (corun_duration_json(it, &e->duration, &why) < 0)
        failf(&rd, "expect.duration", it, "%s", why ? why : "is not a duration");
      else if (e->duration <= 0)
        failf(&rd, "expect.duration", it,
              "is 0, which no request can meet (leave it out for no bound)");
      break;
    }
    case 6: {
      const char *s = cJSON_IsString(it) ? it->valuestring : NULL;
      size_t n = 0;

      while (s && s[n] && n < 64 && strchr("0123456789abcdef", s[n]))
        n++;
      if (s == NULL || n != 64 || s[n] != '\0')
        failf(&rd, "expect.sha256", it,
              "must be 64 lowercase hexadecimal digits (a SHA-256 digest)");
      else
        if ((e->sha256 = strdup(s)) == NULL)
          failf(&rd, "expect.sha256", it, "could not be kept: out of memory");
      break;
    }
    default:
      failf(&rd, "expect", it,
            "has unknown field \"%s\"%s (one of status, headers, body, "
            "json, bytes, duration, sha256)",
            it->string,
            corun_did_you_mean(hint, it->string, expect_fields, (size_t)-1,
                               NULL));
    }
  }
  return rd.failed ? -1 : 0;
}

int corun__expect_share(struct corun_expect *from, struct corun_expect *to)
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

void corun__expect_free(struct corun_expect *e)
{
  size_t i;

  if (e->refs && --*e->refs > 0) {
    *e = (struct corun_expect)CORUN_EXPECT_INIT;
    return;
  }
  free(e->refs);
  e->refs = NULL;
  for (i = 0; i < e->nchecks; i++) {
    free(e->checks[i].key);
    corun__pred_free(e->checks[i].pred);
  }
  free(e->checks);
  free(e->sha256);
  free(e->status);
  e->checks = NULL;
  e->sha256 = NULL;
  e->status = NULL;
  e->nstatus = 0;
  e->nchecks = 0;
}

int corun__expect_status(const struct corun_expect *e, long status)
{
  int i;

  if (e->nstatus == 0)
    return status < 400;
  for (i = 0; i < e->nstatus; i++)
    if (e->status[i] == status ||
        (e->status[i] < 0 && status / 100 == -e->status[i]))
      return 1;
  return 0;
}

/* One failure: "what: expected X, got Y". */
static void said(struct corun_buf *msg, int *n, const char *what,
                 const char *key, const struct corun_pred *p, const cJSON *v,
                 int found)
{
  if ((*n)++)
    corun_buf_puts(msg, "; ");
  corun_buf_puts(msg, what);
  if (key)
    corun_buf_printf(msg, " \"%s\"", key);
  corun_buf_puts(msg, ": expected ");
  corun__pred_describe(p, msg);
  if (!found) {
    corun_buf_puts(msg, ", found nothing");
    return;
  }
  corun_buf_puts(msg, ", got ");
  corun__pred_show(v, SHOW_MAX, msg);
}

const cJSON *corun__response_json(struct corun_response *r)
{
  if (!r->json_tried) {
    r->json_tried = 1;
    if (r->raw)
      r->json = corun__json_pick(r->raw, r->raw_len, r->pointers,
                                 r->npointers, NULL, 0);
    else if (r->body)
      r->json = corun__json_pick(r->body, r->body_len, r->pointers,
                                 r->npointers, NULL, 0);
  }
  return r->json;
}

/*
 * Text as a check reads it: a string, or, when the predicate compares with
 * a number and the text is one JSON number (white space around it
 * allowed), that number: {"X-Remaining": {"gt": 0}} reads "12" as 12.
 */
static const cJSON *text_value(cJSON *scratch, const char *text,
                               const struct corun_pred *p)
{
  if (corun__pred_wants_number(p)) {
    struct corun_json j;
    cJSON *v = NULL;
    int c, is_number;

    /* The body reader, strict RFC 8259, looked at only if it can be one. */
    corun_json_init(&j, text, strlen(text));
    j.body = 1;
    c = corun_json_peek(&j);
    is_number = (c == '-' || (c >= '0' && c <= '9')) &&
                corun_json_value(&j, &v) == 0 && corun_json_end(&j) == 0 &&
                cJSON_IsNumber(v);
    if (is_number) {
      scratch->type = cJSON_Number;
      scratch->valuedouble = v->valuedouble;
    }
    cJSON_Delete(v);
    corun_json_free(&j);
    if (is_number)
      return scratch;
  }
  scratch->type = cJSON_String | cJSON_IsReference;
  scratch->valuestring = (char *)text;
  return scratch;
}

int corun__expect_check(const struct corun_expect *e,
                        struct corun_response *r, struct corun_buf *msg)
{
  const cJSON *doc = NULL;
  const char *json_err = NULL;
  int parsed = 0, n = 0;
  size_t i;

  for (i = 0; i < e->nchecks; i++) {
    const struct corun_expect_check *c = &e->checks[i];
    cJSON scratch;
    const cJSON *v = NULL;

    memset(&scratch, 0, sizeof(scratch));
    switch (c->on) {
    case CORUN_EXPECT_HEADER: {
      const char *h = r->header ? r->header(r->ctx, c->key) : NULL;

      if (h)
        v = text_value(&scratch, h, c->pred);
      if (!corun__pred_test(c->pred, v))
        said(msg, &n, "headers", c->key, c->pred, v, 1);
      break;
    }
    case CORUN_EXPECT_BODY:
      v = text_value(&scratch, r->body ? r->body : "", c->pred);
      if (!corun__pred_test(c->pred, v))
        said(msg, &n, "body", NULL, c->pred, v, 1);
      break;
    case CORUN_EXPECT_BYTES:
      scratch.type = cJSON_Number;
      scratch.valuedouble = (double)r->bytes;
      if (!corun__pred_test(c->pred, &scratch))
        said(msg, &n, "bytes", NULL, c->pred, &scratch, 1);
      break;
    case CORUN_EXPECT_JSON:
      if (!parsed) {
        parsed = 1;
        doc = corun__response_json(r);
        if (doc == NULL)
          json_err = r->body_len == 0 ? "the body is empty, not JSON"
                                      : "the body is not JSON";
      }
      if (doc == NULL) {
        if (n++)
          corun_buf_puts(msg, "; ");
        corun_buf_printf(msg, "json \"%s\": %s", c->key, json_err);
        break;
      }
      v = corun__pointer_get(doc, c->key);
      if (v == NULL && corun__pred_wants_absent(c->pred))
        break;
      if (v == NULL || !corun__pred_test(c->pred, v))
        said(msg, &n, "json", c->key, c->pred, v, v != NULL);
      break;
    }
  }
  if (e->duration > 0 && r->total > e->duration) {
    if (n++)
      corun_buf_puts(msg, "; ");
    corun_buf_printf(msg, "duration: expected at most %.3g s, took %.3g s",
                     e->duration, r->total);
  }
  if (e->sha256 && (r->sha256 == NULL || strcmp(r->sha256, e->sha256))) {
    if (n++)
      corun_buf_puts(msg, "; ");
    corun_buf_printf(msg, "sha256: expected %s, got %s", e->sha256,
                     r->sha256 ? r->sha256 : "nothing");
  }
  return n;
}
